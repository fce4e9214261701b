//! Recording from many threads at once loses nothing.

use provenance::{Config, Kind, Relation, Store, function_id, record_id};

#[test]
fn four_threads_of_100k_records_lose_nothing() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 100_000;
    let store = Store::with_config(Config::new().event_capacity(THREADS * PER_THREAD));
    let shared = function_id("shop::orders", "create").unwrap();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let store = store.clone();
            let shared = shared.clone();
            s.spawn(move || {
                let own = function_id("shop::worker", &format!("run_{t}")).unwrap();
                for i in 0..PER_THREAD {
                    let rec = record_id("orders", format!("{t}-{i}")).unwrap();
                    // Every thread hits the same hot origin and its own one.
                    store.relate(&shared, Relation::Produced, &rec).unwrap();
                    store.relate(&own, Relation::Read, &rec).unwrap();
                }
            });
        }
    });
    let stats = store.stats();
    assert_eq!(stats.artifacts[&Kind::Rec], (THREADS * PER_THREAD) as u64);
    assert_eq!(stats.artifacts[&Kind::Fn], THREADS as u64 + 1);
    assert_eq!(stats.edges, (2 * THREADS * PER_THREAD) as u64);
    assert_eq!(stats.total_evicted(), 0);
    assert_eq!(store.related(shared.as_str()).len(), THREADS * PER_THREAD);
    for t in 0..THREADS {
        let related = store.related(&format!("fn:shop::worker::run_{t}"));
        assert_eq!(related.len(), PER_THREAD);
    }
}

#[test]
fn concurrent_eviction_keeps_counts_consistent() {
    const THREADS: usize = 4;
    let capacity = 5_000;
    let store = Store::with_config(Config::new().event_capacity(capacity).shards(16));
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let store = store.clone();
            s.spawn(move || {
                let f = function_id("shop", &format!("f{t}")).unwrap();
                for i in 0..50_000u32 {
                    let rec = record_id("orders", format!("{t}-{i}")).unwrap();
                    let req = provenance::request_id(&format!("{t}-{i}")).unwrap();
                    // One call for both edges. The request is created once, inside one lock; the
                    // record can legitimately be created twice: if this thread is descheduled
                    // between the two edges (a loaded machine), the other threads can push it
                    // out of its shard, and the second edge creates it again.
                    store
                        .relate_all([
                            (&f, Relation::Produced, &rec),
                            (&req, Relation::Produced, &rec),
                        ])
                        .unwrap();
                }
            });
        }
    });
    let stats = store.stats();
    assert!(stats.events() <= capacity as u64, "{stats:?}");
    let per_kind = (THREADS * 50_000) as u64;
    let ever = |kind: Kind| {
        stats.artifacts.get(&kind).copied().unwrap_or(0)
            + stats.evicted.get(&kind).copied().unwrap_or(0)
    };
    // Live plus evicted is every creation: exactly one per request, at least one per record.
    assert_eq!(ever(Kind::Req), per_kind, "{stats:?}");
    assert!(ever(Kind::Rec) >= per_kind, "{stats:?}");
    // Every retained record has at most its two producers; edges never exceed that.
    assert!(
        stats.edges <= 2 * stats.artifacts.get(&Kind::Rec).copied().unwrap_or(0),
        "{stats:?}"
    );
}

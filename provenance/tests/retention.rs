//! Memory stays bounded under a steady stream of events: old events go, counted, with their
//! edges, and structural artifacts stay.

use provenance::{Config, Kind, Relation, Store, function_id, record_id, request_id, table_id};

#[test]
fn ten_times_capacity_keeps_capacity_and_counts_the_rest() {
    let capacity = 1_000;
    let store = Store::with_config(Config::new().event_capacity(capacity).shards(8));
    let create = function_id("shop::orders", "create").unwrap();
    let orders = table_id("orders").unwrap();
    let total = 10 * capacity;
    for i in 0..total {
        let rec = record_id("orders", i).unwrap();
        store.relate(&create, Relation::Produced, &rec).unwrap();
        store.relate(&orders, Relation::Contains, &rec).unwrap();
    }
    let stats = store.stats();
    assert_eq!(stats.events(), capacity as u64);
    assert_eq!(stats.evicted[&Kind::Rec], (total - capacity) as u64);
    assert_eq!(stats.artifacts[&Kind::Fn], 1);
    assert_eq!(stats.artifacts[&Kind::Tbl], 1);
    // Two edges per retained record; the evicted ones' edges are gone.
    assert_eq!(stats.edges, 2 * capacity as u64);
    // The newest records are there, the oldest are not.
    assert!(store.lookup(&format!("rec:orders:{}", total - 1)).is_some());
    assert!(store.lookup("rec:orders:0").is_none());
    let related = store.related(create.as_str());
    assert_eq!(related.len(), capacity);
    assert!(related.iter().all(|id| id.kind() == Kind::Rec));
}

#[test]
fn structural_artifacts_are_never_evicted() {
    let store = Store::with_config(Config::new().event_capacity(4).shards(2));
    for i in 0..100 {
        let f = function_id("shop", &format!("f{i}")).unwrap();
        let req = request_id(&format!("r{i}")).unwrap();
        store.relate(&f, Relation::During, &req).unwrap();
    }
    let stats = store.stats();
    assert_eq!(stats.artifacts[&Kind::Fn], 100);
    assert_eq!(stats.artifacts[&Kind::Req], 4);
    assert_eq!(stats.evicted[&Kind::Req], 96);
    assert_eq!(stats.edges, 4);
    assert!(store.lookup("fn:shop::f0").is_some());
}

#[test]
fn edges_between_events_are_counted_out_once() {
    // Requests and records evict each other; every edge between two events must leave the
    // count exactly once, whichever end goes first.
    let store = Store::with_config(Config::new().event_capacity(50).shards(4));
    for i in 0..2_000u32 {
        let req = request_id(&format!("r{}", i / 3)).unwrap();
        let rec = record_id("orders", i).unwrap();
        let older = record_id("orders", i.saturating_sub(7)).unwrap();
        store.relate(&req, Relation::Produced, &rec).unwrap();
        store.relate(&rec, Relation::DerivedFrom, &older).unwrap();
    }
    let stats = store.stats();
    assert!(stats.events() <= 50, "{stats:?}");
    // Recount the edges by walking every retained artifact's outgoing edges.
    let mut ids = std::collections::BTreeSet::new();
    for i in 0..2_000u32 {
        ids.insert(format!("rec:orders:{i}"));
        ids.insert(format!("req:r{}", i / 3));
    }
    let edges: usize = ids
        .iter()
        .map(|id| {
            store
                .neighbors(id)
                .iter()
                .filter(|n| n.direction == provenance::Direction::Outgoing)
                .count()
        })
        .sum();
    assert_eq!(stats.edges as usize, edges, "{stats:?}");
}

#[test]
fn recording_the_same_pair_twice_keeps_one_edge() {
    let store = Store::new();
    for _ in 0..3 {
        store
            .record("rec:orders:1", "fn:shop::orders::create")
            .unwrap();
    }
    assert_eq!(store.stats().edges, 1);
    assert_eq!(store.neighbors("rec:orders:1").len(), 1);
}

#[test]
fn a_small_store_keeps_its_newest_events_and_never_drops_the_one_just_recorded() {
    // Fewer events than shards: most shards hold none, so eviction has to look across them.
    let store = Store::with_config(Config::new().event_capacity(10));
    let f = function_id("shop", "f").unwrap();
    for i in 0..1_000u32 {
        let rec = record_id("orders", i).unwrap();
        store.relate(&f, Relation::Produced, &rec).unwrap();
        assert!(
            store.lookup(rec.as_str()).is_some(),
            "record {i} was evicted by its own call"
        );
    }
    let stats = store.stats();
    assert_eq!(stats.events(), 10);
    let kept: Vec<u32> = store
        .related(f.as_str())
        .iter()
        .map(|id| id.as_str().rsplit(':').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(kept.len(), 10);
    // Oldest first: what is left is the newest records (each shard gives up its own oldest,
    // so allow a little spread, not the hundreds the old policy left behind).
    assert!(kept.iter().all(|&i| i >= 950), "{kept:?}");
}

#[test]
fn attribute_keys_that_need_cleaning_do_not_pile_up() {
    let store = Store::new();
    let req = request_id("r1").unwrap();
    let odd = "a\u{1f}b";
    let long = "k".repeat(5_000);
    for _ in 0..70 {
        store
            .describe(
                &req,
                provenance::store::Attributes::new()
                    .attr(odd.to_owned(), "v")
                    .attr(long.clone(), "w"),
            )
            .unwrap();
    }
    store
        .describe(
            &req,
            provenance::store::Attributes::new().attr("status", 200u16),
        )
        .unwrap();
    let a = store.lookup("req:r1").unwrap();
    assert_eq!(
        a.metadata.len(),
        3,
        "{:?}",
        a.metadata.keys().collect::<Vec<_>>()
    );
    assert_eq!(a.metadata["status"], "200");
    let long_name = "c".repeat(5_000);
    store.count(&req, &long_name, 1).unwrap();
    store.count(&req, &long_name, 1).unwrap();
    assert_eq!(
        store
            .lookup("req:r1")
            .unwrap()
            .counters
            .values()
            .copied()
            .collect::<Vec<_>>(),
        [2]
    );
}

#[test]
fn ids_of_lists_only_what_is_retained() {
    let store = Store::with_config(Config::new().event_capacity(10).shards(2));
    for i in 0..25 {
        store
            .record(&format!("rec:orders:{i}"), "fn:shop::orders::create")
            .unwrap();
    }
    let recs = store.ids_of(Kind::Rec);
    assert_eq!(recs.len() as u64, store.stats().artifacts[&Kind::Rec]);
    assert!(recs.len() <= 10, "{recs:?}");
    assert!(recs.iter().all(|id| store.lookup(id.as_str()).is_some()));
    assert_eq!(
        store
            .ids_of(Kind::Fn)
            .iter()
            .map(|id| id.as_str())
            .collect::<Vec<_>>(),
        ["fn:shop::orders::create"]
    );
    assert!(store.ids_of(Kind::Req).is_empty());
}

#[test]
fn attribute_values_keep_numbers_and_lose_only_separators() {
    let store = Store::new();
    let req = request_id("r2").unwrap();
    store
        .describe(
            &req,
            provenance::store::Attributes::new()
                .attr("zero", 0u64)
                .attr("max", u64::MAX)
                .attr("status", 404u16)
                .attr("odd", "a\u{1e}b\u{1f}c é")
                .attr("ok", true),
        )
        .unwrap();
    let a = store.lookup("req:r2").unwrap();
    assert_eq!(a.metadata["zero"], "0");
    assert_eq!(a.metadata["max"], u64::MAX.to_string());
    assert_eq!(a.metadata["status"], "404");
    assert_eq!(a.metadata["odd"], "a\u{FFFD}b\u{FFFD}c é");
    assert_eq!(a.metadata["ok"], "true");
}

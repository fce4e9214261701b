//! Requests that nothing links to are kept in a compact log, yet look like any other request.

use provenance::store::RequestRecord;
use provenance::{Config, Kind, Relation, Store, function_id, record_id, request_id};

fn record(status: u16) -> RequestRecord {
    RequestRecord {
        method: "GET".into(),
        route: "/orders/{id}".into(),
        status: Some(status),
        cancelled: false,
        latency_us: 42,
        started_at_ms: 1_700_000_000_000,
        error: (status >= 500).then(|| format!("status {status}").into()),
    }
}

#[test]
fn a_logged_request_answers_like_a_node() {
    let store = Store::new();
    let ok = request_id("ok-1").unwrap();
    let failed = request_id("failed-1").unwrap();
    store.record_request(&ok, record(200)).unwrap();
    store.record_request(&failed, record(503)).unwrap();

    let a = store.lookup("req:ok-1").unwrap();
    assert_eq!(a.kind, Kind::Req);
    assert_eq!(a.metadata["method"], "GET");
    assert_eq!(a.metadata["route"], "/orders/{id}");
    assert_eq!(a.metadata["status"], "200");
    assert_eq!(a.metadata["latency_us"], "42");
    assert_eq!(a.metadata["failed"], "false");
    assert!(a.counters.is_empty());
    let f = store.lookup("req:failed-1").unwrap();
    assert_eq!(f.metadata["last_error"], "status 503");
    assert_eq!(f.counters["errors"], 1);

    assert_eq!(store.ids_of(Kind::Req), [failed.clone(), ok.clone()]);
    assert_eq!(store.counted("errors"), [(failed, 1)]);
    assert_eq!(store.stats().artifacts[&Kind::Req], 2);
    assert!(store.related("req:ok-1").is_empty());
}

#[test]
fn the_same_id_again_is_one_request() {
    let store = Store::new();
    let id = request_id("reused-id").unwrap();
    store.record_request(&id, record(500)).unwrap();
    store.record_request(&id, record(502)).unwrap();
    store.record_request(&id, record(200)).unwrap();
    let a = store.lookup(id.as_str()).unwrap();
    assert_eq!(a.metadata["status"], "200", "the latest record wins");
    assert_eq!(a.counters["errors"], 2, "failures add up");
    assert_eq!(store.stats().artifacts[&Kind::Req], 1);
}

#[test]
fn linking_a_logged_request_makes_it_a_node_with_its_record() {
    let store = Store::new();
    let id = request_id("late-1").unwrap();
    store.record_request(&id, record(503)).unwrap();
    let before = store.lookup(id.as_str()).unwrap();
    // A job spawned by the request links to it after the response.
    let rec = record_id("orders", 1).unwrap();
    store.relate(&id, Relation::Produced, &rec).unwrap();

    let after = store.lookup(id.as_str()).unwrap();
    assert_eq!(after.metadata, before.metadata);
    assert_eq!(after.counters, before.counters);
    assert_eq!(after.first_seen, before.first_seen);
    assert_eq!(store.related(id.as_str()), [rec]);
    let stats = store.stats();
    assert_eq!(stats.artifacts[&Kind::Req], 1, "counted once: {stats:?}");
    assert_eq!(store.ids_of(Kind::Req), std::slice::from_ref(&id));
    assert_eq!(store.counted("errors"), [(id.clone(), 1)]);

    // Recorded again now that it is a node: its attributes update, its errors add up.
    store.record_request(&id, record(500)).unwrap();
    let again = store.lookup(id.as_str()).unwrap();
    assert_eq!(again.metadata["status"], "500");
    assert_eq!(again.counters["errors"], 2);
}

#[test]
fn logged_requests_share_the_event_capacity_oldest_first() {
    let capacity = 50;
    let store = Store::with_config(Config::new().event_capacity(capacity).shards(4));
    let f = function_id("shop::orders", "create").unwrap();
    for i in 0..1_000u32 {
        // Every third request writes a record (a node with an edge); the others are logged.
        let id = request_id(&format!("r-{i:04}")).unwrap();
        if i % 3 == 0 {
            let rec = record_id("orders", i).unwrap();
            store.relate(&f, Relation::Produced, &rec).unwrap();
            store.relate(&id, Relation::Produced, &rec).unwrap();
        }
        store.record_request(&id, record(200)).unwrap();
        assert!(
            store.lookup(id.as_str()).is_some(),
            "request {i} evicted by its own call"
        );
    }
    let stats = store.stats();
    assert_eq!(stats.events(), capacity as u64, "{stats:?}");
    let requests_ever = stats.artifacts[&Kind::Req] + stats.evicted[&Kind::Req];
    assert_eq!(requests_ever, 1_000, "{stats:?}");
    // What is left is recent: each shard gives up its own oldest.
    let kept = store.ids_of(Kind::Req);
    assert!(!kept.is_empty());
    for id in &kept {
        let n: u32 = id.as_str()["req:r-".len()..].parse().unwrap();
        assert!(n >= 850, "{id} is old: {kept:?}");
    }
}

#[test]
fn threads_logging_requests_keep_the_counts() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 20_000;
    let capacity = 1_000;
    let store = Store::with_config(Config::new().event_capacity(capacity));
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let store = store.clone();
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    let id = request_id(&format!("t{t}-{i}")).unwrap();
                    store.record_request(&id, record(200)).unwrap();
                    if i % 10 == 0 {
                        // Some get linked after they were logged.
                        let rec = record_id("orders", format!("{t}-{i}")).unwrap();
                        store.relate(&id, Relation::Read, &rec).unwrap();
                    }
                }
            });
        }
    });
    let stats = store.stats();
    assert!(stats.events() <= capacity as u64, "{stats:?}");
    // Each request is created once, except that one evicted by the other threads between
    // its logging and its linking is created again by the link: at most once per link.
    let requests_ever = stats.artifacts[&Kind::Req] + stats.evicted[&Kind::Req];
    let (requests, links) = (
        (THREADS * PER_THREAD) as u64,
        (THREADS * PER_THREAD / 10) as u64,
    );
    assert!(
        (requests..=requests + links).contains(&requests_ever),
        "{stats:?}"
    );
}

#[test]
fn a_request_id_seen_again_merges_as_on_a_node() {
    // Found in review: a logged request replaced its record where a node merged it.
    let (logged, linked) = (Store::new(), Store::new());
    let id = request_id("again-1").unwrap();
    linked
        .relate(&id, Relation::Read, &record_id("orders", 1).unwrap())
        .unwrap();
    for store in [&logged, &linked] {
        store.record_request(&id, record(500)).unwrap();
        store.record_request(&id, record(200)).unwrap();
    }
    let (a, b) = (
        logged.lookup(id.as_str()).unwrap(),
        linked.lookup(id.as_str()).unwrap(),
    );
    assert_eq!(a.metadata, b.metadata);
    assert_eq!(a.counters, b.counters);
    assert_eq!(a.metadata["last_error"], "status 500");
    assert_eq!(a.metadata["status"], "200");
}

#[test]
fn a_long_route_reads_back_cut_like_an_attribute() {
    // (The log also stores it cut, so a hostile path costs at most this much per entry.)
    let store = Store::new();
    let id = request_id("long-path").unwrap();
    let long = format!("/{}é", "a".repeat(100_000));
    let mut r = record(500);
    r.route = long.as_str().into();
    r.error = Some(long.clone().into());
    store.record_request(&id, r).unwrap();
    let a = store.lookup(id.as_str()).unwrap();
    let max = provenance::store::MAX_ATTRIBUTE_LEN;
    assert_eq!(a.metadata["route"].len(), max);
    assert!(long.starts_with(&a.metadata["route"]));
    assert_eq!(a.metadata["last_error"].len(), max);
}

/// A UUID v7 in the form the tower layer makes: lowercase, hyphenated.
fn uuid_id(n: u64) -> String {
    let hex = format!(
        "{:032x}",
        0x0190_f1a2_b3c4_7d5e_8f90_0000_0000_0000_u128 | n as u128
    );
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[test]
fn generated_uuid_ids_read_back_exactly() {
    let store = Store::new();
    let lower = request_id(&uuid_id(7)).unwrap();
    // Not how the log keeps a UUID (uppercase, no hyphens): kept as text, read back the same.
    let upper = request_id(&uuid_id(8).to_uppercase()).unwrap();
    let bare = request_id(&uuid_id(9).replace('-', "")).unwrap();
    // The lowercase one with its UUID; the others with a UUID that is not theirs (7's), and
    // none: each is kept as its own text either way.
    let uuid7 = 0x0190_f1a2_b3c4_7d5e_8f90_0000_0000_0007_u128;
    assert_eq!(provenance::request_id_from_uuid(uuid7), lower);
    for (id, uuid) in [(&lower, Some(uuid7)), (&upper, Some(uuid7)), (&bare, None)] {
        store
            .record_generated_request(id, uuid, record(200))
            .unwrap();
    }
    for id in [&lower, &upper, &bare] {
        let a = store.lookup(id.as_str()).unwrap();
        assert_eq!(&a.id, id);
        assert_eq!(a.metadata["status"], "200");
    }
    let mut all = vec![lower.clone(), upper.clone(), bare.clone()];
    all.sort();
    assert_eq!(store.ids_of(Kind::Req), all);
    // Same digits, other case: another request.
    assert!(store.lookup(&lower.as_str().to_uppercase()).is_none());
    assert!(
        store
            .lookup(&format!("req:{}", uuid_id(7).to_uppercase()))
            .is_none()
    );
    store
        .record_generated_request(&request_id(&uuid_id(10)).unwrap(), None, record(503))
        .unwrap();
    assert_eq!(
        store.counted("errors"),
        [(request_id(&uuid_id(10)).unwrap(), 1)]
    );
}

#[test]
fn generated_requests_are_indexed_when_first_asked_for() {
    let capacity = 64;
    let store = Store::with_config(Config::new().event_capacity(capacity).shards(2));
    let ids: Vec<_> = (0..1_000u64)
        .map(|n| request_id(&uuid_id(n)).unwrap())
        .collect();
    for (n, id) in ids.iter().enumerate() {
        store
            .record_generated_request(id, None, record(200))
            .unwrap();
        // Now and then something asks (which indexes the shard's log) or links one.
        if n % 97 == 0 {
            assert!(store.lookup(id.as_str()).is_some(), "{n}");
        }
        if n % 101 == 0 {
            let rec = record_id("orders", n as u64).unwrap();
            store.relate(id, Relation::Produced, &rec).unwrap();
            assert_eq!(store.related(id.as_str()), [rec]);
        }
    }
    let stats = store.stats();
    assert_eq!(stats.events(), capacity as u64, "{stats:?}");
    assert_eq!(
        stats.artifacts[&Kind::Req] + stats.evicted[&Kind::Req],
        1_000,
        "each created once: {stats:?}"
    );
    // Whatever is retained answers, whether its shard indexed it or not; nothing evicted does.
    let kept = store.ids_of(Kind::Req);
    assert_eq!(kept.len() as u64, stats.artifacts[&Kind::Req]);
    for id in &ids {
        assert_eq!(
            store.lookup(id.as_str()).is_some(),
            kept.contains(id),
            "{id}"
        );
    }
    // A later link of a retained one finds its record.
    let last = ids.last().unwrap();
    let rec = record_id("orders", "last").unwrap();
    store.relate(last, Relation::Produced, &rec).unwrap();
    assert_eq!(
        store.lookup(last.as_str()).unwrap().metadata["status"],
        "200"
    );
    // It became a node, not a second request (the new record evicted an older one).
    let after = store.stats();
    assert_eq!(
        after.artifacts[&Kind::Req] + after.evicted[&Kind::Req],
        1_000,
        "{after:?}"
    );
}

//! Load on the example orders service, over loopback: 2 000 requests over 16 concurrent
//! connections on a multi-threaded runtime, with a store small enough to evict. Every request
//! gets its own ID, every `req:` is either still in the store or counted as evicted, the
//! store's counts add up, and nothing panics.

mod common;

use std::cell::RefCell;
use std::collections::HashSet;

use common::{Answer, HttpClient, f, has_edge};
use example_orders::Db;
use provenance::{Config, Kind, Relation, SpanLayer, Store};
use serde_json::json;
use tracing_subscriber::prelude::*;

const CONNECTIONS: usize = 16;
const PER_CONNECTION: usize = 125;
/// Well below what the run creates (2 000 requests, 750 jobs, several records each), so that
/// eviction happens; well above what is in flight at once.
const EVENT_CAPACITY: usize = 4_000;

thread_local! {
    static SPANS: RefCell<Option<tracing::subscriber::DefaultGuard>> = const { RefCell::new(None) };
}

#[test]
fn two_thousand_requests_over_sixteen_connections_are_all_accounted_for() {
    let store = Store::with_config(Config::new().event_capacity(EVENT_CAPACITY));
    let dispatch =
        tracing::Dispatch::new(tracing_subscriber::registry().with(SpanLayer::new(store.clone())));
    // The SpanLayer is this test's alone: the default subscriber of this thread and of the
    // runtime's workers, set as each starts, rather than the process-wide one.
    let _main = tracing::dispatcher::set_default(&dispatch);
    let worker_dispatch = dispatch.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            let guard = tracing::dispatcher::set_default(&worker_dispatch);
            SPANS.with(|s| *s.borrow_mut() = Some(guard));
        })
        .on_thread_stop(|| SPANS.with(|s| drop(s.borrow_mut().take())))
        .build()
        .unwrap();
    runtime.block_on(load(store));
}

/// What connection `c` sends as its `i`th request: mostly orders, some reads, some failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind8 {
    Order,
    ReadOrder,
    ReadInvoice,
    UnknownProduct,
    MissingOrder,
}

fn kind_of(c: usize, i: usize) -> Kind8 {
    match (c + i) % 8 {
        0..=2 => Kind8::Order,
        3 | 4 => Kind8::ReadOrder,
        5 => Kind8::ReadInvoice,
        6 => Kind8::UnknownProduct,
        _ => Kind8::MissingOrder,
    }
}

async fn load(store: Store) {
    let db = Db::sqlite_in_memory(store.clone()).await.unwrap();
    let (addr, state) = common::serve(db).await;
    let setup = HttpClient::new(addr);
    let customer = setup
        .post(
            "/customers",
            json!({ "name": "Grace Hopper", "email": "grace@example.com" }),
        )
        .await;
    assert_eq!(customer.status, 201);
    let first = setup
        .post(
            "/orders",
            json!({ "customer_id": 1, "items": [{ "sku": "tea-sencha", "quantity": 1 }] }),
        )
        .await;
    assert_eq!(first.status, 201);
    // Order 1's invoice is read under load: its invoicing job must have run first, or a busy
    // machine could answer 404.
    state.jobs.wait_idle().await;
    let mut ids = vec![customer.request_id, first.request_id];

    // One client per connection: each keeps one keep-alive connection and sends in turn.
    let mut tasks = Vec::new();
    for c in 0..CONNECTIONS {
        let http = HttpClient::new(addr);
        tasks.push(tokio::spawn(async move {
            let mut answers: Vec<(Kind8, Answer)> = Vec::with_capacity(PER_CONNECTION);
            for i in 0..PER_CONNECTION {
                let kind = kind_of(c, i);
                let answer = match kind {
                    Kind8::Order => {
                        http.post(
                            "/orders",
                            json!({ "customer_id": 1, "items": [
                                { "sku": "tea-earl-grey", "quantity": 1 + i % 3 },
                                { "sku": "mug-stoneware", "quantity": 1 },
                            ]}),
                        )
                        .await
                    }
                    Kind8::ReadOrder => http.get("/orders/1").await,
                    Kind8::ReadInvoice => http.get("/orders/1/invoice").await,
                    Kind8::UnknownProduct => {
                        http.post(
                            "/orders",
                            json!({ "customer_id": 1, "items": [{ "sku": "no-such-tea", "quantity": 1 }] }),
                        )
                        .await
                    }
                    Kind8::MissingOrder => http.get("/orders/999999").await,
                };
                answers.push((kind, answer));
            }
            answers
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.extend(task.await.expect("no client task panics"));
    }
    state.jobs.wait_idle().await;

    // Every answer is the one its request should get.
    let mut orders = 1;
    let mut last_order = None;
    for (kind, answer) in &answers {
        let expected = match kind {
            Kind8::Order => 201,
            Kind8::ReadOrder | Kind8::ReadInvoice => 200,
            Kind8::UnknownProduct => 422,
            Kind8::MissingOrder => 404,
        };
        assert_eq!(answer.status, expected, "{kind:?}: {:?}", answer.body);
        if *kind == Kind8::Order {
            orders += 1;
            if last_order.is_none_or(|(id, _)| answer.body["id"].as_i64() > Some(id)) {
                last_order = answer.body["id"].as_i64().map(|id| (id, answer));
            }
        }
    }
    let sent = answers.len() + 2;
    assert_eq!(sent, CONNECTIONS * PER_CONNECTION + 2);

    // Every request ID is unique.
    ids.extend(answers.iter().map(|(_, a)| a.request_id.clone()));
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), sent);

    // Every req: is present or counted as evicted; the same for the jobs, one per order.
    let stats = store.stats();
    let present = ids
        .iter()
        .filter(|id| store.lookup(&format!("req:{id}")).is_some())
        .count() as u64;
    let count =
        |map: &std::collections::BTreeMap<Kind, u64>, kind| map.get(&kind).copied().unwrap_or(0);
    assert_eq!(count(&stats.artifacts, Kind::Req), present);
    assert!(
        count(&stats.evicted, Kind::Req) > 0,
        "the run was meant to evict: {stats:?}"
    );
    assert_eq!(
        present + count(&stats.evicted, Kind::Req),
        sent as u64,
        "{stats:?}"
    );
    assert_eq!(
        count(&stats.artifacts, Kind::Job) + count(&stats.evicted, Kind::Job),
        orders,
        "{stats:?}"
    );

    // The store's counts add up: events are what it holds of req, job and rec, within
    // capacity; every SQL statement was analysed.
    let events: u64 = [Kind::Req, Kind::Job, Kind::Rec]
        .into_iter()
        .map(|k| count(&stats.artifacts, k))
        .sum();
    assert_eq!(stats.events(), events);
    assert!(stats.events() <= EVENT_CAPACITY as u64, "{stats:?}");
    assert_eq!(
        stats.total_artifacts(),
        stats.artifacts.values().sum::<u64>()
    );
    assert_eq!(stats.unanalysed_queries, 0);
    // A function's calls are counted, lagging by at most 63 (see provenance::span).
    let posts = answers
        .iter()
        .filter(|(k, _)| matches!(k, Kind8::Order | Kind8::UnknownProduct))
        .count() as u64
        + 1;
    let calls = store
        .lookup(&f("handlers", "place_order"))
        .unwrap()
        .counters["calls"];
    assert!(
        calls <= posts && calls + 64 > posts,
        "{calls} calls of {posts}"
    );

    // The newest order's lineage is intact.
    let (id, last) = last_order.expect("orders were placed");
    let order = format!("rec:orders:{id}");
    assert!(has_edge(&store, &last.req(), Relation::Produced, &order));
    assert!(has_edge(
        &store,
        &f("repo", "insert_order"),
        Relation::Produced,
        &order
    ));
}

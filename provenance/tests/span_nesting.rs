//! SpanLayer: nested spans become `called` edges, spans inside a request get `during` edges,
//! across `.await` points, worker threads and spawned tasks.

use provenance::context::{Context, in_current_context, scope, sync_scope};
use provenance::{Direction, Relation, SpanLayer, Store, function_id, module_id};
use tracing::instrument::WithSubscriber;
use tracing_subscriber::prelude::*;

fn dispatch(store: &Store) -> tracing::Dispatch {
    tracing::Dispatch::new(tracing_subscriber::registry().with(SpanLayer::new(store.clone())))
}

fn f(name: &str) -> provenance::ArtifactId {
    function_id(module_path!(), name).unwrap()
}

fn called(store: &Store, caller: &str) -> Vec<String> {
    let mut ids: Vec<String> = store
        .neighbors(f(caller).as_str())
        .into_iter()
        .filter(|n| n.relation == Relation::Called && n.direction == Direction::Outgoing)
        .map(|n| n.id.to_string())
        .collect();
    ids.sort();
    ids
}

#[tracing::instrument]
fn outer() {
    middle();
}

#[tracing::instrument]
fn middle() {
    inner();
    inner();
}

#[tracing::instrument]
fn inner() {}

#[test]
fn three_levels_become_called_edges_and_one_module() {
    let store = Store::new();
    tracing::dispatcher::with_default(&dispatch(&store), outer);
    assert_eq!(called(&store, "outer"), [f("middle").to_string()]);
    assert_eq!(called(&store, "middle"), [f("inner").to_string()]);
    assert!(called(&store, "inner").is_empty());

    let module = module_id(module_path!()).unwrap();
    let defined: Vec<_> = store
        .neighbors(module.as_str())
        .into_iter()
        .filter(|n| n.relation == Relation::Defines)
        .map(|n| n.id.to_string())
        .collect();
    assert_eq!(defined.len(), 3);
    let inner = store.lookup(f("inner").as_str()).unwrap();
    assert_eq!(inner.counters["calls"], 2);
    assert!(inner.source_file.unwrap().ends_with("span_nesting.rs"));
    assert_eq!(
        store.lookup(module.as_str()).unwrap().layer,
        Some(provenance::ArchLayer::Test)
    );
}

#[test]
fn spans_inside_a_request_are_during_that_request() {
    let store = Store::new();
    let ctx = Context::from_iter([("request_id", "req:r1")]);
    tracing::dispatcher::with_default(&dispatch(&store), || sync_scope(ctx, outer));
    for name in ["outer", "middle", "inner"] {
        let during: Vec<_> = store
            .neighbors(f(name).as_str())
            .into_iter()
            .filter(|n| n.relation == Relation::During)
            .map(|n| n.id.to_string())
            .collect();
        assert_eq!(during, ["req:r1"], "{name}");
    }
    // Outside any request nothing is during anything.
    let other = Store::new();
    tracing::dispatcher::with_default(&dispatch(&other), outer);
    assert!(
        other
            .neighbors(f("outer").as_str())
            .iter()
            .all(|n| n.relation != Relation::During)
    );
}

#[tracing::instrument]
async fn handler(n: u32) {
    tokio::task::yield_now().await;
    load(n).await;
    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    save(n).await;
}

#[tracing::instrument]
async fn load(n: u32) {
    tokio::task::yield_now().await;
}

#[tracing::instrument]
async fn save(n: u32) {
    // Work handed to another task keeps its request when it carries the context.
    let background =
        tokio::spawn(in_current_context(background_write(n)).with_current_subscriber());
    background.await.unwrap();
}

#[tracing::instrument]
async fn background_write(n: u32) {
    tokio::task::yield_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn async_spans_across_awaits_threads_and_spawned_tasks() {
    let store = Store::new();
    let d = dispatch(&store);
    let mut tasks = Vec::new();
    for n in 0..32u32 {
        let ctx = Context::from_iter([("request_id", format!("req:async{n}"))]);
        tasks.push(tokio::spawn(
            scope(ctx, handler(n)).with_subscriber(d.clone()),
        ));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        called(&store, "handler"),
        [f("load").to_string(), f("save").to_string()]
    );
    for name in ["handler", "load", "save", "background_write"] {
        let during = store
            .neighbors(f(name).as_str())
            .into_iter()
            .filter(|n| n.relation == Relation::During)
            .count();
        assert_eq!(during, 32, "{name} ran in 32 requests");
    }
    // The spawned task's span has no parent span, so no `called` edge: it is linked to its
    // request through the carried context.
    assert!(called(&store, "save").is_empty());
    let r7 = store.related("req:async7");
    assert!(r7.contains(&f("background_write")), "{r7:?}");
}

#[test]
fn current_reports_the_innermost_function_and_the_request() {
    let store = Store::new();
    #[tracing::instrument]
    fn probe() -> provenance::span::Current {
        provenance::span::current()
    }
    let ctx = Context::from_iter([("request_id", "req:probe")]);
    let now = tracing::dispatcher::with_default(&dispatch(&store), || sync_scope(ctx, probe));
    assert_eq!(now.function, Some(f("probe")));
    assert_eq!(now.activity.unwrap().as_str(), "req:probe");
    // Without spans, the context alone still answers.
    let ctx = Context::from_iter([("job_id", "job:q:1")]);
    let bare = sync_scope(ctx, provenance::span::current);
    assert_eq!(
        (bare.function, bare.activity.unwrap().as_str().to_owned()),
        (None, "job:q:1".to_owned())
    );
}

#[test]
fn an_enclosing_span_outside_any_request_does_not_hide_the_request() {
    let store = Store::new();
    tracing::dispatcher::with_default(&dispatch(&store), || {
        // A server's long-lived span, entered before any request exists.
        let _serve = tracing::info_span!("serve").entered();
        sync_scope(Context::from_iter([("request_id", "req:inner")]), outer);
    });
    let during: Vec<_> = store
        .neighbors(f("outer").as_str())
        .into_iter()
        .filter(|n| n.relation == Relation::During)
        .map(|n| n.id.to_string())
        .collect();
    assert_eq!(during, ["req:inner"]);
}

#[test]
fn call_counts_are_exact_when_threads_race_on_the_first_calls() {
    // The first 16 calls are flushed one by one; racing threads must not count any twice.
    for _ in 0..100 {
        let store = Store::new();
        let d = dispatch(&store);
        std::thread::scope(|s| {
            for _ in 0..8 {
                let d = d.clone();
                s.spawn(move || {
                    tracing::dispatcher::with_default(&d, || {
                        inner();
                        inner();
                    })
                });
            }
        });
        assert_eq!(
            store.lookup(f("inner").as_str()).unwrap().counters["calls"],
            16
        );
    }
}

#[test]
fn two_span_layers_keep_their_own_view() {
    mod app {
        #[tracing::instrument]
        pub(crate) fn counted_by_both() {
            super::inner();
        }
    }
    let everything = Store::new();
    let only_app = Store::new();
    let app_target = format!("{}::app", module_path!());
    let subscriber = tracing_subscriber::registry()
        .with(SpanLayer::new(everything.clone()))
        .with(SpanLayer::new(only_app.clone()).with_targets([app_target.clone()]));
    tracing::subscriber::with_default(subscriber, || {
        outer();
        app::counted_by_both();
    });
    // The first layer sees all of it.
    assert_eq!(called(&everything, "outer"), [f("middle").to_string()]);
    // The second counts only `app`: no `outer`, and `inner`'s caller is not taken from the
    // other layer's spans.
    assert!(only_app.lookup(f("outer").as_str()).is_none());
    assert!(only_app.lookup(f("inner").as_str()).is_none());
    let app_fn = function_id(&app_target, "counted_by_both").unwrap();
    assert!(only_app.lookup(app_fn.as_str()).is_some());
}

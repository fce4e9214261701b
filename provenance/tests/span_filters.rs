//! SpanLayer: which spans count, and error events marking functions and requests failed.

use provenance::context::{Context, sync_scope};
use provenance::{Kind, SpanLayer, Store, function_id};
use tracing_subscriber::prelude::*;

fn run(layer: SpanLayer, f: impl FnOnce()) {
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), f);
}

fn functions(store: &Store) -> u64 {
    store.stats().artifacts.get(&Kind::Fn).copied().unwrap_or(0)
}

#[test]
fn library_internals_do_not_count_by_default() {
    let store = Store::new();
    run(SpanLayer::new(store.clone()), || {
        let _a = tracing::info_span!(target: "hyper::proto", "encode").entered();
        let _b = tracing::info_span!(target: "sqlx::query", "query").entered();
        let _c = tracing::info_span!(target: "tower_http::trace", "request").entered();
        let _d = tracing::info_span!(target: "towerish_app::x", "mine").entered();
    });
    // Only the last one: `towerish_app` is not `tower`.
    assert_eq!(functions(&store), 1);
}

#[test]
fn with_targets_counts_only_those_crates() {
    let store = Store::new();
    run(SpanLayer::new(store.clone()).with_targets(["shop"]), || {
        let _a = tracing::info_span!(target: "shop::orders", "create").entered();
        let _b = tracing::info_span!(target: "shop", "main").entered();
        let _c = tracing::info_span!(target: "shopping", "other").entered();
        let _d = tracing::info_span!(target: "hyper", "h").entered();
    });
    assert_eq!(functions(&store), 2);
}

#[tracing::instrument(fields(provenance.skip = true))]
fn noisy() {
    counted();
}

#[tracing::instrument]
fn counted() {}

#[test]
fn a_span_can_opt_out() {
    let store = Store::new();
    run(SpanLayer::new(store.clone()), noisy);
    assert!(
        store
            .lookup(function_id(module_path!(), "noisy").unwrap().as_str())
            .is_none()
    );
    // Its children still count, with no caller.
    assert!(
        store
            .lookup(function_id(module_path!(), "counted").unwrap().as_str())
            .is_some()
    );
}

#[tracing::instrument]
fn charge(amount: u32) -> Result<(), String> {
    tracing::error!(amount, "card declined");
    Err("declined".into())
}

#[test]
fn error_events_mark_the_function_and_its_request_failed() {
    let store = Store::new();
    let ctx = Context::from_iter([("request_id", "req:failing")]);
    run(SpanLayer::new(store.clone()), || {
        let _ = sync_scope(ctx, || charge(5));
        sync_scope(Context::from_iter([("request_id", "req:fine")]), || {
            tracing::warn!("only a warning");
        });
    });
    let f = function_id(module_path!(), "charge").unwrap();
    let failed: Vec<_> = store
        .counted("errors")
        .into_iter()
        .map(|(id, _)| id.to_string())
        .collect();
    assert_eq!(failed, [f.to_string(), "req:failing".to_owned()]);
    let req = store.lookup("req:failing").unwrap();
    assert_eq!(req.metadata["last_error"], "card declined amount=5");
    // Which requests failed, and what did they touch?
    assert!(store.related("req:failing").contains(&f));
}

#[test]
fn long_error_messages_are_cut() {
    let store = Store::new();
    let ctx = Context::from_iter([("request_id", "req:long")]);
    run(SpanLayer::new(store.clone()), || {
        sync_scope(ctx, || tracing::error!("{}", "x".repeat(10_000)));
    });
    let req = store.lookup("req:long").unwrap();
    assert_eq!(
        req.metadata["last_error"].len(),
        provenance::span::MAX_ERROR_LEN
    );
}

#[tracing::instrument(err)]
fn refuse() -> Result<(), String> {
    Err("out of stock".to_owned())
}

#[test]
fn instrument_err_records_the_error_itself() {
    let store = Store::new();
    let ctx = Context::from_iter([("request_id", "req:refused")]);
    run(SpanLayer::new(store.clone()), || {
        let _ = sync_scope(ctx, refuse);
    });
    let req = store.lookup("req:refused").unwrap();
    assert_eq!(req.metadata["last_error"], "out of stock");
}

#[test]
fn a_span_keeps_the_layer_a_module_was_registered_with() {
    use provenance::{ArchLayer, ModuleInfo};
    let store = Store::new();
    // What a build-time scan found from the module's contents, say.
    store
        .register_module(module_path!(), ModuleInfo::default().layer(ArchLayer::Repo))
        .unwrap();
    run(SpanLayer::new(store.clone()), || {
        let _ = refuse();
    });
    let module = provenance::module_id(module_path!()).unwrap();
    let module = store.lookup(module.as_str()).unwrap();
    assert_eq!(module.layer, Some(ArchLayer::Repo));
    assert!(
        module.source_file.is_some(),
        "the span still adds the source file"
    );
}

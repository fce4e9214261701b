//! SpanLayer: job spans become `job:` artifacts that act for their children as a request does.

use provenance::context::{Context, sync_scope};
use provenance::span::run_job;
use provenance::{Relation, SpanLayer, Store, function_id};
use tracing_subscriber::prelude::*;

fn f(name: &str) -> String {
    function_id(module_path!(), name).unwrap().to_string()
}

fn during(store: &Store, id: &str) -> Vec<String> {
    store
        .neighbors(id)
        .into_iter()
        .filter(|n| n.relation == Relation::During)
        .map(|n| n.id.to_string())
        .collect()
}

#[tracing::instrument]
async fn send_invoice(order: u32) {
    render(order);
}

#[tracing::instrument]
fn render(order: u32) {}

#[tokio::test]
async fn run_job_makes_a_job_artifact_for_its_functions() {
    let store = Store::new();
    let _guard = tracing_subscriber::registry()
        .with(SpanLayer::new(store.clone()))
        .set_default();
    run_job("invoicing", "j-1", send_invoice(1)).await;
    assert_eq!(during(&store, &f("send_invoice")), ["job:invoicing:j-1"]);
    assert_eq!(during(&store, &f("render")), ["job:invoicing:j-1"]);
    let job = store.lookup("job:invoicing:j-1").unwrap();
    assert_eq!(job.metadata["queue"], "invoicing");
    // The job helper's own span is not a function.
    assert!(store.lookup("fn:provenance::span::job").is_none());
}

#[tracing::instrument(fields(job.queue = "email", job.id = %id))]
fn deliver(id: u64) {
    render(1);
}

#[tracing::instrument(name = "task", fields(task_id = %id))]
fn apalis_like(id: &str) {
    render(2);
}

#[test]
fn job_fields_on_any_span_and_configurable_names() {
    let store = Store::new();
    tracing::subscriber::with_default(
        tracing_subscriber::registry().with(SpanLayer::new(store.clone())),
        || deliver(42),
    );
    assert_eq!(during(&store, &f("render")), ["job:email:42"]);
    // A job span that is also a function: the function ran during its own job.
    assert_eq!(during(&store, &f("deliver")), ["job:email:42"]);

    let apalis = Store::new();
    let layer = SpanLayer::new(apalis.clone())
        .with_job_fields(None, "task_id")
        .with_default_queue("mailer");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        apalis_like("t-9")
    });
    assert_eq!(during(&apalis, &f("render")), ["job:mailer:t-9"]);
}

#[test]
fn a_job_started_inside_a_request_is_called_by_it() {
    let store = Store::new();
    let ctx = Context::from_iter([("request_id", "req:parent")]);
    tracing::subscriber::with_default(
        tracing_subscriber::registry().with(SpanLayer::new(store.clone())),
        || sync_scope(ctx, || deliver(7)),
    );
    let calls: Vec<_> = store
        .neighbors("req:parent")
        .into_iter()
        .filter(|n| n.relation == Relation::Called)
        .map(|n| n.id.to_string())
        .collect();
    assert_eq!(calls, ["job:email:7"]);
}

#[tokio::test]
async fn work_inside_a_job_started_by_a_request_belongs_to_the_job() {
    let store = Store::new();
    let _guard = tracing_subscriber::registry()
        .with(SpanLayer::new(store.clone()))
        .set_default();
    let ctx = Context::from_iter([("request_id", "req:starter")]);
    let seen = provenance::context::scope(
        ctx,
        run_job("invoicing", "j-2", async { provenance::get_context() }),
    )
    .await;
    assert_eq!(seen.activity().unwrap().as_str(), "job:invoicing:j-2");
    assert_eq!(seen.get("parent_request_id"), Some("req:starter"));
}

//! The example orders service with all three integrations (ProvenanceLayer, SpanLayer, the
//! instrumented pool), driven over real HTTP, on SQLite and on PostgreSQL: a request's `req:`
//! (under the ID its response carried) → the handler `during` it → the functions it `called`
//! → the `rec:` and `tbl:` they `produced`; the invoicing job that request started, linked to
//! the order it read and the invoice it wrote; the invoice `derived_from` the order; and a
//! failed request, counted, whose rolled-back writes are not in the graph.

mod common;

use common::{HttpClient, PgSchema, f, has_edge, targets};
use example_orders::Db;
use provenance::{Relation, SpanLayer, Store};
use serde_json::json;
use tracing_subscriber::prelude::*;

/// Installs a SpanLayer recording into `store` for this thread. The tests run on a
/// current-thread runtime, so the server's, the client's and the jobs' tasks all run on this
/// thread and see it; another test's subscriber on another thread does not clash with it.
fn record_spans(store: &Store) -> tracing::subscriber::DefaultGuard {
    tracing_subscriber::registry()
        .with(SpanLayer::new(store.clone()))
        .set_default()
}

#[tokio::test]
async fn on_sqlite_a_request_leads_to_its_records_its_job_and_the_invoice() {
    let store = Store::new();
    let _spans = record_spans(&store);
    let db = Db::sqlite_in_memory(store.clone()).await.unwrap();
    request_to_invoice(db, store).await;
}

#[tokio::test]
async fn on_postgres_a_request_leads_to_its_records_its_job_and_the_invoice() {
    let test = "orders_lineage::on_postgres_a_request_leads_to_its_records_its_job_and_the_invoice";
    let Some((schema, pool)) = PgSchema::create(test).await else {
        return;
    };
    let store = Store::new();
    let _spans = record_spans(&store);
    let db = Db::Postgres(provenance_sqlx::PgPool::new(pool, store.clone()));
    // On this current-thread runtime the task runs here, with the subscriber; spawning it
    // only lets the schema be dropped whether or not the scenario panics.
    let outcome = tokio::spawn(request_to_invoice(db, store)).await;
    schema.drop_now().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn request_to_invoice(db: Db, store: Store) {
    use Relation::{Called, Contains, DerivedFrom, During, Produced, Read};
    let store = &store;
    let (addr, state) = common::serve(db).await;
    let http = HttpClient::new(addr);

    // The migrations are in the graph, with the tables they made.
    assert!(has_edge(
        store,
        "mig:20240308090000_orders",
        Produced,
        "tbl:orders"
    ));
    assert!(has_edge(
        store,
        "tbl:orders",
        Contains,
        "col:orders.total_cents"
    ));

    let customer = http
        .post(
            "/customers",
            json!({ "name": "Ada Lovelace", "email": "ada@example.com" }),
        )
        .await;
    assert_eq!(customer.status, 201, "{:?}", customer.body);
    let customer_id = customer.body["id"].as_i64().unwrap();
    let customer_rec = format!("rec:customers:{customer_id}");
    assert!(has_edge(store, &customer.req(), Produced, &customer_rec));

    let placed = http
        .post(
            "/orders",
            json!({ "customer_id": customer_id, "items": [
                { "sku": "tea-earl-grey", "quantity": 2 },
                { "sku": "mug-stoneware", "quantity": 1 },
            ]}),
        )
        .await;
    assert_eq!(placed.status, 201, "{:?}", placed.body);
    assert_eq!(placed.body["total_cents"], 2 * 1250 + 1800);
    let order_id = placed.body["id"].as_i64().unwrap();
    let order = format!("rec:orders:{order_id}");
    let req = placed.req();

    // The request, under the ID its response carried.
    let request = store.lookup(&req).expect("the request's req: artifact");
    assert_eq!(request.metadata["method"], "POST");
    assert_eq!(request.metadata["route"], "/orders");
    assert_eq!(request.metadata["status"], "201");

    // req ← during ← handler → called → context → called → repo → produced → rec, tbl.
    let (handler, place, insert) = (
        f("handlers", "place_order"),
        f("orders", "place"),
        f("repo", "insert_order"),
    );
    for function in [&handler, &place, &insert] {
        assert!(
            has_edge(store, function, During, &req),
            "{function} during {req}"
        );
    }
    assert!(has_edge(store, &handler, Called, &place));
    assert!(has_edge(store, &place, Called, &insert));
    assert!(has_edge(store, &insert, Produced, &order));
    assert!(has_edge(store, &insert, Produced, "tbl:orders"));
    assert!(has_edge(store, "tbl:orders", Contains, &order));
    assert!(has_edge(store, &req, Produced, &order));
    let lines: Vec<String> = targets(store, &req, Produced)
        .into_iter()
        .filter(|id| id.starts_with("rec:order_items:"))
        .collect();
    assert_eq!(lines.len(), 2, "{:?}", store.neighbors(&req));
    // The order was written after reading its customer, so it derives from it.
    assert!(has_edge(store, &req, Read, &customer_rec));
    assert!(has_edge(store, &order, DerivedFrom, &customer_rec));
    assert!(store.downstream(&req, 2).unwrap().contains(&order));

    // The invoicing job the request started.
    state.jobs.wait_idle().await;
    let job = format!("job:invoicing:order-{order_id}");
    assert_eq!(
        store.lookup(&job).expect("the job").metadata["queue"],
        "invoicing"
    );
    assert!(has_edge(store, &req, Called, &job));
    assert!(has_edge(
        store,
        &f("workers", "invoice_order"),
        During,
        &job
    ));
    assert!(has_edge(store, &f("invoices", "issue"), During, &job));
    assert!(has_edge(store, &job, Read, &order));
    assert!(
        has_edge(store, &job, Produced, &order),
        "it marks the order invoiced"
    );
    let invoices: Vec<String> = targets(store, &job, Produced)
        .into_iter()
        .filter(|id| id.starts_with("rec:invoices:"))
        .collect();
    assert_eq!(invoices.len(), 1, "{:?}", store.neighbors(&job));
    let invoice = &invoices[0];
    assert!(has_edge(store, invoice, DerivedFrom, &order));
    // None of the job's work is attributed to the request that started it.
    assert!(!has_edge(store, &req, Produced, invoice));

    // The invoice the service answers with is that record, and reading it is recorded.
    let fetched = http.get(&format!("/orders/{order_id}/invoice")).await;
    assert_eq!(fetched.status, 200, "{:?}", fetched.body);
    assert_eq!(format!("rec:invoices:{}", fetched.body["id"]), *invoice);
    assert!(has_edge(store, &fetched.req(), Read, invoice));
    // From the invoice back to the job and the request that placed the order.
    let upstream = store.upstream(invoice, 3).unwrap();
    assert!(upstream.contains(&job) && upstream.contains(&order) && upstream.contains(&req));

    // A failed request: an unknown product. Counted on the request, with the reason; what it
    // read is recorded, and nothing it wrote, because its transaction rolled back.
    let failed = http
        .post(
            "/orders",
            json!({ "customer_id": customer_id, "items": [
                { "sku": "tea-sencha", "quantity": 1 },
                { "sku": "coffee-espresso", "quantity": 1 },
            ]}),
        )
        .await;
    assert_eq!(failed.status, 422, "{:?}", failed.body);
    let request = store.lookup(&failed.req()).unwrap();
    assert_eq!(request.metadata["status"], "422");
    assert_eq!(request.counters["errors"], 1);
    assert!(request.metadata["last_error"].contains("coffee-espresso"));
    assert!(
        store
            .counted("errors")
            .iter()
            .any(|(id, _)| id.as_str() == failed.req())
    );
    assert!(has_edge(store, &failed.req(), Read, &customer_rec));
    assert_eq!(
        targets(store, &failed.req(), Produced),
        Vec::<String>::new()
    );
    assert_eq!(store.lookup(&place).unwrap().counters["rollbacks"], 1);
    assert!(targets(store, &failed.req(), Called).is_empty(), "no job");
}

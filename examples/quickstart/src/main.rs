//! Run with: cargo run -p example-quickstart
//!
//! A core-only tour of Provenance: it registers the modules of a small shop service, records
//! the lineage that two requests and a background job would leave behind, and prints what the
//! store answers. The axum + sqlx integrations record the same edges automatically; here they
//! are written by hand so that every edge is visible.

use provenance::context::{Context, get_context, put_context, sync_scope};
use provenance::store::Attributes;
use provenance::{
    ArchLayer, ArtifactId, Direction, Error, ModuleInfo, Relation, Store, column_id, function_id,
    job_id, record_id, request_id, table_id,
};

fn main() -> Result<(), Error> {
    let store = Store::new();
    register_modules(&store)?;

    // Request 1: POST /orders creates order 1 for customer 7, with two items.
    let req1 = request_id("01J9ZQ4Y0K6T4W2XH3M5N7P8R1")?;
    store.describe(
        &req1,
        Attributes::new()
            .attr("method", "POST")
            .attr("route", "/orders")
            .attr("status", "201"),
    )?;
    sync_scope(Context::from_iter([("request_id", req1.as_str())]), || {
        put_context([("user_id", "usr:7")]);
        place_order(&store, 1, 7, &[(1, "SKU-RED"), (2, "SKU-BLUE")])
    })?;

    // Request 2: GET /orders/1 reads it back.
    let req2 = request_id("01J9ZQ4Y3C2B8D5F6G7H9J0K2M")?;
    sync_scope(Context::from_iter([("request_id", req2.as_str())]), || {
        show_order(&store, 1)
    })?;

    // A background job invoices order 1.
    let job = job_id("invoicing", "j-1")?;
    sync_scope(Context::from_iter([("job_id", job.as_str())]), || {
        invoice_order(&store, 1, 501)
    })?;

    print_answers(&store)
}

/// The modules of the shop, as a build-time scan or the tracing layer would register them.
fn register_modules(store: &Store) -> Result<(), Error> {
    let modules: &[(&str, &str, &[&str])] = &[
        (
            "shop::handlers::orders",
            "src/handlers/orders.rs",
            &["shop::orders"],
        ),
        (
            "shop::orders",
            "src/orders.rs",
            &["shop::orders::order_repo", "shop::orders::order"],
        ),
        (
            "shop::orders::order_repo",
            "src/orders/order_repo.rs",
            &["shop::orders::order"],
        ),
        ("shop::orders::order", "src/orders/order.rs", &[]),
        (
            "shop::workers::invoicer",
            "src/workers/invoicer.rs",
            &["shop::orders", "shop::billing"],
        ),
        ("shop::billing", "src/billing.rs", &[]),
    ];
    for (module, file, deps) in modules {
        let mut info = ModuleInfo::default().source_file(*file);
        if module.ends_with("::order") {
            // The scan sees `#[derive(sqlx::FromRow)] struct Order`.
            info = info.layer(ArchLayer::Schema);
        }
        for dep in *deps {
            info = info.dependency(*dep);
        }
        store.register_module(module, info)?;
    }
    Ok(())
}

/// The current request or job, from the task-local context.
fn current_activity() -> Option<ArtifactId> {
    let ctx = get_context();
    ctx.request_id().or_else(|| ctx.job_id())
}

/// What a handler span, a nested call and an INSERT leave behind.
fn place_order(
    store: &Store,
    order: u32,
    customer: u32,
    items: &[(u32, &str)],
) -> Result<(), Error> {
    let activity = current_activity().expect("inside a request");
    let handler = function_id("shop::handlers::orders", "create_order")?;
    let create = function_id("shop::orders", "create")?;
    let insert = function_id("shop::orders::order_repo", "insert")?;
    store.relate(&handler, Relation::During, &activity)?;
    store.relate(&create, Relation::During, &activity)?;
    store.relate(&insert, Relation::During, &activity)?;
    store.relate(&handler, Relation::Called, &create)?;
    store.relate(&create, Relation::Called, &insert)?;

    let customers = table_id("customers")?;
    let customer = record_id("customers", customer)?;
    store.relate(&create, Relation::Read, &customers)?;
    store.relate(&create, Relation::Read, &customer)?;
    store.relate(&activity, Relation::Read, &customer)?;

    let orders = table_id("orders")?;
    let order = record_id("orders", order)?;
    for table in [&orders, &table_id("order_items")?] {
        store.relate(&insert, Relation::Produced, table)?;
    }
    for column in ["customer_id", "total_cents"] {
        let col = column_id("orders", column)?;
        store.relate(&orders, Relation::Contains, &col)?;
        store.relate(&insert, Relation::Produced, &col)?;
    }
    store.relate(&orders, Relation::Contains, &order)?;
    store.relate(&insert, Relation::Produced, &order)?;
    store.relate(&activity, Relation::Produced, &order)?;
    store.relate(&order, Relation::DerivedFrom, &customer)?;
    for (line, _sku) in items {
        let item =
            provenance::composite_record_id("order_items", [order_key(&order), line.to_string()])?;
        store.relate(&insert, Relation::Produced, &item)?;
        store.relate(&activity, Relation::Produced, &item)?;
        store.relate(&item, Relation::DerivedFrom, &order)?;
    }
    Ok(())
}

fn order_key(order: &ArtifactId) -> String {
    match order.parts() {
        provenance::id::Parts::Record { key, .. } => key.join(","),
        _ => String::new(),
    }
}

fn show_order(store: &Store, order: u32) -> Result<(), Error> {
    let activity = current_activity().expect("inside a request");
    let handler = function_id("shop::handlers::orders", "show_order")?;
    let get = function_id("shop::orders::order_repo", "get")?;
    store.relate(&handler, Relation::During, &activity)?;
    store.relate(&get, Relation::During, &activity)?;
    store.relate(&handler, Relation::Called, &get)?;
    store.relate(&get, Relation::Read, &table_id("orders")?)?;
    let order = record_id("orders", order)?;
    store.relate(&get, Relation::Read, &order)?;
    store.relate(&activity, Relation::Read, &order)?;
    Ok(())
}

fn invoice_order(store: &Store, order: u32, invoice: u32) -> Result<(), Error> {
    let activity = current_activity().expect("inside a job");
    let run = function_id("shop::workers::invoicer", "run")?;
    let get = function_id("shop::orders::order_repo", "get")?;
    let issue = function_id("shop::billing", "issue_invoice")?;
    for f in [&run, &get, &issue] {
        store.relate(f, Relation::During, &activity)?;
    }
    store.relate(&run, Relation::Called, &get)?;
    store.relate(&run, Relation::Called, &issue)?;
    let order = record_id("orders", order)?;
    let invoice = record_id("invoices", invoice)?;
    store.relate(&get, Relation::Read, &order)?;
    store.relate(&activity, Relation::Read, &order)?;
    store.relate(&issue, Relation::Produced, &table_id("invoices")?)?;
    store.relate(&table_id("invoices")?, Relation::Contains, &invoice)?;
    store.relate(&issue, Relation::Produced, &invoice)?;
    store.relate(&activity, Relation::Produced, &invoice)?;
    store.relate(&invoice, Relation::DerivedFrom, &order)?;
    Ok(())
}

fn print_answers(store: &Store) -> Result<(), Error> {
    println!("Which request and which function wrote rec:orders:1?");
    for n in store.neighbors("rec:orders:1") {
        if n.relation == Relation::Produced && n.direction == Direction::Incoming {
            println!("  {:<45} {}", n.id, describe(store, &n.id));
        }
    }

    println!("\nWhat else did that request touch?");
    let writer = store
        .neighbors("rec:orders:1")
        .into_iter()
        .find(|n| n.id.kind() == provenance::Kind::Req && n.relation == Relation::Produced)
        .map(|n| n.id);
    if let Some(req) = writer {
        for n in store.neighbors(req.as_str()) {
            let verb = match (n.relation, n.direction) {
                (Relation::During, Direction::Incoming) => "ran",
                (Relation::Produced, Direction::Outgoing) => "wrote",
                (Relation::Read, Direction::Outgoing) => "read",
                _ => n.relation.as_str(),
            };
            println!("  {verb:<6} {}", n.id);
        }
    }

    println!("\nWhich code reads tbl:orders?");
    for n in store.neighbors("tbl:orders") {
        if n.relation == Relation::Read && n.direction == Direction::Incoming {
            println!("  {:<45} {}", n.id, describe(store, &n.id));
        }
    }

    println!("\nrelated(\"rec:orders:1\"):");
    for id in store.related("rec:orders:1") {
        println!("  {id}");
    }

    println!("\nWhat came of order 1 (downstream, 2 hops):");
    if let Some(lineage) = store.downstream("rec:orders:1", 2) {
        for edge in &lineage.edges {
            println!("  {} --{}--> {}", edge.from, edge.relation, edge.to);
        }
    }

    println!("\nlookup(\"req:01J9ZQ4Y0K6T4W2XH3M5N7P8R1\"):");
    if let Some(a) = store.lookup("req:01J9ZQ4Y0K6T4W2XH3M5N7P8R1") {
        let seen = a
            .first_seen
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        println!(
            "  kind {}, first seen at unix time {}",
            a.kind,
            seen.as_secs()
        );
        for (key, value) in &a.metadata {
            println!("  {key}: {value}");
        }
    }

    println!("\nmodule_graph():");
    for (module, deps) in store.module_graph() {
        let layer = store
            .lookup(module.as_str())
            .and_then(|a| a.layer)
            .map_or("-", |l| l.as_str());
        let deps: Vec<&str> = deps.iter().map(ArtifactId::as_str).collect();
        println!(
            "  {:<32} {:<11} -> {}",
            module.as_str(),
            layer,
            if deps.is_empty() {
                "(none)".to_owned()
            } else {
                deps.join(", ")
            }
        );
    }

    let stats = store.stats();
    println!(
        "\nstore: {} artifacts ({} events), {} edges, {} evicted",
        stats.total_artifacts(),
        stats.events(),
        stats.edges,
        stats.total_evicted()
    );
    Ok(())
}

/// "fn in mod (layer)" for functions, the kind for the rest.
fn describe(store: &Store, id: &ArtifactId) -> String {
    match id.parts() {
        provenance::id::Parts::Function { module, .. } => {
            let module = module.join("::");
            let layer = store
                .lookup(&format!("mod:{module}"))
                .and_then(|a| a.layer)
                .map_or("?", |l| l.as_str());
            format!("fn in mod:{module} ({layer})")
        }
        _ => id.kind().to_string(),
    }
}

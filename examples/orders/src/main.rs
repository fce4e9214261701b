//! Run with: cargo run -p example-orders
//!
//! A guided tour of what Provenance records while an axum + sqlx service runs. It starts the
//! orders service on 127.0.0.1 (SQLite in memory, or PostgreSQL when `DATABASE_URL` points at
//! one), sends it a handful of real HTTP requests, waits for the invoicing jobs, and prints
//! what the lineage graph answers: who wrote an order, what else that request touched, which
//! code reads the `orders` table, which requests failed, and the module graph. It also writes
//! the lineage of one order as Mermaid and DOT (and SVG, when Graphviz is installed) under
//! `target/provenance/`.
//!
//! `cargo run -p example-orders -- --serve` keeps the service up instead, until Ctrl-C.

use std::collections::BTreeMap;
use std::error::Error;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use example_orders::{AppState, Db};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use provenance::export::Graph;
use provenance::query::LineageNode;
use provenance::{ArtifactId, Direction, Kind, Lineage, Relation, SpanLayer, Store};
use serde_json::{Value, json};
use tracing_subscriber::prelude::*;

type Result<T, E = Box<dyn Error + Send + Sync>> = std::result::Result<T, E>;

#[tokio::main]
async fn main() -> Result<()> {
    let serve = std::env::args().skip(1).any(|a| a == "--serve");
    let store = Store::new();
    // Every `#[tracing::instrument]`ed function of the service becomes a `fn:` artifact.
    tracing_subscriber::registry()
        .with(SpanLayer::new(store.clone()))
        .init();
    example_orders::register_modules(&store)?;

    let db = match std::env::var("DATABASE_URL") {
        Ok(url) => Db::connect(&url, store.clone()).await?,
        Err(_) => Db::sqlite_in_memory(store.clone()).await?,
    };
    db.migrate().await?;
    let backend = db.backend();
    let state = AppState::new(db);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = example_orders::app(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    if serve {
        return serve_until_interrupted(&store, addr, backend).await;
    }
    tour(&store, &state, addr, backend).await
}

async fn serve_until_interrupted(store: &Store, addr: SocketAddr, backend: &str) -> Result<()> {
    println!("The orders service is listening on http://{addr} ({backend}). Try:");
    println!();
    println!(
        "  curl -si -X POST http://{addr}/customers -H 'content-type: application/json' \\\n    \
         -d '{{\"name\": \"Ada Lovelace\", \"email\": \"ada@example.com\"}}'"
    );
    println!(
        "  curl -si -X POST http://{addr}/orders -H 'content-type: application/json' \\\n    \
         -d '{{\"customer_id\": 1, \"items\": [{{\"sku\": \"tea-sencha\", \"quantity\": 2}}]}}'"
    );
    println!("  curl -si http://{addr}/orders/1");
    println!("  curl -si http://{addr}/orders/1/invoice");
    println!();
    println!("Ctrl-C stops it and prints what was recorded.");
    tokio::signal::ctrl_c().await?;
    println!();
    print_stats(store);
    Ok(())
}

/// What one request of the tour sent and got back.
struct Exchange {
    label: &'static str,
    method: &'static str,
    path: String,
    status: u16,
    request_id: String,
    body: Value,
}

impl Exchange {
    fn req(&self) -> String {
        format!("req:{}", self.request_id)
    }
}

struct HttpClient {
    client: Client<HttpConnector, Full<Bytes>>,
    addr: SocketAddr,
}

impl HttpClient {
    async fn send(
        &self,
        label: &'static str,
        method: &'static str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Exchange> {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr));
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let response = self
            .client
            .request(request.body(Full::new(Bytes::from(body)))?)
            .await?;
        let status = response.status().as_u16();
        let request_id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok(Exchange {
            label,
            method,
            path: path.to_owned(),
            status,
            request_id,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        })
    }
}

async fn tour(store: &Store, state: &AppState, addr: SocketAddr, backend: &str) -> Result<()> {
    println!("Provenance tour: an orders service (axum + sqlx on {backend}) at http://{addr}");

    let http = HttpClient {
        client: Client::builder(TokioExecutor::new()).build_http(),
        addr,
    };
    let mut sent = Vec::new();
    // A fresh email per run, so that a rerun against the same PostgreSQL is not a conflict.
    let email = format!("ada.{}@example.com", std::process::id());
    let customer = http
        .send(
            "register a customer",
            "POST",
            "/customers",
            Some(json!({ "name": "Ada Lovelace", "email": email })),
        )
        .await?;
    let customer_id = customer.body["id"].as_i64().ok_or("no customer ID")?;
    sent.push(customer);
    let first = http
        .send(
            "order tea and a mug",
            "POST",
            "/orders",
            Some(json!({ "customer_id": customer_id, "items": [
                { "sku": "tea-earl-grey", "quantity": 2 },
                { "sku": "mug-stoneware", "quantity": 1 },
            ]})),
        )
        .await?;
    let order_id = first.body["id"].as_i64().ok_or("no order ID")?;
    sent.push(first);
    sent.push(
        http.send(
            "order more tea",
            "POST",
            "/orders",
            Some(json!({ "customer_id": customer_id, "items": [
                { "sku": "tea-sencha", "quantity": 3 },
            ]})),
        )
        .await?,
    );
    sent.push(
        http.send(
            "order an unknown product",
            "POST",
            "/orders",
            Some(json!({ "customer_id": customer_id, "items": [
                { "sku": "tea-sencha", "quantity": 1 },
                { "sku": "coffee-espresso", "quantity": 1 },
            ]})),
        )
        .await?,
    );
    // The invoicing jobs run in the background; let them finish before asking.
    state.jobs.wait_idle().await;
    sent.push(
        http.send(
            "read the order back",
            "GET",
            &format!("/orders/{order_id}"),
            None,
        )
        .await?,
    );
    sent.push(
        http.send(
            "fetch its invoice",
            "GET",
            &format!("/orders/{order_id}/invoice"),
            None,
        )
        .await?,
    );

    heading("Requests sent");
    for x in &sent {
        println!(
            "  {:<26} {:<5} {:<22} {}  {}",
            x.label,
            x.method,
            x.path,
            x.status,
            x.req()
        );
    }

    let order = provenance::record_id("orders", order_id)?;
    let placed_by = &sent[1];
    who_wrote(store, &order);
    what_else(store, &placed_by.req(), &order);
    who_reads(store, "tbl:orders");
    failures(store);
    the_job(store, &format!("job:invoicing:order-{order_id}"));
    modules(store);
    export(store, &order)?;
    print_stats(store);
    Ok(())
}

fn heading(title: &str) {
    println!();
    println!("{title}");
    println!("{}", "─".repeat(title.chars().count()));
}

/// The neighbours of `id` along `relation` in `direction`, sorted, each once.
fn along(store: &Store, id: &str, relation: Relation, direction: Direction) -> Vec<ArtifactId> {
    let mut out: Vec<ArtifactId> = store
        .neighbors(id)
        .into_iter()
        .filter(|n| n.relation == relation && n.direction == direction)
        .map(|n| n.id)
        .collect();
    out.dedup();
    out
}

/// How an artifact reads in a list: its ID, and what the store knows about it.
fn describe(store: &Store, id: &ArtifactId) -> String {
    let Some(artifact) = store.lookup(id.as_str()) else {
        return id.to_string();
    };
    let m = &artifact.metadata;
    match id.kind() {
        Kind::Req => format!(
            "{id}  {} {} → {}",
            m.get("method").map_or("?", String::as_str),
            m.get("route").map_or("?", String::as_str),
            m.get("status").map_or("?", String::as_str),
        ),
        Kind::Fn | Kind::Mod => match artifact.layer {
            Some(layer) => format!("{id}  ({layer})"),
            None => id.to_string(),
        },
        _ => id.to_string(),
    }
}

/// Prints `label` and the items as a tree branch; the last branch gets `└─`.
fn branch(label: &str, items: &[String], last: bool) {
    if items.is_empty() {
        return;
    }
    let (head, rest) = if last {
        ("└─", "  ")
    } else {
        ("├─", "│ ")
    };
    for (i, item) in items.iter().enumerate() {
        if i == 0 {
            println!("  {head} {label:<13} {item}");
        } else {
            println!("  {rest} {:<13} {item}", "");
        }
    }
}

fn tree(root: &str, branches: Vec<(&str, Vec<String>)>) {
    println!("  {root}");
    let branches: Vec<_> = branches
        .into_iter()
        .filter(|(_, b)| !b.is_empty())
        .collect();
    let n = branches.len();
    for (i, (label, items)) in branches.iter().enumerate() {
        branch(label, items, i + 1 == n);
    }
}

/// The chain of callers above a function, innermost first: `a ← b ← c`.
fn callers(store: &Store, function: &ArtifactId) -> Vec<ArtifactId> {
    let mut chain = Vec::new();
    let mut at = function.clone();
    while let Some(caller) = along(store, at.as_str(), Relation::Called, Direction::Incoming)
        .into_iter()
        .find(|c| c.kind() == Kind::Fn && !chain.contains(c))
    {
        chain.push(caller.clone());
        at = caller;
    }
    chain
}

fn who_wrote(store: &Store, order: &ArtifactId) {
    heading(&format!(
        "1. Which request and which function wrote {order}?"
    ));
    let producers = along(
        store,
        order.as_str(),
        Relation::Produced,
        Direction::Incoming,
    );
    let mut written = Vec::new();
    for p in &producers {
        written.push(describe(store, p));
        if p.kind() == Kind::Fn {
            for caller in callers(store, p) {
                written.push(format!("  ↖ called by {}", describe(store, &caller)));
            }
        }
    }
    let readers = along(store, order.as_str(), Relation::Read, Direction::Incoming)
        .iter()
        .map(|r| describe(store, r))
        .collect();
    let ids = |relation, direction| {
        along(store, order.as_str(), relation, direction)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    tree(
        order.as_str(),
        vec![
            ("written by", written),
            ("read by", readers),
            ("in table", ids(Relation::Contains, Direction::Incoming)),
            (
                "derived from",
                ids(Relation::DerivedFrom, Direction::Outgoing),
            ),
            ("source of", ids(Relation::DerivedFrom, Direction::Incoming)),
        ],
    );
}

/// What a request or job did: the functions that ran during it, what they read and wrote,
/// what it started.
fn activity_tree(store: &Store, id: &str, highlight: Option<&ArtifactId>, failed: Option<String>) {
    let ran = along(store, id, Relation::During, Direction::Incoming)
        .iter()
        .map(|f| describe(store, f))
        .collect();
    let mark = |ids: Vec<ArtifactId>| -> Vec<String> {
        let (tables, records): (Vec<_>, Vec<_>) = ids
            .into_iter()
            .filter(|i| i.kind() != Kind::Col)
            .partition(|i| i.kind() == Kind::Tbl);
        let mut out: Vec<String> = Vec::new();
        if !tables.is_empty() {
            out.push(join(&tables));
        }
        if !records.is_empty() {
            let records: Vec<String> = records
                .iter()
                .map(|r| {
                    if Some(r) == highlight {
                        format!("{r} ◀")
                    } else {
                        r.to_string()
                    }
                })
                .collect();
            out.push(records.join(", "));
        }
        out
    };
    let read = mark(along(store, id, Relation::Read, Direction::Outgoing));
    let wrote = mark(along(store, id, Relation::Produced, Direction::Outgoing));
    let started = along(store, id, Relation::Called, Direction::Outgoing)
        .iter()
        .map(|j| describe(store, j))
        .collect();
    let started_by = along(store, id, Relation::Called, Direction::Incoming)
        .iter()
        .map(|j| describe(store, j))
        .collect();
    let wrote = if wrote.is_empty() {
        vec!["nothing".to_owned()]
    } else {
        wrote
    };
    tree(
        &describe(store, &id.parse().expect("a valid ID")),
        vec![
            ("failed with", failed.into_iter().collect()),
            ("started by", started_by),
            ("ran", ran),
            ("read", read),
            ("wrote", wrote),
            ("started", started),
        ],
    );
}

fn join(ids: &[ArtifactId]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn what_else(store: &Store, req: &str, order: &ArtifactId) {
    heading("2. What else did that request touch?");
    activity_tree(store, req, Some(order), None);
}

fn who_reads(store: &Store, table: &str) {
    heading(&format!(
        "3. Which code reads {table}, and which writes it?"
    ));
    let code = |relation| -> Vec<String> {
        along(store, table, relation, Direction::Incoming)
            .iter()
            .filter(|id| matches!(id.kind(), Kind::Fn | Kind::Mig))
            .map(|id| describe(store, id))
            .collect()
    };
    tree(
        table,
        vec![
            ("read by", code(Relation::Read)),
            ("written by", code(Relation::Produced)),
        ],
    );
}

fn failures(store: &Store) {
    heading("4. Which requests failed, and what did they touch?");
    let failed = store.counted("errors");
    for (id, errors) in failed.iter().filter(|(id, _)| id.kind() == Kind::Req) {
        let last = store
            .lookup(id.as_str())
            .and_then(|a| a.metadata.get("last_error").cloned())
            .unwrap_or_default();
        let failed = format!(
            "{last}  ({errors} error{})",
            if *errors == 1 { "" } else { "s" }
        );
        activity_tree(store, id.as_str(), None, Some(failed));
    }
    let functions: Vec<String> = failed
        .iter()
        .filter(|(id, _)| id.kind() == Kind::Fn)
        .map(|(id, n)| format!("{id} ({n})"))
        .collect();
    if !functions.is_empty() {
        println!();
        println!("  Functions with errors: {}", functions.join(", "));
    }
    let rolled_back: Vec<String> = store
        .counted("rollbacks")
        .into_iter()
        .map(|(id, n)| format!("{id} ({n})"))
        .collect();
    if !rolled_back.is_empty() {
        println!(
            "  Rolled back (their writes are not in the graph): {}",
            rolled_back.join(", ")
        );
    }
}

fn the_job(store: &Store, job: &str) {
    heading(&format!("5. What did the invoicing job do? ({job})"));
    activity_tree(store, job, None, None);
    if let Some(invoice) = along(store, job, Relation::Produced, Direction::Outgoing)
        .into_iter()
        .find(|id| id.kind() == Kind::Rec && id.body().starts_with("invoices:"))
    {
        let sources = along(
            store,
            invoice.as_str(),
            Relation::DerivedFrom,
            Direction::Outgoing,
        );
        println!("  {invoice} is derived from {}", join(&sources));
    }
}

fn modules(store: &Store) {
    heading("6. The module graph, with layers");
    let graph = store.module_graph();
    let short = |id: &ArtifactId| id.body().to_owned();
    let width = graph.keys().map(|m| m.body().len()).max().unwrap_or(0);
    println!("  {:<width$}  {:<10}  depends on", "module", "layer");
    for (module, deps) in &graph {
        let layer = store
            .lookup(module.as_str())
            .and_then(|a| a.layer)
            .map_or_else(|| "-".to_owned(), |l| l.to_string());
        let deps: Vec<String> = deps
            .iter()
            .map(|d| short(d).trim_start_matches("example_orders::").to_owned())
            .collect();
        println!(
            "  {:<width$}  {layer:<10}  {}",
            short(module),
            deps.join(", ")
        );
    }
}

/// Where the tour writes its files: `target/provenance` beside the running binary's
/// `target/debug`, else under the current directory.
fn output_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("provenance")))
        .unwrap_or_else(|| PathBuf::from("target/provenance"))
}

/// Where `id` came from (`up` hops) and what came of it (`down` hops), as one lineage.
fn around(store: &Store, id: &str, up: usize, down: usize) -> Option<Lineage> {
    let mut lineage = store.upstream(id, up)?;
    if let Some(down) = store.downstream(id, down) {
        let mut depth_of: BTreeMap<ArtifactId, usize> = lineage
            .nodes
            .iter()
            .map(|n| (n.id.clone(), n.depth))
            .collect();
        for n in down.nodes {
            depth_of.entry(n.id).or_insert(n.depth);
        }
        lineage.nodes = depth_of
            .into_iter()
            .map(|(id, depth)| LineageNode { depth, id })
            .collect();
        lineage.nodes.sort();
        lineage.edges.extend(down.edges);
        lineage.edges.sort();
        lineage.edges.dedup();
    }
    Some(lineage)
}

fn export(store: &Store, order: &ArtifactId) -> Result<()> {
    heading(&format!("7. The lineage of {order}, as files"));
    let lineage = around(store, order.as_str(), 2, 1).ok_or("the order is not in the store")?;
    let graph = Graph::from_lineage(&lineage, store);
    let dir = output_dir();
    std::fs::create_dir_all(&dir)?;
    let stem = format!("order-{}", order.body().rsplit(':').next().unwrap_or("x"));
    let mmd = dir.join(format!("{stem}.mmd"));
    let dot = dir.join(format!("{stem}.dot"));
    std::fs::write(&mmd, graph.to_mermaid())?;
    std::fs::write(&dot, graph.to_dot())?;
    println!(
        "  {} nodes, {} edges",
        graph.nodes().len(),
        graph.edges().len()
    );
    println!("  Mermaid   {}", mmd.display());
    println!("  DOT       {}", dot.display());
    let svg = dir.join(format!("{stem}.svg"));
    match render_svg(&dot, &svg) {
        Ok(()) => println!("  SVG       {}", svg.display()),
        Err(why) => println!("  SVG       not written: {why}"),
    }
    Ok(())
}

/// Renders `dot` to `svg` with Graphviz, if it is installed.
fn render_svg(dot: &Path, svg: &Path) -> std::result::Result<(), String> {
    let status = std::process::Command::new("dot")
        .arg("-Tsvg")
        .arg(dot)
        .arg("-o")
        .arg(svg)
        .status()
        .map_err(|e| format!("Graphviz `dot` is not available ({e})"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`dot` failed ({status})"))
    }
}

fn print_stats(store: &Store) {
    let stats = store.stats();
    heading("What the store holds");
    let kinds: Vec<String> = stats
        .artifacts
        .iter()
        .map(|(kind, n)| format!("{n} {kind}"))
        .collect();
    println!(
        "  {} artifacts ({}), {} edges",
        stats.total_artifacts(),
        kinds.join(", "),
        stats.edges
    );
    println!(
        "  {} of {} event slots used, {} evicted, {} queries not analysed",
        stats.events(),
        stats.event_capacity,
        stats.total_evicted(),
        stats.unanalysed_queries
    );
}

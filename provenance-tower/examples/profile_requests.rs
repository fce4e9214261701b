//! Run with: cargo run --release -p provenance-tower --example profile_requests -- [bare|identity|layer] [n]
//!
//! Sends `n` requests through an in-process axum hello world, with or without
//! `ProvenanceLayer`, for an instruction count under `valgrind --tool=callgrind`: run both
//! modes and divide the difference of their totals by `n` for the instructions the layer adds
//! to one request (repeatable, unlike time on a noisy machine).

use axum::{Router, body::Body, routing::get};
use http::Request;
use provenance::{Config, Store};
use provenance_tower::ProvenanceLayer;
use tower::ServiceExt;

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "layer".to_owned());
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(20_000);
    // Small enough that the run reaches capacity and every request also evicts one.
    let store = Store::with_config(Config::new().event_capacity(n / 2));
    let mut app = Router::new().route("/", get(|| async { "hello" }));
    match mode.as_str() {
        "layer" => app = app.layer(ProvenanceLayer::new(store.clone())),
        // What any layer costs through `Router::layer` (axum boxes per request): the floor.
        "identity" => app = app.layer(tower::layer::util::Identity::new()),
        _ => {}
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        for _ in 0..n {
            let req = Request::get("/").body(Body::empty()).unwrap();
            let res = app.clone().oneshot(req).await.unwrap();
            std::hint::black_box(res);
        }
    });
    eprintln!("{mode}: {} requests, {:?}", n, store.stats());
}

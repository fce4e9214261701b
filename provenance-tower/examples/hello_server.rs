//! Run with: cargo run --release -p provenance-tower --example hello_server -- [bare|identity|mapped|header|layer|pair] [port] [capacity]
//!
//! A hello-world axum server on 127.0.0.1, with or without `ProvenanceLayer`, as the target of
//! a load generator (`wrk -t1 -c16 -d10s http://127.0.0.1:PORT/`) to compare throughput.

use axum::{Router, routing::get};
use provenance::Store;
use provenance_tower::ProvenanceLayer;

fn main() {
    // `WORKERS=1` serves on one thread: with two, both share the store (and its counters).
    let workers = std::env::var("WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(2);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap()
        .block_on(serve());
}

async fn serve() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "layer".to_owned());
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(3000);
    // An optional third argument: the store's event capacity (default 100 000).
    let store = match args.next().and_then(|c| c.parse().ok()) {
        Some(capacity) => Store::with_config(provenance::Config::new().event_capacity(capacity)),
        None => Store::new(),
    };
    let mut app = Router::new().route("/", get(|| async { "hello" }));
    match mode.as_str() {
        "layer" => app = app.layer(ProvenanceLayer::new(store.clone())),
        // What any layer costs through `Router::layer` (axum boxes per request).
        "identity" => app = app.layer(tower::layer::util::Identity::new()),
        // The same layer without the header (what `map_response` costs by itself).
        "mapped" => {
            app = app.layer(axum::middleware::map_response(
                |res: axum::response::Response| async { res },
            ))
        }
        // Only what the echo costs: a fixed 36-byte x-request-id on every response.
        "header" => {
            app = app.layer(axum::middleware::map_response(
                |mut res: axum::response::Response| async {
                    res.headers_mut().insert(
                        "x-request-id",
                        http::HeaderValue::from_static("0190f1a2-b3c4-7d5e-8f90-a1b2c3d4e5f6"),
                    );
                    res
                },
            ))
        }
        // tower-http's request-id pair, for comparison.
        "pair" => {
            use tower_http::request_id::{
                MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer,
            };
            app = app
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid));
        }
        "bare" => {}
        other => panic!("unknown mode {other:?}: bare, identity, mapped, header, layer or pair"),
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    println!("{mode} server on http://{}", listener.local_addr().unwrap());
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .unwrap();
    eprintln!("{mode}: {:?}", store.stats());
}

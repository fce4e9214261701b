//! Run with: cargo run --release -p provenance-tower --example hello_server -- [bare|layer] [port]
//!
//! A hello-world axum server on 127.0.0.1, with or without `ProvenanceLayer`, as the target of
//! a load generator (`wrk -t1 -c16 -d10s http://127.0.0.1:PORT/`) to compare throughput.

use axum::{Router, routing::get};
use provenance::Store;
use provenance_tower::ProvenanceLayer;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "layer".to_owned());
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let store = Store::new();
    let mut app = Router::new().route("/", get(|| async { "hello" }));
    if mode == "layer" {
        app = app.layer(ProvenanceLayer::new(store.clone()));
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

//! What `ProvenanceLayer` adds to an in-process axum hello world, beside the bare Router and
//! beside tower-http's request-id pair (`SetRequestIdLayer` with `MakeRequestUuid`, then
//! `PropagateRequestIdLayer`), in one group. Two floors run beside them: a layer that does
//! nothing (what `Router::layer` itself costs) and one that only sets a fixed `x-request-id`
//! on the response (the least an echo of the ID can cost).
//!
//! Budget: Router + ProvenanceLayer ≤ 1.6 × the bare Router, and ≤ 0.6 × the tower-http pair.
//! Run with `cargo bench -p provenance-tower --bench layer`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use axum::{Router, body::Body, routing::get};
use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use provenance::Store;
use provenance_tower::ProvenanceLayer;
use tower::ServiceExt;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

fn hello() -> Router {
    Router::new().route("/", get(|| async { "hello" }))
}

fn bench_routers(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("hello_world");
    let store = Store::new();
    let routers = [
        ("bare_router", hello()),
        (
            "provenance_layer",
            hello().layer(ProvenanceLayer::new(store.clone())),
        ),
        (
            "identity_layer",
            hello().layer(tower::layer::util::Identity::new()),
        ),
        (
            "fixed_header_echo",
            hello().layer(tower::util::MapResponseLayer::new(
                |mut res: axum::response::Response| {
                    res.headers_mut().insert(
                        "x-request-id",
                        http::HeaderValue::from_static("0190f1a2-b3c4-7d5e-8f90-a1b2c3d4e5f6"),
                    );
                    res
                },
            )),
        ),
        (
            "tower_http_request_id_pair",
            hello()
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid)),
        ),
    ];
    // Requests sent through the layered router.
    let layered = std::cell::Cell::new(0u64);
    for (name, router) in routers {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                if name == "provenance_layer" {
                    layered.set(layered.get() + iters);
                }
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let req = Request::get("/").body(Body::empty()).unwrap();
                        let res = router.clone().oneshot(req).await.unwrap();
                        black_box(res);
                    }
                    start.elapsed()
                })
            })
        });
    }
    g.finish();
    // The layered router really recorded its requests (within the store's capacity), if it
    // ran (a filter on the command line can leave it out).
    let ran = layered.get();
    assert!(
        ran == 0 || store.stats().events() >= ran.min(1000),
        "{ran} requests, {:?}",
        store.stats()
    );
}

/// What the parts every request must pay cost by themselves: a clock read (latency needs two)
/// and a fresh ID (`generate` reads the system clock for its time too).
fn bench_parts(c: &mut Criterion) {
    let mut g = c.benchmark_group("parts");
    g.bench_function("instant_now", |b| b.iter(Instant::now));
    g.bench_function("system_time_now", |b| b.iter(std::time::SystemTime::now));
    g.bench_function("request_id_generate", |b| {
        b.iter(provenance_tower::RequestId::generate)
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_routers, bench_parts
}
criterion_main!(benches);

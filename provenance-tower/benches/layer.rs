//! What `ProvenanceLayer` adds to an in-process axum hello world, beside the bare Router and
//! beside tower-http's request-id pair (`SetRequestIdLayer` with `MakeRequestUuid`, then
//! `PropagateRequestIdLayer`), in one group.
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
            "tower_http_request_id_pair",
            hello()
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid)),
        ),
    ];
    for (name, router) in routers {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
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
    // The layered router really recorded its requests (within the store's capacity).
    assert!(store.stats().events() > 1000, "{:?}", store.stats());
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_routers
}
criterion_main!(benches);

//! The layer never changes what the service does: statuses, bodies, headers, errors, streams
//! and panics pass through as without it, and a full store fails nothing.

use std::convert::Infallible;

use axum::{Router, body::Body, routing::get};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use provenance::{Config, Store};
use provenance_tower::ProvenanceLayer;
use tower::{Layer, ServiceExt, service_fn};

fn routes() -> Router {
    Router::new()
        .route(
            "/teapot",
            get(|| async {
                (
                    StatusCode::IM_A_TEAPOT,
                    [("x-custom", "kept")],
                    "short and stout",
                )
            }),
        )
        .route(
            "/boom",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "database down") }),
        )
        .route("/panic", get(panicking))
        .route(
            "/stream",
            get(|| async {
                let chunks = (0..5).map(|i| Ok::<_, Infallible>(Bytes::from(format!("chunk{i};"))));
                Body::from_stream(futures_stream(chunks))
            }),
        )
}

/// A stream that yields its items one poll at a time, so the body really streams.
fn futures_stream<I: Iterator + Unpin>(iter: I) -> IterStream<I> {
    IterStream(iter)
}

struct IterStream<I>(I);

impl<I: Iterator + Unpin> futures_core::Stream for IterStream<I> {
    type Item = I::Item;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<I::Item>> {
        std::task::Poll::Ready(self.get_mut().0.next())
    }
}

async fn panicking() -> &'static str {
    panic!("handler bug")
}

async fn parts(app: Router, path: &str) -> (StatusCode, http::HeaderMap, Bytes) {
    let res = app
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = res.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

#[tokio::test]
async fn statuses_bodies_headers_and_streams_are_unchanged() {
    let store = Store::new();
    for path in ["/teapot", "/boom", "/stream", "/missing"] {
        let bare = parts(routes(), path).await;
        let layered = parts(routes().layer(ProvenanceLayer::new(store.clone())), path).await;
        assert_eq!(bare.0, layered.0, "{path}");
        assert_eq!(bare.2, layered.2, "{path}");
        let mut extra = layered.1.clone();
        assert!(extra.remove("x-request-id").is_some());
        assert_eq!(bare.1, extra, "{path}: only x-request-id was added");
    }
    let failed: Vec<_> = store
        .counted("errors")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(failed.len(), 1, "only the 500 counts as failed: {failed:?}");
    assert_eq!(
        store.lookup(failed[0].as_str()).unwrap().metadata["last_error"],
        "status 500"
    );
}

#[tokio::test]
async fn a_panic_still_reaches_catch_panic_and_is_recorded() {
    let store = Store::new();
    let app = routes()
        .layer(ProvenanceLayer::new(store.clone()))
        .layer(tower_http::catch_panic::CatchPanicLayer::new());
    let bare = routes().layer(tower_http::catch_panic::CatchPanicLayer::new());
    let (status, _, body) = parts(app, "/panic").await;
    let (bare_status, _, bare_body) = parts(bare, "/panic").await;
    assert_eq!((status, body), (bare_status, bare_body));
    let failed = store.counted("errors");
    assert_eq!(failed.len(), 1);
    let req = store.lookup(failed[0].0.as_str()).unwrap();
    assert_eq!(req.metadata["last_error"], "the handler panicked");
    assert_eq!(req.metadata["failed"], "true");
}

#[tokio::test]
async fn a_panic_without_catch_panic_propagates_unchanged() {
    let store = Store::new();
    let svc = ProvenanceLayer::new(store.clone()).layer(service_fn(|_: Request<Body>| async {
        if true {
            panic!("exact message");
        }
        Ok::<Response<Body>, Infallible>(Response::new(Body::empty()))
    }));
    let joined = tokio::spawn(svc.oneshot(Request::new(Body::empty()))).await;
    let panic = joined.unwrap_err().into_panic();
    assert_eq!(*panic.downcast::<&str>().unwrap(), "exact message");
    assert_eq!(store.counted("errors").len(), 1);
}

#[tokio::test]
async fn inner_errors_pass_through_untouched() {
    #[derive(Debug, PartialEq)]
    struct MyError(u32);
    let store = Store::new();
    let svc = ProvenanceLayer::new(store.clone()).layer(service_fn(|_: Request<Body>| async {
        Err::<Response<Body>, _>(MyError(7))
    }));
    let err = svc.oneshot(Request::new(Body::empty())).await.unwrap_err();
    assert_eq!(err, MyError(7));
    let failed = store.counted("errors");
    assert_eq!(
        store.lookup(failed[0].0.as_str()).unwrap().metadata["last_error"],
        "the inner service returned an error"
    );
}

#[tokio::test]
async fn a_full_store_evicts_and_fails_nothing() {
    let store = Store::with_config(Config::new().event_capacity(10));
    let app = routes().layer(ProvenanceLayer::new(store.clone()));
    for _ in 0..200 {
        let (status, _, _) = parts(app.clone(), "/teapot").await;
        assert_eq!(status, StatusCode::IM_A_TEAPOT);
    }
    let stats = store.stats();
    assert_eq!(stats.events(), 10);
    assert_eq!(stats.total_evicted(), 190);
}

#[tokio::test]
async fn a_dropped_request_is_recorded_as_cancelled() {
    let store = Store::new();
    let svc = ProvenanceLayer::new(store.clone()).layer(service_fn(|_: Request<Body>| async {
        std::future::pending::<()>().await;
        Ok::<Response<Body>, Infallible>(Response::new(Body::empty()))
    }));
    let fut = svc.oneshot(Request::new(Body::empty()));
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(10), fut)
            .await
            .is_err()
    );
    let req = store.counted("errors");
    assert!(req.is_empty(), "a client going away is not a failure");
    assert_eq!(
        store.stats().artifacts.get(&provenance::Kind::Req),
        Some(&1)
    );
}

//! Two services over real TCP on 127.0.0.1: A calls B through a client with
//! PropagateProvenanceLayer, and B records that A's request called its own.

use std::net::SocketAddr;

use axum::{Router, extract::State, routing::get};
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use provenance::{Direction, Relation, Store};
use provenance_tower::{PropagateProvenanceLayer, ProvenanceLayer, RequestId};
use tower::{Layer, ServiceExt};

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Empty<bytes::Bytes>>;

async fn get_text(client: &HttpClient, uri: String, caller_aware: bool) -> (String, String) {
    let req = Request::get(uri).body(Empty::new()).unwrap();
    let res = if caller_aware {
        PropagateProvenanceLayer::new()
            .layer(client.clone())
            .oneshot(req)
            .await
            .unwrap()
    } else {
        client.clone().oneshot(req).await.unwrap()
    };
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (id, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_a_calling_service_b_links_their_requests() {
    let store_b = Store::new();
    let b = serve(
        Router::new()
            .route("/stock", get(|id: RequestId| async move { id.to_string() }))
            .layer(ProvenanceLayer::new(store_b.clone())),
    )
    .await;

    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let store_a = Store::new();
    let a = serve(
        Router::new()
            .route(
                "/orders",
                get(
                    |State((client, b)): State<(HttpClient, SocketAddr)>| async move {
                        // Inside A's request: the client layer reads A's ID from the context.
                        let (b_id, _) = get_text(&client, format!("http://{b}/stock"), true).await;
                        b_id
                    },
                ),
            )
            .with_state((client.clone(), b))
            .layer(ProvenanceLayer::new(store_a.clone())),
    )
    .await;

    let (a_id, b_id) = get_text(&client, format!("http://{a}/orders"), false).await;
    assert_ne!(a_id, b_id, "each service has its own request");
    assert!(store_a.lookup(&format!("req:{a_id}")).is_some());
    let callers: Vec<_> = store_b
        .neighbors(&format!("req:{b_id}"))
        .into_iter()
        .filter(|n| n.relation == Relation::Called && n.direction == Direction::Incoming)
        .map(|n| n.id.to_string())
        .collect();
    assert_eq!(callers, [format!("req:{a_id}")]);

    // A plain client (no layer, no context) causes no such edge.
    let (_, plain) = get_text(&client, format!("http://{b}/stock"), false).await;
    assert!(store_b.neighbors(&format!("req:{plain}")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_spans_are_during_their_request_over_tcp() {
    use tracing_subscriber::prelude::*;

    #[tracing::instrument]
    async fn create_order() -> &'static str {
        save().await
    }

    #[tracing::instrument]
    async fn save() -> &'static str {
        "saved"
    }

    let store = Store::new();
    // As a service registers it at startup: axum spawns a task per connection, and only the
    // global default subscriber reaches those. No other test in this binary uses spans.
    tracing_subscriber::registry()
        .with(provenance::SpanLayer::new(store.clone()))
        .init();
    let app = Router::new()
        .route("/orders", get(create_order))
        .layer(ProvenanceLayer::new(store.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            get_text(&client, format!("http://{addr}/orders"), false)
                .await
                .0,
        );
    }
    let create = provenance::function_id(module_path!(), "create_order").unwrap();
    let save = provenance::function_id(module_path!(), "save").unwrap();
    for id in &ids {
        let related = store.related(&format!("req:{id}"));
        assert_eq!(related, [create.clone(), save.clone()], "req:{id}");
    }
}

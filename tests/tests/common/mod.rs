//! Shared by the end-to-end tests: the example service on a loopback port, an HTTP client,
//! the databases, and skipping loudly when PostgreSQL is missing (or failing, under
//! `PROVENANCE_REQUIRE_DATABASES=1`, as CI sets it).
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;

use bytes::Bytes;
use example_orders::{AppState, Db};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

#[path = "../../../provenance-sqlx/tests/common/shared.rs"]
mod shared;

pub use shared::*;

/// A fresh schema on the PostgreSQL server, dropped by [`PgSchema::drop_now`].
pub struct PgSchema {
    admin: sqlx::PgPool,
    pub name: String,
}

impl PgSchema {
    /// Creates a fresh schema and a pool whose connections use it (`search_path`), so that
    /// the example's unqualified tables are this run's own. `None` (after saying so) when the
    /// server is unreachable.
    pub async fn create(test: &str) -> Option<(PgSchema, sqlx::PgPool)> {
        use std::str::FromStr;
        let options = match sqlx::postgres::PgConnectOptions::from_str(&postgres_url()) {
            Ok(o) => o,
            Err(e) => {
                unreachable("PostgreSQL", test, &e);
                return None;
            }
        };
        let admin = match sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            // A server that is not there refuses at once; do not retry for sqlx's 30 s.
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect_with(options.clone())
            .await
        {
            Ok(pool) => pool,
            Err(e) => {
                unreachable("PostgreSQL", test, &e);
                return None;
            }
        };
        let name = unique("orders");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&admin)
            .await
            .expect("CREATE SCHEMA");
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect_with(options.options([("search_path", name.as_str())]))
            .await
            .expect("a pool on the fresh schema");
        Some((PgSchema { admin, name }, pool))
    }

    /// Drops the schema and everything in it.
    pub async fn drop_now(self) {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA {} CASCADE",
            self.name
        )))
        .execute(&self.admin)
        .await
        .expect("DROP SCHEMA");
    }
}

/// The example service on 127.0.0.1 with an OS-chosen port, its database migrated.
pub async fn serve(db: Db) -> (SocketAddr, AppState) {
    db.migrate().await.expect("migrations");
    let state = AppState::new(db);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = example_orders::app(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, state)
}

/// A response: its status, request ID (from `x-request-id`) and JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub request_id: String,
    pub body: Value,
}

impl Answer {
    /// The `req:` artifact of the request.
    pub fn req(&self) -> String {
        format!("req:{}", self.request_id)
    }
}

/// An HTTP/1 client for the service.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpConnector, Full<Bytes>>,
    addr: SocketAddr,
}

impl HttpClient {
    pub fn new(addr: SocketAddr) -> Self {
        HttpClient {
            client: Client::builder(TokioExecutor::new()).build_http(),
            addr,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send("POST", path, Some(body)).await
    }

    async fn send(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr));
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let response = self
            .client
            .request(request.body(Full::new(Bytes::from(body))).unwrap())
            .await
            .expect("the service answers");
        let status = response.status().as_u16();
        let request_id = response
            .headers()
            .get("x-request-id")
            .expect("every answer carries x-request-id")
            .to_str()
            .unwrap()
            .to_owned();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            request_id,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }
}

/// `fn:example_orders::<module>::<name>`.
pub fn f(module: &str, name: &str) -> String {
    provenance::function_id(&format!("example_orders::{module}"), name)
        .unwrap()
        .to_string()
}

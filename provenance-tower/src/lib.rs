//! `ProvenanceLayer`: every request through a tower service becomes a `req:` artifact, and
//! everything recorded while serving it knows which request it belongs to.
//!
//! ```
//! use axum::{routing::get, Router};
//! use provenance::Store;
//! use provenance_tower::{ProvenanceLayer, RequestId};
//! use tower::ServiceExt;
//!
//! async fn hello(id: RequestId) -> String {
//!     // The task-local context knows the request too, for spans and queries.
//!     let ctx = provenance::get_context();
//!     assert_eq!(ctx.get("request_id"), Some(id.artifact_id().as_str()));
//!     format!("hello from {id}")
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let store = Store::new();
//! let app = Router::new()
//!     .route("/orders/{id}", get(hello))
//!     .layer(ProvenanceLayer::new(store.clone()));
//!
//! let request = http::Request::get("/orders/42?x=1").body(axum::body::Body::empty()).unwrap();
//! let response = app.oneshot(request).await.unwrap();
//! let id = response.headers()["x-request-id"].to_str().unwrap();
//!
//! let req = store.lookup(&format!("req:{id}")).unwrap();
//! assert_eq!(req.metadata["route"], "/orders/{id}");
//! assert_eq!(req.metadata["status"], "200");
//! # }
//! ```
//!
//! # Per request
//!
//! - **ID.** A valid incoming `x-request-id` (header name configurable; see
//!   [`RequestId::parse`] for what is valid) is kept. If tower-http's `SetRequestIdLayer` put a
//!   `RequestId` in the extensions (feature `tower-http`), that one is used. Otherwise a fresh
//!   UUID v7 is made. An invalid incoming ID is replaced in the request's headers, counted
//!   ([`ProvenanceLayer::rejected_ids`]) and never echoed or stored. A request that came
//!   without one gets the fresh one in its headers, so that layers inside (tower-http's
//!   request-id pair, a trace layer) see the ID the store records.
//! - **Echo and extension.** The ID goes on the response header unless the service already set
//!   it, and into the request extensions as a [`RequestId`] unless one is there.
//! - **Context.** The inner service's future runs inside a [`provenance::context`] scope with
//!   `request_id` (`req:…`), `method`, `route` and, from a W3C `traceparent` header, `trace_id`.
//! - **Artifact.** When the response head is ready, [`Store::record_request`] records the
//!   `req:` artifact (a compact log entry if nothing linked to the request; for an ID made
//!   here, [`Store::record_generated_request`], which skips looking for an earlier record of
//!   it) with `method`, `route`
//!   (axum's `MatchedPath`, else the path without query), `status`, `latency_us` (to the
//!   response head), `started_at_ms` and `failed`. A 5xx, an error from the inner service or a
//!   panic unwinding through the layer counts as failed (`errors` counter, `last_error`); the
//!   error or panic itself passes through untouched.
//! - **Across services.** [`PropagateProvenanceLayer`] on an HTTP client adds the current
//!   request's ID as `x-provenance-caller`; the called service records that the caller's `req:`
//!   `called` its own.
//!
//! Recording never fails a request: store errors are ignored, a full store evicts.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `axum` | yes | routes from `MatchedPath`; `RequestId` as an extractor |
//! | `tower-http` | no | reuse the `RequestId` of tower-http's `SetRequestIdLayer` |

mod propagate;
mod request_id;

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context as TaskContext, Poll, ready};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use provenance::context::{self, Context, Scoped};
use provenance::store::RequestRecord;
use provenance::{ArtifactId, Relation, Store};
use tower_layer::Layer;
use tower_service::Service;

pub use propagate::{CALLER_HEADER, PropagateProvenance, PropagateProvenanceLayer};
pub use request_id::{MAX_LEN, MIN_LEN, RequestId};

static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The default request ID header.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Gives every request a `req:` artifact and a provenance context; see the [crate docs](crate).
#[derive(Clone, Debug)]
pub struct ProvenanceLayer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    store: Store,
    header: HeaderName,
    rejected: AtomicU64,
}

impl ProvenanceLayer {
    /// A layer recording into `store`, with the `x-request-id` header.
    pub fn new(store: Store) -> Self {
        ProvenanceLayer {
            shared: Arc::new(Shared {
                store,
                header: X_REQUEST_ID.clone(),
                rejected: AtomicU64::new(0),
            }),
        }
    }

    /// Reads and echoes the request ID in `header` instead of `x-request-id`.
    pub fn with_header_name(self, header: HeaderName) -> Self {
        ProvenanceLayer {
            shared: Arc::new(Shared {
                store: self.shared.store.clone(),
                header,
                rejected: AtomicU64::new(self.shared.rejected.load(Ordering::Relaxed)),
            }),
        }
    }

    /// How many incoming request IDs were invalid and replaced.
    pub fn rejected_ids(&self) -> u64 {
        self.shared.rejected.load(Ordering::Relaxed)
    }
}

impl Default for ProvenanceLayer {
    /// A layer recording into the [`provenance::global`] store.
    fn default() -> Self {
        ProvenanceLayer::new(provenance::global().clone())
    }
}

impl<S> Layer<S> for ProvenanceLayer {
    type Service = Provenance<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Provenance {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service [`ProvenanceLayer`] wraps around an inner service.
#[derive(Clone, Debug)]
pub struct Provenance<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Provenance<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let start = Instant::now();
        let started = unix_millis(SystemTime::now());
        // Read before a fresh ID goes into the headers: an empty header map answers these
        // without hashing the names.
        let caller = req
            .headers()
            .get(&CALLER_HEADER)
            .and_then(|v| RequestId::parse(v.as_bytes()));
        let trace_id = req.headers().get(&TRACEPARENT).and_then(trace_id);
        let (id, generated) = self.request_id(&mut req, started);
        let caller = caller
            .map(|caller| caller.artifact_id().clone())
            .filter(|caller| caller != id.artifact_id());
        let method = method_name(req.method());
        let route = route(&req);

        let mut ctx = Context::for_request(id.artifact_id(), method.clone(), route.clone());
        if let Some(trace_id) = trace_id {
            ctx.insert_static("trace_id", trace_id);
        }
        if let Some(caller) = &caller {
            // The caller's request caused this one.
            let _ = self
                .shared
                .store
                .relate(caller, Relation::Called, id.artifact_id());
        }
        let header = id.header_value().clone();
        let artifact = id.artifact_id().clone();
        req.extensions_mut().get_or_insert_with(|| id);
        ResponseFuture {
            inner: context::scope(ctx, self.inner.call(req)),
            recorder: Recorder(Some(Pending {
                shared: self.shared.clone(),
                id: artifact,
                header,
                method,
                route,
                start,
                started,
                generated,
            })),
        }
    }
}

impl<S> Provenance<S> {
    /// Picks the request's ID (extension, valid header, or fresh) and makes the request carry
    /// it: an invalid incoming header is replaced, never passed on. Also gives the UUID of an
    /// ID made here.
    fn request_id<B>(&self, req: &mut Request<B>, now_ms: u64) -> (RequestId, Option<u128>) {
        if let Some(id) = req.extensions().get::<RequestId>() {
            return (id.clone(), None);
        }
        #[cfg(feature = "tower-http")]
        if let Some(id) = req
            .extensions()
            .get::<tower_http::request_id::RequestId>()
            .and_then(|id| RequestId::parse(id.header_value().as_bytes()))
        {
            return (id, None);
        }
        let header = &self.shared.header;
        if let Some(value) = req.headers().get(header) {
            if let Some(id) = RequestId::parse(value.as_bytes()) {
                return (id, None);
            }
            self.shared.rejected.fetch_add(1, Ordering::Relaxed);
        }
        // A fresh ID goes into the request's headers too (replacing an invalid one), for what
        // runs inside and reads them (tower-http's request-id layers, a trace layer).
        let (id, uuid) = RequestId::generate_at(now_ms);
        req.headers_mut()
            .insert(header.clone(), id.header_value().clone());
        (id, Some(uuid))
    }
}

/// `time` in milliseconds since the Unix epoch (0 before it).
fn unix_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The method's name, without an allocation for the standard ones.
fn method_name(method: &Method) -> Cow<'static, str> {
    const STANDARD: [&str; 9] = [
        "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE",
    ];
    match STANDARD.iter().find(|m| **m == method.as_str()) {
        Some(m) => Cow::Borrowed(m),
        None => Cow::Owned(method.as_str().to_owned()),
    }
}

/// axum's route template when the router matched one, else the path without its query.
fn route<B>(req: &Request<B>) -> Arc<str> {
    #[cfg(feature = "axum")]
    if let Some(matched) = req.extensions().get::<axum::extract::MatchedPath>() {
        return interned(matched.as_str());
    }
    interned(req.uri().path())
}

/// `route` as a shared string, the same one for every request of a route this thread saw
/// lately: a service has a handful of routes, and each request would otherwise allocate its
/// own. Bounded: paths without a template (a 404 scan) replace each other, never pile up.
fn interned(route: &str) -> Arc<str> {
    const SLOTS: usize = 64;
    // A long path is no route template (a scan, an attack): not kept per thread.
    if route.len() > 256 {
        return Arc::from(route);
    }
    thread_local! {
        static ROUTES: std::cell::RefCell<Vec<Arc<str>>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let hash = route.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let slot = (hash % SLOTS as u64) as usize;
    ROUTES
        .try_with(|cell| {
            let mut routes = cell.try_borrow_mut().ok()?;
            if routes.len() < SLOTS {
                routes.resize_with(SLOTS, || Arc::from(""));
            }
            if &*routes[slot] != route {
                routes[slot] = Arc::from(route);
            }
            Some(routes[slot].clone())
        })
        .ok()
        .flatten()
        .unwrap_or_else(|| Arc::from(route))
}

/// The trace ID of a W3C `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex>`), if valid.
fn trace_id(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let mut parts = text.split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| {
        s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    let valid = hex(version, 2)
        && version != "ff"
        && hex(trace, 32)
        && trace.bytes().any(|b| b != b'0')
        && hex(parent, 16)
        && hex(flags, 2);
    valid.then(|| trace.to_owned())
}

pin_project_lite::pin_project! {
    /// The response future of [`Provenance`]: the inner future inside the request's context,
    /// recording the `req:` artifact when it completes, fails, panics or is dropped.
    pub struct ResponseFuture<F: Future> {
        #[pin]
        inner: Scoped<F>,
        recorder: Recorder,
    }
}

impl<F: Future> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // If the inner future panics, the guard sees the unwinding and records it; the panic
        // itself goes on unchanged.
        let guard = PanicGuard(this.recorder, std::thread::panicking());
        let result = ready!(this.inner.poll(cx));
        let pending = guard.0.0.take();
        match (result, pending) {
            (Ok(mut response), Some(pending)) => {
                response
                    .headers_mut()
                    .entry(pending.shared.header.clone())
                    .or_insert_with(|| pending.header.clone());
                pending.finish(Outcome::Status(response.status()));
                Poll::Ready(Ok(response))
            }
            (Err(error), Some(pending)) => {
                pending.finish(Outcome::Error);
                Poll::Ready(Err(error))
            }
            (result, None) => Poll::Ready(result),
        }
    }
}

/// Records the request if it is dropped before completing (the client went away).
struct Recorder(Option<Pending>);

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Some(pending) = self.0.take() {
            pending.finish(Outcome::Cancelled);
        }
    }
}

/// The recorder, and whether the thread was already unwinding before this poll (a poll from a
/// destructor during another panic is not this request's panic).
struct PanicGuard<'a>(&'a mut Recorder, bool);

impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking()
            && !self.1
            && let Some(pending) = self.0.0.take()
        {
            pending.finish(Outcome::Panic);
        }
    }
}

struct Pending {
    shared: Arc<Shared>,
    id: ArtifactId,
    header: HeaderValue,
    method: Cow<'static, str>,
    route: Arc<str>,
    start: Instant,
    /// Milliseconds since the Unix epoch.
    started: u64,
    /// The UUID of an ID made here, so that the store need not look for an earlier record.
    generated: Option<u128>,
}

#[derive(Clone, Copy)]
enum Outcome {
    Status(StatusCode),
    Error,
    Panic,
    Cancelled,
}

impl Pending {
    fn finish(self, outcome: Outcome) {
        let latency = self.start.elapsed().as_micros() as u64;
        let error = match outcome {
            Outcome::Status(status) if status.is_server_error() => Some(match status.as_u16() {
                500 => Cow::Borrowed("status 500"),
                503 => Cow::Borrowed("status 503"),
                code => Cow::Owned(format!("status {code}")),
            }),
            Outcome::Status(_) | Outcome::Cancelled => None,
            Outcome::Error => Some(Cow::Borrowed("the inner service returned an error")),
            Outcome::Panic => Some(Cow::Borrowed("the handler panicked")),
        };
        let record = RequestRecord {
            method: self.method,
            route: self.route,
            status: match outcome {
                Outcome::Status(status) => Some(status.as_u16()),
                _ => None,
            },
            cancelled: matches!(outcome, Outcome::Cancelled),
            latency_us: latency,
            started_at_ms: self.started,
            error,
        };
        // Recording must never fail the request: a store error is dropped here.
        let _ = if let Some(uuid) = self.generated {
            self.shared
                .store
                .record_generated_request(&self.id, Some(uuid), record)
        } else {
            self.shared.store.record_request(&self.id, record)
        };
    }
}

#[cfg(feature = "axum")]
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestId {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<RequestId>().cloned().ok_or((
            StatusCode::INTERNAL_SERVER_ERROR,
            "RequestId extractor used without ProvenanceLayer",
        ))
    }
}

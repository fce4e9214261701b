//! The client side: outgoing requests carry the current request's ID, so that the service they
//! call can record which request caused its own.

use std::task::{Context as TaskContext, Poll};

use http::{HeaderName, HeaderValue, Request};
use provenance::context::{Context, with_context};
use tower_layer::Layer;
use tower_service::Service;

/// The header an outgoing request carries the calling request's ID in (the ID without `req:`).
pub static CALLER_HEADER: HeaderName = HeaderName::from_static("x-provenance-caller");

/// A layer for HTTP clients (any tower `Service<http::Request<B>>`, such as hyper-util's
/// client) that adds the current request's ID to outgoing requests as `x-provenance-caller`.
/// A `ProvenanceLayer` in the called service then records `req:caller --called--> req:callee`.
///
/// ```
/// use provenance_tower::PropagateProvenanceLayer;
/// use tower::{service_fn, Layer, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let client = PropagateProvenanceLayer::new().layer(service_fn(|req: http::Request<()>| async move {
///     Ok::<_, std::convert::Infallible>(req.headers().get("x-provenance-caller").cloned())
/// }));
/// let ctx = provenance::Context::from_iter([("request_id", "req:0190f1a2-b3c4-7d5e")]);
/// let sent = provenance::context::scope(ctx, client.oneshot(http::Request::new(()))).await.unwrap();
/// assert_eq!(sent.unwrap(), "0190f1a2-b3c4-7d5e");
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct PropagateProvenanceLayer {
    _private: (),
}

impl PropagateProvenanceLayer {
    /// The layer.
    pub const fn new() -> Self {
        PropagateProvenanceLayer { _private: () }
    }
}

impl<S> Layer<S> for PropagateProvenanceLayer {
    type Service = PropagateProvenance<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PropagateProvenance { inner }
    }
}

/// The client service [`PropagateProvenanceLayer`] wraps.
#[derive(Clone, Debug)]
pub struct PropagateProvenance<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for PropagateProvenance<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        if !req.headers().contains_key(&CALLER_HEADER) {
            let caller = with_context(Context::request_id)
                .and_then(|id| HeaderValue::from_str(id.body()).ok());
            if let Some(value) = caller {
                req.headers_mut().insert(CALLER_HEADER.clone(), value);
            }
        }
        self.inner.call(req)
    }
}

//! The HTTP surface: the router, with Provenance's request layer, and errors as JSON.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use provenance_tower::ProvenanceLayer;

use crate::customers::CustomerError;
use crate::orders::OrderError;
use crate::{AppState, handlers};

/// The service: its routes, with every request recorded as a `req:` in the store that
/// `state.db` records into.
///
/// | route | handler |
/// |---|---|
/// | `POST /customers` | [`handlers::create_customer`] |
/// | `POST /orders` | [`handlers::place_order`] |
/// | `GET /orders/{id}` | [`handlers::show_order`] |
/// | `GET /orders/{id}/invoice` | [`handlers::show_invoice`] |
pub fn app(state: AppState) -> Router {
    let store = state.db.store().clone();
    Router::new()
        .route("/customers", post(handlers::create_customer))
        .route("/orders", post(handlers::place_order))
        .route("/orders/{id}", get(handlers::show_order))
        .route("/orders/{id}/invoice", get(handlers::show_invoice))
        .with_state(state)
        .layer(ProvenanceLayer::new(store))
}

/// An error answer: a status and `{"error": "…"}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// An answer with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    fn internal(error: &dyn std::fmt::Display) -> Self {
        // The details go to the log (and to the request's `last_error`), not to the client.
        tracing::error!(%error, "internal error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message });
        (self.status, Json(body)).into_response()
    }
}

impl From<OrderError> for ApiError {
    fn from(e: OrderError) -> Self {
        match e {
            OrderError::Invalid(_)
            | OrderError::UnknownCustomer(_)
            | OrderError::UnknownProduct(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
            }
            OrderError::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, e.to_string()),
            OrderError::Database(e) => ApiError::internal(&e),
        }
    }
}

impl From<CustomerError> for ApiError {
    fn from(e: CustomerError) -> Self {
        match e {
            CustomerError::Invalid(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
            }
            CustomerError::EmailTaken => ApiError::new(StatusCode::CONFLICT, e.to_string()),
            CustomerError::Database(e) => ApiError::internal(&e),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::internal(&e)
    }
}

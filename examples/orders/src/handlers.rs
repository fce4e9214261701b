//! One function per route: take the request apart, call the domain, shape the answer.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::AppState;
use crate::customers::{self, NewCustomer};
use crate::http::ApiError;
use crate::invoices;
use crate::orders::{self, NewOrder, OrderView, Placed};
use crate::repo::{Customer, Invoice};

/// `POST /customers`: registers a customer; 201 with it, 409 if the email is taken.
#[tracing::instrument(skip_all)]
pub async fn create_customer(
    State(state): State<AppState>,
    Json(new): Json<NewCustomer>,
) -> Result<(StatusCode, Json<Customer>), ApiError> {
    let customer = customers::register(&state.db, new).await?;
    Ok((StatusCode::CREATED, Json(customer)))
}

/// `POST /orders`: places an order; 201 with its ID and total, 422 for an unknown customer
/// or product.
#[tracing::instrument(skip_all)]
pub async fn place_order(
    State(state): State<AppState>,
    Json(new): Json<NewOrder>,
) -> Result<(StatusCode, Json<Placed>), ApiError> {
    let placed = orders::place(&state.db, &state.jobs, new).await?;
    Ok((StatusCode::CREATED, Json(placed)))
}

/// `GET /orders/{id}`: the order with its lines, 404 if there is none.
#[tracing::instrument(skip(state))]
pub async fn show_order(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<OrderView>, ApiError> {
    Ok(Json(orders::get(&state.db, id).await?))
}

/// `GET /orders/{id}/invoice`: the order's invoice, 404 until it is issued.
#[tracing::instrument(skip(state))]
pub async fn show_invoice(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Invoice>, ApiError> {
    match invoices::for_order(&state.db, id).await? {
        Some(invoice) => Ok(Json(invoice)),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("order {id} has no invoice yet"),
        )),
    }
}

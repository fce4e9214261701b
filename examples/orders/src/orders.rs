//! Orders: placing them (priced from the catalogue, in one transaction) and reading them back.

use serde::{Deserialize, Serialize};

use crate::Jobs;
use crate::repo::{self, Db, Order, OrderItem};

/// What `POST /orders` takes.
#[derive(Clone, Debug, Deserialize)]
pub struct NewOrder {
    /// Who orders.
    pub customer_id: i64,
    /// What, at least one line.
    pub items: Vec<NewItem>,
}

/// One line of a [`NewOrder`].
#[derive(Clone, Debug, Deserialize)]
pub struct NewItem {
    /// The product's SKU.
    pub sku: String,
    /// How many, at least one.
    pub quantity: i64,
}

/// A placed order, as `POST /orders` answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Placed {
    /// The new order's ID.
    pub id: i64,
    /// What it costs.
    pub total_cents: i64,
}

/// An order with its lines, as `GET /orders/{id}` answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrderView {
    /// The order.
    #[serde(flatten)]
    pub order: Order,
    /// Its lines.
    pub items: Vec<OrderItem>,
}

/// Why an order could not be placed or found.
#[derive(Debug)]
#[non_exhaustive]
pub enum OrderError {
    /// No line, or a quantity below one.
    Invalid(&'static str),
    /// No customer has this ID.
    UnknownCustomer(i64),
    /// No product has this SKU.
    UnknownProduct(String),
    /// No order has this ID.
    NotFound(i64),
    /// The database failed.
    Database(sqlx::Error),
}

impl std::fmt::Display for OrderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OrderError::Invalid(why) => f.write_str(why),
            OrderError::UnknownCustomer(id) => write!(f, "unknown customer {id}"),
            OrderError::UnknownProduct(sku) => write!(f, "unknown product `{sku}`"),
            OrderError::NotFound(id) => write!(f, "no order {id}"),
            OrderError::Database(e) => write!(f, "database error: {e}"),
        }
    }
}

impl std::error::Error for OrderError {}

impl From<sqlx::Error> for OrderError {
    fn from(e: sqlx::Error) -> Self {
        OrderError::Database(e)
    }
}

/// Places an order: checks the customer, prices every line from the catalogue, writes the
/// order and its lines in one transaction, then hands the order to the invoicing job.
#[tracing::instrument(skip(db, jobs, new), fields(customer_id = new.customer_id), err)]
pub async fn place(db: &Db, jobs: &Jobs, new: NewOrder) -> Result<Placed, OrderError> {
    if new.items.is_empty() {
        return Err(OrderError::Invalid("an order needs at least one item"));
    }
    if new.items.iter().any(|item| item.quantity < 1) {
        return Err(OrderError::Invalid("a quantity is below one"));
    }
    // Dropping the transaction on an early return rolls it back.
    let mut tx = db.begin().await?;
    let customer = repo::find_customer(&mut tx, new.customer_id)
        .await?
        .ok_or(OrderError::UnknownCustomer(new.customer_id))?;
    let mut lines = Vec::with_capacity(new.items.len());
    for item in &new.items {
        let product = repo::find_product(&mut tx, &item.sku)
            .await?
            .ok_or_else(|| OrderError::UnknownProduct(item.sku.clone()))?;
        lines.push((product, item.quantity));
    }
    let total_cents = lines.iter().map(|(p, q)| p.price_cents * q).sum();
    let id = repo::insert_order(&mut tx, customer.id, total_cents).await?;
    for (product, quantity) in &lines {
        repo::insert_item(&mut tx, id, product.id, *quantity, product.price_cents).await?;
    }
    tx.commit().await?;
    jobs.invoice(db.clone(), id);
    Ok(Placed { id, total_cents })
}

/// The order `id` with its lines, read in one transaction so that they agree.
#[tracing::instrument(skip(db))]
pub async fn get(db: &Db, id: i64) -> Result<OrderView, OrderError> {
    let mut tx = db.begin().await?;
    let order = repo::find_order(&mut tx, id)
        .await?
        .ok_or(OrderError::NotFound(id))?;
    let items = repo::order_items(&mut tx, id).await?;
    tx.commit().await?;
    Ok(OrderView { order, items })
}

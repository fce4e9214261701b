//! Invoices: one per order, issued once the order is placed.

use crate::repo::{self, Db, Invoice};

/// Issues the invoice of order `order_id`: claims the order (`placed` → `invoiced`) and
/// writes the invoice in one transaction. `None` if there is nothing to do: no such order, or
/// it was invoiced already (a job may run twice).
#[tracing::instrument(skip(db))]
pub async fn issue(db: &Db, order_id: i64) -> Result<Option<Invoice>, sqlx::Error> {
    let mut tx = db.begin().await?;
    let Some(order) = repo::find_order(&mut tx, order_id).await? else {
        return Ok(None);
    };
    if order.status != "placed" || !repo::mark_invoiced(&mut tx, order.id).await? {
        return Ok(None);
    }
    let id = repo::insert_invoice(&mut tx, order.id, order.total_cents).await?;
    tx.commit().await?;
    Ok(Some(Invoice {
        id,
        order_id: order.id,
        amount_cents: order.total_cents,
        status: "issued".to_owned(),
    }))
}

/// The invoice of order `order_id`, once it is issued.
#[tracing::instrument(skip(db))]
pub async fn for_order(db: &Db, order_id: i64) -> Result<Option<Invoice>, sqlx::Error> {
    repo::find_invoice(db, order_id).await
}

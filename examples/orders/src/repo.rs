//! Every SQL statement of the service, run through the instrumented pool.
//!
//! The service runs on SQLite or PostgreSQL. sqlx has a type per database, so [`Db`] and
//! [`Tx`] hold one or the other and each function runs the same SQL on whichever it holds
//! (`$1` placeholders work on both). A service on one database would take a
//! `provenance_sqlx::PgPool` and need none of this.

use std::path::Path;

use provenance::Store;
use provenance_sqlx::{PgPool, SqlitePool, Transaction};
use serde::Serialize;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::{Postgres, Sqlite};

/// The database: an instrumented SQLite or PostgreSQL pool.
#[derive(Clone, Debug)]
pub enum Db {
    /// SQLite: in memory by default, or a file.
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

/// An open transaction on a [`Db`]. Dropping it without [`Tx::commit`] rolls it back.
#[derive(Debug)]
pub enum Tx {
    /// On SQLite.
    Sqlite(Transaction<Sqlite>),
    /// On PostgreSQL.
    Postgres(Transaction<Postgres>),
}

/// Runs `$body` with `$pool` bound to the pool `$db` holds; each arm is type-checked for its
/// own database.
macro_rules! on_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            Db::Sqlite($pool) => $body,
            Db::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$conn` bound to the connection of the transaction `$tx` holds.
macro_rules! on_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx {
            Tx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
            Tx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}

impl Db {
    /// A fresh SQLite database in memory, recording into `store`.
    pub async fn sqlite_in_memory(store: Store) -> Result<Db, sqlx::Error> {
        // An in-memory database lives as long as its connection: keep exactly one, for good.
        // SQLite writes one transaction at a time anyway.
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .min_connections(1)
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect("sqlite::memory:")
            .await?;
        Ok(Db::Sqlite(SqlitePool::new(pool, store)))
    }

    /// Connects to `url` (`postgres://…`, `postgresql://…` or `sqlite:…`), recording into
    /// `store`.
    pub async fn connect(url: &str, store: Store) -> Result<Db, sqlx::Error> {
        if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(8)
                .connect(url)
                .await?;
            Ok(Db::Postgres(PgPool::new(pool, store)))
        } else {
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect(url)
                .await?;
            Ok(Db::Sqlite(SqlitePool::new(pool, store)))
        }
    }

    /// The store the pool records into.
    pub fn store(&self) -> &Store {
        on_pool!(self, |pool| pool.store())
    }

    /// `"SQLite"` or `"PostgreSQL"`.
    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "SQLite",
            Db::Postgres(_) => "PostgreSQL",
        }
    }

    /// Applies the migrations in `migrations/sqlite` or `migrations/postgres` that are not
    /// applied yet; each becomes a `mig:` artifact linked to the tables and columns it made.
    pub async fn migrate(&self) -> Result<(), MigrateError> {
        let folder = match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        };
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(folder);
        let migrator = Migrator::new(dir).await?;
        on_pool!(self, |pool| pool.migrate(&migrator).await)
    }

    /// Starts a transaction.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin().await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }
}

impl Tx {
    /// Commits; only then is what the transaction wrote recorded.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }
}

/// A customer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Customer {
    /// Primary key.
    pub id: i64,
    /// Full name.
    pub name: String,
    /// Unique email address.
    pub email: String,
}

/// A product of the catalogue (seeded by the first migration).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Product {
    /// Primary key.
    pub id: i64,
    /// Stock-keeping unit, what customers order by.
    pub sku: String,
    /// Display name.
    pub name: String,
    /// Unit price.
    pub price_cents: i64,
}

/// An order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Order {
    /// Primary key.
    pub id: i64,
    /// Who placed it.
    pub customer_id: i64,
    /// `placed`, then `invoiced`.
    pub status: String,
    /// Sum of the items.
    pub total_cents: i64,
}

/// One line of an order, with its product's SKU.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrderItem {
    /// Primary key.
    pub id: i64,
    /// The product's SKU.
    pub sku: String,
    /// How many.
    pub quantity: i64,
    /// Unit price when the order was placed.
    pub price_cents: i64,
}

/// An invoice for an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Invoice {
    /// Primary key.
    pub id: i64,
    /// The order it bills.
    pub order_id: i64,
    /// What is owed.
    pub amount_cents: i64,
    /// `issued`.
    pub status: String,
}

/// Inserts a customer and returns its ID.
#[tracing::instrument(skip(db))]
pub async fn insert_customer(db: &Db, name: &str, email: &str) -> Result<i64, sqlx::Error> {
    on_pool!(db, |pool| {
        sqlx::query_scalar("INSERT INTO customers (name, email) VALUES ($1, $2) RETURNING id")
            .bind(name)
            .bind(email)
            .fetch_one(pool)
            .await
    })
}

/// The customer `id`, if there is one.
#[tracing::instrument(skip(tx))]
pub async fn find_customer(tx: &mut Tx, id: i64) -> Result<Option<Customer>, sqlx::Error> {
    on_tx!(tx, |conn| {
        sqlx::query_as::<_, (i64, String, String)>(
            "SELECT id, name, email FROM customers WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(conn)
        .await
    })
    .map(|row| row.map(|(id, name, email)| Customer { id, name, email }))
}

/// The product with this SKU, if there is one.
#[tracing::instrument(skip(tx))]
pub async fn find_product(tx: &mut Tx, sku: &str) -> Result<Option<Product>, sqlx::Error> {
    on_tx!(tx, |conn| {
        sqlx::query_as::<_, (i64, String, String, i64)>(
            "SELECT id, sku, name, price_cents FROM products WHERE sku = $1",
        )
        .bind(sku)
        .fetch_optional(conn)
        .await
    })
    .map(|row| {
        row.map(|(id, sku, name, price_cents)| Product {
            id,
            sku,
            name,
            price_cents,
        })
    })
}

/// Inserts a placed order and returns its ID.
#[tracing::instrument(skip(tx))]
pub async fn insert_order(
    tx: &mut Tx,
    customer_id: i64,
    total_cents: i64,
) -> Result<i64, sqlx::Error> {
    on_tx!(tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO orders (customer_id, status, total_cents) VALUES ($1, 'placed', $2) \
             RETURNING id",
        )
        .bind(customer_id)
        .bind(total_cents)
        .fetch_one(conn)
        .await
    })
}

/// Inserts one line of an order and returns its ID.
#[tracing::instrument(skip(tx))]
pub async fn insert_item(
    tx: &mut Tx,
    order_id: i64,
    product_id: i64,
    quantity: i64,
    price_cents: i64,
) -> Result<i64, sqlx::Error> {
    on_tx!(tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO order_items (order_id, product_id, quantity, price_cents) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(order_id)
        .bind(product_id)
        .bind(quantity)
        .bind(price_cents)
        .fetch_one(conn)
        .await
    })
}

/// The order `id`, if there is one.
#[tracing::instrument(skip(tx))]
pub async fn find_order(tx: &mut Tx, id: i64) -> Result<Option<Order>, sqlx::Error> {
    on_tx!(tx, |conn| {
        sqlx::query_as::<_, (i64, i64, String, i64)>(
            "SELECT id, customer_id, status, total_cents FROM orders WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(conn)
        .await
    })
    .map(|row| {
        row.map(|(id, customer_id, status, total_cents)| Order {
            id,
            customer_id,
            status,
            total_cents,
        })
    })
}

/// The lines of order `order_id`, in the order they were added.
#[tracing::instrument(skip(tx))]
pub async fn order_items(tx: &mut Tx, order_id: i64) -> Result<Vec<OrderItem>, sqlx::Error> {
    on_tx!(tx, |conn| {
        sqlx::query_as::<_, (i64, String, i64, i64)>(
            "SELECT i.id, p.sku, i.quantity, i.price_cents \
             FROM order_items i JOIN products p ON p.id = i.product_id \
             WHERE i.order_id = $1 ORDER BY i.id",
        )
        .bind(order_id)
        .fetch_all(conn)
        .await
    })
    .map(|rows| {
        rows.into_iter()
            .map(|(id, sku, quantity, price_cents)| OrderItem {
                id,
                sku,
                quantity,
                price_cents,
            })
            .collect()
    })
}

/// Moves order `id` from `placed` to `invoiced`; `false` if it was not `placed` (another run
/// of the job got there first).
#[tracing::instrument(skip(tx))]
pub async fn mark_invoiced(tx: &mut Tx, id: i64) -> Result<bool, sqlx::Error> {
    let claimed: Option<i64> = on_tx!(tx, |conn| {
        sqlx::query_scalar(
            "UPDATE orders SET status = 'invoiced' WHERE id = $1 AND status = 'placed' \
             RETURNING id",
        )
        .bind(id)
        .fetch_optional(conn)
        .await
    })?;
    Ok(claimed.is_some())
}

/// Inserts an issued invoice and returns its ID.
#[tracing::instrument(skip(tx))]
pub async fn insert_invoice(
    tx: &mut Tx,
    order_id: i64,
    amount_cents: i64,
) -> Result<i64, sqlx::Error> {
    on_tx!(tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO invoices (order_id, amount_cents, status) VALUES ($1, $2, 'issued') \
             RETURNING id",
        )
        .bind(order_id)
        .bind(amount_cents)
        .fetch_one(conn)
        .await
    })
}

/// The invoice of order `order_id`, if it has one yet.
#[tracing::instrument(skip(db))]
pub async fn find_invoice(db: &Db, order_id: i64) -> Result<Option<Invoice>, sqlx::Error> {
    on_pool!(db, |pool| {
        sqlx::query_as::<_, (i64, i64, i64, String)>(
            "SELECT id, order_id, amount_cents, status FROM invoices WHERE order_id = $1",
        )
        .bind(order_id)
        .fetch_optional(pool)
        .await
    })
    .map(|row| {
        row.map(|(id, order_id, amount_cents, status)| Invoice {
            id,
            order_id,
            amount_cents,
            status,
        })
    })
}

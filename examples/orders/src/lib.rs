//! An orders service on axum and sqlx, with Provenance wired in the way a real service would
//! wire it: customers, products, orders with their items, invoices, and a background job that
//! invoices each order after it is placed.
//!
//! `cargo run -p example-orders` starts it and takes a guided tour of what Provenance recorded
//! (see `src/main.rs`); the workspace's end-to-end tests drive [`app`] directly.
//!
//! Nothing in the handlers or the domain code does bookkeeping. Three things record lineage:
//!
//! - [`provenance_tower::ProvenanceLayer`] on the router ([`app`]): every request is a `req:`
//!   with an `x-request-id`, and runs inside a task-local context that knows it;
//! - [`provenance::SpanLayer`] on the tracing subscriber (installed by the binary or the test):
//!   every `#[tracing::instrument]`ed function is a `fn:`, `called` by the one around it and
//!   `during` the request or job it runs in;
//! - the instrumented pool ([`Db`]): every query records the tables, columns and rows it read
//!   or wrote against the innermost function and its request or job.
//!
//! | module | layer | what it holds |
//! |---|---|---|
//! | [`http`] | web | the router and the JSON error responses |
//! | [`handlers`] | controller | one function per route |
//! | [`customers`], [`orders`], [`invoices`] | context | the rules of the domain |
//! | [`workers`] | worker | the background jobs |
//! | [`repo`] | repo | every SQL statement, for SQLite and PostgreSQL |
//!
//! ```
//! use example_orders::{AppState, Db};
//! use provenance::Store;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Store::new();
//! example_orders::register_modules(&store)?;
//! let db = Db::sqlite_in_memory(store.clone()).await?;
//! db.migrate().await?;
//! let app = example_orders::app(AppState::new(db));
//! # let _ = app;
//! assert_eq!(
//!     store.lookup("mod:example_orders::repo").unwrap().layer,
//!     Some(provenance::ArchLayer::Repo)
//! );
//! # Ok(())
//! # }
//! ```

pub mod customers;
pub mod handlers;
pub mod http;
pub mod invoices;
pub mod orders;
pub mod repo;
pub mod workers;

pub use http::app;
pub use repo::Db;
pub use workers::Jobs;

/// What every handler is given: the database and the background job runner.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The instrumented database pool.
    pub db: Db,
    /// Where placed orders are sent to be invoiced.
    pub jobs: Jobs,
}

impl AppState {
    /// The state of a service on `db`, with no job running yet.
    pub fn new(db: Db) -> Self {
        AppState {
            db,
            jobs: Jobs::new(),
        }
    }
}

/// Registers what the build script found in this crate's sources: its modules with their
/// layers and dependencies, its functions, and its migrations. Spans record functions as they
/// run; this makes the module graph complete from the start.
pub fn register_modules(store: &provenance::Store) -> Result<(), provenance::Error> {
    provenance::register_compiled!(store)
}

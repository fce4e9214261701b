//! An instrumented sqlx pool that records `tbl:`, `col:` and `rec:` lineage for every query.
//!
//! Swap one line where the pool is made, and every query run through it records which code
//! read and wrote which tables, columns and rows:
//!
//! ```text
//! let pool = provenance_sqlx::Pool::new(sqlx_pool, store);   // or
//! let pool = provenance_sqlx::PgPool::connect(&url).await?;  // records into provenance::global()
//! ```
//!
//! # What a query records
//!
//! Each query's SQL is parsed once ([`analyze()`], cached by SQL text in a bounded cache) and
//! recorded against what is running: the innermost `fn:` span that a
//! `provenance::SpanLayer` counted, else the request or job of the task-local
//! `provenance::context`.
//!
//! | the query | edges |
//! |---|---|
//! | reads a table | actor `read` `tbl:` |
//! | writes a table (INSERT, UPDATE, DELETE, MERGE, DDL) | actor `produced` `tbl:` |
//! | names columns (INSERT list, UPDATE SET) | `tbl:` `contains` `col:`, actor `produced` `col:` |
//! | returns rows with the table's primary key (SELECT, or a write with RETURNING) | actor and request/job `read`/`produced` `rec:`, `tbl:` `contains` `rec:` |
//! | a unit of work writes a record after reading records | new `rec:` `derived_from` each `rec:` it read through this pool (the 16 most recent, kept with the unit's context and shared by its copies; how many older ones were left out is counted as `derived_from_truncated` on the record) |
//!
//! Primary keys are discovered once per table from the catalog (PostgreSQL `pg_index`, MySQL
//! `information_schema`, SQLite `pragma_table_info`), composite keys included, on the query's
//! own connection just before the first query that needs them; a table without one falls back
//! to a column named `id`. A column is attributed to a table only when the analysis can tell
//! unambiguously ([`Rows::source_of`]). At most `Pool::records_per_query` records are
//! attributed per query.
//!
//! A table-level edge of a function is the same every time, so it is recorded once per
//! statement and function; a request or job gets its own, once per statement it runs (again
//! after another request or job ran that statement).
//!
//! A result's records are not linked while the rows stream: they are queued with
//! [`provenance::Store::relate_many_later`] (or, for integer keys,
//! [`provenance::Store::relate_records_later`]), 64 at a time, and linked when the store is
//! next read (any lookup, query or export), with the time they were queued. A request's or
//! job's edges to the tables of a query are queued too ([`provenance::Store::relate_later`]),
//! so a query does not make its request a node. A service that records much and asks little
//! pays a queue slot per row and per statement; what is still queued past the store's event
//! capacity is dropped oldest first and counted in [`provenance::Stats::unlinked`].
//!
//! Inside a `Transaction`, reads are recorded as they happen; writes are held back and
//! recorded when the commit succeeds, and dropped on rollback (the function or request that
//! began the transaction counts `commits` and `rollbacks`). On PostgreSQL a transaction whose
//! last query failed is aborted and its `COMMIT` rolls back, although sqlx reports success:
//! that counts as a rollback.
//!
//! The primary-key lookup runs on the host's connection, once per table (again after DDL the
//! pool ran on that table, or after a query on it failed). It is a read of the catalog that
//! cannot fail for a missing table. Two effects remain visible to a host that looks for them:
//! on MySQL/MariaDB a `SELECT ROW_COUNT()` right after it reports the lookup's `-1`, and on
//! PostgreSQL the lookup is one more prepared statement on that connection. On SQLite it never
//! runs inside a transaction (it would turn a deferred transaction into a reader, whose first
//! write then fails with `SQLITE_BUSY` instead of waiting); there an unknown key falls back to
//! a column named `id` until a query outside a transaction has looked it up.
//!
//! # Never changes the host
//!
//! The query runs exactly as it would on the sqlx pool: the same statement, arguments and
//! `persistent` flag, the same rows, results and errors. SQL the parser does not understand
//! still runs; it is counted in [`provenance::Stats::unanalysed_queries`] and as
//! `unanalysed_queries` on the actor. A failed query records nothing but a `query_errors`
//! count. A stream dropped early or a cancelled future records what it had seen.
//!
//! # What needs a signature change
//!
//! `Pool` is not a `sqlx::Pool`, on purpose (a `Deref` would let queries bypass recording
//! silently). Code typed against sqlx's types changes as follows:
//!
//! | sqlx | here |
//! |---|---|
//! | `fn f(pool: &sqlx::PgPool)` | `fn f(pool: &provenance_sqlx::PgPool)`, or generic `E: sqlx::PgExecutor<'_>` (works for both) |
//! | `pool.begin()` → `sqlx::Transaction` | `Pool::begin` → `Transaction`; pass `&mut *tx` or `&mut tx` |
//! | `pool.acquire()` → `PoolConnection` | `Pool::acquire` → `PoolConnection`; pass `&mut *conn` or `&mut conn` |
//! | `A: sqlx::Acquire` bounds, `PgListener::connect_with(&pool)`, `Migrator::run(&pool)`, `#[sqlx::test]` | `Pool::unobserved` (not recorded); for migrations, `Pool::migrate` |
//! | nested transactions (`tx.begin()`, savepoints) | not offered: use SQL `SAVEPOINT` through the transaction |
//! | `fn f(conn: &mut sqlx::PgConnection)` called with `&mut *tx` | `fn f(conn: &mut provenance_sqlx::Connection<Postgres>)`, or generic `E: sqlx::PgExecutor<'_>` |
//! | `pool.begin_with(statement)` | not offered: `Pool::begin`, then the statement through the transaction |
//!
//! # Features
//!
//! | feature | what it adds |
//! |---|---|
//! | (none) | only [`analyze()`]: no sqlx dependency |
//! | `postgres`, `mysql`, `sqlite` | `PgPool`, `MySqlPool`, `SqlitePool` |
//! | `migrate` | `Pool::migrate`: run a `sqlx::migrate::Migrator` and record each migration |

pub mod analyze;
#[cfg(feature = "pool")]
mod driver;
#[cfg(feature = "migrate")]
mod migrate;
#[cfg(feature = "pool")]
mod pool;
#[cfg(feature = "pool")]
mod recorder;

pub use analyze::{
    Analysis, AnalyzeError, ColumnName, Dialect, Effect, Rows, TableName, analyze, cache_key,
};
#[cfg(feature = "pool")]
pub use driver::Driver;
#[cfg(feature = "sqlite")]
#[doc(hidden)]
pub use pool::bench;
#[cfg(feature = "pool")]
pub use pool::{Connection, Pool, PoolConnection, Transaction};

/// The instrumented pool for PostgreSQL.
#[cfg(feature = "postgres")]
pub type PgPool = Pool<sqlx::Postgres>;
/// The instrumented pool for MySQL and MariaDB.
#[cfg(feature = "mysql")]
pub type MySqlPool = Pool<sqlx::MySql>;
/// The instrumented pool for SQLite.
#[cfg(feature = "sqlite")]
pub type SqlitePool = Pool<sqlx::Sqlite>;

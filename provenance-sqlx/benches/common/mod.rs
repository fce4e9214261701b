//! What the benches share: the thread's subscriber and runtime, and the pools they compare
//! (the raw sqlx pool and ours around it, on a table `items` of 1 000 rows, `id` its primary
//! key, `name`).

use provenance::{SpanLayer, Store};
use tracing_subscriber::prelude::*;

/// A registry with a `SpanLayer` recording into `store`, the thread's default while the guard
/// lives, and a current-thread runtime to run the queries on.
pub(crate) fn recording(
    store: &Store,
) -> (tracing::subscriber::DefaultGuard, tokio::runtime::Runtime) {
    let subscriber = tracing_subscriber::registry().with(SpanLayer::new(store.clone()));
    let guard = tracing::subscriber::set_default(subscriber);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    (guard, rt)
}

/// SQLite in memory, one connection.
pub(crate) async fn sqlite_pools(store: &Store) -> (sqlx::SqlitePool, provenance_sqlx::SqlitePool) {
    let raw = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .expect("sqlite");
    sqlx::raw_sql(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT); \
         WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 1000) \
         INSERT INTO items SELECT i, 'item ' || i FROM s;",
    )
    .execute(&raw)
    .await
    .expect("schema");
    let ours = provenance_sqlx::SqlitePool::new(raw.clone(), store.clone());
    (raw, ours)
}

/// PostgreSQL at `PROVENANCE_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`),
/// one connection, with a table of this process's own (its name is returned; [`drop_table`]
/// removes it). `None`, after saying so loudly, when the server does not answer.
pub(crate) async fn postgres_pools(
    store: &Store,
    bench: &str,
) -> Option<(sqlx::PgPool, provenance_sqlx::PgPool, String)> {
    let url = std::env::var("PROVENANCE_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let raw = match sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
    {
        Ok(pool) => pool,
        Err(e) => {
            eprintln!("*** SKIPPED {bench}: {url} unreachable: {e}");
            return None;
        }
    };
    let table = format!("{bench}_items_{}", std::process::id());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE {table} (id BIGINT PRIMARY KEY, name TEXT); \
         INSERT INTO {table} SELECT i, 'item ' || i FROM generate_series(1, 1000) i;"
    )))
    .execute(&raw)
    .await
    .expect("schema");
    let ours = provenance_sqlx::PgPool::new(raw.clone(), store.clone());
    Some((raw, ours, table))
}

/// Drops the table [`postgres_pools`] made.
pub(crate) async fn drop_table(raw: &sqlx::PgPool, table: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP TABLE {table}")))
        .execute(raw)
        .await
        .expect("drop");
}

//! Run with: cargo run --release -p provenance-sqlx --example profile_queries -- [raw|ours|linked|recorded|bare] [rows] [n] [all|optional|insert]
//!
//! Runs `n` queries on SQLite in memory, each returning `rows` rows with their keys, each in a
//! request of its own inside a function span (as a handler runs them), through the raw sqlx
//! pool or through ours, for an instruction count under `valgrind --tool=callgrind`: the
//! difference of the two totals divided by `n` is what the pool adds to a query, and running
//! it with two row counts separates the per-query from the per-row part. Instructions are
//! repeatable where time, on this worker-thread driver, is not.
//!
//! `ours` only records, as a service that nobody asks runs; `linked` also reads the store at
//! the end, which links the rows still queued (at most the store's event capacity): the
//! difference is the deferred part of the cost.
//!
//! `recorded` and `bare` run no query: they time what `benches/recording.rs` times, the
//! recording of a query that returned `rows` rows (fetched once) and the query built and taken
//! apart without it, with no driver thread in the count. `scripts/query_atomics.sh` counts the
//! atomic instructions of the recording this way.

use provenance::context::{Context, scope};
use provenance::{Config, SpanLayer, Store};
use tracing::Instrument;
use tracing_subscriber::prelude::*;

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "ours".to_owned());
    let rows: u32 = args.next().and_then(|n| n.parse().ok()).unwrap_or(1);
    let n: u32 = args.next().and_then(|n| n.parse().ok()).unwrap_or(2_000);
    // `optional`: `fetch_optional` (as `fetch_one` runs) instead of `fetch_all`; `insert`:
    // `fetch_all` of an INSERT that returns the keys of the `rows` rows it writes.
    let how = args.next();
    let optional = how.as_deref() == Some("optional");
    let insert = how.as_deref() == Some("insert");
    // Small enough that the run reaches capacity: records evict as in a long-running service.
    let store = Store::with_config(Config::new().event_capacity(5_000));
    let subscriber = tracing_subscriber::registry().with(SpanLayer::new(store.clone()));
    let _guard = tracing::subscriber::set_default(subscriber);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let raw = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::raw_sql(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT); \
             WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 100000) \
             INSERT INTO items SELECT i, 'item ' || i FROM s; \
             CREATE TABLE copies (id INTEGER PRIMARY KEY, name TEXT);",
        )
        .execute(&raw)
        .await
        .unwrap();
        let ours = provenance_sqlx::SqlitePool::new(raw.clone(), store.clone());
        if mode == "recorded" || mode == "bare" {
            recording(&ours, &mode, rows, n).await;
            return;
        }
        let sql = if insert {
            "INSERT INTO copies (name) SELECT name FROM items WHERE id >= ? AND id < ? RETURNING id"
        } else {
            "SELECT id, name FROM items WHERE id >= ? AND id < ?"
        };
        for i in 0..n {
            let ctx = Context::from_iter([("request_id", format!("req:p-{i}"))]);
            let from = (i * rows) % 90_000 + 1;
            let query = sqlx::query(sql).bind(from).bind(from + rows);
            let got = scope(ctx, async {
                match (mode == "raw", optional) {
                    (true, false) => query.fetch_all(&raw).await.unwrap(),
                    (false, false) => query.fetch_all(&ours).await.unwrap(),
                    (true, true) => query
                        .fetch_optional(&raw)
                        .await
                        .unwrap()
                        .into_iter()
                        .collect(),
                    (false, true) => query
                        .fetch_optional(&ours)
                        .await
                        .unwrap()
                        .into_iter()
                        .collect(),
                }
            })
            .instrument(tracing::info_span!("handler"))
            .await;
            assert_eq!(got.len(), rows as usize);
        }
    });
    if mode == "linked" {
        eprintln!("{mode}: {n} queries of {rows} rows, {:?}", store.stats());
    } else {
        eprintln!("{mode}: {n} queries of {rows} rows");
    }
}

/// The `recorded` and `bare` modes: `n` recordings (or bare runs) of a query that returned
/// `rows` rows, each in a request of its own inside a function span, as the recording bench
/// runs them.
async fn recording(ours: &provenance_sqlx::SqlitePool, mode: &str, rows: u32, n: u32) {
    const SQL: &str = "SELECT id, name FROM items WHERE id >= ? AND id < ?";
    // Fetched in a span of their own, as the bench does, so that the key of `items` is known.
    let fetched = sqlx::query(SQL)
        .bind(1)
        .bind(1 + rows)
        .fetch_all(ours)
        .instrument(tracing::info_span!("fetch"))
        .await
        .unwrap();
    assert_eq!(fetched.len(), rows as usize);
    let span = tracing::info_span!("handler");
    let _entered = span.enter();
    for i in 0..n {
        let ctx = Context::from_iter([("request_id", format!("req:p-{i}"))]);
        provenance::context::sync_scope(ctx, || match mode {
            "bare" => provenance_sqlx::bench::bare(ours, SQL),
            _ => provenance_sqlx::bench::record(ours, SQL, &fetched),
        });
    }
}

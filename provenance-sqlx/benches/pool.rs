//! What the instrumented pool adds to a query, beside the raw sqlx pool in the same run.
//!
//! | group / bench | query |
//! |---|---|
//! | `sqlite_point_select/{raw,ours}` | `SELECT name FROM items WHERE id = ?` (no key in the result: table edges only) |
//! | `sqlite_point_select_key/{raw,ours}` | `SELECT id, name FROM items WHERE id = ?` (records `rec:items:N`) |
//! | `sqlite_100_rows/{raw,ours}` | 100 rows with their keys: 100 records |
//! | `postgres_point_select/{raw,ours}` | `SELECT name FROM items WHERE id = $1` over loopback |
//!
//! Each query runs in a request of its own, inside a span, as in a service, so every query
//! finds its actor and records (the raw pool runs in the same context). Budgets (issue 5): ≤ 200 ns added per query on
//! a cache hit plus ≤ 100 ns per returned row; point selects: ours / raw ≤ 1.03.
//! Run with `cargo bench -p provenance-sqlx --bench pool`. PostgreSQL is skipped (with a
//! message) when `PROVENANCE_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`)
//! does not answer.

mod common;

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use provenance::Store;
use provenance::context::{Context, scope};
use sqlx::Row;
use tracing::Instrument;

/// Times `iters` runs of `f`, each in a request of its own and inside a function span, as a
/// handler would run it (a new request each time, so nothing recorded for one query is
/// reused by the next; the raw pool pays for the same context).
fn timed<F, Fut>(rt: &tokio::runtime::Runtime, iters: u64, f: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    rt.block_on(
        async {
            let start = Instant::now();
            for i in 0..iters {
                let ctx = Context::from_iter([("request_id", format!("req:bench-{i}"))]);
                scope(ctx, f()).await;
            }
            start.elapsed()
        }
        .instrument(tracing::info_span!("handler")),
    )
}

fn bench_sqlite(c: &mut Criterion) {
    let store = Store::new();
    let (_guard, rt) = common::recording(&store);
    let (raw, ours) = rt.block_on(common::sqlite_pools(&store));

    let mut g = c.benchmark_group("sqlite_point_select");
    const POINT: &str = "SELECT name FROM items WHERE id = ?";
    g.bench_function("raw", |b| {
        b.iter_custom(|n| {
            timed(&rt, n, || async {
                let r = sqlx::query(POINT).bind(7).fetch_one(&raw).await.unwrap();
                std::hint::black_box(r.get::<String, _>(0));
            })
        })
    });
    g.bench_function("ours", |b| {
        b.iter_custom(|n| {
            timed(&rt, n, || async {
                let r = sqlx::query(POINT).bind(7).fetch_one(&ours).await.unwrap();
                std::hint::black_box(r.get::<String, _>(0));
            })
        })
    });
    g.finish();

    let mut g = c.benchmark_group("sqlite_point_select_key");
    const KEY: &str = "SELECT id, name FROM items WHERE id = ?";
    g.bench_function("raw", |b| {
        b.iter_custom(|n| {
            timed(&rt, n, || async {
                let r = sqlx::query(KEY).bind(7).fetch_one(&raw).await.unwrap();
                std::hint::black_box(r.get::<String, _>(1));
            })
        })
    });
    g.bench_function("ours", |b| {
        b.iter_custom(|n| {
            timed(&rt, n, || async {
                let r = sqlx::query(KEY).bind(7).fetch_one(&ours).await.unwrap();
                std::hint::black_box(r.get::<String, _>(1));
            })
        })
    });
    g.finish();

    let mut g = c.benchmark_group("sqlite_100_rows");
    const ROWS: &str = "SELECT id, name FROM items WHERE id <= 100";
    g.bench_function("raw", |b| {
        b.iter_custom(|n| {
            timed(&rt, n, || async {
                let rows = sqlx::query(ROWS).fetch_all(&raw).await.unwrap();
                assert_eq!(rows.len(), 100);
            })
        })
    });
    g.bench_function("ours", |b| {
        b.iter_custom(|n| {
            timed(&rt, n, || async {
                let rows = sqlx::query(ROWS).fetch_all(&ours).await.unwrap();
                assert_eq!(rows.len(), 100);
            })
        })
    });
    g.finish();
}

fn bench_postgres(c: &mut Criterion) {
    let store = Store::new();
    let (_guard, rt) = common::recording(&store);
    let Some((raw, ours, table)) =
        rt.block_on(common::postgres_pools(&store, "postgres_point_select"))
    else {
        return;
    };
    let point = format!("SELECT name FROM {table} WHERE id = $1");

    let mut g = c.benchmark_group("postgres_point_select");
    g.bench_function("raw", |b| {
        b.iter_custom(|n| {
            timed(&rt, n, || async {
                let r = sqlx::query(sqlx::AssertSqlSafe(point.clone()))
                    .bind(7i64)
                    .fetch_one(&raw)
                    .await
                    .unwrap();
                std::hint::black_box(r.get::<String, _>(0));
            })
        })
    });
    g.bench_function("ours", |b| {
        b.iter_custom(|n| {
            timed(&rt, n, || async {
                let r = sqlx::query(sqlx::AssertSqlSafe(point.clone()))
                    .bind(7i64)
                    .fetch_one(&ours)
                    .await
                    .unwrap();
                std::hint::black_box(r.get::<String, _>(0));
            })
        })
    });
    g.finish();
    rt.block_on(common::drop_table(&raw, &table));
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = bench_sqlite, bench_postgres
}
criterion_main!(benches);

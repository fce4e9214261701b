//! The CPU the pool's recording adds to a query, apart from the database: the same statement
//! built and taken apart with nothing recorded (`bare`, with the clone of the pool that sqlx's
//! own `&Pool` makes for each query and ours does not), and recorded as the pool records it
//! (`recorded`: the actor looked up through the span and the context, the cached analysis,
//! each row's key, the edges queued at the end), side by side in one run.
//!
//! | group | the query's result |
//! |---|---|
//! | `no_row` | no row (table edges only) |
//! | `one_row` | one row with its key: one record |
//! | `rows_100` | 100 rows with their keys: 100 records |
//!
//! `linked` is `recorded` with the store read every [`LINK_EVERY`] queries, as an application
//! asking for lineage reads it: the read links what the queries queued, and the time per
//! query then includes that deferred work, paid on the reading thread.
//!
//! `two_threads_bare` and `two_threads_recorded` run the same on two threads at once, with
//! one pool and one store, as two workers of a server run one handler's query: the time is
//! that of one query on each thread (of the slower thread's run). What the recording shares
//! between threads (a lock, a counter, a line of memory that one writes and the other reads)
//! shows here and not in the one-thread times.
//!
//! Each iteration is a query in a request of its own, inside a function span, as a handler
//! runs it; both sides pay for the same request context. The rows are real SQLite rows,
//! fetched once. Budgets (issue 5): ≤ 200 ns added per query on a cache hit, plus ≤ 100 ns per
//! returned row: `recorded` minus `bare` ≤ 200 ns, 300 ns and 10.2 µs. Unlike the wall clock
//! of a query (`--bench paired`), which moves by more than that between runs, this times the
//! recording alone, hot in cache: a lower bound on what it costs in a busy server.
//! Run with `cargo bench -p provenance-sqlx --bench recording`.

// Only the SQLite pools of what the benches share are used here.
#[allow(dead_code)]
mod common;

use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use provenance::Store;
use provenance::context::{Context, sync_scope};
use provenance_sqlx::bench::{bare, record};
use sqlx::sqlite::SqliteRow;

const SQL: &str = "SELECT id, name FROM items WHERE id >= ? AND id < ?";

/// How many queries `linked` runs between two reads of the store.
const LINK_EVERY: u64 = 64;

/// Times `iters` runs of `f`, each in a request of its own; with `link`, reads that store
/// every [`LINK_EVERY`] runs (and once at the end), so that the time includes linking what
/// they queued.
fn timed(iters: u64, link: Option<&Store>, f: impl Fn()) -> Duration {
    let read = || {
        if let Some(store) = link {
            assert!(store.lookup("tbl:items").is_some());
        }
    };
    let start = Instant::now();
    for i in 0..iters {
        let ctx = Context::from_iter([("request_id", format!("req:bench-{i}"))]);
        sync_scope(ctx, &f);
        if (i + 1) % LINK_EVERY == 0 {
            read();
        }
    }
    read();
    start.elapsed()
}

/// Times `iters` runs of `f` on each of two threads at once, each thread in a function span of
/// its own and each run in a request of its own; returns the time of the slower thread.
fn on_two_threads(iters: u64, f: impl Fn() + Sync) -> Duration {
    // The subscriber is this thread's default: the workers are given it.
    let dispatch = tracing::dispatcher::get_default(Clone::clone);
    let barrier = Barrier::new(2);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|t| {
                let (dispatch, barrier, f) = (&dispatch, &barrier, &f);
                s.spawn(move || {
                    tracing::dispatcher::with_default(dispatch, || {
                        let span = tracing::info_span!("handler");
                        let _entered = span.enter();
                        barrier.wait();
                        let start = Instant::now();
                        for i in 0..iters {
                            let ctx =
                                Context::from_iter([("request_id", format!("req:bench-{t}-{i}"))]);
                            sync_scope(ctx, f);
                        }
                        start.elapsed()
                    })
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("worker"))
            .max()
            .unwrap_or_default()
    })
}

/// The rows `SQL` returns for ids `from..to`, fetched through `ours` (which also looks up the
/// key of `items`, as the first query of a statement does).
fn rows(
    rt: &tokio::runtime::Runtime,
    ours: &provenance_sqlx::SqlitePool,
    n: i64,
) -> Vec<SqliteRow> {
    let rows = rt
        .block_on(sqlx::query(SQL).bind(1).bind(1 + n).fetch_all(ours))
        .expect("rows");
    assert_eq!(rows.len(), n as usize);
    rows
}

fn bench_recording(c: &mut Criterion) {
    let store = Store::new();
    let (_guard, rt) = common::recording(&store);
    let (_raw, ours) = rt.block_on(common::sqlite_pools(&store));
    // Fetched in a span of their own: in `handler`, the fetch itself would link `fn:handler`
    // to `tbl:items` and `rec:items:1..=100`, and the assertion below would hold with `record`
    // recording nothing. (In a span, not outside one: a query without an actor does not look
    // up the key of `items`, and `record` would then work the layout out every time.)
    let fetched: Vec<_> = tracing::info_span!("fetch").in_scope(|| {
        [("no_row", 0), ("one_row", 1), ("rows_100", 100)]
            .into_iter()
            .map(|(group, n)| (group, rows(&rt, &ours, n)))
            .collect()
    });
    let span = tracing::info_span!("handler");
    let _entered = span.enter();
    for (group, rows) in fetched {
        let mut g = c.benchmark_group(group);
        g.bench_function("bare", |b| {
            b.iter_custom(|iters| timed(iters, None, || bare(&ours, SQL)))
        });
        g.bench_function("recorded", |b| {
            b.iter_custom(|iters| timed(iters, None, || record(&ours, SQL, &rows)))
        });
        g.bench_function("linked", |b| {
            b.iter_custom(|iters| timed(iters, Some(&store), || record(&ours, SQL, &rows)))
        });
        g.bench_function("two_threads_bare", |b| {
            b.iter_custom(|iters| on_two_threads(iters, || bare(&ours, SQL)))
        });
        g.bench_function("two_threads_recorded", |b| {
            b.iter_custom(|iters| on_two_threads(iters, || record(&ours, SQL, &rows)))
        });
        g.finish();
    }
    // The recording was not skipped: the statement's table edges and the rows' records are
    // in the store (queued, then linked by this read).
    let f = provenance::function_id(module_path!(), "handler").unwrap();
    let read = store.related(f.as_str());
    assert!(
        read.iter().any(|a| a.as_str() == "tbl:items")
            && read.iter().any(|a| a.as_str() == "rec:items:100"),
        "{read:?}"
    );
}

criterion_group!(benches, bench_recording);
criterion_main!(benches);

//! The instrumented pool must not change the host: the same battery of queries runs through
//! the raw sqlx pool and through ours, on real PostgreSQL, MariaDB and SQLite, and every
//! result, row and error kind must be identical.

mod common;

use futures_util::TryStreamExt;
use provenance::Store;
use provenance::context::{Context, scope};
use sqlx::{AssertSqlSafe, Row};

#[derive(Clone, Copy, PartialEq)]
enum Db {
    Postgres,
    MySql,
    Sqlite,
}

/// `$1`-style placeholders are written once; MySQL and SQLite get `?`.
fn sql(db: Db, table: &str, text: &str) -> AssertSqlSafe<String> {
    let mut s = text.replace("{t}", table);
    if db != Db::Postgres {
        for n in (1..=9).rev() {
            s = s.replace(&format!("${n}"), "?");
        }
    }
    AssertSqlSafe(s)
}

/// What a host would see of an error: its kind and the database's code, not the message
/// (which names the table, and the two runs use different tables).
fn outcome<T: std::fmt::Debug>(result: Result<T, sqlx::Error>) -> String {
    match result {
        Ok(v) => format!("ok {v:?}"),
        Err(sqlx::Error::Database(e)) => format!("db error {:?} code {:?}", e.kind(), e.code()),
        // The variant's name, without its payload (which may name the table).
        Err(e) => format!(
            "error {}",
            format!("{e:?}")
                .split(|c: char| !c.is_alphanumeric())
                .next()
                .unwrap_or_default()
        ),
    }
}

/// The battery. A macro rather than a generic function: the raw and the instrumented pool,
/// their transactions and their results are different types with the same methods.
macro_rules! battery {
    ($pool:expr, $db:expr, $table:expr) => {{
        let pool = &$pool;
        let db: Db = $db;
        let t: &str = $table;
        let q = |text: &str| sql(db, t, text);
        let mut out: Vec<String> = Vec::new();
        let text_type = if db == Db::MySql { "VARCHAR(40)" } else { "TEXT" };
        let create = format!(
            "CREATE TABLE {{t}} (id BIGINT PRIMARY KEY, name {text_type} NOT NULL UNIQUE, qty BIGINT)"
        );
        out.push(outcome(sqlx::query(q(&create)).execute(pool).await.map(|r| r.rows_affected())));
        for (id, name) in [(1i64, "a"), (2, "b"), (3, "c")] {
            let r = sqlx::query(q("INSERT INTO {t} (id, name, qty) VALUES ($1, $2, $3)"))
                .bind(id)
                .bind(name)
                .bind(id * 10)
                .execute(pool)
                .await;
            out.push(outcome(r.map(|r| r.rows_affected())));
        }
        // Reads: all rows, one row, no row, a missing row with fetch_one, a scalar.
        let rows = sqlx::query(q("SELECT id, name, qty FROM {t} ORDER BY id"))
            .fetch_all(pool)
            .await
            .map(|rows| {
                rows.iter()
                    .map(|r| (r.get::<i64, _>(0), r.get::<String, _>(1), r.get::<Option<i64>, _>(2)))
                    .collect::<Vec<_>>()
            });
        out.push(outcome(rows));
        let one = sqlx::query(q("SELECT name FROM {t} WHERE id = $1"))
            .bind(2i64)
            .fetch_optional(pool)
            .await
            .map(|r| r.map(|r| r.get::<String, _>(0)));
        out.push(outcome(one));
        let none = sqlx::query(q("SELECT name FROM {t} WHERE id = $1"))
            .bind(99i64)
            .fetch_optional(pool)
            .await
            .map(|r| r.is_some());
        out.push(outcome(none));
        let missing = sqlx::query(q("SELECT name FROM {t} WHERE id = $1"))
            .bind(99i64)
            .fetch_one(pool)
            .await
            .map(|r| r.get::<String, _>(0));
        out.push(outcome(missing));
        let count: Result<i64, _> = sqlx::query_scalar(q("SELECT COUNT(*) FROM {t}"))
            .fetch_one(pool)
            .await;
        out.push(outcome(count));
        // Errors: a unique violation, a syntax error, a missing table.
        let dup = sqlx::query(q("INSERT INTO {t} (id, name) VALUES ($1, $2)"))
            .bind(4i64)
            .bind("a")
            .execute(pool)
            .await;
        out.push(outcome(dup.map(|r| r.rows_affected())));
        let syntax = sqlx::query(q("SELEC id FROM {t}")).execute(pool).await;
        out.push(outcome(syntax.map(|r| r.rows_affected())));
        let no_table = sqlx::query(q("SELECT id FROM {t}_missing")).fetch_all(pool).await;
        out.push(outcome(no_table.map(|r| r.len())));
        // Writes: UPDATE, DELETE, INSERT ... RETURNING (MariaDB has it for INSERT too).
        let update = sqlx::query(q("UPDATE {t} SET qty = qty + 1 WHERE id >= $1"))
            .bind(2i64)
            .execute(pool)
            .await;
        out.push(outcome(update.map(|r| r.rows_affected())));
        let returning = sqlx::query(q("INSERT INTO {t} (id, name, qty) VALUES ($1, $2, $3) RETURNING id, name"))
            .bind(5i64)
            .bind("e")
            .bind(50i64)
            .fetch_one(pool)
            .await
            .map(|r| (r.get::<i64, _>(0), r.get::<String, _>(1)));
        out.push(outcome(returning));
        let delete = sqlx::query(q("DELETE FROM {t} WHERE id = $1")).bind(5i64).execute(pool).await;
        out.push(outcome(delete.map(|r| r.rows_affected())));
        // A stream dropped after its first row; the pool must still work after it.
        {
            let mut stream = sqlx::query(q("SELECT id FROM {t} ORDER BY id")).fetch(pool);
            let first = stream.try_next().await.map(|r| r.map(|r| r.get::<i64, _>(0)));
            out.push(outcome(first));
        }
        // Transactions: rolled back (explicitly, and by drop), and committed.
        {
            let mut tx = pool.begin().await.expect("begin");
            let r = sqlx::query(q("INSERT INTO {t} (id, name) VALUES ($1, $2)"))
                .bind(6i64)
                .bind("f")
                .execute(&mut *tx)
                .await;
            out.push(outcome(r.map(|r| r.rows_affected())));
            out.push(outcome(tx.rollback().await));
        }
        {
            let mut tx = pool.begin().await.expect("begin");
            let r = sqlx::query(q("INSERT INTO {t} (id, name) VALUES ($1, $2)"))
                .bind(7i64)
                .bind("g")
                .execute(&mut *tx)
                .await;
            out.push(outcome(r.map(|r| r.rows_affected())));
            drop(tx);
        }
        {
            let mut tx = pool.begin().await.expect("begin");
            let r = sqlx::query(q("INSERT INTO {t} (id, name) VALUES ($1, $2)"))
                .bind(8i64)
                .bind("h")
                .execute(&mut *tx)
                .await;
            out.push(outcome(r.map(|r| r.rows_affected())));
            // An error inside a transaction, then commit.
            let dup = sqlx::query(q("INSERT INTO {t} (id, name) VALUES ($1, $2)"))
                .bind(9i64)
                .bind("h")
                .execute(&mut *tx)
                .await;
            out.push(outcome(dup.map(|r| r.rows_affected())));
            out.push(outcome(tx.commit().await));
        }
        let ids: Result<Vec<i64>, _> = sqlx::query_scalar(q("SELECT id FROM {t} ORDER BY id"))
            .fetch_all(pool)
            .await;
        out.push(outcome(ids));
        // A connection taken from the pool.
        {
            let mut conn = pool.acquire().await.expect("acquire");
            let n: Result<i64, _> = sqlx::query_scalar(q("SELECT COUNT(*) FROM {t} WHERE id < $1"))
                .bind(3i64)
                .fetch_one(&mut *conn)
                .await;
            out.push(outcome(n));
        }
        // Several statements in one string, without arguments.
        if db != Db::MySql {
            let many = sqlx::raw_sql(q("UPDATE {t} SET qty = 0 WHERE id = 1; SELECT id FROM {t} WHERE qty = 0"))
                .fetch_all(pool)
                .await
                .map(|rows| rows.len());
            out.push(outcome(many));
        }
        out.push(outcome(sqlx::query(q("DROP TABLE {t}")).execute(pool).await.map(|_| ())));
        out
    }};
}

fn request() -> Context {
    Context::from_iter([("request_id", "req:transparency")])
}

fn print(label: &str, outcomes: &[String]) {
    for (i, o) in outcomes.iter().enumerate() {
        println!("{label} {i:2}: {o}");
    }
}

#[tokio::test]
async fn postgres_gives_the_same_results_through_the_instrumented_pool() {
    let Some(raw) = common::postgres("transparency::postgres").await else {
        return;
    };
    let store = Store::new();
    let ours = provenance_sqlx::PgPool::new(raw.clone(), store.clone());
    // Both inside a request, so that ours has an actor to record against.
    let a = scope(request(), async {
        battery!(raw, Db::Postgres, &common::unique("tr_raw"))
    })
    .await;
    let b = scope(request(), async {
        battery!(ours, Db::Postgres, &common::unique("tr_obs"))
    })
    .await;
    print("raw", &a);
    print("ours", &b);
    assert_eq!(a, b);
    assert!(a.iter().any(|o| o.contains("UniqueViolation")), "{a:?}");
    assert!(
        store.stats().edges > 0,
        "the instrumented pool recorded nothing"
    );
}

#[tokio::test]
async fn mariadb_gives_the_same_results_through_the_instrumented_pool() {
    let Some(raw) = common::mysql("transparency::mariadb").await else {
        return;
    };
    let store = Store::new();
    let ours = provenance_sqlx::MySqlPool::new(raw.clone(), store.clone());
    // Both inside a request, so that ours has an actor to record against.
    let a = scope(request(), async {
        battery!(raw, Db::MySql, &common::unique("tr_raw"))
    })
    .await;
    let b = scope(request(), async {
        battery!(ours, Db::MySql, &common::unique("tr_obs"))
    })
    .await;
    print("raw", &a);
    print("ours", &b);
    assert_eq!(a, b);
    assert!(a.iter().any(|o| o.contains("UniqueViolation")), "{a:?}");
    assert!(
        store.stats().edges > 0,
        "the instrumented pool recorded nothing"
    );
}

#[tokio::test]
async fn sqlite_gives_the_same_results_through_the_instrumented_pool() {
    // Two databases: SQLite's `changes()` is per connection and stale after DDL, so both
    // runs must start from a fresh connection to be comparable.
    let raw = common::sqlite().await;
    let store = Store::new();
    let ours = provenance_sqlx::SqlitePool::new(common::sqlite().await, store.clone());
    // Both inside a request, so that ours has an actor to record against.
    let a = scope(request(), async {
        battery!(raw, Db::Sqlite, &common::unique("tr_raw"))
    })
    .await;
    let b = scope(request(), async {
        battery!(ours, Db::Sqlite, &common::unique("tr_obs"))
    })
    .await;
    print("raw", &a);
    print("ours", &b);
    assert_eq!(a, b);
    assert!(a.iter().any(|o| o.contains("UniqueViolation")), "{a:?}");
    assert!(
        store.stats().edges > 0,
        "the instrumented pool recorded nothing"
    );
}

//! The result's layout is taken out of the observation while a row is noted. Rows of
//! three result tables (integer key, text key, composite key), more than several batches of
//! them, read to the end and dropped part way: every record seen is linked, on the first
//! query (layout worked out) and on later ones (layout cached).

mod common;

use common::targets;
use futures_util::TryStreamExt;
use provenance::context::{Context, scope};
use provenance::{Relation, Store};

fn request(id: &str) -> Context {
    Context::from_iter([("request_id", format!("req:{id}"))])
}

fn by_table(store: &Store, from: &str) -> [usize; 3] {
    let t = targets(store, from, Relation::Read);
    let n = |p: &str| t.iter().filter(|s| s.starts_with(p)).count();
    [n("rec:a:"), n("rec:b:"), n("rec:c:")]
}

const SQL: &str = "SELECT a.id, b.code, c.x, c.y, a.v FROM a JOIN b ON b.code = 'k' || a.id \
                   JOIN c ON c.x = a.id ORDER BY a.id";

#[tokio::test]
async fn every_record_seen_is_linked_however_the_result_ends() {
    let store = Store::new();
    let pool = provenance_sqlx::SqlitePool::new(common::sqlite().await, store.clone());
    sqlx::raw_sql(
        "CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT);
         CREATE TABLE b (code TEXT PRIMARY KEY);
         CREATE TABLE c (x INTEGER, y TEXT, PRIMARY KEY (x, y));
         WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 300)
         INSERT INTO a SELECT i, 'v' FROM s;
         INSERT INTO b SELECT 'k' || id FROM a;
         INSERT INTO c SELECT id, 'y' FROM a;",
    )
    .execute(&pool)
    .await
    .unwrap();
    for round in 0..3 {
        // To the end.
        let id = format!("all{round}");
        scope(request(&id), async {
            let rows = sqlx::query(SQL).fetch_all(&pool).await.unwrap();
            assert_eq!(rows.len(), 300);
        })
        .await;
        assert_eq!(
            by_table(&store, &format!("req:{id}")),
            [300, 300, 300],
            "{id}"
        );
        // A stream dropped after 150 rows (two full batches of 64 and 22 more).
        let id = format!("part{round}");
        scope(request(&id), async {
            let mut stream = sqlx::query(SQL).fetch(&pool);
            for _ in 0..150 {
                stream.try_next().await.unwrap().unwrap();
            }
            drop(stream);
        })
        .await;
        assert_eq!(
            by_table(&store, &format!("req:{id}")),
            [150, 150, 150],
            "{id}"
        );
    }
}

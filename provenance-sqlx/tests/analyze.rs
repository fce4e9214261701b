//! What `analyze` reports for each kind of SQL the module docs name: one table of cases per
//! rule.

use provenance_sqlx::{Dialect, Effect, analyze, cache_key};

use Dialect::{Generic, MySql, Postgres, Sqlite};

/// One SQL text and what it must analyse to. Empty lists mean "nothing".
struct Case {
    dialect: Dialect,
    sql: &'static str,
    reads: &'static [&'static str],
    writes: &'static [&'static str],
    /// `None`: not checked.
    columns: Option<&'static [&'static str]>,
}

const fn case(
    dialect: Dialect,
    sql: &'static str,
    reads: &'static [&'static str],
    writes: &'static [&'static str],
) -> Case {
    Case {
        dialect,
        sql,
        reads,
        writes,
        columns: None,
    }
}

const fn cols(
    dialect: Dialect,
    sql: &'static str,
    reads: &'static [&'static str],
    writes: &'static [&'static str],
    columns: &'static [&'static str],
) -> Case {
    Case {
        dialect,
        sql,
        reads,
        writes,
        columns: Some(columns),
    }
}

fn check(cases: &[Case]) {
    let mut failures = Vec::new();
    for case in cases {
        let analysis = match analyze(case.sql, case.dialect) {
            Ok(analysis) => analysis,
            Err(e) => {
                failures.push(format!("{:?} {}\n  error: {e}", case.dialect, case.sql));
                continue;
            }
        };
        let reads: Vec<String> = analysis.reads().map(ToString::to_string).collect();
        let writes: Vec<String> = analysis.writes().map(ToString::to_string).collect();
        let columns: Vec<String> = analysis
            .written_columns()
            .map(ToString::to_string)
            .collect();
        let mut expect_reads: Vec<&str> = case.reads.to_vec();
        let mut expect_writes: Vec<&str> = case.writes.to_vec();
        expect_reads.sort_unstable();
        expect_writes.sort_unstable();
        let mut sorted_reads = reads.clone();
        let mut sorted_writes = writes.clone();
        sorted_reads.sort_unstable();
        sorted_writes.sort_unstable();
        let columns_ok = case.columns.is_none_or(|want| {
            let mut want = want.to_vec();
            want.sort_unstable();
            let mut got = columns.clone();
            got.sort_unstable();
            got == want
        });
        if sorted_reads != expect_reads || sorted_writes != expect_writes || !columns_ok {
            failures.push(format!(
                "{:?} {}\n  reads  {reads:?}, want {:?}\n  writes {writes:?}, want {:?}\n  \
                 columns {columns:?}, want {:?}",
                case.dialect, case.sql, case.reads, case.writes, case.columns
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn select_with_joins() {
    check(&[
        case(Postgres, "SELECT * FROM orders", &["orders"], &[]),
        case(
            Postgres,
            "SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id",
            &["orders", "customers"],
            &[],
        ),
        case(
            Postgres,
            "SELECT * FROM a LEFT JOIN b ON a.id = b.a_id RIGHT JOIN c ON c.id = b.c_id \
             FULL OUTER JOIN d USING (id) CROSS JOIN e NATURAL JOIN f",
            &["a", "b", "c", "d", "e", "f"],
            &[],
        ),
        case(
            MySql,
            "SELECT * FROM a, b, c WHERE a.id = b.id",
            &["a", "b", "c"],
            &[],
        ),
        case(
            Sqlite,
            "SELECT p.name, m.name FROM people p JOIN people m ON m.id = p.manager_id",
            &["people"],
            &[],
        ),
        case(
            MySql,
            "SELECT * FROM a STRAIGHT_JOIN b ON a.id = b.id",
            &["a", "b"],
            &[],
        ),
        case(Postgres, "SELECT 1", &[], &[]),
        case(
            Postgres,
            "SELECT * FROM orders FOR UPDATE SKIP LOCKED",
            &["orders"],
            &[],
        ),
    ]);
}

#[test]
fn subqueries_everywhere() {
    check(&[
        case(
            Postgres,
            "SELECT * FROM (SELECT * FROM orders WHERE total > 10) big",
            &["orders"],
            &[],
        ),
        case(
            Postgres,
            "SELECT * FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE vip)",
            &["orders", "customers"],
            &[],
        ),
        case(
            Postgres,
            "SELECT * FROM orders o WHERE EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = o.id) \
             AND NOT EXISTS (SELECT 1 FROM disputes d WHERE d.order_id = o.id)",
            &["orders", "refunds", "disputes"],
            &[],
        ),
        case(
            Postgres,
            "SELECT o.id, (SELECT count(*) FROM items i WHERE i.order_id = o.id) AS n FROM orders o",
            &["orders", "items"],
            &[],
        ),
        case(
            Postgres,
            "SELECT customer_id FROM orders GROUP BY customer_id \
             HAVING sum(total) > (SELECT avg(total) FROM order_totals)",
            &["orders", "order_totals"],
            &[],
        ),
        case(
            Postgres,
            "SELECT * FROM orders WHERE total > ANY (SELECT limit_cents FROM limits)",
            &["orders", "limits"],
            &[],
        ),
        case(
            Postgres,
            "SELECT * FROM customers c, LATERAL (SELECT * FROM orders o WHERE o.customer_id = c.id \
             ORDER BY o.created_at DESC LIMIT 1) last",
            &["customers", "orders"],
            &[],
        ),
        case(
            MySql,
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM bans WHERE user_id = u.id) THEN 'x' END \
             FROM users u ORDER BY (SELECT max(at) FROM logins l WHERE l.user_id = u.id)",
            &["bans", "users", "logins"],
            &[],
        ),
        case(
            Sqlite,
            "SELECT coalesce((SELECT name FROM a WHERE a.id = 1), (SELECT name FROM b LIMIT 1))",
            &["a", "b"],
            &[],
        ),
        case(
            Postgres,
            "SELECT * FROM t WHERE x IN (SELECT x FROM (SELECT x FROM (SELECT x FROM deep) d2) d1)",
            &["t", "deep"],
            &[],
        ),
        case(
            Postgres,
            "SELECT array(SELECT id FROM tags), sum(x) FILTER (WHERE x IN (SELECT x FROM f)) \
             OVER (PARTITION BY (SELECT 1 FROM w LIMIT 1)) FROM t",
            &["tags", "f", "w", "t"],
            &[],
        ),
    ]);
}

#[test]
fn parenthesised_and_nested_joins() {
    check(&[
        case(
            Postgres,
            "SELECT * FROM (a JOIN b ON a.id = b.id) JOIN c ON c.id = a.id",
            &["a", "b", "c"],
            &[],
        ),
        case(
            Postgres,
            "SELECT * FROM ((a JOIN b ON true))",
            &["a", "b"],
            &[],
        ),
        case(
            MySql,
            "SELECT * FROM a JOIN (b JOIN (c JOIN d ON c.id = d.id) ON b.id = c.id) ON a.id = b.id",
            &["a", "b", "c", "d"],
            &[],
        ),
        case(
            Sqlite,
            "SELECT * FROM (a LEFT JOIN b ON a.x = b.x) AS ab WHERE ab.x IN (SELECT x FROM c)",
            &["a", "b", "c"],
            &[],
        ),
    ]);
}

#[test]
fn ctes_are_never_tables() {
    check(&[
        case(
            Postgres,
            "WITH recent AS (SELECT * FROM orders WHERE at > now() - interval '1 day') \
             SELECT * FROM recent",
            &["orders"],
            &[],
        ),
        case(
            Postgres,
            "WITH a AS (SELECT * FROM t1), b AS (SELECT * FROM a JOIN t2 USING (id)) SELECT * FROM b",
            &["t1", "t2"],
            &[],
        ),
        // A WITH inside a CTE, and one inside a subquery: each scope ends with its query.
        case(
            Postgres,
            "WITH outer_cte AS (WITH inner_cte AS (SELECT * FROM t1) SELECT * FROM inner_cte) \
             SELECT * FROM outer_cte",
            &["t1"],
            &[],
        ),
        case(
            Postgres,
            "SELECT * FROM (WITH x AS (SELECT * FROM t1) SELECT * FROM x) s JOIN x ON x.id = s.id",
            &["t1", "x"],
            &[],
        ),
        case(
            Postgres,
            "WITH RECURSIVE tree AS (SELECT id, parent_id FROM nodes WHERE id = $1 \
             UNION ALL SELECT n.id, n.parent_id FROM nodes n JOIN tree t ON n.parent_id = t.id) \
             SELECT * FROM tree",
            &["nodes"],
            &[],
        ),
        case(
            MySql,
            "WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 10) \
             SELECT n FROM seq",
            &[],
            &[],
        ),
        case(
            Sqlite,
            "WITH RECURSIVE a AS (SELECT 1 AS x UNION ALL SELECT x + 1 FROM b WHERE x < 5), \
             b AS (SELECT x FROM a UNION ALL SELECT x FROM base) SELECT * FROM a",
            &["base"],
            &[],
        ),
        // Data-modifying CTEs write their targets, referred to or not.
        case(
            Postgres,
            "WITH moved AS (DELETE FROM inbox WHERE done RETURNING *) \
             INSERT INTO archive SELECT * FROM moved",
            &[],
            &["inbox", "archive"],
        ),
        case(
            Postgres,
            "WITH x AS (INSERT INTO audit (what) SELECT name FROM events RETURNING id) SELECT 1",
            &["events"],
            &["audit"],
        ),
        case(
            Postgres,
            "WITH u AS (UPDATE stock SET qty = qty - 1 WHERE sku = $1 RETURNING sku) \
             SELECT * FROM u JOIN products p ON p.sku = u.sku",
            &["products"],
            &["stock"],
        ),
        // A CTE nothing refers to does not run: its reads are not reported.
        case(
            Postgres,
            "WITH unused AS (SELECT * FROM secret), used AS (SELECT * FROM public_data) \
             SELECT * FROM used",
            &["public_data"],
            &[],
        ),
        // A CTE shadows a table of its name; in its own (non-recursive) body the name is the
        // table; qualified, it is always the table.
        case(
            Postgres,
            "WITH orders AS (SELECT * FROM orders WHERE status = 'open') \
             SELECT * FROM orders JOIN public.orders po ON po.id = orders.id",
            &["orders", "public.orders"],
            &[],
        ),
        case(
            Postgres,
            "WITH customers AS (SELECT 1 AS id) SELECT * FROM customers",
            &[],
            &[],
        ),
        case(
            Postgres,
            "WITH c AS (SELECT id FROM customers) SELECT * FROM orders WHERE customer_id IN \
             (SELECT id FROM c)",
            &["customers", "orders"],
            &[],
        ),
        case(
            Postgres,
            "WITH \"Mixed\" AS (SELECT * FROM t1) SELECT * FROM \"Mixed\", mixed",
            &["t1", "mixed"],
            &[],
        ),
    ]);
}

#[test]
fn inserts() {
    check(&[
        cols(
            Postgres,
            "INSERT INTO orders (customer_id, total) VALUES ($1, $2), ($3, $4)",
            &[],
            &["orders"],
            &["orders.customer_id", "orders.total"],
        ),
        cols(
            Postgres,
            "INSERT INTO orders VALUES (1, 2)",
            &[],
            &["orders"],
            &[],
        ),
        cols(
            Postgres,
            "INSERT INTO orders (customer_id, total) \
             VALUES ((SELECT id FROM customers WHERE email = $1), (SELECT price FROM prices LIMIT 1))",
            &["customers", "prices"],
            &["orders"],
            &["orders.customer_id", "orders.total"],
        ),
        cols(
            Postgres,
            "INSERT INTO archive (id, body) SELECT id, body FROM messages WHERE at < $1",
            &["messages"],
            &["archive"],
            &["archive.id", "archive.body"],
        ),
        cols(
            Postgres,
            "INSERT INTO counters AS c (name, hits) VALUES ($1, 1) \
             ON CONFLICT (name) DO UPDATE SET hits = c.hits + 1, seen = now() \
             WHERE c.name NOT IN (SELECT name FROM frozen)",
            &["frozen"],
            &["counters"],
            &["counters.hits", "counters.name", "counters.seen"],
        ),
        cols(
            Postgres,
            "INSERT INTO counters (name) VALUES ($1) ON CONFLICT DO NOTHING",
            &[],
            &["counters"],
            &["counters.name"],
        ),
        cols(
            Sqlite,
            "INSERT INTO kv (k, v) VALUES (?1, ?2) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
            &[],
            &["kv"],
            &["kv.k", "kv.v"],
        ),
        cols(
            MySql,
            "INSERT INTO stats (day, hits) VALUES (?, 1) ON DUPLICATE KEY UPDATE hits = hits + \
             VALUES(hits), last = (SELECT max(at) FROM log)",
            &["log"],
            &["stats"],
            &["stats.day", "stats.hits", "stats.last"],
        ),
        cols(
            MySql,
            "REPLACE INTO sessions (id, data) VALUES (?, ?)",
            &[],
            &["sessions"],
            &["sessions.id", "sessions.data"],
        ),
        cols(
            MySql,
            "INSERT INTO users SET name = ?, email = ?",
            &[],
            &["users"],
            &["users.name", "users.email"],
        ),
        cols(
            Sqlite,
            "INSERT OR REPLACE INTO cache (key, value) SELECT key, value FROM staging",
            &["staging"],
            &["cache"],
            &["cache.key", "cache.value"],
        ),
        case(
            Postgres,
            "INSERT INTO t SELECT * FROM t WHERE id = $1",
            &["t"],
            &["t"],
        ),
    ]);
}

#[test]
fn updates() {
    check(&[
        cols(
            Postgres,
            "UPDATE orders SET status = $1, updated_at = now() WHERE id = $2",
            &[],
            &["orders"],
            &["orders.status", "orders.updated_at"],
        ),
        cols(
            Postgres,
            "UPDATE orders o SET total = o.total + p.amount FROM payments p WHERE p.order_id = o.id",
            &["payments"],
            &["orders"],
            &["orders.total"],
        ),
        cols(
            Postgres,
            "UPDATE inventory SET qty = qty - (SELECT sum(n) FROM picks WHERE picks.sku = \
             inventory.sku) WHERE sku IN (SELECT sku FROM skus WHERE active)",
            &["picks", "skus"],
            &["inventory"],
            &["inventory.qty"],
        ),
        cols(
            MySql,
            "UPDATE orders o JOIN customers c ON c.id = o.customer_id SET o.vip = c.vip, \
             o.seen = NOW() WHERE c.id = ?",
            &["customers"],
            &["orders"],
            &["orders.vip", "orders.seen"],
        ),
        cols(
            MySql,
            "UPDATE a INNER JOIN b ON a.id = b.id SET a.x = 1, b.y = 2",
            &[],
            &["a", "b"],
            &["a.x", "b.y"],
        ),
        cols(
            MySql,
            "UPDATE a JOIN b ON a.id = b.id SET x = 1",
            &["b"],
            &["a"],
            &[],
        ),
        cols(
            Postgres,
            "UPDATE accounts SET (balance, at) = (SELECT sum(x), now() FROM ledger) WHERE id = 1",
            &["ledger"],
            &["accounts"],
            &["accounts.at", "accounts.balance"],
        ),
        cols(
            Sqlite,
            "UPDATE t SET a = ?1 FROM (SELECT id FROM u) AS s WHERE s.id = t.id",
            &["u"],
            &["t"],
            &["t.a"],
        ),
        case(
            Postgres,
            "WITH bad AS (SELECT id FROM flags) UPDATE users SET banned = true \
             WHERE id IN (SELECT id FROM bad)",
            &["flags"],
            &["users"],
        ),
    ]);
}

#[test]
fn deletes() {
    check(&[
        case(
            Postgres,
            "DELETE FROM sessions WHERE expires < now()",
            &[],
            &["sessions"],
        ),
        case(
            Postgres,
            "DELETE FROM orders o USING customers c WHERE c.id = o.customer_id AND c.gone",
            &["customers"],
            &["orders"],
        ),
        case(
            MySql,
            "DELETE o FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.gone",
            &["customers"],
            &["orders"],
        ),
        case(
            MySql,
            "DELETE t1, t2 FROM t1 INNER JOIN t2 INNER JOIN t3 WHERE t1.id = t2.id AND t2.id = t3.id",
            &["t3"],
            &["t1", "t2"],
        ),
        case(
            MySql,
            "DELETE FROM t1, t2 USING t1 INNER JOIN t2 INNER JOIN t3 \
             WHERE t1.id = t2.id AND t2.id = t3.id",
            &["t3"],
            &["t1", "t2"],
        ),
        case(
            Sqlite,
            "DELETE FROM logs WHERE id IN (SELECT id FROM logs ORDER BY at LIMIT 100)",
            &["logs"],
            &["logs"],
        ),
        case(
            MySql,
            "DELETE FROM queue WHERE id = ? ORDER BY id LIMIT 1",
            &[],
            &["queue"],
        ),
    ]);
}

#[test]
fn merges() {
    check(&[
        cols(
            Postgres,
            "MERGE INTO stock s USING deliveries d ON s.sku = d.sku \
             WHEN MATCHED AND d.qty = 0 THEN DELETE \
             WHEN MATCHED THEN UPDATE SET qty = s.qty + d.qty, s.seen = now() \
             WHEN NOT MATCHED THEN INSERT (sku, qty) VALUES (d.sku, d.qty)",
            &["deliveries"],
            &["stock"],
            &["stock.qty", "stock.seen", "stock.sku"],
        ),
        case(
            Postgres,
            "MERGE INTO s.bar AS dest USING (SELECT * FROM s.foo WHERE x IN (SELECT x FROM s.baz)) \
             AS stg ON dest.d = stg.d WHEN NOT MATCHED THEN INSERT (a) VALUES (stg.a)",
            &["s.foo", "s.baz"],
            &["s.bar"],
        ),
    ]);
}

#[test]
fn set_operations() {
    check(&[
        case(
            Postgres,
            "SELECT id FROM a UNION SELECT id FROM b",
            &["a", "b"],
            &[],
        ),
        case(
            Postgres,
            "SELECT id FROM a UNION ALL SELECT id FROM b INTERSECT SELECT id FROM c \
             EXCEPT SELECT id FROM d",
            &["a", "b", "c", "d"],
            &[],
        ),
        case(
            MySql,
            "(SELECT id FROM a) UNION (SELECT id FROM b ORDER BY id LIMIT 5) ORDER BY id",
            &["a", "b"],
            &[],
        ),
        case(
            Sqlite,
            "SELECT x FROM a EXCEPT SELECT x FROM (SELECT x FROM b UNION SELECT x FROM c)",
            &["a", "b", "c"],
            &[],
        ),
    ]);
}

#[test]
fn ddl() {
    check(&[
        cols(
            Postgres,
            "CREATE TABLE IF NOT EXISTS Orders (Id bigserial PRIMARY KEY, \"Total\" int, \
             customer_id int REFERENCES customers (id))",
            &[],
            &["orders"],
            &["orders.id", "orders.Total", "orders.customer_id"],
        ),
        case(
            Postgres,
            "CREATE TABLE daily AS SELECT day, sum(total) FROM orders JOIN refunds USING (id) \
             GROUP BY day",
            &["orders", "refunds"],
            &["daily"],
        ),
        case(
            MySql,
            "CREATE TABLE backup LIKE orders",
            &["orders"],
            &["backup"],
        ),
        case(
            Postgres,
            "CREATE VIEW open_orders AS SELECT o.* FROM orders o WHERE NOT EXISTS \
             (SELECT 1 FROM shipments s WHERE s.order_id = o.id)",
            &["orders", "shipments"],
            &["open_orders"],
        ),
        case(
            Postgres,
            "CREATE MATERIALIZED VIEW totals AS SELECT sum(x) FROM facts",
            &["facts"],
            &["totals"],
        ),
        case(
            Postgres,
            "REFRESH MATERIALIZED VIEW totals",
            &[],
            &["totals"],
        ),
        cols(
            Postgres,
            "ALTER TABLE orders ADD COLUMN note text, ALTER COLUMN total SET NOT NULL",
            &[],
            &["orders"],
            &["orders.note", "orders.total"],
        ),
        cols(
            Postgres,
            "ALTER TABLE sales.orders RENAME COLUMN total TO total_cents",
            &[],
            &["sales.orders"],
            &["sales.orders.total", "sales.orders.total_cents"],
        ),
        case(
            Postgres,
            "ALTER TABLE sales.orders RENAME TO old_orders",
            &[],
            &["sales.orders", "sales.old_orders"],
        ),
        cols(
            MySql,
            "ALTER TABLE t MODIFY COLUMN a int, CHANGE COLUMN b c text, DROP COLUMN d",
            &[],
            &["t"],
            &["t.a", "t.b", "t.c", "t.d"],
        ),
        case(
            Postgres,
            "DROP TABLE IF EXISTS a, s.b, c CASCADE",
            &[],
            &["a", "s.b", "c"],
        ),
        case(Postgres, "DROP VIEW v1, v2", &[], &["v1", "v2"]),
        case(MySql, "DROP INDEX idx_total ON orders", &[], &["orders"]),
        case(Postgres, "DROP INDEX idx_total", &[], &[]),
        case(Postgres, "DROP SCHEMA sales CASCADE", &[], &[]),
        case(
            Postgres,
            "TRUNCATE TABLE a, b RESTART IDENTITY",
            &[],
            &["a", "b"],
        ),
        case(
            Sqlite,
            "CREATE UNIQUE INDEX idx ON users (email)",
            &[],
            &["users"],
        ),
        case(
            Postgres,
            "CREATE INDEX CONCURRENTLY idx ON sales.orders (lower(note)) WHERE total > 0",
            &[],
            &["sales.orders"],
        ),
        case(
            MySql,
            "RENAME TABLE a TO b, c TO d",
            &[],
            &["a", "b", "c", "d"],
        ),
        case(
            Postgres,
            "COPY orders (id, total) FROM STDIN",
            &[],
            &["orders"],
        ),
        case(Postgres, "COPY orders TO STDOUT", &["orders"], &[]),
        case(
            Postgres,
            "COPY (SELECT * FROM orders JOIN items USING (id)) TO STDOUT",
            &["orders", "items"],
            &[],
        ),
        case(
            Postgres,
            "SELECT * INTO TEMP snapshot FROM orders",
            &["orders"],
            &["snapshot"],
        ),
        case(
            MySql,
            "SELECT total INTO @t FROM orders WHERE id = 1",
            &["orders"],
            &[],
        ),
    ]);
}

#[test]
fn several_statements() {
    check(&[
        case(
            Postgres,
            "INSERT INTO a VALUES (1); UPDATE b SET x = 1; SELECT * FROM c; DELETE FROM d",
            &["c"],
            &["a", "b", "d"],
        ),
        case(
            MySql,
            "CREATE TABLE t (id int); INSERT INTO t SELECT id FROM src; DROP TABLE src",
            &["src"],
            &["t", "src"],
        ),
    ]);
    let analysis = analyze("SELECT 1; SELECT * FROM a; ;; SELECT 2", Postgres).unwrap();
    assert_eq!(analysis.statements(), 3);
}

#[test]
fn quoted_and_mixed_case_identifiers() {
    check(&[
        case(Postgres, "SELECT * FROM Orders", &["orders"], &[]),
        case(Postgres, "SELECT * FROM ORDERS", &["orders"], &[]),
        case(Postgres, "SELECT * FROM \"Orders\"", &["Orders"], &[]),
        case(
            Postgres,
            "SELECT * FROM \"orders\", Orders",
            &["orders"],
            &[],
        ),
        case(
            Postgres,
            "SELECT * FROM \"My Schema\".\"My.Table\"",
            &["My Schema.My.Table"],
            &[],
        ),
        case(
            Postgres,
            "SELECT * FROM Public.Orders",
            &["public.orders"],
            &[],
        ),
        case(
            Postgres,
            "SELECT * FROM db.Public.Orders",
            &["public.orders"],
            &[],
        ),
        case(
            MySql,
            "SELECT * FROM `Orders` JOIN `shop`.`Items`",
            &["Orders", "shop.Items"],
            &[],
        ),
        case(MySql, "SELECT * FROM Shop.ORDERS", &["shop.orders"], &[]),
        case(Sqlite, "SELECT * FROM [Order Items]", &["Order Items"], &[]),
        case(
            Sqlite,
            "SELECT * FROM \"Order Items\"",
            &["Order Items"],
            &[],
        ),
        case(Generic, "SELECT * FROM \"A\".b", &["A.b"], &[]),
        case(
            Postgres,
            "SELECT * FROM \"with\"\"quote\"",
            &["with\"quote"],
            &[],
        ),
        // Only ASCII letters fold, as in PostgreSQL with UTF-8.
        case(Postgres, "SELECT * FROM ÉTÉ", &["ÉtÉ"], &[]),
        cols(
            Postgres,
            "UPDATE \"Orders\" SET \"Total\" = 1, Note = 'x'",
            &[],
            &["Orders"],
            &["Orders.Total", "Orders.note"],
        ),
    ]);
}

#[test]
fn placeholders_of_each_dialect() {
    check(&[
        case(
            Postgres,
            "SELECT * FROM orders WHERE id = $1 AND shop = $2",
            &["orders"],
            &[],
        ),
        case(
            MySql,
            "SELECT * FROM orders WHERE id = ? AND shop = ?",
            &["orders"],
            &[],
        ),
        case(
            Sqlite,
            "SELECT * FROM orders WHERE id = ?",
            &["orders"],
            &[],
        ),
        case(
            Sqlite,
            "SELECT * FROM orders WHERE id = ?1 OR parent = ?1",
            &["orders"],
            &[],
        ),
        case(
            Sqlite,
            "SELECT * FROM orders WHERE id = :id",
            &["orders"],
            &[],
        ),
        case(
            Sqlite,
            "SELECT * FROM orders WHERE id = @id",
            &["orders"],
            &[],
        ),
        case(
            Sqlite,
            "SELECT * FROM orders WHERE id = $id",
            &["orders"],
            &[],
        ),
        case(
            Sqlite,
            "INSERT INTO t (a, b, c, d) VALUES (?, ?2, :c, @d)",
            &[],
            &["t"],
        ),
        case(
            Generic,
            "SELECT * FROM orders WHERE id = ?",
            &["orders"],
            &[],
        ),
    ]);
}

#[test]
fn transaction_and_session_statements_are_empty() {
    for (dialect, sql, statements) in [
        (Postgres, "BEGIN", 1),
        (Postgres, "BEGIN ISOLATION LEVEL SERIALIZABLE; COMMIT", 2),
        (Postgres, "START TRANSACTION READ ONLY", 1),
        (
            Postgres,
            "SAVEPOINT s1; RELEASE SAVEPOINT s1; ROLLBACK TO SAVEPOINT s1",
            3,
        ),
        (Postgres, "ROLLBACK", 1),
        (Postgres, "SET search_path TO app, public", 1),
        (Postgres, "SET LOCAL statement_timeout = '5s'", 1),
        (Postgres, "SHOW search_path", 1),
        (MySql, "START TRANSACTION", 1),
        (MySql, "SET autocommit = 0", 1),
        (MySql, "SET NAMES utf8mb4", 1),
        (MySql, "SHOW TABLES", 1),
        (Sqlite, "BEGIN IMMEDIATE", 1),
        (Sqlite, "COMMIT", 1),
        (Sqlite, "PRAGMA foreign_keys = 1", 1),
        (Postgres, "EXPLAIN SELECT * FROM orders", 1),
        (Postgres, "", 0),
        (Postgres, " ;; -- nothing\n", 0),
    ] {
        let analysis = analyze(sql, dialect).unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(analysis.statements(), statements, "{sql}");
        assert_eq!(analysis.reads().count(), 0, "{sql}");
        assert_eq!(analysis.writes().count(), 0, "{sql}");
        assert_eq!(analysis.written_columns().count(), 0, "{sql}");
        assert!(analysis.rows().is_none(), "{sql}");
    }
}

#[test]
fn functions_in_from_are_not_tables() {
    check(&[
        case(
            Postgres,
            "SELECT * FROM generate_series(1, 10) AS g(n)",
            &[],
            &[],
        ),
        case(
            Postgres,
            "SELECT g.n, t.x FROM generate_series(1, (SELECT max(id) FROM big)) g(n) JOIN t ON t.id = g.n",
            &["big", "t"],
            &[],
        ),
        case(Sqlite, "SELECT j.value FROM json_each(?) AS j", &[], &[]),
        case(
            Sqlite,
            "SELECT t.id, j.value FROM t, json_each(t.tags) AS j",
            &["t"],
            &[],
        ),
        case(
            Postgres,
            "SELECT * FROM unnest($1::int[]) AS u(id)",
            &[],
            &[],
        ),
        case(
            Postgres,
            "SELECT * FROM users u, LATERAL jsonb_to_recordset(u.data) AS x(a int)",
            &["users"],
            &[],
        ),
    ]);
}

#[test]
fn use_sets_the_schema_of_later_tables() {
    check(&[
        case(
            MySql,
            "USE shop; SELECT * FROM orders JOIN other.items",
            &["shop.orders", "other.items"],
            &[],
        ),
        case(
            Generic,
            "SELECT * FROM a; USE s; INSERT INTO b SELECT * FROM c",
            &["a", "s.c"],
            &["s.b"],
        ),
    ]);
}

#[test]
fn bad_sql_is_an_error_not_a_panic() {
    for (dialect, sql) in [
        (Postgres, "SELEC 1"),
        (Postgres, "SELECT * FROM"),
        (MySql, "SELECT 'unterminated"),
        (Postgres, "$$$"),
        (Postgres, "WITH x (SELECT 1) SELECT * FROM x"),
    ] {
        let error = analyze(sql, dialect).unwrap_err();
        assert!(
            error.to_string().starts_with("cannot parse the sql: "),
            "{error}"
        );
    }
}

#[test]
fn nesting_beyond_the_recursion_limit_is_an_error() {
    let sql = format!("SELECT {}1{}", "(".repeat(200), ")".repeat(200));
    assert!(analyze(&sql, Postgres).is_err());
    let sql = format!("SELECT * FROM {}t{}", "(".repeat(200), ")".repeat(200));
    assert!(analyze(&sql, Postgres).is_err());
    let sql = format!("SELECT {} 1 {}", "(SELECT ".repeat(100), ")".repeat(100));
    assert!(analyze(&sql, MySql).is_err());
}

#[test]
fn long_operator_chains_are_analysed() {
    // Long enough to need the big-stack thread, which then also drops the tree.
    let mut sql = String::from("SELECT * FROM orders WHERE id = 0");
    for i in 1..50_000 {
        sql.push_str(&format!(" OR id = {i}"));
    }
    sql.push_str(" OR id IN (SELECT order_id FROM refunds)");
    let analysis = analyze(&sql, Postgres).unwrap();
    let reads: Vec<_> = analysis.reads().map(|t| t.name().to_owned()).collect();
    assert_eq!(reads, ["orders", "refunds"]);

    let sql = format!("SELECT 1{}", " UNION SELECT x FROM t".repeat(20_000));
    assert_eq!(analyze(&sql, Postgres).unwrap().reads().count(), 1);
}

/// Each case: SQL, the effect of its rows (`None`: no rows), and output names with the column
/// each must resolve to.
type RowsCase = (
    Dialect,
    &'static str,
    Option<Effect>,
    &'static [(&'static str, Option<&'static str>)],
);

#[test]
fn result_rows_and_their_sources() {
    use Effect::{Produced, Read};
    let cases: &[RowsCase] = &[
        (
            Postgres,
            "SELECT id, o.total, o.status AS state, public.orders.note FROM public.orders o2, orders o",
            Some(Read),
            &[
                ("id", None),
                ("total", Some("orders.total")),
                ("state", Some("orders.status")),
                ("note", None),
            ],
        ),
        (
            Postgres,
            "SELECT id, total AS t, (id) FROM orders",
            Some(Read),
            &[
                ("id", Some("orders.id")),
                ("t", Some("orders.total")),
                ("ID", Some("orders.id")),
            ],
        ),
        (
            Postgres,
            "SELECT public.orders.id FROM public.orders",
            Some(Read),
            &[("id", Some("public.orders.id"))],
        ),
        (
            Postgres,
            "SELECT * FROM orders",
            Some(Read),
            &[
                ("id", Some("orders.id")),
                ("anything", Some("orders.anything")),
                ("Mixed", Some("orders.Mixed")),
            ],
        ),
        (
            Postgres,
            "SELECT o.*, c.name AS customer, o.total * 2 AS double FROM orders o JOIN customers c \
             ON c.id = o.customer_id",
            Some(Read),
            &[
                ("customer", Some("customers.name")),
                ("double", None),
                ("id", Some("orders.id")),
            ],
        ),
        (
            Postgres,
            "SELECT * FROM orders o JOIN customers c ON c.id = o.customer_id",
            Some(Read),
            &[("id", None), ("name", None)],
        ),
        (
            Postgres,
            "SELECT o.*, c.* FROM orders o JOIN customers c ON c.id = o.customer_id",
            Some(Read),
            &[("id", None)],
        ),
        (
            Postgres,
            "SELECT a.id, b.id FROM a JOIN b ON a.x = b.x",
            Some(Read),
            &[("id", None)],
        ),
        (
            Postgres,
            "SELECT id, lower(name), name || 'x' AS n2, count(*) OVER () AS c FROM users",
            Some(Read),
            &[
                ("id", Some("users.id")),
                ("lower", None),
                ("n2", None),
                ("c", None),
            ],
        ),
        (
            Postgres,
            "SELECT id FROM (SELECT id FROM users) u",
            Some(Read),
            &[("id", None)],
        ),
        (
            Postgres,
            "WITH u AS (SELECT id FROM users) SELECT id, u.id AS uid FROM u",
            Some(Read),
            &[("id", None), ("uid", None)],
        ),
        (
            Postgres,
            "SELECT n FROM generate_series(1, 3) n",
            Some(Read),
            &[("n", None)],
        ),
        (
            Postgres,
            "SELECT u.id, g FROM users u, generate_series(1, 3) g",
            Some(Read),
            &[("id", Some("users.id")), ("g", None)],
        ),
        (
            Postgres,
            "SELECT id, (SELECT max(at) FROM logins) AS last FROM users ORDER BY id LIMIT 5",
            Some(Read),
            &[("id", Some("users.id")), ("last", None)],
        ),
        (Postgres, "SELECT count(*) FROM users", None, &[]),
        (
            Postgres,
            "SELECT id FROM users ORDER BY count(*)",
            None,
            &[],
        ),
        (
            Postgres,
            "SELECT coalesce(max(id), 0) FROM users",
            None,
            &[],
        ),
        (
            Postgres,
            "SELECT status FROM orders GROUP BY status",
            None,
            &[],
        ),
        (Postgres, "SELECT DISTINCT status FROM orders", None, &[]),
        (
            Postgres,
            "SELECT DISTINCT ON (customer_id) * FROM orders",
            None,
            &[],
        ),
        (
            Postgres,
            "SELECT id FROM a UNION SELECT id FROM b",
            None,
            &[],
        ),
        (Postgres, "SELECT id FROM a HAVING true", None, &[]),
        (Postgres, "SELECT * INTO copy FROM orders", None, &[]),
        (
            Sqlite,
            "SELECT id, max(a, b) AS m FROM t",
            Some(Read),
            &[("id", Some("t.id")), ("m", None)],
        ),
        (
            MySql,
            "SELECT Id, `Name` FROM Users",
            Some(Read),
            &[
                ("Id", Some("users.id")),
                ("Name", Some("users.Name")),
                ("NAME", Some("users.Name")),
            ],
        ),
        (
            Postgres,
            "INSERT INTO orders (total) VALUES ($1) RETURNING id, total AS t, now() AS at",
            Some(Produced),
            &[
                ("id", Some("orders.id")),
                ("t", Some("orders.total")),
                ("at", None),
            ],
        ),
        (
            Postgres,
            "INSERT INTO orders AS o (total) VALUES ($1) RETURNING o.id, *",
            Some(Produced),
            &[("id", Some("orders.id")), ("total", Some("orders.total"))],
        ),
        (
            Postgres,
            "UPDATE orders SET total = 0 WHERE id = $1 RETURNING *",
            Some(Produced),
            &[("status", Some("orders.status"))],
        ),
        (
            Postgres,
            "UPDATE orders o SET total = p.amount FROM payments p WHERE p.order_id = o.id \
             RETURNING o.id, p.amount, total",
            Some(Produced),
            &[("id", Some("orders.id")), ("amount", None), ("total", None)],
        ),
        (
            Postgres,
            "UPDATE orders SET total = 0 RETURNING old.total AS before, new.total AS after",
            Some(Produced),
            &[
                ("before", Some("orders.total")),
                ("after", Some("orders.total")),
            ],
        ),
        (
            Postgres,
            "DELETE FROM sessions WHERE expires < now() RETURNING id, user_id",
            Some(Produced),
            &[
                ("id", Some("sessions.id")),
                ("user_id", Some("sessions.user_id")),
            ],
        ),
        (
            Sqlite,
            "DELETE FROM jobs WHERE id = (SELECT id FROM jobs LIMIT 1) RETURNING *",
            Some(Produced),
            &[("payload", Some("jobs.payload"))],
        ),
        (
            Postgres,
            "WITH x AS (SELECT 1) INSERT INTO t (a) SELECT 1 FROM x RETURNING a",
            Some(Produced),
            &[("a", Some("t.a"))],
        ),
        (
            Postgres,
            "WITH moved AS (DELETE FROM inbox RETURNING *) SELECT * FROM moved",
            Some(Read),
            &[("id", None)],
        ),
        (Postgres, "INSERT INTO t (a) VALUES (1)", None, &[]),
        (Postgres, "UPDATE t SET a = 1", None, &[]),
        (Postgres, "SELECT * FROM a; UPDATE t SET a = 1", None, &[]),
        (
            Postgres,
            "UPDATE t SET a = 1; SELECT a FROM t",
            Some(Read),
            &[("a", Some("t.a"))],
        ),
        (Postgres, "SELECT * FROM orders; COMMIT", None, &[]),
        (Postgres, "VALUES (1, 2)", None, &[]),
        (
            Postgres,
            "(SELECT id FROM users) ORDER BY id",
            Some(Read),
            &[("id", Some("users.id"))],
        ),
    ];
    let mut failures = Vec::new();
    for (dialect, sql, effect, sources) in cases {
        let analysis = analyze(sql, *dialect).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let rows = analysis.rows();
        if rows.map(|r| r.effect()) != *effect {
            failures.push(format!(
                "{sql}\n  effect {:?}, want {effect:?}",
                rows.map(|r| r.effect())
            ));
            continue;
        }
        for (name, want) in *sources {
            let got = rows
                .and_then(|r| r.source_of(name))
                .map(ToString::to_string);
            if got.as_deref() != *want {
                failures.push(format!(
                    "{sql}\n  source_of({name}) = {got:?}, want {want:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn wildcard_names_are_remembered_per_rows_and_shareable() {
    let analysis = analyze("SELECT * FROM orders", Postgres).unwrap();
    let rows = analysis.rows().unwrap();
    let first: *const _ = rows.source_of("total").unwrap();
    let again: *const _ = rows.source_of("total").unwrap();
    assert_eq!(first, again, "the same name resolves to the same entry");
    std::thread::scope(|scope| {
        for t in 0..4 {
            scope.spawn(move || {
                for i in 0..200 {
                    let name = format!("c{}", (i * 7 + t) % 50);
                    assert_eq!(rows.source_of(&name).unwrap().column(), name);
                }
            });
        }
    });
    let clone = analysis.clone();
    assert_eq!(clone, analysis);
    assert_eq!(
        clone.rows().unwrap().source_of("x").unwrap().to_string(),
        "orders.x"
    );
}

#[test]
fn cache_key_keeps_the_analysis() {
    for (dialect, sql) in [
        (
            Postgres,
            "SELECT * FROM orders o WHERE o.id IN ($1, $2, $3) AND o.shop = $4",
        ),
        (MySql, "INSERT INTO t (a, b) VALUES (?, ?), (?, ?), (?, ?)"),
        (
            Sqlite,
            "DELETE FROM t WHERE (a, b) IN ((?, ?), (?, ?)) RETURNING a",
        ),
    ] {
        let key = cache_key(sql);
        assert_ne!(key, sql, "{sql}: something to collapse");
        assert_eq!(analyze(&key, dialect), analyze(sql, dialect), "{sql}");
    }
}

//! The table-level test cases of openlineage-sql, OpenLineage's SQL lineage parser, run
//! through `analyze`, with the exact-match rate printed and asserted.
//!
//! Ported from <https://github.com/OpenLineage/OpenLineage>, `integration/sql/impl/tests/`
//! (`table_lineage/*.rs`), Copyright 2018-2026 contributors to the OpenLineage project,
//! licensed under the Apache License, Version 2.0. Only the SQL inputs and the expected
//! input/output tables are taken, into the table below; the harness is ours.
//!
//! Which cases: every table-level case whose dialect is one we parse (their default,
//! `postgres`, and `generic` and `mysql`); the BigQuery, Snowflake, Hive, Redshift,
//! Databricks and MSSQL ones are left out, as are the column-lineage assertions. A list of
//! statements that their test passes separately is joined into one text, as the pool would see
//! a script.
//!
//! How the expectations are translated, by our documented rules (each case says which):
//! - `fold`: unquoted names fold to lower case (`TEST` is `test`); quoted names keep their
//!   text but are displayed without quotes (`"a1"."a2"` is `a1.a2`).
//! - `three`: of `db.schema.table` we keep `schema.table`.
//! - `use`: their database set by `USE db1` is, in our two-level names, the schema
//!   (`db1.my_table`); `USE db1.schema1` gives `schema1`.
//! - `rename`: `ALTER TABLE a RENAME TO b` writes both names; they read `a` and write `b`.
//! - `hive`: their test parses Hive's `INSERT OVERWRITE TABLE … PARTITION (…)` as `postgres`,
//!   which sqlparser 0.64's PostgreSQL dialect rejects; we run these with `Dialect::Generic`.
//!   The strict rate, with these run as PostgreSQL, is printed as well.
//!
//! Run with `cargo test -p provenance-sqlx --test analyze_corpus -- --nocapture` to see the
//! numbers.

use provenance_sqlx::{Dialect, analyze};

use Dialect::{Generic, MySql, Postgres};

enum Expect {
    Tables {
        reads: &'static [&'static str],
        writes: &'static [&'static str],
    },
    /// Their parser returns an error (and no lineage).
    Error,
}

struct Case {
    /// The name of their test function.
    name: &'static str,
    /// The dialect their test names.
    dialect: Dialect,
    /// The dialect we run it with, when different (see `hive` above).
    run_as: Option<Dialect>,
    sql: &'static str,
    expect: Expect,
    /// Which translations of their expectation apply (see above).
    translated: &'static [&'static str],
    /// Why we do not match, for the cases we get wrong.
    miss: Option<&'static str>,
}

const fn tables(
    name: &'static str,
    dialect: Dialect,
    sql: &'static str,
    reads: &'static [&'static str],
    writes: &'static [&'static str],
) -> Case {
    Case {
        name,
        dialect,
        run_as: None,
        sql,
        expect: Expect::Tables { reads, writes },
        translated: &[],
        miss: None,
    }
}

impl Case {
    const fn translated(mut self, how: &'static [&'static str]) -> Self {
        self.translated = how;
        self
    }

    const fn hive(mut self) -> Self {
        self.run_as = Some(Generic);
        self
    }

    const fn miss(mut self, why: &'static str) -> Self {
        self.miss = Some(why);
        self
    }

    const fn error(mut self) -> Self {
        self.expect = Expect::Error;
        self
    }

    fn exact(&self, dialect: Dialect) -> Result<(), String> {
        let got = analyze(self.sql, dialect);
        match (&self.expect, got) {
            (Expect::Error, Err(_)) => Ok(()),
            (Expect::Error, Ok(_)) => Err("parsed, expected an error".into()),
            (Expect::Tables { .. }, Err(e)) => Err(e.to_string()),
            (Expect::Tables { reads, writes }, Ok(analysis)) => {
                let sorted = |list: &[&str]| {
                    let mut list: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
                    list.sort();
                    list
                };
                let got_reads: Vec<String> = analysis.reads().map(|t| t.to_string()).collect();
                let got_writes: Vec<String> = analysis.writes().map(|t| t.to_string()).collect();
                if sorted(reads)
                    == sorted(&got_reads.iter().map(String::as_str).collect::<Vec<_>>())
                    && sorted(writes)
                        == sorted(&got_writes.iter().map(String::as_str).collect::<Vec<_>>())
                {
                    Ok(())
                } else {
                    Err(format!(
                        "reads {got_reads:?} (want {reads:?}), writes {got_writes:?} (want {writes:?})"
                    ))
                }
            }
        }
    }
}

#[test]
fn openlineage_table_lineage_corpus() {
    let cases = corpus();
    let total = cases.len();
    let mut exact = 0;
    let mut strict = 0;
    let mut wrong = Vec::new();
    for case in &cases {
        let result = case.exact(case.run_as.unwrap_or(case.dialect));
        if case.exact(case.dialect).is_ok() {
            strict += 1;
        }
        match (&result, case.miss) {
            (Ok(()), None) => exact += 1,
            (Ok(()), Some(_)) => wrong.push(format!("{}: matches now, drop its `miss`", case.name)),
            (Err(e), None) => wrong.push(format!("{}: {e}", case.name)),
            (Err(e), Some(why)) => println!("miss  {}: {why}\n      ({e})", case.name),
        }
    }
    let translated = cases.iter().filter(|c| !c.translated.is_empty()).count();
    println!(
        "openlineage-sql table corpus: {exact}/{total} exact ({:.1}%); {strict}/{total} ({:.1}%) \
         with every case in the dialect their test names; {translated} expectations translated",
        100.0 * exact as f64 / total as f64,
        100.0 * strict as f64 / total as f64,
    );
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
    assert!(exact as f64 >= 0.93 * total as f64, "{exact}/{total}");
}

fn corpus() -> Vec<Case> {
    vec![
        // ---- tests_select.rs ----
        tables("select_simple", Postgres, "SELECT * FROM table0;", &["table0"], &[]),
        tables(
            "select_from_schema_table",
            Postgres,
            "SELECT * FROM schema0.table0;",
            &["schema0.table0"],
            &[],
        ),
        tables(
            "select_join",
            Postgres,
            "SELECT col0, col1, col2 FROM table0 JOIN table1 ON t1.col0 = t2.col0",
            &["table0", "table1"],
            &[],
        ),
        tables(
            "select_inner_join",
            Postgres,
            "SELECT col0, col1, col2 FROM table0 INNER JOIN table1 ON t1.col0 = t2.col0",
            &["table0", "table1"],
            &[],
        ),
        tables(
            "select_left_join",
            Postgres,
            "SELECT col0, col1, col2 FROM table0 LEFT JOIN table1 ON t1.col0 = t2.col0",
            &["table0", "table1"],
            &[],
        ),
        tables(
            "select_into",
            Postgres,
            "SELECT * INTO table0 FROM table1;",
            &["table1"],
            &["table0"],
        ),
        tables(
            "select_with_table_generator",
            Postgres,
            "SELECT row_number() OVER (ORDER BY col) row_num, d
             FROM TABLE(GENERATOR(ROWCOUNT => (12 * 6)))
             JOIN test_schema.test_table ON test_table.d = row_number()",
            &["test_schema.test_table"],
            &[],
        ),
        tables(
            "select_window_function",
            Postgres,
            "SELECT row_number() OVER (ORDER BY dt DESC), \
             sum(foo) OVER (PARTITION BY a, b ORDER BY c, d \
             ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), \
             avg(bar) OVER (ORDER BY a \
             RANGE BETWEEN 1 PRECEDING AND 1 FOLLOWING), \
             sum(bar) OVER (ORDER BY a \
             RANGE BETWEEN INTERVAL '1' DAY PRECEDING AND INTERVAL '1 MONTH' FOLLOWING), \
             COUNT(*) OVER (ORDER BY a \
             RANGE BETWEEN INTERVAL '1 DAY' PRECEDING AND INTERVAL '1 DAY' FOLLOWING), \
             max(baz) OVER (ORDER BY a \
             ROWS UNBOUNDED PRECEDING), \
             sum(qux) OVER (ORDER BY a \
             GROUPS BETWEEN 1 PRECEDING AND 1 FOLLOWING) \
             FROM foo",
            &["foo"],
            &[],
        ),
        tables(
            "select_bq_array_function",
            Postgres,
            "SELECT l.LOCATION[offset(0)] AS my_city FROM my_bq_dataset.my_table_2 AS l",
            &["my_bq_dataset.my_table_2"],
            &[],
        ),
        // ---- tests_cte.rs ----
        tables(
            "parse_simple_cte",
            Postgres,
            "WITH sum_trans as (
                SELECT user_id, COUNT(*) as cnt, SUM(amount) as balance
                FROM transactions
                WHERE created_date > '2020-01-01'
                GROUP BY user_id
            )
            INSERT INTO potential_fraud (user_id, cnt, balance)
            SELECT user_id, cnt, balance
                FROM sum_trans
                WHERE count > 1000 OR balance > 100000;",
            &["transactions"],
            &["potential_fraud"],
        ),
        tables(
            "parse_bugged_cte",
            Postgres,
            "WITH sum_trans (
                SELECT user_id, COUNT(*) as cnt, SUM(amount) as balance
                FROM transactions
                WHERE created_date > '2020-01-01'
                GROUP BY user_id
            )
            INSERT INTO potential_fraud (user_id, cnt, balance)
            SELECT user_id, cnt, balance
            FROM sum_trans
            WHERE count > 1000 OR balance > 100000;",
            &[],
            &[],
        )
        .error(),
        tables(
            "parse_recursive_cte",
            Postgres,
            "WITH RECURSIVE subordinates AS
            (SELECT employee_id, manager_id, full_name
            FROM employees
            WHERE employee_id = 2
            UNION SELECT e.employee_id, e.manager_id, e.full_name
            FROM employees e
            INNER JOIN subordinates s ON s.employee_id = e.manager_id)
            INSERT INTO sub_employees (employee_id, manager_id, full_name)
            SELECT employee_id, manager_id, full_name FROM subordinates;",
            &["employees"],
            &["sub_employees"],
        ),
        tables(
            "multiple_ctes",
            Postgres,
            "WITH customers AS (
                SELECT * FROM DEMO_DB.public.stg_customers
            ),
            orders AS (
                SELECT * FROM DEMO_DB.public.stg_orders
            )
            SELECT *
            FROM customers c
            JOIN orders o
            ON c.id = o.customer_id",
            // Theirs: DEMO_DB.public.stg_customers, DEMO_DB.public.stg_orders.
            &["public.stg_customers", "public.stg_orders"],
            &[],
        )
        .translated(&["three"]),
        tables(
            "cte_insert_overwrite",
            Postgres,
            "WITH g_s AS (
              SELECT p_i, u_i, uk, started, COALESCE(stopped, updated) AS stopped,
                CASE WHEN started > MAX(
                  FROM_UNIXTIME(UNIX_TIMESTAMP(COALESCE(stopped, updated)) + 30)
                ) OVER(
                  PARTITION BY p_i, u_i, uk
                  ORDER BY started, COALESCE(stopped, updated) ROWS BETWEEN UNBOUNDED PRECEDING
                    AND 1 PRECEDING
                ) THEN 1 ELSE 0 END gr_st
              FROM d_n.f_p_s
              WHERE ds = 'ds'
            ),
            grps AS (
              SELECT p_i, u_i, uk, started, stopped,
                SUM(gr_st) OVER(PARTITION BY p_i, u_i, uk ORDER BY started, stopped) AS grp
              FROM g_s
            ) INSERT OVERWRITE TABLE dev_d_n.f_p_s_m PARTITION (ds = 'ds')
            SELECT grps.p_i, grps.u_i, grps.uk,
              MIN(grps.started) AS started, MIN(tps.joined) AS joined,
              MAX(grps.stopped) AS stopped, COLLECT_LIST(tps.id) AS s_i_l,
              COLLECT_LIST(tps.p_i_i) AS p_i_i_l
            FROM grps
              INNER JOIN d_n.f_p_s fps ON grps.p_i = tps.p_i
              AND grps.u_i = tps.u_i AND grps.uk = tps.uk AND tps.ds = 'ds'
              AND grps.started = tps.started
            GROUP BY grps.p_i, grps.u_i, grps.uk, grps.grp",
            &["d_n.f_p_s"],
            &["dev_d_n.f_p_s_m"],
        )
        .hive(),
        // ---- tests_insert.rs ----
        tables(
            "insert_values",
            Postgres,
            "INSERT INTO TEST VALUES(1)",
            // Theirs: TEST.
            &[],
            &["test"],
        )
        .translated(&["fold"]),
        tables(
            "insert_cols_values",
            Postgres,
            "INSERT INTO tbl(col1, col2) VALUES (1, 2), (2, 3)",
            &[],
            &["tbl"],
        ),
        tables(
            "insert_select_table",
            Postgres,
            "INSERT INTO TEST SELECT * FROM TEMP",
            // Theirs: TEMP, TEST.
            &["temp"],
            &["test"],
        )
        .translated(&["fold"]),
        tables(
            "insert_select_table_2",
            Postgres,
            r#"insert into "a1"."a2"
            select to_date(C_AT), dm.C_NAME, P, count(*)
            from "b1"."b2" as s
                     left join "m"."dim" as dm on (dm.m_id = s.m_id)
            where PROCESSED_AT = '2022-04-14'
            group by to_date(C_AT), dm.C_NAME, P
            ;"#,
            // Theirs: "b1"."b2", "m"."dim", "a1"."a2".
            &["b1.b2", "m.dim"],
            &["a1.a2"],
        )
        .translated(&["fold"]),
        tables(
            "insert_nested_select",
            Postgres,
            "INSERT INTO popular_orders_day_of_week (order_day_of_week, order_placed_on,orders_placed)
            SELECT EXTRACT(ISODOW FROM order_placed_on) AS order_day_of_week,
                order_placed_on,
                COUNT(*) AS orders_placed
            FROM top_delivery_times
            GROUP BY order_placed_on;",
            &["top_delivery_times"],
            &["popular_orders_day_of_week"],
        ),
        tables(
            "insert_overwrite_table",
            Postgres,
            "INSERT OVERWRITE TABLE schema.dps
            PARTITION (ds = '2022-03-30')
            SELECT pid, uid, pii_userid, NULL as session_id, NULL as session_start_ts,
                COUNT(1) AS session_cnt,
                SUM(UNIX_TIMESTAMP(stopped) - UNIX_TIMESTAMP(joined)) AS time_spent_sec
            FROM schema.fpsm
            WHERE ds = '2022-03-30'
                AND UNIX_TIMESTAMP(stopped) - UNIX_TIMESTAMP(joined) BETWEEN 0 AND 28800
            GROUP BY pid, uid, pii_userid",
            &["schema.fpsm"],
            &["schema.dps"],
        )
        .hive(),
        tables(
            "insert_overwrite_subqueries",
            Postgres,
            "INSERT OVERWRITE TABLE mytable
            PARTITION (ds = '2022-03-31')
            SELECT * FROM (SELECT * FROM table2) a",
            &["table2"],
            &["mytable"],
        )
        .hive(),
        tables(
            "insert_overwrite_multiple_subqueries",
            Postgres,
            "INSERT OVERWRITE TABLE mytable
            PARTITION (ds = '2022-03-31')
            SELECT * FROM
            (SELECT * FROM table2
             UNION
             SELECT * FROM table3
             UNION ALL
             SELECT * FROM table4) a",
            &["table2", "table3", "table4"],
            &["mytable"],
        )
        .hive(),
        tables(
            "insert_group_by",
            Postgres,
            r#"insert into "a1"."a2"
            select C_DT, C_NAME, U_C, U_M, U_SOURCE, P,
              IFF(U_SOURCE is NULL, 'abc', 'def') as D_TYPE,
              count(*)
            from "b1"."b2"
            where P_AT = '2022-04-14'
            group by C_DT, C_NAME, U_C, U_M, U_SOURCE, P, U_SOURCE;"#,
            // Theirs: "b1"."b2", "a1"."a2".
            &["b1.b2"],
            &["a1.a2"],
        )
        .translated(&["fold"]),
        tables(
            "insert_nested_with_select",
            Postgres,
            r#"insert into "a1"."a2" with a_b_c as (
              select created_dt, s_id, user_id, match_id, region, x
              from (
                  (
                    select created_dt, s_id, puuid as user_id,
                      cast(g_id as string) as match_id,
                      coalesce(region, '0') as region, 'A' as x
                    from "b1"."b2"
                    where processed_at = '2022-04-14'
                  )
                  union all
                  (
                    select created_dt, s_id, puuid as user_id,
                      cast(g_id as string) as match_id,
                      coalesce(region, '0') as region, 'B' as x
                    from "c1"."c2"
                    where processed_at = '2022-04-14'
                  )
                  union all
                  (
                    select created_dt, s_id, puuid as user_id, match_id,
                      coalesce(region, '0') as region, 'C' as x
                    from "d1"."d2"
                    where processed_at = '2022-04-14'
                  )
                  union all
                  (
                    select created_dt, s_id, s_id as user_id,
                      -- using s_id as proxy to puuid
                      match_id,
                      coalesce(region, '0') as region, 'D' as x
                    from "e1"."e2"
                    where processed_at = '2022-04-14'
                  )
                  union all
                  (
                    select created_dt, s_id, user_id, guid as match_id,
                      '0' as region, 'E' as x
                    from "f1"."f2"
                    where processed_at = '2022-04-14'
                  )
              )
              group by created_dt, s_id, user_id, match_id, region, x
            )
            select created_dt, region, x, count(*), count(distinct user_id)
            from a_b_c
            group by created_dt, region, x;"#,
            // Theirs: quoted, as "b1"."b2" … "a1"."a2".
            &["b1.b2", "c1.c2", "d1.d2", "e1.e2", "f1.f2"],
            &["a1.a2"],
        )
        .translated(&["fold"]),
        tables(
            "test_multiple_statements_delete_insert",
            Postgres,
            r#"DELETE FROM public."Employees";
            INSERT INTO public."Employees" VALUES (1, 'TALES OF SHIVA', 'Mark', 'mark', 0);"#,
            // Theirs: public."Employees".
            &[],
            &["public.Employees"],
        )
        .translated(&["fold"]),
        tables(
            "test_multiple_statements_insert_insert",
            Postgres,
            "INSERT INTO a.a VALUES(1,2);
            INSERT INTO b.b VALUES(1,2);",
            &[],
            &["a.a", "b.b"],
        ),
        tables(
            "test_triple_statements_insert_insert_insert",
            Postgres,
            "INSERT INTO a.a VALUES(1,2);
            INSERT INTO b.b SELECT * FROM a.a;
            INSERT INTO c.c VALUES(1,2);",
            &["a.a"],
            &["a.a", "b.b", "c.c"],
        ),
        tables(
            "insert_overwrite_multiple_unions",
            Postgres,
            "INSERT OVERWRITE TABLE d_d_n.a_p_s_v
            PARTITION (ds = '2022-05-01')
            SELECT sub.p_i, MIN(sub.f_a_d) AS session_id, MAX(sub.l_a_d) AS l_a_d
            FROM (
                SELECT p_i, f_a_d, l_a_d FROM d_d_n.d_p_s_v
                WHERE ds = '2022-05-01'
                UNION ALL
                SELECT p_i, f_a_d, l_a_d FROM d_d_n.a_p_s_v
                WHERE ds = '2022-04-30' AND l_a_d >= DATE_ADD('2022-05-01', -56)
                UNION ALL
                SELECT p_i, f_a_d, l_a_d FROM d_d_n.a_p_s_v
                WHERE ds = '2022-04-24' AND l_a_d >= DATE_ADD('2022-05-01', -56)
                UNION ALL
                SELECT p_i, f_a_d, l_a_d FROM d_d_n.a_p_s_v
                WHERE ds = '2022-04-03' AND l_a_d >= DATE_ADD('2022-05-01', -56)
                ) sub
            GROUP BY sub.p_i, sub.u_i",
            &["d_d_n.a_p_s_v", "d_d_n.d_p_s_v"],
            &["d_d_n.a_p_s_v"],
        )
        .hive(),
        tables(
            "insert_overwrite_partition_dates",
            Postgres,
            "INSERT OVERWRITE TABLE ddw.aps2
            PARTITION (ds = '2022-05-01')
            SELECT sub.pid, sub.uid, sub.userkey,
                MIN(sub.fs_id) AS session_id, MIN(sub.fs_start_ts) AS session_start_ts,
                SUM(sub.sc_1d) AS sc_1d, SUM(sub.sc_7d) AS sc_7d, SUM(sub.sc_28d) AS sc_28d,
                SUM(sub.sc_inf) AS session_cnt_inf, SUM(sub.tss_1d) AS tss_1d,
                SUM(sub.tss_7d) AS tss_7d, SUM(sub.tss_28d) AS tss_28d,
                SUM(sub.tss_inf) AS tss_inf, SUM(sub.datelist) AS datelist,
                MIN(sub.fad) AS fad, MAX(sub.lad) AS lad
            FROM (
                SELECT pid, uid, userkey, fs_id, fs_start_ts,
                    session_cnt AS session_cnt_1d, session_cnt AS session_cnt_7d,
                    session_cnt AS session_cnt_28d, session_cnt AS session_cnt_inf,
                    tss AS tss_1d, tss AS tss_7d, tss AS tss_28d, tss AS tss_inf,
                    1 AS datelist, '2022-05-01' AS fad, '2022-05-01' AS lad
                FROM ddw.dps
                WHERE ds = '2022-05-01'
                UNION ALL
                SELECT pid, uid, userkey, fs_id, fs_start_ts,
                    0 AS session_cnt_1d, session_cnt_7d AS session_cnt_7d,
                    session_cnt_28d AS session_cnt_28d, session_cnt_inf AS session_cnt_inf,
                    0 AS tss_1d, tss_7d AS tss_7d, tss_28d AS tss_28d, tss_inf AS tss_inf,
                    (datelist % 549755813888) * 2 AS datelist, fad AS fad, lad AS lad
                FROM ddw.aps2
                WHERE ds = '2022-04-30'
                    AND lad >= DATE_ADD('2022-05-01', -56)
                UNION ALL
                SELECT pid, uid, userkey, fs_id, fs_start_ts,
                    0 AS session_cnt_1d, -session_cnt_1d AS session_cnt_7d,
                    0 AS session_cnt_28d, 0 AS session_cnt_inf,
                    0 AS tss_1d, -tss_1d AS tss_7d, 0 AS tss_28d, 0 AS tss_inf,
                    0 AS datelist, fad, lad
                FROM ddw.aps2
                WHERE ds = '2022-04-24'
                    AND lad >= DATE_ADD('2022-05-01', -56)
                UNION ALL
                SELECT pid, uid, userkey, fs_id, fs_start_ts,
                    0 AS session_cnt_1d, 0 AS session_cnt_7d,
                    -session_cnt_1d AS session_cnt_28d, 0 AS session_cnt_inf,
                    0 AS tss_1d, 0 AS tss_7d, -tss_1d AS tss_28d, 0 AS tss_inf,
                    0 AS datelist, fad, lad
                FROM ddw.aps2
                WHERE ds = '2022-04-03'
                    AND lad >= DATE_ADD('2022-05-01', -56)
                ) sub
            GROUP BY sub.pid, sub.uid, sub.userkey",
            &["ddw.aps2", "ddw.dps"],
            &["ddw.aps2"],
        )
        .hive(),
        // ---- tests_create.rs ----
        tables(
            "test_create_table",
            Postgres,
            "CREATE TABLE Persons (
            PersonID int,
            LastName varchar(255),
            FirstName varchar(255),
            Address varchar(255),
            City varchar(255));",
            // Theirs: Persons.
            &[],
            &["persons"],
        )
        .translated(&["fold"]),
        tables(
            "test_create_table_like",
            Postgres,
            "CREATE TABLE new LIKE original",
            &["original"],
            &["new"],
        ),
        tables(
            "test_create_table_clone",
            Postgres,
            "CREATE OR REPLACE TABLE new CLONE original",
            &["original"],
            &["new"],
        ),
        tables(
            "test_create_and_insert",
            Postgres,
            "CREATE TABLE Persons (
            key int,
            value varchar(255));
            INSERT INTO Persons SELECT key, value FROM temp.table;",
            // Theirs: Persons.
            &["temp.table"],
            &["persons"],
        )
        .translated(&["fold"]),
        tables(
            "create_and_insert_multiple_stmts",
            Postgres,
            "CREATE TABLE Persons (key int, value varchar(255));
            INSERT INTO Persons SELECT key, value FROM temp.table;",
            // Theirs: Persons.
            &["temp.table"],
            &["persons"],
        )
        .translated(&["fold"]),
        tables(
            "create_replace_as_select",
            Postgres,
            "CREATE OR REPLACE TABLE DATA_TEAM_DEMOS.ALL_DAYS AS (
            SELECT date AS calendar_day, yyyy_mm as calendar_month, yyyy as calendar_year
            FROM dwh_dev.commons.calendar
            WHERE date BETWEEN '2022-01-01' AND CURRENT_DATE
            )",
            // Theirs: dwh_dev.commons.calendar, DATA_TEAM_DEMOS.ALL_DAYS.
            &["commons.calendar"],
            &["data_team_demos.all_days"],
        )
        .translated(&["fold", "three"]),
        // ---- tests_update.rs ----
        tables(
            "update_table",
            Postgres,
            "UPDATE table0 SET col0 = val0 WHERE col1 = val1",
            &[],
            &["table0"],
        ),
        tables(
            "update_table_from",
            Postgres,
            "UPDATE dataset.Inventory i
            SET quantity = i.quantity + n.quantity,
                supply_constrained = false
            FROM dataset.NewArrivals n
            WHERE i.product = n.product",
            // Theirs: dataset.NewArrivals, dataset.Inventory.
            &["dataset.newarrivals"],
            &["dataset.inventory"],
        )
        .translated(&["fold"]),
        tables(
            "update_table_from_subquery",
            Postgres,
            "UPDATE dataset.Inventory
            SET quantity = quantity +
            (SELECT quantity FROM dataset.NewArrivals
            WHERE Inventory.product = NewArrivals.product),
            supply_constrained = false
            WHERE product IN (SELECT product FROM dataset.NewArrivals)",
            // Theirs: dataset.NewArrivals, dataset.Inventory.
            &["dataset.newarrivals"],
            &["dataset.inventory"],
        )
        .translated(&["fold"]),
        // ---- tests_delete.rs ----
        tables("delete_from", Postgres, "DELETE FROM a.b WHERE x = 0", &[], &["a.b"]),
        tables(
            "delete_from_using",
            Postgres,
            "DELETE FROM a.b AS t
            USING (
                SELECT col
                FROM b.c
                WHERE col = 'x'
            ) AS duplicates
            WHERE a.b.col = duplicates.col",
            &["b.c"],
            &["a.b"],
        ),
        // ---- tests_drop.rs, tests_truncate.rs ----
        tables("drop_table", Postgres, "DROP TABLE IF EXISTS a.b, c.d", &[], &["a.b", "c.d"]),
        tables("truncate_table", Postgres, "TRUNCATE TABLE a.b", &[], &["a.b"]),
        // ---- tests_merge.rs ----
        tables(
            "merge_subquery_when_not_matched",
            Postgres,
            "MERGE INTO s.bar as dest
            USING (
                SELECT *
                FROM
                s.foo
            ) as stg
            ON dest.D = stg.D
              AND dest.E = stg.E
            WHEN NOT MATCHED THEN
            INSERT (
              A,
              B,
              C)
            VALUES
            (
                stg.A
                ,stg.B
                ,stg.C
            )",
            &["s.foo"],
            &["s.bar"],
        ),
        // Marked #[ignore] upstream: "QUALIFY expression is not yet supported".
        tables(
            "test_merge_multiple_clauses",
            Postgres,
            r#"merge into "m"."d" as d_m using (
                with f_d_u_l_u as (
                    select r_number() over (partition by m_id order by c_dt desc) as rownum,
                        *
                    from "c"."u_l_u"
                    where len(m_id) = 32
                    and len(c_name) > 1
                    and p_at = '2022-04-14'
                        qualify rownum = 1
                )
                select c, c_code, c_name, r_code, r_name, z, m_id
                from f_d_u_l_u
            ) as src on d_m.m_id = src.m_id
            when matched then update set
            d_m.c_name = src.c_name,
            d_m.c_code = src.c_code,
            d_m.r_name = src.r_name,
            d_m.r_code = src.r_code,
            d_m.c = src.c,
            d_m.z = src.z
            when not matched then insert (m_id,c_name,c_code,r_name,r_code,c,z)
            values (m_id,c_name,c_code,r_name,r_code,c,z);"#,
            // Theirs: "c"."u_l_u", "m"."d".
            &["c.u_l_u"],
            &["m.d"],
        )
        .translated(&["fold"]),
        // ---- tests_alter.rs ----
        tables(
            "alter_contains_modified_table_as_output",
            Postgres,
            "ALTER TABLE tab1 ADD COLUMN b int",
            &[],
            &["tab1"],
        ),
        tables(
            "alter_table_rename",
            Postgres,
            "ALTER TABLE tab1 RENAME TO tab2",
            // Theirs: reads tab1, writes tab2.
            &[],
            &["tab1", "tab2"],
        )
        .translated(&["rename"]),
        // ---- tests_error_handling.rs ----
        tables(
            "test_failing_statement_with_insert",
            Postgres,
            "FAILING STATEMENT;
            INSERT INTO Persons SELECT key FROM temp.table;
            INSERT ALSO FAILING",
            // Theirs: Persons, and two errors.
            &["temp.table"],
            &["persons"],
        )
        .translated(&["fold"])
        .miss(
            "they skip statements that fail to parse and keep the lineage of the others; \
             we analyse a text as a whole and return an error when any part does not parse",
        ),
        tables("test_failing_statement_tokenizer_failes", Postgres, "$$$", &[], &[]).error(),
        // ---- test_use.rs (the generic and mysql cases) ----
        tables(
            "use_generic_with_single_id",
            Generic,
            "USE db1;
            INSERT INTO Clients SELECT key, value FROM my_table;",
            // Theirs: database db1, no schema: my_table, Clients.
            &["db1.my_table"],
            &["db1.clients"],
        )
        .translated(&["use", "fold"]),
        tables(
            "use_generic_with_full_id",
            Generic,
            "USE db1.schema1;
            SELECT key, value FROM my_table;",
            // Theirs: db1.schema1.my_table.
            &["schema1.my_table"],
            &[],
        )
        .translated(&["use", "three"]),
        tables(
            "use_generic_with_complex_select",
            Generic,
            "USE db1.schema1;
            SELECT x, y FROM my_table WHERE STATUS = 'LOADED' GROUP BY DATA_DATE, DATA_HOUR;",
            // Theirs: db1.schema1.my_table.
            &["schema1.my_table"],
            &[],
        )
        .translated(&["use", "three"]),
        tables(
            "use_generic_with_full_id_and_full_table_id",
            Generic,
            "USE db1.schema1;
            SELECT key, value FROM some_db.other_schema.my_table;",
            // Theirs: some_db.other_schema.my_table.
            &["other_schema.my_table"],
            &[],
        )
        .translated(&["three"]),
        tables(
            "use_generic_with_single_id_and_single_table_id",
            Generic,
            "USE db1;
            SELECT key, value FROM other_schema.my_table;",
            // Theirs: db1.other_schema.my_table.
            &["other_schema.my_table"],
            &[],
        )
        .translated(&["three"]),
        tables(
            "use_generic_with_multiple_use_statements",
            Generic,
            "USE db1;
            SELECT key, value FROM foo;
            USE db2.schema2;
            INSERT INTO Clients SELECT key, value FROM bar;
            USE db3;
            SELECT key, value FROM world;",
            // Theirs: db1.foo, db2.schema2.bar, db3.schema2.world; db2.schema2.Clients.
            &["db1.foo", "schema2.bar", "schema2.world"],
            &["schema2.clients"],
        )
        .translated(&["use", "three", "fold"])
        .miss(
            "after `USE db2.schema2`, they take `USE db3` to change only the database and keep \
             schema2; we take a one-part USE as the schema (MySQL's meaning): db3.world",
        ),
        tables(
            "use_mysql_with_single_id",
            MySql,
            "USE db1;
            SELECT key, value FROM my_table;",
            // Theirs: database db1, no schema: my_table.
            &["db1.my_table"],
            &[],
        )
        .translated(&["use"]),
        // ---- test_alias_resolving.rs (they compare the names of the tables read) ----
        tables(
            "table_reference_with_simple_ctes",
            Postgres,
            "WITH tab1 AS (
                SELECT * FROM users as u
            ),
            tab2 AS (
                SELECT * FROM bots
            )
            SELECT r.id
            FROM python AS r
            UNION ALL
            SELECT id
            FROM tab2",
            &["bots", "python"],
            &[],
        ),
        tables(
            "table_reference_with_simple_q_ctes",
            Postgres,
            "WITH tab1 AS (
                SELECT * FROM users
            )
            SELECT id
            FROM tab2",
            &["tab2"],
            &[],
        ),
        tables(
            "table_reference_with_passersby_ctes",
            Postgres,
            "WITH tab1 AS (
                SELECT * FROM users as u
            ),
            tab2 AS (
                SELECT * FROM tab1
            ),
            tab3 AS (
                SELECT * FROM users2
            )
            SELECT id
            FROM tab2
            UNION ALL
            SELECT id
            FROM users3",
            &["users", "users3"],
            &[],
        ),
        tables(
            "table_references_with_simple_query",
            Postgres,
            "SELECT * FROM tab1
            UNION ALL
            SELECT * FROM tab2",
            &["tab1", "tab2"],
            &[],
        ),
        tables(
            "table_references_with_subquery",
            Postgres,
            "SELECT * FROM tab1
            UNION ALL
            SELECT * FROM (SELECT * FROM tab2)",
            &["tab1", "tab2"],
            &[],
        ),
        tables(
            "table_references_with_subquery_and_alias",
            Postgres,
            "SELECT * FROM tab1
            UNION ALL
            SELECT * FROM (SELECT * FROM tab2) AS t",
            &["tab1", "tab2"],
            &[],
        ),
        tables(
            "table_references_with_subquery_and_alias_and_cte",
            Postgres,
            "WITH tab1 AS (
                SELECT * FROM users as u
            )
            SELECT * FROM tab1
            UNION ALL
            SELECT * FROM (SELECT * FROM tab2) AS t",
            &["tab2", "users"],
            &[],
        ),
        tables(
            "table_references_complex_main_query_does_not_use_ctes",
            Postgres,
            "WITH tab10 AS (
                SELECT * FROM users as u
            )
            SELECT * FROM animals1
            UNION ALL
            SELECT * FROM (SELECT * FROM animals2) AS t
            UNION ALL
            SELECT * FROM (SELECT * FROM animals3) AS t",
            &["animals1", "animals2", "animals3"],
            &[],
        ),
        tables(
            "table_references_complex_main_query_uses_ctes",
            Postgres,
            "WITH tab10 AS (
                SELECT * FROM
                (SELECT * FROM users2 as u
                UNION
                SELECT * FROM users as u) as t
            )
            SELECT * FROM tab10
            UNION ALL
            SELECT * FROM (SELECT * FROM animals2) AS t
            UNION ALL
            SELECT * FROM (SELECT * FROM animals3) AS t",
            &["animals2", "animals3", "users", "users2"],
            &[],
        ),
        tables(
            "table_references_with_many_union_all",
            Postgres,
            "WITH tab10 AS (
                SELECT * FROM
                (SELECT * FROM users2 as u
                UNION
                SELECT * FROM users as u
                UNION
                SELECT * FROM users3 as u
                UNION
                SELECT * FROM users4 as u
                ) as t
            )
            SELECT * FROM tab10
            UNION ALL
            SELECT * FROM (SELECT * FROM animals2) AS t
            UNION ALL
            SELECT * FROM (SELECT * FROM animals3) AS t",
            &["animals2", "animals3", "users", "users2", "users3", "users4"],
            &[],
        ),
        tables(
            "table_references_connected_ctes",
            Postgres,
            "WITH tab1 AS (
                WITH data3 AS (
                    WITH data8 AS (
                        SELECT r.* FROM (
                            SELECT * FROM users as u
                        ) as r
                    ),
                    data5 AS (
                        SELECT r.* FROM (
                            SELECT * FROM owners as u
                        ) as r
                    ),
                   data6 AS (
                        SELECT * FROM data5
                    )
                   SELECT * FROM data6
                   UNION ALL
                   SELECT * FROM data5
                ),
                data2 AS (
                    SELECT * FROM data3
                )
                SELECT * FROM data2
            ),
            tab2 AS (
                SELECT * FROM tab1
            ),
            tab3 AS (
                SELECT * FROM tab2
            ),
            tab4 AS (
                SELECT * FROM users2
            ),
            tab5 AS (
                SELECT * FROM tab4
            )
            SELECT * FROM tab5",
            &["users2"],
            &[],
        ),
        // ---- tests_tpcds.rs ----
        tables(
            "test_tpcds_cte_query",
            Postgres,
            "WITH year_total AS
                (SELECT c_customer_id customer_id, c_first_name customer_first_name,
                        c_last_name customer_last_name,
                        c_preferred_cust_flag customer_preferred_cust_flag,
                        c_birth_country customer_birth_country, c_login customer_login,
                        c_email_address customer_email_address, d_year dyear,
                        Sum(((ss_ext_list_price - ss_ext_wholesale_cost - ss_ext_discount_amt)
                            + ss_ext_sales_price) / 2) year_total,
                        's' sale_type
                FROM src.customer, store_sales, date_dim
                WHERE c_customer_sk = ss_customer_sk
                    AND ss_sold_date_sk = d_date_sk GROUP BY c_customer_id, c_first_name,
                        c_last_name, c_preferred_cust_flag, c_birth_country, c_login,
                        c_email_address, d_year)
            SELECT t_s_secyear.customer_id, t_s_secyear.customer_first_name,
                t_s_secyear.customer_last_name, t_s_secyear.customer_preferred_cust_flag
            FROM year_total t_s_firstyear, year_total t_s_secyear, year_total t_c_firstyear,
                year_total t_c_secyear, year_total t_w_firstyear, year_total t_w_secyear
            WHERE t_s_secyear.customer_id = t_s_firstyear.customer_id
                AND t_s_firstyear.customer_id = t_c_secyear.customer_id
                AND t_s_firstyear.customer_id = t_c_firstyear.customer_id
                AND t_s_firstyear.customer_id = t_w_firstyear.customer_id
                AND t_s_firstyear.customer_id = t_w_secyear.customer_id
                AND t_s_firstyear.sale_type = 's' AND t_c_firstyear.sale_type = 'c'
                AND t_w_firstyear.sale_type = 'w' AND t_s_secyear.sale_type = 's'
                AND t_c_secyear.sale_type = 'c' AND t_w_secyear.sale_type = 'w'
                AND t_s_firstyear.dyear = 2001 AND t_s_secyear.dyear = 2001 + 1
                AND t_c_firstyear.dyear = 2001 AND t_c_secyear.dyear = 2001 + 1
                AND t_w_firstyear.dyear = 2001 AND t_w_secyear.dyear = 2001 + 1
                AND t_s_firstyear.year_total > 0 AND t_c_firstyear.year_total > 0
                AND t_w_firstyear.year_total > 0
                AND CASE WHEN t_c_firstyear.year_total > 0
                        THEN t_c_secyear.year_total / t_c_firstyear.year_total ELSE NULL END
                    > CASE WHEN t_s_firstyear.year_total > 0
                        THEN t_s_secyear.year_total / t_s_firstyear.year_total ELSE NULL END
                AND CASE WHEN t_c_firstyear.year_total > 0
                        THEN t_c_secyear.year_total / t_c_firstyear.year_total ELSE NULL END
                    > CASE WHEN t_w_firstyear.year_total > 0
                        THEN t_w_secyear.year_total / t_w_firstyear.year_total ELSE NULL END
            ORDER BY t_s_secyear.customer_id, t_s_secyear.customer_first_name,
                t_s_secyear.customer_last_name, t_s_secyear.customer_preferred_cust_flag
            LIMIT 100;",
            &["date_dim", "store_sales", "src.customer"],
            &[],
        ),
        tables(
            "test_tcpds_query_1",
            Postgres,
            "WITH customer_total_return
                 AS (SELECT sr_customer_sk AS ctr_customer_sk, sr_store_sk AS ctr_store_sk,
                            Sum(sr_return_amt) AS ctr_total_return
                     FROM store_returns, date_dim
                     WHERE sr_returned_date_sk = d_date_sk AND d_year = 2001
                     GROUP BY sr_customer_sk, sr_store_sk)
            SELECT c_customer_id
            FROM customer_total_return ctr1, store, customer
            WHERE ctr1.ctr_total_return > (SELECT Avg(ctr_total_return) * 1.2
                                            FROM customer_total_return ctr2
                                            WHERE ctr1.ctr_store_sk = ctr2.ctr_store_sk)
                   AND s_store_sk = ctr1.ctr_store_sk
                   AND s_state = 'TN'
                   AND ctr1.ctr_customer_sk = c_customer_sk
            ORDER BY c_customer_id
            LIMIT 100;",
            &["customer", "date_dim", "store", "store_returns"],
            &[],
        ),
        tables(
            "test_tcpds_query_2",
            Postgres,
            "WITH wscs
             AS (SELECT sold_date_sk, sales_price
                 FROM (SELECT ws_sold_date_sk sold_date_sk, ws_ext_sales_price sales_price
                         FROM web_sales)
                 UNION ALL
                 (SELECT cs_sold_date_sk sold_date_sk, cs_ext_sales_price sales_price
                  FROM catalog_sales)),
             wswscs
             AS (SELECT d_week_seq,
                        Sum(CASE WHEN ( d_day_name = 'Sunday' ) THEN sales_price ELSE NULL END) sun_sales,
                        Sum(CASE WHEN ( d_day_name = 'Monday' ) THEN sales_price ELSE NULL END) mon_sales,
                        Sum(CASE WHEN ( d_day_name = 'Tuesday' ) THEN sales_price ELSE NULL END) tue_sales,
                        Sum(CASE WHEN ( d_day_name = 'Wednesday' ) THEN sales_price ELSE NULL END) wed_sales,
                        Sum(CASE WHEN ( d_day_name = 'Thursday' ) THEN sales_price ELSE NULL END) thu_sales,
                        Sum(CASE WHEN ( d_day_name = 'Friday' ) THEN sales_price ELSE NULL END) fri_sales,
                        Sum(CASE WHEN ( d_day_name = 'Saturday' ) THEN sales_price ELSE NULL END) sat_sales
                 FROM wscs, date_dim
                 WHERE d_date_sk = sold_date_sk
                 GROUP BY d_week_seq)
            SELECT d_week_seq1,
                   Round(sun_sales1 / sun_sales2, 2), Round(mon_sales1 / mon_sales2, 2),
                   Round(tue_sales1 / tue_sales2, 2), Round(wed_sales1 / wed_sales2, 2),
                   Round(thu_sales1 / thu_sales2, 2), Round(fri_sales1 / fri_sales2, 2),
                   Round(sat_sales1 / sat_sales2, 2)
            FROM (SELECT wswscs.d_week_seq d_week_seq1, sun_sales sun_sales1,
                         mon_sales mon_sales1, tue_sales tue_sales1, wed_sales wed_sales1,
                         thu_sales thu_sales1, fri_sales fri_sales1, sat_sales sat_sales1
                  FROM wswscs, date_dim
                  WHERE date_dim.d_week_seq = wswscs.d_week_seq AND d_year = 1998) y,
                 (SELECT wswscs.d_week_seq d_week_seq2, sun_sales sun_sales2,
                         mon_sales mon_sales2, tue_sales tue_sales2, wed_sales wed_sales2,
                         thu_sales thu_sales2, fri_sales fri_sales2, sat_sales sat_sales2
                  FROM wswscs, date_dim
                  WHERE date_dim.d_week_seq = wswscs.d_week_seq AND d_year = 1998 + 1) z
            WHERE d_week_seq1 = d_week_seq2 - 53
            ORDER BY d_week_seq1;",
            &["catalog_sales", "date_dim", "web_sales"],
            &[],
        ),
        tables(
            "test_tcpds_query_3",
            Postgres,
            "SELECT dt.d_year, item.i_brand_id brand_id, item.i_brand brand,
                   Sum(ss_ext_discount_amt) sum_agg
            FROM date_dim dt, store_sales, item
            WHERE dt.d_date_sk = store_sales.ss_sold_date_sk
                   AND store_sales.ss_item_sk = item.i_item_sk
                   AND item.i_manufact_id = 427
                   AND dt.d_moy = 11
            GROUP BY dt.d_year, item.i_brand, item.i_brand_id
            ORDER BY dt.d_year, sum_agg DESC, brand_id
            LIMIT 100;",
            &["date_dim", "item", "store_sales"],
            &[],
        ),
        tables(
            "test_tcpds_query_4",
            Postgres,
            "WITH year_total
             AS (SELECT c_customer_id customer_id, c_first_name customer_first_name,
                        c_last_name customer_last_name,
                        c_preferred_cust_flag customer_preferred_cust_flag,
                        c_birth_country customer_birth_country, c_login customer_login,
                        c_email_address customer_email_address, d_year dyear,
                        Sum(( ( ss_ext_list_price - ss_ext_wholesale_cost - ss_ext_discount_amt )
                              + ss_ext_sales_price ) / 2) year_total,
                        's' sale_type
                 FROM customer, store_sales, date_dim
                 WHERE c_customer_sk = ss_customer_sk AND ss_sold_date_sk = d_date_sk
                 GROUP BY c_customer_id, c_first_name, c_last_name, c_preferred_cust_flag,
                          c_birth_country, c_login, c_email_address, d_year
                 UNION ALL
                 SELECT c_customer_id customer_id, c_first_name customer_first_name,
                        c_last_name customer_last_name,
                        c_preferred_cust_flag customer_preferred_cust_flag,
                        c_birth_country customer_birth_country, c_login customer_login,
                        c_email_address customer_email_address, d_year dyear,
                        Sum(( ( ( cs_ext_list_price - cs_ext_wholesale_cost - cs_ext_discount_amt )
                              + cs_ext_sales_price ) / 2 )) year_total,
                        'c' sale_type
                 FROM customer, catalog_sales, date_dim
                 WHERE c_customer_sk = cs_bill_customer_sk AND cs_sold_date_sk = d_date_sk
                 GROUP BY c_customer_id, c_first_name, c_last_name, c_preferred_cust_flag,
                          c_birth_country, c_login, c_email_address, d_year
                 UNION ALL
                 SELECT c_customer_id customer_id, c_first_name customer_first_name,
                        c_last_name customer_last_name,
                        c_preferred_cust_flag customer_preferred_cust_flag,
                        c_birth_country customer_birth_country, c_login customer_login,
                        c_email_address customer_email_address, d_year dyear,
                        Sum(( ( ( ws_ext_list_price - ws_ext_wholesale_cost - ws_ext_discount_amt )
                              + ws_ext_sales_price ) / 2 )) year_total,
                        'w' sale_type
                 FROM customer, web_sales, date_dim
                 WHERE c_customer_sk = ws_bill_customer_sk AND ws_sold_date_sk = d_date_sk
                 GROUP BY c_customer_id, c_first_name, c_last_name, c_preferred_cust_flag,
                          c_birth_country, c_login, c_email_address, d_year)
            SELECT t_s_secyear.customer_id, t_s_secyear.customer_first_name,
                   t_s_secyear.customer_last_name, t_s_secyear.customer_preferred_cust_flag
            FROM year_total t_s_firstyear, year_total t_s_secyear, year_total t_c_firstyear,
                 year_total t_c_secyear, year_total t_w_firstyear, year_total t_w_secyear
            WHERE t_s_secyear.customer_id = t_s_firstyear.customer_id
                   AND t_s_firstyear.customer_id = t_c_secyear.customer_id
                   AND t_s_firstyear.customer_id = t_c_firstyear.customer_id
                   AND t_s_firstyear.customer_id = t_w_firstyear.customer_id
                   AND t_s_firstyear.customer_id = t_w_secyear.customer_id
                   AND t_s_firstyear.sale_type = 's' AND t_c_firstyear.sale_type = 'c'
                   AND t_w_firstyear.sale_type = 'w' AND t_s_secyear.sale_type = 's'
                   AND t_c_secyear.sale_type = 'c' AND t_w_secyear.sale_type = 'w'
                   AND t_s_firstyear.dyear = 2001 AND t_s_secyear.dyear = 2001 + 1
                   AND t_c_firstyear.dyear = 2001 AND t_c_secyear.dyear = 2001 + 1
                   AND t_w_firstyear.dyear = 2001 AND t_w_secyear.dyear = 2001 + 1
                   AND t_s_firstyear.year_total > 0 AND t_c_firstyear.year_total > 0
                   AND t_w_firstyear.year_total > 0
                   AND CASE WHEN t_c_firstyear.year_total > 0
                         THEN t_c_secyear.year_total / t_c_firstyear.year_total ELSE NULL END
                       > CASE WHEN t_s_firstyear.year_total > 0
                         THEN t_s_secyear.year_total / t_s_firstyear.year_total ELSE NULL END
                   AND CASE WHEN t_c_firstyear.year_total > 0
                         THEN t_c_secyear.year_total / t_c_firstyear.year_total ELSE NULL END
                       > CASE WHEN t_w_firstyear.year_total > 0
                         THEN t_w_secyear.year_total / t_w_firstyear.year_total ELSE NULL END
            ORDER BY t_s_secyear.customer_id, t_s_secyear.customer_first_name,
                     t_s_secyear.customer_last_name, t_s_secyear.customer_preferred_cust_flag
            LIMIT 100;",
            &["catalog_sales", "customer", "date_dim", "store_sales", "web_sales"],
            &[],
        ),
        tables(
            "test_tcpds_query_5",
            Postgres,
            "WITH ssr AS
            (SELECT s_store_id, Sum(sales_price) AS sales, Sum(profit) AS profit,
                    Sum(return_amt) AS returns1, Sum(net_loss) AS profit_loss
             FROM (SELECT ss_store_sk AS store_sk, ss_sold_date_sk AS date_sk,
                          ss_ext_sales_price AS sales_price, ss_net_profit AS profit,
                          Cast(0 AS DECIMAL(7,2)) AS return_amt, Cast(0 AS DECIMAL(7,2)) AS net_loss
                   FROM store_sales
                   UNION ALL
                   SELECT sr_store_sk AS store_sk, sr_returned_date_sk AS date_sk,
                          Cast(0 AS DECIMAL(7,2)) AS sales_price, Cast(0 AS DECIMAL(7,2)) AS profit,
                          sr_return_amt AS return_amt, sr_net_loss AS net_loss
                   FROM store_returns ) salesreturns,
                  date_dim, store
             WHERE date_sk = d_date_sk
             AND d_date BETWEEN Cast('2002-08-22' AS DATE) AND (Cast('2002-08-22' AS DATE) + INTERVAL '14' day)
             AND store_sk = s_store_sk
             GROUP BY s_store_id) , csr AS
            (SELECT cp_catalog_page_id, sum(sales_price) AS sales, sum(profit) AS profit,
                    sum(return_amt) AS returns1, sum(net_loss) AS profit_loss
             FROM (SELECT cs_catalog_page_sk AS page_sk, cs_sold_date_sk AS date_sk,
                          cs_ext_sales_price AS sales_price, cs_net_profit AS profit,
                          cast(0 AS decimal(7,2)) AS return_amt, cast(0 AS decimal(7,2)) AS net_loss
                   FROM catalog_sales
                   UNION ALL
                   SELECT cr_catalog_page_sk AS page_sk, cr_returned_date_sk AS date_sk,
                          cast(0 AS decimal(7,2)) AS sales_price, cast(0 AS decimal(7,2)) AS profit,
                          cr_return_amount AS return_amt, cr_net_loss AS net_loss
                   FROM catalog_returns ) salesreturns,
                  date_dim, catalog_page
             WHERE date_sk = d_date_sk
             AND d_date BETWEEN cast('2002-08-22' AS date) AND (cast('2002-08-22' AS date) + INTERVAL '14' day)
             AND page_sk = cp_catalog_page_sk
             GROUP BY cp_catalog_page_id) , wsr AS
            (SELECT web_site_id, sum(sales_price) AS sales, sum(profit) AS profit,
                    sum(return_amt) AS returns1, sum(net_loss) AS profit_loss
             FROM (SELECT ws_web_site_sk AS wsr_web_site_sk, ws_sold_date_sk AS date_sk,
                          ws_ext_sales_price AS sales_price, ws_net_profit AS profit,
                          cast(0 AS decimal(7,2)) AS return_amt, cast(0 AS decimal(7,2)) AS net_loss
                   FROM web_sales
                   UNION ALL
                   SELECT ws_web_site_sk AS wsr_web_site_sk, wr_returned_date_sk AS date_sk,
                          cast(0 AS decimal(7,2)) AS sales_price, cast(0 AS decimal(7,2)) AS profit,
                          wr_return_amt AS return_amt, wr_net_loss AS net_loss
                   FROM web_returns
                   LEFT OUTER JOIN web_sales
                   ON ( wr_item_sk = ws_item_sk AND wr_order_number = ws_order_number) ) salesreturns,
                  date_dim, web_site
             WHERE date_sk = d_date_sk
             AND d_date BETWEEN cast('2002-08-22' AS date) AND (cast('2002-08-22' AS date) + INTERVAL '14' day)
             AND wsr_web_site_sk = web_site_sk
             GROUP BY web_site_id)
            SELECT channel, id, sum(sales) AS sales, sum(returns1) AS returns1, sum(profit) AS profit
            FROM (SELECT 'store channel' AS channel, 'store' || s_store_id AS id, sales, returns1,
                         (profit - profit_loss) AS profit
                  FROM ssr
                  UNION ALL
                  SELECT 'catalog channel' AS channel, 'catalog_page' || cp_catalog_page_id AS id,
                         sales, returns1, (profit - profit_loss) AS profit
                  FROM csr
                  UNION ALL
                  SELECT 'web channel' AS channel, 'web_site' || web_site_id AS id, sales,
                         returns1, (profit - profit_loss) AS profit
                  FROM wsr ) x
            GROUP BY rollup (channel, id)
            ORDER BY channel, id
            LIMIT 100;",
            &[
                "catalog_page",
                "catalog_returns",
                "catalog_sales",
                "date_dim",
                "store",
                "store_returns",
                "store_sales",
                "web_returns",
                "web_sales",
                "web_site",
            ],
            &[],
        ),
        tables(
            "test_tcpds_query_6",
            Postgres,
            "SELECT a.ca_state state, Count(*) cnt
            FROM customer_address a, customer c, store_sales s, date_dim d, item i
            WHERE a.ca_address_sk = c.c_current_addr_sk
                   AND c.c_customer_sk = s.ss_customer_sk
                   AND s.ss_sold_date_sk = d.d_date_sk
                   AND s.ss_item_sk = i.i_item_sk
                   AND d.d_month_seq = (SELECT DISTINCT ( d_month_seq )
                                        FROM date_dim
                                        WHERE d_year = 1998 AND d_moy = 7)
                   AND i.i_current_price > 1.2 * (SELECT Avg(j.i_current_price)
                                                  FROM item j
                                                  WHERE j.i_category = i.i_category)
            GROUP BY a.ca_state
            HAVING Count(*) >= 10
            ORDER BY cnt
            LIMIT 100;",
            &["customer", "customer_address", "date_dim", "item", "store_sales"],
            &[],
        ),
        tables(
            "test_tcpds_query_7",
            Postgres,
            "SELECT i_item_id, Avg(ss_quantity) agg1, Avg(ss_list_price) agg2,
                   Avg(ss_coupon_amt) agg3, Avg(ss_sales_price) agg4
            FROM store_sales, customer_demographics, date_dim, item, promotion
            WHERE ss_sold_date_sk = d_date_sk
                   AND ss_item_sk = i_item_sk
                   AND ss_cdemo_sk = cd_demo_sk
                   AND ss_promo_sk = p_promo_sk
                   AND cd_gender = 'F'
                   AND cd_marital_status = 'W'
                   AND cd_education_status = '2 yr Degree'
                   AND ( p_channel_email = 'N' OR p_channel_event = 'N' )
                   AND d_year = 1998
            GROUP BY i_item_id
            ORDER BY i_item_id
            LIMIT 100;",
            &["customer_demographics", "date_dim", "item", "promotion", "store_sales"],
            &[],
        ),
        tables(
            "test_tcpds_query_8",
            Postgres,
            "SELECT s_store_name, Sum(ss_net_profit)
            FROM store_sales, date_dim, store,
                 (SELECT ca_zip
                  FROM (SELECT Substr(ca_zip, 1, 5) ca_zip
                        FROM customer_address
                        WHERE Substr(ca_zip, 1, 5) IN ( '67436', '26121', '38443', '63157',
                            '68856', '19485', '86425', '26741', '70991', '60899', '63573',
                            '47556', '56193', '93314', '87827', '62017', '85067', '95390',
                            '48091', '43224', '22322', '86959', '68519', '14308', '46501',
                            '81131', '34056', '61991', '19896', '87804', '65774', '92564' )
                        INTERSECT
                        SELECT ca_zip
                        FROM (SELECT Substr(ca_zip, 1, 5) ca_zip, Count(*) cnt
                              FROM customer_address, customer
                              WHERE ca_address_sk = c_current_addr_sk
                                    AND c_preferred_cust_flag = 'Y'
                              GROUP BY ca_zip
                              HAVING Count(*) > 10)A1)A2) V1
            WHERE ss_store_sk = s_store_sk
                   AND ss_sold_date_sk = d_date_sk
                   AND d_qoy = 2
                   AND d_year = 2000
                   AND ( Substr(s_zip, 1, 2) = Substr(V1.ca_zip, 1, 2) )
            GROUP BY s_store_name
            ORDER BY s_store_name
            LIMIT 100;",
            &["customer", "customer_address", "date_dim", "store", "store_sales"],
            &[],
        ),
        tables(
            "test_tcpds_query_9",
            Postgres,
            "SELECT CASE
                     WHEN (SELECT Count(*) FROM store_sales
                           WHERE ss_quantity BETWEEN 1 AND 20) > 3672 THEN
                     (SELECT Avg(ss_ext_list_price) FROM store_sales
                      WHERE ss_quantity BETWEEN 1 AND 20)
                     ELSE (SELECT Avg(ss_net_profit) FROM store_sales
                           WHERE ss_quantity BETWEEN 1 AND 20)
                   END bucket1,
                   CASE
                     WHEN (SELECT Count(*) FROM store_sales
                           WHERE ss_quantity BETWEEN 21 AND 40) > 3392 THEN
                     (SELECT Avg(ss_ext_list_price) FROM store_sales
                      WHERE ss_quantity BETWEEN 21 AND 40)
                     ELSE (SELECT Avg(ss_net_profit) FROM store_sales
                           WHERE ss_quantity BETWEEN 21 AND 40)
                   END bucket2,
                   CASE
                     WHEN (SELECT Count(*) FROM store_sales
                           WHERE ss_quantity BETWEEN 41 AND 60) > 32784 THEN
                     (SELECT Avg(ss_ext_list_price) FROM store_sales
                      WHERE ss_quantity BETWEEN 41 AND 60)
                     ELSE (SELECT Avg(ss_net_profit) FROM store_sales
                           WHERE ss_quantity BETWEEN 41 AND 60)
                   END bucket3,
                   CASE
                     WHEN (SELECT Count(*) FROM store_sales
                           WHERE ss_quantity BETWEEN 61 AND 80) > 26032 THEN
                     (SELECT Avg(ss_ext_list_price) FROM store_sales
                      WHERE ss_quantity BETWEEN 61 AND 80)
                     ELSE (SELECT Avg(ss_net_profit) FROM store_sales
                           WHERE ss_quantity BETWEEN 61 AND 80)
                   END bucket4,
                   CASE
                     WHEN (SELECT Count(*) FROM store_sales
                           WHERE ss_quantity BETWEEN 81 AND 100) > 23982 THEN
                     (SELECT Avg(ss_ext_list_price) FROM store_sales
                      WHERE ss_quantity BETWEEN 81 AND 100)
                     ELSE (SELECT Avg(ss_net_profit) FROM store_sales
                           WHERE ss_quantity BETWEEN 81 AND 100)
                   END bucket5
            FROM reason
            WHERE r_reason_sk = 1;",
            &["reason", "store_sales"],
            &[],
        ),
    ]
}

//! `analyze` and `cache_key` on arbitrary, SQL-like and deeply nested input: they never panic
//! and never overflow the stack, and a cache key keeps the analysis.

use std::borrow::Cow;

use proptest::prelude::*;
use provenance_sqlx::{Analysis, AnalyzeError, Dialect, analyze, cache_key};

const DIALECTS: [Dialect; 4] = [
    Dialect::Postgres,
    Dialect::MySql,
    Dialect::Sqlite,
    Dialect::Generic,
];

/// Analyses in every dialect. A panic inside the parser would be caught and reported as an
/// error saying so: that counts as a failure here too.
fn analyze_all(sql: &str) -> Vec<Result<Analysis, AnalyzeError>> {
    DIALECTS
        .iter()
        .map(|&dialect| {
            let result = analyze(sql, dialect);
            if let Err(e) = &result {
                assert!(
                    !e.to_string().contains("panicked"),
                    "{dialect:?} {sql:?}: {e}"
                );
            }
            result
        })
        .collect()
}

/// A cache key must give what the SQL gives (errors may word their positions differently).
fn assert_key_keeps_analysis(sql: &str) {
    let key = cache_key(sql);
    if let Cow::Borrowed(borrowed) = &key {
        assert_eq!(*borrowed, sql);
    }
    assert_eq!(cache_key(&key), key, "a key is its own key: {sql:?}");
    for dialect in DIALECTS {
        if let Ok(analysis) = analyze(sql, dialect) {
            assert_eq!(
                analyze(&key, dialect).as_ref(),
                Ok(&analysis),
                "{dialect:?}\n  sql {sql:?}\n  key {key:?}"
            );
        }
    }
}

const WORDS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "JOIN",
    "LEFT",
    "ON",
    "USING",
    "AS",
    "WITH",
    "RECURSIVE",
    "INSERT",
    "INTO",
    "VALUES",
    "UPDATE",
    "SET",
    "DELETE",
    "MERGE",
    "WHEN",
    "MATCHED",
    "THEN",
    "RETURNING",
    "UNION",
    "ALL",
    "EXCEPT",
    "GROUP",
    "BY",
    "ORDER",
    "HAVING",
    "LIMIT",
    "IN",
    "NOT",
    "EXISTS",
    "AND",
    "OR",
    "IS",
    "NULL",
    "CASE",
    "END",
    "CREATE",
    "TABLE",
    "VIEW",
    "INDEX",
    "DROP",
    "ALTER",
    "ADD",
    "COLUMN",
    "RENAME",
    "TO",
    "TRUNCATE",
    "LATERAL",
    "DISTINCT",
    "ON CONFLICT",
    "DO",
    "NOTHING",
    "DUPLICATE",
    "KEY",
    "REPLACE",
    "USE",
    "BEGIN",
    "COMMIT",
    "t",
    "u",
    "orders",
    "o",
    "id",
    "x",
    "s.t",
    "\"Q\"",
    "`b`",
    "[c]",
    "count(*)",
    "generate_series(1, 2)",
    "*",
    "o.*",
    ",",
    "(",
    ")",
    ";",
    "=",
    "+",
    "-",
    "::",
    "||",
    "$1",
    "$2",
    "?",
    "?1",
    ":n",
    "@n",
    "$n",
    "'str'",
    "'('",
    "1",
    "2.5",
    "--c\n",
    "/* c */",
    "$$ x $$",
    "E'\\''",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(WORDS), 0..40).prop_map(|words| words.join(" "))
}

/// SQL with an `IN` list of `n` items and a `VALUES` list of `n` rows, with the dialect's
/// placeholders numbered in order.
fn with_lists(dialect: Dialect, style: usize, template: usize, n: usize) -> String {
    let mut next = 0;
    let mut p = || {
        next += 1;
        match (dialect, style % 4) {
            (Dialect::Postgres, _) => format!("${next}"),
            (Dialect::Sqlite, 1) => format!("?{next}"),
            (Dialect::Sqlite, 2) => format!(":p{next}"),
            (Dialect::Sqlite, 3) => format!("@p{next}"),
            _ => "?".to_owned(),
        }
    };
    let mut list = |k: usize| (0..k).map(|_| p()).collect::<Vec<_>>().join(", ");
    let returning = if dialect == Dialect::MySql {
        ""
    } else {
        " RETURNING id, total"
    };
    match template % 5 {
        0 => {
            let ids = list(n);
            let shop = list(1);
            format!("SELECT o.id, o.total FROM orders o WHERE o.id IN ({ids}) AND o.shop = {shop}")
        }
        1 => {
            let rows: Vec<String> = (0..n).map(|_| format!("({})", list(3))).collect();
            format!(
                "INSERT INTO items (order_id, sku, qty) VALUES {}{returning}",
                rows.join(", ")
            )
        }
        2 => {
            let pairs: Vec<String> = (0..n).map(|_| format!("({})", list(2))).collect();
            format!(
                "DELETE FROM t WHERE (a, b) IN ({}) AND c = {}",
                pairs.join(", "),
                list(1)
            )
        }
        3 => {
            let x = list(1);
            let ids = list(n);
            let not = list(n);
            format!(
                "UPDATE orders SET total = {x} WHERE id IN ({ids}) AND shop NOT IN ({not})\
                 {returning}"
            )
        }
        _ => {
            let ids = list(n);
            format!(
                "WITH picked AS (SELECT id FROM orders WHERE id IN ({ids})) \
                 SELECT * FROM picked JOIN items i ON i.order_id = picked.id WHERE i.sku = 'IN (?, ?)'"
            )
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_strings_never_panic(sql in any::<String>()) {
        analyze_all(&sql);
        let _ = cache_key(&sql);
    }

    #[test]
    fn sql_like_soups_never_panic_and_keys_keep_the_analysis(sql in soup()) {
        analyze_all(&sql);
        assert_key_keeps_analysis(&sql);
    }

    #[test]
    fn lists_of_any_length_share_one_key_and_one_analysis(
        dialect in prop::sample::select(&DIALECTS[..]),
        style in 0..4usize,
        template in 0..5usize,
        n in 1..50usize,
    ) {
        let sql = with_lists(dialect, style, template, n);
        let one = with_lists(dialect, style, template, 1);
        let key = cache_key(&sql);
        prop_assert_eq!(&key, &cache_key(&one));
        let analysis = analyze(&sql, dialect).expect("generated SQL parses");
        prop_assert_eq!(&analyze(&key, dialect).expect("the key parses"), &analysis);
        if n == 1 {
            prop_assert!(matches!(key, Cow::Borrowed(_)));
        }
    }
}

proptest! {
    // Each case parses up to 10 000 levels in four dialects: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn deep_nesting_never_overflows(kind in 0..12usize, depth in 1..10_000usize) {
        let sql = nested(kind, depth);
        analyze_all(&sql);
        let _ = cache_key(&sql);
    }
}

fn nested(kind: usize, depth: usize) -> String {
    let open_close = |open: &str, close: &str, inner: &str| {
        format!("{}{inner}{}", open.repeat(depth), close.repeat(depth))
    };
    match kind {
        0 => format!("SELECT {}", open_close("(", ")", "1")),
        1 => open_close("SELECT * FROM (", ") s", "SELECT 1"),
        2 => format!(
            "SELECT 1 WHERE x IN {}",
            open_close("(SELECT x FROM t WHERE x IN ", ")", "(1)")
        ),
        3 => format!("SELECT * FROM {}", open_close("(", ")", "a JOIN b ON true")),
        4 => format!("SELECT {}", open_close("f(", ")", "1")),
        5 => format!("SELECT {}", open_close("CASE WHEN ", " THEN 1 END", "true")),
        6 => format!("SELECT {}1", "- ".repeat(depth)),
        7 => format!("SELECT {}true", "NOT ".repeat(depth)),
        8 => open_close("WITH a AS (", ") SELECT * FROM a", "SELECT 1"),
        9 => format!("SELECT {}", "(".repeat(depth)),
        10 => format!("SELECT 1{}", " + 1".repeat(depth)),
        _ => format!("SELECT ARRAY{}", open_close("[", "]", "1")),
    }
}

#[test]
fn ten_thousand_levels_of_each_kind() {
    for kind in 0..12 {
        let results = analyze_all(&nested(kind, 10_000));
        // Beyond the parser's recursion limit, except for flat operator chains.
        if kind != 10 {
            assert!(results.iter().all(Result::is_err), "kind {kind}");
        }
    }
}

/// The deepest SQL the parser accepts needs less than 1 MiB of the caller's stack (a debug
/// build's frames are large; std and tokio threads have 2 MiB): what is deep goes to a thread
/// of its own.
#[test]
fn deep_sql_needs_little_of_the_callers_stack() {
    let deepest = |kind: usize| {
        (1..200)
            .map(|depth| nested(kind, depth))
            .take_while(|sql| analyze(sql, Dialect::Postgres).is_ok())
            .last()
    };
    let mut cases: Vec<String> = (0..12).filter(|&k| k != 10).filter_map(deepest).collect();
    assert!(cases.len() >= 8, "most kinds nest a little");
    cases.extend((0..12).flat_map(|kind| (1..8).map(move |depth| nested(kind, depth))));
    std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(move || {
            for sql in &cases {
                analyze_all(sql);
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

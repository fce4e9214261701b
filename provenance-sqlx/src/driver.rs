//! What differs between databases: the SQL dialect, how to find a table's primary key, how to
//! read a key value out of a row.

use std::fmt;

use futures_core::future::BoxFuture;
use sqlx::{Database, Row};

use crate::analyze::{Dialect, TableName};

/// A database the instrumented [`Pool`](crate::Pool) supports: PostgreSQL (`postgres`),
/// MySQL/MariaDB (`mysql`) and SQLite (`sqlite`), each behind the cargo feature sqlx names it
/// by. Sealed: the per-driver parts (catalog queries, key decoding) live in this crate.
pub trait Driver: Database + sealed::Sealed {
    /// The dialect the SQL analysis parses this database's queries with.
    const DIALECT: Dialect;

    /// Whether an error inside a transaction aborts it, so that its `COMMIT` rolls back
    /// (PostgreSQL).
    #[doc(hidden)]
    const ERROR_ABORTS_TRANSACTION: bool = false;

    /// Whether looking up a primary key inside the host's transaction is harmless. On SQLite
    /// it is not: the catalog read makes a deferred transaction a reader, and its first write
    /// then fails with `SQLITE_BUSY` at once when another connection writes, where it would
    /// have waited. There a key is looked up only outside transactions.
    #[doc(hidden)]
    const DISCOVER_IN_TRANSACTION: bool = true;

    /// The primary-key columns of `table`, in key order; empty when it has none or does not
    /// exist. Runs one catalog query on `conn`; never fails a host transaction (the query
    /// reads the catalog only and cannot raise for a missing table).
    #[doc(hidden)]
    fn primary_key<'c>(
        conn: &'c mut Self::Connection,
        table: &'c TableName,
    ) -> BoxFuture<'c, Result<Vec<String>, sqlx::Error>>;

    /// The value of column `index` of `row` as a key part, or `None` when it is NULL or of a
    /// type that is not used for keys.
    #[doc(hidden)]
    fn key_part(row: &Self::Row, index: usize) -> Option<KeyPart>;
}

/// One part of a primary key, as read from a result row.
#[doc(hidden)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyPart {
    /// A signed integer key.
    Int(i64),
    /// An unsigned integer key (MySQL `UNSIGNED`).
    UInt(u64),
    /// Any other key, as text.
    Text(String),
}

impl KeyPart {
    /// The key as an `i64`, if it is an integer that fits: formatted, the same text as
    /// its [`Display`](fmt::Display).
    pub(crate) fn as_i64(&self) -> Option<i64> {
        match self {
            KeyPart::Int(n) => Some(*n),
            KeyPart::UInt(n) => i64::try_from(*n).ok(),
            // Text that is a number written the one way `i64` is: the same record ID (a
            // column without a type, on SQLite, can hold both 16 and '16').
            KeyPart::Text(s) => s
                .parse::<i64>()
                .ok()
                .filter(|n| canonical(*n, s.as_bytes())),
        }
    }
}

/// Whether `text` (which parsed as `n`) is `n` as `i64`'s `Display` writes it: no sign but
/// `-`, no leading zero, no `-0`.
fn canonical(n: i64, text: &[u8]) -> bool {
    let (negative, digits) = match text.strip_prefix(b"-") {
        Some(digits) => (true, digits),
        None => (false, text),
    };
    negative == (n < 0) && matches!(digits, [b'1'..=b'9', ..] | [b'0'])
}

impl fmt::Display for KeyPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyPart::Int(n) => fmt::Display::fmt(n, f),
            KeyPart::UInt(n) => fmt::Display::fmt(n, f),
            KeyPart::Text(s) => f.write_str(s),
        }
    }
}

mod sealed {
    pub trait Sealed {}
}

/// Reads column `index` as the first of the listed Rust types it decodes to.
#[cfg(any(feature = "postgres", feature = "mysql"))]
macro_rules! decode_first {
    ($row:expr, $index:expr, $($ty:ty => $wrap:expr),+ $(,)?) => {{
        $(
            if let Ok(v) = $row.try_get::<Option<$ty>, _>($index) {
                return v.map($wrap);
            }
        )+
        None
    }};
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use sqlx::postgres::{PgRow, Postgres};
    use sqlx::{TypeInfo, ValueRef};

    impl sealed::Sealed for Postgres {}

    // Joins on names rather than casting to `regclass`, which raises for a missing table
    // and would abort the host's transaction.
    const PRIMARY_KEY: &str = "SELECT a.attname::text \
        FROM pg_catalog.pg_index i \
        JOIN pg_catalog.pg_class c ON c.oid = i.indrelid \
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
        JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey) \
        WHERE i.indisprimary AND c.relname = $1 \
          AND (($2::text IS NULL AND pg_catalog.pg_table_is_visible(c.oid)) OR n.nspname = $2) \
        ORDER BY array_position(i.indkey::int2[], a.attnum)";

    impl Driver for Postgres {
        const DIALECT: Dialect = Dialect::Postgres;
        const ERROR_ABORTS_TRANSACTION: bool = true;

        fn primary_key<'c>(
            conn: &'c mut sqlx::PgConnection,
            table: &'c TableName,
        ) -> BoxFuture<'c, Result<Vec<String>, sqlx::Error>> {
            Box::pin(async move {
                sqlx::query_scalar::<_, String>(PRIMARY_KEY)
                    .bind(table.name())
                    .bind(table.schema())
                    .fetch_all(conn)
                    .await
            })
        }

        fn key_part(row: &PgRow, index: usize) -> Option<KeyPart> {
            let raw = row.try_get_raw(index).ok()?;
            if raw.is_null() {
                return None;
            }
            if raw.type_info().name() == "UUID" {
                // Without sqlx's `uuid` feature: format the 16 bytes the canonical way.
                let bytes = raw.as_bytes().ok()?;
                return (bytes.len() == 16).then(|| KeyPart::Text(uuid_text(bytes)));
            }
            decode_first!(row, index,
                i64 => KeyPart::Int,
                i32 => |n| KeyPart::Int(n.into()),
                i16 => |n| KeyPart::Int(n.into()),
                String => KeyPart::Text,
            )
        }
    }

    fn uuid_text(bytes: &[u8]) -> String {
        use std::fmt::Write;
        let mut s = String::with_capacity(36);
        for (i, b) in bytes.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                s.push('-');
            }
            let _ = write!(s, "{b:02x}");
        }
        s
    }
}

#[cfg(feature = "mysql")]
mod mysql {
    use super::*;
    use sqlx::mysql::{MySql, MySqlRow};

    impl sealed::Sealed for MySql {}

    const PRIMARY_KEY: &str = "SELECT CAST(COLUMN_NAME AS CHAR) FROM information_schema.KEY_COLUMN_USAGE \
        WHERE CONSTRAINT_NAME = 'PRIMARY' AND TABLE_SCHEMA = COALESCE(?, DATABASE()) \
          AND TABLE_NAME = ? \
        ORDER BY ORDINAL_POSITION";

    impl Driver for MySql {
        const DIALECT: Dialect = Dialect::MySql;

        fn primary_key<'c>(
            conn: &'c mut sqlx::MySqlConnection,
            table: &'c TableName,
        ) -> BoxFuture<'c, Result<Vec<String>, sqlx::Error>> {
            Box::pin(async move {
                sqlx::query_scalar::<_, String>(PRIMARY_KEY)
                    .bind(table.schema())
                    .bind(table.name())
                    .fetch_all(conn)
                    .await
            })
        }

        fn key_part(row: &MySqlRow, index: usize) -> Option<KeyPart> {
            decode_first!(row, index,
                i64 => KeyPart::Int,
                u64 => KeyPart::UInt,
                i32 => |n| KeyPart::Int(n.into()),
                u32 => |n| KeyPart::UInt(n.into()),
                String => KeyPart::Text,
            )
        }
    }
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use sqlx::sqlite::{Sqlite, SqliteRow};
    use sqlx::{Decode, Type, ValueRef};

    impl sealed::Sealed for Sqlite {}

    // `pk` is the column's position in the primary key (0 when not part of it).
    const PRIMARY_KEY: &str = "SELECT name FROM pragma_table_info(?1, ?2) WHERE pk > 0 ORDER BY pk";

    impl Driver for Sqlite {
        const DIALECT: Dialect = Dialect::Sqlite;
        const DISCOVER_IN_TRANSACTION: bool = false;

        fn primary_key<'c>(
            conn: &'c mut sqlx::SqliteConnection,
            table: &'c TableName,
        ) -> BoxFuture<'c, Result<Vec<String>, sqlx::Error>> {
            Box::pin(async move {
                sqlx::query_scalar::<_, String>(PRIMARY_KEY)
                    .bind(table.name())
                    .bind(table.schema().unwrap_or("main"))
                    .fetch_all(conn)
                    .await
            })
        }

        fn key_part(row: &SqliteRow, index: usize) -> Option<KeyPart> {
            // sqlx-sqlite 0.9 keeps a cached statement's column list after the schema changes
            // under it (SQLite re-prepares the statement, sqlx does not re-read its columns),
            // and then indexes past the row's values with a panic. The host's query must not
            // fail because we read a key: such a row records nothing. (With `panic = "abort"`
            // this cannot be caught; the stale statement is sqlx's, and so is that panic.)
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                // What `decode_first!(i64, String)` does through `try_get::<Option<_>>`, with
                // the value asked for its type and nullness once each: every keyed row of a
                // result comes here.
                let raw = row.try_get_raw(index).ok()?;
                if raw.is_null() {
                    return None;
                }
                let ty = raw.type_info();
                if <i64 as Type<Sqlite>>::compatible(&ty)
                    && let Ok(n) = <i64 as Decode<Sqlite>>::decode(row.try_get_raw(index).ok()?)
                {
                    return Some(KeyPart::Int(n));
                }
                if <String as Type<Sqlite>>::compatible(&ty)
                    && let Ok(s) = <String as Decode<Sqlite>>::decode(raw)
                {
                    return Some(KeyPart::Text(s));
                }
                None
            }))
            .ok()
            .flatten()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::KeyPart;

    #[test]
    fn text_keys_are_numbers_only_when_written_as_numbers_are() {
        let text = |s: &str| KeyPart::Text(s.to_owned()).as_i64();
        for n in [0, 7, 16, -16, i64::MAX, i64::MIN] {
            assert_eq!(text(&n.to_string()), Some(n));
            assert_eq!(KeyPart::Int(n).to_string(), n.to_string());
        }
        for s in [
            "+16",
            "016",
            "-0",
            "-016",
            "00",
            "",
            "-",
            "1e3",
            " 1",
            "9223372036854775808",
        ] {
            assert_eq!(text(s), None, "{s:?}");
        }
        assert_eq!(KeyPart::UInt(u64::MAX).as_i64(), None);
        assert_eq!(KeyPart::UInt(5).as_i64(), Some(5));
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod sqlite_key_part {
    use super::{Driver, KeyPart};
    use sqlx::Row;
    use sqlx::sqlite::{Sqlite, SqliteRow};

    /// The previous implementation: `decode_first!(row, index, i64 => Int, String => Text)`.
    fn old(row: &SqliteRow, index: usize) -> Option<KeyPart> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if let Ok(v) = row.try_get::<Option<i64>, _>(index) {
                return v.map(KeyPart::Int);
            }
            if let Ok(v) = row.try_get::<Option<String>, _>(index) {
                return v.map(KeyPart::Text);
            }
            None
        }))
        .ok()
        .flatten()
    }

    #[test]
    fn key_part_matches_the_old_decode_first() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect("sqlite::memory:")
                .await
                .unwrap();
            sqlx::raw_sql(
                "CREATE TABLE t (i INTEGER, x TEXT, r REAL, b BLOB, u, n NUMERIC, bo BOOLEAN);
                 INSERT INTO t VALUES
                   (1, '1', 1.0, x'01', 1, 1, 1),
                   (NULL, NULL, NULL, NULL, NULL, NULL, NULL),
                   ('abc', 'abc', 'abc', 'abc', 'abc', 'abc', 'abc'),
                   ('16', 16, '16', '16', '16', '16', '16'),
                   (1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5),
                   (x'ff', x'ff', x'ff', x'ff', x'ff', x'ff', x'ff'),
                   (x'', x'', x'', x'', x'', x'', x''),
                   ('', '', '', '', '', '', ''),
                   (9223372036854775807, '-9223372036854775808', 9223372036854775807, -1, -1, -1, 0),
                   (CAST(x'ff' AS TEXT), CAST(x'ff' AS TEXT), CAST(x'ff' AS TEXT), CAST(x'ff' AS TEXT),
                    CAST(x'ff' AS TEXT), CAST(x'ff' AS TEXT), CAST(x'ff' AS TEXT)),
                   (' 7', '007', 1e300, 0, 0, 0, 0);",
            )
            .execute(&pool)
            .await
            .unwrap();
            for sql in [
                "SELECT * FROM t",
                "SELECT i + 0, x || '', 1, NULL, 'q', x'00', 2.5, CAST(i AS TEXT) FROM t",
            ] {
                let rows: Vec<SqliteRow> = sqlx::query(sql).fetch_all(&pool).await.unwrap();
                // A fetch of its own for the old path: decoding is stateful.
                let again: Vec<SqliteRow> = sqlx::query(sql).fetch_all(&pool).await.unwrap();
                let mut checked = 0;
                for (r, (row, row2)) in rows.iter().zip(&again).enumerate() {
                    for c in 0..row.len() + 1 {
                        let new = <Sqlite as Driver>::key_part(row, c);
                        let old = old(row2, c);
                        // And each read twice: the second read of a value agrees too.
                        assert_eq!(<Sqlite as Driver>::key_part(row, c), new);
                        assert_eq!(new, old, "{sql}: row {r} column {c}");
                        checked += 1;
                    }
                }
                assert!(checked >= 80, "{sql}: {checked} values");
            }
        });
    }
}

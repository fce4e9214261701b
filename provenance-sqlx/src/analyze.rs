//! What a piece of SQL reads and writes: tables, written columns, and what its result rows are.
//!
//! [`analyze`] parses SQL with [`sqlparser`] and walks the syntax tree. It needs no database
//! and no schema, so it only knows what the text says; the rules below say how it reads the
//! text.
//!
//! ```
//! use provenance_sqlx::{analyze, Dialect, Effect};
//!
//! let analysis = analyze(
//!     "INSERT INTO orders (customer_id, total_cents)
//!      SELECT c.id, 100 FROM customers c WHERE c.email = $1
//!      RETURNING id",
//!     Dialect::Postgres,
//! )?;
//! let names = |it: &mut dyn Iterator<Item = String>| it.collect::<Vec<_>>();
//! assert_eq!(names(&mut analysis.reads().map(|t| t.to_string())), ["customers"]);
//! assert_eq!(names(&mut analysis.writes().map(|t| t.to_string())), ["orders"]);
//! assert_eq!(
//!     names(&mut analysis.written_columns().map(|c| c.to_string())),
//!     ["orders.customer_id", "orders.total_cents"],
//! );
//! let rows = analysis.rows().expect("RETURNING gives rows");
//! assert_eq!(rows.effect(), Effect::Produced);
//! assert_eq!(rows.source_of("id").map(|c| c.to_string()).as_deref(), Some("orders.id"));
//! # Ok::<(), provenance_sqlx::AnalyzeError>(())
//! ```
//!
//! # Names
//!
//! - Unquoted identifiers are folded to lower case (ASCII letters, as PostgreSQL does in a UTF-8
//!   database), in every dialect; quoted ones (`"X"`, `` `X` ``, `[X]`) keep their exact text.
//!   So `Orders`, `ORDERS` and `"orders"` are one table, and `"Orders"` is another.
//! - A table keeps its schema when the SQL names one (`public.orders` is schema `public`, table
//!   `orders`); of a three-part name (`db.public.orders`) the last two parts are kept.
//! - `USE name` (MySQL: a database is a schema) gives later unqualified tables in the same
//!   string that schema. Analyses do not carry state from one call to the next.
//!
//! # Reads and writes
//!
//! - Every table named in a `FROM`, `JOIN`, `USING`, subquery (in `FROM`, `WHERE … IN`,
//!   `EXISTS`, a scalar subquery anywhere), `TABLE name`, `COPY … TO`, or the source of
//!   `INSERT … SELECT`, `CREATE TABLE … AS`, `CREATE VIEW`, `CREATE TABLE … LIKE`, `MERGE …
//!   USING` is read. Parenthesised and nested joins are looked through.
//! - Tables written: the target of `INSERT` (and MySQL `REPLACE`), `UPDATE`, `DELETE`, `MERGE`,
//!   `COPY … FROM`, `SELECT … INTO` (not in MySQL, where `INTO` names variables), the table of
//!   `CREATE TABLE` (also `AS` and `LIKE`), `CREATE VIEW` (and materialized views, refreshed
//!   too), `ALTER TABLE` (with a `RENAME TO`, the new name as well), `RENAME TABLE` (both
//!   names), `DROP TABLE`/`DROP VIEW` (each one), `TRUNCATE` (each one), and the table of
//!   `CREATE INDEX` or MySQL `DROP INDEX … ON`.
//! - The target of `UPDATE`, `DELETE` and `MERGE` is written, not read, although the statement
//!   looks at its rows; a table that is also read elsewhere in the statement (a subquery on
//!   the same table) is in both lists.
//! - In a MySQL multi-table `UPDATE a JOIN b … SET a.x = …`, the tables whose columns are set
//!   are written and the others read; when no `SET` target names its table, the first one is
//!   taken as written. In `DELETE t1 FROM t1 JOIN t2` (and `DELETE FROM t1 USING t1 JOIN t2`)
//!   the listed tables are written and the rest read.
//! - Written columns: the column list of `INSERT` (none without one), the targets of `UPDATE …
//!   SET`, `ON CONFLICT … DO UPDATE SET`, `ON DUPLICATE KEY UPDATE`, and of `MERGE`'s update
//!   and insert, the column definitions of `CREATE TABLE`, and the column of `ALTER TABLE`
//!   `ADD`/`ALTER`/`MODIFY`/`DROP COLUMN` and of `RENAME`/`CHANGE COLUMN` (both names). A
//!   column is attributed to a table only when the SQL says which one it is.
//! - Functions in `FROM` (`generate_series(…)`, `json_each(…)`, `UNNEST`, `LATERAL` ones) are
//!   not tables; subqueries in their arguments are still looked at.
//! - Transaction and session statements (`BEGIN`, `COMMIT`, `SAVEPOINT`, `SET`, `SHOW`, …)
//!   analyse to nothing, as do statements that touch no table data. `EXPLAIN` analyses to
//!   nothing, `EXPLAIN ANALYZE` to its statement, which runs.
//! - Several statements in one string are analysed together: the lists are their union.
//!
//! # Common table expressions
//!
//! A `WITH` name is never reported as a table: a reference to it is resolved, innermost first,
//! and reads through it count as reads of what it reads. A CTE name shadows a table of the same
//! name, except inside its own body when `WITH` is not `RECURSIVE`, where the name still means
//! the table (`WITH orders AS (SELECT * FROM orders …)` reads table `orders`). A
//! schema-qualified name always means a table. A CTE that nothing refers to is not run by the
//! databases (PostgreSQL, MySQL, SQLite), so what only it reads is not reported, unless it
//! changes data (`WITH x AS (INSERT … RETURNING …) SELECT …`), which always runs: its writes
//! and reads are reported.
//!
//! # Result rows
//!
//! [`Analysis::rows`] says what the rows returned by the *last* statement are, when that is
//! known:
//!
//! - a `SELECT` whose rows are rows of its tables: its effect is [`Effect::Read`]. A `SELECT`
//!   with `GROUP BY`, `HAVING`, `DISTINCT`, an aggregate function (outside a window) in its
//!   output or `ORDER BY`, or a set operation (`UNION`, `INTERSECT`, `EXCEPT`) gives rows that
//!   are not one-to-one with table rows, and has no [`Rows`]; so does `SELECT … INTO`. A user
//!   defined aggregate is not recognised as one.
//! - `INSERT`, `UPDATE` or `DELETE` with `RETURNING`: [`Effect::Produced`], describing the
//!   records of the target table the statement wrote. For `DELETE` these are the records it
//!   removed: removing a record is a write of it.
//! - Other statements return no table rows: `None`.
//!
//! [`Rows::source_of`] maps an output column to the table column it is, when that is
//! unambiguous. For a `SELECT`, an output item that is a plain column (`id`, `o.id`,
//! `o.id AS order_id`, `public.orders.id`) is resolved when it is qualified by the name or alias
//! of a table in the `FROM`, or unqualified with exactly one item in the `FROM`, which is a
//! table (not a subquery, CTE or function). `*` with exactly one table in the `FROM`, or
//! `alias.*`, resolves every other output name to that table. Expressions, aggregates, and
//! columns of subqueries and CTEs resolve to nothing; so does a name that two output items
//! give. For `RETURNING`, plain columns and `*` resolve to the target table; a column of another
//! table of `UPDATE … FROM` or `DELETE … USING` does not.
//!
//! # Limits
//!
//! [`analyze`] never panics and never overflows the stack. The parser's recursion limit
//! (50 levels of nested expressions, subqueries and joins) turns deeper SQL into an
//! [`AnalyzeError`]. SQL nested more than 4 parentheses deep, or with more than 2000
//! operators, is analysed on a thread of its own with a stack large enough for the parser's
//! deepest recursion and for long operator chains (`a OR b OR c …`, which the parser builds
//! without recursing but which are deep trees), up to a million operators; longer SQL is
//! refused. On the caller's thread, analysis needs well under 1 MiB of stack in a debug build,
//! and much less in a release build.

mod key;
mod lex;
mod walk;

use std::fmt;
use std::sync::OnceLock;

pub use key::cache_key;

/// The SQL dialect to parse with.
///
/// ```
/// use provenance_sqlx::{analyze, Dialect};
///
/// // Backquotes quote names in MySQL, not in PostgreSQL.
/// assert!(analyze("SELECT * FROM `Orders`", Dialect::MySql).is_ok());
/// assert!(analyze("SELECT * FROM `Orders`", Dialect::Postgres).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// PostgreSQL: placeholders `$1`.
    Postgres,
    /// MySQL and MariaDB: placeholders `?`.
    MySql,
    /// SQLite: placeholders `?`, `?1`, `:name`, `@name`, `$name`.
    Sqlite,
    /// sqlparser's permissive generic dialect, for anything else.
    Generic,
}

/// Why SQL could not be analysed: the parser's message, or a limit that it hit.
///
/// ```
/// use provenance_sqlx::{analyze, Dialect};
///
/// let error = analyze("SELEC 1", Dialect::Postgres).unwrap_err();
/// assert!(error.to_string().starts_with("cannot parse the sql: "));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(transparent)]
pub struct AnalyzeError(#[from] Reason);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
enum Reason {
    #[error("cannot parse the sql: {0}")]
    Parse(Box<str>),
    #[error("the sql nests deeper than {0} levels")]
    TooDeep(usize),
    #[error("the sql has {0} operators, more than the {1} that are analysed")]
    TooLong(usize, usize),
    #[error("cannot start a thread to analyse a long sql expression: {0}")]
    Thread(Box<str>),
    #[error("the sql parser panicked on this sql")]
    Panicked,
}

/// A table, as the SQL names it, with [names folded](self#names).
///
/// Displays as `schema.name`, or `name` without a schema, with no quoting.
///
/// ```
/// use provenance_sqlx::{analyze, Dialect};
///
/// let analysis = analyze(r#"SELECT * FROM Public."Orders""#, Dialect::Postgres)?;
/// let table = analysis.reads().next().unwrap();
/// assert_eq!((table.schema(), table.name()), (Some("public"), "Orders"));
/// assert_eq!(table.to_string(), "public.Orders");
/// # Ok::<(), provenance_sqlx::AnalyzeError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableName {
    schema: Option<Box<str>>,
    name: Box<str>,
}

impl TableName {
    /// A table name from its parts, taken as they are (not folded).
    ///
    /// ```
    /// use provenance_sqlx::TableName;
    ///
    /// assert_eq!(TableName::new(Some("sales"), "orders").to_string(), "sales.orders");
    /// assert_eq!(TableName::new(None, "orders").schema(), None);
    /// ```
    pub fn new(schema: Option<&str>, name: &str) -> Self {
        TableName {
            schema: schema.map(Into::into),
            name: name.into(),
        }
    }

    /// The schema, when the SQL names one.
    ///
    /// ```
    /// use provenance_sqlx::TableName;
    ///
    /// assert_eq!(TableName::new(Some("sales"), "orders").schema(), Some("sales"));
    /// ```
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// The table's own name.
    ///
    /// ```
    /// use provenance_sqlx::TableName;
    ///
    /// assert_eq!(TableName::new(Some("sales"), "orders").name(), "orders");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The name as the `tbl:`, `col:` and `rec:` ID builders take it.
///
/// ```
/// use provenance_sqlx::TableName;
///
/// let t = TableName::new(Some("sales"), "orders");
/// assert_eq!(provenance::table_id(&t)?.as_str(), "tbl:sales.orders");
/// # Ok::<(), provenance::IdError>(())
/// ```
impl<'a> From<&'a TableName> for provenance::id::TableName<'a> {
    fn from(t: &'a TableName) -> Self {
        provenance::id::TableName {
            schema: t.schema(),
            name: t.name(),
        }
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(schema) = &self.schema {
            write!(f, "{schema}.")?;
        }
        f.write_str(&self.name)
    }
}

/// A column of a table. Displays as `table.column`.
///
/// ```
/// use provenance_sqlx::{analyze, Dialect};
///
/// let analysis = analyze("UPDATE sales.orders SET Total = 0", Dialect::Postgres)?;
/// let column = analysis.written_columns().next().unwrap();
/// assert_eq!((column.table().to_string(), column.column()), ("sales.orders".into(), "total"));
/// assert_eq!(column.to_string(), "sales.orders.total");
/// # Ok::<(), provenance_sqlx::AnalyzeError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ColumnName {
    table: TableName,
    column: Box<str>,
}

impl ColumnName {
    /// A column name from its parts.
    ///
    /// ```
    /// use provenance_sqlx::{ColumnName, TableName};
    ///
    /// let column = ColumnName::new(TableName::new(None, "orders"), "id");
    /// assert_eq!(column.to_string(), "orders.id");
    /// ```
    pub fn new(table: TableName, column: &str) -> Self {
        ColumnName {
            table,
            column: column.into(),
        }
    }

    /// The table the column belongs to.
    ///
    /// ```
    /// use provenance_sqlx::{ColumnName, TableName};
    ///
    /// let column = ColumnName::new(TableName::new(None, "orders"), "id");
    /// assert_eq!(column.table().name(), "orders");
    /// ```
    pub fn table(&self) -> &TableName {
        &self.table
    }

    /// The column's own name.
    ///
    /// ```
    /// use provenance_sqlx::{ColumnName, TableName};
    ///
    /// let column = ColumnName::new(TableName::new(None, "orders"), "id");
    /// assert_eq!(column.column(), "id");
    /// ```
    pub fn column(&self) -> &str {
        &self.column
    }
}

impl fmt::Display for ColumnName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.table, self.column)
    }
}

/// What [`analyze`] found in a piece of SQL. See the [module docs](self) for the rules.
///
/// ```
/// use provenance_sqlx::{analyze, Dialect};
///
/// let analysis = analyze("BEGIN; DELETE FROM carts WHERE id = ?; COMMIT", Dialect::MySql)?;
/// assert_eq!(analysis.statements(), 3);
/// assert_eq!(analysis.writes().map(|t| t.name()).collect::<Vec<_>>(), ["carts"]);
/// assert!(analysis.rows().is_none());
/// # Ok::<(), provenance_sqlx::AnalyzeError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Analysis {
    reads: Box<[TableName]>,
    writes: Box<[TableName]>,
    written_columns: Box<[ColumnName]>,
    statements: usize,
    rows: Option<Rows>,
}

impl Analysis {
    /// The tables read, sorted and without duplicates. Never a CTE name.
    ///
    /// ```
    /// use provenance_sqlx::{analyze, Dialect};
    ///
    /// let sql = "WITH recent AS (SELECT * FROM orders WHERE day = CURRENT_DATE)
    ///            SELECT * FROM recent JOIN customers c ON c.id = recent.customer_id";
    /// let analysis = analyze(sql, Dialect::Postgres)?;
    /// let reads: Vec<_> = analysis.reads().map(|t| t.name()).collect();
    /// assert_eq!(reads, ["customers", "orders"]);
    /// # Ok::<(), provenance_sqlx::AnalyzeError>(())
    /// ```
    pub fn reads(&self) -> impl Iterator<Item = &TableName> {
        self.reads.iter()
    }

    /// The tables written, sorted and without duplicates.
    ///
    /// ```
    /// use provenance_sqlx::{analyze, Dialect};
    ///
    /// let analysis = analyze("DROP TABLE IF EXISTS a.b, c", Dialect::Postgres)?;
    /// let writes: Vec<_> = analysis.writes().map(|t| t.to_string()).collect();
    /// assert_eq!(writes, ["c", "a.b"]);
    /// # Ok::<(), provenance_sqlx::AnalyzeError>(())
    /// ```
    pub fn writes(&self) -> impl Iterator<Item = &TableName> {
        self.writes.iter()
    }

    /// The columns written, sorted and without duplicates.
    ///
    /// ```
    /// use provenance_sqlx::{analyze, Dialect};
    ///
    /// let sql = "INSERT INTO counters (name, hits) VALUES (?, 1)
    ///            ON DUPLICATE KEY UPDATE hits = hits + 1, seen = NOW()";
    /// let analysis = analyze(sql, Dialect::MySql)?;
    /// let columns: Vec<_> = analysis.written_columns().map(|c| c.column()).collect();
    /// assert_eq!(columns, ["hits", "name", "seen"]);
    /// # Ok::<(), provenance_sqlx::AnalyzeError>(())
    /// ```
    pub fn written_columns(&self) -> impl Iterator<Item = &ColumnName> {
        self.written_columns.iter()
    }

    /// How many statements the SQL holds.
    ///
    /// ```
    /// use provenance_sqlx::{analyze, Dialect};
    ///
    /// assert_eq!(analyze("SELECT 1; SELECT 2;", Dialect::Sqlite)?.statements(), 2);
    /// assert_eq!(analyze("", Dialect::Sqlite)?.statements(), 0);
    /// # Ok::<(), provenance_sqlx::AnalyzeError>(())
    /// ```
    pub fn statements(&self) -> usize {
        self.statements
    }

    /// What the result rows of the last statement describe, when that is known.
    ///
    /// ```
    /// use provenance_sqlx::{analyze, Dialect, Effect};
    ///
    /// let analysis = analyze("SELECT id, total FROM orders WHERE id = $1", Dialect::Postgres)?;
    /// assert_eq!(analysis.rows().map(|rows| rows.effect()), Some(Effect::Read));
    /// // Counting gives a number, not rows of `orders`.
    /// assert!(analyze("SELECT count(*) FROM orders", Dialect::Postgres)?.rows().is_none());
    /// # Ok::<(), provenance_sqlx::AnalyzeError>(())
    /// ```
    pub fn rows(&self) -> Option<&Rows> {
        self.rows.as_ref()
    }
}

/// Whether result rows were read from their tables or written to them.
///
/// ```
/// use provenance_sqlx::{analyze, Dialect, Effect};
///
/// let sql = "DELETE FROM sessions WHERE expires < now() RETURNING id";
/// let rows = analyze(sql, Dialect::Postgres)?.rows().cloned().unwrap();
/// assert_eq!(rows.effect(), Effect::Produced);
/// # Ok::<(), provenance_sqlx::AnalyzeError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Effect {
    /// The rows are table rows that a `SELECT` read.
    Read,
    /// The rows are the records that an `INSERT`, `UPDATE` or `DELETE` wrote (for `DELETE`,
    /// removed), returned by `RETURNING`.
    Produced,
}

/// What the result rows of a statement are. See [Result rows](self#result-rows).
///
/// Cheap to share: the pool keeps it inside an `Arc`'d [`Analysis`].
///
/// ```
/// use provenance_sqlx::{analyze, Dialect};
///
/// let sql = "SELECT o.*, c.name AS customer FROM orders o JOIN customers c ON c.id = o.customer_id";
/// let analysis = analyze(sql, Dialect::Postgres)?;
/// let rows = analysis.rows().unwrap();
/// let source = |name| rows.source_of(name).map(|c| c.to_string());
/// assert_eq!(source("customer").as_deref(), Some("customers.name"));
/// assert_eq!(source("total_cents").as_deref(), Some("orders.total_cents"));
/// # Ok::<(), provenance_sqlx::AnalyzeError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rows {
    effect: Effect,
    /// Output names, sorted, with the column each one is, if known. A name that maps to
    /// nothing still hides the wildcard.
    columns: Box<[(Box<str>, Option<ColumnName>)]>,
    /// The table that every other output name belongs to, from `*` or `alias.*`.
    wildcard: Option<Wildcard>,
}

impl Rows {
    /// Whether the rows were read or written.
    ///
    /// ```
    /// use provenance_sqlx::{analyze, Dialect, Effect};
    ///
    /// let analysis = analyze("SELECT * FROM orders", Dialect::Sqlite)?;
    /// assert_eq!(analysis.rows().unwrap().effect(), Effect::Read);
    /// # Ok::<(), provenance_sqlx::AnalyzeError>(())
    /// ```
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// The table column that the output column named `output_column` is, when unambiguous.
    ///
    /// The name is matched exactly first, then ignoring ASCII case (MySQL and SQLite report an
    /// unquoted output name as it was written, while the analysis folds it). A name that only
    /// a wildcard can give resolves to that name, as given, in the wildcard's table; the
    /// first 4096 such names are remembered so that a reference can be returned, later ones
    /// resolve to `None`.
    ///
    /// ```
    /// use provenance_sqlx::{analyze, Dialect};
    ///
    /// let analysis = analyze("SELECT Id, lower(email) AS email FROM users", Dialect::MySql)?;
    /// let rows = analysis.rows().unwrap();
    /// assert_eq!(rows.source_of("Id").map(|c| c.to_string()).as_deref(), Some("users.id"));
    /// assert!(rows.source_of("email").is_none());
    /// # Ok::<(), provenance_sqlx::AnalyzeError>(())
    /// ```
    pub fn source_of(&self, output_column: &str) -> Option<&ColumnName> {
        let by_name = |name: &str| self.columns.binary_search_by(|(n, _)| (**n).cmp(name)).ok();
        let found = by_name(output_column).or_else(|| {
            let mut matching = self
                .columns
                .iter()
                .enumerate()
                .filter(|(_, (n, _))| n.eq_ignore_ascii_case(output_column));
            match (matching.next(), matching.next()) {
                (Some((i, _)), None) => Some(i),
                _ => None,
            }
        });
        match found {
            Some(i) => self.columns[i].1.as_ref(),
            None => self.wildcard.as_ref()?.resolve(output_column),
        }
    }
}

/// The table of a wildcard, and the column names asked of it so far, so that
/// [`Rows::source_of`] can return a reference. An append-only list of `OnceLock`s lets
/// readers on many threads add names through a shared reference, safely and without a lock.
struct Wildcard {
    table: TableName,
    names: OnceLock<Box<NameNode>>,
}

struct NameNode {
    column: ColumnName,
    next: OnceLock<Box<NameNode>>,
}

/// Bounds the memory a long-lived, shared [`Rows`] can gain from being asked odd names.
const WILDCARD_NAMES: usize = 4096;

impl Wildcard {
    fn new(table: TableName) -> Self {
        Wildcard {
            table,
            names: OnceLock::new(),
        }
    }

    fn resolve(&self, name: &str) -> Option<&ColumnName> {
        let mut slot = &self.names;
        for _ in 0..WILDCARD_NAMES {
            let node = slot.get_or_init(|| {
                Box::new(NameNode {
                    column: ColumnName::new(self.table.clone(), name),
                    next: OnceLock::new(),
                })
            });
            if &*node.column.column == name {
                return Some(&node.column);
            }
            slot = &node.next;
        }
        None
    }
}

impl Clone for Wildcard {
    /// The names asked so far are a cache; a clone starts without them.
    fn clone(&self) -> Self {
        Wildcard::new(self.table.clone())
    }
}

impl PartialEq for Wildcard {
    fn eq(&self, other: &Self) -> bool {
        self.table == other.table
    }
}

impl Eq for Wildcard {}

impl fmt::Debug for Wildcard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Wildcard").field(&self.table).finish()
    }
}

impl Drop for Wildcard {
    /// Without this, dropping a long list would recurse once per name.
    fn drop(&mut self) {
        let mut next = self.names.take();
        while let Some(mut node) = next {
            next = node.next.take();
        }
    }
}

/// Parses `sql` and reports what it reads and writes. See the [module docs](self) for the
/// rules.
///
/// # Errors
///
/// When the SQL does not parse in `dialect`, or is beyond the [limits](self#limits).
///
/// ```
/// use provenance_sqlx::{analyze, Dialect};
///
/// let sql = "UPDATE orders o SET status = 'paid' FROM payments p
///            WHERE p.order_id = o.id AND p.id = $1 RETURNING o.*";
/// let analysis = analyze(sql, Dialect::Postgres)?;
/// assert_eq!(analysis.reads().map(|t| t.name()).collect::<Vec<_>>(), ["payments"]);
/// assert_eq!(analysis.writes().map(|t| t.name()).collect::<Vec<_>>(), ["orders"]);
/// let rows = analysis.rows().unwrap();
/// assert_eq!(rows.source_of("status").map(|c| c.to_string()).as_deref(), Some("orders.status"));
///
/// assert!(analyze("SELECT (((", Dialect::Postgres).is_err());
/// # Ok::<(), provenance_sqlx::AnalyzeError>(())
/// ```
pub fn analyze(sql: &str, dialect: Dialect) -> Result<Analysis, AnalyzeError> {
    let nesting = lex::nesting(sql);
    if nesting.weight <= INLINE_WEIGHT && nesting.depth <= INLINE_DEPTH {
        return guarded(sql, dialect);
    }
    if nesting.weight > MAX_WEIGHT {
        return Err(Reason::TooLong(nesting.weight, MAX_WEIGHT).into());
    }
    // Room for the parser's deepest recursion, and for dropping (and walking) a chain of
    // `weight` operators, which recurses once per operator: generously, as a debug build's
    // frames are large. Only the pages touched are committed.
    let stack = (32 << 20) + nesting.weight * 256;
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("provenance-sqlx-analyze".into())
            .stack_size(stack)
            .spawn_scoped(scope, || guarded(sql, dialect))
            .map_err(|e| AnalyzeError::from(Reason::Thread(e.to_string().into())))?
            .join()
            .unwrap_or_else(|_| Err(Reason::Panicked.into()))
    })
}

/// Up to this many operators the syntax tree is shallow enough to drop on the caller's stack
/// (a few hundred KiB at most in a debug build).
const INLINE_WEIGHT: usize = 2000;
/// Up to this depth of parentheses the parser runs on the caller's stack. sqlparser guards its
/// recursion by moving to a new stack segment when less than 128 KiB are left, but in a debug
/// build one level of a subquery or parenthesised join can take more than that, so deeper SQL
/// gets a thread whose stack the parser cannot come near the end of.
const INLINE_DEPTH: usize = 4;
const MAX_WEIGHT: usize = 1_000_000;
/// sqlparser's default; deeper SQL is an error rather than a deep recursion.
const RECURSION_LIMIT: usize = 50;

/// A parser bug must not take the host's query down with it: a panic becomes an error.
fn guarded(sql: &str, dialect: Dialect) -> Result<Analysis, AnalyzeError> {
    std::panic::catch_unwind(|| run(sql, dialect)).unwrap_or_else(|_| Err(Reason::Panicked.into()))
}

fn run(sql: &str, dialect: Dialect) -> Result<Analysis, AnalyzeError> {
    use sqlparser::dialect::{GenericDialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
    use sqlparser::parser::Parser;

    let parsed = match dialect {
        Dialect::Postgres => Parser::new(&PostgreSqlDialect {}),
        Dialect::MySql => Parser::new(&MySqlDialect {}),
        Dialect::Sqlite => Parser::new(&SQLiteDialect {}),
        Dialect::Generic => Parser::new(&GenericDialect {}),
    }
    .with_recursion_limit(RECURSION_LIMIT)
    .try_with_sql(sql)
    .and_then(|mut parser| parser.parse_statements());
    let statements = parsed.map_err(|e| Reason::Parse(e.to_string().into()))?;
    walk::analyze(&statements, dialect)
}

//! The instrumented pool, its connections and transactions, and their `sqlx::Executor` impls.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_core::future::BoxFuture;
use futures_core::stream::BoxStream;
use futures_util::TryStreamExt;
use provenance::Store;
use sqlx::error::BoxDynError;
use sqlx::{Database, Describe, Either, Error, Execute, Executor, SqlStr};
use sqlx_core::ext::async_stream::{TryAsyncStream, Yielder};

use crate::driver::Driver;
use crate::recorder::{Actor, Observation, Pending, Recorder};

/// A `sqlx::Pool` that records lineage for every query run through it.
///
/// Made with [`Pool::new`] from a pool you built, or with [`Pool::connect`] /
/// [`Pool::connect_with`] like sqlx's (these record into [`provenance::global`]).
/// `&Pool` implements [`sqlx::Executor`], so `query`, `query_as`, `query_scalar`,
/// `QueryBuilder`, `raw_sql` and the `query!` macros work unchanged. [`Pool::begin`] and
/// [`Pool::acquire`] return a [`Transaction`] and a [`Connection`] that record too.
///
/// It does not `Deref` to `sqlx::Pool`: that would let queries bypass recording without
/// anyone noticing. Where code needs the raw pool (a function typed `&sqlx::PgPool`, a
/// `sqlx::Acquire` bound, `PgListener::connect_with`, `#[sqlx::test]`), ask for it explicitly
/// with [`Pool::unobserved`]; what runs through it is not recorded.
///
/// ```
/// use provenance::Store;
/// use provenance_sqlx::SqlitePool;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), sqlx::Error> {
/// let store = Store::new();
/// let pool = SqlitePool::new(sqlx::SqlitePool::connect("sqlite::memory:").await?, store.clone());
/// sqlx::query("CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER)").execute(&pool).await?;
///
/// let ctx = provenance::context::Context::from_iter([("request_id", "req:r1")]);
/// provenance::context::scope(ctx, async {
///     sqlx::query("INSERT INTO orders (total) VALUES (?) RETURNING id")
///         .bind(99)
///         .fetch_one(&pool)
///         .await
/// })
/// .await?;
/// assert!(store.related("rec:orders:1").iter().any(|id| id.as_str() == "req:r1"));
/// assert!(store.related("tbl:orders").iter().any(|id| id.as_str() == "col:orders.total"));
/// # Ok(())
/// # }
/// ```
pub struct Pool<DB: Driver> {
    inner: sqlx::Pool<DB>,
    recorder: Arc<Recorder>,
}

impl<DB: Driver> Clone for Pool<DB> {
    fn clone(&self) -> Self {
        Pool {
            inner: self.inner.clone(),
            recorder: self.recorder.clone(),
        }
    }
}

impl<DB: Driver> fmt::Debug for Pool<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("inner", &self.inner)
            .field("store", &self.recorder.store)
            .finish_non_exhaustive()
    }
}

impl<DB: Driver> Pool<DB> {
    /// Wraps `pool`: every query through the result records into `store`.
    pub fn new(pool: sqlx::Pool<DB>, store: Store) -> Self {
        Pool {
            inner: pool,
            recorder: Arc::new(Recorder::new(store, DB::DIALECT)),
        }
    }

    /// Like `sqlx::Pool::connect`, recording into [`provenance::global`].
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Ok(Pool::new(
            sqlx::Pool::connect(url).await?,
            provenance::global().clone(),
        ))
    }

    /// Like `sqlx::Pool::connect_with`, recording into [`provenance::global`].
    pub async fn connect_with(
        options: <DB::Connection as sqlx::Connection>::Options,
    ) -> Result<Self, Error> {
        Ok(Pool::new(
            sqlx::Pool::connect_with(options).await?,
            provenance::global().clone(),
        ))
    }

    /// Like `sqlx::Pool::connect_lazy`, recording into [`provenance::global`].
    pub fn connect_lazy(url: &str) -> Result<Self, Error> {
        Ok(Pool::new(
            sqlx::Pool::connect_lazy(url)?,
            provenance::global().clone(),
        ))
    }

    /// At most `n` records (`rec:` artifacts) are attributed per query (default 1000): a
    /// query returning more rows records the first `n`.
    /// Applies to every clone of this pool.
    pub fn records_per_query(self, n: usize) -> Self {
        self.recorder.records_per_query.store(n, Ordering::Relaxed);
        self
    }

    /// The store this pool records into.
    pub fn store(&self) -> &Store {
        &self.recorder.store
    }

    /// The wrapped sqlx pool. **Queries run through it are not recorded**: this is the escape
    /// hatch for APIs that need a `sqlx::Pool` itself.
    pub fn unobserved(&self) -> &sqlx::Pool<DB> {
        &self.inner
    }

    /// Unwraps the sqlx pool (see [`Pool::unobserved`]).
    pub fn into_unobserved(self) -> sqlx::Pool<DB> {
        self.inner
    }

    /// Takes a connection from the pool; queries through `&mut conn` or `&mut *conn` are
    /// recorded.
    pub async fn acquire(&self) -> Result<PoolConnection<DB>, Error> {
        Ok(PoolConnection {
            conn: Connection {
                conn: Held::Pooled(self.inner.acquire().await?),
                recorder: self.recorder.clone(),
                pending: None,
            },
        })
    }

    /// Starts a transaction. Queries through `&mut tx` or `&mut *tx` are recorded; what they
    /// wrote is recorded when [`Transaction::commit`] succeeds, and dropped (counted as
    /// `rollbacks` on the function or request that began it) on rollback.
    pub async fn begin(&self) -> Result<Transaction<DB>, Error> {
        let actor = Actor::current();
        let tx = self.inner.begin().await?;
        Ok(Transaction {
            conn: Connection {
                conn: Held::Tx(tx),
                recorder: self.recorder.clone(),
                pending: Some(Pending::default()),
            },
            actor,
            open: true,
        })
    }

    /// Like `sqlx::Pool::close`.
    pub async fn close(&self) {
        self.inner.close().await
    }

    /// Like `sqlx::Pool::is_closed`.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    #[cfg(feature = "migrate")]
    pub(crate) fn recorder(&self) -> &Recorder {
        &self.recorder
    }
}

enum Held<DB: Database> {
    Pooled(sqlx::pool::PoolConnection<DB>),
    Tx(sqlx::Transaction<'static, DB>),
    Done,
}

impl<DB: Database> Held<DB> {
    fn raw(&mut self) -> &mut DB::Connection {
        match self {
            Held::Pooled(c) => c,
            Held::Tx(t) => t,
            Held::Done => unreachable!("a finished transaction is consumed"),
        }
    }
}

/// A connection that records the queries run through `&mut Connection`: what a
/// [`PoolConnection`] and a [`Transaction`] dereference to, so that `&mut *conn` and
/// `&mut *tx` record, as `&mut conn` and `&mut tx` do.
pub struct Connection<DB: Driver> {
    conn: Held<DB>,
    recorder: Arc<Recorder>,
    pending: Option<Pending>,
}

impl<DB: Driver> fmt::Debug for Connection<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

impl<DB: Driver> Connection<DB> {
    /// The raw connection. **Queries run through it are not recorded**: the escape hatch for
    /// driver-specific APIs (`COPY`, `LISTEN`, `sqlx::Connection::ping`).
    pub fn unobserved(&mut self) -> &mut DB::Connection {
        self.conn.raw()
    }
}

/// A connection taken from a [`Pool`] with [`Pool::acquire`]; returned to the pool when
/// dropped. Queries through `&mut conn` or `&mut *conn` are recorded.
pub struct PoolConnection<DB: Driver> {
    conn: Connection<DB>,
}

impl<DB: Driver> fmt::Debug for PoolConnection<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolConnection").finish_non_exhaustive()
    }
}

impl<DB: Driver> Deref for PoolConnection<DB> {
    type Target = Connection<DB>;

    fn deref(&self) -> &Connection<DB> {
        &self.conn
    }
}

impl<DB: Driver> DerefMut for PoolConnection<DB> {
    fn deref_mut(&mut self) -> &mut Connection<DB> {
        &mut self.conn
    }
}

/// A transaction that records the queries run through `&mut tx` or `&mut *tx`. What its
/// queries wrote is recorded on [`commit`](Transaction::commit), dropped on rollback.
pub struct Transaction<DB: Driver> {
    conn: Connection<DB>,
    actor: Actor,
    open: bool,
}

impl<DB: Driver> fmt::Debug for Transaction<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction")
            .field("open", &self.open)
            .finish_non_exhaustive()
    }
}

impl<DB: Driver> Deref for Transaction<DB> {
    type Target = Connection<DB>;

    fn deref(&self) -> &Connection<DB> {
        &self.conn
    }
}

impl<DB: Driver> DerefMut for Transaction<DB> {
    fn deref_mut(&mut self) -> &mut Connection<DB> {
        &mut self.conn
    }
}

impl<DB: Driver> Transaction<DB> {
    /// Commits, then records what the transaction's queries wrote. If the commit fails,
    /// nothing it wrote is recorded and the error is returned as sqlx returned it.
    pub async fn commit(mut self) -> Result<(), Error> {
        let Held::Tx(tx) = std::mem::replace(&mut self.conn.conn, Held::Done) else {
            unreachable!("an open transaction holds its sqlx transaction")
        };
        self.open = false;
        let result = tx.commit().await;
        let pending = self
            .conn
            .pending
            .take()
            .map(|p| std::mem::take(&mut *p.lock()));
        let store = &self.conn.recorder.store;
        match &result {
            Ok(()) => {
                // PostgreSQL: a transaction whose last query failed is aborted, and its
                // COMMIT rolls back (sqlx still returns Ok).
                let aborted =
                    DB::ERROR_ABORTS_TRANSACTION && pending.as_ref().is_some_and(|p| p.failed);
                if aborted {
                    self.count("rollbacks", 1);
                    return result;
                }
                if let Some(pending) = pending {
                    for (from, relation, to) in &pending.edges {
                        let _ = store.relate(from, *relation, to);
                    }
                    self.count("uncommitted_edges_dropped", pending.dropped);
                }
                self.count("commits", 1);
            }
            Err(_) => self.count("rollbacks", 1),
        }
        result
    }

    /// Rolls back; what the transaction's queries wrote is not recorded.
    pub async fn rollback(mut self) -> Result<(), Error> {
        let Held::Tx(tx) = std::mem::replace(&mut self.conn.conn, Held::Done) else {
            unreachable!("an open transaction holds its sqlx transaction")
        };
        self.open = false;
        self.conn.pending = None;
        self.count("rollbacks", 1);
        tx.rollback().await
    }

    fn count(&self, name: &str, by: u64) {
        if let (Some(who), true) = (self.actor.who(), by > 0) {
            let _ = self.conn.recorder.store.count(who, name, by);
        }
    }
}

impl<DB: Driver> Drop for Transaction<DB> {
    fn drop(&mut self) {
        // Dropped without commit: sqlx rolls it back.
        if self.open {
            self.count("rollbacks", 1);
        }
    }
}

/// A query taken apart before it runs, so its SQL can be read: `Execute::sql` consumes the
/// query, so the statement, arguments and `persistent` flag are taken first and handed back
/// unchanged.
struct Rebuilt<DB: Database> {
    sql: SqlStr,
    statement: Option<DB::Statement>,
    arguments: Option<Result<Option<DB::Arguments>, BoxDynError>>,
    persistent: bool,
}

impl<DB: Database> Rebuilt<DB> {
    fn new<'q, E: Execute<'q, DB>>(mut query: E) -> Self {
        let statement = query.statement().cloned();
        // In the order the drivers call them: `Map::persistent` answers from whether its
        // arguments are still there, so asking before taking them would change the flag.
        let arguments = Some(query.take_arguments());
        let persistent = query.persistent();
        Rebuilt {
            sql: query.sql(),
            statement,
            arguments,
            persistent,
        }
    }
}

impl<'q, DB: Database> Execute<'q, DB> for Rebuilt<DB> {
    fn sql(self) -> SqlStr {
        self.sql
    }

    fn statement(&self) -> Option<&DB::Statement> {
        self.statement.as_ref()
    }

    fn take_arguments(&mut self) -> Result<Option<DB::Arguments>, BoxDynError> {
        self.arguments.take().unwrap_or(Ok(None))
    }

    fn persistent(&self) -> bool {
        self.persistent
    }
}

#[inline]
fn observe<'q, DB: Driver, E: Execute<'q, DB>>(
    recorder: &Arc<Recorder>,
    query: E,
    pending: Option<Pending>,
) -> (Rebuilt<DB>, Observation<DB>) {
    let query = Rebuilt::new(query);
    let entry = recorder.entry(query.sql.as_str());
    let observation = Observation::new(recorder.clone(), entry, Actor::current(), pending);
    (query, observation)
}

type Item<DB> = Either<<DB as Database>::QueryResult, <DB as Database>::Row>;

/// Looks up the keys `$observation`'s tables lack, on `$conn`, making that future only then.
macro_rules! discover_keys {
    ($observation:expr, $conn:expr) => {{
        let tables = $observation.unknown_keys();
        if !tables.is_empty() {
            $observation.discover_keys($conn, &tables).await;
        }
    }};
}

/// The body of [`run_optional`], also written out in the pool's `fetch_optional`: awaited
/// there, its state would be moved into that future's, a copy of both per query (measured:
/// ~360 instructions).
macro_rules! observed_optional {
    // `$observation` by name, not rebound: a second binding is a second slot in the
    // future's state, and a copy of the observation into it.
    ($conn:expr, $query:expr, $observation:ident) => {{
        let conn = $conn;
        discover_keys!($observation, &mut *conn);
        let result = conn.fetch_optional($query).await;
        $observation.end_optional(&result);
        result
    }};
}

/// The body of [`run_many`], also written out in the pool's `fetch_many`, as
/// [`observed_optional`] is.
macro_rules! observed_many {
    ($conn:expr, $query:expr, $observation:ident, $yielder:expr) => {{
        let conn = $conn;
        discover_keys!($observation, &mut *conn);
        let mut stream = conn.fetch_many($query);
        loop {
            match stream.try_next().await {
                Ok(Some(item)) => {
                    $observation.see(&item);
                    $yielder.r#yield(item).await;
                }
                Ok(None) => break,
                Err(e) => {
                    $observation.fail(&e);
                    $observation.finish();
                    return Err(e);
                }
            }
        }
        drop(stream);
        $observation.finish();
        Ok(())
    }};
}

/// Runs `query` on `conn`, yielding every item as the raw connection does, recording each.
async fn run_many<DB: Driver>(
    conn: &mut DB::Connection,
    query: Rebuilt<DB>,
    mut observation: Observation<DB>,
    yielder: &Yielder<Item<DB>>,
) -> Result<(), Error>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    observed_many!(conn, query, observation, yielder)
}

async fn run_optional<DB: Driver>(
    conn: &mut DB::Connection,
    query: Rebuilt<DB>,
    mut observation: Observation<DB>,
) -> Result<Option<DB::Row>, Error>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    observed_optional!(conn, query, observation)
}

impl<'p, DB: Driver> Executor<'p> for &'_ Pool<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    type Database = DB;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<DB::QueryResult, DB::Row>, Error>>
    where
        E: 'q + Execute<'q, DB>,
    {
        let (query, mut observation) = observe(&self.recorder, query, None);
        // Made now rather than in the stream from a clone of the pool, as sqlx's `&Pool` does:
        // `acquire` does nothing until it is polled, and takes its own reference to the pool,
        // so the clone (an atomic reference count up, and one down) is not needed.
        let acquire = self.inner.acquire();
        Box::pin(TryAsyncStream::new(move |yielder| async move {
            let mut conn = acquire.await?;
            observed_many!(&mut *conn, query, observation, yielder)
        }))
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<DB::Row>, Error>>
    where
        E: 'q + Execute<'q, DB>,
    {
        let (query, mut observation) = observe(&self.recorder, query, None);
        // As in `fetch_many`.
        let acquire = self.inner.acquire();
        Box::pin(async move {
            let mut conn = acquire.await?;
            observed_optional!(&mut *conn, query, observation)
        })
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [DB::TypeInfo],
    ) -> BoxFuture<'e, Result<DB::Statement, Error>>
    where
        'p: 'e,
    {
        (&self.inner).prepare_with(sql, parameters)
    }

    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<Describe<DB>, Error>> {
        (&self.inner).describe(sql)
    }
}

impl<'c, DB: Driver> Executor<'c> for &'c mut Connection<DB>
where
    for<'x> &'x mut DB::Connection: Executor<'x, Database = DB>,
{
    type Database = DB;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<DB::QueryResult, DB::Row>, Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, DB>,
    {
        let (query, observation) = observe(&self.recorder, query, self.pending.clone());
        let conn = self.conn.raw();
        Box::pin(TryAsyncStream::new(move |yielder| async move {
            run_many::<DB>(conn, query, observation, &yielder).await
        }))
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<DB::Row>, Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, DB>,
    {
        let (query, observation) = observe(&self.recorder, query, self.pending.clone());
        let conn = self.conn.raw();
        Box::pin(run_optional::<DB>(conn, query, observation))
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [DB::TypeInfo],
    ) -> BoxFuture<'e, Result<DB::Statement, Error>>
    where
        'c: 'e,
    {
        self.conn.raw().prepare_with(sql, parameters)
    }

    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<Describe<DB>, Error>>
    where
        'c: 'e,
    {
        self.conn.raw().describe(sql)
    }
}

/// `Executor` for a type that holds a [`Connection`] in its `conn` field, by delegation.
macro_rules! delegate_executor {
    ($ty:ident) => {
        impl<'t, DB: Driver> Executor<'t> for &'t mut $ty<DB>
        where
            for<'x> &'x mut DB::Connection: Executor<'x, Database = DB>,
        {
            type Database = DB;

            fn fetch_many<'e, 'q: 'e, E>(
                self,
                query: E,
            ) -> BoxStream<'e, Result<Either<DB::QueryResult, DB::Row>, Error>>
            where
                't: 'e,
                E: 'q + Execute<'q, DB>,
            {
                (&mut self.conn).fetch_many(query)
            }

            fn fetch_optional<'e, 'q: 'e, E>(
                self,
                query: E,
            ) -> BoxFuture<'e, Result<Option<DB::Row>, Error>>
            where
                't: 'e,
                E: 'q + Execute<'q, DB>,
            {
                (&mut self.conn).fetch_optional(query)
            }

            fn prepare_with<'e>(
                self,
                sql: SqlStr,
                parameters: &'e [DB::TypeInfo],
            ) -> BoxFuture<'e, Result<DB::Statement, Error>>
            where
                't: 'e,
            {
                (&mut self.conn).prepare_with(sql, parameters)
            }

            fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<Describe<DB>, Error>>
            where
                't: 'e,
            {
                (&mut self.conn).describe(sql)
            }
        }
    };
}

delegate_executor!(Transaction);
delegate_executor!(PoolConnection);

/// Not public API: what the crate's benchmarks time apart from the database.
#[doc(hidden)]
#[cfg(feature = "sqlite")]
pub mod bench {
    use super::*;
    use sqlx::Sqlite;
    use sqlx::sqlite::SqliteRow;

    /// Records a query of `sql` that returned `rows`, as `pool` records one it runs, without
    /// running it: the observation made when it is issued (the actor, the cached analysis),
    /// each row, and its end. `benches/recording.rs` times this beside [`bare`].
    pub fn record(pool: &Pool<Sqlite>, sql: &'static str, rows: &[SqliteRow]) {
        let (query, mut observation) = observe(&pool.recorder, sqlx::query::<Sqlite>(sql), None);
        for row in rows {
            observation.row(row);
        }
        observation.finish();
        drop(observation);
        drop(query);
    }

    /// What the host does either way in [`record`]: the query built and taken apart for its
    /// text and arguments, as the instrumented pool takes it apart; and what sqlx's own
    /// `&Pool` does that ours does not, a clone of the pool for the query's future (ours
    /// clones its recorder instead: see `fetch_many`).
    pub fn bare(pool: &Pool<Sqlite>, sql: &'static str) {
        drop(std::hint::black_box(pool.inner.clone()));
        drop(Rebuilt::<Sqlite>::new(sqlx::query::<Sqlite>(sql)));
    }
}

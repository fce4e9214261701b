//! Running a `sqlx::migrate::Migrator` so that each applied migration is recorded.

use provenance::{ArchLayer, ArtifactId, Relation, Store, store::Attributes};
use sqlx::migrate::{Migrate, MigrateError, Migrator};

use crate::driver::Driver;
use crate::pool::Pool;
use crate::recorder::Entry;

impl<DB: Driver> Pool<DB>
where
    DB::Connection: Migrate,
{
    /// Runs `migrator` like `Migrator::run(&pool)` and records every migration it applied as
    /// `mig:<version>_<description>` (layer migration), with `produced` edges to the tables
    /// and columns its DDL creates or alters and `contains` from each table to its columns.
    /// Migrations applied earlier are not recorded again. The result is the migrator's.
    ///
    /// ```
    /// use provenance::Store;
    /// use sqlx::SqlSafeStr;
    /// use sqlx::migrate::{Migration, MigrationType, Migrator};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = Store::new();
    /// let pool = provenance_sqlx::SqlitePool::new(
    ///     sqlx::SqlitePool::connect("sqlite::memory:").await?,
    ///     store.clone(),
    /// );
    /// let migrator = Migrator::with_migrations(vec![Migration::new(
    ///     1,
    ///     "create orders".into(),
    ///     MigrationType::Simple,
    ///     "CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER)".into_sql_str(),
    ///     false,
    /// )]);
    /// pool.migrate(&migrator).await?;
    /// let related = store.related("mig:1_create%20orders");
    /// assert!(related.iter().any(|id| id.as_str() == "tbl:orders"));
    /// assert!(related.iter().any(|id| id.as_str() == "col:orders.total"));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn migrate(&self, migrator: &Migrator) -> Result<(), MigrateError> {
        let mut conn = self.unobserved().acquire().await?;
        // Before the first run the table does not exist: nothing was applied.
        let before = applied(&mut *conn, migrator).await;
        let result = migrator.run_direct(None, &mut *conn, false).await;
        let after = applied(&mut *conn, migrator).await;
        let store = &self.recorder().store;
        // A reversible migration's down half has the same version: it was not applied.
        for migration in migrator
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
        {
            let v = migration.version;
            if after.contains(&v) && !before.contains(&v) {
                let Ok(version) = u64::try_from(v) else {
                    continue;
                };
                let Ok(mig) = provenance::migration_id(version, &migration.description) else {
                    continue;
                };
                let sql = migration.sql.as_str();
                record(
                    store,
                    &mig,
                    &Entry::new(sql, crate::analyze(sql, DB::DIALECT).ok()),
                );
            }
        }
        result
    }
}

async fn applied<C: Migrate>(conn: &mut C, migrator: &Migrator) -> Vec<i64> {
    conn.list_applied_migrations(&migrator.table_name)
        .await
        .map(|list| list.into_iter().map(|m| m.version).collect())
        .unwrap_or_default()
}

/// Records one applied migration and what its DDL created or altered: the tables and columns
/// a query's [`Entry`] names, built once there.
pub(crate) fn record(store: &Store, mig: &ArtifactId, ddl: &Entry) {
    let _ = store.describe(mig, Attributes::new().layer(ArchLayer::Migration));
    if ddl.analysis.is_none() {
        store.count_unanalysed_query();
        let _ = store.count(mig, "unanalysed_queries", 1);
        return;
    }
    for tbl in ddl.writes.iter() {
        let _ = store.relate(mig, Relation::Produced, tbl);
    }
    for (tbl, col) in &ddl.columns {
        let _ = store.relate(tbl, Relation::Contains, col);
        let _ = store.relate(mig, Relation::Produced, col);
    }
}

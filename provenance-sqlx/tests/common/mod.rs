//! Shared by the database tests: where the servers are, pools on them, and (in `shared`,
//! which the end-to-end tests include too) skipping loudly when one is missing.
#![allow(dead_code, unreachable_pub)]

mod shared;

pub use shared::*;

use provenance::ArtifactId;

/// `PROVENANCE_MYSQL_URL`, else the local default.
pub fn mysql_url() -> String {
    std::env::var("PROVENANCE_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

pub async fn postgres(test: &str) -> Option<sqlx::PgPool> {
    match sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        // A server that is down should be reported in seconds, not sqlx's default 30.
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect(&postgres_url())
        .await
    {
        Ok(pool) => Some(pool),
        Err(e) => {
            unreachable("PostgreSQL", test, &e);
            None
        }
    }
}

pub async fn mysql(test: &str) -> Option<sqlx::MySqlPool> {
    match sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect(&mysql_url())
        .await
    {
        Ok(pool) => Some(pool),
        Err(e) => {
            unreachable("MariaDB/MySQL", test, &e);
            None
        }
    }
}

pub async fn sqlite() -> sqlx::SqlitePool {
    // One connection: an in-memory database is per connection.
    sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .expect("in-memory SQLite")
}

pub fn id(s: &str) -> ArtifactId {
    s.parse().expect("a valid ID")
}

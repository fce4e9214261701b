//! What every database test shares, in both crates that have them (`provenance-sqlx`'s
//! tests and the end-to-end `tests`, which includes this file by path): where PostgreSQL
//! is, skipping loudly when a server is missing (or failing, under
//! `PROVENANCE_REQUIRE_DATABASES=1`, as CI sets it), unique names, and reading edges back.
#![allow(dead_code, unreachable_pub)]

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};

use provenance::{Direction, Relation, Store};

/// `PROVENANCE_POSTGRES_URL`, else the local default.
pub fn postgres_url() -> String {
    std::env::var("PROVENANCE_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// The server could not be reached: fail when databases are required, else say so on the
/// real stderr (libtest captures `eprintln!`, not this) and let the caller skip.
pub fn unreachable(what: &str, test: &str, error: &dyn std::fmt::Display) {
    if std::env::var("PROVENANCE_REQUIRE_DATABASES").is_ok_and(|v| v == "1") {
        panic!("{what} is required (PROVENANCE_REQUIRE_DATABASES=1) but unreachable: {error}");
    }
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED {test}: {what} is not reachable ({error}). \
         Start it, or set PROVENANCE_REQUIRE_DATABASES=1 to make this a failure. ***\n"
    );
}

/// A table or schema name no other test or run uses at the same time on a shared server.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether `from --relation--> to` is in `store`.
pub fn has_edge(store: &Store, from: &str, relation: Relation, to: &str) -> bool {
    store.neighbors(from).iter().any(|n| {
        n.relation == relation && n.direction == Direction::Outgoing && n.id.as_str() == to
    })
}

/// Every outgoing edge of `from` with `relation`, as strings, sorted (a duplicate edge would
/// show twice).
pub fn targets(store: &Store, from: &str, relation: Relation) -> Vec<String> {
    let mut out: Vec<String> = store
        .neighbors(from)
        .into_iter()
        .filter(|n| n.relation == relation && n.direction == Direction::Outgoing)
        .map(|n| n.id.to_string())
        .collect();
    out.sort();
    out
}

//! Artifact lineage for Rust services: what code produced what data, across modules,
//! requests, queries and jobs.
//!
//! Every artifact has a deterministic `kind:identifier` ID ([`ArtifactId`]; the grammar is in
//! [`id`]). A [`Store`] keeps the lineage graph: artifacts as nodes, typed [`Relation`]s as
//! edges, both directions cheap to walk, bounded in memory. The [`context`] module carries the
//! current request or job through async code. This crate has no web or database dependency;
//! `provenance-tower` and `provenance-sqlx` record requests and queries into it.
//!
//! ```
//! use provenance::{ArchLayer, ModuleInfo, Relation, Store};
//!
//! let store = Store::new();
//! store.register_module(
//!     "shop::orders",
//!     ModuleInfo::default().source_file("src/orders.rs").dependency("shop::orders::repo"),
//! )?;
//!
//! // A request ran `create`, which wrote order 42; an invoice was derived from it.
//! let create = provenance::function_id("shop::orders", "create")?;
//! let req = provenance::request_id("0190f1a2b3c4")?;
//! let order = provenance::record_id("orders", 42)?;
//! let invoice = provenance::record_id("invoices", 7)?;
//! store.relate(&create, Relation::During, &req)?;
//! store.record(order.as_str(), create.as_str())?;
//! store.relate(&req, Relation::Produced, &order)?;
//! store.relate(&invoice, Relation::DerivedFrom, &order)?;
//!
//! assert_eq!(
//!     store.related("rec:orders:42"),
//!     ["fn:shop::orders::create", "rec:invoices:7", "req:0190f1a2b3c4"]
//! );
//! assert_eq!(store.lookup("mod:shop::orders").unwrap().layer, Some(ArchLayer::Context));
//! let lineage = store.downstream(req.as_str(), 3).unwrap();
//! assert!(lineage.contains("rec:invoices:7"));
//! # Ok::<(), provenance::Error>(())
//! ```
//!
//! # The seed's API, here
//!
//! | Elixir | Rust |
//! |---|---|
//! | `Provenance.register_module/2` | [`register_module`], [`Store::register_module`] |
//! | `Provenance.record/2` | [`record`], [`Store::record`]; typed: [`Store::relate`] |
//! | `Provenance.lookup/1` | [`lookup`], [`Store::lookup`] |
//! | `Provenance.related/1` | [`related`], [`Store::related`]; typed: [`Store::neighbors`] |
//! | `Provenance.module_graph/0` | [`module_graph`], [`Store::module_graph`] |
//! | `Provenance.put_context/1`, `get_context/0` | [`put_context`], [`get_context`], [`context::scope`] |
//! | `module_id`, `function_id`, `table_id`, `record_id` | the same names, plus [`column_id`], [`composite_record_id`], [`record_id_in`], [`request_id`], [`migration_id`], [`job_id`], [`config_id`] |
//! | compile tracer's layer table | [`arch::classify`] |
//! | compile tracer (module discovery) | `provenance_build::build()` in `build.rs`, then [`register_compiled!`] at startup ([`compiled`]) |
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `tracing` | yes | [`SpanLayer`]: tracing spans become `fn:` and `job:` artifacts |
//! | `serde` | no | `Serialize` for IDs, artifacts, stats and lineage; `Deserialize` for IDs |

pub mod arch;
pub mod compiled;
pub mod context;
mod error;
pub mod export;
pub mod id;
pub mod query;
#[cfg(feature = "tracing")]
pub mod span;
pub mod store;

pub use arch::ArchLayer;
pub use context::{Context, get_context, put_context};
pub use error::Error;
pub use export::Graph;
pub use id::{
    ArtifactId, IdError, Kind, column_id, composite_record_id, config_id, function_id, job_id,
    migration_id, module_id, record_id, record_id_in, request_id, request_id_from_uuid, table_id,
};
pub use query::{Edge, Lineage};
#[cfg(feature = "tracing")]
pub use span::SpanLayer;
pub use store::{
    Artifact, Config, Direction, ModuleInfo, Neighbor, Relation, Stats, Store, TablesLater, global,
};

use std::collections::BTreeMap;

/// [`Store::register_module`] on the [`global`] store.
pub fn register_module(module: &str, info: ModuleInfo) -> Result<ArtifactId, Error> {
    global().register_module(module, info)
}

/// [`Store::record`] on the [`global`] store.
///
/// ```
/// provenance::record("rec:orders:42", "fn:my_app::orders::create")?;
/// assert!(provenance::related("fn:my_app::orders::create").iter().any(|id| id == "rec:orders:42"));
/// # Ok::<(), provenance::Error>(())
/// ```
pub fn record(artifact: &str, origin: &str) -> Result<(), Error> {
    global().record(artifact, origin)
}

/// [`Store::lookup`] on the [`global`] store.
pub fn lookup(id: &str) -> Option<Artifact> {
    global().lookup(id)
}

/// [`Store::related`] on the [`global`] store.
pub fn related(id: &str) -> Vec<ArtifactId> {
    global().related(id)
}

/// [`Store::module_graph`] on the [`global`] store.
pub fn module_graph() -> BTreeMap<ArtifactId, Vec<ArtifactId>> {
    global().module_graph()
}

/// [`Store::upstream`] on the [`global`] store.
pub fn upstream(id: &str, depth: usize) -> Option<Lineage> {
    global().upstream(id, depth)
}

/// [`Store::downstream`] on the [`global`] store.
pub fn downstream(id: &str, depth: usize) -> Option<Lineage> {
    global().downstream(id, depth)
}

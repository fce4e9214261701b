//! Registering what a build-time source scan found: the runtime half of `provenance-build`.
//!
//! The Elixir library discovers modules with a compile tracer. Here a build script scans the
//! crate's sources with `provenance-build` and writes a [`Table`] of modules, functions,
//! migrations and their edges into `OUT_DIR`; at startup [`register_compiled!`](crate::register_compiled!) puts that table
//! into a store. The runtime side needs no parser: the table is static data.
//!
//! # Wiring it up
//!
//! ```text
//! # Cargo.toml
//! [build-dependencies]
//! provenance-build = "0.1"
//!
//! // build.rs
//! fn main() {
//!     provenance_build::build().expect("provenance: scanning the sources");
//! }
//!
//! // main.rs, at startup
//! provenance::register_compiled!()?;            // into provenance::global()
//! provenance::register_compiled!(store)?;       // or into a store of yours
//! let graph = provenance::module_graph();       // mod: -> [mod: it depends on]
//! ```
//!
//! The macro includes `$OUT_DIR/provenance_compiled.rs`, so it only works in a crate whose
//! build script wrote that file. What it expands to is [`register`] on a [`Table`], which
//! can be called directly (this is what the generated file contains):
//!
//! ```
//! use provenance::compiled::{self, Table};
//! use provenance::{ArchLayer, Relation, Store};
//!
//! static FILES: &[&str] = &["src/orders.rs"];
//! static ARTIFACTS: &[(&str, Option<ArchLayer>, Option<u32>)] = &[
//!     ("fn:shop::orders::create", Some(ArchLayer::Context), Some(0)),
//!     ("mod:shop::orders", Some(ArchLayer::Context), Some(0)),
//!     ("mod:shop::repo", Some(ArchLayer::Repo), None),
//! ];
//! static EDGES: &[(u32, Relation, u32)] = &[(1, Relation::Defines, 0), (1, Relation::DependsOn, 2)];
//! static TABLE: Table<'static> = Table::new(FILES, ARTIFACTS, EDGES);
//!
//! let store = Store::new();
//! compiled::register(&store, &TABLE)?;
//! assert_eq!(store.module_graph()[&provenance::module_id("shop::orders")?], ["mod:shop::repo"]);
//! let create = store.lookup("fn:shop::orders::create").unwrap();
//! assert_eq!(create.source_file.as_deref(), Some("src/orders.rs"));
//! # Ok::<(), provenance::Error>(())
//! ```

use crate::arch::ArchLayer;
use crate::error::Error;
use crate::id::ArtifactId;
use crate::store::{Attributes, Relation, Store};

/// What a source scan found, as static data: source files, artifacts (ID, layer, index of the
/// source file) and edges (index of `from`, relation, index of `to`).
///
/// A table is data rather than code so that a crate with thousands of functions compiles its
/// generated file quickly. Build one with [`Table::new`] (a `const fn`, so a corrupt table in a
/// `static` is a compile error) and register it with [`register`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Table<'a> {
    files: &'a [&'a str],
    artifacts: &'a [(&'a str, Option<ArchLayer>, Option<u32>)],
    edges: &'a [(u32, Relation, u32)],
}

impl<'a> Table<'a> {
    /// A table of `artifacts` and `edges`; an artifact's third field indexes `files`, an edge's
    /// first and third fields index `artifacts`.
    ///
    /// # Panics
    ///
    /// If an index is out of range. In a `static` (as the generated file puts it) that is a
    /// compile error instead.
    ///
    /// ```
    /// use provenance::{compiled::Table, Relation};
    ///
    /// let table = Table::new(&[], &[("mod:a", None, None), ("mod:b", None, None)], &[(0, Relation::DependsOn, 1)]);
    /// assert_eq!(table.len(), 2);
    /// ```
    pub const fn new(
        files: &'a [&'a str],
        artifacts: &'a [(&'a str, Option<ArchLayer>, Option<u32>)],
        edges: &'a [(u32, Relation, u32)],
    ) -> Self {
        let mut i = 0;
        while i < artifacts.len() {
            if let Some(file) = artifacts[i].2 {
                assert!((file as usize) < files.len(), "file index out of range");
            }
            i += 1;
        }
        let mut i = 0;
        while i < edges.len() {
            assert!(
                (edges[i].0 as usize) < artifacts.len() && (edges[i].2 as usize) < artifacts.len(),
                "artifact index out of range"
            );
            i += 1;
        }
        Table {
            files,
            artifacts,
            edges,
        }
    }

    /// The number of artifacts.
    pub const fn len(&self) -> usize {
        self.artifacts.len()
    }

    /// Whether the table has no artifacts.
    pub const fn is_empty(&self) -> bool {
        self.artifacts.is_empty()
    }

    /// The number of edges.
    pub const fn edge_count(&self) -> usize {
        self.edges.len()
    }
}

/// Registers every artifact of `table` in `store`, with its layer and source file, then every
/// edge. Every ID is checked before anything is written, so an invalid table changes nothing.
/// Registering the same table again only refreshes `last_seen`.
///
/// See the [module docs](self) for an example; [`register_compiled!`](crate::register_compiled!) calls this.
pub fn register(store: &Store, table: &Table<'_>) -> Result<(), Error> {
    let ids = table
        .artifacts
        .iter()
        .map(|(id, _, _)| ArtifactId::parse(id))
        .collect::<Result<Vec<_>, _>>()?;
    for (id, &(_, layer, file)) in ids.iter().zip(table.artifacts) {
        let mut attrs = Attributes::new();
        if let Some(layer) = layer {
            attrs = attrs.layer(layer);
        }
        if let Some(file) = file.and_then(|f| table.files.get(f as usize)) {
            attrs = attrs.source_file(*file);
        }
        store.describe(id, attrs)?;
    }
    for &(from, relation, to) in table.edges {
        // `Table::new` checked the indices.
        if let (Some(from), Some(to)) = (ids.get(from as usize), ids.get(to as usize)) {
            store.relate(from, relation, to)?;
        }
    }
    Ok(())
}

/// Registers the modules, functions, migrations and edges that `provenance-build` found at
/// build time: `register_compiled!()` into [`global`](crate::global), `register_compiled!(store)`
/// into a [`Store`] (or `&Store`). Returns `Result<(), provenance::Error>`.
///
/// It includes `$OUT_DIR/provenance_compiled.rs`, which the build script writes:
///
/// ```text
/// // build.rs
/// fn main() {
///     provenance_build::build().expect("provenance: scanning the sources");
/// }
///
/// // at startup
/// provenance::register_compiled!()?;
/// ```
///
/// See [`compiled`](crate::compiled) for a runnable example of what it expands to.
#[macro_export]
macro_rules! register_compiled {
    () => {
        $crate::register_compiled!($crate::global())
    };
    ($store:expr) => {
        $crate::compiled::register(&$store, {
            use $crate::{ArchLayer, Relation, compiled::Table};
            include!(concat!(env!("OUT_DIR"), "/provenance_compiled.rs"))
        })
    };
}

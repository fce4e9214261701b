//! [`Scan`]: what a scan found, sorted, and the generated file that carries it to runtime.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use provenance::compiled::{self, Table};
use provenance::{ArchLayer, ArtifactId, Kind, Relation, Store};

/// The artifacts and edges a [`Scanner`](crate::Scanner) found, in a deterministic order.
///
/// ```
/// use provenance::{ArchLayer, Relation};
///
/// # let dir = std::env::temp_dir().join(format!("provenance-build-doc-scan-{}", std::process::id()));
/// # std::fs::create_dir_all(dir.join("src"))?;
/// # std::fs::write(dir.join("src/lib.rs"), "pub mod orders;")?;
/// # std::fs::write(dir.join("src/orders.rs"), "pub fn create() {}")?;
/// let scan = provenance_build::Scanner::new(&dir).package(&dir, "shop").scan();
/// assert_eq!(scan.layer("mod:shop::orders"), Some(ArchLayer::Context));
/// assert_eq!(scan.source_file("fn:shop::orders::create"), Some("src/orders.rs"));
/// assert!(scan.has_edge("mod:shop::orders", Relation::Defines, "fn:shop::orders::create"));
/// assert_eq!(scan.files().len(), 2);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scan {
    pub(crate) artifacts: BTreeMap<ArtifactId, (Option<ArchLayer>, Option<String>)>,
    pub(crate) edges: BTreeSet<(ArtifactId, Relation, ArtifactId)>,
    pub(crate) files: Vec<String>,
    pub(crate) rerun: Vec<PathBuf>,
    pub(crate) warnings: Vec<String>,
}

impl Scan {
    /// Every artifact's ID, sorted.
    pub fn ids(&self) -> impl Iterator<Item = &ArtifactId> {
        self.artifacts.keys()
    }

    /// The IDs of one kind, sorted: `scan.ids_of(Kind::Mod)` lists the modules.
    pub fn ids_of(&self, kind: Kind) -> impl Iterator<Item = &ArtifactId> {
        self.artifacts.keys().filter(move |id| id.kind() == kind)
    }

    /// Whether the scan found `id`.
    pub fn contains(&self, id: &str) -> bool {
        ArtifactId::parse(id).is_ok_and(|id| self.artifacts.contains_key(&id))
    }

    /// The layer of a module, function or migration.
    pub fn layer(&self, id: &str) -> Option<ArchLayer> {
        self.artifacts.get(&ArtifactId::parse(id).ok()?)?.0
    }

    /// The source file of a module, function or migration, relative to the scanner's base
    /// directory with `/` separators.
    pub fn source_file(&self, id: &str) -> Option<&str> {
        self.artifacts
            .get(&ArtifactId::parse(id).ok()?)?
            .1
            .as_deref()
    }

    /// Every edge, sorted by `from`, relation, `to`.
    pub fn edges(&self) -> impl Iterator<Item = (&ArtifactId, Relation, &ArtifactId)> {
        self.edges.iter().map(|(from, r, to)| (from, *r, to))
    }

    /// Whether the scan found the edge `from → to`.
    pub fn has_edge(&self, from: &str, relation: Relation, to: &str) -> bool {
        let (Ok(from), Ok(to)) = (ArtifactId::parse(from), ArtifactId::parse(to)) else {
            return false;
        };
        self.edges.contains(&(from, relation, to))
    }

    /// The targets of the edges of `relation` from `from`, sorted.
    pub fn targets(&self, from: &str, relation: Relation) -> Vec<&ArtifactId> {
        self.edges
            .iter()
            .filter(|(f, r, _)| *r == relation && f.as_str() == from)
            .map(|(_, _, to)| to)
            .collect()
    }

    /// The source files and migrations read (parsed or not), relative to the base directory.
    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// What `cargo` should watch (`rerun-if-changed`): every file read and every directory
    /// listed, as absolute or base-joined paths.
    pub fn rerun_paths(&self) -> &[PathBuf] {
        &self.rerun
    }

    /// Files skipped (unreadable, unparsable, missing) and migrations whose SQL was not
    /// understood, one line each. A build script prints them as `cargo:warning`.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Registers everything in `store`, through the same [`compiled::register`] that the
    /// generated file uses at runtime.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("provenance-build-doc-register-{}", std::process::id()));
    /// # std::fs::create_dir_all(dir.join("src"))?;
    /// # std::fs::write(dir.join("src/lib.rs"), "mod orders; mod repo;")?;
    /// # std::fs::write(dir.join("src/orders.rs"), "use crate::repo::OrderRepo;")?;
    /// # std::fs::write(dir.join("src/repo.rs"), "pub struct OrderRepo;")?;
    /// let store = provenance::Store::new();
    /// provenance_build::Scanner::new(&dir).package(&dir, "shop").scan().register(&store)?;
    /// assert_eq!(store.module_graph()[&provenance::module_id("shop::orders")?], ["mod:shop::repo"]);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn register(&self, store: &Store) -> Result<(), provenance::Error> {
        let tables = Tables::new(self);
        compiled::register(store, &tables.table())
    }

    /// The generated Rust file: a block expression that evaluates to a
    /// `&'static provenance::compiled::Table`, read by [`provenance::register_compiled!`].
    /// Deterministic: the same sources give the same bytes.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("provenance-build-doc-rust-{}", std::process::id()));
    /// # std::fs::create_dir_all(dir.join("src"))?;
    /// # std::fs::write(dir.join("src/lib.rs"), "pub fn hello() {}")?;
    /// let scan = provenance_build::Scanner::new(&dir).package(&dir, "hi").scan();
    /// let generated = scan.to_rust();
    /// let body = generated.split_once('\n').unwrap().1; // after the `// @generated` line
    /// assert_eq!(body, r#"{
    ///     static FILES: &[&str] = &[
    ///         "src/lib.rs",
    ///     ];
    ///     static ARTIFACTS: &[(&str, Option<ArchLayer>, Option<u32>)] = &[
    ///         ("fn:hi::hello", Some(ArchLayer::Lib), Some(0)),
    ///         ("mod:hi", Some(ArchLayer::Lib), Some(0)),
    ///     ];
    ///     static EDGES: &[(u32, Relation, u32)] = &[
    ///         (1, Relation::Defines, 0),
    ///     ];
    ///     static TABLE: Table<'static> = Table::new(FILES, ARTIFACTS, EDGES);
    ///     &TABLE
    /// }
    /// "#);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn to_rust(&self) -> String {
        let tables = Tables::new(self);
        let mut out = String::with_capacity(64 * (tables.artifacts.len() + tables.edges.len()));
        let _ = writeln!(
            out,
            "// @generated by provenance-build {}: {} files, {} artifacts, {} edges. Do not edit.",
            env!("CARGO_PKG_VERSION"),
            self.files.len(),
            tables.artifacts.len(),
            tables.edges.len()
        );
        out.push_str("{\n    static FILES: &[&str] = &[\n");
        for file in &tables.files {
            let _ = writeln!(out, "        {file:?},");
        }
        out.push_str(
            "    ];\n    static ARTIFACTS: &[(&str, Option<ArchLayer>, Option<u32>)] = &[\n",
        );
        for (id, layer, file) in &tables.artifacts {
            let layer = match layer {
                Some(l) => format!("Some(ArchLayer::{l:?})"),
                None => "None".to_owned(),
            };
            let file = match file {
                Some(f) => format!("Some({f})"),
                None => "None".to_owned(),
            };
            let _ = writeln!(out, "        ({id:?}, {layer}, {file}),");
        }
        out.push_str("    ];\n    static EDGES: &[(u32, Relation, u32)] = &[\n");
        for (from, relation, to) in &tables.edges {
            let _ = writeln!(out, "        ({from}, Relation::{relation:?}, {to}),");
        }
        out.push_str(
            "    ];\n    static TABLE: Table<'static> = Table::new(FILES, ARTIFACTS, EDGES);\n    &TABLE\n}\n",
        );
        out
    }

    /// Writes [`to_rust`](Self::to_rust) to `path`, unless the file already holds exactly
    /// that (so an unchanged scan does not touch the file's time).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let text = self.to_rust();
        if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
            return Ok(());
        }
        std::fs::write(path, text)
    }
}

/// A scan as the index-based rows of a [`Table`].
struct Tables<'a> {
    files: Vec<&'a str>,
    artifacts: Vec<(&'a str, Option<ArchLayer>, Option<u32>)>,
    edges: Vec<(u32, Relation, u32)>,
}

impl<'a> Tables<'a> {
    fn new(scan: &'a Scan) -> Self {
        let files: BTreeSet<&str> = scan
            .artifacts
            .values()
            .filter_map(|(_, f)| f.as_deref())
            .collect();
        let files: Vec<&str> = files.into_iter().collect();
        let file_index = |f: &str| files.binary_search(&f).ok().map(|i| i as u32);
        let artifacts: Vec<_> = scan
            .artifacts
            .iter()
            .map(|(id, (layer, file))| (id.as_str(), *layer, file.as_deref().and_then(file_index)))
            .collect();
        // Artifacts are sorted by ID, so an ID's index is found by binary search.
        let index = |id: &ArtifactId| {
            artifacts
                .binary_search_by(|(a, _, _)| (*a).cmp(id.as_str()))
                .ok()
                .map(|i| i as u32)
        };
        let edges = scan
            .edges
            .iter()
            .filter_map(|(from, r, to)| Some((index(from)?, *r, index(to)?)))
            .collect();
        Tables {
            files,
            artifacts,
            edges,
        }
    }

    fn table(&self) -> Table<'_> {
        Table::new(&self.files, &self.artifacts, &self.edges)
    }
}

//! [`Scanner`]: which crates and migrations to read, and the scan itself.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use provenance::arch::{Signals, classify};
use provenance::{ArchLayer, ArtifactId, Relation, function_id, module_id};
use provenance_sqlx::Dialect;

use crate::migrations;
use crate::resolve::{Resolver, Target};
use crate::scan::Scan;
use crate::tree::Tree;

/// What to scan, and how. Build it with [`Scanner::new`] and the `with`-style methods, then
/// call [`scan`](Scanner::scan); a build script calls [`build`](crate::build) instead.
///
/// ```
/// use provenance::{ArchLayer, Relation};
///
/// # let dir = std::env::temp_dir().join(format!("provenance-build-doc-scanner-{}", std::process::id()));
/// # std::fs::create_dir_all(dir.join("src/handlers"))?;
/// # std::fs::write(dir.join("src/main.rs"), "mod handlers; mod orders;\nfn main() { let _ = axum::Router::new().route(\"/\", axum::routing::get(handlers::index)); }")?;
/// # std::fs::write(dir.join("src/handlers/mod.rs"), "pub async fn index() { crate::orders::list() }")?;
/// # std::fs::write(dir.join("src/orders.rs"), "pub fn list() {}\n#[cfg(test)] mod tests { use super::*; }")?;
/// let scan = provenance_build::Scanner::new(&dir)
///     .crate_root("shop", dir.join("src/main.rs"))
///     .external_crates(true)
///     .scan();
/// assert_eq!(scan.layer("mod:shop::handlers"), Some(ArchLayer::Controller));
/// assert_eq!(scan.layer("mod:shop::orders::tests"), Some(ArchLayer::Test));
/// assert!(scan.has_edge("mod:shop::handlers", Relation::DependsOn, "mod:shop::orders"));
/// assert!(scan.has_edge("mod:shop", Relation::DependsOn, "mod:axum"));
/// assert_eq!(scan.layer("mod:axum"), Some(ArchLayer::Lib));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Scanner {
    base: PathBuf,
    crates: Vec<(String, PathBuf)>,
    migrations: Vec<PathBuf>,
    listed: Vec<PathBuf>,
    external_crates: bool,
    dialect: Dialect,
}

impl Scanner {
    /// A scanner with nothing to scan yet. Source files are reported relative to `base`
    /// (with `/` separators); give it the workspace root so that they read as `file!()`
    /// does in that workspace, which is what `SpanLayer` records.
    pub fn new(base: impl Into<PathBuf>) -> Self {
        Scanner {
            base: base.into(),
            crates: Vec::new(),
            migrations: Vec::new(),
            listed: Vec::new(),
            external_crates: false,
            dialect: Dialect::Generic,
        }
    }

    /// Scans the crate `name` from its root file (`src/lib.rs`, `src/main.rs`,
    /// `tests/api.rs`, …). `name` is what `module_path!()` starts with: a package's name with
    /// `-` written as `_`.
    pub fn crate_root(mut self, name: &str, root: impl Into<PathBuf>) -> Self {
        self.crates.push((name.replace('-', "_"), root.into()));
        self
    }

    /// Scans a package laid out as cargo expects by default: `src/lib.rs` and `src/main.rs`
    /// (both named after the package), `src/bin/*.rs` and `src/bin/*/main.rs`,
    /// `tests/*.rs` and `tests/*/main.rs` (named after the file or directory), and the
    /// migrations in `migrations/`. A package that names its targets otherwise in
    /// `Cargo.toml` adds them with [`crate_root`](Self::crate_root).
    pub fn package(mut self, dir: impl AsRef<Path>, name: &str) -> Self {
        let dir = dir.as_ref();
        for root in ["src/lib.rs", "src/main.rs"] {
            if dir.join(root).is_file() {
                self = self.crate_root(name, dir.join(root));
            }
        }
        for sub in ["src/bin", "tests"] {
            let listed = dir.join(sub);
            for (target, root) in targets_in(&listed) {
                self = self.crate_root(&target, root);
            }
            // A new binary should trigger a rescan. `tests/` is not watched as a directory:
            // cargo watches a directory recursively, so any fixture or data file changed under
            // it would rerun the scan and recompile the crate. Its `.rs` files read are
            // watched one by one; a new test file is picked up with the next rescan.
            if listed.is_dir() && sub == "src/bin" {
                self.listed.push(listed);
            }
        }
        self.migrations(dir.join("migrations"))
    }

    /// Reads the sqlx migrations in `dir` (`<VERSION>_<DESCRIPTION>.sql` and `.up.sql`), if
    /// it exists.
    pub fn migrations(mut self, dir: impl Into<PathBuf>) -> Self {
        self.migrations.push(dir.into());
        self
    }

    /// Also records the external crates that modules use (`serde`, `axum`, …) as `mod:`
    /// artifacts of layer lib with `depends_on` edges to them. Off by default. The standard
    /// library (`std`, `core`, `alloc`) is never recorded.
    pub fn external_crates(mut self, yes: bool) -> Self {
        self.external_crates = yes;
        self
    }

    /// The SQL dialect of the migrations. Default: [`Dialect::Generic`].
    pub fn dialect(mut self, dialect: Dialect) -> Self {
        self.dialect = dialect;
        self
    }

    /// Reads and resolves everything. Never fails: what cannot be read or parsed is skipped
    /// and named in [`Scan::warnings`].
    pub fn scan(&self) -> Scan {
        let mut tree = Tree::default();
        for (name, root) in &self.crates {
            tree.add_crate(name, root);
        }
        tree.finish();
        let mut out = Scan::default();
        self.modules(&tree, &mut out);

        let mut files: Vec<PathBuf> = tree.files.clone();
        for dir in &self.migrations {
            let found = migrations::read(dir, self.dialect, &self.base, &mut out);
            if dir.is_dir() {
                out.rerun.push(dir.clone());
            }
            files.extend(found);
        }
        out.warnings.extend(tree.warnings);
        out.rerun.extend(files.iter().cloned());
        out.rerun.extend(self.listed.iter().cloned());
        out.rerun.sort();
        out.rerun.dedup();
        let mut reported: Vec<String> = files.iter().map(|f| self.report(f)).collect();
        reported.sort();
        reported.dedup();
        out.files = reported;
        // Every end of an edge is an artifact, even one with nothing known about it.
        let ends: Vec<ArtifactId> = out
            .edges
            .iter()
            .flat_map(|(from, _, to)| [from.clone(), to.clone()])
            .collect();
        for id in ends {
            out.artifacts.entry(id).or_insert((None, None));
        }
        out
    }

    /// `file` as reported: relative to the base, `/`-separated.
    pub(crate) fn report(&self, file: &Path) -> String {
        report(&self.base, file)
    }

    fn modules(&self, tree: &Tree, out: &mut Scan) {
        let resolver = Resolver::new(tree);
        // Handlers first: they decide their modules' layers.
        let mut controllers = vec![false; tree.modules.len()];
        for (m, module) in tree.modules.iter().enumerate() {
            for path in &module.items.handlers {
                if let Some((owner, _)) = resolver.handler(m, path) {
                    controllers[owner] = true;
                }
            }
        }
        let mut externals = BTreeSet::new();
        for (m, module) in tree.modules.iter().enumerate() {
            let Ok(id) = module_id(&module.path) else {
                continue;
            };
            let layer = self.layer(module, controllers[m]);
            let file = self.report(&module.file);
            for (name, fn_file) in &module.functions {
                if let Ok(f) = function_id(&module.path, name) {
                    out.artifacts
                        .insert(f.clone(), (Some(layer), Some(self.report(fn_file))));
                    out.edges.insert((id.clone(), Relation::Defines, f));
                }
            }
            for path in &module.items.refs {
                let dep = match resolver.resolve(m, path) {
                    Some(Target::Local(full)) => match resolver.module_of(&full) {
                        Some((dep, _)) if dep != m => module_id(&tree.modules[dep].path).ok(),
                        _ => None,
                    },
                    Some(Target::External(name)) if self.external_crates => {
                        let ext = module_id(&name).ok();
                        externals.extend(ext.clone());
                        ext
                    }
                    _ => None,
                };
                if let Some(dep) = dep {
                    out.edges.insert((id.clone(), Relation::DependsOn, dep));
                }
            }
            out.artifacts.insert(id, (Some(layer), Some(file)));
        }
        for ext in externals {
            out.artifacts
                .entry(ext)
                .or_insert((Some(ArchLayer::Lib), None));
        }
    }

    /// The module's layer: [`classify`] on where it would be as a file, refined by what it
    /// holds. A content signal wins over a rule that comes later in [`ArchLayer::ALL`], as the
    /// path rules do among themselves; tests win over everything.
    fn layer(&self, module: &crate::tree::Module, controller: bool) -> ArchLayer {
        if module.test {
            return ArchLayer::Test;
        }
        let logical = self.report(&module.logical);
        let signals = Signals::none().from_row(module.items.from_row);
        let mut layer = classify(&logical, &module.path, signals);
        if controller {
            layer = layer.min(ArchLayer::Controller);
        }
        if module.items.repo_type {
            layer = layer.min(ArchLayer::Repo);
        }
        layer
    }
}

pub(crate) fn report(base: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(base).unwrap_or(file);
    let mut out = String::new();
    for part in rel.components() {
        use std::path::Component;
        let s = match part {
            Component::CurDir => continue,
            Component::RootDir => "",
            other => &other.as_os_str().to_string_lossy(),
        };
        if !out.is_empty() && !out.ends_with('/') {
            out.push('/');
        }
        if s.is_empty() {
            out.push('/');
        } else {
            out.push_str(s);
        }
    }
    out
}

/// The crates in `src/bin` or `tests`: `NAME.rs` and `NAME/main.rs`, sorted.
fn targets_in(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let path = e.path();
            let name = path.file_stem()?.to_str()?.to_owned();
            if path.is_file() && path.extension().is_some_and(|x| x == "rs") {
                Some((name, path))
            } else if path.join("main.rs").is_file() {
                let main = path.join("main.rs");
                Some((name, main))
            } else {
                None
            }
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reported_paths_are_relative_and_slashed() {
        let base = Path::new("/ws");
        assert_eq!(
            report(base, Path::new("/ws/shop/src/lib.rs")),
            "shop/src/lib.rs"
        );
        assert_eq!(
            report(base, Path::new("/elsewhere/x.rs")),
            "/elsewhere/x.rs"
        );
        assert_eq!(report(Path::new("."), Path::new("./src/a.rs")), "src/a.rs");
    }
}

//! A whole workspace, as `cargo metadata` describes it (feature `cli`).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::{Error, Scanner};

/// Target kinds whose sources are Rust code of the package (not `custom-build`).
const KINDS: &[&str] = &[
    "lib",
    "rlib",
    "dylib",
    "cdylib",
    "staticlib",
    "proc-macro",
    "bin",
    "test",
    "example",
    "bench",
];

impl Scanner {
    /// A scanner for every member of the workspace of `manifest_path` (or of the current
    /// directory), from `cargo metadata --no-deps`: every target of every member (libraries,
    /// binaries, tests, examples, benches; not build scripts) under its crate name, and each
    /// member's `migrations/`. Paths are reported relative to the workspace root.
    /// (Feature `cli`.)
    ///
    /// ```
    /// let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    /// let scan = provenance_build::Scanner::workspace(Some(&manifest))?.scan();
    /// assert!(scan.contains("mod:provenance_build"));
    /// assert!(scan.contains("fn:provenance_build::build"));
    /// # Ok::<(), provenance_build::Error>(())
    /// ```
    pub fn workspace(manifest_path: Option<&Path>) -> Result<Scanner, Error> {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["metadata", "--no-deps", "--format-version", "1"]);
        if let Some(path) = manifest_path {
            cmd.arg("--manifest-path").arg(path);
        }
        let output = cmd.output().map_err(|e| Error::Metadata(e.to_string()))?;
        if !output.status.success() {
            return Err(Error::Metadata(
                String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            ));
        }
        let json: Value = serde_json::from_slice(&output.stdout)
            .map_err(|e| Error::Metadata(format!("unexpected output: {e}")))?;
        from_metadata(&json)
    }
}

fn from_metadata(json: &Value) -> Result<Scanner, Error> {
    let missing = |what: &str| Error::Metadata(format!("no {what} in the output"));
    let root = json["workspace_root"]
        .as_str()
        .ok_or_else(|| missing("workspace_root"))?;
    let mut scanner = Scanner::new(root);
    let packages = json["packages"]
        .as_array()
        .ok_or_else(|| missing("packages"))?;
    for package in packages {
        for target in package["targets"].as_array().into_iter().flatten() {
            let counts = target["kind"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k.as_str().is_some_and(|k| KINDS.contains(&k)));
            if let (true, Some(name), Some(src)) =
                (counts, target["name"].as_str(), target["src_path"].as_str())
            {
                scanner = scanner.crate_root(name, src);
            }
        }
        if let Some(manifest) = package["manifest_path"].as_str() {
            let dir = Path::new(manifest).parent().unwrap_or(Path::new(""));
            scanner = scanner.migrations(PathBuf::from(dir).join("migrations"));
        }
    }
    Ok(scanner)
}

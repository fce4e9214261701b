//! Scans the service's modules and migrations so that `provenance::register_compiled!` can
//! register them at startup.

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo"));
    // Paths relative to the workspace root, as `file!()` (and so `SpanLayer`) reports them.
    let workspace = provenance_build::workspace_root(&dir).unwrap_or_else(|| dir.clone());
    // The library only: `src/main.rs` is the tour that drives the service, not part of it.
    provenance_build::Scanner::new(workspace)
        .crate_root("example_orders", dir.join("src/lib.rs"))
        .migrations(dir.join("migrations/sqlite"))
        .migrations(dir.join("migrations/postgres"))
        .build()
        .expect("provenance: scanning the sources");
}

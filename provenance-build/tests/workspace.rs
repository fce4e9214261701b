//! The scan over this workspace itself, and the proof that a scanned `fn:` ID is the one
//! `SpanLayer` records for the same function (this file is scanned too, as the test crate
//! `workspace`).

use std::path::Path;

use provenance::{ArchLayer, Kind, Relation, SpanLayer, Store};
use provenance_build::{Scan, Scanner};
use tracing_subscriber::prelude::*;

fn scan_workspace() -> Scan {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    Scanner::workspace(Some(&manifest))
        .expect("cargo metadata")
        .scan()
}

#[tracing::instrument]
fn traced_here() {
    inner::original();
    inner::Service.handle();
}

mod inner {
    pub(crate) struct Service;

    impl Service {
        #[tracing::instrument(skip(self))]
        pub(crate) fn handle(&self) {}
    }

    #[tracing::instrument(name = "renamed")]
    pub(crate) fn original() {}
}

#[test]
fn scanned_function_ids_are_the_ones_spans_record() {
    let store = Store::new();
    let subscriber = tracing_subscriber::registry().with(SpanLayer::new(store.clone()));
    tracing::subscriber::with_default(subscriber, traced_here);
    let mut recorded: Vec<String> = Vec::new();
    for module in ["mod:workspace", "mod:workspace::inner"] {
        for n in store.neighbors(module) {
            if n.relation == Relation::Defines {
                recorded.push(n.id.to_string());
            }
        }
    }
    recorded.sort();
    assert_eq!(
        recorded,
        [
            "fn:workspace::inner::handle",
            "fn:workspace::inner::renamed",
            "fn:workspace::traced_here"
        ]
    );
    let scan = scan_workspace();
    for id in &recorded {
        assert!(scan.contains(id), "the scan lacks {id}");
    }
    assert!(scan.has_edge(
        "mod:workspace::inner",
        Relation::Defines,
        "fn:workspace::inner::renamed"
    ));
    assert!(!scan.contains("fn:workspace::inner::original"));
}

#[test]
fn this_workspace() {
    let scan = scan_workspace();
    assert!(scan.warnings().is_empty(), "{:#?}", scan.warnings());
    assert!(scan.files().len() > 40, "{} files", scan.files().len());
    // Paths are relative to the workspace root, as `file!()` gives them.
    assert_eq!(
        scan.source_file("mod:provenance::store"),
        Some("provenance/src/store.rs")
    );
    assert_eq!(
        scan.layer("mod:provenance::store"),
        Some(ArchLayer::Context)
    );
    assert_eq!(scan.layer("mod:provenance"), Some(ArchLayer::Lib));
    assert_eq!(
        scan.layer("mod:provenance::arch::tests"),
        Some(ArchLayer::Test)
    );
    assert_eq!(scan.layer("mod:span_nesting"), Some(ArchLayer::Test));
    // Methods are named by their module, as spans name them.
    assert!(scan.has_edge(
        "mod:provenance::store",
        Relation::Defines,
        "fn:provenance::store::register_module"
    ));
    assert!(scan.has_edge(
        "mod:provenance::query",
        Relation::DependsOn,
        "mod:provenance::store"
    ));
    // Across crates: the sqlx crate and the build crate use the core.
    assert!(
        scan.targets("mod:provenance_build::scan", Relation::DependsOn)
            .iter()
            .any(|d| d.as_str() == "mod:provenance::compiled")
    );
    assert!(scan.ids_of(Kind::Mod).count() > 40);
    // Deterministic.
    assert_eq!(scan.to_rust(), scan_workspace().to_rust());
}

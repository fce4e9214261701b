//! Module layouts beyond the usual: `#[path]` inside inline modules, non-`mod.rs` parents,
//! modules behind a `cfg` with no file, files that are missing or load themselves again.

use std::path::{Path, PathBuf};

use provenance::{ArchLayer, Kind, Relation};
use provenance_build::{Scan, Scanner};

/// Writes `files` into a fresh directory and scans it as the package `app`.
fn scan(name: &str, files: &[(&str, &str)]) -> (PathBuf, Scan) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("layouts-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let scan = Scanner::new(&dir).package(&dir, "app").scan();
    (dir, scan)
}

fn modules(scan: &Scan) -> Vec<(String, Option<String>)> {
    scan.ids_of(Kind::Mod)
        .map(|id| {
            let file = scan.source_file(id.as_str()).map(str::to_owned);
            (id.to_string(), file)
        })
        .collect()
}

#[test]
fn path_attributes_and_nested_files() {
    let (_, scan) = scan(
        "paths",
        &[
            (
                "src/lib.rs",
                "mod a;\n#[path = \"generated/b_impl.rs\"] mod b;\nmod outer { pub mod inner; #[path = \"elsewhere.rs\"] pub mod moved; }",
            ),
            // `a.rs` is not `mod.rs`: its children live in `a/`.
            ("src/a.rs", "mod child; pub fn f() { child::g() }"),
            ("src/a/child.rs", "pub fn g() {}"),
            // A `#[path]` file owns its directory, as `mod.rs` does.
            ("src/generated/b_impl.rs", "mod leaf;"),
            ("src/generated/leaf.rs", "fn leaf_fn() {}"),
            // Inside inline `outer`, files are under `outer/`, `#[path]` included.
            ("src/outer/inner.rs", "pub fn i() {}"),
            ("src/outer/elsewhere.rs", "pub fn e() {}"),
        ],
    );
    let found = modules(&scan);
    let expected = [
        ("mod:app", "src/lib.rs"),
        ("mod:app::a", "src/a.rs"),
        ("mod:app::a::child", "src/a/child.rs"),
        ("mod:app::b", "src/generated/b_impl.rs"),
        ("mod:app::b::leaf", "src/generated/leaf.rs"),
        ("mod:app::outer", "src/lib.rs"),
        ("mod:app::outer::inner", "src/outer/inner.rs"),
        ("mod:app::outer::moved", "src/outer/elsewhere.rs"),
    ]
    .map(|(id, file)| (id.to_owned(), Some(file.to_owned())));
    assert_eq!(found, expected);
    assert!(scan.warnings().is_empty(), "{:#?}", scan.warnings());
    assert!(scan.has_edge("mod:app::a", Relation::DependsOn, "mod:app::a::child"));
    // An inline module is classified where its file would be: not a top-level context.
    assert_eq!(scan.layer("mod:app::outer"), Some(ArchLayer::Context));
    assert_eq!(scan.layer("mod:app::outer::inner"), Some(ArchLayer::Lib));
}

#[test]
fn missing_files_and_loops() {
    let (_, scan) = scan(
        "missing",
        &[(
            "src/lib.rs",
            "#[cfg(windows)] mod windows_only;\nmod forgotten;\n#[path = \"lib.rs\"] mod again;\npub fn ok() {}",
        )],
    );
    assert_eq!(
        modules(&scan),
        [("mod:app".to_owned(), Some("src/lib.rs".to_owned()))]
    );
    assert!(scan.contains("fn:app::ok"));
    // Behind a cfg: silent. Otherwise: one warning each, and the scan goes on.
    let warnings = scan.warnings();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert!(warnings[0].contains("no file for `mod forgotten;`"));
    assert!(warnings[1].contains("a module loop"));
}

#[test]
fn binaries_tests_and_test_modules() {
    let (_, scan) = scan(
        "targets",
        &[
            ("src/main.rs", "mod cli;\nfn main() { cli::run() }"),
            (
                "src/cli.rs",
                "pub fn run() {}\n#[cfg(all(test, unix))]\nmod tests { #[test] fn runs() { super::run() } }",
            ),
            ("src/bin/admin-tool.rs", "fn main() {}"),
            ("src/bin/worker/main.rs", "mod jobs; fn main() {}"),
            ("src/bin/worker/jobs.rs", "pub fn tick() {}"),
            ("tests/smoke.rs", "#[test] fn boots() {}"),
        ],
    );
    let ids: Vec<String> = scan.ids().map(ToString::to_string).collect();
    assert_eq!(
        ids,
        [
            "fn:admin_tool::main",
            "fn:app::cli::run",
            "fn:app::cli::tests::runs",
            "fn:app::main",
            "fn:smoke::boots",
            "fn:worker::jobs::tick",
            "fn:worker::main",
            "mod:admin_tool",
            "mod:app",
            "mod:app::cli",
            "mod:app::cli::tests",
            "mod:smoke",
            "mod:worker",
            "mod:worker::jobs",
        ]
    );
    assert_eq!(scan.layer("mod:app::cli::tests"), Some(ArchLayer::Test));
    assert_eq!(scan.layer("mod:smoke"), Some(ArchLayer::Test));
    assert_eq!(scan.layer("mod:worker::jobs"), Some(ArchLayer::Worker));
}

#[test]
fn a_path_loop_through_dot_dot_is_caught() {
    let (_, scan) = scan(
        "dotdot",
        &[(
            "src/lib.rs",
            "#[cfg(any())] #[path = \"../src/lib.rs\"] mod again;\npub fn f() {}",
        )],
    );
    let found = modules(&scan);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        scan.warnings().iter().any(|w| w.contains("module loop")),
        "{:?}",
        scan.warnings()
    );
}

#[test]
fn many_glob_imports_resolve_without_blowing_up() {
    // Each glob was resolved through all the others, recursively: 7 external globs took over
    // a minute, 12 would not finish. This scan must simply finish.
    let globs: String = (0..12).map(|i| format!("pub use ext{i}::*;\n")).collect();
    let (_, scan) = scan(
        "globs",
        &[(
            "src/lib.rs",
            &format!("{globs}pub fn f() {{ other::thing(); crate::g(); }}\npub fn g() {{}}"),
        )],
    );
    assert!(scan.ids_of(Kind::Fn).any(|id| id.as_str() == "fn:app::f"));
}

#[test]
fn a_test_crate_does_not_hide_an_external_crate_of_the_same_name() {
    let (_, scan) = scan(
        "shadow",
        &[
            ("src/lib.rs", "pub mod web;"),
            (
                "src/web.rs",
                "pub fn ok() -> http::StatusCode { http::StatusCode::OK }",
            ),
            ("tests/http.rs", "#[test] fn t() {}"),
        ],
    );
    let deps: Vec<String> = scan
        .edges()
        .filter(|(from, relation, _)| {
            from.as_str() == "mod:app::web" && *relation == Relation::DependsOn
        })
        .map(|(_, _, to)| to.to_string())
        .collect();
    assert!(!deps.iter().any(|d| d == "mod:http"), "{deps:?}");
}

#[test]
fn a_handler_renamed_for_its_span_still_makes_its_module_a_controller() {
    let (_, scan) = scan(
        "renamed",
        &[
            (
                "src/lib.rs",
                "pub mod api;\npub fn app() { let _ = axum::Router::new().route(\"/\", axum::routing::get(crate::api::list)); }",
            ),
            (
                "src/api.rs",
                "#[tracing::instrument(name = \"list_orders\")]\npub async fn list() {}",
            ),
        ],
    );
    assert_eq!(scan.layer("mod:app::api"), Some(ArchLayer::Controller));
    assert!(
        scan.ids_of(Kind::Fn)
            .any(|id| id.as_str() == "fn:app::api::list_orders")
    );
}

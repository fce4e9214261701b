//! Scanning `tests/fixtures/shop`, a fixture laid out like a real axum + sqlx service
//! (handlers, contexts, repos, schemas, a worker, migrations, tests): the modules, their
//! layers, the functions, the edges and the migrations the scan must find.

use std::path::{Path, PathBuf};

use provenance::{ArchLayer, Kind, Relation, Store};
use provenance_build::{Scan, Scanner};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shop")
}

fn scan(external: bool) -> Scan {
    let dir = fixture();
    Scanner::new(&dir)
        .package(&dir, "shop")
        .external_crates(external)
        .scan()
}

fn strs<'a>(ids: impl IntoIterator<Item = &'a provenance::ArtifactId>) -> Vec<&'a str> {
    ids.into_iter().map(|id| id.as_str()).collect()
}

#[test]
fn modules_with_files_and_layers() {
    let scan = scan(false);
    use ArchLayer::*;
    let expected: &[(&str, ArchLayer, &str)] = &[
        ("mod:api", Test, "tests/api.rs"),
        ("mod:api::common", Test, "tests/common/mod.rs"),
        ("mod:shop", Lib, "src/lib.rs"),
        // A top-level module, but it defines the `health` handler.
        ("mod:shop::app", Controller, "src/app.rs"),
        ("mod:shop::config", Context, "src/config.rs"),
        ("mod:shop::customers", Context, "src/customers.rs"),
        // `#[derive(FromRow)]` with `FromRow` imported.
        (
            "mod:shop::customers::customer",
            Schema,
            "src/customers/customer.rs",
        ),
        // Inline; defines `CustomerRepo`.
        ("mod:shop::customers::store", Repo, "src/customers.rs"),
        ("mod:shop::db", Context, "src/db.rs"),
        ("mod:shop::handlers", Controller, "src/handlers/mod.rs"),
        (
            "mod:shop::handlers::customers",
            Controller,
            "src/handlers/customers.rs",
        ),
        (
            "mod:shop::handlers::orders",
            Controller,
            "src/handlers/orders.rs",
        ),
        ("mod:shop::orders", Context, "src/orders/mod.rs"),
        ("mod:shop::orders::order", Schema, "src/orders/order.rs"),
        (
            "mod:shop::orders::order_repo",
            Repo,
            "src/orders/order_repo.rs",
        ),
        ("mod:shop::orders::tests", Test, "src/orders/mod.rs"),
        // `#[path = "platform/unix.rs"]`, whose own `mod signals;` is beside it.
        ("mod:shop::platform", Lib, "src/platform/unix.rs"),
        (
            "mod:shop::platform::signals",
            Lib,
            "src/platform/signals.rs",
        ),
        // Its one function is given to `Router::route`.
        ("mod:shop::status", Controller, "src/status.rs"),
        ("mod:shop::workers", Worker, "src/workers/mod.rs"),
        (
            "mod:shop::workers::invoicer",
            Worker,
            "src/workers/invoicer.rs",
        ),
    ];
    let modules = strs(scan.ids_of(Kind::Mod));
    let names: Vec<&str> = expected.iter().map(|(id, _, _)| *id).collect();
    assert_eq!(modules, names);
    for (id, layer, file) in expected {
        assert_eq!(scan.layer(id), Some(*layer), "{id}");
        assert_eq!(scan.source_file(id), Some(*file), "{id}");
    }
}

#[test]
fn functions_as_spans_name_them() {
    let scan = scan(false);
    let functions = strs(scan.ids_of(Kind::Fn));
    assert_eq!(
        functions,
        [
            "fn:api::common::spawn_app",
            "fn:api::lists_orders",
            "fn:shop::app::health",
            "fn:shop::app::router",
            "fn:shop::config::from_env",
            "fn:shop::customers::register",
            "fn:shop::customers::store::insert",
            "fn:shop::db::connect",
            // `#[tracing::instrument(name = "register_customer")]` on `register`.
            "fn:shop::handlers::customers::register_customer",
            "fn:shop::handlers::orders::create",
            "fn:shop::handlers::orders::list",
            "fn:shop::handlers::orders::show",
            // src/main.rs: a binary named after the package shares the `shop` root.
            "fn:shop::main",
            "fn:shop::orders::create",
            "fn:shop::orders::get",
            "fn:shop::orders::list",
            "fn:shop::orders::order::total",
            "fn:shop::orders::order_repo::all",
            "fn:shop::orders::order_repo::by_id",
            "fn:shop::orders::order_repo::insert",
            "fn:shop::orders::tests::totals_add_up",
            "fn:shop::platform::shutdown_signal",
            "fn:shop::platform::signals::install",
            "fn:shop::status::version",
            "fn:shop::workers::invoicer::run",
        ]
    );
    assert_eq!(
        strs(scan.targets("mod:shop::orders::order_repo", Relation::Defines)),
        [
            "fn:shop::orders::order_repo::all",
            "fn:shop::orders::order_repo::by_id",
            "fn:shop::orders::order_repo::insert"
        ]
    );
    // A function takes its module's layer and file, as SpanLayer gives them.
    assert_eq!(
        scan.layer("fn:shop::orders::order_repo::insert"),
        Some(ArchLayer::Repo)
    );
    assert_eq!(
        scan.source_file("fn:shop::customers::store::insert"),
        Some("src/customers.rs")
    );
    // The binary's root module is the library's, but its function is in its own file.
    assert_eq!(scan.source_file("fn:shop::main"), Some("src/main.rs"));
}

#[test]
fn dependencies_between_modules() {
    let scan = scan(false);
    let deps = |m: &str| strs(scan.targets(m, Relation::DependsOn));
    // `use crate::…` (with a group), a qualified path in a body, `crate::AppState` at the root.
    assert_eq!(
        deps("mod:shop::app"),
        [
            "mod:shop::db",
            "mod:shop::handlers::customers",
            "mod:shop::handlers::orders",
            "mod:shop::status"
        ]
    );
    assert_eq!(
        deps("mod:shop::handlers::orders"),
        ["mod:shop", "mod:shop::orders"]
    );
    // A child used by name, `self::`, a re-export.
    assert_eq!(
        deps("mod:shop::orders"),
        [
            "mod:shop::db",
            "mod:shop::orders::order",
            "mod:shop::orders::order_repo"
        ]
    );
    // `super::`.
    assert_eq!(
        deps("mod:shop::orders::order_repo"),
        ["mod:shop::db", "mod:shop::orders::order"]
    );
    assert_eq!(deps("mod:shop::orders::tests"), ["mod:shop::orders"]);
    // An inline module, and the module that calls into it.
    assert_eq!(
        deps("mod:shop::customers::store"),
        ["mod:shop::customers::customer", "mod:shop::db"]
    );
    assert!(deps("mod:shop::customers").contains(&"mod:shop::customers::store"));
    assert_eq!(
        deps("mod:shop::workers::invoicer"),
        ["mod:shop::db", "mod:shop::orders"]
    );
    // src/main.rs reaches the library by the crate's name; so does the test crate.
    assert_eq!(
        deps("mod:shop"),
        [
            "mod:shop::app",
            "mod:shop::config",
            "mod:shop::db",
            "mod:shop::orders",
            "mod:shop::workers::invoicer"
        ]
    );
    assert_eq!(deps("mod:api"), ["mod:api::common"]);
    assert_eq!(deps("mod:api::common"), ["mod:shop"]);
    // No external crate unless asked.
    assert!(!scan.contains("mod:axum") && !scan.contains("mod:sqlx"));
}

#[test]
fn external_crates_when_asked() {
    let scan = scan(true);
    for krate in [
        "axum",
        "provenance",
        "provenance_sqlx",
        "serde",
        "sqlx",
        "tokio",
        "tracing",
    ] {
        let id = format!("mod:{krate}");
        assert_eq!(scan.layer(&id), Some(ArchLayer::Lib), "{id}");
    }
    assert!(!scan.contains("mod:std"));
    assert!(scan.has_edge("mod:shop::app", Relation::DependsOn, "mod:axum"));
    assert!(scan.has_edge("mod:shop::orders::order", Relation::DependsOn, "mod:serde"));
    // `tracing::info!` inside a function body counts.
    assert!(scan.has_edge(
        "mod:shop::workers::invoicer",
        Relation::DependsOn,
        "mod:tracing"
    ));
}

#[test]
fn a_file_that_does_not_parse_is_skipped_with_a_warning() {
    let scan = scan(false);
    assert!(!scan.contains("mod:shop::legacy"));
    assert_eq!(scan.warnings().len(), 1, "{:#?}", scan.warnings());
    assert!(scan.warnings()[0].contains("src/legacy.rs: does not parse"));
}

#[test]
fn files_read_and_rerun_paths() {
    let scan = scan(false);
    assert_eq!(scan.files().len(), 24, "{:#?}", scan.files());
    assert!(scan.files().iter().any(|f| f == "src/legacy.rs"));
    assert!(!scan.files().iter().any(|f| f.ends_with(".down.sql")));
    let dir = fixture();
    let rerun = scan.rerun_paths();
    for path in [
        "src/lib.rs",
        "src/platform/signals.rs",
        "tests/common/mod.rs",
        "migrations",
    ] {
        assert!(rerun.contains(&dir.join(path)), "{path} not watched");
    }
    // Not `tests/` itself: cargo would watch it recursively, fixtures and data included.
    assert!(!rerun.contains(&dir.join("tests")));
}

#[test]
fn output_is_deterministic() {
    let first = scan(true).to_rust();
    assert_eq!(first, scan(true).to_rust());
    assert!(first.starts_with("// @generated by provenance-build"));
}

#[test]
fn registered_module_graph() {
    let store = Store::new();
    scan(false).register(&store).unwrap();
    let graph = store.module_graph();
    let orders = provenance::module_id("shop::orders").unwrap();
    assert_eq!(
        strs(&graph[&orders]),
        [
            "mod:shop::db",
            "mod:shop::orders::order",
            "mod:shop::orders::order_repo"
        ]
    );
    let repo = store.lookup("mod:shop::orders::order_repo").unwrap();
    assert_eq!(repo.layer, Some(ArchLayer::Repo));
    assert_eq!(
        repo.source_file.as_deref(),
        Some("src/orders/order_repo.rs")
    );
    assert!(
        store
            .related("fn:shop::handlers::orders::create")
            .iter()
            .any(|id| id == "mod:shop::handlers::orders")
    );
}

#[test]
fn migrations_and_what_their_ddl_writes() {
    let scan = scan(false);
    // As `provenance_sqlx::Pool::migrate` records them: sqlx's description has spaces.
    assert_eq!(
        strs(scan.ids_of(Kind::Mig)),
        [
            "mig:20240101000000_create%20orders",
            "mig:20240315000000_add%20status",
            "mig:20240401000000_invoices"
        ]
    );
    let create = "mig:20240101000000_create%20orders";
    assert_eq!(scan.layer(create), Some(ArchLayer::Migration));
    assert_eq!(
        scan.source_file(create),
        Some("migrations/20240101000000_create_orders.sql")
    );
    let produced = strs(scan.targets(create, Relation::Produced));
    for id in [
        "tbl:customers",
        "tbl:orders",
        "col:customers.email",
        "col:orders.customer_id",
        "col:orders.total_cents",
    ] {
        assert!(produced.contains(&id), "{id} not in {produced:?}");
    }
    assert!(scan.has_edge("tbl:orders", Relation::Contains, "col:orders.total_cents"));
    assert!(scan.has_edge(
        "mig:20240315000000_add%20status",
        Relation::Produced,
        "col:orders.status"
    ));
    assert!(scan.has_edge(
        "mig:20240401000000_invoices",
        Relation::Produced,
        "tbl:billing.invoices"
    ));
    assert!(scan.has_edge(
        "tbl:billing.invoices",
        Relation::Contains,
        "col:billing.invoices.order_id"
    ));
}

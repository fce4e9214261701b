//! `cargo provenance`: the workspace scan as a command, printing the module graph as a table,
//! DOT or Mermaid.

use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cargo-provenance"))
        .args(args)
        .output()
        .expect("the command runs")
}

fn shop_manifest() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/shop/Cargo.toml")
        .display()
        .to_string()
}

#[test]
fn table_of_modules_with_layers() {
    // As cargo runs a subcommand: its name comes first.
    let out = run(&["provenance", "--manifest-path", &shop_manifest()]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("module") && lines[0].contains("layer"));
    let row = lines
        .iter()
        .find(|l| l.starts_with("mod:shop::orders::order_repo "))
        .expect("a row for the repo");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells,
        [
            "mod:shop::orders::order_repo",
            "repo",
            "src/orders/order_repo.rs",
            "3",
            "mod:shop::db,",
            "mod:shop::orders::order"
        ]
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("src/legacy.rs: does not parse"), "{stderr}");
    assert!(
        stderr.contains("scanned 24 files: 21 modules, 25 functions, 3 migrations"),
        "{stderr}"
    );
}

#[test]
fn dot_and_mermaid_through_the_export_module() {
    let shop = shop_manifest();
    let dot = run(&["--manifest-path", &shop, "--format", "dot"]);
    let dot = String::from_utf8(dot.stdout).unwrap();
    assert!(dot.starts_with("digraph provenance {"));
    assert!(
        dot.contains(r#""mod:shop::app" [label="mod:shop::app\n(controller)"];"#),
        "{dot}"
    );
    assert!(dot.contains(r#""mod:shop::app" -> "mod:shop::status" [label="depends_on"];"#));

    let mermaid = run(&[
        "--manifest-path",
        &shop,
        "--format",
        "mermaid",
        "--external",
    ]);
    let mermaid = String::from_utf8(mermaid.stdout).unwrap();
    assert!(mermaid.starts_with("flowchart LR"));
    assert!(mermaid.contains(r#"["mod:axum<br>(lib)"]"#), "{mermaid}");

    let json = run(&["--manifest-path", &shop, "--format", "json"]);
    assert!(
        String::from_utf8(json.stdout)
            .unwrap()
            .contains("\"mod:shop::orders\"")
    );
}

#[test]
fn bad_arguments() {
    assert_eq!(run(&["--format", "svg"]).status.code(), Some(2));
    assert_eq!(run(&["--frobnicate"]).status.code(), Some(2));
}

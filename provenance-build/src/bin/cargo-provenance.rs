//! `cargo provenance`: scan a whole workspace and print its module graph with layers.
//!
//! Run with: `cargo run -p provenance-build --features cli --bin cargo-provenance -- [OPTIONS]`,
//! or install it (`cargo install provenance-build --features cli`) and run `cargo provenance`.
//!
//! ```text
//! cargo provenance [--manifest-path PATH] [--format table|dot|mermaid|json] [--external]
//! ```
//!
//! The table lists every module with its layer, source file, number of functions and the
//! modules it depends on; DOT, Mermaid and JSON come from `provenance::export`. A summary
//! (files, artifacts, time taken by the scan) goes to standard error.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use provenance::export::Graph;
use provenance::{Kind, Relation, Store};
use provenance_build::{Scan, Scanner};

const USAGE: &str =
    "usage: cargo provenance [--manifest-path PATH] [--format table|dot|mermaid|json] [--external]";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    // Run as `cargo provenance`, cargo passes the subcommand's name first.
    if args.peek().map(String::as_str) == Some("provenance") {
        args.next();
    }
    let mut manifest = None;
    let mut format = "table".to_owned();
    let mut external = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--manifest-path" => manifest = args.next().map(PathBuf::from),
            "--format" => format = args.next().unwrap_or_default(),
            "--external" => external = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("unknown argument `{other}`\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    if !["table", "dot", "mermaid", "json"].contains(&format.as_str()) {
        eprintln!("unknown format `{format}`\n{USAGE}");
        return ExitCode::from(2);
    }
    let scanner = match Scanner::workspace(manifest.as_deref()) {
        Ok(scanner) => scanner.external_crates(external),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let scan = scanner.scan();
    let took = started.elapsed();
    for warning in scan.warnings() {
        eprintln!("warning: {warning}");
    }
    if format == "table" {
        print!("{}", table(&scan));
    } else {
        let store = Store::new();
        if let Err(e) = scan.register(&store) {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
        let graph = Graph::module_graph(&store);
        match format.as_str() {
            "dot" => print!("{}", graph.to_dot()),
            "mermaid" => print!("{}", graph.to_mermaid()),
            _ => println!("{}", graph.to_json()),
        }
    }
    eprintln!(
        "scanned {} files: {} modules, {} functions, {} migrations, {} edges in {:.1} ms",
        scan.files().len(),
        scan.ids_of(Kind::Mod).count(),
        scan.ids_of(Kind::Fn).count(),
        scan.ids_of(Kind::Mig).count(),
        scan.edges().count(),
        took.as_secs_f64() * 1000.0
    );
    ExitCode::SUCCESS
}

/// One row per module: ID, layer, file, functions, dependencies.
fn table(scan: &Scan) -> String {
    let rows: Vec<[String; 5]> = scan
        .ids_of(Kind::Mod)
        .map(|id| {
            let deps: Vec<&str> = scan
                .targets(id.as_str(), Relation::DependsOn)
                .into_iter()
                .map(|d| d.as_str())
                .collect();
            [
                id.to_string(),
                scan.layer(id.as_str())
                    .map_or("-".to_owned(), |l| l.to_string()),
                scan.source_file(id.as_str()).unwrap_or("-").to_owned(),
                scan.targets(id.as_str(), Relation::Defines)
                    .len()
                    .to_string(),
                deps.join(", "),
            ]
        })
        .collect();
    let header = ["module", "layer", "file", "fns", "depends on"].map(str::to_owned);
    let mut widths = [0; 4];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line = format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {:>w3$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

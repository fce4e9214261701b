//! `register_compiled!` for real: a tiny crate (`tests/fixtures/tiny`) with a build script
//! that calls `provenance_build::build()` is built by cargo and run, then built again to see
//! that cargo reruns the scan only when a source file changes.
//!
//! The first run compiles the build dependencies (syn, sqlparser) into a target directory of
//! its own under cargo's `CARGO_TARGET_TMPDIR`; later runs reuse it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A copy of the fixture with a `Cargo.toml` that points at this checkout's crates.
fn tiny_crate() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = here.parent().unwrap();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tiny");
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&here.join("tests/fixtures/tiny"), &dir);
    let manifest = format!(
        r#"[package]
name = "tiny"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
provenance = {{ path = {provenance:?}, default-features = false }}

[build-dependencies]
provenance-build = {{ path = {build:?} }}

[workspace]
"#,
        provenance = root.join("provenance"),
        build = here,
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    // The workspace's lock pins the same versions the workspace builds with (and has fetched).
    if let Ok(lock) = std::fs::read(root.join("Cargo.lock")) {
        std::fs::write(dir.join("Cargo.lock"), lock).unwrap();
    }
    dir
}

/// Runs cargo in `dir`, failing the test (not hanging it) after ten minutes.
fn cargo(dir: &Path, args: &[&str]) -> Output {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tiny-target");
    let mut child = Command::new(cargo)
        .args(args)
        .args(["--offline", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_TERM_COLOR", "never")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cargo runs");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(600) {
            let _ = child.kill();
            panic!("cargo {args:?} took more than ten minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "cargo {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_build_script_and_one_line_at_startup() {
    let dir = tiny_crate();
    let out = lines(&cargo(&dir, &["run", "--quiet"]));
    let expect = [
        "graph mod:tiny -> [mod:tiny::orders]",
        "graph mod:tiny::orders -> [mod:tiny::orders::order_repo]",
        "graph mod:tiny::orders::order_repo -> []",
        "artifact mod:tiny layer=lib file=src/main.rs",
        "artifact mod:tiny::orders layer=context file=src/orders.rs",
        "artifact mod:tiny::orders::order_repo layer=repo file=src/orders/order_repo.rs",
        "artifact fn:tiny::orders::create layer=context file=src/orders.rs",
        "global modules 3",
    ];
    for line in expect {
        assert!(out.iter().any(|l| l == line), "no `{line}` in {out:#?}");
    }

    // Nothing changed: the build script does not run again.
    let again = cargo(&dir, &["build", "-v"]);
    let log = String::from_utf8_lossy(&again.stderr);
    assert!(
        !log.contains("build-script-build`"),
        "reran the scan:\n{log}"
    );

    // A source file changed: it does, and the new function is registered.
    std::fs::write(
        dir.join("src/orders/order_repo.rs"),
        "pub fn insert() {}\npub fn delete() {}\n",
    )
    .unwrap();
    let changed = cargo(&dir, &["build", "-v"]);
    let log = String::from_utf8_lossy(&changed.stderr);
    assert!(log.contains("build-script-build`"), "did not rerun:\n{log}");
    let build_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tiny-target/debug/build");
    let generated = std::fs::read_dir(build_dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path().join("out/provenance_compiled.rs"))
        .filter(|p| p.is_file())
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        .expect("the generated file");
    let text = std::fs::read_to_string(generated).unwrap();
    assert!(
        text.contains("\"fn:tiny::orders::order_repo::delete\""),
        "{text}"
    );
}

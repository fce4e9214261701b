//! Architectural layers: where a module sits in a service (handlers, contexts, repos, …).
//!
//! The Elixir library classifies each module from its file path and what it defines; this is
//! the same table adapted to Rust paths. [`classify`] is a pure function, so a build-time scan,
//! the tracing layer and a hand call agree.

use std::fmt;
use std::str::FromStr;

/// The architectural layer of a module. (Named so as not to clash with tower's and tracing's
/// `Layer`.)
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum ArchLayer {
    /// Tests: a file under a `tests` directory.
    Test,
    /// HTTP handlers: under `handlers/`, `routes/` or `controllers/`.
    Controller,
    /// Rendering: under `views/` or `templates/`.
    View,
    /// Other web plumbing: under `web/` or `http/`.
    Web,
    /// Background work: under `workers/` or `jobs/`.
    Worker,
    /// Database migrations: under `migrations/`.
    Migration,
    /// Data access: a module whose name ends in `repo` or `Repo`.
    Repo,
    /// Row types: a module defining a `sqlx::FromRow` type.
    Schema,
    /// A top-level module of the crate (`src/orders.rs`, `src/orders/mod.rs`).
    Context,
    /// Everything else.
    Lib,
}

impl ArchLayer {
    /// Every layer, in the order [`classify`] tries them.
    pub const ALL: [ArchLayer; 10] = [
        ArchLayer::Test,
        ArchLayer::Controller,
        ArchLayer::View,
        ArchLayer::Web,
        ArchLayer::Worker,
        ArchLayer::Migration,
        ArchLayer::Repo,
        ArchLayer::Schema,
        ArchLayer::Context,
        ArchLayer::Lib,
    ];

    /// The lowercase name, e.g. `"controller"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ArchLayer::Test => "test",
            ArchLayer::Controller => "controller",
            ArchLayer::View => "view",
            ArchLayer::Web => "web",
            ArchLayer::Worker => "worker",
            ArchLayer::Migration => "migration",
            ArchLayer::Repo => "repo",
            ArchLayer::Schema => "schema",
            ArchLayer::Context => "context",
            ArchLayer::Lib => "lib",
        }
    }
}

impl fmt::Display for ArchLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The error returned when a string names no [`ArchLayer`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown architectural layer `{0}`")]
pub struct UnknownLayer(String);

impl FromStr for ArchLayer {
    type Err = UnknownLayer;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ArchLayer::ALL
            .into_iter()
            .find(|layer| layer.as_str() == s)
            .ok_or_else(|| UnknownLayer(s.chars().take(32).collect()))
    }
}

/// What is known about a module's contents beyond its path, for [`classify`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Signals {
    /// The module defines a type deriving `sqlx::FromRow`.
    pub from_row: bool,
}

impl Signals {
    /// No signals: classify by path and name alone.
    pub const fn none() -> Self {
        Signals { from_row: false }
    }

    /// The module defines a `sqlx::FromRow` type.
    pub const fn from_row(mut self, yes: bool) -> Self {
        self.from_row = yes;
        self
    }
}

/// Classifies a module by its source file (relative or absolute, `/` or `\`), its module path
/// and what it contains. The first matching rule wins:
///
/// | layer | rule |
/// |---|---|
/// | test | a `tests` directory in the path |
/// | controller | a `handlers`, `routes` or `controllers` directory or file stem |
/// | view | `views` or `templates` |
/// | web | `web` or `http` |
/// | worker | `workers` or `jobs` |
/// | migration | `migrations` |
/// | repo | the module's last segment ends in `repo` or `Repo` |
/// | schema | the module defines a `sqlx::FromRow` type |
/// | context | a top-level module: `src/NAME.rs` or `src/NAME/mod.rs` (not `lib.rs`/`main.rs`) |
/// | lib | everything else |
///
/// ```
/// use provenance::arch::{classify, ArchLayer, Signals};
///
/// assert_eq!(classify("src/handlers/orders.rs", "shop::handlers::orders", Signals::none()), ArchLayer::Controller);
/// assert_eq!(classify("src/orders.rs", "shop::orders", Signals::none()), ArchLayer::Context);
/// assert_eq!(classify("src/orders/order_repo.rs", "shop::orders::order_repo", Signals::none()), ArchLayer::Repo);
/// ```
pub fn classify(source_file: &str, module_path: &str, signals: Signals) -> ArchLayer {
    let normalized = source_file.replace('\\', "/");
    let components: Vec<&str> = normalized
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let (dirs, file) = match components.split_last() {
        Some((file, dirs)) => (dirs, *file),
        None => (&[][..], ""),
    };
    let stem = file.strip_suffix(".rs").unwrap_or(file);
    let has_dir = |names: &[&str]| dirs.iter().any(|d| names.contains(d));
    let has = |names: &[&str]| has_dir(names) || names.contains(&stem);

    if has_dir(&["tests"]) {
        return ArchLayer::Test;
    }
    if has(&["handlers", "routes", "controllers"]) {
        return ArchLayer::Controller;
    }
    if has(&["views", "templates"]) {
        return ArchLayer::View;
    }
    if has(&["web", "http"]) {
        return ArchLayer::Web;
    }
    if has(&["workers", "jobs"]) {
        return ArchLayer::Worker;
    }
    if has(&["migrations"]) {
        return ArchLayer::Migration;
    }
    let last_segment = module_path.rsplit("::").next().unwrap_or(module_path);
    if last_segment.ends_with("repo") || last_segment.ends_with("Repo") {
        return ArchLayer::Repo;
    }
    if signals.from_row {
        return ArchLayer::Schema;
    }
    // Depth below the last `src` directory: `src/orders.rs` or `src/orders/mod.rs`.
    if let Some(src) = components.iter().rposition(|c| *c == "src") {
        let below = &components[src + 1..];
        let top_level = match below {
            [file] => !matches!(*file, "lib.rs" | "main.rs"),
            [_, "mod.rs"] => true,
            _ => false,
        };
        if top_level {
            return ArchLayer::Context;
        }
    }
    ArchLayer::Lib
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_table() {
        let from_row = Signals::none().from_row(true);
        let cases: &[(&str, &str, Signals, ArchLayer)] = &[
            (
                "tests/orders.rs",
                "orders",
                Signals::none(),
                ArchLayer::Test,
            ),
            (
                "crates/shop/tests/api/mod.rs",
                "api",
                Signals::none(),
                ArchLayer::Test,
            ),
            (
                "src/handlers/orders.rs",
                "shop::handlers::orders",
                Signals::none(),
                ArchLayer::Controller,
            ),
            (
                "src/handlers.rs",
                "shop::handlers",
                Signals::none(),
                ArchLayer::Controller,
            ),
            (
                "src/routes/mod.rs",
                "shop::routes",
                Signals::none(),
                ArchLayer::Controller,
            ),
            (
                "src\\controllers\\admin.rs",
                "shop::controllers::admin",
                Signals::none(),
                ArchLayer::Controller,
            ),
            (
                "src/views/order.rs",
                "shop::views::order",
                Signals::none(),
                ArchLayer::View,
            ),
            (
                "src/templates/mod.rs",
                "shop::templates",
                Signals::none(),
                ArchLayer::View,
            ),
            (
                "src/http/middleware.rs",
                "shop::http::middleware",
                Signals::none(),
                ArchLayer::Web,
            ),
            ("src/web.rs", "shop::web", Signals::none(), ArchLayer::Web),
            (
                "src/workers/invoicer.rs",
                "shop::workers::invoicer",
                Signals::none(),
                ArchLayer::Worker,
            ),
            (
                "src/jobs/mod.rs",
                "shop::jobs",
                Signals::none(),
                ArchLayer::Worker,
            ),
            (
                "src/migrations/m1.rs",
                "shop::migrations::m1",
                Signals::none(),
                ArchLayer::Migration,
            ),
            (
                "src/orders/repo.rs",
                "shop::orders::repo",
                Signals::none(),
                ArchLayer::Repo,
            ),
            (
                "src/db.rs",
                "shop::db::OrderRepo",
                Signals::none(),
                ArchLayer::Repo,
            ),
            (
                "src/orders/order.rs",
                "shop::orders::order",
                from_row,
                ArchLayer::Schema,
            ),
            (
                "src/orders.rs",
                "shop::orders",
                Signals::none(),
                ArchLayer::Context,
            ),
            (
                "src/orders/mod.rs",
                "shop::orders",
                Signals::none(),
                ArchLayer::Context,
            ),
            (
                "/home/me/shop/src/billing.rs",
                "shop::billing",
                Signals::none(),
                ArchLayer::Context,
            ),
            ("src/lib.rs", "shop", Signals::none(), ArchLayer::Lib),
            ("src/main.rs", "shop", Signals::none(), ArchLayer::Lib),
            (
                "src/orders/pricing.rs",
                "shop::orders::pricing",
                Signals::none(),
                ArchLayer::Lib,
            ),
            ("", "shop::x", Signals::none(), ArchLayer::Lib),
            // The first rule wins: a repo under handlers/ is a controller, a test repo a test.
            (
                "src/handlers/order_repo.rs",
                "shop::handlers::order_repo",
                Signals::none(),
                ArchLayer::Controller,
            ),
            ("tests/repo.rs", "repo", from_row, ArchLayer::Test),
        ];
        for (file, module, signals, expected) in cases {
            assert_eq!(
                classify(file, module, *signals),
                *expected,
                "{file} / {module}"
            );
        }
    }

    #[test]
    fn names_round_trip() {
        for layer in ArchLayer::ALL {
            assert_eq!(layer.as_str().parse::<ArchLayer>(), Ok(layer));
        }
        assert!("Controller".parse::<ArchLayer>().is_err());
    }
}

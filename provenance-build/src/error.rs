//! The crate's error type.

use std::path::PathBuf;

/// What can stop a scan from reaching the build. (Files that do not parse only produce
/// warnings: see [`Scan::warnings`](crate::Scan::warnings).)
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An environment variable that cargo sets for build scripts is missing: not running
    /// inside a build script.
    #[error("environment variable {0} is not set; is this running in a build script?")]
    MissingEnv(&'static str),
    /// The generated file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `cargo metadata` failed or its output was not understood.
    #[error("cargo metadata: {0}")]
    Metadata(String),
}

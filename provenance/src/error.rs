//! The crate's error type.

use crate::id::IdError;

/// What can go wrong when recording or registering lineage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An ID did not parse; the inner error says what was wrong and where.
    #[error(transparent)]
    InvalidId(#[from] IdError),
    /// A store shard reached the largest number of artifacts it can address. Event artifacts
    /// never get here (they are evicted first); this takes millions of structural ones.
    #[error("store shard {shard} is full: it holds the maximum of {max} artifacts")]
    Full {
        /// The shard's index.
        shard: usize,
        /// Its maximum number of artifacts.
        max: usize,
    },
}

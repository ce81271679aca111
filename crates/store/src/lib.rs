//! Durable state: function configurations and the code blobs they point to. The `Store` trait
//! is the boundary that a PostgreSQL implementation will also fill. This crate does not depend
//! on HTTP or on running functions.

mod blobs;
mod event_source_mappings;
mod queue;
mod sqlite;

use std::path::PathBuf;

use flicker_model::FunctionConfig;

pub use blobs::BlobStore;
pub use queue::{QueueStore, ReceiveUpdate, SqliteQueueStore, StoredMessage, StoredQueue};
pub use sqlite::SqliteStore;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// opening the database failed
    #[error("failed to open database {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// a query failed
    #[error("database query failed")]
    Query(#[from] rusqlite::Error),
    /// a stored configuration is not valid JSON
    #[error("stored configuration of function {name} is corrupt")]
    Corrupt {
        name: String,
        #[source]
        source: serde_json::Error,
    },
    /// a code blob could not be written or read
    #[error("failed to access code blob {path}")]
    Blob {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// a function with that name exists already
    #[error("function {0} exists already")]
    AlreadyExists(String),
}

/// Function configurations by name and version.
pub trait Store: Send + Sync {
    /// Inserts a new function's `$LATEST`; fails with `AlreadyExists` if the name is taken.
    fn create_function(&self, config: &FunctionConfig) -> Result<(), StoreError>;

    /// Replaces a stored version of a function.
    fn update_function(&self, config: &FunctionConfig) -> Result<(), StoreError>;

    /// Every version of every function, ordered by name and then version.
    fn load_functions(&self) -> Result<Vec<FunctionConfig>, StoreError>;

    /// Deletes one version of a function, or all of them when `version` is `None`.
    /// Returns how many versions were deleted.
    fn delete_function(&self, name: &str, version: Option<&str>) -> Result<usize, StoreError>;
}

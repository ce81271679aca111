//! Durable state: function configurations and the code blobs they point to. The `Store` trait
//! is the boundary that a PostgreSQL implementation will also fill. This crate does not depend
//! on HTTP or on running functions.

mod blobs;
mod event_source_mappings;
mod layers;
mod queue;
mod schedules;
mod sqlite;
mod subscriptions;

use std::path::PathBuf;

use flicker_model::url::UrlConfig;
use flicker_model::{FunctionConfig, FunctionSettings};

pub use blobs::BlobStore;
pub use layers::{LayerStore, SqliteLayerStore};
pub use queue::{QueueStore, ReceiveUpdate, SqliteQueueStore, StoredMessage, StoredQueue};
pub use schedules::{ScheduleRuleRecord, ScheduleStore, ScheduleTargetRecord};
pub use sqlite::SqliteStore;
pub use subscriptions::{SubscriptionFilterRecord, SubscriptionFilterStore};

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
    /// a stored function URL configuration is not valid JSON
    #[error("stored URL configuration {url_id} is corrupt")]
    CorruptUrl {
        url_id: String,
        #[source]
        source: serde_json::Error,
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

    /// Deletes one version of a function, or all of them and the function's settings when
    /// `version` is `None`. Returns how many versions were deleted.
    fn delete_function(&self, name: &str, version: Option<&str>) -> Result<usize, StoreError>;

    /// Inserts or replaces the URL configuration of a function and qualifier.
    fn put_url_config(&self, config: &UrlConfig) -> Result<(), StoreError>;

    /// Every function URL configuration.
    fn load_url_configs(&self) -> Result<Vec<UrlConfig>, StoreError>;

    /// Deletes the URL configuration of a function and qualifier (`None` for the unqualified
    /// function). Returns whether one existed.
    fn delete_url_config(&self, function_name: &str, qualifier: Option<&str>) -> Result<bool, StoreError>;

    /// Deletes every URL configuration of a function. Returns how many were deleted.
    fn delete_function_urls(&self, function_name: &str) -> Result<usize, StoreError>;

    /// Replaces a function's aliases, concurrency settings, tags and version counter.
    fn save_settings(&self, name: &str, settings: &FunctionSettings) -> Result<(), StoreError>;

    /// The settings of every function that has any, by function name.
    fn load_settings(&self) -> Result<Vec<(String, FunctionSettings)>, StoreError>;
}

//! Published layer versions in SQLite. Each layer keeps the highest version number it ever
//! had, so that numbers are never reused after a deletion. Layer archives live in the
//! `BlobStore` like function code.

use std::path::Path;
use std::sync::Mutex;

use flicker_model::layer::LayerVersionRecord;
use rusqlite::{params, Connection, OptionalExtension};

use crate::StoreError;

/// Layer versions by name and version number.
pub trait LayerStore: Send + Sync {
    /// Stores `record` under the next version number of its layer and returns the number.
    /// The `version` of `record` is ignored.
    fn publish_layer_version(&self, record: &LayerVersionRecord) -> Result<u64, StoreError>;

    /// One version of a layer, if it exists.
    fn get_layer_version(&self, name: &str, version: u64) -> Result<Option<LayerVersionRecord>, StoreError>;

    /// Every existing version of every layer, ordered by name and then version.
    fn load_layer_versions(&self) -> Result<Vec<LayerVersionRecord>, StoreError>;

    /// Deletes one version of a layer and returns whether it existed.
    fn delete_layer_version(&self, name: &str, version: u64) -> Result<bool, StoreError>;
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS layers (
    name TEXT PRIMARY KEY,
    latest_version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS layer_versions (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
";

/// Layer versions in the server's SQLite file, on a connection of their own.
pub struct SqliteLayerStore {
    connection: Mutex<Connection>,
}

impl SqliteLayerStore {
    /// Opens or creates the layer tables in the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self { connection: Mutex::new(crate::sqlite::open_connection(path, SCHEMA)?) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // Every write is one transaction, so a panic while holding the lock leaves the
        // connection usable.
        self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn parse(name: String, json: &str) -> Result<LayerVersionRecord, StoreError> {
    serde_json::from_str(json).map_err(|source| StoreError::Corrupt { name, source })
}

impl LayerStore for SqliteLayerStore {
    fn publish_layer_version(&self, record: &LayerVersionRecord) -> Result<u64, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        let previous: Option<i64> = transaction
            .query_row("SELECT latest_version FROM layers WHERE name = ?1", params![record.name], |row| {
                row.get(0)
            })
            .optional()?;
        let version = previous.unwrap_or(0) + 1;
        let stored = LayerVersionRecord { version: version as u64, ..record.clone() };
        let json = serde_json::to_string(&stored).expect("a layer version serializes");
        transaction.execute(
            "INSERT OR REPLACE INTO layers (name, latest_version) VALUES (?1, ?2)",
            params![record.name, version],
        )?;
        transaction.execute(
            "INSERT INTO layer_versions (name, version, record) VALUES (?1, ?2, ?3)",
            params![record.name, version, json],
        )?;
        transaction.commit()?;
        Ok(version as u64)
    }

    fn get_layer_version(&self, name: &str, version: u64) -> Result<Option<LayerVersionRecord>, StoreError> {
        let connection = self.lock();
        let json: Option<String> = connection
            .query_row(
                "SELECT record FROM layer_versions WHERE name = ?1 AND version = ?2",
                params![name, version as i64],
                |row| row.get(0),
            )
            .optional()?;
        json.map(|json| parse(name.to_string(), &json)).transpose()
    }

    fn load_layer_versions(&self) -> Result<Vec<LayerVersionRecord>, StoreError> {
        let connection = self.lock();
        let mut statement =
            connection.prepare("SELECT name, record FROM layer_versions ORDER BY name, version")?;
        let rows = statement.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))?;
        let mut records = Vec::new();
        for row in rows {
            let (name, json) = row?;
            records.push(parse(name, &json)?);
        }
        Ok(records)
    }

    fn delete_layer_version(&self, name: &str, version: u64) -> Result<bool, StoreError> {
        let deleted = self.lock().execute(
            "DELETE FROM layer_versions WHERE name = ?1 AND version = ?2",
            params![name, version as i64],
        )?;
        Ok(deleted > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> LayerVersionRecord {
        LayerVersionRecord {
            name: name.into(),
            version: 0,
            description: "d".into(),
            license_info: Some("MIT".into()),
            compatible_runtimes: Some(vec!["python3.12".into()]),
            compatible_architectures: None,
            code_sha256: "abc".into(),
            code_size: 10,
            unzipped_size: 20,
            created_date: "2026-12-04T10:00:00.000+0000".into(),
        }
    }

    #[test]
    fn versions_count_up_per_layer() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteLayerStore::open(&dir.path().join("db")).unwrap();
        assert_eq!(store.publish_layer_version(&sample("a")).unwrap(), 1);
        assert_eq!(store.publish_layer_version(&sample("a")).unwrap(), 2);
        assert_eq!(store.publish_layer_version(&sample("b")).unwrap(), 1);
        assert_eq!(store.get_layer_version("a", 2).unwrap().unwrap().version, 2);
    }

    #[test]
    fn deleted_numbers_are_not_reused_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let store = SqliteLayerStore::open(&path).unwrap();
        store.publish_layer_version(&sample("a")).unwrap();
        assert!(store.delete_layer_version("a", 1).unwrap());
        assert!(!store.delete_layer_version("a", 1).unwrap());
        drop(store);

        let reopened = SqliteLayerStore::open(&path).unwrap();
        assert!(reopened.load_layer_versions().unwrap().is_empty());
        assert_eq!(reopened.publish_layer_version(&sample("a")).unwrap(), 2);
        assert_eq!(reopened.load_layer_versions().unwrap().len(), 1);
    }
}

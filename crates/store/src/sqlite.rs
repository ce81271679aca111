//! The embedded SQLite implementation of `Store`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use flicker_model::FunctionConfig;
use rusqlite::{params, Connection, ErrorCode};

use crate::{Store, StoreError};

/// Function configurations in one SQLite file, in WAL mode.
pub struct SqliteStore {
    connection: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS function_versions (
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    config TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS event_source_mappings (
    uuid TEXT PRIMARY KEY,
    config TEXT NOT NULL
);
";

impl SqliteStore {
    /// Opens or creates the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_error = |source| StoreError::Open { path: PathBuf::from(path), source };
        let connection = Connection::open(path).map_err(open_error)?;
        connection
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
            .map_err(open_error)?;
        connection.execute_batch(SCHEMA).map_err(open_error)?;
        Ok(Self { connection: Mutex::new(connection) })
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no half-written state: every write is one
        // statement, so the connection stays usable.
        self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn to_json(config: &FunctionConfig) -> String {
    serde_json::to_string(config).expect("a function configuration serializes")
}

impl Store for SqliteStore {
    fn create_function(&self, config: &FunctionConfig) -> Result<(), StoreError> {
        let result = self.lock().execute(
            "INSERT INTO function_versions (name, version, config) VALUES (?1, ?2, ?3)",
            params![config.name, config.version, to_json(config)],
        );
        match result {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::ConstraintViolation => {
                Err(StoreError::AlreadyExists(config.name.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }

    fn update_function(&self, config: &FunctionConfig) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT OR REPLACE INTO function_versions (name, version, config) VALUES (?1, ?2, ?3)",
            params![config.name, config.version, to_json(config)],
        )?;
        Ok(())
    }

    fn load_functions(&self) -> Result<Vec<FunctionConfig>, StoreError> {
        let connection = self.lock();
        let mut statement =
            connection.prepare("SELECT name, config FROM function_versions ORDER BY name, version")?;
        let rows = statement.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))?;
        let mut configs = Vec::new();
        for row in rows {
            let (name, json) = row?;
            let config =
                serde_json::from_str(&json).map_err(|source| StoreError::Corrupt { name, source })?;
            configs.push(config);
        }
        Ok(configs)
    }

    fn delete_function(&self, name: &str, version: Option<&str>) -> Result<usize, StoreError> {
        let connection = self.lock();
        let deleted = match version {
            Some(version) => connection.execute(
                "DELETE FROM function_versions WHERE name = ?1 AND version = ?2",
                params![name, version],
            )?,
            None => connection.execute("DELETE FROM function_versions WHERE name = ?1", params![name])?,
        };
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> FunctionConfig {
        FunctionConfig {
            name: name.into(),
            runtime: "python3.11".into(),
            handler: "app.handler".into(),
            role: "arn:aws:iam::000000000000:role/any".into(),
            description: String::new(),
            memory_size: 128,
            timeout: 3,
            environment: Default::default(),
            ephemeral_storage: 512,
            architectures: vec!["x86_64".into()],
            code_sha256: "abc".into(),
            code_size: 1,
            last_modified: "2026-12-04T10:00:00.000+0000".into(),
            revision_id: "r1".into(),
            version: "$LATEST".into(),
        }
    }

    #[test]
    fn create_rejects_taken_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db")).unwrap();
        store.create_function(&sample("f")).unwrap();
        assert!(matches!(store.create_function(&sample("f")), Err(StoreError::AlreadyExists(_))));
    }

    #[test]
    fn functions_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let store = SqliteStore::open(&path).unwrap();
        store.create_function(&sample("a")).unwrap();
        let mut changed = sample("a");
        changed.memory_size = 256;
        store.update_function(&changed).unwrap();
        drop(store);

        let reopened = SqliteStore::open(&path).unwrap();
        assert_eq!(reopened.load_functions().unwrap(), vec![changed]);
    }

    #[test]
    fn delete_counts_versions() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db")).unwrap();
        store.create_function(&sample("a")).unwrap();
        assert_eq!(store.delete_function("a", None).unwrap(), 1);
        assert_eq!(store.delete_function("a", None).unwrap(), 0);
    }
}

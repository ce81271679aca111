//! The embedded SQLite implementation of `Store`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use flicker_model::url::UrlConfig;
use flicker_model::{FunctionConfig, FunctionSettings};
use rusqlite::{params, Connection, ErrorCode};

use crate::{Store, StoreError};

/// How long a write waits for the write of another connection to the same file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens the database at `path` in WAL mode with synchronous commits and creates the tables
/// of `schema`. Several stores keep a connection of their own to one file, so the busy
/// timeout makes a write wait for another's instead of failing with SQLITE_BUSY.
pub(crate) fn open_connection(path: &Path, schema: &str) -> Result<Connection, StoreError> {
    let open_error = |source| StoreError::Open { path: PathBuf::from(path), source };
    let connection = Connection::open(path).map_err(open_error)?;
    connection.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
    connection.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;").map_err(open_error)?;
    connection.execute_batch(schema).map_err(open_error)?;
    Ok(connection)
}

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
CREATE TABLE IF NOT EXISTS function_urls (
    function_name TEXT NOT NULL,
    qualifier TEXT NOT NULL,
    url_id TEXT NOT NULL UNIQUE,
    config TEXT NOT NULL,
    PRIMARY KEY (function_name, qualifier)
);
CREATE TABLE IF NOT EXISTS function_settings (
    name TEXT PRIMARY KEY,
    settings TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS event_source_mappings (
    uuid TEXT PRIMARY KEY,
    config TEXT NOT NULL
);
";

impl SqliteStore {
    /// Opens or creates the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self { connection: Mutex::new(open_connection(path, SCHEMA)?) })
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
            None => {
                connection.execute("DELETE FROM function_settings WHERE name = ?1", params![name])?;
                connection.execute("DELETE FROM function_versions WHERE name = ?1", params![name])?
            }
        };
        Ok(deleted)
    }

    fn put_url_config(&self, config: &UrlConfig) -> Result<(), StoreError> {
        let json = serde_json::to_string(config).expect("a URL configuration serializes");
        // The unqualified URL is stored under the empty qualifier, because a NULL would not
        // take part in the primary key.
        self.lock().execute(
            "INSERT OR REPLACE INTO function_urls (function_name, qualifier, url_id, config) \
             VALUES (?1, ?2, ?3, ?4)",
            params![config.function_name, config.qualifier.as_deref().unwrap_or(""), config.url_id, json],
        )?;
        Ok(())
    }

    fn save_settings(&self, name: &str, settings: &FunctionSettings) -> Result<(), StoreError> {
        let json = serde_json::to_string(settings).expect("function settings serialize");
        self.lock().execute(
            "INSERT OR REPLACE INTO function_settings (name, settings) VALUES (?1, ?2)",
            params![name, json],
        )?;
        Ok(())
    }

    fn load_url_configs(&self) -> Result<Vec<UrlConfig>, StoreError> {
        let connection = self.lock();
        let mut statement = connection
            .prepare("SELECT url_id, config FROM function_urls ORDER BY function_name, qualifier")?;
        let rows = statement.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))?;
        let mut configs = Vec::new();
        for row in rows {
            let (url_id, json) = row?;
            let config =
                serde_json::from_str(&json).map_err(|source| StoreError::CorruptUrl { url_id, source })?;
            configs.push(config);
        }
        Ok(configs)
    }

    fn delete_url_config(&self, function_name: &str, qualifier: Option<&str>) -> Result<bool, StoreError> {
        let deleted = self.lock().execute(
            "DELETE FROM function_urls WHERE function_name = ?1 AND qualifier = ?2",
            params![function_name, qualifier.unwrap_or("")],
        )?;
        Ok(deleted > 0)
    }

    fn delete_function_urls(&self, function_name: &str) -> Result<usize, StoreError> {
        let deleted = self
            .lock()
            .execute("DELETE FROM function_urls WHERE function_name = ?1", params![function_name])?;
        Ok(deleted)
    }

    fn load_settings(&self) -> Result<Vec<(String, FunctionSettings)>, StoreError> {
        let connection = self.lock();
        let mut statement =
            connection.prepare("SELECT name, settings FROM function_settings ORDER BY name")?;
        let rows = statement.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))?;
        let mut all = Vec::new();
        for row in rows {
            let (name, json) = row?;
            let settings = serde_json::from_str(&json)
                .map_err(|source| StoreError::Corrupt { name: name.clone(), source })?;
            all.push((name, settings));
        }
        Ok(all)
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
            dead_letter_target: None,
            layers: Vec::new(),
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

    fn url(function_name: &str, qualifier: Option<&str>, url_id: &str) -> UrlConfig {
        UrlConfig {
            function_name: function_name.into(),
            qualifier: qualifier.map(str::to_string),
            url_id: url_id.into(),
            auth_type: "NONE".into(),
            cors: None,
            invoke_mode: "BUFFERED".into(),
            invoke_mode_given: false,
            creation_time: "2026-12-04T10:00:00.000000Z".into(),
            last_modified_time: "2026-12-04T10:00:00.000000Z".into(),
        }
    }

    #[test]
    fn url_configs_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let store = SqliteStore::open(&path).unwrap();
        store.put_url_config(&url("a", None, "id1")).unwrap();
        store.put_url_config(&url("a", Some("live"), "id2")).unwrap();
        store.put_url_config(&url("b", None, "id3")).unwrap();
        assert!(store.delete_url_config("b", None).unwrap());
        assert!(!store.delete_url_config("b", None).unwrap());
        drop(store);

        let reopened = SqliteStore::open(&path).unwrap();
        let ids: Vec<String> = reopened.load_url_configs().unwrap().into_iter().map(|c| c.url_id).collect();
        assert_eq!(ids, ["id1", "id2"]);
        assert_eq!(reopened.delete_function_urls("a").unwrap(), 2);
    }

    #[test]
    fn delete_counts_versions() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db")).unwrap();
        store.create_function(&sample("a")).unwrap();
        assert_eq!(store.delete_function("a", None).unwrap(), 1);
        assert_eq!(store.delete_function("a", None).unwrap(), 0);
    }

    #[test]
    fn settings_survive_reopen_and_go_with_the_function() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let store = SqliteStore::open(&path).unwrap();
        store.create_function(&sample("a")).unwrap();
        let settings =
            FunctionSettings { last_version: 3, reserved_concurrency: Some(5), ..Default::default() };
        store.save_settings("a", &settings).unwrap();
        drop(store);

        let reopened = SqliteStore::open(&path).unwrap();
        assert_eq!(reopened.load_settings().unwrap(), vec![("a".to_string(), settings)]);
        reopened.delete_function("a", None).unwrap();
        assert!(reopened.load_settings().unwrap().is_empty());
    }
}

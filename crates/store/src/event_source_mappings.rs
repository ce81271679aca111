//! Event source mappings in the SQLite store: one row per mapping, keyed by its UUID, holding
//! the mapping's JSON. The store does not interpret that JSON; the pollers crate owns its shape.

use rusqlite::params;

use crate::{SqliteStore, StoreError};

impl SqliteStore {
    /// Inserts or replaces the mapping with this UUID.
    pub fn save_event_source_mapping(&self, uuid: &str, config_json: &str) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT OR REPLACE INTO event_source_mappings (uuid, config) VALUES (?1, ?2)",
            params![uuid, config_json],
        )?;
        Ok(())
    }

    /// Loads every stored mapping as `(uuid, JSON)`, ordered by UUID.
    pub fn load_event_source_mappings(&self) -> Result<Vec<(String, String)>, StoreError> {
        let connection = self.lock();
        let mut statement =
            connection.prepare("SELECT uuid, config FROM event_source_mappings ORDER BY uuid")?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes a mapping; returns whether it existed.
    pub fn delete_event_source_mapping(&self, uuid: &str) -> Result<bool, StoreError> {
        let deleted =
            self.lock().execute("DELETE FROM event_source_mappings WHERE uuid = ?1", params![uuid])?;
        Ok(deleted > 0)
    }
}

#[cfg(test)]
mod tests {
    use crate::SqliteStore;

    #[test]
    fn mappings_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let store = SqliteStore::open(&path).unwrap();
        store.save_event_source_mapping("b", r#"{"n": 1}"#).unwrap();
        store.save_event_source_mapping("a", r#"{"n": 2}"#).unwrap();
        store.save_event_source_mapping("b", r#"{"n": 3}"#).unwrap();
        drop(store);

        let reopened = SqliteStore::open(&path).unwrap();
        let rows = reopened.load_event_source_mappings().unwrap();
        assert_eq!(rows, vec![("a".into(), r#"{"n": 2}"#.into()), ("b".into(), r#"{"n": 3}"#.into())]);
        assert!(reopened.delete_event_source_mapping("a").unwrap());
        assert!(!reopened.delete_event_source_mapping("a").unwrap());
    }
}

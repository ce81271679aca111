//! Log subscription filters in their own SQLite table, next to the function configurations.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection};

use crate::StoreError;

/// One subscription filter of a log group, as PutSubscriptionFilter stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionFilterRecord {
    pub log_group: String,
    pub filter_name: String,
    pub filter_pattern: String,
    pub destination_arn: String,
    pub role_arn: Option<String>,
    /// `ByLogStream` or `Random`.
    pub distribution: String,
    /// Milliseconds since the Unix epoch.
    pub creation_time: i64,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS subscription_filters (
    log_group TEXT NOT NULL,
    filter_name TEXT NOT NULL,
    filter_pattern TEXT NOT NULL,
    destination_arn TEXT NOT NULL,
    role_arn TEXT,
    distribution TEXT NOT NULL,
    creation_time INTEGER NOT NULL,
    PRIMARY KEY (log_group, filter_name)
);
";

/// Subscription filters in a SQLite file, through a connection of their own. Every method
/// blocks on SQLite, so async callers run them with `spawn_blocking`.
pub struct SubscriptionFilterStore {
    connection: Mutex<Connection>,
}

impl SubscriptionFilterStore {
    /// Opens or creates the table in the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self { connection: Mutex::new(crate::sqlite::open_connection(path, SCHEMA)?) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // Every write is one statement, so a panic while holding the lock leaves no
        // half-written state.
        self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Inserts a filter, or replaces the filter of the same log group and name.
    pub fn put(&self, filter: &SubscriptionFilterRecord) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT OR REPLACE INTO subscription_filters \
             (log_group, filter_name, filter_pattern, destination_arn, role_arn, distribution, creation_time) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                filter.log_group,
                filter.filter_name,
                filter.filter_pattern,
                filter.destination_arn,
                filter.role_arn,
                filter.distribution,
                filter.creation_time
            ],
        )?;
        Ok(())
    }

    /// Deletes a filter; returns whether it existed.
    pub fn delete(&self, log_group: &str, filter_name: &str) -> Result<bool, StoreError> {
        let deleted = self.lock().execute(
            "DELETE FROM subscription_filters WHERE log_group = ?1 AND filter_name = ?2",
            params![log_group, filter_name],
        )?;
        Ok(deleted > 0)
    }

    /// Loads every filter, ordered by log group and then filter name.
    pub fn load(&self) -> Result<Vec<SubscriptionFilterRecord>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT log_group, filter_name, filter_pattern, destination_arn, role_arn, distribution, creation_time \
             FROM subscription_filters ORDER BY log_group, filter_name",
        )?;
        let rows = statement.query_map([], |row| {
            Ok(SubscriptionFilterRecord {
                log_group: row.get(0)?,
                filter_name: row.get(1)?,
                filter_pattern: row.get(2)?,
                destination_arn: row.get(3)?,
                role_arn: row.get(4)?,
                distribution: row.get(5)?,
                creation_time: row.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(group: &str, name: &str) -> SubscriptionFilterRecord {
        SubscriptionFilterRecord {
            log_group: group.into(),
            filter_name: name.into(),
            filter_pattern: "ERROR".into(),
            destination_arn: "arn:aws:lambda:us-east-1:000000000000:function:sink".into(),
            role_arn: None,
            distribution: "ByLogStream".into(),
            creation_time: 1,
        }
    }

    #[test]
    fn filters_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let store = SubscriptionFilterStore::open(&path).unwrap();
        store.put(&sample("/aws/lambda/b", "x")).unwrap();
        store.put(&sample("/aws/lambda/a", "y")).unwrap();
        let mut changed = sample("/aws/lambda/b", "x");
        changed.filter_pattern = "WARN".into();
        store.put(&changed).unwrap();
        drop(store);

        let reopened = SubscriptionFilterStore::open(&path).unwrap();
        assert_eq!(reopened.load().unwrap(), vec![sample("/aws/lambda/a", "y"), changed]);
    }

    #[test]
    fn delete_reports_missing_filter() {
        let dir = tempfile::tempdir().unwrap();
        let store = SubscriptionFilterStore::open(&dir.path().join("db")).unwrap();
        store.put(&sample("/aws/lambda/a", "x")).unwrap();
        assert!(store.delete("/aws/lambda/a", "x").unwrap());
        assert!(!store.delete("/aws/lambda/a", "x").unwrap());
    }
}

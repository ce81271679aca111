//! Schedule rules, their targets and the last tick of each rule, in their own tables of the
//! server's SQLite file. This module does not parse expressions or fire rules.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

use crate::StoreError;

/// One stored rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRuleRecord {
    pub name: String,
    pub schedule_expression: String,
    /// `ENABLED` or `DISABLED`.
    pub state: String,
    pub description: Option<String>,
    /// Milliseconds since the epoch of the latest tick that was fired or skipped; ticks up to
    /// it are never fired again.
    pub last_tick_ms: i64,
}

/// One stored target of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleTargetRecord {
    pub id: String,
    pub arn: String,
    pub input: Option<String>,
    pub input_path: Option<String>,
}

/// Rules and targets in a SQLite file that other connections may share.
pub struct ScheduleStore {
    connection: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS schedule_rules (
    name TEXT PRIMARY KEY,
    schedule_expression TEXT NOT NULL,
    state TEXT NOT NULL,
    description TEXT,
    last_tick_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS schedule_targets (
    rule TEXT NOT NULL REFERENCES schedule_rules(name) ON DELETE CASCADE,
    id TEXT NOT NULL,
    arn TEXT NOT NULL,
    input TEXT,
    input_path TEXT,
    PRIMARY KEY (rule, id)
);
";

impl ScheduleStore {
    /// Opens or creates the schedule tables in the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let connection = crate::sqlite::open_connection(path, SCHEMA)?;
        connection
            .execute_batch("PRAGMA foreign_keys = ON;")
            .map_err(|source| StoreError::Open { path: PathBuf::from(path), source })?;
        Ok(Self { connection: Mutex::new(connection) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // Every write is one statement or one transaction, so a panic while holding the lock
        // leaves the connection usable.
        self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Loads every rule with its targets, ordered by rule name and then target id.
    pub fn load(&self) -> Result<Vec<(ScheduleRuleRecord, Vec<ScheduleTargetRecord>)>, StoreError> {
        let connection = self.lock();
        let mut rules = connection.prepare(
            "SELECT name, schedule_expression, state, description, last_tick_ms FROM schedule_rules ORDER BY name",
        )?;
        let mut targets = connection
            .prepare("SELECT id, arn, input, input_path FROM schedule_targets WHERE rule = ?1 ORDER BY id")?;
        let records = rules
            .query_map([], |row| {
                Ok(ScheduleRuleRecord {
                    name: row.get(0)?,
                    schedule_expression: row.get(1)?,
                    state: row.get(2)?,
                    description: row.get(3)?,
                    last_tick_ms: row.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut loaded = Vec::with_capacity(records.len());
        for rule in records {
            let rule_targets = targets
                .query_map([&rule.name], |row| {
                    Ok(ScheduleTargetRecord {
                        id: row.get(0)?,
                        arn: row.get(1)?,
                        input: row.get(2)?,
                        input_path: row.get(3)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            loaded.push((rule, rule_targets));
        }
        Ok(loaded)
    }

    /// Inserts a rule or replaces its fields, keeping its targets.
    pub fn put_rule(&self, rule: &ScheduleRuleRecord) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT INTO schedule_rules (name, schedule_expression, state, description, last_tick_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (name) DO UPDATE SET schedule_expression = ?2, state = ?3, description = ?4,
             last_tick_ms = ?5",
            params![rule.name, rule.schedule_expression, rule.state, rule.description, rule.last_tick_ms],
        )?;
        Ok(())
    }

    /// Records the latest tick of a rule that was fired or skipped.
    pub fn set_last_tick(&self, rule: &str, last_tick_ms: i64) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE schedule_rules SET last_tick_ms = ?2 WHERE name = ?1",
            params![rule, last_tick_ms],
        )?;
        Ok(())
    }

    /// Deletes a rule and its targets. Returns whether the rule existed.
    pub fn delete_rule(&self, rule: &str) -> Result<bool, StoreError> {
        let deleted = self.lock().execute("DELETE FROM schedule_rules WHERE name = ?1", params![rule])?;
        Ok(deleted > 0)
    }

    /// Inserts or replaces targets of a rule in one transaction.
    pub fn put_targets(&self, rule: &str, targets: &[ScheduleTargetRecord]) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        for target in targets {
            transaction.execute(
                "INSERT OR REPLACE INTO schedule_targets (rule, id, arn, input, input_path)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![rule, target.id, target.arn, target.input, target.input_path],
            )?;
        }
        transaction.commit()?;
        Ok(())
    }

    /// Deletes targets of a rule by id in one transaction; unknown ids are ignored.
    pub fn remove_targets(&self, rule: &str, ids: &[String]) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        for id in ids {
            transaction
                .execute("DELETE FROM schedule_targets WHERE rule = ?1 AND id = ?2", params![rule, id])?;
        }
        transaction.commit()?;
        Ok(())
    }

    /// Reads the stored last tick of a rule, if the rule exists.
    pub fn last_tick(&self, rule: &str) -> Result<Option<i64>, StoreError> {
        let tick = self
            .lock()
            .query_row("SELECT last_tick_ms FROM schedule_rules WHERE name = ?1", [rule], |row| row.get(0))
            .optional()?;
        Ok(tick)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(name: &str) -> ScheduleRuleRecord {
        ScheduleRuleRecord {
            name: name.into(),
            schedule_expression: "rate(5 minutes)".into(),
            state: "ENABLED".into(),
            description: None,
            last_tick_ms: 1_000,
        }
    }

    fn target(id: &str) -> ScheduleTargetRecord {
        ScheduleTargetRecord {
            id: id.into(),
            arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
            input: Some("{\"a\":1}".into()),
            input_path: None,
        }
    }

    #[test]
    fn rules_and_targets_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let store = ScheduleStore::open(&path).unwrap();
        store.put_rule(&rule("r")).unwrap();
        store.put_targets("r", &[target("a"), target("b")]).unwrap();
        store.set_last_tick("r", 5_000).unwrap();
        drop(store);

        let reopened = ScheduleStore::open(&path).unwrap();
        let loaded = reopened.load().unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].0.last_tick_ms, 5_000);
        assert_eq!(loaded[0].1, vec![target("a"), target("b")]);
    }

    #[test]
    fn put_rule_keeps_targets_and_delete_removes_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = ScheduleStore::open(&dir.path().join("db")).unwrap();
        store.put_rule(&rule("r")).unwrap();
        store.put_targets("r", &[target("a")]).unwrap();
        let mut changed = rule("r");
        changed.state = "DISABLED".into();
        store.put_rule(&changed).unwrap();
        assert_eq!(store.load().unwrap()[0].1.len(), 1);

        store.remove_targets("r", &["a".into(), "missing".into()]).unwrap();
        assert!(store.load().unwrap()[0].1.is_empty());
        store.put_targets("r", &[target("a")]).unwrap();
        assert!(store.delete_rule("r").unwrap());
        assert!(!store.delete_rule("r").unwrap());
        assert_eq!(store.last_tick("r").unwrap(), None);
        store.put_rule(&rule("r")).unwrap();
        assert!(store.load().unwrap()[0].1.is_empty());
    }
}

//! Durable queue state: queues with their attributes and their messages. The `QueueStore`
//! trait is the boundary that a PostgreSQL implementation will also fill. The queue service
//! keeps its hot-path state in memory and writes every change here first.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection};

use crate::StoreError;

/// A queue as stored: its name, settable attributes (as SQS names them) and timestamps in
/// milliseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredQueue {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub created_ms: i64,
    pub modified_ms: i64,
}

/// A message as stored. `visible_at_ms` is when it may next be received; `attributes` is the
/// message attributes as JSON in the shape of the SQS JSON protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub queue: String,
    pub id: String,
    pub body: String,
    pub attributes: String,
    pub sent_ms: i64,
    pub sender_id: String,
    pub receive_count: u32,
    pub first_receive_ms: Option<i64>,
    pub visible_at_ms: i64,
    /// Order of arrival within the whole store.
    pub sequence: i64,
}

/// The receive state of one message after a receive or a visibility change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiveUpdate {
    pub id: String,
    pub receive_count: u32,
    pub first_receive_ms: Option<i64>,
    pub visible_at_ms: i64,
}

/// Queues and their messages. Every method is blocking: callers on an async runtime run it
/// on a blocking thread.
pub trait QueueStore: Send + Sync {
    /// Inserts or replaces a queue.
    fn put_queue(&self, queue: &StoredQueue) -> Result<(), StoreError>;

    /// Deletes a queue and its messages.
    fn delete_queue(&self, name: &str) -> Result<(), StoreError>;

    /// Loads every queue, ordered by name.
    fn load_queues(&self) -> Result<Vec<StoredQueue>, StoreError>;

    /// Loads every message of every queue, in order of arrival.
    fn load_messages(&self) -> Result<Vec<StoredMessage>, StoreError>;

    /// Inserts messages atomically and returns the sequence number given to each. When a
    /// message's queue no longer exists, nothing is inserted and the result is empty.
    fn insert_messages(&self, messages: &[StoredMessage]) -> Result<Vec<i64>, StoreError>;

    /// Records receives and visibility changes atomically.
    fn update_receives(&self, updates: &[ReceiveUpdate]) -> Result<(), StoreError>;

    /// Moves a message to another queue, resetting its receive state.
    fn move_message(&self, id: &str, queue: &str, visible_at_ms: i64) -> Result<(), StoreError>;

    /// Deletes messages by id.
    fn delete_messages(&self, ids: &[String]) -> Result<(), StoreError>;

    /// Deletes every message of a queue.
    fn purge(&self, queue: &str) -> Result<(), StoreError>;
}

/// Queues in their own SQLite file, in WAL mode with `synchronous = FULL`, so that a message
/// is on disk before its send returns.
pub struct SqliteQueueStore {
    connection: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS queues (
    name TEXT PRIMARY KEY,
    attributes TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    queue TEXT NOT NULL,
    body TEXT NOT NULL,
    attributes TEXT NOT NULL,
    sent_ms INTEGER NOT NULL,
    sender_id TEXT NOT NULL,
    receive_count INTEGER NOT NULL,
    first_receive_ms INTEGER,
    visible_at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_queue ON messages (queue);
";

impl SqliteQueueStore {
    /// Opens or creates the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self { connection: Mutex::new(crate::sqlite::open_connection(path, SCHEMA)?) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // Multi-statement writes run in a transaction that rolls back when dropped, so a
        // panic while holding the lock leaves the connection usable.
        self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn attributes_to_json(attributes: &[(String, String)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> =
        attributes.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
    serde_json::Value::Object(map).to_string()
}

fn attributes_from_json(name: &str, text: &str) -> Result<Vec<(String, String)>, StoreError> {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
        .map_err(|source| StoreError::Corrupt { name: name.to_string(), source })?;
    Ok(map.into_iter().map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string())).collect())
}

impl QueueStore for SqliteQueueStore {
    fn put_queue(&self, queue: &StoredQueue) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT OR REPLACE INTO queues (name, attributes, created_ms, modified_ms) VALUES (?1, ?2, ?3, ?4)",
            params![queue.name, attributes_to_json(&queue.attributes), queue.created_ms, queue.modified_ms],
        )?;
        Ok(())
    }

    fn delete_queue(&self, name: &str) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        transaction.execute("DELETE FROM messages WHERE queue = ?1", params![name])?;
        transaction.execute("DELETE FROM queues WHERE name = ?1", params![name])?;
        transaction.commit()?;
        Ok(())
    }

    fn load_queues(&self) -> Result<Vec<StoredQueue>, StoreError> {
        let connection = self.lock();
        let mut statement = connection
            .prepare("SELECT name, attributes, created_ms, modified_ms FROM queues ORDER BY name")?;
        let rows = statement.query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get(2)?, row.get(3)?))
        })?;
        let mut queues = Vec::new();
        for row in rows {
            let (name, attributes, created_ms, modified_ms) = row?;
            let attributes = attributes_from_json(&name, &attributes)?;
            queues.push(StoredQueue { name, attributes, created_ms, modified_ms });
        }
        Ok(queues)
    }

    fn load_messages(&self) -> Result<Vec<StoredMessage>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT queue, id, body, attributes, sent_ms, sender_id, receive_count, first_receive_ms,
                    visible_at_ms, sequence FROM messages ORDER BY sequence",
        )?;
        let rows = statement.query_map([], |row| {
            Ok(StoredMessage {
                queue: row.get(0)?,
                id: row.get(1)?,
                body: row.get(2)?,
                attributes: row.get(3)?,
                sent_ms: row.get(4)?,
                sender_id: row.get(5)?,
                receive_count: row.get(6)?,
                first_receive_ms: row.get(7)?,
                visible_at_ms: row.get(8)?,
                sequence: row.get(9)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn insert_messages(&self, messages: &[StoredMessage]) -> Result<Vec<i64>, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        // A queue deleted after the send checked it must not keep rows that a queue created
        // later under the same name would load.
        for m in messages {
            let exists: bool = transaction.query_row(
                "SELECT EXISTS (SELECT 1 FROM queues WHERE name = ?1)",
                params![m.queue],
                |row| row.get(0),
            )?;
            if !exists {
                return Ok(Vec::new());
            }
        }
        let mut sequences = Vec::with_capacity(messages.len());
        for m in messages {
            transaction.execute(
                "INSERT INTO messages (id, queue, body, attributes, sent_ms, sender_id, receive_count,
                                       first_receive_ms, visible_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    m.id,
                    m.queue,
                    m.body,
                    m.attributes,
                    m.sent_ms,
                    m.sender_id,
                    m.receive_count,
                    m.first_receive_ms,
                    m.visible_at_ms
                ],
            )?;
            sequences.push(transaction.last_insert_rowid());
        }
        transaction.commit()?;
        Ok(sequences)
    }

    fn update_receives(&self, updates: &[ReceiveUpdate]) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        for u in updates {
            transaction.execute(
                "UPDATE messages SET receive_count = ?2, first_receive_ms = ?3, visible_at_ms = ?4 WHERE id = ?1",
                params![u.id, u.receive_count, u.first_receive_ms, u.visible_at_ms],
            )?;
        }
        transaction.commit()?;
        Ok(())
    }

    fn move_message(&self, id: &str, queue: &str, visible_at_ms: i64) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE messages SET queue = ?2, receive_count = 0, first_receive_ms = NULL, visible_at_ms = ?3
             WHERE id = ?1",
            params![id, queue, visible_at_ms],
        )?;
        Ok(())
    }

    fn delete_messages(&self, ids: &[String]) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        for id in ids {
            transaction.execute("DELETE FROM messages WHERE id = ?1", params![id])?;
        }
        transaction.commit()?;
        Ok(())
    }

    fn purge(&self, queue: &str) -> Result<(), StoreError> {
        self.lock().execute("DELETE FROM messages WHERE queue = ?1", params![queue])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str) -> StoredMessage {
        StoredMessage {
            queue: "q".into(),
            id: id.into(),
            body: "hello".into(),
            attributes: "{}".into(),
            sent_ms: 1,
            sender_id: "000000000000".into(),
            receive_count: 0,
            first_receive_ms: None,
            visible_at_ms: 1,
            sequence: 0,
        }
    }

    #[test]
    fn messages_of_a_deleted_queue_are_not_inserted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queues.db");
        let store = SqliteQueueStore::open(&path).unwrap();
        let queue = StoredQueue { name: "q".into(), attributes: Vec::new(), created_ms: 1, modified_ms: 1 };
        store.put_queue(&queue).unwrap();
        store.delete_queue("q").unwrap();
        assert_eq!(store.insert_messages(&[message("late")]).unwrap(), Vec::<i64>::new());
        store.put_queue(&queue).unwrap();
        assert!(store.load_messages().unwrap().is_empty());
    }

    #[test]
    fn messages_survive_reopening_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queues.db");
        let store = SqliteQueueStore::open(&path).unwrap();
        let queue = StoredQueue {
            name: "q".into(),
            attributes: vec![("VisibilityTimeout".into(), "5".into())],
            created_ms: 1,
            modified_ms: 2,
        };
        store.put_queue(&queue).unwrap();
        store.insert_messages(&[message("a"), message("b")]).unwrap();
        let update =
            ReceiveUpdate { id: "a".into(), receive_count: 1, first_receive_ms: Some(5), visible_at_ms: 10 };
        store.update_receives(&[update]).unwrap();
        store.delete_messages(&["b".to_string()]).unwrap();
        drop(store);

        let store = SqliteQueueStore::open(&path).unwrap();
        assert_eq!(store.load_queues().unwrap(), vec![queue]);
        let messages = store.load_messages().unwrap();
        assert_eq!(messages.len(), 1);
        assert_eq!((messages[0].receive_count, messages[0].visible_at_ms), (1, 10));
    }

    #[test]
    fn deleting_a_queue_deletes_its_messages() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteQueueStore::open(&dir.path().join("queues.db")).unwrap();
        let queue = StoredQueue { name: "q".into(), attributes: Vec::new(), created_ms: 1, modified_ms: 1 };
        store.put_queue(&queue).unwrap();
        store.insert_messages(&[message("a")]).unwrap();
        assert_eq!(store.load_messages().unwrap().len(), 1);
        store.delete_queue("q").unwrap();
        assert!(store.load_messages().unwrap().is_empty());
    }
}

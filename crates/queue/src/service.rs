//! `QueueService`: the operations of SQS on queues kept in memory and written through to a
//! `QueueStore` before each operation returns.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use flicker_store::{QueueStore, ReceiveUpdate, SqliteQueueStore, StoreError, StoredMessage, StoredQueue};

use crate::attributes::{self, FIFO_UNSUPPORTED};
use crate::message::{self, MessageAttributes};
use crate::receipt;
use crate::state::{Message, Queue};
use crate::QueueError;

/// The file of the queue database inside the data directory.
pub const DATABASE_FILE: &str = "queues.db";

/// The largest visibility timeout, in seconds (12 hours).
pub const MAX_VISIBILITY_TIMEOUT: u32 = 43_200;

/// The maximum time a receive waits for a message, in seconds.
pub const MAX_WAIT_SECONDS: u32 = 20;

/// The largest per-message delay, in seconds.
pub const MAX_DELAY_SECONDS: u32 = 900;

/// The maximum number of messages one receive returns.
pub const MAX_RECEIVE_MESSAGES: u32 = 10;

/// A message to send.
#[derive(Debug, Clone, Default)]
pub struct NewMessage {
    pub body: String,
    pub attributes: MessageAttributes,
    /// Seconds before the message becomes visible; `None` uses the queue's DelaySeconds.
    pub delay_seconds: Option<u32>,
}

/// The result of one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    pub message_id: String,
    pub md5_of_body: String,
    pub md5_of_message_attributes: Option<String>,
}

/// A message as one receive returns it. `attributes` contains every system attribute
/// (SenderId, SentTimestamp, ApproximateReceiveCount, ApproximateFirstReceiveTimestamp) and
/// `message_attributes` every message attribute; callers keep the ones a request names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    pub md5_of_body: String,
    pub attributes: BTreeMap<String, String>,
    pub message_attributes: MessageAttributes,
    pub md5_of_message_attributes: Option<String>,
}

/// The queues of one server. Cloning is cheap and shares the queues.
#[derive(Clone)]
pub struct QueueService {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    store: Arc<dyn QueueStore>,
    queues: Mutex<BTreeMap<String, Queue>>,
    region: String,
    account: String,
    /// Set to true when the server stops, which ends every long poll.
    pub(crate) stopping: tokio::sync::watch::Sender<bool>,
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

impl QueueService {
    /// Opens the queues stored in `data_dir/queues.db`, creating the file if needed.
    /// `region` and `account` make queue ARNs.
    pub async fn open(data_dir: &Path, region: &str, account: &str) -> Result<QueueService, QueueError> {
        let path = data_dir.join(DATABASE_FILE);
        let store = tokio::task::spawn_blocking(move || SqliteQueueStore::open(&path))
            .await
            .map_err(|err| QueueError::Task(err.to_string()))??;
        QueueService::with_store(Arc::new(store), region, account).await
    }

    /// Loads the queues and messages of `store`.
    pub async fn with_store(
        store: Arc<dyn QueueStore>,
        region: &str,
        account: &str,
    ) -> Result<QueueService, QueueError> {
        let loader = store.clone();
        let (stored_queues, stored_messages) =
            run_blocking(move || Ok((loader.load_queues()?, loader.load_messages()?))).await?;
        let mut queues = BTreeMap::new();
        for q in stored_queues {
            let attributes = q.attributes.into_iter().collect();
            queues.insert(q.name.clone(), Queue::new(q.name, attributes, q.created_ms, q.modified_ms));
        }
        let count = stored_messages.len();
        for stored in stored_messages {
            if let Some(queue) = queues.get_mut(&stored.queue) {
                queue.insert(message_from_store(stored));
            }
        }
        tracing::info!(queues = queues.len(), messages = count, "loaded queues");
        let inner = Inner {
            store,
            queues: Mutex::new(queues),
            region: region.to_string(),
            account: account.to_string(),
            stopping: tokio::sync::watch::Sender::new(false),
        };
        let service = QueueService { inner: Arc::new(inner) };
        service.start_retention();
        Ok(service)
    }

    /// Ends the long polls waiting now and those that start later: each returns the
    /// messages it has, so that a stopping server need not wait up to 20 s for them.
    pub fn shutdown(&self) {
        self.inner.stopping.send_replace(true);
    }

    /// Returns the account id in queue ARNs and URLs.
    pub fn account(&self) -> &str {
        &self.inner.account
    }

    /// Returns the ARN of queue `name`.
    pub fn arn(&self, name: &str) -> String {
        format!("arn:aws:sqs:{}:{}:{name}", self.inner.region, self.inner.account)
    }

    /// Resolves a queue reference to a queue name. A reference is an ARN, a URL
    /// (`http://HOST/ACCOUNT/NAME` with any host) or a bare name. The queue need not exist.
    pub fn queue_name(&self, reference: &str) -> Result<String, QueueError> {
        let missing = || QueueError::NonExistentQueue(reference.to_string());
        if let Some(rest) = reference.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.split(':').collect();
            return match parts[..] {
                [_, "sqs", region, account, name]
                    if region == self.inner.region && account == self.inner.account =>
                {
                    Ok(name.to_string())
                }
                _ => Err(missing()),
            };
        }
        if reference.contains('/') {
            let path = reference.split_once("://").map_or(reference, |(_, rest)| rest);
            let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
            return match segments[..] {
                [.., account, name] if account == self.inner.account => Ok(name.to_string()),
                _ => Err(missing()),
            };
        }
        Ok(reference.to_string())
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Queue>> {
        // Every change to the map completes before the guard drops, so a poisoned map is whole.
        self.inner.queues.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `work` on the store on a blocking thread.
    pub(crate) async fn store<T: Send + 'static>(
        &self,
        work: impl FnOnce(&dyn QueueStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, QueueError> {
        let store = self.inner.store.clone();
        run_blocking(move || work(store.as_ref())).await
    }

    /// Resolves a reference to the name of an existing queue.
    pub(crate) fn existing(&self, reference: &str) -> Result<String, QueueError> {
        let name = self.queue_name(reference)?;
        if self.lock().contains_key(&name) {
            Ok(name)
        } else {
            Err(QueueError::NonExistentQueue(reference.to_string()))
        }
    }

    /// Reports whether the queue with ARN `arn` exists.
    pub fn queue_exists_by_arn(&self, arn: &str) -> bool {
        arn.starts_with("arn:") && self.existing(arn).is_ok()
    }

    /// Returns the default visibility timeout of a queue, in seconds.
    pub fn visibility_timeout(&self, queue: &str) -> Result<u32, QueueError> {
        let name = self.queue_name(queue)?;
        let queues = self.lock();
        let queue = queues.get(&name).ok_or_else(|| QueueError::NonExistentQueue(queue.to_string()))?;
        Ok(queue.settings.visibility_timeout)
    }

    /// Creates a standard queue, or returns the existing one if every attribute given has
    /// the value the queue already has. Returns the queue's name.
    pub async fn create_queue(
        &self,
        name: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<String, QueueError> {
        validate_queue_name(name)?;
        let given = attributes::validate(attributes)?;
        if let Some(existing) = self.lock().get(name) {
            return compare_attributes(existing, &given).map(|()| name.to_string());
        }
        let mut all = attributes::defaults();
        all.extend(given.clone());
        all.retain(|_, value| !value.is_empty());
        self.check_redrive(&all)?;
        let now = now_ms();
        let stored = StoredQueue {
            name: name.to_string(),
            attributes: all.clone().into_iter().collect(),
            created_ms: now,
            modified_ms: now,
        };
        {
            // A concurrent create of the same name may have won; its queue stays.
            let queues = self.lock();
            if let Some(existing) = queues.get(name) {
                return compare_attributes(existing, &given).map(|()| name.to_string());
            }
        }
        self.store(move |store| store.put_queue(&stored)).await?;
        let mut queues = self.lock();
        queues.entry(name.to_string()).or_insert_with(|| Queue::new(name.to_string(), all, now, now));
        tracing::info!(queue = name, "created queue");
        Ok(name.to_string())
    }

    fn check_redrive(&self, attributes: &BTreeMap<String, String>) -> Result<(), QueueError> {
        let Some(value) = attributes.get("RedrivePolicy") else {
            return Ok(());
        };
        let policy = attributes::parse_redrive(value)?;
        if self.queue_exists_by_arn(&policy.dead_letter_target_arn) {
            Ok(())
        } else {
            Err(QueueError::InvalidParameterValue(format!(
                "Value {value} for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist."
            )))
        }
    }

    /// Lists the names of the queues that start with `prefix`, in name order.
    pub fn list_queues(&self, prefix: Option<&str>) -> Vec<String> {
        let prefix = prefix.unwrap_or_default();
        self.lock().keys().filter(|name| name.starts_with(prefix)).cloned().collect()
    }

    /// Deletes a queue and its messages.
    pub async fn delete_queue(&self, queue: &str) -> Result<(), QueueError> {
        let name = self.existing(queue)?;
        let stored_name = name.clone();
        self.store(move |store| store.delete_queue(&stored_name)).await?;
        if let Some(removed) = self.lock().remove(&name) {
            removed.notify.notify_waiters();
        }
        tracing::info!(queue = %name, "deleted queue");
        Ok(())
    }

    /// Returns the named attributes of a queue, or all of them for `All`. Unknown names fail
    /// with `InvalidAttributeName`.
    pub fn get_attributes(
        &self,
        queue: &str,
        names: &[String],
    ) -> Result<BTreeMap<String, String>, QueueError> {
        if let Some(unknown) = names.iter().find(|name| !attributes::is_known(name)) {
            return Err(QueueError::InvalidAttributeName(unknown.clone()));
        }
        let name = self.queue_name(queue)?;
        let queues = self.lock();
        let q = queues.get(&name).ok_or_else(|| QueueError::NonExistentQueue(queue.to_string()))?;
        let mut all = q.attributes.clone();
        let counts = q.counts(now_ms());
        all.insert("QueueArn".into(), self.arn(&name));
        all.insert("ApproximateNumberOfMessages".into(), counts.visible.to_string());
        all.insert("ApproximateNumberOfMessagesNotVisible".into(), counts.in_flight.to_string());
        all.insert("ApproximateNumberOfMessagesDelayed".into(), counts.delayed.to_string());
        all.insert("CreatedTimestamp".into(), (q.created_ms / 1000).to_string());
        all.insert("LastModifiedTimestamp".into(), (q.modified_ms / 1000).to_string());
        if !names.iter().any(|n| n == "All") {
            all.retain(|key, _| names.contains(key));
        }
        Ok(all)
    }

    /// Sets attributes of a queue. An empty `RedrivePolicy` or `Policy` removes it.
    pub async fn set_attributes(
        &self,
        queue: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), QueueError> {
        let given = attributes::validate(attributes)?;
        let name = self.existing(queue)?;
        let mut all = self.lock().get(&name).map(|q| q.attributes.clone()).unwrap_or_default();
        all.extend(given);
        all.retain(|_, value| !value.is_empty());
        self.check_redrive(&all)?;
        let now = now_ms();
        let created_ms = self.lock().get(&name).map_or(now, |q| q.created_ms);
        let stored = StoredQueue {
            name: name.clone(),
            attributes: all.clone().into_iter().collect(),
            created_ms,
            modified_ms: now,
        };
        self.store(move |store| store.put_queue(&stored)).await?;
        if let Some(q) = self.lock().get_mut(&name) {
            q.set_attributes(all, now);
            q.notify.notify_waiters();
        }
        Ok(())
    }

    /// Deletes every message of a queue.
    pub async fn purge(&self, queue: &str) -> Result<(), QueueError> {
        let name = self.existing(queue)?;
        // Only the messages in memory now are deleted from the store: a send that has written
        // its rows but not yet added them here keeps its message in both places.
        let ids = match self.lock().get_mut(&name) {
            Some(q) => q.clear(),
            None => return Err(QueueError::NonExistentQueue(queue.to_string())),
        };
        if !ids.is_empty() {
            self.store(move |store| store.delete_messages(&ids)).await?;
        }
        Ok(())
    }

    /// Sends one message and returns its id.
    pub async fn send_message(
        &self,
        queue: &str,
        body: String,
        attributes: MessageAttributes,
    ) -> Result<String, QueueError> {
        let message = NewMessage { body, attributes, delay_seconds: None };
        let mut results = self.send(queue, vec![message]).await?;
        results
            .pop()
            .unwrap_or_else(|| Err(QueueError::Task("a send returned no result".into())))
            .map(|sent| sent.message_id)
    }

    /// Sends messages; each valid one is on disk before this returns. The outer error is
    /// about the queue, the inner ones about single messages, in the order given.
    pub async fn send(
        &self,
        queue: &str,
        messages: Vec<NewMessage>,
    ) -> Result<Vec<Result<SentMessage, QueueError>>, QueueError> {
        let name = self.existing(queue)?;
        let settings = self.lock().get(&name).map(|q| q.settings.clone());
        let Some(settings) = settings else {
            return Err(QueueError::NonExistentQueue(queue.to_string()));
        };
        let now = now_ms();
        let mut results = Vec::with_capacity(messages.len());
        let mut accepted = Vec::new();
        for new in messages {
            match self.prepare(&settings, new, now) {
                Ok(message) => {
                    results.push(Ok(SentMessage {
                        message_id: message.id.clone(),
                        md5_of_body: message.md5_of_body.clone(),
                        md5_of_message_attributes: message.md5_of_attributes.clone(),
                    }));
                    accepted.push(message);
                }
                Err(err) => results.push(Err(err)),
            }
        }
        if accepted.is_empty() {
            return Ok(results);
        }
        let stored: Vec<StoredMessage> = accepted.iter().map(|m| message_to_store(&name, m)).collect();
        let sequences = self.store(move |store| store.insert_messages(&stored)).await?;
        if sequences.is_empty() {
            return Err(QueueError::NonExistentQueue(queue.to_string()));
        }
        let mut queues = self.lock();
        let Some(q) = queues.get_mut(&name) else {
            return Err(QueueError::NonExistentQueue(queue.to_string()));
        };
        for (mut message, sequence) in accepted.into_iter().zip(sequences) {
            message.sequence = sequence;
            q.insert(message);
        }
        q.notify.notify_waiters();
        Ok(results)
    }

    fn prepare(
        &self,
        settings: &attributes::QueueSettings,
        new: NewMessage,
        now: i64,
    ) -> Result<Message, QueueError> {
        message::validate_body(&new.body)?;
        let size = new.body.len() + message::validate_attributes(&new.attributes)?;
        if size > settings.maximum_message_size as usize {
            return Err(QueueError::InvalidParameterValue(format!(
                "One or more parameters are invalid. Reason: Message must be shorter than {} bytes.",
                settings.maximum_message_size
            )));
        }
        let delay = new.delay_seconds.unwrap_or(settings.delay_seconds);
        if delay > MAX_DELAY_SECONDS {
            return Err(QueueError::InvalidParameterValue(format!(
                "Value {delay} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= {MAX_DELAY_SECONDS}."
            )));
        }
        Ok(Message {
            id: uuid::Uuid::new_v4().to_string(),
            md5_of_body: message::md5_of_body(&new.body),
            md5_of_attributes: message::md5_of_message_attributes(&new.attributes),
            body: new.body,
            attributes: new.attributes,
            sent_ms: now,
            sender_id: self.inner.account.clone(),
            receive_count: 0,
            first_receive_ms: None,
            visible_at_ms: now + i64::from(delay) * 1000,
            sequence: 0,
        })
    }

    /// Deletes the message of a receipt handle. A message deleted already is no error.
    pub async fn delete(&self, queue: &str, receipt_handle: &str) -> Result<(), QueueError> {
        let name = self.existing(queue)?;
        let id = receipt::decode(&name, receipt_handle)?.id;
        let removed = self.lock().get_mut(&name).and_then(|q| q.remove(&id)).is_some();
        if removed {
            self.store(move |store| store.delete_messages(&[id])).await?;
        }
        Ok(())
    }

    /// Makes an in-flight message visible again after `seconds` from now.
    pub async fn change_visibility(
        &self,
        queue: &str,
        receipt_handle: &str,
        seconds: u32,
    ) -> Result<(), QueueError> {
        if seconds > MAX_VISIBILITY_TIMEOUT {
            return Err(QueueError::InvalidParameterValue(format!(
                "Value {seconds} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and {MAX_VISIBILITY_TIMEOUT}."
            )));
        }
        let name = self.existing(queue)?;
        let receipt = receipt::decode(&name, receipt_handle)?;
        let id = receipt.id;
        let now = now_ms();
        let update = {
            let mut queues = self.lock();
            let q = queues.get_mut(&name).ok_or_else(|| QueueError::NonExistentQueue(queue.to_string()))?;
            // Only the handle of the latest receive counts: an earlier receiver's timeout ran out.
            let in_flight = q.get(&id).is_some_and(|m| {
                m.receive_count > 0
                    && m.visible_at_ms > now
                    && receipt.receive_count.is_none_or(|count| count == m.receive_count)
            });
            if !in_flight {
                return Err(QueueError::MessageNotInflight(receipt_handle.to_string()));
            }
            let m = q.reschedule(&id, |m| m.visible_at_ms = now + i64::from(seconds) * 1000);
            let update = m.map(|m| ReceiveUpdate {
                id: m.id.clone(),
                receive_count: m.receive_count,
                first_receive_ms: m.first_receive_ms,
                visible_at_ms: m.visible_at_ms,
            });
            q.notify.notify_waiters();
            update
        };
        if let Some(update) = update {
            self.store(move |store| store.update_receives(&[update])).await?;
        }
        Ok(())
    }
}

/// Runs blocking store work off the async worker threads.
async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, QueueError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| QueueError::Task(err.to_string()))?
        .map_err(Into::into)
}

/// Checks a queue name: 1 to 80 characters of `[A-Za-z0-9_-]`.
fn validate_queue_name(name: &str) -> Result<(), QueueError> {
    if name.ends_with(".fifo") {
        return Err(QueueError::InvalidParameterValue(FIFO_UNSUPPORTED.into()));
    }
    let valid = (1..=80).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(QueueError::InvalidParameterValue(format!(
            "Value {name} for parameter QueueName is invalid. Reason: Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length."
        )))
    }
}

/// Fails with `QueueAlreadyExists` naming the first given attribute whose value differs.
fn compare_attributes(existing: &Queue, given: &BTreeMap<String, String>) -> Result<(), QueueError> {
    let defaults = attributes::defaults();
    for (key, value) in given {
        let current = existing.attributes.get(key).or_else(|| defaults.get(key)).map_or("", String::as_str);
        if current != value {
            return Err(QueueError::QueueAlreadyExists {
                name: existing.name.clone(),
                attribute: key.clone(),
            });
        }
    }
    Ok(())
}

fn message_to_store(queue: &str, m: &Message) -> StoredMessage {
    StoredMessage {
        queue: queue.to_string(),
        id: m.id.clone(),
        body: m.body.clone(),
        attributes: serde_json::to_string(&m.attributes).unwrap_or_else(|_| "{}".into()),
        sent_ms: m.sent_ms,
        sender_id: m.sender_id.clone(),
        receive_count: m.receive_count,
        first_receive_ms: m.first_receive_ms,
        visible_at_ms: m.visible_at_ms,
        sequence: m.sequence,
    }
}

fn message_from_store(stored: StoredMessage) -> Message {
    let attributes: MessageAttributes = serde_json::from_str(&stored.attributes).unwrap_or_else(|err| {
        tracing::warn!(message = %stored.id, error = %err, "stored message attributes are corrupt");
        MessageAttributes::new()
    });
    Message {
        md5_of_body: message::md5_of_body(&stored.body),
        md5_of_attributes: message::md5_of_message_attributes(&attributes),
        id: stored.id,
        body: stored.body,
        attributes,
        sent_ms: stored.sent_ms,
        sender_id: stored.sender_id,
        receive_count: stored.receive_count,
        first_receive_ms: stored.first_receive_ms,
        visible_at_ms: stored.visible_at_ms,
        sequence: stored.sequence,
    }
}

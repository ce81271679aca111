//! ReceiveMessage: taking due messages, redrive to the dead-letter queue, retention and
//! long polling that waits on the queue's `Notify` instead of polling.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use flicker_store::ReceiveUpdate;
use tokio::sync::Notify;

use crate::receipt;
use crate::service::{now_ms, MAX_RECEIVE_MESSAGES, MAX_VISIBILITY_TIMEOUT, MAX_WAIT_SECONDS};
use crate::state::Message;
use crate::{QueueError, QueueService, ReceivedMessage};

/// The messages one pass over a queue took, and the changes to write to the store.
#[derive(Default)]
struct Taken {
    messages: Vec<ReceivedMessage>,
    updates: Vec<ReceiveUpdate>,
    moves: Vec<(String, String, i64)>,
    expired: Vec<String>,
    next_visible_ms: Option<i64>,
    notify: Option<Arc<Notify>>,
}

impl QueueService {
    /// Receives up to `max` messages (1 to 10), hiding them for `visibility_timeout` seconds
    /// (the queue's default when `None`). When none is visible, waits up to `wait` (the
    /// queue's ReceiveMessageWaitTimeSeconds when `None`) for one to arrive or become visible.
    pub async fn receive(
        &self,
        queue: &str,
        max: u32,
        visibility_timeout: Option<u32>,
        wait: Option<Duration>,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        check_receive_limits(max, visibility_timeout, wait)?;
        let name = self.existing(queue)?;
        let default_wait = self.lock().get(&name).map_or(0, |q| q.settings.wait_seconds);
        let wait = wait.unwrap_or(Duration::from_secs(u64::from(default_wait)));
        let deadline = tokio::time::Instant::now() + wait;
        let mut stopping = self.inner.stopping.subscribe();
        loop {
            let notify = self
                .lock()
                .get(&name)
                .map(|q| q.notify.clone())
                .ok_or_else(|| QueueError::NonExistentQueue(queue.to_string()))?;
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let taken = self.take(&name, queue, max as usize, visibility_timeout)?;
            let next_visible_ms = taken.next_visible_ms;
            let messages = self.record(taken).await?;
            let now = tokio::time::Instant::now();
            if !messages.is_empty() || now >= deadline || *stopping.borrow_and_update() {
                return Ok(messages);
            }
            let until_visible = next_visible_ms
                .map(|at| now + Duration::from_millis((at - now_ms()).max(1) as u64))
                .unwrap_or(deadline);
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep_until(until_visible.min(deadline)) => {}
                _ = stopping.changed() => {}
            }
        }
    }

    /// Takes due messages of queue `name` in memory: expires old ones, moves those past
    /// the redrive limit to the dead-letter queue and hides the rest.
    fn take(
        &self,
        name: &str,
        reference: &str,
        max: usize,
        visibility_timeout: Option<u32>,
    ) -> Result<Taken, QueueError> {
        let now = now_ms();
        let mut queues = self.lock();
        let settings = match queues.get(name) {
            Some(q) => q.settings.clone(),
            None => return Err(QueueError::NonExistentQueue(reference.to_string())),
        };
        let hide_ms = i64::from(visibility_timeout.unwrap_or(settings.visibility_timeout)) * 1000;
        let retention_ms = i64::from(settings.retention_seconds) * 1000;
        let redrive = settings.redrive.as_ref().and_then(|policy| {
            let dlq = self.queue_name(&policy.dead_letter_target_arn).ok()?;
            (dlq != name && queues.contains_key(&dlq)).then_some((dlq, policy.max_receive_count))
        });
        let mut taken = Taken::default();
        while taken.messages.len() < max {
            let Some(q) = queues.get_mut(name) else { break };
            let Some(id) = q.next_due(now) else { break };
            let Some(current) = q.get(&id) else { break };
            // The retention task deletes the other expired messages every 30 s.
            if current.sent_ms + retention_ms <= now {
                q.remove(&id);
                taken.expired.push(id);
                continue;
            }
            if let Some((dlq, limit)) = &redrive {
                if current.receive_count >= *limit {
                    let Some(mut moved) = q.remove(&id) else { break };
                    moved.receive_count = 0;
                    moved.first_receive_ms = None;
                    moved.visible_at_ms = now;
                    if let Some(target) = queues.get_mut(dlq) {
                        taken.notify = Some(target.notify.clone());
                        target.insert(moved);
                    }
                    taken.moves.push((id, dlq.clone(), now));
                    continue;
                }
            }
            let Some(m) = q.reschedule(&id, |m| {
                m.receive_count += 1;
                m.first_receive_ms.get_or_insert(now);
                m.visible_at_ms = now + hide_ms;
            }) else {
                break;
            };
            taken.updates.push(ReceiveUpdate {
                id: m.id.clone(),
                receive_count: m.receive_count,
                first_receive_ms: m.first_receive_ms,
                visible_at_ms: m.visible_at_ms,
            });
            taken.messages.push(received(name, m));
        }
        taken.next_visible_ms = queues.get(name).and_then(|q| q.next_visible_after(now));
        Ok(taken)
    }

    /// Writes what a receive changed to the store and returns the messages it took.
    async fn record(&self, taken: Taken) -> Result<Vec<ReceivedMessage>, QueueError> {
        let Taken { messages, updates, moves, expired, notify, .. } = taken;
        if updates.is_empty() && moves.is_empty() && expired.is_empty() {
            return Ok(messages);
        }
        self.store(move |store| {
            for (id, queue, visible_at_ms) in &moves {
                store.move_message(id, queue, *visible_at_ms)?;
            }
            if !expired.is_empty() {
                store.delete_messages(&expired)?;
            }
            store.update_receives(&updates)
        })
        .await?;
        if let Some(notify) = notify {
            notify.notify_waiters();
        }
        Ok(messages)
    }
}

fn check_receive_limits(
    max: u32,
    visibility_timeout: Option<u32>,
    wait: Option<Duration>,
) -> Result<(), QueueError> {
    if !(1..=MAX_RECEIVE_MESSAGES).contains(&max) {
        return Err(QueueError::InvalidParameterValue(format!(
            "Value {max} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and {MAX_RECEIVE_MESSAGES}, if provided."
        )));
    }
    if let Some(seconds) = visibility_timeout.filter(|s| *s > MAX_VISIBILITY_TIMEOUT) {
        return Err(QueueError::InvalidParameterValue(format!(
            "Value {seconds} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and {MAX_VISIBILITY_TIMEOUT}, if provided."
        )));
    }
    if let Some(wait) = wait.filter(|w| *w > Duration::from_secs(u64::from(MAX_WAIT_SECONDS))) {
        return Err(QueueError::InvalidParameterValue(format!(
            "Value {} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= {MAX_WAIT_SECONDS}, if provided.",
            wait.as_secs()
        )));
    }
    Ok(())
}

fn received(queue: &str, m: &Message) -> ReceivedMessage {
    let mut attributes = BTreeMap::from([
        ("SenderId".to_string(), m.sender_id.clone()),
        ("SentTimestamp".to_string(), m.sent_ms.to_string()),
        ("ApproximateReceiveCount".to_string(), m.receive_count.to_string()),
    ]);
    if let Some(first) = m.first_receive_ms {
        attributes.insert("ApproximateFirstReceiveTimestamp".into(), first.to_string());
    }
    ReceivedMessage {
        message_id: m.id.clone(),
        receipt_handle: receipt::encode(queue, &m.id, m.receive_count),
        body: m.body.clone(),
        md5_of_body: m.md5_of_body.clone(),
        attributes,
        message_attributes: m.attributes.clone(),
        md5_of_message_attributes: m.md5_of_attributes.clone(),
    }
}

//! Retention: a background task deletes messages older than their queue's
//! MessageRetentionPeriod, so that they leave the depth counts even without a receive.

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::service::{now_ms, Inner};
use crate::{QueueError, QueueService};

/// How often expired messages are deleted. The shortest retention period SQS allows is 60 s.
const SWEEP_INTERVAL: Duration = Duration::from_secs(30);

impl QueueService {
    /// Starts the task that deletes expired messages. It ends when the last clone of the
    /// service is dropped.
    pub(crate) fn start_retention(&self) {
        let service: Weak<Inner> = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(SWEEP_INTERVAL);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let Some(inner) = service.upgrade() else { break };
                if let Err(err) = (QueueService { inner }).delete_expired().await {
                    tracing::warn!(error = %err, "deleting expired messages failed");
                }
            }
        });
    }

    /// Deletes every message past its queue's retention period and returns how many.
    pub(crate) async fn delete_expired(&self) -> Result<usize, QueueError> {
        let now = now_ms();
        let expired: Vec<String> = self
            .lock()
            .values_mut()
            .flat_map(|queue| {
                let retention_ms = i64::from(queue.settings.retention_seconds) * 1000;
                queue.remove_sent_before(now - retention_ms)
            })
            .collect();
        let count = expired.len();
        if count > 0 {
            self.store(move |store| store.delete_messages(&expired)).await?;
            tracing::info!(messages = count, "deleted messages past their retention period");
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::MessageAttributes;

    #[tokio::test]
    async fn expired_messages_are_deleted_without_a_receive() {
        let dir = tempfile::tempdir().unwrap();
        let queues = QueueService::open(dir.path(), "us-east-1", "000000000000").await.unwrap();
        let retention = BTreeMap::from([("MessageRetentionPeriod".to_string(), "60".to_string())]);
        queues.create_queue("q", &retention).await.unwrap();
        let id = queues.send_message("q", "old".into(), MessageAttributes::new()).await.unwrap();
        assert_eq!(queues.delete_expired().await.unwrap(), 0);

        if let Some(queue) = queues.lock().get_mut("q") {
            queue.reschedule(&id, |message| message.sent_ms = 0);
        }
        assert_eq!(queues.delete_expired().await.unwrap(), 1);
        assert_eq!(queues.depths()[0].1.visible, 0);
        drop(queues);

        let reopened = QueueService::open(dir.path(), "us-east-1", "000000000000").await.unwrap();
        assert_eq!(reopened.depths()[0].1.visible, 0);
    }
}

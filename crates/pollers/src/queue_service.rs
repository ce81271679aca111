//! [`QueueSource`] for the built-in queue service, called directly rather than over HTTP.

use std::time::Duration;

use flicker_queue::QueueService;

use crate::source::{BoxFuture, MessageAttribute, QueueSource, ReceivedMessage, SourceError};

/// System attributes in the order an SQS event lists them.
const ATTRIBUTE_ORDER: [&str; 4] =
    ["ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"];

fn source_error(operation: &'static str, queue_arn: &str, err: flicker_queue::QueueError) -> SourceError {
    SourceError { operation, queue_arn: queue_arn.to_string(), message: err.to_string() }
}

fn convert(message: flicker_queue::ReceivedMessage) -> ReceivedMessage {
    let mut system = message.attributes;
    let mut attributes: Vec<(String, String)> =
        ATTRIBUTE_ORDER.iter().filter_map(|name| system.remove_entry(*name)).collect();
    attributes.extend(system);
    let message_attributes = message
        .message_attributes
        .into_iter()
        .map(|(name, value)| {
            let attribute = MessageAttribute {
                data_type: value.data_type,
                string_value: value.string_value,
                binary_value: value.binary_value,
            };
            (name, attribute)
        })
        .collect();
    ReceivedMessage {
        message_id: message.message_id,
        receipt_handle: message.receipt_handle,
        body: message.body,
        md5_of_body: message.md5_of_body,
        md5_of_message_attributes: message.md5_of_message_attributes,
        attributes,
        message_attributes,
    }
}

impl QueueSource for QueueService {
    fn queue_exists(&self, queue_arn: &str) -> bool {
        self.queue_exists_by_arn(queue_arn)
    }

    fn visibility_timeout(&self, queue_arn: &str) -> Option<Duration> {
        QueueService::visibility_timeout(self, queue_arn).ok().map(|s| Duration::from_secs(s.into()))
    }

    fn receive<'a>(
        &'a self,
        queue_arn: &'a str,
        max: usize,
        wait: Duration,
    ) -> BoxFuture<'a, Result<Vec<ReceivedMessage>, SourceError>> {
        Box::pin(async move {
            let max = max.clamp(1, 10) as u32;
            let messages = QueueService::receive(self, queue_arn, max, None, Some(wait))
                .await
                .map_err(|err| source_error("ReceiveMessage", queue_arn, err))?;
            Ok(messages.into_iter().map(convert).collect())
        })
    }

    fn delete<'a>(
        &'a self,
        queue_arn: &'a str,
        receipt_handle: &'a str,
    ) -> BoxFuture<'a, Result<(), SourceError>> {
        Box::pin(async move {
            QueueService::delete(self, queue_arn, receipt_handle)
                .await
                .map_err(|err| source_error("DeleteMessage", queue_arn, err))
        })
    }
}

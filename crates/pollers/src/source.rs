//! The queue operations a poller needs: long-polling receive, delete, the visibility timeout
//! and a check that a queue exists. The built-in queue service implements them.
//! Failed messages are never sent back explicitly: they become visible again when their
//! visibility timeout ends, and the queue applies its own redrive policy.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A boxed future, so that the trait can be used as `dyn QueueSource`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A failed queue operation, with the queue's own message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} on queue {queue_arn} failed: {message}")]
pub struct SourceError {
    pub operation: &'static str,
    pub queue_arn: String,
    pub message: String,
}

/// One message attribute: `DataType` with a string or a binary value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAttribute {
    pub data_type: String,
    pub string_value: Option<String>,
    pub binary_value: Option<Vec<u8>>,
}

/// A received message with its receipt handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    /// Hex MD5 digest of the body.
    pub md5_of_body: String,
    /// Hex MD5 digest of the message attributes, `None` when there are none.
    pub md5_of_message_attributes: Option<String>,
    /// System attributes in the order the event lists them: `ApproximateReceiveCount`,
    /// `SentTimestamp`, `SenderId`, `ApproximateFirstReceiveTimestamp`, then any others.
    pub attributes: Vec<(String, String)>,
    /// Message attributes by name.
    pub message_attributes: Vec<(String, MessageAttribute)>,
}

/// The queue operations a poller uses; queues are named by ARN.
pub trait QueueSource: Send + Sync + 'static {
    /// Returns whether a queue with this ARN exists.
    fn queue_exists(&self, queue_arn: &str) -> bool;

    /// Returns the queue's default visibility timeout, or `None` when the queue does not exist.
    fn visibility_timeout(&self, queue_arn: &str) -> Option<Duration>;

    /// Receives up to `max` messages (at most 10), waiting up to `wait` for the first one.
    /// The messages stay invisible for the queue's visibility timeout.
    fn receive<'a>(
        &'a self,
        queue_arn: &'a str,
        max: usize,
        wait: Duration,
    ) -> BoxFuture<'a, Result<Vec<ReceivedMessage>, SourceError>>;

    /// Deletes a received message by its receipt handle.
    fn delete<'a>(
        &'a self,
        queue_arn: &'a str,
        receipt_handle: &'a str,
    ) -> BoxFuture<'a, Result<(), SourceError>>;
}

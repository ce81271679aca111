//! Durable queues with the semantics of Amazon SQS standard queues: visibility timeouts,
//! receive counts, redrive to a dead-letter queue, retention, delays and long polling. State
//! lives in memory and in a `QueueStore`. This crate speaks no HTTP, because the api crate
//! turns the SQS JSON and query protocols into calls of `QueueService`. It has no FIFO queues.

mod attributes;
mod error;
mod message;
mod metrics;
mod receipt;
mod receive;
mod retention;
mod service;
mod state;

pub use attributes::{QueueSettings, RedrivePolicy};
pub use error::{ErrorCode, QueueError};
pub use message::{
    md5_of_body, md5_of_message_attributes, to_base64, MessageAttributeValue, MessageAttributes,
};
pub use service::{NewMessage, QueueService, ReceivedMessage, SentMessage};
pub use state::MessageCounts;

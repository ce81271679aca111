//! Record targets: a function (invoked asynchronously through the engine, so the record is
//! itself a durable event) or a queue of the built-in queue service behind `QueueTarget`.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use flicker_engine::{InvocationType, InvokeRequest};
use flicker_model::event_invoke::{target_kind, TargetKind};
use flicker_model::FunctionRef;
use tracing::warn;

use crate::metrics::increment;
use crate::Events;

/// The future returned by `QueueTarget::send_message`.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// One SQS message attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAttribute {
    pub name: String,
    /// `String` or `Number`.
    pub data_type: String,
    pub string_value: String,
}

/// A queue service that destination records and dead-letter messages can be sent to.
pub trait QueueTarget: Send + Sync {
    /// Sends one message to the queue with this ARN; the error is a message for the log.
    fn send_message(
        &self,
        queue_arn: &str,
        body: String,
        attributes: Vec<MessageAttribute>,
    ) -> SendFuture<'_>;

    /// Returns whether a queue with this ARN exists.
    fn queue_exists(&self, queue_arn: &str) -> bool;
}

/// The built-in queue service as a record target.
impl QueueTarget for flicker_queue::QueueService {
    fn send_message(
        &self,
        queue_arn: &str,
        body: String,
        attributes: Vec<MessageAttribute>,
    ) -> SendFuture<'_> {
        let attributes = attributes
            .into_iter()
            .map(|attribute| {
                let value = flicker_queue::MessageAttributeValue {
                    data_type: attribute.data_type,
                    string_value: Some(attribute.string_value),
                    binary_value: None,
                };
                (attribute.name, value)
            })
            .collect();
        let queue_arn = queue_arn.to_string();
        Box::pin(async move {
            flicker_queue::QueueService::send_message(self, &queue_arn, body, attributes)
                .await
                .map(|_| ())
                .map_err(|err| err.to_string())
        })
    }

    fn queue_exists(&self, queue_arn: &str) -> bool {
        self.queue_exists_by_arn(queue_arn)
    }
}

impl Events {
    /// Sends a body to a function or queue ARN, counting and logging a failure.
    pub(crate) async fn send_to_target(
        &self,
        arn: &str,
        body: String,
        attributes: Vec<MessageAttribute>,
    ) -> bool {
        let result = match target_kind(arn) {
            Some(TargetKind::Function) => self.send_to_function(arn, body).await,
            Some(TargetKind::Queue) => match self.queue_target() {
                Some(queues) => queues.send_message(arn, body, attributes).await,
                None => Err("no queue service is available".to_string()),
            },
            _ => Err("this server can send records only to functions and queues".to_string()),
        };
        if let Err(message) = &result {
            increment(&self.inner.metrics.delivery_failures);
            warn!(target = %arn, error = %message, "sending an asynchronous invocation record failed");
        }
        result.is_ok()
    }

    async fn send_to_function(&self, arn: &str, body: String) -> Result<(), String> {
        let function = FunctionRef::parse(arn).map_err(|err| err.to_string())?;
        let request = InvokeRequest {
            function,
            invocation_type: InvocationType::Event,
            payload: Bytes::from(body),
            tail_log: false,
            client_context: None,
        };
        self.inner.engine.invoke(request).await.map(|_| ()).map_err(|err| err.to_string())
    }

    /// Returns whether a destination or dead-letter ARN names something that exists here.
    pub(crate) fn target_exists(&self, arn: &str) -> bool {
        match target_kind(arn) {
            Some(TargetKind::Function) => FunctionRef::parse(arn)
                .is_ok_and(|function| self.inner.engine.check_function(&function).is_ok()),
            Some(TargetKind::Queue) => self.queue_target().is_none_or(|queues| queues.queue_exists(arn)),
            _ => false,
        }
    }
}

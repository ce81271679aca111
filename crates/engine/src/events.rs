//! The boundary between the engine and the asynchronous event queue: the engine validates an
//! `Event` invocation and hands it to an `EventSink`, which stores it durably and later runs it
//! through `Engine::invoke_event`. The queue itself lives outside the engine.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use flicker_model::{ApiError, FunctionRef};
use tracing::info_span;
use tracing::Instrument;

use crate::invoke::InvokeResponse;
use crate::Engine;

/// An `Event` invocation that passed the engine's checks and got its request id.
#[derive(Debug, Clone)]
pub struct AcceptedEvent {
    /// The request id sent with the 202 and used when the function runs.
    pub request_id: String,
    /// The function's name, without qualifier.
    pub function_name: String,
    /// The qualifier the caller gave, if any.
    pub qualifier: Option<String>,
    pub payload: Bytes,
    /// The decoded `X-Amz-Client-Context` JSON.
    pub client_context: Option<String>,
}

/// The future returned by `EventSink::accept`.
pub type AcceptFuture<'a> = Pin<Box<dyn Future<Output = Result<(), ApiError>> + Send + 'a>>;

/// Takes `Event` invocations from the engine.
pub trait EventSink: Send + Sync {
    /// Stores an event. The returned future completes once the event is durable, so that the
    /// caller may send the 202. On an error, the caller sends the error instead.
    fn accept(&self, event: AcceptedEvent) -> AcceptFuture<'_>;

    /// Metrics of the sink in the Prometheus text format, appended to the engine's.
    fn render_metrics(&self) -> String {
        String::new()
    }
}

impl Engine {
    /// Sends every later `Event` invocation to `sink`. Only the first call has an effect; the
    /// engine keeps events in memory until a sink is set.
    pub fn set_event_sink(&self, sink: Arc<dyn EventSink>) {
        if self.inner.event_sink.set(sink).is_err() {
            tracing::warn!("an event sink was set already; the new one is ignored");
        }
    }

    pub(crate) fn event_sink(&self) -> Option<&Arc<dyn EventSink>> {
        self.inner.event_sink.get()
    }

    /// Runs one accepted event with its own request id and returns what the function returned.
    /// A 429 error means the account or function is throttled and the event should wait.
    pub async fn invoke_event(
        &self,
        function: &FunctionRef,
        request_id: &str,
        payload: Bytes,
        client_context: Option<String>,
    ) -> Result<InvokeResponse, ApiError> {
        let target = self.resolve_target(function)?;
        let span = info_span!("event", request_id = %request_id);
        let engine = self.clone();
        let request_id = request_id.to_string();
        // A task of its own, so that the invocation completes even if the caller is dropped.
        tokio::spawn(
            async move { engine.invoke_sync(target, &request_id, payload, false, client_context).await }
                .instrument(span),
        )
        .await
        .map_err(|err| ApiError::service(format!("The invocation failed: {err}")))?
    }

    /// Checks that a function (and qualifier) exists, with Lambda's not-found error.
    pub fn check_function(&self, function: &FunctionRef) -> Result<(), ApiError> {
        self.lookup(function).map(|_| ())
    }

    /// The unqualified ARN of a function of this server.
    pub fn function_arn(&self, name: &str) -> String {
        let settings = &self.inner.settings;
        flicker_model::arn::function_arn(&settings.region, &settings.account_id, name)
    }

    /// Returns the `DeadLetterConfig.TargetArn` of the version a reference names, if it has one.
    pub fn dead_letter_target(&self, function: &FunctionRef) -> Option<String> {
        let pool = self.lookup(function).ok()?;
        pool.version.config.dead_letter_target.clone()
    }
}

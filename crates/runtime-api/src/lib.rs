//! The Runtime API 2018-06-01 of one execution environment, and the hand-over of one
//! invocation at a time between the engine and the bootstrap. It does not know which function
//! it serves, and it stores nothing.

mod listener;
mod routes;

pub use listener::MAX_CONNECTIONS;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// The largest function response accepted, as AWS reports it (6 MiB plus 100 bytes).
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024 + 100;

/// One invocation, as the bootstrap receives it from `invocation/next`.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub payload: Bytes,
    /// Epoch milliseconds at which the invocation times out.
    pub deadline_ms: u64,
    pub invoked_function_arn: String,
    pub trace_id: String,
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
}

/// What the bootstrap reported for an invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Response(Bytes),
    /// The body posted to `invocation/{id}/error` and its
    /// `Lambda-Runtime-Function-Error-Type` header.
    Error {
        error_type: Option<String>,
        body: Bytes,
    },
    /// The response exceeded `MAX_RESPONSE_BYTES`; the bootstrap received a 413.
    ResponseTooLarge,
}

/// A change in the bootstrap's state that the engine waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeEvent {
    /// The bootstrap called `invocation/next`: initialization is over, or the previous
    /// invocation is finished.
    Ready,
    /// The bootstrap posted to `init/error`.
    InitError { error_type: Option<String>, body: Bytes },
}

/// An invocation handed to the environment, with the channel its outcome is sent on.
#[derive(Debug)]
pub struct Delivery {
    pub invocation: Invocation,
    pub outcome: oneshot::Sender<Outcome>,
}

/// The engine's side of a served Runtime API. Dropping it stops the server.
#[derive(Debug)]
pub struct RuntimeApi {
    pub deliveries: mpsc::Sender<Delivery>,
    pub events: mpsc::UnboundedReceiver<RuntimeEvent>,
    server: JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Serves the Runtime API on `listener`, which must be non-blocking. Must be called inside a
/// Tokio runtime.
pub fn serve(listener: std::net::TcpListener) -> std::io::Result<RuntimeApi> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let (deliveries, delivery_receiver) = mpsc::channel(1);
    let (event_sender, events) = mpsc::unbounded_channel();
    let router = routes::router(delivery_receiver, event_sender);
    let server = tokio::spawn(async move {
        if let Err(err) = axum::serve(listener::LimitedListener::new(listener), router).await {
            tracing::debug!(error = %err, "Runtime API server stopped");
        }
    });
    Ok(RuntimeApi { deliveries, events, server })
}

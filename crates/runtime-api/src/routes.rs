//! The Runtime API routes and their state machine: `next` hands over one invocation, and
//! exactly one `response` or `error` may follow for that request id.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use tokio::sync::{mpsc, oneshot};

use crate::{Delivery, Outcome, RuntimeEvent, MAX_RESPONSE_BYTES};

const ERROR_TYPE_HEADER: &str = "lambda-runtime-function-error-type";

struct Shared {
    deliveries: tokio::sync::Mutex<mpsc::Receiver<Delivery>>,
    events: mpsc::UnboundedSender<RuntimeEvent>,
    current: Mutex<Current>,
}

#[derive(Default)]
struct Current {
    /// Set once the bootstrap has called `next`.
    initialized: bool,
    request_id: Option<String>,
    /// Taken when the bootstrap reports the outcome.
    outcome: Option<oneshot::Sender<Outcome>>,
}

type SharedState = State<Arc<Shared>>;

pub(crate) fn router(
    deliveries: mpsc::Receiver<Delivery>,
    events: mpsc::UnboundedSender<RuntimeEvent>,
) -> Router {
    let shared = Arc::new(Shared {
        deliveries: tokio::sync::Mutex::new(deliveries),
        events,
        current: Mutex::new(Current::default()),
    });
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(shared)
}

fn runtime_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    let body = serde_json::json!({ "errorMessage": message, "errorType": error_type });
    (status, [("content-type", "application/json")], body.to_string()).into_response()
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, [("content-type", "application/json")], r#"{"status":"OK"}"#).into_response()
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Current> {
    shared.current.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn next(State(shared): SharedState) -> Response {
    {
        let mut current = lock(&shared);
        current.initialized = true;
        // A bootstrap that asks for the next event without reporting the current one drops
        // the outcome channel, and the engine reports the invocation as failed.
        current.request_id = None;
        current.outcome = None;
    }
    let _ = shared.events.send(RuntimeEvent::Ready);

    let delivery = shared.deliveries.lock().await.recv().await;
    let Some(Delivery { invocation, outcome }) = delivery else {
        return runtime_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Runtime.Shutdown",
            "The environment is shutting down",
        );
    };
    {
        let mut current = lock(&shared);
        current.request_id = Some(invocation.request_id.clone());
        current.outcome = Some(outcome);
    }

    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    put("content-type", "application/json");
    put("lambda-runtime-aws-request-id", &invocation.request_id);
    put("lambda-runtime-deadline-ms", &invocation.deadline_ms.to_string());
    put("lambda-runtime-invoked-function-arn", &invocation.invoked_function_arn);
    put("lambda-runtime-trace-id", &invocation.trace_id);
    if let Some(context) = &invocation.client_context {
        put("lambda-runtime-client-context", context);
    }
    if let Some(identity) = &invocation.cognito_identity {
        put("lambda-runtime-cognito-identity", identity);
    }
    (StatusCode::OK, headers, invocation.payload).into_response()
}

/// Why a report of an invocation's outcome was rejected.
enum Rejection {
    UnknownRequestId,
    AlreadyReported,
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        match self {
            Self::UnknownRequestId => {
                runtime_error(StatusCode::BAD_REQUEST, "InvalidRequestID", "Invalid request ID")
            }
            Self::AlreadyReported => runtime_error(
                StatusCode::FORBIDDEN,
                "InvalidStateTransition",
                "State transition is not allowed",
            ),
        }
    }
}

/// Takes the outcome channel of invocation `id`.
fn take_outcome(shared: &Shared, id: &str) -> Result<oneshot::Sender<Outcome>, Rejection> {
    let mut current = lock(shared);
    if current.request_id.as_deref() != Some(id) {
        return Err(Rejection::UnknownRequestId);
    }
    current.outcome.take().ok_or(Rejection::AlreadyReported)
}

/// Reads a body of at most `MAX_RESPONSE_BYTES`; `None` if it is larger.
async fn read_limited(body: Body) -> Option<Bytes> {
    Limited::new(body, MAX_RESPONSE_BYTES).collect().await.ok().map(|collected| collected.to_bytes())
}

fn too_large() -> Response {
    let message = format!("Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).");
    runtime_error(StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge", &message)
}

async fn response(State(shared): SharedState, Path(id): Path<String>, body: Body) -> Response {
    let body = read_limited(body).await;
    let sender = match take_outcome(&shared, &id) {
        Ok(sender) => sender,
        Err(rejection) => return rejection.into_response(),
    };
    match body {
        Some(payload) => {
            let _ = sender.send(Outcome::Response(payload));
            accepted()
        }
        None => {
            let _ = sender.send(Outcome::ResponseTooLarge);
            too_large()
        }
    }
}

fn error_type(headers: &HeaderMap) -> Option<String> {
    headers.get(ERROR_TYPE_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string)
}

async fn error(
    State(shared): SharedState,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(body) = read_limited(body).await else {
        return too_large();
    };
    let sender = match take_outcome(&shared, &id) {
        Ok(sender) => sender,
        Err(rejection) => return rejection.into_response(),
    };
    let _ = sender.send(Outcome::Error { error_type: error_type(&headers), body });
    accepted()
}

async fn init_error(State(shared): SharedState, headers: HeaderMap, body: Body) -> Response {
    let Some(body) = read_limited(body).await else {
        return too_large();
    };
    if lock(&shared).initialized {
        return runtime_error(
            StatusCode::FORBIDDEN,
            "InvalidStateTransition",
            "State transition is not allowed",
        );
    }
    let _ = shared.events.send(RuntimeEvent::InitError { error_type: error_type(&headers), body });
    accepted()
}

//! The SQS API on this endpoint: the JSON protocol (`X-Amz-Target: AmazonSQS.*`) and the
//! query protocol (form-encoded `Action=...` on `/` or on a queue URL's path, or the same
//! as a GET query string), both running the operations of `operations`.

mod operations;
mod query;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use flicker_queue::{QueueError, QueueService};
use serde_json::{Map, Value};

use crate::AppState;

/// The largest request body read: a batch of ten 256 KiB messages with base64 overhead.
const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.0";

fn host(headers: &HeaderMap) -> String {
    headers.get("host").and_then(|v| v.to_str().ok()).unwrap_or("localhost").to_string()
}

fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn read(body: Body) -> Result<bytes::Bytes, QueueError> {
    use http_body_util::{BodyExt, Limited};
    match Limited::new(body, MAX_REQUEST_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) => Err(QueueError::InvalidParameterValue(format!("Failed to read the request body: {err}"))),
    }
}

/// Serves one JSON-protocol request for operation `operation`.
pub(crate) async fn json(state: AppState, headers: HeaderMap, operation: &str, body: Body) -> Response {
    if !operations::OPERATIONS.contains(&operation) {
        let message = format!("This server does not implement {operation} of AmazonSQS");
        return crate::protocols::json_error(StatusCode::BAD_REQUEST, "UnknownOperationException", message);
    }
    let input = match read(body).await.and_then(|bytes| parse_json(&bytes)) {
        Ok(input) => input,
        Err(err) => return json_error(&err),
    };
    let call = operations::Call { queues: &state.queues, host: &host(&headers), input };
    match call.run(operation).await {
        Ok(output) => ([("content-type", JSON_CONTENT_TYPE)], output.to_string()).into_response(),
        Err(err) => json_error(&err),
    }
}

fn parse_json(bytes: &[u8]) -> Result<Map<String, Value>, QueueError> {
    if bytes.is_empty() {
        return Ok(Map::new());
    }
    serde_json::from_slice(bytes).map_err(|err| {
        QueueError::InvalidParameterValue(format!("The request body is not a JSON object: {err}"))
    })
}

/// Builds a JSON-protocol error, with the query-protocol code in `x-amzn-query-error` as SQS sends it.
fn json_error(err: &QueueError) -> Response {
    log_server_fault(err);
    let code = err.code();
    let body = serde_json::json!({
        "__type": format!("com.amazonaws.sqs#{}", code.shape),
        "message": err.to_string(),
    });
    let fault = if code.sender_fault { "Sender" } else { "Receiver" };
    let status = StatusCode::from_u16(code.status).unwrap_or(StatusCode::BAD_REQUEST);
    let query_error = format!("{};{fault}", code.query_code);
    (
        status,
        [("content-type", JSON_CONTENT_TYPE), ("x-amzn-query-error", query_error.as_str())],
        body.to_string(),
    )
        .into_response()
}

fn log_server_fault(err: &QueueError) {
    if !err.code().sender_fault {
        tracing::error!(error = %err, "queue operation failed");
    }
}

/// Serves a query-protocol request on `/`.
pub(crate) async fn query_root(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Response {
    query(state, method, headers, raw, None, body).await
}

/// Serves a query-protocol request on a queue URL's path `/{account}/{queue}`.
pub(crate) async fn query_queue(
    State(state): State<AppState>,
    Path((account, name)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Response {
    let path = format!("/{account}/{name}");
    query(state, method, headers, raw, Some(path), body).await
}

/// Reports whether a request without `X-Amz-Target` carries a query-protocol form.
pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

pub(crate) async fn query(
    state: AppState,
    method: Method,
    headers: HeaderMap,
    raw_query: Option<String>,
    path: Option<String>,
    body: Body,
) -> Response {
    let id = request_id();
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(raw) = raw_query {
        pairs.extend(form_urlencoded::parse(raw.as_bytes()).into_owned());
    }
    if method == Method::POST {
        match read(body).await {
            Ok(bytes) => pairs.extend(form_urlencoded::parse(&bytes).into_owned()),
            Err(err) => return query_error(&err, &id),
        }
    }
    let Some(action) = pairs.iter().find(|(k, _)| k == "Action").map(|(_, v)| v.clone()) else {
        if let Some(path) = path {
            // Two-segment paths that are not SQS requests get the error of unknown routes.
            return crate::error::unknown_operation(method, path.parse().unwrap_or_default())
                .await
                .into_response();
        }
        return query_error_response(
            StatusCode::BAD_REQUEST,
            "MissingAction",
            "No Action parameter was given.",
            &id,
        );
    };
    if !operations::OPERATIONS.contains(&action.as_str()) {
        let message = format!("The action {action} is not valid for this endpoint.");
        return query_error_response(StatusCode::BAD_REQUEST, "InvalidAction", &message, &id);
    }
    let mut input = query::input_from_form(pairs);
    if let Some(path) = path {
        let host = host(&headers);
        input.entry("QueueUrl").or_insert_with(|| Value::String(format!("http://{host}{path}")));
    }
    let call = operations::Call { queues: &state.queues, host: &host(&headers), input };
    match call.run(&action).await {
        Ok(output) => ([("content-type", "text/xml")], query::render(&action, &output, &id)).into_response(),
        Err(err) => query_error(&err, &id),
    }
}

fn query_error(err: &QueueError, id: &str) -> Response {
    log_server_fault(err);
    let code = err.code();
    let status = StatusCode::from_u16(code.status).unwrap_or(StatusCode::BAD_REQUEST);
    let fault = if code.sender_fault { "Sender" } else { "Receiver" };
    let body = query::render_error(fault, code.query_code, &err.to_string(), id);
    (status, [("content-type", "text/xml")], body).into_response()
}

fn query_error_response(status: StatusCode, code: &str, message: &str, id: &str) -> Response {
    (status, [("content-type", "text/xml")], query::render_error("Sender", code, message, id)).into_response()
}

/// The queue service, for the metrics handler.
pub(crate) fn service(state: &AppState) -> &QueueService {
    &state.queues
}

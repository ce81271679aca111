//! The CloudWatch Logs operations of this endpoint (`X-Amz-Target: Logs_20140328.*`, JSON 1.1
//! protocol): subscription filters and reading function logs.

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use flicker_model::ApiError;
use flicker_triggers::log_subscription::LogSubscriptions;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::read_body;

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// Request bodies larger than this are rejected; the largest Logs request served here is a
/// PutSubscriptionFilter of a few kilobytes.
const MAX_REQUEST_BYTES: usize = 1024 * 1024;

fn error_response(error: &ApiError) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    let body = serde_json::json!({ "__type": error.code, "message": error.message }).to_string();
    (status, [("content-type", CONTENT_TYPE), ("x-amzn-errortype", error.code)], body).into_response()
}

fn ok_response(body: impl Serialize) -> Response {
    match serde_json::to_string(&body) {
        Ok(json) => (StatusCode::OK, [("content-type", CONTENT_TYPE)], json).into_response(),
        Err(err) => error_response(&ApiError::new(
            500,
            "ServiceUnavailableException",
            format!("Encoding the response failed: {err}"),
        )),
    }
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.is_empty() { b"{}".as_slice() } else { body };
    serde_json::from_slice(body).map_err(|err| {
        ApiError::new(400, "SerializationException", format!("Could not parse the request body: {err}"))
    })
}

/// Runs one Logs operation.
pub(crate) async fn dispatch(subscriptions: &LogSubscriptions, operation: &str, body: Body) -> Response {
    let too_large = || {
        ApiError::new(
            413,
            "SerializationException",
            format!("The request body exceeds {MAX_REQUEST_BYTES} bytes"),
        )
    };
    let body = match read_body(body, MAX_REQUEST_BYTES, too_large).await {
        Ok(body) => body,
        Err(error) => return error_response(&error.0),
    };
    let result = match operation {
        "PutSubscriptionFilter" => match parse(&body) {
            Ok(request) => subscriptions.put_subscription_filter(request).await.map(|()| empty()),
            Err(error) => Err(error),
        },
        "DescribeSubscriptionFilters" => match parse(&body) {
            Ok(request) => subscriptions.describe_subscription_filters(request).await.map(ok_response),
            Err(error) => Err(error),
        },
        "DeleteSubscriptionFilter" => match parse(&body) {
            Ok(request) => subscriptions.delete_subscription_filter(request).await.map(|()| empty()),
            Err(error) => Err(error),
        },
        "DescribeLogGroups" => match parse(&body) {
            Ok(request) => subscriptions.describe_log_groups(request).await.map(ok_response),
            Err(error) => Err(error),
        },
        "DescribeLogStreams" => match parse(&body) {
            Ok(request) => subscriptions.describe_log_streams(request).await.map(ok_response),
            Err(error) => Err(error),
        },
        "FilterLogEvents" => match parse(&body) {
            Ok(request) => subscriptions.filter_log_events(request).await.map(ok_response),
            Err(error) => Err(error),
        },
        "GetLogEvents" => match parse(&body) {
            Ok(request) => subscriptions.get_log_events(request).await.map(ok_response),
            Err(error) => Err(error),
        },
        other => Err(ApiError::new(
            400,
            "UnknownOperationException",
            format!("This server does not implement {other} of Logs_20140328"),
        )),
    };
    result.unwrap_or_else(|error| error_response(&error))
}

/// Builds the response of an operation without output members.
fn empty() -> Response {
    (StatusCode::OK, [("content-type", CONTENT_TYPE)], "").into_response()
}

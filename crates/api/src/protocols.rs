//! The JSON protocol of AWS services other than Lambda: a `POST /` whose `X-Amz-Target`
//! header names the service and operation (`AmazonSQS.SendMessage`). Each service served on
//! this endpoint gets one arm in `dispatch`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// Builds an error of the JSON protocol: `{"__type": ..., "message": ...}` with `X-Amzn-ErrorType`.
pub(crate) fn json_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = serde_json::json!({ "__type": code, "message": message.into() }).to_string();
    (status, [("content-type", "application/x-amz-json-1.0"), ("x-amzn-errortype", code)], body)
        .into_response()
}

/// Routes a `POST /` by its `X-Amz-Target` header; a form without one is an SQS query.
pub(crate) async fn dispatch(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    if target.is_empty() && crate::queue::is_form(&headers) {
        return crate::queue::query(state, Method::POST, headers, None, None, body).await;
    }
    let Some((service, operation)) = target.split_once('.') else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            "POST / needs an X-Amz-Target header naming a service and an operation",
        );
    };
    match service {
        "AmazonSQS" => crate::queue::json(state, headers, operation, body).await,
        "AWSEvents" => crate::events::dispatch(&state.schedules, operation, body).await,
        "Logs_20140328" => crate::logs::dispatch(&state.log_subscriptions, operation, body).await,
        _ => json_error(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            format!("This server does not implement {operation} of {service}"),
        ),
    }
}

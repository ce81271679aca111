//! Invoke and the legacy InvokeAsync.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use flicker_engine::{Engine, InvocationType, InvokeRequest};
use flicker_model::{limits, ApiError};

use crate::error::{read_body, ApiResult};
use crate::functions::function_ref;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn enum_error(value: &str, field: &str, allowed: &str) -> ApiError {
    ApiError::validation(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: \
         Member must satisfy enum value set: [{allowed}]"
    ))
}

fn invocation_type(headers: &HeaderMap) -> Result<InvocationType, ApiError> {
    match header(headers, "x-amz-invocation-type") {
        None | Some("RequestResponse") => Ok(InvocationType::RequestResponse),
        Some("Event") => Ok(InvocationType::Event),
        Some("DryRun") => Ok(InvocationType::DryRun),
        Some(other) => Err(enum_error(other, "invocationType", "Event, RequestResponse, DryRun")),
    }
}

fn tail_log(headers: &HeaderMap) -> Result<bool, ApiError> {
    match header(headers, "x-amz-log-type") {
        None | Some("None") => Ok(false),
        Some("Tail") => Ok(true),
        Some(other) => Err(enum_error(other, "logType", "None, Tail")),
    }
}

fn payload_too_large() -> ApiError {
    ApiError::request_too_large(format!(
        "Request must be smaller than {} bytes for the InvokeFunction operation",
        limits::SYNC_PAYLOAD
    ))
}

/// Invoke's not-found message names the version an unqualified name resolves to.
fn name_resolved_version(err: ApiError, unqualified: bool) -> ApiError {
    match err.message.strip_prefix("Function not found: ") {
        Some(arn) if unqualified && err.code == "ResourceNotFoundException" => {
            ApiError::function_not_found(&format!("{arn}:$LATEST"))
        }
        _ => err,
    }
}

pub(crate) async fn invoke(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let request = InvokeRequest {
        function: function_ref(&name, &params)?,
        invocation_type: invocation_type(&headers)?,
        tail_log: tail_log(&headers)?,
        client_context: header(&headers, "x-amz-client-context").map(str::to_string),
        payload: read_body(body, limits::SYNC_PAYLOAD, payload_too_large).await?,
    };
    let unqualified = request.function.qualifier.is_none();
    let result = engine.invoke(request).await.map_err(|err| name_resolved_version(err, unqualified))?;

    let status = StatusCode::from_u16(result.status).unwrap_or(StatusCode::OK);
    let mut response = (status, result.payload).into_response();
    let response_headers = response.headers_mut();
    response_headers.insert("content-type", HeaderValue::from_static("application/json"));
    let mut put = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            response_headers.insert(name, value);
        }
    };
    if let Some(version) = &result.executed_version {
        put("x-amz-executed-version", version);
    }
    if let Some(error) = result.function_error {
        put("x-amz-function-error", error);
    }
    if let Some(log) = &result.log_result {
        put("x-amz-log-result", log);
    }
    if let Some(request_id) = &result.request_id {
        put("x-amzn-requestid", request_id);
    }
    Ok(response)
}

pub(crate) async fn invoke_async(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let payload = read_body(body, limits::INVOKE_ASYNC_PAYLOAD, || {
        ApiError::request_too_large(format!(
            "Request must be smaller than {} bytes for the InvokeAsync operation",
            limits::INVOKE_ASYNC_PAYLOAD
        ))
    })
    .await?;
    let request = InvokeRequest {
        function: function_ref(&name, &HashMap::new())?,
        invocation_type: InvocationType::Event,
        tail_log: false,
        client_context: None,
        payload,
    };
    let result = engine.invoke(request).await?;
    let mut response =
        (StatusCode::ACCEPTED, [("content-type", "application/json")], r#"{"Status":202}"#).into_response();
    if let Some(value) = result.request_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    Ok(response)
}

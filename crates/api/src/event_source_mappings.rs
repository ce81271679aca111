//! Event source mappings: CreateEventSourceMapping, GetEventSourceMapping,
//! ListEventSourceMappings, UpdateEventSourceMapping and DeleteEventSourceMapping.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use flicker_model::ApiError;
use flicker_pollers::{
    CreateEventSourceMappingRequest, EventSourceMappings, UpdateEventSourceMappingRequest,
};

use crate::error::{parse_json, read_body, ApiResult};

/// The largest request body of the mapping operations.
const MAX_REQUEST: usize = 1024 * 1024;

async fn request_body(body: Body, operation: &str) -> ApiResult<bytes::Bytes> {
    read_body(body, MAX_REQUEST, || {
        ApiError::entity_too_large(format!(
            "Request must be smaller than {MAX_REQUEST} bytes for the {operation} operation"
        ))
    })
    .await
}

pub(crate) async fn create(State(mappings): State<EventSourceMappings>, body: Body) -> ApiResult<Response> {
    let body = request_body(body, "CreateEventSourceMapping").await?;
    let request: CreateEventSourceMappingRequest = parse_json(&body)?;
    let configuration = mappings.create(request).await?;
    Ok((StatusCode::ACCEPTED, Json(configuration)).into_response())
}

pub(crate) async fn get(
    State(mappings): State<EventSourceMappings>,
    Path(uuid): Path<String>,
) -> ApiResult<Response> {
    Ok(Json(mappings.get(&uuid)?).into_response())
}

pub(crate) async fn list(
    State(mappings): State<EventSourceMappings>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let max_items = match params.get("MaxItems") {
        Some(text) => Some(text.parse::<i64>().map_err(|_| {
            ApiError::validation(format!(
                "1 validation error detected: Value '{text}' at 'maxItems' failed to satisfy constraint: \
                 Member must be an integer"
            ))
        })?),
        None => None,
    };
    let page = mappings.list(
        params.get("EventSourceArn").map(String::as_str),
        params.get("FunctionName").map(String::as_str),
        params.get("Marker").map(String::as_str),
        max_items,
    )?;
    Ok(Json(page).into_response())
}

pub(crate) async fn update(
    State(mappings): State<EventSourceMappings>,
    Path(uuid): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let body = request_body(body, "UpdateEventSourceMapping").await?;
    let request: UpdateEventSourceMappingRequest = parse_json(&body)?;
    let configuration = mappings.update(&uuid, request).await?;
    Ok((StatusCode::ACCEPTED, Json(configuration)).into_response())
}

pub(crate) async fn delete(
    State(mappings): State<EventSourceMappings>,
    Path(uuid): Path<String>,
) -> ApiResult<Response> {
    let configuration = mappings.delete(&uuid).await?;
    Ok((StatusCode::ACCEPTED, Json(configuration)).into_response())
}

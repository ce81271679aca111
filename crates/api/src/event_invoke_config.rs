//! Event-invoke configurations: the retries, maximum event age and destinations of a
//! function's asynchronous invocations.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use flicker_model::event_invoke::EventInvokeConfigRequest;
use flicker_model::ApiError;

use crate::error::{parse_json, read_body, ApiResult};
use crate::functions::function_ref;
use crate::AppState;

type Params = Query<HashMap<String, String>>;

/// The largest request body accepted; a configuration is a few hundred bytes.
const MAX_BODY: usize = 64 * 1024;

async fn request_body(body: Body) -> ApiResult<EventInvokeConfigRequest> {
    let bytes = read_body(body, MAX_BODY, || {
        ApiError::request_too_large(format!("Request must be smaller than {MAX_BODY} bytes"))
    })
    .await?;
    parse_json(&bytes)
}

pub(crate) async fn put(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(params): Params,
    body: Body,
) -> ApiResult<Response> {
    let function = function_ref(&name, &params)?;
    let config = state.events.put_config(&function, request_body(body).await?).await?;
    Ok(Json(config).into_response())
}

pub(crate) async fn update(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(params): Params,
    body: Body,
) -> ApiResult<Response> {
    let function = function_ref(&name, &params)?;
    let config = state.events.update_config(&function, request_body(body).await?).await?;
    Ok(Json(config).into_response())
}

pub(crate) async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(params): Params,
) -> ApiResult<Response> {
    let config = state.events.get_config(&function_ref(&name, &params)?)?;
    Ok(Json(config).into_response())
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(params): Params,
) -> ApiResult<Response> {
    state.events.delete_config(&function_ref(&name, &params)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn list(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(params): Params,
) -> ApiResult<Response> {
    let function = function_ref(&name, &HashMap::new())?;
    let max_items = match params.get("MaxItems") {
        Some(text) => Some(text.parse::<i64>().map_err(|_| {
            ApiError::validation(format!(
                "1 validation error detected: Value '{text}' at 'maxItems' failed to satisfy constraint: \
                 Member must have value between 1 and 50"
            ))
        })?),
        None => None,
    };
    let page = state.events.list_configs(&function, params.get("Marker").map(String::as_str), max_items)?;
    Ok(Json(page).into_response())
}

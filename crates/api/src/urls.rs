//! Function URL configurations: CreateFunctionUrlConfig, GetFunctionUrlConfig,
//! UpdateFunctionUrlConfig, DeleteFunctionUrlConfig and ListFunctionUrlConfigs.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use flicker_engine::Engine;
use flicker_model::url::{validate_url_qualifier, FunctionUrlConfigRequest};
use flicker_model::{ApiError, FunctionRef};

use crate::error::{parse_json, read_body, ApiResult};

type Params = Query<HashMap<String, String>>;

/// The largest request body of these operations.
const MAX_URL_REQUEST: usize = 256 * 1024;

/// Parses `{FunctionName}` and `Qualifier`, checking the qualifier against the function URL
/// pattern first, because that pattern is stricter than the general one.
fn url_function_ref(name: &str, params: &HashMap<String, String>) -> ApiResult<FunctionRef> {
    let qualifier = params.get("Qualifier").map(String::as_str).filter(|q| !q.is_empty());
    if let Some(qualifier) = qualifier {
        validate_url_qualifier(qualifier)?;
    }
    Ok(FunctionRef::parse(name)?.with_qualifier(qualifier)?)
}

/// Builds the base URL clients reach this server at, from the `Host` header of the request.
pub(crate) fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    format!("http://{host}")
}

async fn request_body(body: Body) -> ApiResult<FunctionUrlConfigRequest> {
    let body = read_body(body, MAX_URL_REQUEST, || {
        ApiError::entity_too_large(format!("Request must be smaller than {MAX_URL_REQUEST} bytes"))
    })
    .await?;
    parse_json(&body)
}

pub(crate) async fn create(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    Query(params): Params,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let reference = url_function_ref(&name, &params)?;
    let request = request_body(body).await?;
    let config = engine.create_url_config(&reference, request, &base_url(&headers)).await?;
    Ok((StatusCode::CREATED, Json(config)).into_response())
}

pub(crate) async fn get(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    Query(params): Params,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let reference = url_function_ref(&name, &params)?;
    Ok(Json(engine.get_url_config(&reference, &base_url(&headers))?).into_response())
}

pub(crate) async fn update(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    Query(params): Params,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let reference = url_function_ref(&name, &params)?;
    let request = request_body(body).await?;
    let config = engine.update_url_config(&reference, request, &base_url(&headers)).await?;
    Ok(Json(config).into_response())
}

pub(crate) async fn delete(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    Query(params): Params,
) -> ApiResult<Response> {
    let reference = url_function_ref(&name, &params)?;
    engine.delete_url_config(&reference).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn list(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    Query(params): Params,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let reference = FunctionRef::parse(&name)?;
    let max_items = match params.get("MaxItems") {
        Some(text) => Some(text.parse::<i64>().map_err(|_| {
            ApiError::validation(format!(
                "1 validation error detected: Value '{text}' at 'maxItems' failed to satisfy constraint: \
                 Member must be an integer"
            ))
        })?),
        None => None,
    };
    let marker = params.get("Marker").map(String::as_str);
    let page = engine.list_url_configs(&reference, marker, max_items, &base_url(&headers))?;
    Ok(Json(page).into_response())
}

//! Function resources: CreateFunction, GetFunction, GetFunctionConfiguration, ListFunctions,
//! UpdateFunctionCode, UpdateFunctionConfiguration, DeleteFunction, GetAccountSettings, and the
//! download of a function's code.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use flicker_engine::Engine;
use flicker_model::function::{
    CreateFunctionRequest, UpdateFunctionCodeRequest, UpdateFunctionConfigurationRequest,
};
use flicker_model::{ApiError, FunctionRef};
use serde_json::json;

use crate::error::{parse_json, read_body, ApiResult};

/// The largest CreateFunction or UpdateFunctionCode request, as AWS reports it: a 50 MB zip
/// encoded in base64, plus the rest of the JSON body.
const MAX_CODE_REQUEST: usize = 70_167_211;

type Params = Query<HashMap<String, String>>;

/// Parses the `{FunctionName}` path parameter with an optional `Qualifier` query parameter.
pub(crate) fn function_ref(name: &str, params: &HashMap<String, String>) -> ApiResult<FunctionRef> {
    Ok(FunctionRef::parse(name)?.with_qualifier(params.get("Qualifier").map(String::as_str))?)
}

/// Parses the `{FunctionName}` of an operation that changes a function.
fn plain_function_ref(name: &str, params: &HashMap<String, String>) -> ApiResult<FunctionRef> {
    Ok(FunctionRef::parse_plain(name)?.with_qualifier(params.get("Qualifier").map(String::as_str))?)
}

async fn code_request_body(body: Body, operation: &str) -> ApiResult<bytes::Bytes> {
    read_body(body, MAX_CODE_REQUEST, || {
        ApiError::entity_too_large(format!(
            "Request must be smaller than {MAX_CODE_REQUEST} bytes for the {operation} operation"
        ))
    })
    .await
}

pub(crate) async fn create(State(engine): State<Engine>, body: Body) -> ApiResult<Response> {
    let body = code_request_body(body, "CreateFunction").await?;
    let request: CreateFunctionRequest = parse_json(&body)?;
    let configuration = engine.create_function(request).await?;
    Ok((StatusCode::CREATED, Json(configuration)).into_response())
}

pub(crate) async fn get(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    Query(params): Params,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let details = engine.get_function(&function_ref(&name, &params)?)?;
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    let mut body = json!({
        "Configuration": details.configuration,
        "Code": {
            "RepositoryType": "S3",
            "Location": format!("http://{host}/_flicker/code/{}.zip", details.code_sha256_hex),
        },
    });
    if !details.tags.is_empty() {
        body["Tags"] = json!(details.tags);
    }
    Ok(Json(body).into_response())
}

pub(crate) async fn get_configuration(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    Query(params): Params,
) -> ApiResult<Response> {
    let details = engine.get_function(&function_ref(&name, &params)?)?;
    Ok(Json(details.configuration).into_response())
}

pub(crate) async fn list(State(engine): State<Engine>, Query(params): Params) -> ApiResult<Response> {
    let max_items = match params.get("MaxItems") {
        Some(text) => Some(text.parse::<i64>().map_err(|_| {
            ApiError::validation(format!("1 validation error detected: Value '{text}' at 'maxItems' failed to satisfy constraint: Member must be an integer"))
        })?),
        None => None,
    };
    let page = engine.list_functions(params.get("Marker").map(String::as_str), max_items)?;
    Ok(Json(page).into_response())
}

pub(crate) async fn update_code(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    Query(params): Params,
    body: Body,
) -> ApiResult<Response> {
    let reference = plain_function_ref(&name, &params)?;
    let body = code_request_body(body, "UpdateFunctionCode").await?;
    let request: UpdateFunctionCodeRequest = parse_json(&body)?;
    Ok(Json(engine.update_function_code(&reference, request).await?).into_response())
}

pub(crate) async fn update_configuration(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    Query(params): Params,
    body: Body,
) -> ApiResult<Response> {
    let reference = plain_function_ref(&name, &params)?;
    let body = read_body(body, 1024 * 1024, || {
        ApiError::entity_too_large(
            "Request must be smaller than 1048576 bytes for the UpdateFunctionConfiguration operation",
        )
    })
    .await?;
    let request: UpdateFunctionConfigurationRequest = parse_json(&body)?;
    Ok(Json(engine.update_function_configuration(&reference, request).await?).into_response())
}

pub(crate) async fn delete(
    State(state): State<crate::AppState>,
    Path(name): Path<String>,
    Query(params): Params,
) -> ApiResult<Response> {
    let function = function_ref(&name, &params)?;
    state.engine.delete_function(&function).await?;
    match &function.qualifier {
        None => state.events.forget_function(&function.name).await?,
        // A qualifier that is no version number deletes nothing, so its configuration stays.
        Some(version) if version.bytes().all(|b| b.is_ascii_digit()) => {
            state.events.forget_qualifier(&function.name, version).await?
        }
        Some(_) => {}
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn account_settings(State(engine): State<Engine>) -> Response {
    Json(engine.account_settings()).into_response()
}

pub(crate) async fn download_code(
    State(engine): State<Engine>,
    Path(file): Path<String>,
) -> ApiResult<Response> {
    let sha256_hex = file.strip_suffix(".zip").unwrap_or(&file);
    let zip = engine.code_blob(sha256_hex).await?;
    Ok(([("content-type", "application/zip")], zip).into_response())
}

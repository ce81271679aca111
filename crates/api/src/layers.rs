//! Layer resources: PublishLayerVersion, GetLayerVersion, GetLayerVersionByArn, ListLayers,
//! ListLayerVersions and DeleteLayerVersion. The archive of a layer version is downloaded from
//! the same location as function code.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use flicker_engine::{Engine, LayerVersionDetails};
use flicker_model::layer::{self, LayerFilter, PublishLayerVersionRequest};
use flicker_model::ApiError;

use crate::error::{parse_json, read_body, ApiResult};

/// The largest PublishLayerVersion request: a 50 MB archive encoded in base64, plus the rest
/// of the JSON body, as for CreateFunction.
const MAX_PUBLISH_REQUEST: usize = 70_167_211;

type Params = Query<HashMap<String, String>>;

/// Builds the response body of a layer version, with the archive's download location on the
/// host the client addressed.
fn layer_version_body(engine: &Engine, headers: &HeaderMap, details: LayerVersionDetails) -> Response {
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    let location = format!("http://{host}/_flicker/code/{}.zip", details.code_sha256_hex);
    let settings = engine.settings();
    Json(details.record.to_wire(&settings.region, &settings.account_id, location)).into_response()
}

fn filter(params: &HashMap<String, String>) -> LayerFilter {
    LayerFilter {
        compatible_runtime: params.get("CompatibleRuntime").cloned(),
        compatible_architecture: params.get("CompatibleArchitecture").cloned(),
    }
}

fn max_items(params: &HashMap<String, String>) -> ApiResult<Option<i64>> {
    let Some(text) = params.get("MaxItems") else {
        return Ok(None);
    };
    let value = text.parse::<i64>().map_err(|_| {
        ApiError::validation(format!(
            "1 validation error detected: Value '{text}' at 'maxItems' failed to satisfy constraint: \
             Member must be an integer"
        ))
    })?;
    Ok(Some(value))
}

pub(crate) async fn publish(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let body = read_body(body, MAX_PUBLISH_REQUEST, || {
        ApiError::entity_too_large(format!(
            "Request must be smaller than {MAX_PUBLISH_REQUEST} bytes for the PublishLayerVersion operation"
        ))
    })
    .await?;
    let request: PublishLayerVersionRequest = parse_json(&body)?;
    let details = engine.publish_layer_version(&name, request).await?;
    let mut response = layer_version_body(&engine, &headers, details);
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

pub(crate) async fn get_version(
    State(engine): State<Engine>,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let version = layer::parse_version_number(&version)?;
    let details = engine.get_layer_version(&name, version).await?;
    Ok(layer_version_body(&engine, &headers, details))
}

pub(crate) async fn delete_version(
    State(engine): State<Engine>,
    Path((name, version)): Path<(String, String)>,
) -> ApiResult<Response> {
    let version = layer::parse_version_number(&version)?;
    engine.delete_layer_version(&name, version).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn list_versions(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    Query(params): Params,
) -> ApiResult<Response> {
    let marker = params.get("Marker").map(String::as_str);
    let page = engine.list_layer_versions(&name, filter(&params), marker, max_items(&params)?).await?;
    Ok(Json(page).into_response())
}

/// `GET /2018-10-31/layers` is ListLayers, or GetLayerVersionByArn with `find=LayerVersion`.
pub(crate) async fn list_or_find(
    State(engine): State<Engine>,
    Query(params): Params,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if params.get("find").map(String::as_str) == Some("LayerVersion") {
        let arn = params.get("Arn").map(String::as_str).unwrap_or_default();
        let details = engine.get_layer_version_by_arn(arn).await?;
        return Ok(layer_version_body(&engine, &headers, details));
    }
    let marker = params.get("Marker").map(String::as_str);
    let page = engine.list_layers(filter(&params), marker, max_items(&params)?).await?;
    Ok(Json(page).into_response())
}

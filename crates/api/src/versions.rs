//! Versions, aliases, concurrency controls and tags: PublishVersion, ListVersionsByFunction,
//! CreateAlias, GetAlias, UpdateAlias, DeleteAlias, ListAliases, Put/Get/DeleteFunctionConcurrency,
//! Put/Get/Delete/ListProvisionedConcurrencyConfig(s), TagResource, UntagResource and ListTags.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use flicker_engine::Engine;
use flicker_model::versions::{
    CreateAliasRequest, PublishVersionRequest, PutFunctionConcurrencyRequest,
    PutProvisionedConcurrencyRequest, TagResourceRequest, UpdateAliasRequest,
};
use flicker_model::{ApiError, FunctionRef};

use crate::error::{parse_json, read_body, ApiResult};
use crate::functions::function_ref;

type Params = Query<HashMap<String, String>>;

/// The largest body of these operations; each is a small JSON object.
const MAX_BODY: usize = 256 * 1024;

async fn small_body(body: Body, operation: &str) -> ApiResult<bytes::Bytes> {
    read_body(body, MAX_BODY, || {
        ApiError::entity_too_large(format!(
            "Request must be smaller than {MAX_BODY} bytes for the {operation} operation"
        ))
    })
    .await
}

/// Parses `MaxItems` as the list operations take it.
fn max_items(params: &HashMap<String, String>) -> ApiResult<Option<i64>> {
    let Some(text) = params.get("MaxItems") else { return Ok(None) };
    let value = text.parse::<i64>().map_err(|_| {
        ApiError::validation(format!(
            "1 validation error detected: Value '{text}' at 'maxItems' failed to satisfy constraint: Member must be an integer"
        ))
    })?;
    Ok(Some(value))
}

fn unqualified(name: &str) -> ApiResult<FunctionRef> {
    Ok(FunctionRef::parse(name)?)
}

fn marker(params: &HashMap<String, String>) -> Option<&str> {
    params.get("Marker").map(String::as_str)
}

pub(crate) async fn publish_version(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let reference = unqualified(&name)?;
    let request: PublishVersionRequest = parse_json(&small_body(body, "PublishVersion").await?)?;
    let configuration = engine.publish_version(&reference, request).await?;
    Ok((StatusCode::CREATED, Json(configuration)).into_response())
}

pub(crate) async fn list_versions(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    Query(params): Params,
) -> ApiResult<Response> {
    let reference = unqualified(&name)?;
    Ok(Json(engine.list_versions(&reference, marker(&params), max_items(&params)?)?).into_response())
}

pub(crate) async fn create_alias(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let reference = unqualified(&name)?;
    let request: CreateAliasRequest = parse_json(&small_body(body, "CreateAlias").await?)?;
    let alias = engine.create_alias(&reference, request).await?;
    Ok((StatusCode::CREATED, Json(alias)).into_response())
}

pub(crate) async fn list_aliases(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    Query(params): Params,
) -> ApiResult<Response> {
    let reference = unqualified(&name)?;
    let version = params.get("FunctionVersion").map(String::as_str);
    Ok(Json(engine.list_aliases(&reference, version, marker(&params), max_items(&params)?)?).into_response())
}

pub(crate) async fn get_alias(
    State(engine): State<Engine>,
    Path((name, alias)): Path<(String, String)>,
) -> ApiResult<Response> {
    Ok(Json(engine.get_alias(&unqualified(&name)?, &alias)?).into_response())
}

pub(crate) async fn update_alias(
    State(engine): State<Engine>,
    Path((name, alias)): Path<(String, String)>,
    body: Body,
) -> ApiResult<Response> {
    let reference = unqualified(&name)?;
    let request: UpdateAliasRequest = parse_json(&small_body(body, "UpdateAlias").await?)?;
    Ok(Json(engine.update_alias(&reference, &alias, request).await?).into_response())
}

pub(crate) async fn delete_alias(
    State(state): State<crate::AppState>,
    Path((name, alias)): Path<(String, String)>,
) -> ApiResult<Response> {
    let function = unqualified(&name)?;
    state.engine.delete_alias(&function, &alias).await?;
    state.events.forget_qualifier(&function.name, &alias).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn put_concurrency(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let reference = unqualified(&name)?;
    let request: PutFunctionConcurrencyRequest =
        parse_json(&small_body(body, "PutFunctionConcurrency").await?)?;
    let concurrency =
        engine.put_function_concurrency(&reference, request.reserved_concurrent_executions).await?;
    Ok(Json(concurrency).into_response())
}

pub(crate) async fn get_concurrency(
    State(engine): State<Engine>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    Ok(Json(engine.get_function_concurrency(&unqualified(&name)?)?).into_response())
}

pub(crate) async fn delete_concurrency(
    State(engine): State<Engine>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    engine.delete_function_concurrency(&unqualified(&name)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn put_provisioned(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    Query(params): Params,
    body: Body,
) -> ApiResult<Response> {
    let reference = function_ref(&name, &params)?;
    let request: PutProvisionedConcurrencyRequest =
        parse_json(&small_body(body, "PutProvisionedConcurrencyConfig").await?)?;
    let qualifier = reference.qualifier.clone();
    let config = engine
        .put_provisioned_concurrency(
            &reference,
            qualifier.as_deref(),
            request.provisioned_concurrent_executions,
        )
        .await?;
    Ok((StatusCode::ACCEPTED, Json(config)).into_response())
}

/// GetProvisionedConcurrencyConfig, or ListProvisionedConcurrencyConfigs with `List=ALL`.
pub(crate) async fn get_provisioned(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    Query(params): Params,
) -> ApiResult<Response> {
    if params.get("List").is_some_and(|list| list == "ALL") {
        let reference = unqualified(&name)?;
        let page = engine.list_provisioned_concurrency(&reference, marker(&params), max_items(&params)?)?;
        return Ok(Json(page).into_response());
    }
    let reference = function_ref(&name, &params)?;
    let qualifier = reference.qualifier.clone();
    Ok(Json(engine.get_provisioned_concurrency(&reference, qualifier.as_deref())?).into_response())
}

pub(crate) async fn delete_provisioned(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    Query(params): Params,
) -> ApiResult<Response> {
    let reference = function_ref(&name, &params)?;
    let qualifier = reference.qualifier.clone();
    engine.delete_provisioned_concurrency(&reference, qualifier.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn tag_resource(
    State(engine): State<Engine>,
    Path(resource): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let request: TagResourceRequest = parse_json(&small_body(body, "TagResource").await?)?;
    engine.tag_resource(&resource, request.tags).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// UntagResource; `tagKeys` repeats once per key, so the query is parsed as a list.
pub(crate) async fn untag_resource(
    State(engine): State<Engine>,
    Path(resource): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let keys: Vec<String> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(name, _)| name == "tagKeys")
        .map(|(_, value)| value.into_owned())
        .collect();
    engine.untag_resource(&resource, (!keys.is_empty()).then_some(keys)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn list_tags(
    State(engine): State<Engine>,
    Path(resource): Path<String>,
) -> ApiResult<Response> {
    Ok(Json(engine.list_tags(&resource)?).into_response())
}

//! Function URLs and HTTP routes on the API listener. A request reaches a function URL by its
//! host name `<url-id>.lambda-url.<region>.localhost` or by the path prefix
//! `/lambda-url/<url-id>`, and an HTTP route by the path prefix `/routes`. The request is sent
//! to the function as an event, and the function's result becomes the response; the mapping
//! itself lives in `flicker_http_events`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use flicker_engine::{Engine, InvocationType, InvokeRequest, InvokeResponse};
use flicker_http_events::{
    map_error, map_result, v1_event, v2_event, EventContext, HttpRequest, HttpResponse, PayloadFormat,
    ResultFormat,
};
use flicker_model::url::{Cors, UrlConfig};
use flicker_model::{limits, ApiError, FunctionRef};
use http_body_util::{BodyExt, Limited};
use tracing::warn;

use crate::AppState;

/// The path prefix of function URLs reached without a host name.
const URL_PREFIX: &str = "/lambda-url/";

/// The path prefix of the HTTP routes of the routes file.
pub const ROUTES_PREFIX: &str = "/routes";

/// The `apiId` that events of HTTP routes carry.
const ROUTES_API_ID: &str = "flicker-routes";

/// Sends function URL and route requests to their functions, and every other request on to
/// the Lambda API.
pub(crate) async fn serve(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let region = state.engine.settings().region.clone();
    if let Some((url_id, path_start)) = function_url_target(&request, &region) {
        return serve_function_url(&state.engine, request, url_id, path_start).await;
    }
    let path = request.uri().path();
    let routed = path == ROUTES_PREFIX || path.starts_with(&format!("{ROUTES_PREFIX}/"));
    if routed && !state.http_routes.routes().is_empty() {
        return serve_route(&state, request).await;
    }
    next.run(request).await
}

/// Finds the URL id a request addresses, and where in its path the function's path starts.
fn function_url_target(request: &Request, region: &str) -> Option<(String, usize)> {
    let host = request.headers().get("host").and_then(|h| h.to_str().ok()).unwrap_or("");
    let host = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let suffix = format!(".lambda-url.{region}.localhost");
    if let Some(id) = host.to_ascii_lowercase().strip_suffix(&suffix) {
        return Some((id.to_string(), 0));
    }
    let rest = request.uri().path().strip_prefix(URL_PREFIX)?;
    let id_len = rest.find('/').unwrap_or(rest.len());
    Some((rest[..id_len].to_string(), URL_PREFIX.len() + id_len))
}

fn plain_response(status: u16, body: serde_json::Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [("content-type", "application/json")], body.to_string()).into_response()
}

fn message(status: u16, text: &str) -> Response {
    plain_response(status, serde_json::json!({ "Message": text }))
}

/// Reads the request into the form events are built from. `path_start` is the byte offset of the function's path
/// in the request path, after any prefix the server routes by.
async fn http_request(request: Request, path_start: usize) -> Result<HttpRequest, Response> {
    let source_ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "127.0.0.1".to_string(), |info| info.0.ip().to_string());
    let (parts, body) = request.into_parts();
    let raw_path = match &parts.uri.path()[path_start..] {
        "" => "/".to_string(),
        rest => rest.to_string(),
    };
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned())
        })
        .collect();
    let body = match Limited::new(body, limits::SYNC_PAYLOAD).collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(err) if err.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            return Err(message(413, "Request Entity Too Large"))
        }
        // The body broke off or its chunked encoding is malformed.
        Err(_) => return Err(message(400, "Bad Request")),
    };
    Ok(HttpRequest {
        method: parts.method.as_str().to_string(),
        raw_path,
        raw_query: parts.uri.query().unwrap_or("").to_string(),
        headers,
        body,
        source_ip,
        protocol: format!("{:?}", parts.version),
        time: chrono::Utc::now(),
        request_id: uuid::Uuid::new_v4().to_string(),
    })
}

async fn invoke(
    engine: &Engine,
    function: FunctionRef,
    event: &serde_json::Value,
) -> Result<InvokeResponse, Response> {
    let request = InvokeRequest {
        function,
        invocation_type: InvocationType::RequestResponse,
        payload: Bytes::from(event.to_string()),
        tail_log: false,
        client_context: None,
    };
    engine.invoke(request).await.map_err(|err| invoke_error(&err))
}

/// Builds the response for an invocation the engine rejected.
fn invoke_error(err: &ApiError) -> Response {
    match err.status {
        429 => message(429, "Rate Exceeded."),
        413 => message(413, "Request Entity Too Large"),
        404 => message(404, "Not Found"),
        _ => {
            warn!(error = %err, "invoking a function for an HTTP request failed");
            message(502, "Internal Server Error")
        }
    }
}

/// Maps the result of a completed invocation.
fn result_response(result: &InvokeResponse, format: ResultFormat) -> HttpResponse {
    if result.function_error.is_none() {
        return map_result(&result.payload, format);
    }
    let error_type = serde_json::from_slice::<serde_json::Value>(&result.payload)
        .ok()
        .and_then(|v| v.get("errorType").and_then(|t| t.as_str()).map(str::to_string));
    map_error(error_type.as_deref() == Some("Sandbox.Timedout"))
}

fn into_response(mapped: HttpResponse, request_id: Option<&str>) -> Response {
    let status = StatusCode::from_u16(mapped.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = Response::new(axum::body::Body::from(mapped.body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in mapped.headers {
        if matches!(name.as_str(), "content-length" | "transfer-encoding" | "connection") {
            continue;
        }
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::from_str(&value)) {
            headers.append(name, value);
        }
    }
    if let Some(value) = request_id.and_then(|id| HeaderValue::from_str(id).ok()) {
        headers.insert("x-amzn-requestid", value);
    }
    response
}

async fn serve_function_url(
    engine: &Engine,
    request: Request,
    url_id: String,
    path_start: usize,
) -> Response {
    let Some(config) = engine.url_config(&url_id) else {
        return message(404, "Not Found");
    };
    // NOTE: AWS_IAM only checks that a SigV4 Authorization header is present; the signature
    // itself is not verified.
    let signed = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256 "));
    if config.auth_type == "AWS_IAM" && !signed {
        return message(403, "Forbidden");
    }
    let origin = request.headers().get("origin").and_then(|v| v.to_str().ok()).map(str::to_string);
    if let Some(cors) = &config.cors {
        if is_preflight(request.headers()) {
            return preflight_response(cors, origin.as_deref());
        }
    }
    let http = match http_request(request, path_start).await {
        Ok(http) => http,
        Err(response) => return response,
    };
    let event = v2_event(&http, &url_event_context(engine, &config, &http));
    let function = FunctionRef {
        name: config.function_name.clone(),
        qualifier: config.qualifier.clone(),
        region: None,
        account: None,
    };
    let mut response = match invoke(engine, function, &event).await {
        Ok(result) => into_response(result_response(&result, ResultFormat::V2), result.request_id.as_deref()),
        Err(response) => response,
    };
    if let (Some(cors), Some(origin)) = (&config.cors, origin.as_deref()) {
        add_cors_headers(response.headers_mut(), cors, origin);
    }
    response
}

fn url_event_context(engine: &Engine, config: &UrlConfig, http: &HttpRequest) -> EventContext {
    let settings = engine.settings();
    let domain_name = http
        .headers
        .iter()
        .find(|(name, _)| name == "host")
        .map_or_else(String::new, |(_, host)| host.clone());
    EventContext {
        account_id: settings.account_id.clone(),
        api_id: config.url_id.clone(),
        domain_name,
        domain_prefix: config.url_id.clone(),
        route_key: "$default".into(),
        resource: None,
        path_parameters: None,
    }
}

fn is_preflight(headers: &HeaderMap) -> bool {
    headers.contains_key("origin") && headers.contains_key("access-control-request-method")
}

/// Returns the `Access-Control-Allow-Origin` value for an origin, if the settings allow it.
fn allowed_origin(cors: &Cors, origin: &str) -> Option<String> {
    let origins = cors.allow_origins.as_deref().unwrap_or_default();
    if origins.iter().any(|o| o == origin) {
        Some(origin.to_string())
    } else if origins.iter().any(|o| o == "*") {
        Some("*".to_string())
    } else {
        None
    }
}

fn insert_header(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

/// Responds to a CORS preflight from the URL's settings without invoking the function. An origin
/// that is not allowed gets a 200 without CORS headers, so the browser blocks the request.
fn preflight_response(cors: &Cors, origin: Option<&str>) -> Response {
    let mut response = StatusCode::OK.into_response();
    let Some(allowed) = origin.and_then(|origin| allowed_origin(cors, origin)) else {
        return response;
    };
    let headers = response.headers_mut();
    insert_header(headers, "access-control-allow-origin", &allowed);
    if let Some(methods) = cors.allow_methods.as_ref().filter(|m| !m.is_empty()) {
        insert_header(headers, "access-control-allow-methods", &methods.join(","));
    }
    if let Some(allow_headers) = cors.allow_headers.as_ref().filter(|h| !h.is_empty()) {
        insert_header(headers, "access-control-allow-headers", &allow_headers.join(","));
    }
    if let Some(max_age) = cors.max_age {
        insert_header(headers, "access-control-max-age", &max_age.to_string());
    }
    if cors.allow_credentials == Some(true) {
        insert_header(headers, "access-control-allow-credentials", "true");
    }
    insert_header(headers, "vary", "Origin");
    response
}

/// Adds the CORS headers of a response to an allowed origin, replacing any the function set.
fn add_cors_headers(headers: &mut HeaderMap, cors: &Cors, origin: &str) {
    let Some(allowed) = allowed_origin(cors, origin) else { return };
    insert_header(headers, "access-control-allow-origin", &allowed);
    if let Some(expose) = cors.expose_headers.as_ref().filter(|h| !h.is_empty()) {
        insert_header(headers, "access-control-expose-headers", &expose.join(","));
    }
    if cors.allow_credentials == Some(true) {
        insert_header(headers, "access-control-allow-credentials", "true");
    }
    insert_header(headers, "vary", "Origin");
}

async fn serve_route(state: &AppState, request: Request) -> Response {
    let method = request.method().as_str().to_string();
    let path = request.uri().path()[ROUTES_PREFIX.len()..].to_string();
    let path = if path.is_empty() { "/".to_string() } else { path };
    let Some(found) = state.http_routes.find(&method, &path) else {
        return plain_response(404, serde_json::json!({ "message": "Not Found" }));
    };
    let route = found.route.clone();
    let function = match FunctionRef::parse(&route.function) {
        Ok(function) => function,
        Err(err) => return invoke_error(&err),
    };
    let http = match http_request(request, ROUTES_PREFIX.len()).await {
        Ok(http) => http,
        Err(response) => return response,
    };
    let settings = state.engine.settings();
    let domain_name = http
        .headers
        .iter()
        .find(|(name, _)| name == "host")
        .map_or_else(String::new, |(_, host)| host.clone());
    let has_parameters = !found.path_parameters.is_empty();
    let context = EventContext {
        account_id: settings.account_id.clone(),
        api_id: ROUTES_API_ID.into(),
        domain_prefix: domain_name.split('.').next().unwrap_or_default().to_string(),
        domain_name,
        route_key: route.route_key(),
        resource: Some(route.path.clone()),
        path_parameters: has_parameters.then_some(found.path_parameters),
    };
    let (event, format) = match route.payload_format {
        PayloadFormat::V2 => (v2_event(&http, &context), ResultFormat::V2),
        PayloadFormat::V1 => (v1_event(&http, &context), ResultFormat::V1),
    };
    match invoke(&state.engine, function, &event).await {
        Ok(result) => into_response(result_response(&result, format), result.request_id.as_deref()),
        Err(response) => {
            // The routes file is read at start-up, so its function may be missing or deleted.
            if response.status() == StatusCode::NOT_FOUND {
                warn!(route = %route.route_key(), function = %route.function, "the function of an HTTP route does not exist");
            }
            response
        }
    }
}

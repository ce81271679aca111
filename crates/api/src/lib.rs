//! The HTTP front: routes of the Lambda 2015-03-31 REST-JSON API, the JSON protocol of the other
//! services on this endpoint, the code download used by GetFunction, health and metrics. Handlers translate HTTP to typed engine calls and engine
//! results to AWS's wire shapes; they hold no business logic.

mod error;
mod event_invoke_config;
mod event_source_mappings;
mod events;
mod functions;
mod http_endpoints;
mod invoke;
mod layers;
mod logs;
mod protocols;
mod queue;
mod urls;
mod versions;

use std::sync::Arc;

use axum::extract::FromRef;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use flicker_engine::Engine;
use flicker_events::Events;
use flicker_http_events::RouteTable;
use flicker_pollers::EventSourceMappings;
use flicker_queue::QueueService;

pub use error::WireError;
pub use http_endpoints::ROUTES_PREFIX;

/// State shared by the handlers: the engine and the other services on this endpoint.
#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    /// Asynchronous invocations and their event-invoke configurations.
    pub events: Events,
    /// The HTTP routes served under `ROUTES_PREFIX`; empty when no routes file is set.
    pub http_routes: Arc<RouteTable>,
    pub event_source_mappings: EventSourceMappings,
    /// The SQS-compatible queues.
    pub queues: QueueService,
    pub schedules: flicker_triggers::schedule::Schedules,
    /// CloudWatch Logs subscription filters and log reading.
    pub log_subscriptions: flicker_triggers::log_subscription::LogSubscriptions,
}

impl FromRef<AppState> for Engine {
    fn from_ref(state: &AppState) -> Engine {
        state.engine.clone()
    }
}

impl FromRef<AppState> for EventSourceMappings {
    fn from_ref(state: &AppState) -> EventSourceMappings {
        state.event_source_mappings.clone()
    }
}

/// Builds the router of every API this endpoint serves.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", post(protocols::dispatch).get(queue::query_root))
        .route("/{account}/{queue}", get(queue::query_queue).post(queue::query_queue))
        .route("/2015-03-31/functions", get(functions::list).post(functions::create))
        .route("/2015-03-31/functions/", get(functions::list).post(functions::create))
        .route("/2015-03-31/functions/{name}", get(functions::get).delete(functions::delete))
        .route(
            "/2015-03-31/functions/{name}/configuration",
            get(functions::get_configuration).put(functions::update_configuration),
        )
        .route("/2015-03-31/functions/{name}/code", axum::routing::put(functions::update_code))
        .route("/2015-03-31/functions/{name}/invocations", post(invoke::invoke))
        .route("/2014-11-13/functions/{name}/invoke-async", post(invoke::invoke_async))
        .route("/2014-11-13/functions/{name}/invoke-async/", post(invoke::invoke_async))
        .route(
            "/2019-09-25/functions/{name}/event-invoke-config",
            get(event_invoke_config::get)
                .put(event_invoke_config::put)
                .post(event_invoke_config::update)
                .delete(event_invoke_config::delete),
        )
        .route("/2019-09-25/functions/{name}/event-invoke-config/list", get(event_invoke_config::list))
        .route(
            "/2021-10-31/functions/{name}/url",
            get(urls::get).post(urls::create).put(urls::update).delete(urls::delete),
        )
        .route("/2021-10-31/functions/{name}/urls", get(urls::list))
        .merge(versions_router())
        .route("/2016-08-19/account-settings", get(functions::account_settings))
        .route("/2016-08-19/account-settings/", get(functions::account_settings))
        .route("/2018-10-31/layers", get(layers::list_or_find))
        .route("/2018-10-31/layers/{name}/versions", get(layers::list_versions).post(layers::publish))
        .route(
            "/2018-10-31/layers/{name}/versions/{version}",
            get(layers::get_version).delete(layers::delete_version),
        )
        .route(
            "/2015-03-31/event-source-mappings",
            get(event_source_mappings::list).post(event_source_mappings::create),
        )
        .route(
            "/2015-03-31/event-source-mappings/",
            get(event_source_mappings::list).post(event_source_mappings::create),
        )
        .route(
            "/2015-03-31/event-source-mappings/{uuid}",
            get(event_source_mappings::get)
                .put(event_source_mappings::update)
                .delete(event_source_mappings::delete),
        )
        .route("/_flicker/code/{file}", get(functions::download_code))
        .route("/health", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .fallback(error::unknown_operation)
        .layer(middleware::from_fn_with_state(state.clone(), http_endpoints::serve))
        .layer(middleware::from_fn(add_request_id))
        .with_state(state)
}

/// Builds the routes of versions, aliases, concurrency controls and tags.
fn versions_router() -> Router<AppState> {
    use axum::routing::put;
    let functions = "/2015-03-31/functions/{name}";
    Router::new()
        .route(&format!("{functions}/versions"), get(versions::list_versions).post(versions::publish_version))
        .route(&format!("{functions}/aliases"), get(versions::list_aliases).post(versions::create_alias))
        .route(
            &format!("{functions}/aliases/{{alias}}"),
            get(versions::get_alias).put(versions::update_alias).delete(versions::delete_alias),
        )
        .route(
            "/2017-10-31/functions/{name}/concurrency",
            put(versions::put_concurrency).delete(versions::delete_concurrency),
        )
        .route("/2019-09-30/functions/{name}/concurrency", get(versions::get_concurrency))
        .route(
            "/2019-09-30/functions/{name}/provisioned-concurrency",
            get(versions::get_provisioned)
                .put(versions::put_provisioned)
                .delete(versions::delete_provisioned),
        )
        .route(
            "/2017-03-31/tags/{resource}",
            get(versions::list_tags).post(versions::tag_resource).delete(versions::untag_resource),
        )
}

async fn metrics(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> ([(&'static str, &'static str); 1], String) {
    let mut text = state.engine.render_metrics();
    text.push_str(&state.event_source_mappings.render_metrics());
    text.push_str(&queue::service(&state).render_metrics());
    ([("content-type", "text/plain; version=0.0.4")], text)
}

/// Gives every response an `x-amzn-RequestId` header, as AWS does, unless the handler set
/// one (Invoke sends the invocation's request id).
async fn add_request_id(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if !response.headers().contains_key("x-amzn-requestid") {
        let id = uuid::Uuid::new_v4().to_string();
        if let Ok(value) = HeaderValue::from_str(&id) {
            response.headers_mut().insert("x-amzn-requestid", value);
        }
    }
    response
}

//! The HTTP front: routes of the Lambda 2015-03-31 REST-JSON API, the JSON protocol of the other
//! services on this endpoint, the code download used by GetFunction, health and metrics. Handlers translate HTTP to typed engine calls and engine
//! results to AWS's wire shapes; they hold no business logic.

mod error;
mod event_source_mappings;
mod functions;
mod invoke;
mod protocols;
mod queue;

use axum::extract::FromRef;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use flicker_engine::Engine;
use flicker_pollers::EventSourceMappings;
use flicker_queue::QueueService;

pub use error::WireError;

/// What the handlers share: the engine and the other services on this endpoint.
#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    pub event_source_mappings: EventSourceMappings,
    /// The SQS-compatible queues.
    pub queues: QueueService,
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

/// The router of every API this endpoint serves.
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
        .route("/2016-08-19/account-settings", get(functions::account_settings))
        .route("/2016-08-19/account-settings/", get(functions::account_settings))
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
        .layer(middleware::from_fn(add_request_id))
        .with_state(state)
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

//! Invoke: admission under the concurrency limit, taking or starting an environment, the
//! invocation itself, and the error payloads and log lines Lambda produces for each outcome.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use flicker_model::{limits, ApiError, FunctionRef};
use flicker_runtime_api::{Invocation, Outcome};
use tokio::sync::oneshot;
use tracing::{debug, info_span, warn, Instrument};

use crate::environment::{Environment, InitFailure, RunResult};
use crate::events::AcceptedEvent;
use crate::logs::OutputControl;
use crate::metrics::increment;
use crate::pool::Pool;
use crate::resolve::Target;
use crate::Engine;

/// `X-Amz-Invocation-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

#[derive(Debug, Clone)]
pub struct InvokeRequest {
    pub function: FunctionRef,
    pub invocation_type: InvocationType,
    pub payload: Bytes,
    /// `X-Amz-Log-Type: Tail`.
    pub tail_log: bool,
    /// `X-Amz-Client-Context`: base64 of a JSON object.
    pub client_context: Option<String>,
}

#[derive(Debug, Clone)]
pub struct InvokeResponse {
    pub status: u16,
    pub payload: Bytes,
    /// `Unhandled` when the function failed.
    pub function_error: Option<&'static str>,
    /// Base64 of the last 4 KB of the invocation's log.
    pub log_result: Option<String>,
    pub executed_version: Option<String>,
    /// The invocation's request id, which AWS also sends as the response's request id.
    pub request_id: Option<String>,
}

/// How long an invocation waits for an environment that is finishing its previous invocation
/// before it starts a new one.
const FINISHING_PATIENCE: Duration = Duration::from_millis(20);

/// Bytes of `Event` payloads that may wait in memory; past this, Invoke returns 429.
const MAX_WAITING_EVENT_BYTES: usize = 256 * 1024 * 1024;

/// Counts an event's payload as waiting until dropped.
struct WaitingEvent {
    engine: Engine,
    size: usize,
}

impl Drop for WaitingEvent {
    fn drop(&mut self) {
        self.engine.inner.event_bytes.fetch_sub(self.size, Ordering::AcqRel);
    }
}

/// What an invocation produced, before it is turned into a response.
struct Completion {
    payload: Bytes,
    failed: bool,
    /// Lines written before END, such as the timeout message.
    error_lines: Vec<String>,
    /// Appended to the REPORT line, such as `Status: timeout`.
    report_status: Option<String>,
    /// Whether the environment can take another invocation.
    reusable: bool,
}

fn error_payload(error_type: &str, message: &str) -> Bytes {
    Bytes::from(serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string())
}

fn check_payload(request: &InvokeRequest) -> Result<(), ApiError> {
    let limit = match request.invocation_type {
        InvocationType::Event => limits::ASYNC_PAYLOAD,
        _ => limits::SYNC_PAYLOAD,
    };
    if request.payload.len() > limit {
        return Err(ApiError::request_too_large(format!(
            "Request must be smaller than {limit} bytes for the InvokeFunction operation"
        )));
    }
    if !request.payload.is_empty() {
        serde_json::from_slice::<serde::de::IgnoredAny>(&request.payload).map_err(|err| {
            ApiError::invalid_request_content(format!(
                "Could not parse request body into json: Could not parse payload into json: {err}"
            ))
        })?;
    }
    Ok(())
}

fn decode_client_context(encoded: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(encoded) = encoded else { return Ok(None) };
    let invalid =
        || ApiError::invalid_request_content("Client context must be a valid Base64-encoded JSON object.");
    let raw = base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|_| invalid())?;
    serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&raw).map_err(|_| invalid())?;
    String::from_utf8(raw).map(Some).map_err(|_| invalid())
}

fn trace_id() -> String {
    let epoch = chrono::Utc::now().timestamp();
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("Root=1-{epoch:08x}-{};Parent={};Sampled=0", &random[..24], &random[16..])
}

fn epoch_ms() -> u64 {
    chrono::Utc::now().timestamp_millis().max(0) as u64
}

impl Engine {
    pub async fn invoke(&self, request: InvokeRequest) -> Result<InvokeResponse, ApiError> {
        let target = self.resolve_target(&request.function)?;
        check_payload(&request)?;
        let client_context = decode_client_context(request.client_context.as_deref())?;
        match request.invocation_type {
            InvocationType::DryRun => Ok(InvokeResponse {
                status: 204,
                payload: Bytes::new(),
                function_error: None,
                log_result: None,
                executed_version: None,
                request_id: None,
            }),
            InvocationType::Event => {
                let request_id = uuid::Uuid::new_v4().to_string();
                match self.event_sink() {
                    Some(sink) => {
                        let event = AcceptedEvent {
                            request_id: request_id.clone(),
                            function_name: request.function.name.clone(),
                            qualifier: request.function.qualifier.clone(),
                            payload: request.payload,
                            client_context,
                        };
                        sink.accept(event).await?;
                    }
                    None => {
                        self.dispatch_event(target, request_id.clone(), request.payload, client_context)?
                    }
                }
                Ok(InvokeResponse {
                    status: 202,
                    payload: Bytes::new(),
                    function_error: None,
                    log_result: None,
                    executed_version: None,
                    request_id: Some(request_id),
                })
            }
            InvocationType::RequestResponse => {
                // The invocation runs in its own task, so that it completes, as in Lambda, even
                // when the caller disconnects and its request is dropped.
                let engine = self.clone();
                let (payload, tail_log) = (request.payload, request.tail_log);
                let request_id = uuid::Uuid::new_v4().to_string();
                tokio::spawn(async move {
                    engine.invoke_sync(target, &request_id, payload, tail_log, client_context).await
                })
                .await
                .map_err(|err| ApiError::service(format!("The invocation failed: {err}")))?
            }
        }
    }

    /// Runs an `Event` invocation in the background, waiting while the account is throttled.
    /// Used only when no event sink is set.
    /// NOTE: the event lives only in memory; a server stop loses events not yet delivered.
    fn dispatch_event(
        &self,
        target: Target,
        request_id: String,
        payload: Bytes,
        client_context: Option<String>,
    ) -> Result<(), ApiError> {
        let size = payload.len().max(1);
        let waiting = self.inner.event_bytes.fetch_add(size, Ordering::AcqRel);
        if waiting + size > MAX_WAITING_EVENT_BYTES {
            self.inner.event_bytes.fetch_sub(size, Ordering::AcqRel);
            increment(&self.inner.metrics.throttles);
            return Err(ApiError::too_many_requests("FunctionInvocationRateLimitExceeded", "Rate Exceeded."));
        }
        let engine = self.clone();
        tokio::spawn(async move {
            let _waiting = WaitingEvent { engine: engine.clone(), size };
            let mut target = target;
            let mut delay = Duration::from_millis(50);
            loop {
                let attempt = engine.invoke_sync(
                    target.clone(),
                    &request_id,
                    payload.clone(),
                    false,
                    client_context.clone(),
                );
                match attempt.await {
                    Err(err)
                        if err.status == 429 && !engine.function_exists(&target.pool.version.config.name) =>
                    {
                        warn!(function = %target.pool.version.config.name, "throttled event dropped because its function was deleted");
                        return;
                    }
                    Err(err) if err.status == 429 => {
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(5));
                        // The function's reserved concurrency may have changed while the event waited.
                        target.reserved = engine.reserved_concurrency(&target.pool.version.config.name);
                    }
                    Err(err) => {
                        warn!(function = %target.pool.version.config.name, error = %err, "asynchronous invocation failed");
                        return;
                    }
                    Ok(_) => return,
                }
            }
        });
        Ok(())
    }

    /// Runs one invocation with the given request id.
    pub(crate) async fn invoke_sync(
        &self,
        target: Target,
        request_id: &str,
        payload: Bytes,
        tail_log: bool,
        client_context: Option<String>,
    ) -> Result<InvokeResponse, ApiError> {
        let _permit = self.admit(&target)?;
        let Target { pool, invoked_arn, .. } = target;
        increment(&self.inner.metrics.invocations);
        let request_id = request_id.to_string();
        let span = info_span!("invoke", request_id = %request_id, function = %pool.version.config.name, version = %pool.version.config.version);
        async move {
            let payload = if payload.is_empty() { Bytes::from_static(b"{}") } else { payload };
            let invocation = Invocation {
                request_id: request_id.clone(),
                payload,
                deadline_ms: 0,
                invoked_function_arn: invoked_arn,
                trace_id: trace_id(),
                client_context,
                cognito_identity: None,
            };
            let environment = match pool.acquire(FINISHING_PATIENCE).await {
                Some(environment) => environment,
                None => match self.cold_start(&pool).await? {
                    Ok(environment) => environment,
                    Err((environment, failure)) => {
                        return Ok(self
                            .report_init_failure(&pool, environment, failure, &request_id, tail_log)
                            .await)
                    }
                },
            };
            Ok(self.run(&pool, environment, invocation, tail_log).await)
        }
        .instrument(span)
        .await
    }

    /// Starts an environment and waits for its initialization.
    async fn cold_start(
        &self,
        pool: &Pool,
    ) -> Result<Result<Environment, (Environment, InitFailure)>, ApiError> {
        increment(&self.inner.metrics.cold_starts);
        let mut environment = self.inner.launcher.start(&pool.version, None).map_err(|err| {
            warn!(error = %err, "starting an environment failed");
            ApiError::service(format!("Failed to start an execution environment: {err}"))
        })?;
        debug!(environment = %environment.id, "environment started");
        let metrics = &self.inner.metrics;
        metrics
            .sandbox_start_micros
            .fetch_add(environment.sandbox_start.as_micros() as u64, Ordering::Relaxed);
        match environment.wait_initialized(self.inner.settings.init_timeout).await {
            Ok(()) => Ok(Ok(environment)),
            Err(failure) => {
                increment(&self.inner.metrics.init_failures);
                Ok(Err((environment, failure)))
            }
        }
    }

    async fn run(
        &self,
        pool: &Arc<Pool>,
        mut environment: Environment,
        mut invocation: Invocation,
        tail_log: bool,
    ) -> InvokeResponse {
        let config = &pool.version.config;
        let request_id = invocation.request_id.clone();
        let timeout = Duration::from_secs(config.timeout.into());
        invocation.deadline_ms = epoch_ms() + timeout.as_millis() as u64;
        start_log(&environment, &request_id, &config.version, tail_log).await;

        let started = Instant::now();
        let result = environment.run(invocation, timeout).await;
        let duration = started.elapsed();
        let memory = environment.max_memory_used();
        let result = match result {
            RunResult::Exited(status) if environment.out_of_memory() => RunResult::OutOfMemory(status),
            other => other,
        };
        let completion = self.complete(result, &request_id, timeout);

        let init_duration = environment.init_duration.take();
        let report = self.report_line(
            pool,
            &request_id,
            duration,
            memory,
            init_duration,
            completion.report_status.as_deref(),
        );
        let log_result = finish_log(&environment, completion.error_lines, &request_id, report).await;
        if completion.reusable {
            let deadline = tokio::time::Instant::from_std(started + timeout);
            let finishing = pool.finishing();
            let pool = pool.clone();
            tokio::spawn(async move {
                if environment.wait_ready(deadline).await && environment.freeze() {
                    pool.release(environment);
                }
                drop(finishing);
            });
        }
        InvokeResponse {
            status: 200,
            payload: completion.payload,
            function_error: completion.failed.then_some("Unhandled"),
            log_result,
            executed_version: Some(config.version.clone()),
            request_id: Some(request_id.to_string()),
        }
    }

    /// Turns how the invocation ended into the caller's payload, as Lambda words each case.
    fn complete(&self, result: RunResult, request_id: &str, timeout: Duration) -> Completion {
        let metrics = &self.inner.metrics;
        let failure = |payload: Bytes, error_lines: Vec<String>, report_status: Option<String>| Completion {
            payload,
            failed: true,
            error_lines,
            report_status,
            reusable: false,
        };
        match result {
            RunResult::Reported(Outcome::Response(payload)) => Completion {
                payload,
                failed: false,
                error_lines: vec![],
                report_status: None,
                reusable: true,
            },
            RunResult::Reported(Outcome::Error { error_type, body }) => {
                increment(&metrics.function_errors);
                Completion {
                    payload: normalize_error(error_type.as_deref(), body),
                    failed: true,
                    error_lines: vec![],
                    report_status: None,
                    reusable: true,
                }
            }
            RunResult::Reported(Outcome::ResponseTooLarge) => {
                increment(&metrics.function_errors);
                let message = format!(
                    "Response payload size exceeded maximum allowed payload size ({} bytes).",
                    limits::SYNC_RESPONSE
                );
                Completion {
                    payload: error_payload("Function.ResponseSizeTooLarge", &message),
                    failed: true,
                    error_lines: vec![],
                    report_status: None,
                    reusable: true,
                }
            }
            RunResult::TimedOut => {
                increment(&metrics.timeouts);
                let seconds = timeout.as_secs_f64();
                let message =
                    format!("RequestId: {request_id} Error: Task timed out after {seconds:.2} seconds");
                let line =
                    format!("{} {request_id} Task timed out after {seconds:.2} seconds", log_timestamp());
                failure(error_payload("Sandbox.Timedout", &message), vec![line], Some("timeout".into()))
            }
            RunResult::Exited(status) => {
                increment(&metrics.runtime_exits);
                let message = format!("RequestId: {request_id} Error: {}", status.describe());
                let line = format!("{message}\nRuntime.ExitError");
                failure(
                    error_payload("Runtime.ExitError", &message),
                    vec![line],
                    Some("error\tError Type: Runtime.ExitError".into()),
                )
            }
            RunResult::OutOfMemory(status) => {
                increment(&metrics.out_of_memory);
                let message = format!("RequestId: {request_id} Error: {}", status.describe());
                let line = format!("{message}\nRuntime.OutOfMemory");
                failure(
                    error_payload("Runtime.OutOfMemory", &message),
                    vec![line],
                    Some("error\tError Type: Runtime.OutOfMemory".into()),
                )
            }
            RunResult::Abandoned => {
                increment(&metrics.runtime_exits);
                let message = format!("RequestId: {request_id} Error: Runtime asked for the next event without reporting this one");
                failure(
                    error_payload("Runtime.InvalidResponse", &message),
                    vec![message.clone()],
                    Some("error".into()),
                )
            }
        }
    }

    fn report_line(
        &self,
        pool: &Pool,
        request_id: &str,
        duration: Duration,
        memory: Option<u64>,
        init_duration: Option<Duration>,
        status: Option<&str>,
    ) -> String {
        let config = &pool.version.config;
        let millis = duration.as_secs_f64() * 1000.0;
        let used_mb = memory.map_or(0, |bytes| bytes.div_ceil(1024 * 1024));
        let mut line = format!(
            "REPORT RequestId: {request_id}\tDuration: {millis:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {used_mb} MB",
            millis.ceil() as u64,
            config.memory_size,
        );
        if let Some(init) = init_duration {
            line.push_str(&format!("\tInit Duration: {:.2} ms", init.as_secs_f64() * 1000.0));
        }
        if let Some(status) = status {
            line.push_str(&format!("\tStatus: {status}"));
        }
        line
    }

    async fn report_init_failure(
        &self,
        pool: &Pool,
        environment: Environment,
        failure: InitFailure,
        request_id: &str,
        tail_log: bool,
    ) -> InvokeResponse {
        let config = &pool.version.config;
        start_log(&environment, request_id, &config.version, tail_log).await;
        let (payload, error_type) = match failure {
            InitFailure::Reported { error_type, body } => {
                let error_type = error_type.unwrap_or_else(|| "Runtime.InitError".to_string());
                (normalize_error(Some(&error_type), body), error_type)
            }
            InitFailure::Exited(status) => {
                let message = format!("RequestId: {request_id} Error: {}", status.describe());
                (error_payload("Runtime.ExitError", &message), "Runtime.ExitError".to_string())
            }
            InitFailure::TimedOut(limit) => {
                let message = format!(
                    "RequestId: {request_id} Error: Runtime did not finish initializing within {:.2} seconds",
                    limit.as_secs_f64()
                );
                (error_payload("Runtime.InitError", &message), "Runtime.InitError".to_string())
            }
        };
        let memory = environment.max_memory_used();
        let status = format!("error\tError Type: {error_type}");
        let report = self.report_line(
            pool,
            request_id,
            Duration::ZERO,
            memory,
            environment.init_duration,
            Some(&status),
        );
        let error_line = format!("RequestId: {request_id} Error: initialization failed with {error_type}");
        let log_result = finish_log(&environment, vec![error_line], request_id, report).await;
        InvokeResponse {
            status: 200,
            payload,
            function_error: Some("Unhandled"),
            log_result,
            executed_version: Some(config.version.clone()),
            request_id: Some(request_id.to_string()),
        }
    }
}

/// Keeps a runtime's error body when it is a JSON object, and wraps anything else.
fn normalize_error(error_type: Option<&str>, body: Bytes) -> Bytes {
    if serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&body).is_ok() {
        return body;
    }
    let message = String::from_utf8_lossy(&body);
    error_payload(error_type.unwrap_or("Unhandled"), message.trim())
}

fn log_timestamp() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Writes the START line after all output so far and waits until it is written.
async fn start_log(environment: &Environment, request_id: &str, version: &str, tail_log: bool) {
    let (started, acknowledged) = oneshot::channel();
    let line = format!("START RequestId: {request_id} Version: {version}");
    if environment.output.send(OutputControl::Start { line, capture_tail: tail_log, started }).is_ok() {
        let _ = acknowledged.await;
    }
}

/// Writes the closing lines after all output so far, and returns the base64 tail if one was
/// captured.
async fn finish_log(
    environment: &Environment,
    mut lines: Vec<String>,
    request_id: &str,
    report: String,
) -> Option<String> {
    lines.push(format!("END RequestId: {request_id}"));
    lines.push(report);
    let (sender, receiver) = oneshot::channel();
    environment.output.send(OutputControl::Finish { lines, tail: sender }).ok()?;
    let tail = tokio::time::timeout(Duration::from_secs(1), receiver).await.ok()?.ok()??;
    Some(base64::engine::general_purpose::STANDARD.encode(tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_error_keeps_json_objects() {
        let body = Bytes::from_static(br#"{"errorMessage":"x","errorType":"E"}"#);
        assert_eq!(normalize_error(Some("E"), body.clone()), body);
    }

    #[test]
    fn normalize_error_wraps_text() {
        let wrapped = normalize_error(Some("Custom"), Bytes::from_static(b"boom"));
        let value: serde_json::Value = serde_json::from_slice(&wrapped).unwrap();
        assert_eq!(value["errorType"], "Custom");
        assert_eq!(value["errorMessage"], "boom");
    }

    #[test]
    fn client_context_must_be_base64_json() {
        assert!(decode_client_context(Some("not base64!")).is_err());
        let encoded = base64::engine::general_purpose::STANDARD.encode(r#"{"custom":{"a":1}}"#);
        assert_eq!(decode_client_context(Some(&encoded)).unwrap().unwrap(), r#"{"custom":{"a":1}}"#);
    }

    #[test]
    fn payload_over_limit_is_rejected() {
        let request = InvokeRequest {
            function: FunctionRef::parse("f").unwrap(),
            invocation_type: InvocationType::RequestResponse,
            payload: Bytes::from(vec![b' '; limits::SYNC_PAYLOAD + 1]),
            tail_log: false,
            client_context: None,
        };
        let err = check_payload(&request).unwrap_err();
        assert_eq!(err.status, 413);
        assert_eq!(err.code, "RequestTooLargeException");
    }
}

//! Delivery of one event. It waits for a slot of its function and runs through the engine,
//! which it retries after a throttle and, with Lambda's delays, after a function error. Past
//! its maximum age it expires, and its outcome goes to the destinations and the dead-letter
//! target.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use flicker_engine::InvokeResponse;
use flicker_model::{ApiError, FunctionRef};
use tokio::sync::Semaphore;
use tracing::{debug, info_span, warn, Instrument};

use crate::journal::StoredEvent;
use crate::metrics::increment;
use crate::records::{dead_letter_attributes, destination_record, Condition};
use crate::Events;

/// First wait after a throttle; it doubles up to `THROTTLE_MAX_WAIT`.
const THROTTLE_FIRST_WAIT: Duration = Duration::from_millis(20);
const THROTTLE_MAX_WAIT: Duration = Duration::from_secs(5);

/// The events of one function: how many may run at once and how many are pending.
pub(crate) struct FunctionQueue {
    pub permits: Semaphore,
    pub depth: AtomicU64,
}

impl FunctionQueue {
    pub fn new(concurrency: usize) -> Self {
        Self { permits: Semaphore::new(concurrency.max(1)), depth: AtomicU64::new(0) }
    }
}

/// The end of an event's delivery.
enum Ending {
    /// `invocations` counts the runs of the event, `last` is the result of the last run.
    Finished { condition: Condition, invocations: u32, last: Option<InvokeResponse> },
    /// No outcome: the function no longer exists, or the server is stopping.
    Dropped,
}

/// The result of one run of an event.
enum Attempt {
    /// A concurrency limit rejected the run; it does not count as an attempt.
    Throttled,
    FunctionGone,
    Ran(InvokeResponse),
}

fn finished(condition: Condition, invocations: u32, last: Option<InvokeResponse>) -> Ending {
    Ending::Finished { condition, invocations, last }
}

impl Events {
    pub(crate) fn spawn_dispatch(&self, event: StoredEvent) {
        let events = self.clone();
        let span = info_span!(parent: None, "async_event", request_id = %event.request_id, function = %event.function_name);
        tokio::spawn(
            async move {
                let ending = events.deliver(&event).await;
                if events.stopping() {
                    return;
                }
                events.conclude(&event, ending).await;
                events.finish(&event);
            }
            .instrument(span),
        );
    }

    /// Runs the event until it succeeds, fails for good, expires or loses its function.
    async fn deliver(&self, event: &StoredEvent) -> Ending {
        let function = function_ref(event);
        let queue = self.function_queue(&event.function_name);
        let mut attempts = event.attempts;
        let mut last: Option<InvokeResponse> = None;
        let mut throttle_wait = THROTTLE_FIRST_WAIT;
        loop {
            let config = self.config_for(&event.function_name, event.qualifier.as_deref());
            let expires_ms = event.accepted_ms + i64::from(config.event_age_seconds()) * 1000;
            if now_ms() >= expires_ms {
                return finished(Condition::EventAgeExceeded, attempts, last);
            }
            if self.inner.engine.reserved_concurrency(&event.function_name) == Some(0) {
                // NOTE: Lambda's condition for events of a function with no reserved
                // concurrency is not documented; RetriesExhausted is an assumption.
                return finished(Condition::RetriesExhausted, attempts, last);
            }
            if self.stopping() {
                return Ending::Dropped;
            }

            let response = match self.attempt(&function, event, &queue).await {
                Attempt::Throttled => {
                    increment(&self.inner.metrics.throttled);
                    sleep_until_or(throttle_wait, expires_ms).await;
                    throttle_wait = (throttle_wait * 2).min(THROTTLE_MAX_WAIT);
                    continue;
                }
                Attempt::FunctionGone => return Ending::Dropped,
                Attempt::Ran(response) => response,
            };
            throttle_wait = THROTTLE_FIRST_WAIT;
            attempts += 1;
            if response.function_error.is_none() {
                return finished(Condition::Success, attempts, Some(response));
            }
            if attempts > config.retry_attempts() {
                return finished(Condition::RetriesExhausted, attempts, Some(response));
            }

            increment(&self.inner.metrics.retried);
            self.inner.journal.record_attempts(event.seq, attempts);
            let delay = self.retry_delay(attempts);
            debug!(attempts, delay_ms = delay.as_millis() as u64, "retrying after a function error");
            last = Some(response);
            sleep_until_or(delay, expires_ms).await;
        }
    }

    /// Runs the event once, in one of its function's slots.
    async fn attempt(&self, function: &FunctionRef, event: &StoredEvent, queue: &FunctionQueue) -> Attempt {
        let result = {
            let _permit = queue.permits.acquire().await;
            let payload = event.payload.clone();
            let context = event.client_context.clone();
            self.inner.engine.invoke_event(function, &event.request_id, payload, context).await
        };
        match result {
            Ok(response) => Attempt::Ran(response),
            Err(err) if err.status == 429 => Attempt::Throttled,
            Err(err) if err.code == "ResourceNotFoundException" => {
                warn!(error = %err, "the function of an asynchronous event no longer exists; the event is dropped");
                Attempt::FunctionGone
            }
            Err(err) => {
                warn!(error = %err, "an asynchronous event could not run; it counts as a failed attempt");
                Attempt::Ran(service_failure(&err))
            }
        }
    }

    /// Sends the outcome to the configured destination and, for failures, to the dead-letter
    /// target.
    async fn conclude(&self, event: &StoredEvent, ending: Ending) {
        let Ending::Finished { condition, invocations, last } = ending else {
            increment(&self.inner.metrics.dropped);
            return;
        };
        let config = self.config_for(&event.function_name, event.qualifier.as_deref());
        let function_arn = self.inner.engine.function_arn(&event.function_name);
        let record = || destination_record(event, &function_arn, condition, invocations, last.as_ref());
        match condition {
            Condition::Success => {
                increment(&self.inner.metrics.succeeded);
                if let Some(destination) = &config.on_success {
                    self.send_to_target(destination, record(), vec![]).await;
                }
                return;
            }
            Condition::RetriesExhausted => increment(&self.inner.metrics.failed),
            Condition::EventAgeExceeded => increment(&self.inner.metrics.expired),
        }
        warn!(condition = condition.as_str(), invocations, "asynchronous event failed");
        let mut handed_over = false;
        if let Some(destination) = &config.on_failure {
            handed_over |= self.send_to_target(destination, record(), vec![]).await;
        }
        if let Some(target) = self.inner.engine.dead_letter_target(&function_ref(event)) {
            let body = String::from_utf8_lossy(&event.payload).into_owned();
            let attributes = dead_letter_attributes(event, condition, last.as_ref());
            handed_over |= self.send_to_target(&target, body, attributes).await;
        }
        if handed_over {
            increment(&self.inner.metrics.dead_lettered);
        }
    }
}

/// The function and qualifier an event was sent to.
fn function_ref(event: &StoredEvent) -> FunctionRef {
    FunctionRef {
        name: event.function_name.clone(),
        qualifier: event.qualifier.clone(),
        region: None,
        account: None,
    }
}

/// Waits `delay`, or until the event's expiry if that comes first.
async fn sleep_until_or(delay: Duration, expires_ms: i64) {
    let remaining = Duration::from_millis((expires_ms - now_ms()).max(0) as u64);
    tokio::time::sleep(delay.min(remaining)).await;
}

/// Treats an engine error (an environment that failed to start) as a failed run, so that it
/// is retried like a function error.
fn service_failure(err: &ApiError) -> InvokeResponse {
    let payload = serde_json::json!({ "errorType": err.code, "errorMessage": err.message }).to_string();
    InvokeResponse {
        status: err.status,
        payload: payload.into(),
        function_error: Some("Unhandled"),
        log_result: None,
        executed_version: None,
        request_id: None,
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

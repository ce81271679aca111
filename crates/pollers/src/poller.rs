//! The pollers of one enabled mapping. Each poller long-polls the queue, gathers a batch,
//! deletes the messages that match no filter, invokes the function synchronously with the
//! rest and deletes what the function processed. Failed messages are left alone: they become
//! visible again after the queue's visibility timeout, and the queue's redrive policy moves
//! them to a dead-letter queue after `maxReceiveCount` receives.
//!
//! A mapping starts with one poller. A poller that brings back a full batch starts another,
//! up to `ScalingConfig.MaximumConcurrency` (or the account's concurrency limit), and an
//! extra poller that finds the queue empty, or is throttled, stops. Each poller runs at most
//! one invocation at a time, so the mapping never has more invocations in flight than pollers.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use flicker_engine::{Engine, InvocationType, InvokeRequest};
use flicker_model::{ApiError, FunctionRef};
use serde_json::Value;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::filter::Pattern;
use crate::mapping::Mapping;
use crate::metrics::{add, MappingMetrics};
use crate::record::{batch_result, filter_view, sqs_record, BatchResult};
use crate::source::{QueueSource, ReceivedMessage, SourceError};

/// Maximum wait of one receive, as SQS's `WaitTimeSeconds` allows.
const LONG_POLL: Duration = Duration::from_secs(20);
/// Most messages one receive returns.
const RECEIVE_MAX: usize = 10;
/// Estimated event size at which gathering stops, so that the event stays under the 6 MB
/// limit of a synchronous invocation even after one more receive of ten 256 KB messages.
const PAYLOAD_BUDGET: usize = 3 * 1024 * 1024;
/// Bytes a record adds to its body and attributes (ids, receipt handle, digests, ARN).
const RECORD_OVERHEAD: usize = 1024;
/// Pause after a failed receive or invocation before the poller tries again.
const ERROR_PAUSE: Duration = Duration::from_secs(1);
/// Maximum pause between retries of a throttled batch.
const MAX_THROTTLE_PAUSE: Duration = Duration::from_secs(5);
/// Visibility timeout assumed when the queue no longer reports one (SQS's default).
const DEFAULT_VISIBILITY: Duration = Duration::from_secs(30);

/// The engine, the queues and the region, shared by the pollers of every mapping.
pub(crate) struct PollerContext {
    pub engine: Engine,
    pub queues: Arc<dyn QueueSource>,
    pub region: String,
}

/// The running pollers of one mapping; dropping it stops them. A batch already sent to the
/// function is completed first, and its messages are deleted or left as usual.
pub(crate) struct Pollers {
    _stop: watch::Sender<()>,
}

/// State shared by the pollers of one mapping.
struct Shared {
    context: Arc<PollerContext>,
    mapping: Arc<Mapping>,
    function: FunctionRef,
    patterns: Vec<Pattern>,
    metrics: Arc<MappingMetrics>,
    /// Pollers running now.
    workers: AtomicUsize,
    max_workers: usize,
    /// The last error logged at warn level, so that a repeating error is logged once.
    last_error: Mutex<Option<String>>,
}

/// The end of a batch, as far as scaling is concerned.
enum Outcome {
    Processed,
    Throttled,
}

/// Starts the pollers of an enabled mapping.
pub(crate) fn start(
    context: Arc<PollerContext>,
    mapping: Arc<Mapping>,
    metrics: Arc<MappingMetrics>,
) -> Result<Pollers, ApiError> {
    let function = FunctionRef::parse(&mapping.function_arn)?;
    let max_workers = match mapping.maximum_concurrency() {
        Some(limit) => limit as usize,
        None => context.engine.settings().concurrency_limit,
    };
    let shared = Arc::new(Shared {
        patterns: mapping.patterns(),
        context,
        mapping,
        function,
        metrics,
        workers: AtomicUsize::new(1),
        max_workers: max_workers.max(1),
        last_error: Mutex::new(None),
    });
    let (stop, stopped) = watch::channel(());
    info!(uuid = %shared.mapping.uuid, queue = %shared.mapping.event_source_arn, "event source pollers started");
    tokio::spawn(run_worker(shared, stopped));
    Ok(Pollers { _stop: stop })
}

async fn run_worker(shared: Arc<Shared>, mut stopped: watch::Receiver<()>) {
    loop {
        // The stop channel changes only when its sender is dropped.
        let gathered = tokio::select! {
            biased;
            _ = stopped.changed() => return,
            gathered = gather(&shared) => gathered,
        };
        let messages = match gathered {
            Ok(messages) => messages,
            Err(err) => {
                shared.log_error(&err.to_string());
                if pause_or_stop(&mut stopped, ERROR_PAUSE).await {
                    return;
                }
                continue;
            }
        };
        if messages.is_empty() {
            if shared.retire_extra_worker() {
                return;
            }
            continue;
        }
        let full = messages.len() >= shared.mapping.batch_size as usize;
        match process(&shared, messages).await {
            Outcome::Throttled if shared.retire_extra_worker() => return,
            Outcome::Processed if full => shared.add_worker(&stopped),
            _ => {}
        }
    }
}

/// Waits for `pause`; returns true when the pollers were stopped meanwhile.
async fn pause_or_stop(stopped: &mut watch::Receiver<()>, pause: Duration) -> bool {
    tokio::select! {
        _ = stopped.changed() => true,
        _ = tokio::time::sleep(pause) => false,
    }
}

impl Shared {
    /// Stops this poller if it is not the last one.
    fn retire_extra_worker(&self) -> bool {
        let retired = self
            .workers
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n > 1).then(|| n - 1))
            .is_ok();
        if retired {
            debug!(uuid = %self.mapping.uuid, "event source poller stopped: queue empty or throttled");
        }
        retired
    }

    /// Starts one more poller unless the limit is reached.
    fn add_worker(self: &Arc<Self>, stopped: &watch::Receiver<()>) {
        let added = self
            .workers
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.max_workers).then(|| n + 1));
        if let Ok(before) = added {
            debug!(uuid = %self.mapping.uuid, pollers = before + 1, "event source poller added for a backlog");
            tokio::spawn(run_worker(self.clone(), stopped.clone()));
        }
    }

    /// Logs an error at warn level the first time in a row it occurs, then at debug level.
    fn log_error(&self, message: &str) {
        let mut last = self.last_error.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if last.as_deref() == Some(message) {
            debug!(uuid = %self.mapping.uuid, error = %message, "event source poller failed again");
        } else {
            warn!(uuid = %self.mapping.uuid, error = %message, "event source poller failed");
            *last = Some(message.to_string());
        }
    }

    fn clear_error(&self) {
        let mut last = self.last_error.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *last = None;
    }
}

fn estimated_size(message: &ReceivedMessage) -> usize {
    let attributes: usize = message
        .message_attributes
        .iter()
        .map(|(name, a)| {
            name.len()
                + a.data_type.len()
                + a.string_value.as_ref().map_or(0, String::len)
                + a.binary_value.as_ref().map_or(0, |b| b.len() * 4 / 3 + 4)
        })
        .sum();
    message.body.len() + attributes + RECORD_OVERHEAD
}

/// Gathers up to `BatchSize` messages: a long poll for the first ones, then, with a batching
/// window, more receives until the batch is full or the window has passed.
async fn gather(shared: &Shared) -> Result<Vec<ReceivedMessage>, SourceError> {
    let mapping = &shared.mapping;
    let queues = &shared.context.queues;
    let queue = mapping.event_source_arn.as_str();
    let batch_size = mapping.batch_size as usize;
    let mut batch = queues.receive(queue, batch_size.min(RECEIVE_MAX), LONG_POLL).await?;
    if batch.is_empty() || mapping.maximum_batching_window == 0 {
        return Ok(batch);
    }
    let deadline = Instant::now() + Duration::from_secs(mapping.maximum_batching_window.into());
    let mut size: usize = batch.iter().map(estimated_size).sum();
    while batch.len() < batch_size && size < PAYLOAD_BUDGET {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            break;
        }
        let wait = remaining.min(LONG_POLL);
        match queues.receive(queue, (batch_size - batch.len()).min(RECEIVE_MAX), wait).await {
            Ok(more) => {
                size += more.iter().map(estimated_size).sum::<usize>();
                batch.extend(more);
            }
            // The messages gathered so far are still delivered; the error shows again on the
            // next receive.
            Err(err) => {
                shared.log_error(&err.to_string());
                break;
            }
        }
    }
    Ok(batch)
}

/// Filters, invokes and settles one batch.
async fn process(shared: &Shared, messages: Vec<ReceivedMessage>) -> Outcome {
    let received_at = Instant::now();
    add(&shared.metrics.received, messages.len());
    let (messages, records) = apply_filters(shared, messages).await;
    if messages.is_empty() {
        return Outcome::Processed;
    }
    let payload = Bytes::from(serde_json::json!({ "Records": records }).to_string());
    match invoke_until_admitted(shared, payload, received_at).await {
        Ok(response) if response.function_error.is_some() => {
            debug!(uuid = %shared.mapping.uuid, "function failed; the batch returns after the visibility timeout");
            add(&shared.metrics.failed, messages.len());
            Outcome::Processed
        }
        Ok(response) => {
            shared.clear_error();
            settle(shared, &messages, &response.payload).await;
            Outcome::Processed
        }
        Err(err) if err.status == 429 => {
            add(&shared.metrics.failed, messages.len());
            Outcome::Throttled
        }
        Err(err) => {
            shared.log_error(&format!("invoking {} failed: {err}", shared.mapping.function_arn));
            add(&shared.metrics.failed, messages.len());
            tokio::time::sleep(ERROR_PAUSE).await;
            Outcome::Processed
        }
    }
}

/// Deletes the messages that match no filter; returns the others with their records.
async fn apply_filters(
    shared: &Shared,
    messages: Vec<ReceivedMessage>,
) -> (Vec<ReceivedMessage>, Vec<Value>) {
    let mapping = &shared.mapping;
    let region = &shared.context.region;
    let mut kept = Vec::with_capacity(messages.len());
    let mut records = Vec::with_capacity(messages.len());
    let mut dropped = Vec::new();
    for message in messages {
        let record = sqs_record(&message, &mapping.event_source_arn, region);
        let matched = shared.patterns.is_empty() || {
            let view = filter_view(&record);
            shared.patterns.iter().any(|pattern| pattern.matches(&view))
        };
        if matched {
            kept.push(message);
            records.push(record);
        } else {
            dropped.push(message);
        }
    }
    let deleted = delete_messages(shared, dropped.iter()).await;
    add(&shared.metrics.filtered, deleted);
    (kept, records)
}

/// Invokes the function, retrying while it is throttled and the batch's receipt handles are
/// still valid. Returns the last throttle error when they are about to expire.
async fn invoke_until_admitted(
    shared: &Shared,
    payload: Bytes,
    received_at: Instant,
) -> Result<flicker_engine::InvokeResponse, ApiError> {
    let queue = &shared.mapping.event_source_arn;
    let visibility = shared.context.queues.visibility_timeout(queue).unwrap_or(DEFAULT_VISIBILITY);
    let deadline = received_at + visibility.saturating_sub(Duration::from_secs(1));
    let mut pause = Duration::from_millis(100);
    loop {
        let request = InvokeRequest {
            function: shared.function.clone(),
            invocation_type: InvocationType::RequestResponse,
            payload: payload.clone(),
            tail_log: false,
            client_context: None,
        };
        add(&shared.metrics.invocations, 1);
        match shared.context.engine.invoke(request).await {
            Err(err) if err.status == 429 => {
                add(&shared.metrics.throttles, 1);
                if Instant::now() + pause >= deadline {
                    return Err(err);
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_THROTTLE_PAUSE);
            }
            result => return result,
        }
    }
}

/// Deletes the processed messages of a batch the function completed.
async fn settle(shared: &Shared, messages: &[ReceivedMessage], response: &[u8]) {
    let failed = if shared.mapping.reports_item_failures() {
        let ids: HashSet<&str> = messages.iter().map(|m| m.message_id.as_str()).collect();
        match batch_result(response, &ids) {
            BatchResult::Success => HashSet::new(),
            BatchResult::Partial(failed) => failed,
            BatchResult::Invalid(reason) => {
                warn!(uuid = %shared.mapping.uuid, %reason, "invalid batchItemFailures response; the whole batch failed");
                ids.into_iter().map(str::to_string).collect()
            }
        }
    } else {
        HashSet::new()
    };
    let processed = messages.iter().filter(|m| !failed.contains(&m.message_id));
    let deleted = delete_messages(shared, processed).await;
    add(&shared.metrics.deleted, deleted);
    add(&shared.metrics.failed, failed.len());
}

/// Deletes messages one by one; returns how many were deleted.
async fn delete_messages<'a>(shared: &Shared, messages: impl Iterator<Item = &'a ReceivedMessage>) -> usize {
    let queue = &shared.mapping.event_source_arn;
    let mut deleted = 0;
    for message in messages {
        match shared.context.queues.delete(queue, &message.receipt_handle).await {
            Ok(()) => deleted += 1,
            Err(err) => shared.log_error(&err.to_string()),
        }
    }
    deleted
}

//! Delivery of one log group's matching events: one task per log group with filters, which
//! batches events per filter and log stream and invokes each filter's destination with a
//! CloudWatch Logs subscription event.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use flicker_engine::{Engine, InvocationType, InvokeRequest, LogEvent, LogSubscription};
use flicker_model::limits;
use serde::Serialize;
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;
use tracing::{debug, warn};

use super::ActiveFilter;

/// Bytes of log events that may wait for a group's delivery task; the log writer drops events
/// past this and counts them.
pub(super) const MAX_QUEUED_BYTES: usize = 32 * 1024 * 1024;
/// Deliveries of one log group that may be encoding or invoking at once. When all are busy,
/// the group's task waits and its log events queue up.
const MAX_CONCURRENT_DELIVERIES: usize = 4;
/// How long a batch collects events before it is delivered.
const BATCH_WAIT: Duration = Duration::from_secs(1);
/// How often the task looks for batches that have waited long enough.
const BATCH_CHECK_INTERVAL: Duration = Duration::from_millis(200);
/// Events per delivery, as in CloudWatch Logs.
const MAX_BATCH_EVENTS: usize = 10_000;
/// Uncompressed size of a delivery's events, counted as in PutLogEvents: the message bytes
/// plus 26 bytes per event.
const MAX_BATCH_BYTES: usize = 1024 * 1024;
const EVENT_OVERHEAD_BYTES: usize = 26;
/// Attempts to hand a delivery to the destination while it is throttled.
const INVOKE_ATTEMPTS: u32 = 5;

/// Makes event ids unique among events of the same millisecond.
static EVENT_SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// Builds a 56-digit event id, as CloudWatch Logs uses: the timestamp followed by a sequence
/// number, so that ids sort in the order the events were written.
fn event_id(timestamp_ms: i64) -> String {
    let sequence = EVENT_SEQUENCE.fetch_add(1, Ordering::Relaxed);
    format!("{:020}{:036}", timestamp_ms.max(0), sequence)
}

/// One event of the `logEvents` list.
#[derive(Debug, Clone, Serialize)]
pub(super) struct SubscriptionLogEvent {
    pub id: String,
    pub timestamp: i64,
    pub message: String,
}

/// The JSON that is gzipped and base64-encoded into `awslogs.data`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SubscriptionMessage<'a> {
    pub message_type: &'static str,
    pub owner: &'a str,
    pub log_group: &'a str,
    pub log_stream: &'a str,
    pub subscription_filters: [&'a str; 1],
    pub log_events: &'a [SubscriptionLogEvent],
}

/// Encodes a subscription message as the payload Lambda receives: `{"awslogs": {"data":
/// base64(gzip(json))}}`.
pub(super) fn encode_payload(message: &SubscriptionMessage<'_>) -> std::io::Result<Bytes> {
    let json = serde_json::to_vec(message).map_err(std::io::Error::other)?;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&json)?;
    let compressed = encoder.finish()?;
    let data = base64::engine::general_purpose::STANDARD.encode(compressed);
    Ok(Bytes::from(serde_json::json!({ "awslogs": { "data": data } }).to_string()))
}

/// Events selected by one filter from one log stream, waiting to be delivered.
struct Batch {
    filter: ActiveFilter,
    stream: Arc<str>,
    events: Vec<SubscriptionLogEvent>,
    bytes: usize,
    started: Instant,
}

/// Starts the delivery task of a log group. It ends when `filters`' sender is dropped, after
/// delivering the batches it holds.
pub(super) fn spawn(
    engine: Engine,
    log_group: String,
    filters: watch::Receiver<Arc<Vec<ActiveFilter>>>,
    events: LogSubscription,
) {
    let owner = engine.settings().account_id.clone();
    let task = GroupDelivery {
        context: Arc::new(DeliveryContext { engine, owner, log_group }),
        batches: HashMap::new(),
        deliveries: Arc::new(Semaphore::new(MAX_CONCURRENT_DELIVERIES)),
    };
    tokio::spawn(task.run(filters, events));
}

/// The fields that every delivery of a log group shares.
struct DeliveryContext {
    engine: Engine,
    owner: String,
    log_group: String,
}

struct GroupDelivery {
    context: Arc<DeliveryContext>,
    /// Batches by filter name and log stream.
    batches: HashMap<(String, Arc<str>), Batch>,
    deliveries: Arc<Semaphore>,
}

impl GroupDelivery {
    async fn run(
        mut self,
        mut filters: watch::Receiver<Arc<Vec<ActiveFilter>>>,
        mut events: LogSubscription,
    ) {
        let mut current = filters.borrow_and_update().clone();
        let mut ticks = tokio::time::interval(BATCH_CHECK_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                changed = filters.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    current = filters.borrow_and_update().clone();
                    self.flush_replaced(&current).await;
                }
                event = events.recv() => match event {
                    Some(event) => self.add(&current, event).await,
                    None => break,
                },
                _ = ticks.tick() => self.flush_due().await,
            }
        }
        // Events already written when the last filter was deleted are still delivered.
        while let Some(event) = events.try_recv() {
            self.add(&current, event).await;
        }
        let keys: Vec<_> = self.batches.keys().cloned().collect();
        for key in keys {
            self.flush(&key).await;
        }
        debug!(log_group = %self.context.log_group, "log subscription delivery stopped");
    }

    async fn add(&mut self, filters: &[ActiveFilter], event: LogEvent) {
        for filter in filters {
            if !filter.pattern.matches(&event.message) {
                continue;
            }
            let key = (filter.record.filter_name.clone(), event.stream.clone());
            let batch = self.batches.entry(key.clone()).or_insert_with(|| Batch {
                filter: filter.clone(),
                stream: event.stream.clone(),
                events: Vec::new(),
                bytes: 0,
                started: Instant::now(),
            });
            batch.bytes += event.message.len() + EVENT_OVERHEAD_BYTES;
            batch.events.push(SubscriptionLogEvent {
                id: event_id(event.timestamp_ms),
                timestamp: event.timestamp_ms,
                message: event.message.clone(),
            });
            if batch.events.len() >= MAX_BATCH_EVENTS || batch.bytes >= MAX_BATCH_BYTES {
                self.flush(&key).await;
            }
        }
    }

    /// Delivers the batches that have waited `BATCH_WAIT`.
    async fn flush_due(&mut self) {
        let due: Vec<_> = self
            .batches
            .iter()
            .filter(|(_, batch)| batch.started.elapsed() >= BATCH_WAIT)
            .map(|(key, _)| key.clone())
            .collect();
        for key in due {
            self.flush(&key).await;
        }
    }

    /// Delivers the batches of filters that were deleted or changed, to the destination they
    /// were selected for.
    async fn flush_replaced(&mut self, filters: &[ActiveFilter]) {
        let replaced: Vec<_> = self
            .batches
            .iter()
            .filter(|(_, batch)| !filters.iter().any(|f| f.record == batch.filter.record))
            .map(|(key, _)| key.clone())
            .collect();
        for key in replaced {
            self.flush(&key).await;
        }
    }

    /// Hands a batch to a delivery task, waiting while `MAX_CONCURRENT_DELIVERIES` are busy.
    async fn flush(&mut self, key: &(String, Arc<str>)) {
        let Some(batch) = self.batches.remove(key) else { return };
        let Ok(permit) = self.deliveries.clone().acquire_owned().await else { return };
        let context = self.context.clone();
        tokio::spawn(async move {
            context.deliver(batch.filter, batch.stream, batch.events).await;
            drop(permit);
        });
    }
}

impl DeliveryContext {
    /// Encodes the events on a blocking thread, because gzip of a 1 MiB batch takes
    /// milliseconds of CPU.
    async fn encode(
        self: &Arc<Self>,
        filter_name: String,
        stream: Arc<str>,
        events: Vec<SubscriptionLogEvent>,
    ) -> Result<(Bytes, Vec<SubscriptionLogEvent>), String> {
        let context = self.clone();
        tokio::task::spawn_blocking(move || {
            let message = SubscriptionMessage {
                message_type: "DATA_MESSAGE",
                owner: &context.owner,
                log_group: &context.log_group,
                log_stream: &stream,
                subscription_filters: [&filter_name],
                log_events: &events,
            };
            let payload = encode_payload(&message).map_err(|err| err.to_string())?;
            Ok((payload, events))
        })
        .await
        .map_err(|err| err.to_string())?
    }

    /// Invokes the filter's destination with the events, split into several invocations when
    /// the encoded payload exceeds the `Event` payload limit.
    async fn deliver(
        self: &Arc<Self>,
        filter: ActiveFilter,
        stream: Arc<str>,
        events: Vec<SubscriptionLogEvent>,
    ) {
        let encoded = self.encode(filter.record.filter_name.clone(), stream.clone(), events).await;
        let (payload, mut events) = match encoded {
            Ok(encoded) => encoded,
            Err(err) => {
                warn!(log_group = %self.log_group, error = %err, "encoding a subscription event failed");
                return;
            }
        };
        if payload.len() > limits::ASYNC_PAYLOAD && events.len() > 1 {
            let second = events.split_off(events.len() / 2);
            Box::pin(self.deliver(filter.clone(), stream.clone(), events)).await;
            Box::pin(self.deliver(filter, stream, second)).await;
            return;
        }
        let request = InvokeRequest {
            function: filter.destination.clone(),
            invocation_type: InvocationType::Event,
            payload,
            tail_log: false,
            client_context: None,
        };
        let mut delay = Duration::from_millis(100);
        for attempt in 1..=INVOKE_ATTEMPTS {
            match self.engine.invoke(request.clone()).await {
                Ok(_) => {
                    debug!(
                        log_group = %self.log_group, filter = %filter.record.filter_name,
                        events = events.len(), "log events delivered"
                    );
                    return;
                }
                Err(err) if err.status == 429 && attempt < INVOKE_ATTEMPTS => {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(err) => {
                    warn!(
                        log_group = %self.log_group, filter = %filter.record.filter_name,
                        destination = %filter.record.destination_arn, events = events.len(), error = %err,
                        "delivering log events to the subscription destination failed; the events are dropped"
                    );
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn event_ids_have_56_digits_and_increase() {
        let first = event_id(1_700_000_000_000);
        let second = event_id(1_700_000_000_000);
        assert_eq!(first.len(), 56);
        assert!(first.chars().all(|c| c.is_ascii_digit()));
        assert!(second > first);
    }

    #[test]
    fn payload_decodes_to_the_message() {
        let events = vec![SubscriptionLogEvent { id: event_id(5), timestamp: 5, message: "hello".into() }];
        let message = SubscriptionMessage {
            message_type: "DATA_MESSAGE",
            owner: "000000000000",
            log_group: "/aws/lambda/f",
            log_stream: "2026/01/01/[$LATEST]abc",
            subscription_filters: ["errors"],
            log_events: &events,
        };
        let payload: serde_json::Value = serde_json::from_slice(&encode_payload(&message).unwrap()).unwrap();
        let data = payload["awslogs"]["data"].as_str().unwrap();
        let compressed = base64::engine::general_purpose::STANDARD.decode(data).unwrap();
        let mut json = String::new();
        flate2::read::GzDecoder::new(&compressed[..]).read_to_string(&mut json).unwrap();
        let decoded: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(decoded["messageType"], "DATA_MESSAGE");
        assert_eq!(decoded["owner"], "000000000000");
        assert_eq!(decoded["logGroup"], "/aws/lambda/f");
        assert_eq!(decoded["logStream"], "2026/01/01/[$LATEST]abc");
        assert_eq!(decoded["subscriptionFilters"], serde_json::json!(["errors"]));
        assert_eq!(decoded["logEvents"][0]["message"], "hello");
        assert_eq!(decoded["logEvents"][0]["timestamp"], 5);
    }
}

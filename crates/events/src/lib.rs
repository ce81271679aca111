//! Asynchronous invocations: the durable event journal, dispatch under the engine's
//! concurrency limits, retries after function errors, event age, destinations, dead-letter
//! targets and the event-invoke configurations that govern them. Events reach this crate
//! through the engine's `EventSink`, and every delivery goes back through the engine, so that
//! its limits apply. This crate does not parse HTTP.

mod configs;
mod dispatch;
mod journal;
mod metrics;
mod records;
mod targets;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use flicker_engine::{AcceptFuture, AcceptedEvent, Engine, EventSink};
use flicker_model::event_invoke::EventInvokeConfig;
use flicker_model::ApiError;
use tracing::{error, info};

pub use journal::JournalError;
pub use targets::{MessageAttribute, QueueTarget, SendFuture};

use dispatch::FunctionQueue;
use journal::{Journal, StoredEvent};
use metrics::EventMetrics;

/// Settings of asynchronous invocation.
#[derive(Debug, Clone)]
pub struct EventSettings {
    /// Factor applied to Lambda's retry delays of 60 and 120 seconds; 1.0 in production, small
    /// in tests.
    pub retry_scale: f64,
    /// Events of one function that run at the same time at most.
    pub function_concurrency: usize,
    /// Payload bytes of events accepted and not yet finished that are kept in memory; past
    /// this, `Event` invocations are throttled (429) instead of accepted.
    pub max_pending_bytes: usize,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self { retry_scale: 1.0, function_concurrency: 32, max_pending_bytes: 1024 * 1024 * 1024 }
    }
}

/// The asynchronous invocation service; cloning it is cheap and shares all state.
#[derive(Clone)]
pub struct Events {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    settings: EventSettings,
    journal: Journal,
    /// Event-invoke configurations by function name and qualifier. The lock is never held
    /// across an await.
    configs: RwLock<HashMap<(String, String), EventInvokeConfig>>,
    /// Serializes configuration writes so that each read-modify-write is atomic.
    config_writes: tokio::sync::Mutex<()>,
    queues: OnceLock<Arc<dyn QueueTarget>>,
    /// Per-function concurrency and queue depth.
    functions: Mutex<HashMap<String, Arc<FunctionQueue>>>,
    next_seq: AtomicU64,
    pending_bytes: AtomicUsize,
    metrics: EventMetrics,
    /// Set when the server stops: events still running stay in the journal for the next start.
    stopping: AtomicBool,
}

impl Events {
    /// Opens `DATA_DIR/events.db`, registers the service as the engine's event sink and
    /// dispatches every event that was accepted and not finished before the last stop.
    pub async fn start(engine: Engine, settings: EventSettings) -> Result<Self, JournalError> {
        let path = engine.settings().data_dir.join("events.db");
        let (journal, loaded) = open_journal(&path).await?;
        let configs = loaded
            .configs
            .into_iter()
            .map(|config| ((config.function_name.clone(), config.qualifier.clone()), config))
            .collect();
        let events = Self {
            inner: Arc::new(Inner {
                engine: engine.clone(),
                settings,
                journal,
                configs: RwLock::new(configs),
                config_writes: tokio::sync::Mutex::new(()),
                queues: OnceLock::new(),
                functions: Mutex::new(HashMap::new()),
                next_seq: AtomicU64::new(journal::max_seq(&loaded.events) + 1),
                pending_bytes: AtomicUsize::new(0),
                metrics: EventMetrics::default(),
                stopping: AtomicBool::new(false),
            }),
        };
        engine.set_event_sink(Arc::new(events.clone()));
        info!(events = loaded.events.len(), "unfinished asynchronous events loaded");
        for event in loaded.events {
            events.inner.pending_bytes.fetch_add(event.payload.len().max(1), Ordering::AcqRel);
            events.track(&event);
            events.spawn_dispatch(event);
        }
        Ok(events)
    }

    /// Sets the queue service that SQS destinations and dead-letter queues send to. Only the
    /// first call has an effect.
    pub fn set_queue_target(&self, target: Arc<dyn QueueTarget>) {
        if self.inner.queues.set(target).is_err() {
            tracing::warn!("a queue target was set already; the new one is ignored");
        }
    }

    /// Stops concluding events before the engine stops its environments, so that an event
    /// whose environment is killed by the stop is neither retried nor sent to a failure target
    /// but runs again after the next start.
    pub fn stop(&self) {
        self.inner.stopping.store(true, Ordering::Release);
    }

    fn stopping(&self) -> bool {
        self.inner.stopping.load(Ordering::Acquire)
    }

    fn queue_target(&self) -> Option<&Arc<dyn QueueTarget>> {
        self.inner.queues.get()
    }

    async fn accept_event(&self, event: AcceptedEvent) -> Result<(), ApiError> {
        let size = event.payload.len().max(1);
        let pending = self.inner.pending_bytes.fetch_add(size, Ordering::AcqRel);
        if pending + size > self.inner.settings.max_pending_bytes {
            self.inner.pending_bytes.fetch_sub(size, Ordering::AcqRel);
            metrics::increment(&self.inner.metrics.rejected);
            return Err(ApiError::too_many_requests("FunctionInvocationRateLimitExceeded", "Rate Exceeded."));
        }
        let stored = StoredEvent {
            seq: self.inner.next_seq.fetch_add(1, Ordering::Relaxed),
            request_id: event.request_id,
            function_name: event.function_name,
            qualifier: event.qualifier,
            payload: event.payload,
            client_context: event.client_context,
            accepted_ms: chrono::Utc::now().timestamp_millis(),
            attempts: 0,
        };
        if let Err(err) = self.inner.journal.insert(stored.clone()).await {
            self.inner.pending_bytes.fetch_sub(size, Ordering::AcqRel);
            error!(error = %err, request_id = %stored.request_id, "storing an event failed");
            return Err(ApiError::service(format!("Storing the event failed: {err}")));
        }
        metrics::increment(&self.inner.metrics.accepted);
        self.track(&stored);
        self.spawn_dispatch(stored);
        Ok(())
    }

    /// Counts an event in its function's queue depth.
    fn track(&self, event: &StoredEvent) {
        self.function_queue(&event.function_name).depth.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes a finished event out of the journal and the counts.
    fn finish(&self, event: &StoredEvent) {
        self.inner.journal.delete(event.seq);
        self.function_queue(&event.function_name).depth.fetch_sub(1, Ordering::Relaxed);
        self.inner.pending_bytes.fetch_sub(event.payload.len().max(1), Ordering::AcqRel);
    }

    fn function_queue(&self, name: &str) -> Arc<FunctionQueue> {
        let mut functions = self.inner.functions.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        functions
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(FunctionQueue::new(self.inner.settings.function_concurrency)))
            .clone()
    }

    fn retry_delay(&self, attempts: u32) -> Duration {
        let base = if attempts <= 1 { 60.0 } else { 120.0 };
        // A scale so large that the delay overflows a Duration waits as long as possible,
        // because the event's maximum age ends the wait anyway.
        Duration::try_from_secs_f64(base * self.inner.settings.retry_scale.max(0.0)).unwrap_or(Duration::MAX)
    }
}

/// Opens the journal on a blocking thread, because opening reads every unfinished event.
async fn open_journal(path: &Path) -> Result<(Journal, journal::Loaded), JournalError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || Journal::open(&path))
        .await
        .map_err(|err| JournalError::Commit(format!("opening the journal failed: {err}")))?
}

impl EventSink for Events {
    fn accept(&self, event: AcceptedEvent) -> AcceptFuture<'_> {
        Box::pin(self.accept_event(event))
    }

    fn render_metrics(&self) -> String {
        let functions = self.inner.functions.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let depths: Vec<(String, u64)> = functions
            .iter()
            .map(|(name, queue)| (name.clone(), queue.depth.load(Ordering::Relaxed)))
            .collect();
        drop(functions);
        self.inner.metrics.render(&depths)
    }
}

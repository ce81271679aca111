//! The control plane of event source mappings: create, read, list, update and delete, each
//! validated with AWS's errors, written to the store, and then applied to the running pollers.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use flicker_engine::Engine;
use flicker_model::{ApiError, FunctionRef};
use flicker_store::{SqliteStore, StoreError};
use serde::Serialize;
use tracing::{error, info, warn};

use crate::mapping::{
    self, CreateEventSourceMappingRequest, EventSource, EventSourceMappingConfiguration, FilterCriteria,
    Mapping, UpdateEventSourceMappingRequest,
};
use crate::metrics::{self, MappingMetrics, MetricsRow};
use crate::poller::{self, PollerContext, Pollers};
use crate::source::QueueSource;

/// `MaxItems` of ListEventSourceMappings when the client sends none.
const DEFAULT_LIST_ITEMS: usize = 100;

/// The message of ResourceNotFoundException for an unknown UUID.
const NOT_FOUND: &str = "The resource you requested does not exist.";

/// A failure to load the mappings at start-up.
#[derive(Debug, thiserror::Error)]
pub enum StartPollersError {
    /// the store could not be opened or read
    #[error("failed to load event source mappings")]
    Store(#[from] StoreError),
    /// the task that reads the store panicked or was cancelled
    #[error("loading event source mappings was interrupted")]
    Interrupted(#[source] tokio::task::JoinError),
    /// a stored mapping is not valid JSON
    #[error("stored event source mapping {uuid} is corrupt")]
    Corrupt {
        uuid: String,
        #[source]
        source: serde_json::Error,
    },
}

/// One page of ListEventSourceMappings.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventSourceMappingList {
    pub event_source_mappings: Vec<EventSourceMappingConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// Every mapping and its pollers; cloning it is cheap and shares all state.
#[derive(Clone)]
pub struct EventSourceMappings {
    inner: Arc<Inner>,
}

struct Inner {
    context: Arc<PollerContext>,
    store: Arc<SqliteStore>,
    /// Mappings by UUID. The lock is never held across an await.
    entries: Mutex<BTreeMap<String, Entry>>,
    /// Serializes control-plane writes, so that the duplicate check and the insert are atomic.
    control: tokio::sync::Mutex<()>,
}

struct Entry {
    mapping: Arc<Mapping>,
    metrics: Arc<MappingMetrics>,
    /// Running while the mapping is enabled.
    pollers: Option<Pollers>,
}

fn internal(what: &str, err: impl std::fmt::Display) -> ApiError {
    error!(error = %err, "{what} failed");
    ApiError::service(format!("{what} failed: {err}"))
}

fn now_epoch_seconds() -> f64 {
    let now = chrono::Utc::now();
    now.timestamp() as f64 + f64::from(now.timestamp_subsec_millis()) / 1000.0
}

/// Drops an empty filter list, which means no filtering and is not reported back.
fn non_empty(criteria: FilterCriteria) -> Option<FilterCriteria> {
    (!criteria.filters.is_empty()).then_some(criteria)
}

impl EventSourceMappings {
    /// Opens the mappings table of the database at `database`, loads every mapping and starts
    /// the pollers of the enabled ones. Must be called inside a Tokio runtime.
    pub async fn start(
        engine: Engine,
        queues: Arc<dyn QueueSource>,
        database: &Path,
    ) -> Result<Self, StartPollersError> {
        let database = database.to_path_buf();
        let (store, rows) = tokio::task::spawn_blocking(move || {
            let store = SqliteStore::open(&database)?;
            let rows = store.load_event_source_mappings()?;
            Ok::<_, StoreError>((store, rows))
        })
        .await
        .map_err(StartPollersError::Interrupted)??;
        let region = engine.settings().region.clone();
        let context = Arc::new(PollerContext { engine, queues, region });
        let registry = Self {
            inner: Arc::new(Inner {
                context,
                store: Arc::new(store),
                entries: Mutex::new(BTreeMap::new()),
                control: tokio::sync::Mutex::new(()),
            }),
        };
        for (uuid, json) in rows {
            let mapping: Mapping =
                serde_json::from_str(&json).map_err(|source| StartPollersError::Corrupt { uuid, source })?;
            registry.install(Arc::new(mapping), Arc::default());
        }
        info!(mappings = registry.entries().len(), "event source mappings loaded");
        Ok(registry)
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        self.inner.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn region(&self) -> &str {
        &self.inner.context.region
    }

    fn account(&self) -> &str {
        &self.inner.context.engine.settings().account_id
    }

    fn wire(&self, mapping: &Mapping, state: &'static str) -> EventSourceMappingConfiguration {
        mapping.to_wire(state, self.region(), self.account())
    }

    /// Puts a mapping in the registry, replacing any previous one with its UUID, and starts
    /// its pollers when it is enabled. The previous pollers stop when their entry is dropped.
    /// NOTE: a batch that the previous pollers already sent to the function still completes, so
    /// right after an update the mapping may briefly exceed its new `MaximumConcurrency`.
    fn install(&self, mapping: Arc<Mapping>, metrics: Arc<MappingMetrics>) {
        let pollers = if mapping.enabled {
            match poller::start(self.inner.context.clone(), mapping.clone(), metrics.clone()) {
                Ok(pollers) => Some(pollers),
                Err(err) => {
                    warn!(uuid = %mapping.uuid, error = %err, "event source mapping cannot poll");
                    None
                }
            }
        } else {
            None
        };
        let uuid = mapping.uuid.clone();
        let previous = self.entries().insert(uuid, Entry { mapping, metrics, pollers });
        drop(previous);
    }

    async fn persist(&self, mapping: &Mapping) -> Result<(), ApiError> {
        let store = self.inner.store.clone();
        let uuid = mapping.uuid.clone();
        let json = serde_json::to_string(mapping).map_err(|err| internal("serializing the mapping", err))?;
        tokio::task::spawn_blocking(move || store.save_event_source_mapping(&uuid, &json))
            .await
            .map_err(|err| internal("saving the event source mapping", err))?
            .map_err(|err| internal("saving the event source mapping", err))
    }

    /// Resolves `FunctionName` to the ARN of an existing function, with its qualifier.
    fn function_arn(&self, function_name: &str) -> Result<(FunctionRef, String), ApiError> {
        let reference = FunctionRef::parse(function_name)?;
        let engine = &self.inner.context.engine;
        match engine.get_function(&reference) {
            Ok(details) => Ok((reference, details.configuration.function_arn)),
            Err(err) if err.status == 404 => Err(ApiError::invalid_parameter("Function does not exist")),
            Err(err) => Err(err),
        }
    }

    fn check_queue(&self, queue_arn: &str) -> Result<(), ApiError> {
        if self.inner.context.queues.queue_exists(queue_arn) {
            return Ok(());
        }
        Err(ApiError::invalid_parameter(
            "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. \
             SQS Error Message: The specified queue does not exist.",
        ))
    }

    fn check_duplicate(
        &self,
        queue_arn: &str,
        function_arn: &str,
        function_name: &str,
    ) -> Result<(), ApiError> {
        let entries = self.entries();
        let existing = entries
            .values()
            .find(|e| e.mapping.event_source_arn == queue_arn && e.mapping.function_arn == function_arn);
        match existing {
            Some(entry) => Err(ApiError::conflict(format!(
                "An event source mapping with SQS arn (\" {queue_arn} \") and function (\" {function_name} \") \
                 already exists. Please update or delete the existing mapping with UUID {}",
                entry.mapping.uuid
            ))),
            None => Ok(()),
        }
    }

    /// Creates a mapping and starts its pollers at once. The response has `State` `Creating`.
    pub async fn create(
        &self,
        request: CreateEventSourceMappingRequest,
    ) -> Result<EventSourceMappingConfiguration, ApiError> {
        if let Some(source) = &request.self_managed_event_source {
            return Err(mapping::unsupported_source("self-managed Kafka", &source.to_string()));
        }
        let event_source_arn = request.event_source_arn.clone().unwrap_or_default();
        if let EventSource::Unsupported(service) = mapping::event_source(request.event_source_arn.as_deref())?
        {
            return Err(mapping::unsupported_source(&service, &event_source_arn));
        }
        let mapping = self.new_mapping(request, event_source_arn)?;
        let _control = self.inner.control.lock().await;
        let name = FunctionRef::parse(&mapping.function_arn)?.name;
        self.check_duplicate(&mapping.event_source_arn, &mapping.function_arn, &name)?;
        self.persist(&mapping).await?;
        let mapping = Arc::new(mapping);
        self.install(mapping.clone(), Arc::default());
        info!(uuid = %mapping.uuid, queue = %mapping.event_source_arn, function = %mapping.function_arn, "event source mapping created");
        Ok(self.wire(&mapping, "Creating"))
    }

    fn new_mapping(
        &self,
        request: CreateEventSourceMappingRequest,
        event_source_arn: String,
    ) -> Result<Mapping, ApiError> {
        if request.destination_config.is_some() {
            return Err(ApiError::invalid_parameter(
                "Unsupported DestinationConfig parameter for given event source mapping type.",
            ));
        }
        if request.starting_position.is_some() {
            // NOTE: this message is AWS's for a starting position that a stream type does not
            // support; the wording AWS uses for a queue is not recorded.
            return Err(ApiError::invalid_parameter(format!(
                "Unsupported starting position for arn type: {event_source_arn}"
            )));
        }

        let batch_size = match request.batch_size {
            Some(value) => mapping::batch_size(value)?,
            None => mapping::DEFAULT_BATCH_SIZE,
        };
        let window = request.maximum_batching_window_in_seconds.map(mapping::batching_window).transpose()?;
        let window = window.unwrap_or(0);
        mapping::batch_size_needs_window(batch_size, window)?;

        let filter_criteria = request.filter_criteria.map(mapping::filter_criteria).transpose()?;
        let function_response_types =
            mapping::function_response_types(request.function_response_types.unwrap_or_default())?;
        let scaling_config = request.scaling_config.map(mapping::scaling_config).transpose()?;

        let function_name = request.function_name.as_deref().unwrap_or_default();
        let (_, function_arn) = self.function_arn(function_name)?;
        self.check_queue(&event_source_arn)?;

        Ok(Mapping {
            uuid: uuid::Uuid::new_v4().to_string(),
            event_source_arn,
            function_arn,
            batch_size,
            maximum_batching_window: window,
            enabled: request.enabled.unwrap_or(true),
            filter_criteria: filter_criteria.and_then(non_empty),
            function_response_types,
            scaling_config: scaling_config.filter(|c| c.maximum_concurrency.is_some()),
            last_modified: now_epoch_seconds(),
        })
    }

    /// GetEventSourceMapping.
    pub fn get(&self, uuid: &str) -> Result<EventSourceMappingConfiguration, ApiError> {
        let entries = self.entries();
        let entry = entries.get(uuid).ok_or_else(|| ApiError::not_found(NOT_FOUND))?;
        Ok(self.wire(&entry.mapping, entry.mapping.state()))
    }

    /// ListEventSourceMappings, ordered by UUID. `marker` is the `NextMarker` of the previous
    /// page: the UUID of its last mapping.
    pub fn list(
        &self,
        event_source_arn: Option<&str>,
        function_name: Option<&str>,
        marker: Option<&str>,
        max_items: Option<i64>,
    ) -> Result<EventSourceMappingList, ApiError> {
        let max_items = match max_items {
            Some(value) if !(1..=10_000).contains(&value) => {
                return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{value}' at 'maxItems' failed to satisfy constraint: \
                     Member must have value {}",
                if value < 1 { "greater than or equal to 1" } else { "less than or equal to 10000" }
            )))
            }
            Some(value) => value as usize,
            None => DEFAULT_LIST_ITEMS,
        };
        let function_arn = function_name.map(|name| self.listed_function_arn(name)).transpose()?;
        let entries = self.entries();
        let mut selected = entries
            .values()
            .map(|e| &e.mapping)
            .filter(|m| marker.is_none_or(|after| m.uuid.as_str() > after))
            .filter(|m| event_source_arn.is_none_or(|arn| m.event_source_arn == arn))
            .filter(|m| function_arn.as_deref().is_none_or(|arn| m.function_arn == arn));
        let page: Vec<EventSourceMappingConfiguration> =
            selected.by_ref().take(max_items).map(|m| self.wire(m, m.state())).collect();
        let next_marker = match selected.next() {
            Some(_) => page.last().map(|m| m.uuid.clone()),
            None => None,
        };
        Ok(EventSourceMappingList { event_source_mappings: page, next_marker })
    }

    /// The ARN a `FunctionName` filter of ListEventSourceMappings selects, whether or not the
    /// function still exists.
    fn listed_function_arn(&self, function_name: &str) -> Result<String, ApiError> {
        let reference = FunctionRef::parse(function_name)?;
        let settings = self.inner.context.engine.settings();
        let arn = flicker_model::arn::function_arn(&settings.region, &settings.account_id, &reference.name);
        Ok(match reference.qualifier {
            Some(qualifier) => format!("{arn}:{qualifier}"),
            None => arn,
        })
    }

    /// UpdateEventSourceMapping: changes apply to the pollers at once.
    pub async fn update(
        &self,
        uuid: &str,
        request: UpdateEventSourceMappingRequest,
    ) -> Result<EventSourceMappingConfiguration, ApiError> {
        let _control = self.inner.control.lock().await;
        let (current, metrics) = {
            let entries = self.entries();
            let entry = entries.get(uuid).ok_or_else(|| ApiError::not_found(NOT_FOUND))?;
            (entry.mapping.clone(), entry.metrics.clone())
        };
        let updated = self.updated_mapping(&current, request)?;
        self.persist(&updated).await?;
        let state = match (current.enabled, updated.enabled) {
            (false, true) => "Enabling",
            (true, false) => "Disabling",
            _ => "Updating",
        };
        let updated = Arc::new(updated);
        self.install(updated.clone(), metrics);
        info!(uuid = %updated.uuid, enabled = updated.enabled, "event source mapping updated");
        Ok(self.wire(&updated, state))
    }

    fn updated_mapping(
        &self,
        current: &Mapping,
        request: UpdateEventSourceMappingRequest,
    ) -> Result<Mapping, ApiError> {
        if request.destination_config.is_some() {
            return Err(ApiError::invalid_parameter(
                "Unsupported DestinationConfig parameter for given event source mapping type.",
            ));
        }

        let mut updated = current.clone();
        if let Some(value) = request.batch_size {
            updated.batch_size = mapping::batch_size(value)?;
        }
        if let Some(value) = request.maximum_batching_window_in_seconds {
            updated.maximum_batching_window = mapping::batching_window(value)?;
        }
        mapping::batch_size_needs_window(updated.batch_size, updated.maximum_batching_window)?;

        if let Some(criteria) = request.filter_criteria {
            updated.filter_criteria = non_empty(mapping::filter_criteria(criteria)?);
        }
        if let Some(types) = request.function_response_types {
            updated.function_response_types = mapping::function_response_types(types)?;
        }
        if let Some(raw) = request.scaling_config {
            let config = mapping::scaling_config(raw)?;
            updated.scaling_config = config.maximum_concurrency.is_some().then_some(config);
        }
        if let Some(enabled) = request.enabled {
            updated.enabled = enabled;
        }

        if let Some(function_name) = request.function_name.as_deref() {
            let (reference, function_arn) = self.function_arn(function_name)?;
            if function_arn != current.function_arn {
                self.check_duplicate(&current.event_source_arn, &function_arn, &reference.name)?;
            }
            updated.function_arn = function_arn;
        }
        updated.last_modified = now_epoch_seconds();
        Ok(updated)
    }

    /// Deletes a mapping and stops its pollers. The response has `State` `Deleting`.
    pub async fn delete(&self, uuid: &str) -> Result<EventSourceMappingConfiguration, ApiError> {
        let _control = self.inner.control.lock().await;
        let mapping = {
            let entries = self.entries();
            entries.get(uuid).map(|e| e.mapping.clone()).ok_or_else(|| ApiError::not_found(NOT_FOUND))?
        };
        let store = self.inner.store.clone();
        let key = uuid.to_string();
        tokio::task::spawn_blocking(move || store.delete_event_source_mapping(&key))
            .await
            .map_err(|err| internal("deleting the event source mapping", err))?
            .map_err(|err| internal("deleting the event source mapping", err))?;
        let removed = self.entries().remove(uuid);
        drop(removed);
        info!(uuid = %uuid, "event source mapping deleted");
        Ok(self.wire(&mapping, "Deleting"))
    }

    /// Stops every poller; the mappings stay stored.
    pub fn shutdown(&self) {
        let mut entries = self.entries();
        for entry in entries.values_mut() {
            entry.pollers = None;
        }
    }

    /// Renders the per-mapping counters in the Prometheus text format.
    pub fn render_metrics(&self) -> String {
        let entries = self.entries();
        let rows: Vec<MetricsRow<'_>> = entries
            .values()
            .map(|e| MetricsRow {
                uuid: &e.mapping.uuid,
                function_arn: &e.mapping.function_arn,
                metrics: &e.metrics,
            })
            .collect();
        metrics::render(&rows)
    }
}

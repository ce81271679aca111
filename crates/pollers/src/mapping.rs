//! An event source mapping as Flicker stores it, its wire form, the request bodies of
//! CreateEventSourceMapping and UpdateEventSourceMapping, and their validation with AWS's
//! errors. Nothing here performs I/O.

use flicker_model::ApiError;
use serde::{Deserialize, Serialize};

use crate::filter::{Pattern, INVALID_PATTERN};

/// `FunctionResponseTypes` value that lets a function report failed messages one by one.
pub const REPORT_BATCH_ITEM_FAILURES: &str = "ReportBatchItemFailures";

/// `BatchSize` of an SQS mapping created without one.
pub const DEFAULT_BATCH_SIZE: u32 = 10;
/// Largest `BatchSize` of a standard SQS queue.
pub const MAX_BATCH_SIZE: u32 = 10_000;
/// Largest `BatchSize` allowed without a batching window.
pub const MAX_BATCH_SIZE_WITHOUT_WINDOW: u32 = 10;
/// Largest `MaximumBatchingWindowInSeconds`.
pub const MAX_BATCHING_WINDOW: u32 = 300;
/// Bounds of `ScalingConfig.MaximumConcurrency`.
pub const MIN_MAXIMUM_CONCURRENCY: u32 = 2;
pub const MAX_MAXIMUM_CONCURRENCY: u32 = 1000;
/// Filters allowed in one `FilterCriteria`.
pub const MAX_FILTERS: usize = 5;
/// The longest `Pattern` of a filter, in characters (the service model's limit).
pub const MAX_PATTERN_LENGTH: usize = 4096;

/// `FilterCriteria`: a message is delivered when it matches any of the filters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FilterCriteria {
    #[serde(default)]
    pub filters: Vec<Filter>,
}

/// One filter: `Pattern` is the text of an EventBridge event pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Filter {
    #[serde(default)]
    pub pattern: Option<String>,
}

/// `ScalingConfig`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScalingConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_concurrency: Option<u32>,
}

/// A mapping as Flicker stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mapping {
    pub uuid: String,
    pub event_source_arn: String,
    /// The function ARN, with the qualifier when the mapping names one.
    pub function_arn: String,
    pub batch_size: u32,
    pub maximum_batching_window: u32,
    pub enabled: bool,
    pub filter_criteria: Option<FilterCriteria>,
    pub function_response_types: Vec<String>,
    pub scaling_config: Option<ScalingConfig>,
    /// Seconds since the epoch, as `LastModified` is sent.
    pub last_modified: f64,
}

impl Mapping {
    /// Whether the function reports failed messages by id.
    pub fn reports_item_failures(&self) -> bool {
        self.function_response_types.iter().any(|t| t == REPORT_BATCH_ITEM_FAILURES)
    }

    /// `ScalingConfig.MaximumConcurrency`, if set.
    pub fn maximum_concurrency(&self) -> Option<u32> {
        self.scaling_config.and_then(|c| c.maximum_concurrency)
    }

    /// Compiles the filters; an empty list lets every message through.
    pub fn patterns(&self) -> Vec<Pattern> {
        let filters = self.filter_criteria.iter().flat_map(|c| c.filters.iter());
        filters.filter_map(|f| f.pattern.as_deref()).filter_map(|text| Pattern::parse(text).ok()).collect()
    }

    /// Builds the wire form with the given `State`.
    pub fn to_wire(
        &self,
        state: &'static str,
        region: &str,
        account: &str,
    ) -> EventSourceMappingConfiguration {
        EventSourceMappingConfiguration {
            uuid: self.uuid.clone(),
            batch_size: self.batch_size,
            maximum_batching_window_in_seconds: self.maximum_batching_window,
            event_source_arn: self.event_source_arn.clone(),
            filter_criteria: self.filter_criteria.clone(),
            function_arn: self.function_arn.clone(),
            last_modified: self.last_modified,
            state,
            state_transition_reason: "USER_INITIATED",
            function_response_types: self.function_response_types.clone(),
            scaling_config: self.scaling_config,
            event_source_mapping_arn: format!(
                "arn:aws:lambda:{region}:{account}:event-source-mapping:{}",
                self.uuid
            ),
        }
    }

    /// Returns the `State` of a mapping at rest: `Enabled` or `Disabled`.
    pub fn state(&self) -> &'static str {
        if self.enabled {
            "Enabled"
        } else {
            "Disabled"
        }
    }
}

/// `EventSourceMappingConfiguration`, the body of every mapping operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventSourceMappingConfiguration {
    #[serde(rename = "UUID")]
    pub uuid: String,
    pub batch_size: u32,
    pub maximum_batching_window_in_seconds: u32,
    pub event_source_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_criteria: Option<FilterCriteria>,
    pub function_arn: String,
    pub last_modified: f64,
    pub state: &'static str,
    pub state_transition_reason: &'static str,
    pub function_response_types: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scaling_config: Option<ScalingConfig>,
    pub event_source_mapping_arn: String,
}

/// The body of CreateEventSourceMapping. Members that apply only to streams or Kafka are
/// read so that they can be rejected for a queue.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateEventSourceMappingRequest {
    pub event_source_arn: Option<String>,
    pub function_name: Option<String>,
    pub enabled: Option<bool>,
    pub batch_size: Option<i64>,
    pub filter_criteria: Option<FilterCriteria>,
    pub maximum_batching_window_in_seconds: Option<i64>,
    pub function_response_types: Option<Vec<String>>,
    pub scaling_config: Option<RawScalingConfig>,
    pub starting_position: Option<String>,
    pub destination_config: Option<serde_json::Value>,
    pub self_managed_event_source: Option<serde_json::Value>,
}

/// The body of UpdateEventSourceMapping; absent members keep their value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateEventSourceMappingRequest {
    pub function_name: Option<String>,
    pub enabled: Option<bool>,
    pub batch_size: Option<i64>,
    pub filter_criteria: Option<FilterCriteria>,
    pub maximum_batching_window_in_seconds: Option<i64>,
    pub function_response_types: Option<Vec<String>>,
    pub scaling_config: Option<RawScalingConfig>,
    pub destination_config: Option<serde_json::Value>,
}

/// `ScalingConfig` as a client sends it, before its range is checked.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RawScalingConfig {
    pub maximum_concurrency: Option<i64>,
}

fn range_error(value: i64, field: &str, min: i64, max: i64) -> Option<ApiError> {
    let constraint = if value < min {
        format!("Member must have value greater than or equal to {min}")
    } else if value > max {
        format!("Member must have value less than or equal to {max}")
    } else {
        return None;
    };
    Some(ApiError::validation(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"
    )))
}

/// Checks `BatchSize` against the API model's range.
pub fn batch_size(value: i64) -> Result<u32, ApiError> {
    match range_error(value, "batchSize", 1, i64::from(MAX_BATCH_SIZE)) {
        Some(error) => Err(error),
        None => Ok(value as u32),
    }
}

/// Checks `MaximumBatchingWindowInSeconds` against the API model's range.
pub fn batching_window(value: i64) -> Result<u32, ApiError> {
    match range_error(value, "maximumBatchingWindowInSeconds", 0, i64::from(MAX_BATCHING_WINDOW)) {
        Some(error) => Err(error),
        None => Ok(value as u32),
    }
}

/// Checks `ScalingConfig.MaximumConcurrency` against the API model's range.
pub fn scaling_config(raw: RawScalingConfig) -> Result<ScalingConfig, ApiError> {
    let Some(value) = raw.maximum_concurrency else {
        return Ok(ScalingConfig { maximum_concurrency: None });
    };
    let (min, max) = (i64::from(MIN_MAXIMUM_CONCURRENCY), i64::from(MAX_MAXIMUM_CONCURRENCY));
    match range_error(value, "scalingConfig.maximumConcurrency", min, max) {
        Some(error) => Err(error),
        None => Ok(ScalingConfig { maximum_concurrency: Some(value as u32) }),
    }
}

/// Checks `FunctionResponseTypes`: at most one member, `ReportBatchItemFailures`.
pub fn function_response_types(values: Vec<String>) -> Result<Vec<String>, ApiError> {
    let valid = values.len() <= 1 && values.iter().all(|v| v == REPORT_BATCH_ITEM_FAILURES);
    if valid {
        return Ok(values);
    }
    Err(ApiError::validation(format!(
        "1 validation error detected: Value '[{}]' at 'functionResponseTypes' failed to satisfy \
         constraint: Member must satisfy constraint: [Member must satisfy enum value set: \
         [{REPORT_BATCH_ITEM_FAILURES}]]",
        values.join(", ")
    )))
}

/// Checks every pattern of `FilterCriteria`. An empty filter list is kept, as AWS does.
pub fn filter_criteria(criteria: FilterCriteria) -> Result<FilterCriteria, ApiError> {
    if criteria.filters.len() > MAX_FILTERS {
        // NOTE: the wording of this message is not taken from a recorded AWS response.
        return Err(ApiError::invalid_parameter(format!(
            "FilterCriteria has {} filters, more than the limit of {MAX_FILTERS} for an event source mapping.",
            criteria.filters.len()
        )));
    }
    for (index, filter) in criteria.filters.iter().enumerate() {
        let text = filter.pattern.as_deref().unwrap_or_default();
        if text.chars().count() > MAX_PATTERN_LENGTH {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{text}' at 'filterCriteria.filters.{}.member.pattern' \
                 failed to satisfy constraint: Member must have length less than or equal to {MAX_PATTERN_LENGTH}",
                index + 1
            )));
        }
        Pattern::parse(text).map_err(|_| ApiError::invalid_parameter(INVALID_PATTERN))?;
    }
    Ok(criteria)
}

/// Rejects a batch size above 10 without a batching window, as AWS does for queues.
pub fn batch_size_needs_window(batch_size: u32, window: u32) -> Result<(), ApiError> {
    if batch_size > MAX_BATCH_SIZE_WITHOUT_WINDOW && window == 0 {
        return Err(ApiError::invalid_parameter(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
        ));
    }
    Ok(())
}

/// The kind of event source an ARN names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventSource {
    /// A queue: its name.
    Queue(String),
    /// A source that this server does not poll, by its service name.
    Unsupported(String),
}

/// Classifies `EventSourceArn` by its service.
pub fn event_source(arn: Option<&str>) -> Result<EventSource, ApiError> {
    let unrecognized = || ApiError::invalid_parameter("Unrecognized event source.");
    let arn = arn.filter(|a| !a.is_empty()).ok_or_else(unrecognized)?;
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [scheme, _partition, service, _region, _account, resource] = parts[..] else {
        return Err(unrecognized());
    };
    if scheme != "arn" || resource.is_empty() {
        return Err(unrecognized());
    }
    match service {
        "sqs" => Ok(EventSource::Queue(resource.to_string())),
        "kinesis" | "dynamodb" | "kafka" | "mq" | "docdb" | "rds" => {
            Ok(EventSource::Unsupported(service.to_string()))
        }
        _ => Err(unrecognized()),
    }
}

/// Builds the error for a source that exists in AWS but that this server does not poll.
/// `source` is the source's ARN, or its endpoints for a self-managed source.
pub fn unsupported_source(service: &str, source: &str) -> ApiError {
    ApiError::invalid_parameter(format!(
        "Event source {source} is a {service} source, which this server does not support. \
         Supported event sources: Amazon SQS queues of the built-in queue service (arn:aws:sqs:...)."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_size_range() {
        assert_eq!(batch_size(1).unwrap(), 1);
        assert_eq!(batch_size(10_000).unwrap(), 10_000);
        let low = batch_size(0).unwrap_err();
        assert_eq!(low.code, "ValidationException");
        assert!(low.message.contains("Value '0' at 'batchSize'"), "{}", low.message);
        assert!(batch_size(10_001).unwrap_err().message.contains("less than or equal to 10000"));
    }

    #[test]
    fn large_batch_needs_window() {
        assert!(batch_size_needs_window(10, 0).is_ok());
        assert!(batch_size_needs_window(11, 1).is_ok());
        let error = batch_size_needs_window(11, 0).unwrap_err();
        assert_eq!(error.code, "InvalidParameterValueException");
    }

    #[test]
    fn scaling_config_range() {
        let raw = |value| RawScalingConfig { maximum_concurrency: Some(value) };
        assert!(scaling_config(raw(1)).is_err());
        assert_eq!(scaling_config(raw(2)).unwrap().maximum_concurrency, Some(2));
        assert!(scaling_config(raw(1001)).is_err());
    }

    #[test]
    fn response_types_accept_only_batch_item_failures() {
        assert!(function_response_types(vec![]).is_ok());
        assert!(function_response_types(vec![REPORT_BATCH_ITEM_FAILURES.into()]).is_ok());
        assert!(function_response_types(vec!["Other".into()]).is_err());
    }

    #[test]
    fn filters_are_checked() {
        let criteria = |patterns: &[&str]| FilterCriteria {
            filters: patterns.iter().map(|p| Filter { pattern: Some(p.to_string()) }).collect(),
        };
        assert!(filter_criteria(criteria(&[r#"{"body": {"a": ["b"]}}"#])).is_ok());
        let error = filter_criteria(criteria(&["simple string"])).unwrap_err();
        assert_eq!(error.message, INVALID_PATTERN);
        assert!(filter_criteria(criteria(&["{}"; 6])).is_err());
    }

    #[test]
    fn event_source_kinds() {
        let queue = event_source(Some("arn:aws:sqs:us-east-1:000000000000:orders")).unwrap();
        assert_eq!(queue, EventSource::Queue("orders".into()));
        let stream = event_source(Some("arn:aws:kinesis:us-east-1:000000000000:stream/s")).unwrap();
        assert_eq!(stream, EventSource::Unsupported("kinesis".into()));
        assert!(event_source(None).is_err());
        assert!(event_source(Some("not an arn")).is_err());
    }
}

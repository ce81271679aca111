//! Event-invoke configurations (retries, event age and destinations of asynchronous
//! invocations) and dead-letter targets: stored form, wire form and validation.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::ApiError;

/// Retries after a function error when no configuration sets `MaximumRetryAttempts`.
pub const DEFAULT_MAXIMUM_RETRY_ATTEMPTS: u32 = 2;
/// Maximum age of an event when no configuration sets `MaximumEventAgeInSeconds`.
pub const DEFAULT_MAXIMUM_EVENT_AGE_SECONDS: u32 = 21600;

/// The `DestinationArn` pattern of the Lambda API model, reported verbatim in errors.
const DESTINATION_PATTERN: &str = r"$|kafka://([^.]([a-zA-Z0-9\-_.]{0,248}))|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*)";
const DESTINATION_MAX: usize = 350;

static DESTINATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!("^(?:{DESTINATION_PATTERN})$")).expect("destination pattern compiles")
});

/// The `ResourceArn` pattern that `DeadLetterConfig.TargetArn` must match.
const RESOURCE_ARN_PATTERN: &str = r"(arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()";

static RESOURCE_ARN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!("^(?:{RESOURCE_ARN_PATTERN})$")).expect("resource ARN pattern compiles")
});

/// One function's or qualifier's configuration, as Flicker stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventInvokeConfig {
    pub function_name: String,
    /// `$LATEST`, a version number or an alias.
    pub qualifier: String,
    pub maximum_retry_attempts: Option<u32>,
    pub maximum_event_age_seconds: Option<u32>,
    pub on_success: Option<String>,
    pub on_failure: Option<String>,
    /// Seconds since the epoch, as the API sends `LastModified`.
    pub last_modified: f64,
}

impl EventInvokeConfig {
    /// Retries after a function error, with Lambda's default.
    pub fn retry_attempts(&self) -> u32 {
        self.maximum_retry_attempts.unwrap_or(DEFAULT_MAXIMUM_RETRY_ATTEMPTS)
    }

    /// Returns the maximum event age in seconds, with Lambda's default.
    pub fn event_age_seconds(&self) -> u32 {
        self.maximum_event_age_seconds.unwrap_or(DEFAULT_MAXIMUM_EVENT_AGE_SECONDS)
    }

    /// Builds the wire form; `function_arn` is the unqualified ARN.
    pub fn to_wire(&self, function_arn: &str) -> FunctionEventInvokeConfig {
        FunctionEventInvokeConfig {
            last_modified: self.last_modified,
            function_arn: format!("{function_arn}:{}", self.qualifier),
            maximum_retry_attempts: self.maximum_retry_attempts,
            maximum_event_age_in_seconds: self.maximum_event_age_seconds,
            destination_config: DestinationConfig {
                on_success: Destination { destination: self.on_success.clone() },
                on_failure: Destination { destination: self.on_failure.clone() },
            },
        }
    }
}

/// `FunctionEventInvokeConfig` as the API returns it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionEventInvokeConfig {
    pub last_modified: f64,
    pub function_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_retry_attempts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_event_age_in_seconds: Option<u32>,
    pub destination_config: DestinationConfig,
}

/// `DestinationConfig`; an absent side is sent as an empty object, as AWS does.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DestinationConfig {
    #[serde(default)]
    pub on_success: Destination,
    #[serde(default)]
    pub on_failure: Destination,
}

/// `OnSuccess` or `OnFailure`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Destination {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
}

/// The body of PutFunctionEventInvokeConfig and UpdateFunctionEventInvokeConfig.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventInvokeConfigRequest {
    pub maximum_retry_attempts: Option<i64>,
    pub maximum_event_age_in_seconds: Option<i64>,
    pub destination_config: Option<RequestDestinationConfig>,
}

/// `DestinationConfig` in a request, where either side may be missing.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RequestDestinationConfig {
    pub on_success: Option<Destination>,
    pub on_failure: Option<Destination>,
}

/// The body of ListFunctionEventInvokeConfigs.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionEventInvokeConfigList {
    pub function_event_invoke_configs: Vec<FunctionEventInvokeConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// The kind of resource a destination or dead-letter ARN names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    Function,
    Queue,
    Topic,
    EventBus,
    Bucket,
}

/// Classifies an ARN by its service, or `None` for services that cannot receive records.
pub fn target_kind(arn: &str) -> Option<TargetKind> {
    let service = arn.split(':').nth(2)?;
    match service {
        "lambda" => Some(TargetKind::Function),
        "sqs" => Some(TargetKind::Queue),
        "sns" => Some(TargetKind::Topic),
        "events" => Some(TargetKind::EventBus),
        "s3" => Some(TargetKind::Bucket),
        _ => None,
    }
}

fn validation(value: &str, field: &str, rule: &str) -> ApiError {
    ApiError::validation(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {rule}"
    ))
}

/// Checks `MaximumRetryAttempts` (0 to 2).
pub fn maximum_retry_attempts(value: i64) -> Result<u32, ApiError> {
    check_range(value, "maximumRetryAttempts", 0, 2)
}

/// Checks `MaximumEventAgeInSeconds` (60 to 21600).
pub fn maximum_event_age(value: i64) -> Result<u32, ApiError> {
    check_range(value, "maximumEventAgeInSeconds", 60, 21600)
}

fn check_range(value: i64, field: &str, min: u32, max: u32) -> Result<u32, ApiError> {
    if value < i64::from(min) {
        let rule = format!("Member must have value greater than or equal to {min}");
        return Err(validation(&value.to_string(), field, &rule));
    }
    if value > i64::from(max) {
        let rule = format!("Member must have value less than or equal to {max}");
        return Err(validation(&value.to_string(), field, &rule));
    }
    Ok(value as u32)
}

/// Checks a destination ARN against the API model's pattern; `field` is
/// `destinationConfig.onSuccess.destination` or `destinationConfig.onFailure.destination`.
pub fn destination_arn(value: &str, field: &str) -> Result<(), ApiError> {
    if value.len() > DESTINATION_MAX {
        let rule = format!("Member must have length less than or equal to {DESTINATION_MAX}");
        return Err(validation(value, field, &rule));
    }
    if !DESTINATION.is_match(value) {
        let rule = format!("Member must satisfy regular expression pattern: {DESTINATION_PATTERN}");
        return Err(validation(value, field, &rule));
    }
    Ok(())
}

/// Checks `DeadLetterConfig.TargetArn`; an empty value removes the target.
pub fn dead_letter_target(value: &str) -> Result<Option<String>, ApiError> {
    if !RESOURCE_ARN.is_match(value) {
        let rule = format!("Member must satisfy regular expression pattern: {RESOURCE_ARN_PATTERN}");
        return Err(validation(value, "deadLetterConfig.targetArn", &rule));
    }
    if value.is_empty() {
        return Ok(None);
    }
    match target_kind(value) {
        Some(TargetKind::Queue | TargetKind::Topic | TargetKind::Function) => Ok(Some(value.to_string())),
        _ => Err(ApiError::invalid_parameter(format!(
            "The target ARN {value} is invalid. A dead-letter target must be an SQS queue, an SNS topic \
             or a Lambda function."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_attempts_range() {
        assert_eq!(maximum_retry_attempts(0).unwrap(), 0);
        assert_eq!(maximum_retry_attempts(2).unwrap(), 2);
        let err = maximum_retry_attempts(3).unwrap_err();
        assert_eq!(err.code, "ValidationException");
        assert!(err.message.contains("Value '3' at 'maximumRetryAttempts'"), "{}", err.message);
    }

    #[test]
    fn event_age_range() {
        assert!(maximum_event_age(59).is_err());
        assert_eq!(maximum_event_age(21600).unwrap(), 21600);
        assert!(maximum_event_age(21601).is_err());
    }

    #[test]
    fn destination_pattern() {
        let field = "destinationConfig.onFailure.destination";
        assert!(destination_arn("arn:aws:sqs:us-east-1:000000000000:q", field).is_ok());
        assert!(destination_arn("", field).is_ok());
        let err = destination_arn("arn:aws:_-/!lambda:us-east-1:000000000000:function:f", field).unwrap_err();
        assert_eq!(err.code, "ValidationException");
    }

    #[test]
    fn dead_letter_target_kinds() {
        assert_eq!(dead_letter_target("").unwrap(), None);
        assert!(dead_letter_target("arn:aws:sqs:us-east-1:000000000000:q").unwrap().is_some());
        assert!(dead_letter_target("not-an-arn").is_err());
        assert!(dead_letter_target("arn:aws:iam::000000000000:role/r").is_err());
    }

    #[test]
    fn wire_form_sends_empty_destinations() {
        let config = EventInvokeConfig {
            function_name: "f".into(),
            qualifier: "$LATEST".into(),
            maximum_retry_attempts: Some(1),
            maximum_event_age_seconds: None,
            on_success: None,
            on_failure: None,
            last_modified: 1.5,
        };
        let wire =
            serde_json::to_value(config.to_wire("arn:aws:lambda:us-east-1:000000000000:function:f")).unwrap();
        assert_eq!(wire["DestinationConfig"]["OnSuccess"], serde_json::json!({}));
        assert_eq!(wire["FunctionArn"], "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST");
        assert!(wire.get("MaximumEventAgeInSeconds").is_none());
    }
}

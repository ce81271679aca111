//! Queue attributes: which names exist, which can be set, their limits and defaults, and the
//! settings the service reads from them.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::QueueError;

/// Attributes that CreateQueue and SetQueueAttributes accept, with their defaults.
const SETTABLE: &[(&str, Option<&str>)] = &[
    ("DelaySeconds", Some("0")),
    ("MaximumMessageSize", Some("262144")),
    ("MessageRetentionPeriod", Some("345600")),
    ("ReceiveMessageWaitTimeSeconds", Some("0")),
    ("VisibilityTimeout", Some("30")),
    ("SqsManagedSseEnabled", Some("false")),
    ("Policy", None),
    ("RedrivePolicy", None),
    ("RedriveAllowPolicy", None),
    ("KmsMasterKeyId", None),
    ("KmsDataKeyReusePeriodSeconds", None),
];

/// Attributes of FIFO queues, which this service does not offer.
const FIFO_ONLY: &[&str] =
    &["FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"];

/// Attributes that GetQueueAttributes computes.
pub(crate) const COMPUTED: &[&str] = &[
    "QueueArn",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
];

/// The message returned when a FIFO queue is asked for.
pub(crate) const FIFO_UNSUPPORTED: &str =
    "FIFO queues are not supported by this server: only standard queues can be created.";

/// A dead-letter target and the receive count after which messages move there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedrivePolicy {
    pub dead_letter_target_arn: String,
    pub max_receive_count: u32,
}

/// The settings a queue's attributes define.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSettings {
    pub visibility_timeout: u32,
    pub retention_seconds: u32,
    pub delay_seconds: u32,
    pub wait_seconds: u32,
    pub maximum_message_size: u32,
    pub redrive: Option<RedrivePolicy>,
}

/// Returns the default settable attributes of a new queue.
pub(crate) fn defaults() -> BTreeMap<String, String> {
    SETTABLE.iter().filter_map(|(name, value)| Some((name.to_string(), (*value)?.to_string()))).collect()
}

/// Checks names and values of attributes to set and returns them in their normal form.
/// An empty `RedrivePolicy` or `Policy` means "remove".
pub(crate) fn validate(given: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, QueueError> {
    let mut normal = BTreeMap::new();
    for (name, value) in given {
        if FIFO_ONLY.contains(&name.as_str()) {
            if name == "FifoQueue" && value == "false" {
                continue;
            }
            return Err(QueueError::InvalidParameterValue(FIFO_UNSUPPORTED.into()));
        }
        if !SETTABLE.iter().any(|(settable, _)| settable == name) {
            return Err(QueueError::InvalidAttributeName(name.clone()));
        }
        normal.insert(name.clone(), normalize(name, value)?);
    }
    Ok(normal)
}

fn normalize(name: &str, value: &str) -> Result<String, QueueError> {
    if crate::message::first_invalid_char(value).is_some() {
        return Err(QueueError::InvalidAttributeValue(name.into()));
    }
    let range = match name {
        "DelaySeconds" => 0..=900,
        "MaximumMessageSize" => 1024..=262_144,
        "MessageRetentionPeriod" => 60..=1_209_600,
        "ReceiveMessageWaitTimeSeconds" => 0..=20,
        "VisibilityTimeout" => 0..=43_200,
        "KmsDataKeyReusePeriodSeconds" => 60..=86_400,
        "RedrivePolicy" if value.is_empty() => return Ok(String::new()),
        "RedrivePolicy" => return Ok(redrive_to_json(&parse_redrive(value)?)),
        "SqsManagedSseEnabled" => {
            return match value.to_ascii_lowercase().as_str() {
                v @ ("true" | "false") => Ok(v.to_string()),
                _ => Err(QueueError::InvalidAttributeValue(name.into())),
            }
        }
        _ => return Ok(value.to_string()),
    };
    match value.trim().parse::<u32>() {
        Ok(number) if range.contains(&number) => Ok(number.to_string()),
        _ => Err(QueueError::InvalidAttributeValue(name.into())),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RedriveJson {
    dead_letter_target_arn: Option<String>,
    max_receive_count: Option<serde_json::Value>,
}

fn invalid_redrive(value: &str, reason: &str) -> QueueError {
    QueueError::InvalidParameterValue(format!(
        "Value {value} for parameter RedrivePolicy is invalid. Reason: {reason}"
    ))
}

/// Parses a `RedrivePolicy` JSON document. `maxReceiveCount` may be a number or a string.
pub(crate) fn parse_redrive(value: &str) -> Result<RedrivePolicy, QueueError> {
    let json: RedriveJson = serde_json::from_str(value)
        .map_err(|_| invalid_redrive(value, "Redrive policy is not a valid JSON map."))?;
    let arn = json.dead_letter_target_arn.ok_or_else(|| {
        invalid_redrive(value, "Redrive policy does not contain mandatory attribute: deadLetterTargetArn.")
    })?;
    let count = match json.max_receive_count {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        None => {
            return Err(invalid_redrive(
                value,
                "Redrive policy does not contain mandatory attribute: maxReceiveCount.",
            ))
        }
        Some(_) => None,
    };
    match count {
        Some(count @ 1..=1000) => {
            Ok(RedrivePolicy { dead_letter_target_arn: arn, max_receive_count: count as u32 })
        }
        _ => Err(invalid_redrive(
            value,
            "Invalid value for maxReceiveCount: must be an integer from 1 to 1000.",
        )),
    }
}

fn redrive_to_json(policy: &RedrivePolicy) -> String {
    serde_json::json!({
        "deadLetterTargetArn": policy.dead_letter_target_arn,
        "maxReceiveCount": policy.max_receive_count,
    })
    .to_string()
}

impl QueueSettings {
    /// Reads settings from a queue's validated attributes.
    pub(crate) fn from_attributes(attributes: &BTreeMap<String, String>) -> QueueSettings {
        let number = |name: &str, default: u32| {
            attributes.get(name).and_then(|value| value.parse().ok()).unwrap_or(default)
        };
        QueueSettings {
            visibility_timeout: number("VisibilityTimeout", 30),
            retention_seconds: number("MessageRetentionPeriod", 345_600),
            delay_seconds: number("DelaySeconds", 0),
            wait_seconds: number("ReceiveMessageWaitTimeSeconds", 0),
            maximum_message_size: number("MaximumMessageSize", 262_144),
            redrive: attributes.get("RedrivePolicy").and_then(|value| parse_redrive(value).ok()),
        }
    }
}

/// Reports whether GetQueueAttributes accepts the attribute name `name`.
pub(crate) fn is_known(name: &str) -> bool {
    name == "All"
        || COMPUTED.contains(&name)
        || SETTABLE.iter().any(|(settable, _)| *settable == name)
        || FIFO_ONLY.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_outside_the_limits_are_rejected() {
        let given = BTreeMap::from([("VisibilityTimeout".to_string(), "43201".to_string())]);
        assert!(
            matches!(validate(&given), Err(QueueError::InvalidAttributeValue(name)) if name == "VisibilityTimeout")
        );
    }

    #[test]
    fn unknown_names_are_rejected() {
        let given = BTreeMap::from([("Colour".to_string(), "red".to_string())]);
        assert!(matches!(validate(&given), Err(QueueError::InvalidAttributeName(_))));
    }

    #[test]
    fn redrive_policy_accepts_a_string_count() {
        let policy =
            parse_redrive(r#"{"deadLetterTargetArn":"arn:aws:sqs:r:1:d","maxReceiveCount":"3"}"#).unwrap();
        assert_eq!(policy.max_receive_count, 3);
        assert!(parse_redrive(r#"{"deadLetterTargetArn":"a","maxReceiveCount":0}"#).is_err());
    }
}

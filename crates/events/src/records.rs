//! The invocation record sent to destinations and the attributes of dead-letter messages, in
//! the shapes Lambda sends.

use flicker_engine::InvokeResponse;
use serde_json::{json, Map, Value};

use crate::journal::StoredEvent;
use crate::targets::MessageAttribute;

/// The condition under which an event reached a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Success,
    RetriesExhausted,
    EventAgeExceeded,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "Success",
            Self::RetriesExhausted => "RetriesExhausted",
            Self::EventAgeExceeded => "EventAgeExceeded",
        }
    }
}

/// Parses a payload as JSON, keeping it as a string when it is not; an empty payload is `{}`.
fn payload_value(payload: &[u8]) -> Value {
    if payload.is_empty() {
        return Value::Object(Map::new());
    }
    serde_json::from_slice(payload).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(payload).into()))
}

/// Builds the destination record. `invocations` counts the function's runs of this event, and
/// `last` is the last run's result. An event that expired before it ever ran has neither
/// response context nor response payload.
pub fn destination_record(
    event: &StoredEvent,
    function_arn: &str,
    condition: Condition,
    invocations: u32,
    last: Option<&InvokeResponse>,
) -> String {
    let qualifier = event.qualifier.as_deref().unwrap_or("$LATEST");
    let mut record = json!({
        "version": "1.0",
        "timestamp": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "requestContext": {
            "requestId": event.request_id,
            "functionArn": format!("{function_arn}:{qualifier}"),
            "condition": condition.as_str(),
            "approximateInvokeCount": invocations,
        },
        "requestPayload": payload_value(&event.payload),
    });
    if let Some(response) = last {
        let mut context = json!({
            "statusCode": response.status,
            "executedVersion": response.executed_version.as_deref().unwrap_or(qualifier),
        });
        if let Some(error) = response.function_error {
            context["functionError"] = Value::from(error);
        }
        record["responseContext"] = context;
        record["responsePayload"] = payload_value(&response.payload);
    }
    record.to_string()
}

/// Builds the attributes of a dead-letter message: `RequestID`, `ErrorCode` (the status of the last
/// run) and `ErrorMessage`.
pub fn dead_letter_attributes(
    event: &StoredEvent,
    condition: Condition,
    last: Option<&InvokeResponse>,
) -> Vec<MessageAttribute> {
    let error_message = match (condition, last) {
        (Condition::EventAgeExceeded, None) => {
            "The event exceeded its maximum age before it ran.".to_string()
        }
        (_, Some(response)) => error_message(&response.payload),
        (_, None) => "The function failed.".to_string(),
    };
    let status = last.map_or(200, |response| response.status);
    vec![
        MessageAttribute {
            name: "RequestID".into(),
            data_type: "String".into(),
            string_value: event.request_id.clone(),
        },
        MessageAttribute {
            name: "ErrorCode".into(),
            data_type: "Number".into(),
            string_value: status.to_string(),
        },
        MessageAttribute {
            name: "ErrorMessage".into(),
            data_type: "String".into(),
            string_value: error_message,
        },
    ]
}

/// Returns the `errorMessage` of an error payload, or the payload itself.
fn error_message(payload: &[u8]) -> String {
    let value = payload_value(payload);
    match value.get("errorMessage").and_then(Value::as_str) {
        Some(message) => message.to_string(),
        None => String::from_utf8_lossy(payload).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn event() -> StoredEvent {
        StoredEvent {
            seq: 1,
            request_id: "r-1".into(),
            function_name: "f".into(),
            qualifier: None,
            payload: Bytes::from_static(b"{\"raise_error\":1}"),
            client_context: None,
            accepted_ms: 0,
            attempts: 0,
        }
    }

    fn failed_response() -> InvokeResponse {
        InvokeResponse {
            status: 200,
            payload: Bytes::from_static(b"{\"errorMessage\":\"boom\",\"errorType\":\"Exception\"}"),
            function_error: Some("Unhandled"),
            log_result: None,
            executed_version: Some("$LATEST".into()),
            request_id: Some("r-1".into()),
        }
    }

    #[test]
    fn failure_record_has_lambda_shape() {
        let response = failed_response();
        let text = destination_record(&event(), "arn:f", Condition::RetriesExhausted, 3, Some(&response));
        let record: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(record["version"], "1.0");
        assert_eq!(record["requestContext"]["requestId"], "r-1");
        assert_eq!(record["requestContext"]["functionArn"], "arn:f:$LATEST");
        assert_eq!(record["requestContext"]["condition"], "RetriesExhausted");
        assert_eq!(record["requestContext"]["approximateInvokeCount"], 3);
        assert_eq!(record["requestPayload"]["raise_error"], 1);
        assert_eq!(record["responseContext"]["functionError"], "Unhandled");
        assert_eq!(record["responseContext"]["statusCode"], 200);
        assert_eq!(record["responsePayload"]["errorMessage"], "boom");
    }

    #[test]
    fn expired_record_without_run_has_no_response() {
        let text = destination_record(&event(), "arn:f", Condition::EventAgeExceeded, 0, None);
        let record: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(record["requestContext"]["condition"], "EventAgeExceeded");
        assert!(record.get("responseContext").is_none());
    }

    #[test]
    fn dead_letter_attributes_name_the_error() {
        let response = failed_response();
        let attributes = dead_letter_attributes(&event(), Condition::RetriesExhausted, Some(&response));
        assert_eq!(attributes[0].string_value, "r-1");
        assert_eq!(attributes[1].string_value, "200");
        assert_eq!(attributes[2].string_value, "boom");
    }
}

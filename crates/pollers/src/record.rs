//! The event a function receives from a queue: `{"Records": [...]}` with one record per
//! message in SQS's shape, and the reading of a `batchItemFailures` response.

use std::collections::HashSet;

use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::source::{MessageAttribute, ReceivedMessage};

/// Builds the record of one message.
pub fn sqs_record(message: &ReceivedMessage, queue_arn: &str, region: &str) -> Value {
    let attributes: Map<String, Value> =
        message.attributes.iter().map(|(name, value)| (name.clone(), Value::String(value.clone()))).collect();
    let message_attributes: Map<String, Value> = message
        .message_attributes
        .iter()
        .map(|(name, attribute)| (name.clone(), message_attribute(attribute)))
        .collect();
    json!({
        "messageId": message.message_id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfMessageAttributes": message.md5_of_message_attributes,
        "md5OfBody": message.md5_of_body,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    })
}

fn message_attribute(attribute: &MessageAttribute) -> Value {
    let mut value = Map::new();
    if let Some(text) = &attribute.string_value {
        value.insert("stringValue".into(), Value::String(text.clone()));
    }
    if let Some(bytes) = &attribute.binary_value {
        let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
        value.insert("binaryValue".into(), Value::String(encoded));
    }
    value.insert("stringListValues".into(), Value::Array(Vec::new()));
    value.insert("binaryListValues".into(), Value::Array(Vec::new()));
    value.insert("dataType".into(), Value::String(attribute.data_type.clone()));
    Value::Object(value)
}

/// Builds the record that filters match: a `body` that is JSON is replaced by the parsed JSON.
pub fn filter_view(record: &Value) -> Value {
    let mut view = record.clone();
    let parsed =
        record.get("body").and_then(Value::as_str).and_then(|b| serde_json::from_str::<Value>(b).ok());
    if let (Some(parsed), Some(object)) = (parsed, view.as_object_mut()) {
        object.insert("body".into(), parsed);
    }
    view
}

/// The result a function with `ReportBatchItemFailures` returned for its batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchResult {
    /// Every message was processed.
    Success,
    /// These message ids failed; the others were processed.
    Partial(HashSet<String>),
    /// The response is invalid, so the whole batch counts as failed.
    Invalid(String),
}

/// Reads a function's response under `ReportBatchItemFailures` by AWS's rules. An empty or
/// null response, or an empty or null `batchItemFailures`, is a success. A missing, empty or
/// unknown `itemIdentifier`, or a response that is not JSON, fails the whole batch.
pub fn batch_result(payload: &[u8], batch_ids: &HashSet<&str>) -> BatchResult {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return BatchResult::Success;
    }
    let response: Value = match serde_json::from_slice(payload) {
        Ok(value) => value,
        Err(err) => return BatchResult::Invalid(format!("the response is not JSON: {err}")),
    };
    let failures = match &response {
        Value::Null => return BatchResult::Success,
        Value::Object(object) => object.get("batchItemFailures"),
        // NOTE: AWS documents only objects; any other JSON value is read as a response without
        // batchItemFailures, which is a success.
        _ => return BatchResult::Success,
    };
    let items = match failures {
        None | Some(Value::Null) => return BatchResult::Success,
        Some(Value::Array(items)) => items,
        Some(other) => return BatchResult::Invalid(format!("batchItemFailures is not a list: {other}")),
    };
    let mut failed = HashSet::new();
    for item in items {
        match item.get("itemIdentifier").and_then(Value::as_str) {
            Some(id) if !id.is_empty() && batch_ids.contains(id) => {
                failed.insert(id.to_string());
            }
            _ => return BatchResult::Invalid(format!("invalid batch item failure: {item}")),
        }
    }
    if failed.is_empty() {
        BatchResult::Success
    } else {
        BatchResult::Partial(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> ReceivedMessage {
        ReceivedMessage {
            message_id: "m-1".into(),
            receipt_handle: "r-1".into(),
            body: r#"{"a": 1}"#.into(),
            md5_of_body: "abc".into(),
            md5_of_message_attributes: Some("def".into()),
            attributes: vec![
                ("ApproximateReceiveCount".into(), "1".into()),
                ("SentTimestamp".into(), "1700000000000".into()),
            ],
            message_attributes: vec![
                (
                    "Title".into(),
                    MessageAttribute {
                        data_type: "String".into(),
                        string_value: Some("x".into()),
                        binary_value: None,
                    },
                ),
                (
                    "Blob".into(),
                    MessageAttribute {
                        data_type: "Binary".into(),
                        string_value: None,
                        binary_value: Some(vec![1, 2, 3]),
                    },
                ),
            ],
        }
    }

    #[test]
    fn record_has_sqs_shape() {
        let record = sqs_record(&message(), "arn:aws:sqs:us-east-1:000000000000:q", "us-east-1");
        let keys: Vec<&str> = record.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "messageId",
                "receiptHandle",
                "body",
                "attributes",
                "messageAttributes",
                "md5OfMessageAttributes",
                "md5OfBody",
                "eventSource",
                "eventSourceARN",
                "awsRegion"
            ]
        );
        assert_eq!(record["body"], r#"{"a": 1}"#);
        assert_eq!(record["attributes"]["ApproximateReceiveCount"], "1");
        assert_eq!(record["eventSource"], "aws:sqs");
        assert_eq!(
            record["messageAttributes"]["Title"],
            json!({"stringValue": "x", "stringListValues": [], "binaryListValues": [], "dataType": "String"})
        );
        assert_eq!(record["messageAttributes"]["Blob"]["binaryValue"], "AQID");
    }

    #[test]
    fn filter_view_parses_json_body() {
        let record = sqs_record(&message(), "q", "r");
        assert_eq!(filter_view(&record)["body"], json!({"a": 1}));
        let mut plain = message();
        plain.body = "not json".into();
        assert_eq!(filter_view(&sqs_record(&plain, "q", "r"))["body"], "not json");
    }

    #[test]
    fn batch_result_rules() {
        let ids: HashSet<&str> = ["a", "b"].into_iter().collect();
        assert_eq!(batch_result(b"", &ids), BatchResult::Success);
        assert_eq!(batch_result(b"null", &ids), BatchResult::Success);
        assert_eq!(batch_result(b"{}", &ids), BatchResult::Success);
        assert_eq!(batch_result(br#"{"batchItemFailures": []}"#, &ids), BatchResult::Success);
        assert_eq!(batch_result(br#"{"batchItemFailures": null}"#, &ids), BatchResult::Success);
        let partial = batch_result(br#"{"batchItemFailures": [{"itemIdentifier": "b"}]}"#, &ids);
        assert_eq!(partial, BatchResult::Partial(["b".to_string()].into_iter().collect()));
        for invalid in [
            &br#"{"batchItemFailures": [{"foo": "notvalid"}]}"#[..],
            br#"{"batchItemFailures": [{"itemIdentifier": ""}]}"#,
            br#"{"batchItemFailures": [{"itemIdentifier": null}]}"#,
            br#"{"batchItemFailures": [{"itemIdentifier": "unknown"}]}"#,
            br#"{"batchItemFailures": "a"}"#,
            b"{not json",
        ] {
            assert!(matches!(batch_result(invalid, &ids), BatchResult::Invalid(_)), "{invalid:?}");
        }
    }
}

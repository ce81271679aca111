//! The SQS operations, with input and output in the shape of the SQS JSON protocol. The
//! query protocol converts its form parameters to this shape and renders the output as XML.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use flicker_queue::{md5_of_message_attributes, MessageAttributes, NewMessage, QueueError, QueueService};
use serde_json::{json, Map, Value};

/// The operations this service implements.
pub(crate) const OPERATIONS: &[&str] = &[
    "CreateQueue",
    "GetQueueUrl",
    "ListQueues",
    "DeleteQueue",
    "GetQueueAttributes",
    "SetQueueAttributes",
    "PurgeQueue",
    "SendMessage",
    "SendMessageBatch",
    "ReceiveMessage",
    "DeleteMessage",
    "DeleteMessageBatch",
    "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch",
];

/// The maximum number of entries in one batch request.
const MAX_BATCH_ENTRIES: usize = 10;

/// The largest total size of the messages of one SendMessageBatch.
const MAX_BATCH_BYTES: usize = 262_144;

/// One request: the service, the Host the client used (for queue URLs) and the input.
pub(crate) struct Call<'a> {
    pub queues: &'a QueueService,
    pub host: &'a str,
    pub input: Map<String, Value>,
}

type Output = Result<Value, QueueError>;

impl Call<'_> {
    /// Runs `operation`, which must be one of `OPERATIONS`.
    pub async fn run(self, operation: &str) -> Output {
        match operation {
            "CreateQueue" => self.create_queue().await,
            "GetQueueUrl" => self.get_queue_url(),
            "ListQueues" => self.list_queues(),
            "DeleteQueue" => self.queues.delete_queue(&self.queue_url()?).await.map(|()| json!({})),
            "GetQueueAttributes" => self.get_queue_attributes(),
            "SetQueueAttributes" => self.set_queue_attributes().await,
            "PurgeQueue" => self.queues.purge(&self.queue_url()?).await.map(|()| json!({})),
            "SendMessage" => self.send_message().await,
            "SendMessageBatch" => self.send_message_batch().await,
            "ReceiveMessage" => self.receive_message().await,
            "DeleteMessage" => self.delete_message().await,
            "DeleteMessageBatch" => self.delete_message_batch().await,
            "ChangeMessageVisibility" => self.change_message_visibility().await,
            "ChangeMessageVisibilityBatch" => self.change_message_visibility_batch().await,
            _ => Err(QueueError::InvalidParameterValue(format!("Unknown operation {operation}"))),
        }
    }

    fn url(&self, name: &str) -> String {
        format!("http://{}/{}/{name}", self.host, self.queues.account())
    }

    fn queue_url(&self) -> Result<String, QueueError> {
        required_string(&self.input, "QueueUrl")
    }

    async fn create_queue(&self) -> Output {
        let name = required_string(&self.input, "QueueName")?;
        let attributes = string_map(&self.input, "Attributes")?;
        let name = self.queues.create_queue(&name, &attributes).await?;
        Ok(json!({ "QueueUrl": self.url(&name) }))
    }

    fn get_queue_url(&self) -> Output {
        let name = required_string(&self.input, "QueueName")?;
        if self.queues.list_queues(Some(&name)).contains(&name) {
            Ok(json!({ "QueueUrl": self.url(&name) }))
        } else {
            Err(QueueError::NonExistentQueue(name))
        }
    }

    fn list_queues(&self) -> Output {
        let prefix = optional_string(&self.input, "QueueNamePrefix")?;
        let max = optional_u32(&self.input, "MaxResults")?;
        if let Some(max) = max.filter(|m| !(1..=1000).contains(m)) {
            return Err(QueueError::InvalidParameterValue(format!(
                "Value {max} for parameter MaxResults is invalid. Reason: MaxResults must be an integer between 1 and 1000."
            )));
        }
        let after = optional_string(&self.input, "NextToken")?.unwrap_or_default();
        let names: Vec<String> =
            self.queues.list_queues(prefix.as_deref()).into_iter().filter(|n| *n > after).collect();
        let mut output = Map::new();
        let limit = max.map_or(1000, |m| m as usize);
        let page: Vec<Value> = names.iter().take(limit).map(|n| Value::String(self.url(n))).collect();
        if max.is_some() && names.len() > limit {
            output.insert("NextToken".into(), Value::String(names[limit - 1].clone()));
        }
        if !page.is_empty() {
            output.insert("QueueUrls".into(), Value::Array(page));
        }
        Ok(Value::Object(output))
    }

    fn get_queue_attributes(&self) -> Output {
        let url = self.queue_url()?;
        let names = string_list(&self.input, "AttributeNames")?;
        let attributes = self.queues.get_attributes(&url, &names)?;
        if attributes.is_empty() {
            return Ok(json!({}));
        }
        Ok(json!({ "Attributes": attributes }))
    }

    async fn set_queue_attributes(&self) -> Output {
        let url = self.queue_url()?;
        if !self.input.contains_key("Attributes") {
            return Err(QueueError::MissingParameter("Attributes".into()));
        }
        let attributes = string_map(&self.input, "Attributes")?;
        self.queues.set_attributes(&url, &attributes).await?;
        Ok(json!({}))
    }

    async fn send_message(&self) -> Output {
        let url = self.queue_url()?;
        let message = new_message(&self.input)?;
        let mut results = self.queues.send(&url, vec![message]).await?;
        let sent =
            results.pop().unwrap_or_else(|| Err(QueueError::Task("a send returned no result".into())))?;
        let mut output = json!({ "MessageId": sent.message_id, "MD5OfMessageBody": sent.md5_of_body });
        if let Some(md5) = sent.md5_of_message_attributes {
            output["MD5OfMessageAttributes"] = Value::String(md5);
        }
        Ok(output)
    }

    async fn send_message_batch(&self) -> Output {
        let url = self.queue_url()?;
        let entries = batch_entries(&self.input, "SendMessageBatchRequestEntry")?;
        let mut ids = Vec::new();
        let mut messages = Vec::new();
        let mut failed = Vec::new();
        let mut total = 0;
        for entry in &entries {
            let id = entry_id(entry)?;
            total += entry.get("MessageBody").and_then(Value::as_str).map_or(0, str::len);
            match new_message(entry) {
                Ok(message) => {
                    total += attributes_size(&message.attributes);
                    ids.push(id);
                    messages.push(message);
                }
                Err(err) => failed.push(failure(&id, &err)),
            }
        }
        if total > MAX_BATCH_BYTES {
            return Err(QueueError::BatchRequestTooLong(total));
        }
        let results = self.queues.send(&url, messages).await?;
        let mut successful = Vec::new();
        for (id, result) in ids.into_iter().zip(results) {
            match result {
                Ok(sent) => {
                    let mut entry = json!({
                        "Id": id,
                        "MessageId": sent.message_id,
                        "MD5OfMessageBody": sent.md5_of_body,
                    });
                    if let Some(md5) = sent.md5_of_message_attributes {
                        entry["MD5OfMessageAttributes"] = Value::String(md5);
                    }
                    successful.push(entry);
                }
                Err(err) => failed.push(failure(&id, &err)),
            }
        }
        Ok(json!({ "Successful": successful, "Failed": failed }))
    }

    async fn receive_message(&self) -> Output {
        let url = self.queue_url()?;
        let max = optional_u32(&self.input, "MaxNumberOfMessages")?.unwrap_or(1);
        let visibility = optional_u32(&self.input, "VisibilityTimeout")?;
        let wait = optional_u32(&self.input, "WaitTimeSeconds")?.map(|s| Duration::from_secs(u64::from(s)));
        let mut system_names = string_list(&self.input, "AttributeNames")?;
        system_names.extend(string_list(&self.input, "MessageSystemAttributeNames")?);
        let attribute_names = string_list(&self.input, "MessageAttributeNames")?;
        let messages = self.queues.receive(&url, max, visibility, wait).await?;
        if messages.is_empty() {
            return Ok(json!({}));
        }
        let messages: Vec<Value> = messages
            .into_iter()
            .map(|m| {
                let mut out = json!({
                    "MessageId": m.message_id,
                    "ReceiptHandle": m.receipt_handle,
                    "MD5OfBody": m.md5_of_body,
                    "Body": m.body,
                });
                let system = select_system_attributes(m.attributes, &system_names);
                if !system.is_empty() {
                    out["Attributes"] = json!(system);
                }
                let selected = select_message_attributes(m.message_attributes, &attribute_names);
                if let Some(md5) = md5_of_message_attributes(&selected) {
                    out["MD5OfMessageAttributes"] = Value::String(md5);
                    out["MessageAttributes"] = json!(selected);
                }
                out
            })
            .collect();
        Ok(json!({ "Messages": messages }))
    }

    async fn delete_message(&self) -> Output {
        let url = self.queue_url()?;
        let handle = required_string(&self.input, "ReceiptHandle")?;
        self.queues.delete(&url, &handle).await?;
        Ok(json!({}))
    }

    async fn delete_message_batch(&self) -> Output {
        let url = self.queue_url()?;
        let entries = batch_entries(&self.input, "DeleteMessageBatchRequestEntry")?;
        let mut successful = Vec::new();
        let mut failed = Vec::new();
        for entry in &entries {
            let id = entry_id(entry)?;
            let result = match required_string(entry, "ReceiptHandle") {
                Ok(handle) => self.queues.delete(&url, &handle).await,
                Err(err) => Err(err),
            };
            match result {
                Ok(()) => successful.push(json!({ "Id": id })),
                Err(err @ QueueError::NonExistentQueue(_)) => return Err(err),
                Err(err) => failed.push(failure(&id, &err)),
            }
        }
        Ok(json!({ "Successful": successful, "Failed": failed }))
    }

    async fn change_message_visibility(&self) -> Output {
        let url = self.queue_url()?;
        let handle = required_string(&self.input, "ReceiptHandle")?;
        let seconds = optional_u32(&self.input, "VisibilityTimeout")?
            .ok_or_else(|| QueueError::MissingParameter("VisibilityTimeout".into()))?;
        self.queues.change_visibility(&url, &handle, seconds).await?;
        Ok(json!({}))
    }

    async fn change_message_visibility_batch(&self) -> Output {
        let url = self.queue_url()?;
        let entries = batch_entries(&self.input, "ChangeMessageVisibilityBatchRequestEntry")?;
        let mut successful = Vec::new();
        let mut failed = Vec::new();
        for entry in &entries {
            let id = entry_id(entry)?;
            let result = async {
                let handle = required_string(entry, "ReceiptHandle")?;
                let seconds = optional_u32(entry, "VisibilityTimeout")?.unwrap_or(0);
                self.queues.change_visibility(&url, &handle, seconds).await
            }
            .await;
            match result {
                Ok(()) => successful.push(json!({ "Id": id })),
                Err(err @ QueueError::NonExistentQueue(_)) => return Err(err),
                Err(err) => failed.push(failure(&id, &err)),
            }
        }
        Ok(json!({ "Successful": successful, "Failed": failed }))
    }
}

/// Counts the bytes that message attributes add to a batch's size: names, types and values.
fn attributes_size(attributes: &MessageAttributes) -> usize {
    attributes
        .iter()
        .map(|(name, value)| {
            let value_len = value.string_value.as_ref().map_or(0, String::len)
                + value.binary_value.as_ref().map_or(0, Vec::len);
            name.len() + value.data_type.len() + value_len
        })
        .sum()
}

/// Builds a failed batch entry as SQS reports it.
fn failure(id: &str, err: &QueueError) -> Value {
    let code = err.code();
    json!({ "Id": id, "SenderFault": code.sender_fault, "Code": code.query_code, "Message": err.to_string() })
}

fn new_message(input: &Map<String, Value>) -> Result<NewMessage, QueueError> {
    Ok(NewMessage {
        body: required_string(input, "MessageBody")?,
        attributes: message_attributes(input)?,
        delay_seconds: optional_u32(input, "DelaySeconds")?,
    })
}

/// Returns the entries of a batch request after the checks every batch gets: at least one, at most
/// ten, well-formed and distinct ids.
fn batch_entries(
    input: &Map<String, Value>,
    entry_name: &'static str,
) -> Result<Vec<Map<String, Value>>, QueueError> {
    let entries: Vec<Map<String, Value>> = match input.get("Entries") {
        Some(Value::Array(items)) => items.iter().filter_map(|item| item.as_object().cloned()).collect(),
        None | Some(Value::Null) => Vec::new(),
        Some(other) => return Err(invalid_type("Entries", other)),
    };
    if entries.is_empty() {
        return Err(QueueError::EmptyBatchRequest(entry_name));
    }
    if entries.len() > MAX_BATCH_ENTRIES {
        return Err(QueueError::TooManyEntriesInBatchRequest(entries.len()));
    }
    let mut seen = HashSet::new();
    for entry in &entries {
        let id = entry_id(entry)?;
        let valid = (1..=80).contains(&id.len())
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(QueueError::InvalidBatchEntryId(id));
        }
        if !seen.insert(id.clone()) {
            return Err(QueueError::BatchEntryIdsNotDistinct(id));
        }
    }
    Ok(entries)
}

fn entry_id(entry: &Map<String, Value>) -> Result<String, QueueError> {
    required_string(entry, "Id")
}

fn invalid_type(name: &str, value: &Value) -> QueueError {
    QueueError::InvalidParameterValue(format!("Value {value} for parameter {name} is invalid."))
}

fn optional_string(input: &Map<String, Value>, name: &str) -> Result<Option<String>, QueueError> {
    match input.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(invalid_type(name, other)),
    }
}

fn required_string(input: &Map<String, Value>, name: &str) -> Result<String, QueueError> {
    optional_string(input, name)?.ok_or_else(|| QueueError::MissingParameter(name.to_string()))
}

/// Reads a whole number given as a JSON number or, from the query protocol, as text.
fn optional_u32(input: &Map<String, Value>, name: &str) -> Result<Option<u32>, QueueError> {
    let value = match input.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(value) => value,
    };
    let number = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    match number.and_then(|n| u32::try_from(n).ok()) {
        Some(n) => Ok(Some(n)),
        None => Err(QueueError::InvalidParameterValue(format!(
            "Value {} for parameter {name} is invalid. Reason: it must be a whole number.",
            value.as_str().map_or_else(|| value.to_string(), str::to_string)
        ))),
    }
}

fn string_list(input: &Map<String, Value>, name: &str) -> Result<Vec<String>, QueueError> {
    match input.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string).ok_or_else(|| invalid_type(name, item)))
            .collect(),
        Some(other) => Err(invalid_type(name, other)),
    }
}

fn string_map(input: &Map<String, Value>, name: &str) -> Result<BTreeMap<String, String>, QueueError> {
    match input.get(name) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(key, value)| match value {
                Value::String(text) => Ok((key.clone(), text.clone())),
                other => Err(invalid_type(key, other)),
            })
            .collect(),
        Some(other) => Err(invalid_type(name, other)),
    }
}

fn message_attributes(input: &Map<String, Value>) -> Result<MessageAttributes, QueueError> {
    match input.get("MessageAttributes") {
        None | Some(Value::Null) => Ok(MessageAttributes::new()),
        Some(value) => serde_json::from_value(value.clone()).map_err(|err| {
            QueueError::InvalidParameterValue(format!(
                "Value for parameter MessageAttributes is invalid: {err}"
            ))
        }),
    }
}

/// Selects the system attributes a receive requests: `All` or names.
fn select_system_attributes(all: BTreeMap<String, String>, names: &[String]) -> BTreeMap<String, String> {
    if names.iter().any(|n| n == "All") {
        return all;
    }
    all.into_iter().filter(|(key, _)| names.contains(key)).collect()
}

/// Selects the message attributes a receive requests: `All`, `.*`, exact names or `prefix.*`.
fn select_message_attributes(all: MessageAttributes, names: &[String]) -> MessageAttributes {
    let wanted = |key: &str| {
        names.iter().any(|n| {
            n == "All"
                || n == ".*"
                || n == key
                || n.strip_suffix(".*").is_some_and(|prefix| key.starts_with(&format!("{prefix}.")))
        })
    };
    all.into_iter().filter(|(key, _)| wanted(key)).collect()
}

//! The SQS query protocol: form parameters such as `Attribute.1.Name` turned into the input
//! shape of the JSON protocol, and outputs rendered as SQS's XML.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Value};

/// The XML namespace of SQS responses.
pub(crate) const NAMESPACE: &str = "http://queue.amazonaws.com/doc/2012-11-05/";

/// Operations whose responses carry no result element.
const NO_RESULT: &[&str] =
    &["DeleteQueue", "SetQueueAttributes", "DeleteMessage", "ChangeMessageVisibility", "PurgeQueue"];

/// A tree of dotted parameter names: `A.1.B=x` becomes `{A: {1: {B: x}}}`.
enum Node {
    Leaf(String),
    Branch(BTreeMap<String, Node>),
}

/// Turns form parameters (without `Action` and `Version`) into a JSON protocol input.
pub(crate) fn input_from_form(pairs: Vec<(String, String)>) -> Map<String, Value> {
    let mut root = BTreeMap::new();
    for (key, value) in pairs {
        if key == "Action" || key == "Version" {
            continue;
        }
        insert(&mut root, key.split('.').collect::<Vec<_>>().as_slice(), value);
    }
    convert(root)
}

fn insert(tree: &mut BTreeMap<String, Node>, path: &[&str], value: String) {
    let Some((first, rest)) = path.split_first() else { return };
    if rest.is_empty() {
        tree.insert(first.to_string(), Node::Leaf(value));
        return;
    }
    let node = tree.entry(first.to_string()).or_insert_with(|| Node::Branch(BTreeMap::new()));
    if let Node::Leaf(_) = node {
        *node = Node::Branch(BTreeMap::new());
    }
    if let Node::Branch(children) = node {
        insert(children, rest, value);
    }
}

/// Returns the children of a numbered list (`1`, `2`, ...) in numeric order.
fn numbered(children: BTreeMap<String, Node>) -> Vec<Node> {
    let mut items: Vec<(u64, Node)> =
        children.into_iter().filter_map(|(k, v)| Some((k.parse().ok()?, v))).collect();
    items.sort_by_key(|(index, _)| *index);
    items.into_iter().map(|(_, node)| node).collect()
}

fn convert(tree: BTreeMap<String, Node>) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, node) in tree {
        match (key.as_str(), node) {
            (_, Node::Leaf(text)) => {
                out.insert(key, Value::String(text));
            }
            ("Attribute", Node::Branch(children)) => {
                out.insert("Attributes".into(), name_value_map(children, "Name", "Value"));
            }
            ("Tag", Node::Branch(children)) => {
                out.insert("Tags".into(), name_value_map(children, "Key", "Value"));
            }
            ("MessageAttribute", Node::Branch(children)) => {
                out.insert("MessageAttributes".into(), name_value_map(children, "Name", "Value"));
            }
            (
                "AttributeName" | "MessageAttributeName" | "MessageSystemAttributeName",
                Node::Branch(children),
            ) => {
                let list = numbered(children).into_iter().map(to_value).collect();
                out.insert(format!("{key}s"), Value::Array(list));
            }
            (name, Node::Branch(children)) if name.ends_with("BatchRequestEntry") => {
                let list = numbered(children).into_iter().map(to_value).collect();
                out.insert("Entries".into(), Value::Array(list));
            }
            (_, Node::Branch(children)) => {
                out.insert(key, Value::Object(convert(children)));
            }
        }
    }
    out
}

fn to_value(node: Node) -> Value {
    match node {
        Node::Leaf(text) => Value::String(text),
        Node::Branch(children) => Value::Object(convert(children)),
    }
}

/// `{1: {Name: a, Value: b}}` as the map `{a: b}`.
fn name_value_map(children: BTreeMap<String, Node>, name_key: &str, value_key: &str) -> Value {
    let mut map = Map::new();
    for item in numbered(children) {
        if let Node::Branch(mut fields) = item {
            let name = match fields.remove(name_key) {
                Some(Node::Leaf(name)) => name,
                _ => continue,
            };
            let value = fields.remove(value_key).map_or(Value::Null, to_value);
            map.insert(name, value);
        }
    }
    Value::Object(map)
}

/// Escapes text for XML. Carriage returns are written as references so that parsers keep them.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            _ => out.push(c),
        }
    }
    out
}

/// Renders the XML response of `operation` with JSON-shaped `output`.
pub(crate) fn render(operation: &str, output: &Value, request_id: &str) -> String {
    let mut xml = format!("<?xml version=\"1.0\"?><{operation}Response xmlns=\"{NAMESPACE}\">");
    if !NO_RESULT.contains(&operation) {
        let _ = write!(xml, "<{operation}Result>");
        if let Value::Object(members) = output {
            render_members(&mut xml, operation, members);
        }
        let _ = write!(xml, "</{operation}Result>");
    }
    let _ = write!(
        xml,
        "<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{operation}Response>"
    );
    xml
}

fn render_members(xml: &mut String, operation: &str, members: &Map<String, Value>) {
    for (key, value) in members {
        match (key.as_str(), value) {
            ("Attributes", Value::Object(map)) => render_map(xml, "Attribute", map),
            ("MessageAttributes", Value::Object(map)) => render_map(xml, "MessageAttribute", map),
            (_, Value::Array(items)) => {
                let element = list_element(operation, key);
                for item in items {
                    render_element(xml, operation, &element, item);
                }
            }
            _ => render_element(xml, operation, key, value),
        }
    }
}

/// Returns the element name of each item of a flattened list.
fn list_element(operation: &str, key: &str) -> String {
    match key {
        "QueueUrls" => "QueueUrl".into(),
        "Messages" => "Message".into(),
        "Successful" => format!("{operation}ResultEntry"),
        "Failed" => "BatchResultErrorEntry".into(),
        other => other.into(),
    }
}

fn render_map(xml: &mut String, element: &str, map: &Map<String, Value>) {
    for (name, value) in map {
        let _ = write!(xml, "<{element}><Name>{}</Name>", escape(name));
        render_element(xml, "", "Value", value);
        let _ = write!(xml, "</{element}>");
    }
}

fn render_element(xml: &mut String, operation: &str, element: &str, value: &Value) {
    let _ = write!(xml, "<{element}>");
    match value {
        Value::Object(members) => render_members(xml, operation, members),
        Value::String(text) => xml.push_str(&escape(text)),
        Value::Null => {}
        other => xml.push_str(&other.to_string()),
    }
    let _ = write!(xml, "</{element}>");
}

/// Renders an error response of the query protocol.
pub(crate) fn render_error(fault: &str, code: &str, message: &str, request_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"{NAMESPACE}\"><Error><Type>{fault}</Type><Code>{}</Code>\
         <Message>{}</Message><Detail/></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
        escape(code),
        escape(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn numbered_parameters_become_maps_and_lists() {
        let input = input_from_form(pairs(&[
            ("Action", "SendMessageBatch"),
            ("QueueUrl", "http://h/1/q"),
            ("SendMessageBatchRequestEntry.2.Id", "b"),
            ("SendMessageBatchRequestEntry.1.Id", "a"),
            ("SendMessageBatchRequestEntry.1.MessageAttribute.1.Name", "colour"),
            ("SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType", "String"),
            ("SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue", "red"),
            ("AttributeName.1", "All"),
        ]));
        assert_eq!(
            Value::Object(input),
            serde_json::json!({
                "QueueUrl": "http://h/1/q",
                "AttributeNames": ["All"],
                "Entries": [
                    {"Id": "a", "MessageAttributes": {"colour": {"DataType": "String", "StringValue": "red"}}},
                    {"Id": "b"}
                ]
            })
        );
    }

    #[test]
    fn maps_and_lists_render_as_flattened_elements() {
        let output = serde_json::json!({"Messages": [{"Body": "a<b", "Attributes": {"SenderId": "1"}}]});
        let xml = render("ReceiveMessage", &output, "r");
        assert!(xml.contains(
            "<ReceiveMessageResult><Message><Body>a&lt;b</Body><Attribute><Name>SenderId</Name><Value>1</Value></Attribute></Message></ReceiveMessageResult>"
        ));
    }
}

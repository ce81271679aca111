//! Lambda events built from an HTTP request: payload format 2.0 (function URLs and HTTP APIs)
//! and the REST API proxy event of payload format 1.0.

use std::collections::BTreeMap;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

/// An HTTP request as the listener received it.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    /// The path as sent, still percent-encoded, without any prefix the server routes by.
    /// NOTE: whether AWS sends `rawPath` encoded or decoded was not checked against a recorded
    /// event; `requestContext.http.path` carries the decoded form.
    pub raw_path: String,
    /// The query string as sent, without the `?`.
    pub raw_query: String,
    /// Header names in lower case with their values, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub source_ip: String,
    /// Such as `HTTP/1.1`.
    pub protocol: String,
    pub time: DateTime<Utc>,
    pub request_id: String,
}

/// The endpoint that received the request, as the event describes it.
#[derive(Debug, Clone)]
pub struct EventContext {
    pub account_id: String,
    /// The URL id of a function URL, or the id of the route table.
    pub api_id: String,
    pub domain_name: String,
    pub domain_prefix: String,
    /// `$default` for function URLs, `GET /items/{id}` for a route.
    pub route_key: String,
    /// The route's path template, such as `/items/{id}`; `None` for function URLs.
    pub resource: Option<String>,
    pub path_parameters: Option<BTreeMap<String, String>>,
}

impl HttpRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Decodes the percent-escapes of the path. Invalid UTF-8 is replaced, not rejected.
    pub fn decoded_path(&self) -> String {
        percent_encoding::percent_decode_str(&self.raw_path).decode_utf8_lossy().into_owned()
    }

    /// Returns the query parameters in order, decoded as HTML forms encode them (`+` is a space).
    fn query_pairs(&self) -> Vec<(String, String)> {
        self.raw_query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (decode_query_part(key), decode_query_part(value))
            })
            .collect()
    }

    /// Collects the cookies of every `Cookie` header, one `name=value` string each.
    fn cookies(&self) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(name, _)| name == "cookie")
            .flat_map(|(_, value)| value.split(';'))
            .map(str::trim)
            .filter(|cookie| !cookie.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Encodes the body as the event carries it, returning whether that is base64.
    fn event_body(&self) -> (Option<String>, bool) {
        if self.body.is_empty() {
            return (None, false);
        }
        let text_type = self.header("content-type").is_some_and(is_text_content_type);
        match std::str::from_utf8(&self.body) {
            Ok(text) if text_type => (Some(text.to_string()), false),
            _ => (Some(base64::engine::general_purpose::STANDARD.encode(&self.body)), true),
        }
    }

    fn user_agent(&self) -> &str {
        self.header("user-agent").unwrap_or("")
    }
}

fn decode_query_part(part: &str) -> String {
    let spaced = part.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// Whether a body of this content type reaches the function as text rather than base64.
/// Function URLs and HTTP APIs pass text types, JSON, JavaScript, XML and form data as text.
fn is_text_content_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/javascript"
                | "application/xml"
                | "application/x-www-form-urlencoded"
                | "application/ecmascript"
        )
}

/// Joins the values of repeated keys by commas, as payload format 2.0 does for headers and
/// query parameters.
fn joined(pairs: impl IntoIterator<Item = (String, String)>) -> Map<String, Value> {
    let mut map: Map<String, Value> = Map::new();
    for (key, value) in pairs {
        match map.get_mut(&key) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            _ => {
                map.insert(key, Value::String(value));
            }
        }
    }
    map
}

/// Groups every value of each key in a list, and keeps the last value alone, as payload
/// format 1.0 does.
fn multi_and_last(pairs: &[(String, String)]) -> (Map<String, Value>, Map<String, Value>) {
    let mut multi: Map<String, Value> = Map::new();
    let mut last: Map<String, Value> = Map::new();
    for (key, value) in pairs {
        let list = multi.entry(key.clone()).or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = list {
            list.push(Value::String(value.clone()));
        }
        last.insert(key.clone(), Value::String(value.clone()));
    }
    (multi, last)
}

fn non_empty(map: Map<String, Value>) -> Value {
    if map.is_empty() {
        Value::Null
    } else {
        Value::Object(map)
    }
}

/// Builds the payload format 2.0 event. Fields AWS leaves out when empty (`cookies`,
/// `queryStringParameters`, `body`, `pathParameters`) are left out here too.
pub fn v2_event(request: &HttpRequest, context: &EventContext) -> Value {
    let headers = joined(request.headers.iter().filter(|(name, _)| name != "cookie").cloned());
    let query = joined(request.query_pairs());
    let (body, is_base64) = request.event_body();

    let mut event = json!({
        "version": "2.0",
        "routeKey": context.route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
    });
    let cookies = request.cookies();
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }

    event["headers"] = Value::Object(headers);
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }

    event["requestContext"] = json!({
        "accountId": context.account_id,
        "apiId": context.api_id,
        "domainName": context.domain_name,
        "domainPrefix": context.domain_prefix,
        "http": {
            "method": request.method,
            "path": request.decoded_path(),
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": request.user_agent(),
        },
        "requestId": request.request_id,
        "routeKey": context.route_key,
        "stage": "$default",
        "time": request.time.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
        "timeEpoch": request.time.timestamp_millis(),
    });

    if let Some(body) = body {
        event["body"] = Value::String(body);
    }
    if let Some(parameters) = &context.path_parameters {
        event["pathParameters"] = json!(parameters);
    }
    event["isBase64Encoded"] = Value::Bool(is_base64);
    event
}

/// Builds the REST API proxy event of payload format 1.0.
pub fn v1_event(request: &HttpRequest, context: &EventContext) -> Value {
    let (multi_headers, headers) = multi_and_last(&request.headers);
    let (multi_query, query) = multi_and_last(&request.query_pairs());
    let (body, is_base64) = request.event_body();
    let path = request.decoded_path();
    let resource = context.resource.clone().unwrap_or_else(|| path.clone());
    json!({
        "version": "1.0",
        "resource": resource,
        "path": path,
        "httpMethod": request.method,
        "headers": non_empty(headers),
        "multiValueHeaders": non_empty(multi_headers),
        "queryStringParameters": non_empty(query),
        "multiValueQueryStringParameters": non_empty(multi_query),
        "requestContext": {
            "accountId": context.account_id,
            "apiId": context.api_id,
            "domainName": context.domain_name,
            "domainPrefix": context.domain_prefix,
            "extendedRequestId": request.request_id,
            "httpMethod": request.method,
            "identity": {
                "sourceIp": request.source_ip,
                "userAgent": request.user_agent(),
            },
            "path": path,
            "protocol": request.protocol,
            "requestId": request.request_id,
            "requestTime": request.time.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "requestTimeEpoch": request.time.timestamp_millis(),
            "resourceId": context.route_key,
            "resourcePath": resource,
            "stage": "$default",
        },
        "pathParameters": context.path_parameters,
        "stageVariables": null,
        "body": body,
        "isBase64Encoded": is_base64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> HttpRequest {
        HttpRequest {
            method: "POST".into(),
            raw_path: "/caf%C3%A9/x".into(),
            raw_query: "a=1&a=2&b=x+y&c".into(),
            headers: vec![
                ("x-multi".into(), "one".into()),
                ("x-multi".into(), "two".into()),
                ("cookie".into(), "s=1; t=2".into()),
                ("content-type".into(), "application/octet-stream".into()),
            ],
            body: vec![0, 255, 1],
            source_ip: "127.0.0.1".into(),
            protocol: "HTTP/1.1".into(),
            time: DateTime::from_timestamp_millis(1_583_348_638_390).unwrap(),
            request_id: "id".into(),
        }
    }

    fn context() -> EventContext {
        EventContext {
            account_id: "000000000000".into(),
            api_id: "api".into(),
            domain_name: "localhost".into(),
            domain_prefix: "api".into(),
            route_key: "$default".into(),
            resource: None,
            path_parameters: None,
        }
    }

    #[test]
    fn v2_joins_repeated_values() {
        let event = v2_event(&request(), &context());
        assert_eq!(event["headers"]["x-multi"], "one,two");
        assert_eq!(event["queryStringParameters"]["a"], "1,2");
        assert_eq!(event["queryStringParameters"]["b"], "x y");
        assert_eq!(event["queryStringParameters"]["c"], "");
    }

    #[test]
    fn v2_moves_cookies_out_of_headers() {
        let event = v2_event(&request(), &context());
        assert_eq!(event["cookies"], json!(["s=1", "t=2"]));
        assert!(event["headers"].get("cookie").is_none());
    }

    #[test]
    fn v2_encodes_binary_body() {
        let event = v2_event(&request(), &context());
        assert_eq!(event["body"], "AP8B");
        assert_eq!(event["isBase64Encoded"], true);
        assert_eq!(event["requestContext"]["http"]["path"], "/café/x");
        assert_eq!(event["requestContext"]["time"], "04/Mar/2020:19:03:58 +0000");
    }

    #[test]
    fn v1_lists_every_value() {
        let event = v1_event(&request(), &context());
        assert_eq!(event["multiValueHeaders"]["x-multi"], json!(["one", "two"]));
        assert_eq!(event["headers"]["x-multi"], "two");
        assert_eq!(event["multiValueQueryStringParameters"]["a"], json!(["1", "2"]));
        assert_eq!(event["pathParameters"], Value::Null);
    }
}

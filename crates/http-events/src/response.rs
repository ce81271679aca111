//! Function results turned into HTTP responses, as function URLs and API Gateway map them.

use base64::Engine as _;
use serde_json::{Map, Value};

/// An HTTP response ready to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names with their values; a name may repeat (`set-cookie`).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The response shape a function is expected to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultFormat {
    /// Payload format 2.0: a structured object, or any other JSON value sent as a 200 body.
    V2,
    /// Payload format 1.0: a structured object with `statusCode` is required.
    V1,
}

impl HttpResponse {
    fn text(status: u16, content_type: &str, body: &str) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.as_bytes().to_vec(),
        }
    }
}

/// The response to a function that failed: 502 for an error, 504 for a timeout.
pub fn map_error(timed_out: bool) -> HttpResponse {
    if timed_out {
        HttpResponse::text(504, "text/plain; charset=utf-8", "Gateway Timeout")
    } else {
        HttpResponse::text(502, "text/plain; charset=utf-8", "Internal Server Error")
    }
}

/// Maps a successful function result to the response. A result that cannot be mapped (not
/// JSON, a `statusCode` that is no status, a body that is not valid base64) is a 502.
pub fn map_result(payload: &[u8], format: ResultFormat) -> HttpResponse {
    let Ok(value) = serde_json::from_slice::<Value>(payload) else {
        return map_error(false);
    };
    match value {
        Value::Object(object) if object.contains_key("statusCode") => {
            structured(&object).unwrap_or_else(|| map_error(false))
        }
        _ if format == ResultFormat::V1 => map_error(false),
        Value::String(text) => HttpResponse::text(200, "application/json", &text),
        _ => HttpResponse::text(200, "application/json", &String::from_utf8_lossy(payload)),
    }
}

/// Converts a header value to a string. AWS also accepts numbers and booleans.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn structured(object: &Map<String, Value>) -> Option<HttpResponse> {
    // A 1xx status cannot end an exchange, so it is no final response a function can give.
    let status = object.get("statusCode")?.as_u64().filter(|s| (200..=599).contains(s))? as u16;
    let mut headers = Vec::new();
    if let Some(Value::Object(multi)) = object.get("multiValueHeaders") {
        for (name, values) in multi {
            for value in values.as_array()? {
                headers.push((name.to_ascii_lowercase(), scalar_text(value)?));
            }
        }
    }
    if let Some(Value::Object(single)) = object.get("headers") {
        for (name, value) in single {
            let name = name.to_ascii_lowercase();
            headers.retain(|(existing, _)| *existing != name);
            headers.push((name, scalar_text(value)?));
        }
    }
    if let Some(Value::Array(cookies)) = object.get("cookies") {
        for cookie in cookies {
            headers.push(("set-cookie".into(), cookie.as_str()?.to_string()));
        }
    }
    if !headers.iter().any(|(name, _)| name == "content-type") {
        headers.push(("content-type".into(), "application/json".into()));
    }
    let body = match object.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) => text.as_bytes().to_vec(),
        Some(other) => other.to_string().into_bytes(),
    };
    let body = if object.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
        base64::engine::general_purpose::STANDARD.decode(&body).ok()?
    } else {
        body
    };
    // 204 and 304 responses end with their headers, so a body given with them is dropped.
    let body = if matches!(status, 204 | 304) { Vec::new() } else { body };
    Some(HttpResponse { status, headers, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_result_sets_cookies() {
        let payload = br#"{"statusCode":201,"headers":{"X-A":"1"},"cookies":["a=1","b=2"],"body":"hi"}"#;
        let response = map_result(payload, ResultFormat::V2);
        assert_eq!(response.status, 201);
        assert_eq!(response.body, b"hi");
        let cookies: Vec<_> = response.headers.iter().filter(|(n, _)| n == "set-cookie").collect();
        assert_eq!(cookies.len(), 2);
        assert!(response.headers.contains(&("x-a".into(), "1".into())));
    }

    #[test]
    fn plain_result_is_json_body() {
        let response = map_result(br#"{"a":1}"#, ResultFormat::V2);
        assert_eq!(response.status, 200);
        assert_eq!(response.body, br#"{"a":1}"#);
        assert_eq!(map_result(br#""text""#, ResultFormat::V2).body, b"text");
    }

    #[test]
    fn base64_body_is_decoded() {
        let response =
            map_result(br#"{"statusCode":200,"body":"AP8=","isBase64Encoded":true}"#, ResultFormat::V2);
        assert_eq!(response.body, vec![0, 255]);
    }

    #[test]
    fn invalid_results_are_502() {
        assert_eq!(map_result(b"not json", ResultFormat::V2).status, 502);
        assert_eq!(map_result(br#"{"statusCode":"x"}"#, ResultFormat::V2).status, 502);
        assert_eq!(map_result(br#"{"statusCode":101}"#, ResultFormat::V2).status, 502);
        assert!(map_result(br#"{"statusCode":204,"body":"x"}"#, ResultFormat::V2).body.is_empty());
        assert_eq!(map_result(br#"{"a":1}"#, ResultFormat::V1).status, 502);
        assert_eq!(
            map_result(br#"{"statusCode":200,"body":"%%","isBase64Encoded":true}"#, ResultFormat::V2).status,
            502
        );
    }
}

//! A Lambda function for the `provided.al2023` runtime, built on the official Rust runtime
//! client. It echoes the event with the request id and function name, or fails with the
//! event's `error` string, so that tests can check both outcomes.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (payload, context) = event.into_parts();
    if let Some(message) = payload.get("error").and_then(Value::as_str) {
        return Err(message.into());
    }
    Ok(json!({
        "echo": payload,
        "request_id": context.request_id,
        "function_name": context.env_config.function_name,
    }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}

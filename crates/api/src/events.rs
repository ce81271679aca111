//! The EventBridge operations on schedule rules (`X-Amz-Target: AWSEvents.*`, JSON 1.1):
//! request and response shapes of botocore's `events` 2015-10-07 model. Rules themselves live
//! in `flicker_triggers::schedule`.

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use flicker_triggers::schedule::{
    FailedEntry, PutRuleRequest, RuleDescription, ScheduleError, Schedules, Target,
};
use http_body_util::{BodyExt, Limited};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

/// Largest request body read; the largest valid request, PutTargets with 100 targets of 8 KB
/// input each, is below it.
const MAX_REQUEST: usize = 1024 * 1024;

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "__type": code, "message": message }).to_string();
    (status, [("content-type", CONTENT_TYPE), ("x-amzn-errortype", code)], body).into_response()
}

fn schedule_error(error: ScheduleError) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    error_response(status, error.error_name(), &error.to_string())
}

fn ok(body: Value) -> Response {
    (StatusCode::OK, [("content-type", CONTENT_TYPE)], body.to_string()).into_response()
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ScheduleError> {
    let body = if body.is_empty() { b"{}".as_slice() } else { body };
    serde_json::from_slice(body)
        .map_err(|err| ScheduleError::Validation(format!("Invalid request body: {err}")))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRuleBody {
    name: String,
    schedule_expression: Option<String>,
    event_pattern: Option<String>,
    state: Option<String>,
    description: Option<String>,
    event_bus_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RuleNameBody {
    name: String,
    event_bus_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListRulesBody {
    name_prefix: Option<String>,
    event_bus_name: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TargetBody {
    id: String,
    arn: String,
    input: Option<String>,
    input_path: Option<String>,
    /// Target parameters this server does not serve, such as `InputTransformer`.
    #[serde(flatten)]
    other: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutTargetsBody {
    rule: String,
    event_bus_name: Option<String>,
    targets: Vec<TargetBody>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RemoveTargetsBody {
    rule: String,
    event_bus_name: Option<String>,
    ids: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListTargetsBody {
    rule: String,
    event_bus_name: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

fn rule_json(rule: &RuleDescription) -> Value {
    let mut value = json!({
        "Name": rule.name,
        "Arn": rule.arn,
        "State": rule.state,
        "ScheduleExpression": rule.schedule_expression,
        "EventBusName": "default",
    });
    if let Some(description) = &rule.description {
        value["Description"] = json!(description);
    }
    value
}

fn target_json(target: &Target) -> Value {
    let mut value = json!({ "Id": target.id, "Arn": target.arn });
    if let Some(input) = &target.input {
        value["Input"] = json!(input);
    }
    if let Some(path) = &target.input_path {
        value["InputPath"] = json!(path);
    }
    value
}

fn failed_json(failed: &[FailedEntry]) -> Value {
    let entries: Vec<Value> = failed
        .iter()
        .map(|entry| {
            json!({ "TargetId": entry.target_id, "ErrorCode": entry.error_code, "ErrorMessage": entry.error_message })
        })
        .collect();
    json!({ "FailedEntryCount": entries.len(), "FailedEntries": entries })
}

fn with_token(mut body: Value, token: Option<String>) -> Value {
    if let Some(token) = token {
        body["NextToken"] = json!(token);
    }
    body
}

/// Splits the PutTargets entries into targets to apply and entries that use parameters this
/// server does not serve (RoleArn is accepted and ignored, because Flicker checks no roles).
fn split_targets(bodies: Vec<TargetBody>) -> (Vec<Target>, Vec<FailedEntry>) {
    let mut targets = Vec::new();
    let mut unsupported = Vec::new();
    for body in bodies {
        let other: Vec<&String> = body.other.keys().filter(|key| key.as_str() != "RoleArn").collect();
        if let Some(parameter) = other.first() {
            unsupported.push(FailedEntry {
                error_message: format!("Target parameter {parameter} is not supported by this server."),
                target_id: body.id,
                error_code: "ValidationException",
            });
            continue;
        }
        targets.push(Target { id: body.id, arn: body.arn, input: body.input, input_path: body.input_path });
    }
    (targets, unsupported)
}

async fn put_rule(schedules: &Schedules, body: &[u8]) -> Result<Value, ScheduleError> {
    let body: PutRuleBody = parse(body)?;
    let request = PutRuleRequest {
        name: body.name,
        schedule_expression: body.schedule_expression,
        event_pattern: body.event_pattern,
        state: body.state,
        description: body.description,
        event_bus_name: body.event_bus_name,
    };
    let arn = schedules.put_rule(request).await?;
    Ok(json!({ "RuleArn": arn }))
}

fn describe_rule(schedules: &Schedules, body: &[u8]) -> Result<Value, ScheduleError> {
    let body: RuleNameBody = parse(body)?;
    let rule = schedules.describe_rule(&body.name, body.event_bus_name.as_deref())?;
    let mut value = rule_json(&rule);
    value["CreatedBy"] = json!(rule.arn.split(':').nth(4).unwrap_or_default());
    Ok(value)
}

fn list_rules(schedules: &Schedules, body: &[u8]) -> Result<Value, ScheduleError> {
    let body: ListRulesBody = parse(body)?;
    let (rules, token) = schedules.list_rules(
        body.name_prefix.as_deref(),
        body.event_bus_name.as_deref(),
        body.next_token.as_deref(),
        body.limit,
    )?;
    Ok(with_token(json!({ "Rules": rules.iter().map(rule_json).collect::<Vec<_>>() }), token))
}

async fn delete_rule(schedules: &Schedules, body: &[u8]) -> Result<Value, ScheduleError> {
    let body: RuleNameBody = parse(body)?;
    schedules.delete_rule(&body.name, body.event_bus_name.as_deref()).await?;
    Ok(json!({}))
}

async fn set_enabled(schedules: &Schedules, body: &[u8], enabled: bool) -> Result<Value, ScheduleError> {
    let body: RuleNameBody = parse(body)?;
    schedules.set_enabled(&body.name, body.event_bus_name.as_deref(), enabled).await?;
    Ok(json!({}))
}

async fn put_targets(schedules: &Schedules, body: &[u8]) -> Result<Value, ScheduleError> {
    let body: PutTargetsBody = parse(body)?;
    let (targets, mut failed) = split_targets(body.targets);
    if !targets.is_empty() || failed.is_empty() {
        failed.extend(schedules.put_targets(&body.rule, body.event_bus_name.as_deref(), targets).await?);
    } else {
        // Every entry failed here; the rule must still exist, as AWS checks it first.
        schedules.list_targets(&body.rule, body.event_bus_name.as_deref(), None, Some(1))?;
    }
    Ok(failed_json(&failed))
}

async fn remove_targets(schedules: &Schedules, body: &[u8]) -> Result<Value, ScheduleError> {
    let body: RemoveTargetsBody = parse(body)?;
    let failed = schedules.remove_targets(&body.rule, body.event_bus_name.as_deref(), body.ids).await?;
    Ok(failed_json(&failed))
}

fn list_targets(schedules: &Schedules, body: &[u8]) -> Result<Value, ScheduleError> {
    let body: ListTargetsBody = parse(body)?;
    let (targets, token) = schedules.list_targets(
        &body.rule,
        body.event_bus_name.as_deref(),
        body.next_token.as_deref(),
        body.limit,
    )?;
    Ok(with_token(json!({ "Targets": targets.iter().map(target_json).collect::<Vec<_>>() }), token))
}

/// Runs one operation, or returns `None` for an operation not served here.
async fn run(schedules: &Schedules, operation: &str, body: &[u8]) -> Option<Result<Value, ScheduleError>> {
    let result = match operation {
        "PutRule" => put_rule(schedules, body).await,
        "DescribeRule" => describe_rule(schedules, body),
        "ListRules" => list_rules(schedules, body),
        "DeleteRule" => delete_rule(schedules, body).await,
        "EnableRule" => set_enabled(schedules, body, true).await,
        "DisableRule" => set_enabled(schedules, body, false).await,
        "PutTargets" => put_targets(schedules, body).await,
        "RemoveTargets" => remove_targets(schedules, body).await,
        "ListTargetsByRule" => list_targets(schedules, body),
        _ => return None,
    };
    Some(result)
}

/// Serves one `AWSEvents.OPERATION` request.
pub(crate) async fn dispatch(schedules: &Schedules, operation: &str, body: Body) -> Response {
    let bytes = match Limited::new(body, MAX_REQUEST).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "ValidationException",
                &format!("Request body is larger than {MAX_REQUEST} bytes"),
            )
        }
    };
    match run(schedules, operation, &bytes).await {
        Some(Ok(body)) => ok(body),
        Some(Err(error)) => schedule_error(error),
        None => error_response(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            &format!(
                "This server does not implement {operation} of AWSEvents; it serves schedule rules and their targets"
            ),
        ),
    }
}

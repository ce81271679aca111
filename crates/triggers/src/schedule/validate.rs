//! Checks of rule and target parameters, with EventBridge's limits and messages.

use super::error::{constraint, ScheduleError};

/// The maximum number of targets of one rule, as in EventBridge.
pub const MAX_TARGETS_PER_RULE: usize = 5;
/// The maximum and default number of items per ListRules or ListTargetsByRule page.
pub const MAX_PAGE: usize = 100;

const NAME_PATTERN: &str = r"[\.\-_A-Za-z0-9]+";

fn is_name(value: &str) -> bool {
    value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// Checks a rule name or target id against `[\.\-_A-Za-z0-9]+` and 1 to 64 characters.
pub fn check_name(value: &str, field: &str) -> Result<(), ScheduleError> {
    if value.is_empty() || value.chars().count() > 64 {
        return Err(constraint(
            value,
            field,
            "Member must have length less than or equal to 64 and greater than or equal to 1",
        ));
    }
    if !is_name(value) {
        return Err(constraint(
            value,
            field,
            &format!("Member must satisfy regular expression pattern: {NAME_PATTERN}"),
        ));
    }
    Ok(())
}

/// Checks that an `EventBusName` names the default bus, the only one served.
pub fn check_event_bus(name: Option<&str>, region: &str, account: &str) -> Result<(), ScheduleError> {
    let Some(name) = name else { return Ok(()) };
    let default_arn = format!("arn:aws:events:{region}:{account}:event-bus/default");
    if name == "default" || name == default_arn {
        return Ok(());
    }
    Err(ScheduleError::ResourceNotFound(format!("Event bus {name} does not exist.")))
}

/// Checks a `Limit` of a list operation and returns the page size.
pub fn page_size(limit: Option<i64>) -> Result<usize, ScheduleError> {
    match limit {
        None => Ok(MAX_PAGE),
        Some(limit) if (1..=MAX_PAGE as i64).contains(&limit) => Ok(limit as usize),
        Some(limit) => Err(constraint(
            &limit.to_string(),
            "limit",
            "Member must have value less than or equal to 100 and greater than or equal to 1",
        )),
    }
}

/// Checks that an `InputPath` is a JSONPath this server evaluates: `$` or `$.a.b` with
/// names made of letters, digits, `_` and `-`.
pub fn check_input_path(path: &str) -> Result<(), String> {
    if path == "$" {
        return Ok(());
    }
    let Some(rest) = path.strip_prefix("$.") else {
        return Err(format!("InputPath {path} is not valid: it must be $ or start with $."));
    };
    let valid = rest.split('.').all(|key| {
        !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    });
    if !valid {
        return Err(format!(
            "InputPath {path} is not valid: only $.name.name paths of letters, digits, _ and - are supported"
        ));
    }
    Ok(())
}

/// Evaluates an `InputPath` checked by `check_input_path`; a path that names nothing gives
/// `null`.
pub fn apply_input_path<'a>(event: &'a serde_json::Value, path: &str) -> &'a serde_json::Value {
    let Some(rest) = path.strip_prefix("$.") else { return event };
    rest.split('.').try_fold(event, |value, key| value.get(key)).unwrap_or(&serde_json::Value::Null)
}

/// Checks that a target ARN names a Lambda function: `arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME`
/// with an optional `:QUALIFIER`.
pub fn check_function_arn(arn: &str) -> Result<(), String> {
    let parts: Vec<&str> = arn.split(':').collect();
    let lambda = parts.len() >= 7
        && parts.len() <= 8
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "lambda"
        && parts[5] == "function"
        && !parts[6].is_empty();
    if !lambda {
        return Err(format!(
            "Target ARN {arn} is not supported: this server invokes only Lambda functions (arn:aws:lambda:REGION:ACCOUNT:function:NAME)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_pattern() {
        assert!(check_name("my.rule-1_a", "name").is_ok());
        assert!(check_name("has space", "name").unwrap_err().to_string().contains("'has space' at 'name'"));
        assert!(check_name(&"a".repeat(65), "name").is_err());
        assert!(check_name("", "name").is_err());
    }

    #[test]
    fn input_paths() {
        let event = serde_json::json!({"detail": {"a": 1}, "id": "x"});
        assert_eq!(apply_input_path(&event, "$"), &event);
        assert_eq!(apply_input_path(&event, "$.detail.a"), &serde_json::json!(1));
        assert_eq!(apply_input_path(&event, "$.missing"), &serde_json::Value::Null);
        assert!(check_input_path("$.detail").is_ok());
        assert!(check_input_path("detail").is_err());
        assert!(check_input_path("$.a[0]").is_err());
        assert!(check_input_path("$..a").is_err());
    }

    #[test]
    fn function_arns() {
        assert!(check_function_arn("arn:aws:lambda:us-east-1:000000000000:function:f").is_ok());
        assert!(check_function_arn("arn:aws:lambda:us-east-1:000000000000:function:f:live").is_ok());
        assert!(check_function_arn("arn:aws:sqs:us-east-1:000000000000:queue").is_err());
        assert!(check_function_arn("f").is_err());
    }
}

//! Validation of function settings, with the error names and messages AWS Lambda returns.

use std::sync::LazyLock;

use indexmap::IndexMap;
use regex::Regex;

use crate::{limits, ApiError};

const ROLE_PATTERN: &str = r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+";

static ROLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@_/-]+$")
        .expect("role pattern compiles")
});

static ENV_KEY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z][a-zA-Z0-9_]+$").expect("key pattern compiles"));

/// Variables that the execution environment sets and a function may not override.
const RESERVED_ENV_KEYS: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

fn constraint(value: impl std::fmt::Display, field: &str, rule: &str) -> String {
    format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: \
         {rule}"
    )
}

/// Checks that `value` lies in `min..=max`, naming the field as AWS does.
fn check_range(value: i64, field: &str, min: u32, max: u32) -> Result<u32, ApiError> {
    if value < i64::from(min) {
        let rule = format!("Member must have value greater than or equal to {min}");
        return Err(ApiError::validation(constraint(value, field, &rule)));
    }
    if value > i64::from(max) {
        let rule = format!("Member must have value less than or equal to {max}");
        return Err(ApiError::validation(constraint(value, field, &rule)));
    }
    Ok(value as u32)
}

/// Checks `MemorySize`. Above the maximum, AWS words the error without the value.
pub fn memory_size(value: i64) -> Result<u32, ApiError> {
    if value > i64::from(limits::MEMORY_MAX_MB) {
        return Err(ApiError::validation(format!(
            "'MemorySize' value failed to satisfy constraint: Member must have value less than or \
             equal to {}",
            limits::MEMORY_MAX_MB
        )));
    }
    check_range(value, "memorySize", limits::MEMORY_MIN_MB, limits::MEMORY_MAX_MB)
}

pub fn timeout(value: i64) -> Result<u32, ApiError> {
    check_range(value, "timeout", limits::TIMEOUT_MIN_S, limits::TIMEOUT_MAX_S)
}

pub fn ephemeral_storage(value: u32) -> Result<u32, ApiError> {
    let (min, max) = (limits::EPHEMERAL_MIN_MB, limits::EPHEMERAL_MAX_MB);
    check_range(i64::from(value), "ephemeralStorage.size", min, max)
}

pub fn role(value: &str) -> Result<(), ApiError> {
    if ROLE.is_match(value) {
        return Ok(());
    }
    let rule = format!("Member must satisfy regular expression pattern: {ROLE_PATTERN}");
    Err(ApiError::validation(constraint(value, "role", &rule)))
}

pub fn description(value: &str) -> Result<(), ApiError> {
    if value.chars().count() <= limits::DESCRIPTION_MAX {
        return Ok(());
    }
    let rule = format!("Member must have length less than or equal to {}", limits::DESCRIPTION_MAX);
    Err(ApiError::validation(constraint(value, "description", &rule)))
}

pub fn handler(value: &str) -> Result<(), ApiError> {
    if !value.is_empty() && value.len() <= 128 && !value.chars().any(char::is_whitespace) {
        return Ok(());
    }
    let rule = "Member must satisfy regular expression pattern: [^\\s]+";
    Err(ApiError::validation(constraint(value, "handler", rule)))
}

pub fn architectures(value: &[String]) -> Result<(), ApiError> {
    let listed = format!("[{}]", value.join(", "));
    if value.len() > 1 {
        let rule = "Member must have length less than or equal to 1";
        return Err(ApiError::validation(constraint(listed, "architectures", rule)));
    }
    if value.iter().any(|a| a != "x86_64" && a != "arm64") {
        let rule = "Member must satisfy constraint: [Member must satisfy enum value set: \
                    [x86_64, arm64], Member must not be null]";
        return Err(ApiError::validation(constraint(listed, "architectures", rule)));
    }
    if value
        .iter()
        .any(|a| a != std::env::consts::ARCH && !(a == "arm64" && std::env::consts::ARCH == "aarch64"))
    {
        return Err(ApiError::invalid_parameter(format!(
            "Architecture {} is not supported by this server, which runs on {}.",
            value.join(", "),
            std::env::consts::ARCH
        )));
    }
    Ok(())
}

/// Checks variable names, reserved keys and the 4 KB limit on the JSON form of the map.
pub fn environment(variables: &IndexMap<String, String>) -> Result<(), ApiError> {
    if let Some(key) = variables.keys().find(|k| !ENV_KEY.is_match(k)) {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{key}' at 'environment.variables' failed to \
             satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular \
             expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]"
        )));
    }
    if let Some((key, _)) = variables.iter().find(|(_, value)| value.contains('\0')) {
        return Err(ApiError::invalid_parameter(format!(
            "The value of environment variable {key} contains a NUL character, which an environment \
             variable cannot hold."
        )));
    }
    let reserved: Vec<&str> =
        variables.keys().map(String::as_str).filter(|k| RESERVED_ENV_KEYS.contains(k)).collect();
    if !reserved.is_empty() {
        return Err(ApiError::invalid_parameter(format!(
            "Lambda was unable to configure your environment variables because the environment \
             variables you have provided contains reserved keys that are currently not supported \
             for modification. Reserved keys used in this request: {}",
            reserved.join(", ")
        )));
    }
    let measured = serde_json::to_string(variables).expect("a string map serializes");
    if measured.len() > limits::ENVIRONMENT {
        return Err(ApiError::invalid_parameter(format!(
            "Lambda was unable to configure your environment variables because the environment \
             variables you have provided exceeded the 4KB limit. String measured: {measured}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_bounds() {
        assert_eq!(memory_size(128).unwrap(), 128);
        assert_eq!(memory_size(10240).unwrap(), 10240);
        let low = memory_size(127).unwrap_err();
        assert_eq!(low.code, "ValidationException");
        assert!(low.message.contains("Value '127' at 'memorySize'"));
        assert!(memory_size(10241).unwrap_err().message.starts_with("'MemorySize' value failed"));
    }

    #[test]
    fn timeout_bounds() {
        assert!(timeout(0).is_err());
        assert!(timeout(901).unwrap_err().message.contains("'timeout'"));
        assert_eq!(timeout(900).unwrap(), 900);
    }

    #[test]
    fn role_pattern() {
        assert!(role("arn:aws:iam::000000000000:role/any").is_ok());
        let err = role("r1").unwrap_err();
        assert_eq!(err.code, "ValidationException");
        assert!(err.message.starts_with("1 validation error detected: Value 'r1' at 'role'"));
    }

    #[test]
    fn environment_over_limit_names_measured_string() {
        let mut vars = IndexMap::new();
        vars.insert("SMALL_VAR".to_string(), "ok".to_string());
        vars.insert("LARGE_VAR".to_string(), "x".repeat(4096));
        let err = environment(&vars).unwrap_err();
        assert!(err.message.contains("String measured: {\"SMALL_VAR\":\"ok\",\"LARGE_VAR\":\"xxx"));
    }

    #[test]
    fn environment_reserved_key() {
        let mut vars = IndexMap::new();
        vars.insert("AWS_REGION".to_string(), "x".to_string());
        assert!(environment(&vars).unwrap_err().message.ends_with("AWS_REGION"));
    }

    #[test]
    fn environment_bad_key() {
        let mut vars = IndexMap::new();
        vars.insert("1BAD".to_string(), "x".to_string());
        assert_eq!(environment(&vars).unwrap_err().code, "ValidationException");
    }

    #[test]
    fn architectures_rules() {
        assert!(architectures(&["X86_64".into()]).is_err());
        assert!(architectures(&["x86_64".into(), "arm64".into()]).is_err());
    }
}

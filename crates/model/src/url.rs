//! Function URL configurations: the stored record, the request and response wire types of
//! CreateFunctionUrlConfig and the related operations, and their validation.

use serde::{Deserialize, Serialize};

use crate::ApiError;

/// The pattern of a function URL's `Qualifier`: an alias name, never a version number or
/// `$LATEST`.
pub const URL_QUALIFIER_PATTERN: &str = r"((?!^\d+$)^[0-9a-zA-Z-_]+$)";

/// The longest `Qualifier` of a function URL.
const URL_QUALIFIER_MAX: usize = 128;

/// Cross-origin resource sharing settings, as sent and stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Cors {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_credentials: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_headers: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_methods: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_origins: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expose_headers: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age: Option<i64>,
}

/// The body of CreateFunctionUrlConfig and UpdateFunctionUrlConfig.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionUrlConfigRequest {
    pub auth_type: Option<String>,
    pub cors: Option<Cors>,
    pub invoke_mode: Option<String>,
}

/// A stored function URL configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlConfig {
    pub function_name: String,
    /// The alias the URL invokes; `None` for the unqualified function.
    pub qualifier: Option<String>,
    /// 32 lower-case letters and digits that name the URL; stable for its lifetime.
    pub url_id: String,
    pub auth_type: String,
    pub cors: Option<Cors>,
    pub invoke_mode: String,
    /// Whether the client named an `InvokeMode`; AWS echoes it from create and update only then.
    pub invoke_mode_given: bool,
    pub creation_time: String,
    pub last_modified_time: String,
}

/// A function URL configuration as the API returns it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionUrlConfig {
    pub function_url: String,
    pub function_arn: String,
    pub auth_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cors: Option<Cors>,
    pub creation_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoke_mode: Option<String>,
}

/// One page of ListFunctionUrlConfigs.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionUrlConfigList {
    pub function_url_configs: Vec<FunctionUrlConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

fn constraint(value: &str, field: &str, rule: &str) -> ApiError {
    ApiError::validation(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {rule}"
    ))
}

/// Checks the `Qualifier` of a function URL: an alias name, never a number or `$LATEST`.
pub fn validate_url_qualifier(qualifier: &str) -> Result<(), ApiError> {
    if qualifier.len() > URL_QUALIFIER_MAX {
        return Err(constraint(
            qualifier,
            "qualifier",
            &format!("Member must have length less than or equal to {URL_QUALIFIER_MAX}"),
        ));
    }
    let allowed = qualifier.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let numeric = qualifier.bytes().all(|b| b.is_ascii_digit());
    if qualifier.is_empty() || !allowed || numeric {
        return Err(constraint(
            qualifier,
            "qualifier",
            &format!("Member must satisfy regular expression pattern: {URL_QUALIFIER_PATTERN}"),
        ));
    }
    Ok(())
}

/// Checks an `AuthType` value.
pub fn validate_auth_type(auth_type: &str) -> Result<(), ApiError> {
    match auth_type {
        "NONE" | "AWS_IAM" => Ok(()),
        other => Err(constraint(other, "authType", "Member must satisfy enum value set: [AWS_IAM, NONE]")),
    }
}

/// Checks an `InvokeMode`. Only `BUFFERED` is served; `RESPONSE_STREAM` is rejected clearly.
pub fn validate_invoke_mode(invoke_mode: &str) -> Result<(), ApiError> {
    match invoke_mode {
        "BUFFERED" => Ok(()),
        "RESPONSE_STREAM" => Err(ApiError::invalid_parameter(
            "InvokeMode RESPONSE_STREAM is not supported by this server. Use BUFFERED.",
        )),
        other => Err(constraint(
            other,
            "invokeMode",
            "Member must satisfy enum value set: [RESPONSE_STREAM, BUFFERED]",
        )),
    }
}

fn check_list(
    values: &Option<Vec<String>>,
    field: &str,
    max_items: usize,
    max_len: usize,
) -> Result<(), ApiError> {
    let Some(values) = values else { return Ok(()) };
    if values.len() > max_items {
        return Err(constraint(
            &format!("[{}]", values.join(", ")),
            field,
            &format!("Member must have length less than or equal to {max_items}"),
        ));
    }
    if let Some(long) = values.iter().find(|v| v.len() > max_len) {
        return Err(constraint(
            long,
            &format!("{field}.member"),
            &format!("Member must have length less than or equal to {max_len}"),
        ));
    }
    Ok(())
}

/// Checks CORS settings against the API model's limits.
pub fn validate_cors(cors: &Cors) -> Result<(), ApiError> {
    check_list(&cors.allow_headers, "cors.allowHeaders", 100, 1024)?;
    check_list(&cors.expose_headers, "cors.exposeHeaders", 100, 1024)?;
    check_list(&cors.allow_methods, "cors.allowMethods", 6, 6)?;
    check_list(&cors.allow_origins, "cors.allowOrigins", 100, 253)?;
    if let Some(origin) = cors.allow_origins.iter().flatten().find(|o| o.is_empty()) {
        return Err(constraint(
            origin,
            "cors.allowOrigins.member",
            "Member must have length greater than or equal to 1",
        ));
    }
    match cors.max_age {
        Some(age) if age < 0 => Err(constraint(
            &age.to_string(),
            "cors.maxAge",
            "Member must have value greater than or equal to 0",
        )),
        Some(age) if age > 86400 => Err(constraint(
            &age.to_string(),
            "cors.maxAge",
            "Member must have value less than or equal to 86400",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_qualifier_rejects_versions_and_latest() {
        for qualifier in ["1", "$LATEST", "a.b", ""] {
            let err = validate_url_qualifier(qualifier).unwrap_err();
            assert_eq!(err.code, "ValidationException", "{qualifier}");
        }
        assert!(validate_url_qualifier("live-1").is_ok());
    }

    #[test]
    fn cors_max_age_is_bounded() {
        let cors = Cors { max_age: Some(86401), ..Cors::default() };
        assert!(validate_cors(&cors).unwrap_err().message.contains("cors.maxAge"));
        let methods = Cors { allow_methods: Some(vec!["OPTIONSX".into()]), ..Cors::default() };
        assert!(validate_cors(&methods).is_err());
    }
}

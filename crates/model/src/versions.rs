//! The state of a function outside its versions' configurations: aliases, reserved and
//! provisioned concurrency, tags and the version counter. This module also has the request and
//! response bodies of the operations that change them, and their validation rules.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use indexmap::IndexMap;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::ApiError;

/// The `Alias` name pattern, reported verbatim in errors.
const ALIAS_PATTERN: &str = "(?!^[0-9]+$)([a-zA-Z0-9-_]+)";
const ALIAS_MAX: usize = 128;
const DESCRIPTION_MAX: usize = 256;

/// Tags one function may have, as in AWS.
pub const TAGS_MAX: usize = 50;

static ALIAS_CHARACTERS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new("^[a-zA-Z0-9_-]+$").expect("alias pattern compiles"));

/// The state of a function that is not part of any version's configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionSettings {
    /// The highest version number ever published; numbers are never reused.
    #[serde(default)]
    pub last_version: u64,
    /// The `RevisionId` of `$LATEST` when the last version was published from it.
    #[serde(default)]
    pub published_revision: Option<String>,
    #[serde(default)]
    pub aliases: BTreeMap<String, Alias>,
    #[serde(default)]
    pub reserved_concurrency: Option<u32>,
    /// Provisioned concurrency configurations by qualifier (a version number or an alias).
    #[serde(default)]
    pub provisioned: BTreeMap<String, ProvisionedConfig>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// An alias as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alias {
    pub name: String,
    /// `$LATEST` or a published version number.
    pub function_version: String,
    #[serde(default)]
    pub description: String,
    /// The second version and the share of invocations, from 0.0 to 1.0, sent to it.
    #[serde(default)]
    pub additional_version: Option<(String, f64)>,
    pub revision_id: String,
}

/// A provisioned concurrency configuration as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvisionedConfig {
    pub requested: u32,
    pub last_modified: String,
}

/// `AliasRoutingConfiguration`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoutingConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_version_weights: Option<IndexMap<String, f64>>,
}

/// `AliasConfiguration` as the API returns it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasConfiguration {
    pub alias_arn: String,
    pub name: String,
    pub function_version: String,
    pub description: String,
    pub revision_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing_config: Option<RoutingConfig>,
}

impl Alias {
    /// Builds the wire form; `function_arn` is the unqualified ARN.
    pub fn to_wire(&self, function_arn: &str) -> AliasConfiguration {
        let routing_config = self.additional_version.as_ref().map(|(version, weight)| RoutingConfig {
            additional_version_weights: Some(IndexMap::from([(version.clone(), *weight)])),
        });
        AliasConfiguration {
            alias_arn: format!("{function_arn}:{}", self.name),
            name: self.name.clone(),
            function_version: self.function_version.clone(),
            description: self.description.clone(),
            revision_id: self.revision_id.clone(),
            routing_config,
        }
    }
}

/// The body of PublishVersion.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishVersionRequest {
    pub code_sha256: Option<String>,
    pub description: Option<String>,
    pub revision_id: Option<String>,
}

/// The body of CreateAlias.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateAliasRequest {
    pub name: Option<String>,
    pub function_version: Option<String>,
    pub description: Option<String>,
    pub routing_config: Option<RoutingConfig>,
}

/// The body of UpdateAlias.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateAliasRequest {
    pub function_version: Option<String>,
    pub description: Option<String>,
    pub routing_config: Option<RoutingConfig>,
    pub revision_id: Option<String>,
}

/// The body of PutFunctionConcurrency.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutFunctionConcurrencyRequest {
    pub reserved_concurrent_executions: Option<i64>,
}

/// The body of PutProvisionedConcurrencyConfig.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutProvisionedConcurrencyRequest {
    pub provisioned_concurrent_executions: Option<i64>,
}

/// The body of TagResource.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceRequest {
    pub tags: Option<BTreeMap<String, String>>,
}

/// A provisioned concurrency configuration as Get, Put and List return it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProvisionedConcurrencyConfiguration {
    /// Set only in the items of ListProvisionedConcurrencyConfigs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_arn: Option<String>,
    pub requested_provisioned_concurrent_executions: u32,
    pub available_provisioned_concurrent_executions: u32,
    pub allocated_provisioned_concurrent_executions: u32,
    pub status: &'static str,
    pub last_modified: String,
}

fn constraint(value: &str, field: &str, rule: &str) -> ApiError {
    ApiError::validation(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {rule}"
    ))
}

/// Checks an alias name against the API model's length and pattern.
pub fn alias_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() || name.len() > ALIAS_MAX {
        return Err(constraint(
            name,
            "name",
            &format!("Member must have length less than or equal to {ALIAS_MAX}"),
        ));
    }
    let all_digits = name.bytes().all(|b| b.is_ascii_digit());
    if all_digits || !ALIAS_CHARACTERS.is_match(name) {
        return Err(constraint(
            name,
            "name",
            &format!("Member must satisfy regular expression pattern: {ALIAS_PATTERN}"),
        ));
    }
    Ok(())
}

/// Checks an alias's `FunctionVersion`: `$LATEST` or a version number.
pub fn alias_version(version: &str) -> Result<(), ApiError> {
    let number = !version.is_empty() && version.len() <= 1024 && version.bytes().all(|b| b.is_ascii_digit());
    if version == "$LATEST" || number {
        return Ok(());
    }
    Err(constraint(
        version,
        "functionVersion",
        r"Member must satisfy regular expression pattern: (\$LATEST|[0-9]+)",
    ))
}

/// Checks a description's length.
pub fn description(description: &str) -> Result<(), ApiError> {
    if description.chars().count() > DESCRIPTION_MAX {
        return Err(constraint(
            description,
            "description",
            &format!("Member must have length less than or equal to {DESCRIPTION_MAX}"),
        ));
    }
    Ok(())
}

/// Formats a weight as the API's Java service does (`2.0`, `0.25`).
fn java_double(value: f64) -> String {
    if value.fract() == 0.0 && value.is_finite() {
        format!("{value:.1}")
    } else {
        value.to_string()
    }
}

/// Checks a routing configuration's form and returns its one additional version, if any.
/// Whether that version exists is for the caller to check.
pub fn routing_config(routing: Option<&RoutingConfig>) -> Result<Option<(String, f64)>, ApiError> {
    let Some(weights) = routing.and_then(|r| r.additional_version_weights.as_ref()) else {
        return Ok(None);
    };
    let weights_text = || {
        let items: Vec<String> = weights.iter().map(|(k, v)| format!("{k}={}", java_double(*v))).collect();
        format!("{{{}}}", items.join(", "))
    };
    let field = "routingConfig.additionalVersionWeights";
    if weights.keys().any(|k| k.is_empty() || k.len() > 1024 || !k.bytes().all(|b| b.is_ascii_digit())) {
        return Err(constraint(
            &weights_text(),
            field,
            "Map keys must satisfy constraint: [Member must have length less than or equal to 1024, \
             Member must have length greater than or equal to 1, Member must satisfy regular \
             expression pattern: [0-9]+]",
        ));
    }
    if weights.values().any(|w| !(0.0..=1.0).contains(w)) {
        return Err(constraint(
            &weights_text(),
            field,
            "Map value must satisfy constraint: [Member must have value less than or equal to 1.0, \
             Member must have value greater than or equal to 0.0, Member must not be null]",
        ));
    }
    if weights.len() > 1 {
        return Err(ApiError::invalid_parameter(
            "Number of items in AdditionalVersionWeights cannot be greater than 1",
        ));
    }
    Ok(weights.iter().next().map(|(version, weight)| (version.clone(), *weight)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_name_rejects_numbers() {
        let err = alias_name("2024").unwrap_err();
        assert_eq!(
            err.message,
            "1 validation error detected: Value '2024' at 'name' failed to satisfy constraint: Member \
             must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"
        );
        assert!(alias_name("2024-01-02").is_ok());
        assert!(alias_name("a.b").is_err());
        assert!(alias_name(&"a".repeat(129)).is_err());
    }

    #[test]
    fn routing_config_rejects_weight_above_one() {
        let routing = RoutingConfig { additional_version_weights: Some(IndexMap::from([("2".into(), 2.0)])) };
        let err = routing_config(Some(&routing)).unwrap_err();
        assert!(err.message.contains("Value '{2=2.0}'"), "{}", err.message);
    }

    #[test]
    fn routing_config_rejects_latest_key() {
        let routing =
            RoutingConfig { additional_version_weights: Some(IndexMap::from([("$LATEST".into(), 0.5)])) };
        let err = routing_config(Some(&routing)).unwrap_err();
        assert!(err.message.contains("Value '{$LATEST=0.5}'"), "{}", err.message);
    }

    #[test]
    fn routing_config_allows_one_version() {
        let routing = RoutingConfig {
            additional_version_weights: Some(IndexMap::from([("2".into(), 0.3), ("3".into(), 0.1)])),
        };
        assert_eq!(routing_config(Some(&routing)).unwrap_err().code, "InvalidParameterValueException");
        let single = RoutingConfig { additional_version_weights: Some(IndexMap::from([("2".into(), 0.3)])) };
        assert_eq!(routing_config(Some(&single)).unwrap(), Some(("2".to_string(), 0.3)));
    }
}

//! Tags of functions: TagResource, UntagResource and ListTags. Only unqualified function ARNs
//! carry tags, as in AWS.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use flicker_model::versions::TAGS_MAX;
use flicker_model::{ApiError, FunctionRef};
use regex::Regex;
use serde::Serialize;
use tracing::info;

use crate::entry::FunctionEntry;
use crate::Engine;

/// The `Resource` pattern of the tag operations, reported verbatim in errors.
const RESOURCE_PATTERN: &str = r"arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|layer:([a-zA-Z0-9-_]+)|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|capacity-provider:[a-zA-Z0-9-_]+)";

static RESOURCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("^(?:{RESOURCE_PATTERN})$")).expect("resource pattern compiles"));

/// The body of ListTags.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagList {
    pub tags: BTreeMap<String, String>,
}

/// Rejects more tags than one resource may have.
pub(crate) fn check_count(count: usize) -> Result<(), ApiError> {
    if count > TAGS_MAX {
        return Err(ApiError::invalid_parameter("Number of tags exceeds resource tag limit."));
    }
    Ok(())
}

/// Parses a tag operation's resource ARN into an unqualified function reference.
fn function_resource(resource: &str) -> Result<FunctionRef, ApiError> {
    if !RESOURCE.is_match(resource) {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{resource}' at 'resource' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: {RESOURCE_PATTERN}"
        )));
    }
    let kind = resource.split(':').nth(5).unwrap_or_default();
    if kind != "function" {
        let resource_kind = match kind {
            "event-source-mapping" => "Event source mapping",
            "layer" => "Layer",
            "code-signing-config" => "Code signing config",
            _ => "Capacity provider",
        };
        return Err(ApiError::not_found(format!("{resource_kind} not found: {resource}")));
    }
    let reference = FunctionRef::parse(resource)?;
    if reference.qualifier.is_some() {
        return Err(ApiError::invalid_parameter(
            "Tags on function aliases and versions are not supported. Please specify a function ARN.",
        ));
    }
    Ok(reference)
}

impl Engine {
    pub async fn tag_resource(
        &self,
        resource: &str,
        tags: Option<BTreeMap<String, String>>,
    ) -> Result<(), ApiError> {
        let reference = function_resource(resource)?;
        let tags = tags.filter(|tags| !tags.is_empty()).ok_or_else(|| {
            ApiError::invalid_parameter("An error occurred and the request cannot be processed.")
        })?;
        let _control = self.inner.control.lock().await;
        let entry = self.entry(&reference)?;
        let mut updated = FunctionEntry::clone(&entry);
        updated.settings.tags.extend(tags);
        check_count(updated.settings.tags.len())?;
        self.save_entry(updated).await?;
        info!(function = %reference.name, "function tagged");
        Ok(())
    }

    pub async fn untag_resource(&self, resource: &str, keys: Option<Vec<String>>) -> Result<(), ApiError> {
        let reference = function_resource(resource)?;
        let keys = keys.ok_or_else(|| {
            ApiError::validation(
                "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member \
                 must not be null",
            )
        })?;
        let _control = self.inner.control.lock().await;
        let entry = self.entry(&reference)?;
        let mut updated = FunctionEntry::clone(&entry);
        for key in &keys {
            updated.settings.tags.remove(key);
        }
        self.save_entry(updated).await?;
        info!(function = %reference.name, "function untagged");
        Ok(())
    }

    pub fn list_tags(&self, resource: &str) -> Result<TagList, ApiError> {
        let reference = function_resource(resource)?;
        Ok(TagList { tags: self.entry(&reference)?.settings.tags.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_resource_is_rejected() {
        let err = function_resource("arn:aws:lambda:us-east-1:000000000000:function:f:1").unwrap_err();
        assert_eq!(err.code, "InvalidParameterValueException");
    }

    #[test]
    fn other_resource_kind_fails_the_pattern() {
        let err = function_resource("arn:aws:lambda:us-east-1:000000000000:foobar:f").unwrap_err();
        assert_eq!(err.code, "ValidationException");
        assert!(err.message.contains("at 'resource'"));
    }

    #[test]
    fn function_resource_is_parsed() {
        let reference = function_resource("arn:aws:lambda:us-east-1:000000000000:function:f").unwrap();
        assert_eq!(reference.name, "f");
    }
}

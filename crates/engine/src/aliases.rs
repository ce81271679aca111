//! Aliases: CreateAlias, GetAlias, UpdateAlias, DeleteAlias and ListAliases. An alias names
//! one published version (or `$LATEST`) and optionally a second version with a weight.

use flicker_model::versions::{self, Alias, AliasConfiguration, CreateAliasRequest, UpdateAliasRequest};
use flicker_model::{ApiError, FunctionRef};
use serde::Serialize;
use tracing::info;

use crate::entry::FunctionEntry;
use crate::functions::reject_qualifier;
use crate::versions::page_size;
use crate::Engine;

/// One page of ListAliases.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasList {
    pub aliases: Vec<AliasConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

impl Engine {
    fn alias_arn(&self, function: &str, alias: &str) -> String {
        format!("{}:{alias}", self.arn(function))
    }

    /// Checks the versions an alias points to, with AWS's errors for each case.
    fn check_alias_targets(
        &self,
        entry: &FunctionEntry,
        function_version: &str,
        additional: Option<&(String, f64)>,
    ) -> Result<(), ApiError> {
        let name = &entry.latest.version.config.name;
        versions::alias_version(function_version)?;
        if entry.version_pool(function_version).is_none() {
            return Err(ApiError::function_not_found(&self.alias_arn(name, function_version)));
        }
        let Some((other, _)) = additional else { return Ok(()) };
        if function_version == "$LATEST" {
            return Err(ApiError::invalid_parameter(
                "$LATEST is not supported for an alias pointing to more than 1 version",
            ));
        }
        if other == function_version {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid function version {other}. Function version {other} is already included in \
                 routing configuration."
            )));
        }
        if entry.version_pool(other).is_none() {
            return Err(ApiError::function_not_found(&self.alias_arn(name, other)));
        }
        Ok(())
    }

    pub async fn create_alias(
        &self,
        reference: &FunctionRef,
        request: CreateAliasRequest,
    ) -> Result<AliasConfiguration, ApiError> {
        reject_qualifier(reference)?;
        let name = request.name.ok_or_else(|| ApiError::invalid_parameter("Name is required."))?;
        versions::alias_name(&name)?;
        let function_version = request
            .function_version
            .ok_or_else(|| ApiError::invalid_parameter("FunctionVersion is required."))?;
        let description = request.description.unwrap_or_default();
        versions::description(&description)?;
        let additional = versions::routing_config(request.routing_config.as_ref())?;

        let _control = self.inner.control.lock().await;
        let entry = self.entry(reference)?;
        self.check_alias_targets(&entry, &function_version, additional.as_ref())?;
        if entry.settings.aliases.contains_key(&name) {
            return Err(ApiError::conflict(format!(
                "Alias already exists: {}",
                self.alias_arn(&reference.name, &name)
            )));
        }
        let alias = Alias {
            name: name.clone(),
            function_version,
            description,
            additional_version: additional,
            revision_id: uuid::Uuid::new_v4().to_string(),
        };
        let mut updated = FunctionEntry::clone(&entry);
        updated.settings.aliases.insert(name.clone(), alias.clone());
        self.save_entry(updated).await?;
        info!(function = %reference.name, alias = %name, "alias created");
        Ok(alias.to_wire(&self.arn(&reference.name)))
    }

    pub fn get_alias(&self, reference: &FunctionRef, name: &str) -> Result<AliasConfiguration, ApiError> {
        reject_qualifier(reference)?;
        versions::alias_name(name)?;
        let entry = self.entry(reference)?;
        let alias = entry.settings.aliases.get(name).ok_or_else(|| {
            ApiError::not_found(format!("Cannot find alias arn: {}", self.alias_arn(&reference.name, name)))
        })?;
        Ok(alias.to_wire(&self.arn(&reference.name)))
    }

    pub async fn update_alias(
        &self,
        reference: &FunctionRef,
        name: &str,
        request: UpdateAliasRequest,
    ) -> Result<AliasConfiguration, ApiError> {
        reject_qualifier(reference)?;
        versions::alias_name(name)?;
        if let Some(description) = &request.description {
            versions::description(description)?;
        }
        let additional = versions::routing_config(request.routing_config.as_ref())?;

        let _control = self.inner.control.lock().await;
        let entry = self.entry(reference)?;
        let mut alias = entry.settings.aliases.get(name).cloned().ok_or_else(|| {
            ApiError::not_found(format!("Alias not found: {}", self.alias_arn(&reference.name, name)))
        })?;
        if request.revision_id.as_deref().is_some_and(|r| r != alias.revision_id) {
            return Err(ApiError::precondition_failed(
                "The Revision Id provided does not match the latest Revision Id. Call the \
                 GetFunction/GetAlias API to retrieve the latest Revision Id",
            ));
        }
        if let Some(version) = request.function_version {
            alias.function_version = version;
        }
        if let Some(description) = request.description {
            alias.description = description;
        }
        // A routing configuration replaces the previous one; an empty one removes it.
        if request.routing_config.is_some() {
            alias.additional_version = additional;
        }
        self.check_alias_targets(&entry, &alias.function_version, alias.additional_version.as_ref())?;
        alias.revision_id = uuid::Uuid::new_v4().to_string();

        let mut updated = FunctionEntry::clone(&entry);
        updated.settings.aliases.insert(name.to_string(), alias.clone());
        let updated = self.save_entry(updated).await?;
        self.apply_provisioned(&updated);
        info!(function = %reference.name, alias = %name, "alias updated");
        Ok(alias.to_wire(&self.arn(&reference.name)))
    }

    /// Deletes an alias; deleting one that does not exist succeeds, as in AWS.
    pub async fn delete_alias(&self, reference: &FunctionRef, name: &str) -> Result<(), ApiError> {
        reject_qualifier(reference)?;
        versions::alias_name(name)?;
        let _control = self.inner.control.lock().await;
        let entry = self.entry(reference)?;
        if !entry.settings.aliases.contains_key(name) {
            return Ok(());
        }
        let mut updated = FunctionEntry::clone(&entry);
        updated.settings.aliases.remove(name);
        updated.settings.provisioned.remove(name);
        let updated = self.save_entry(updated).await?;
        self.apply_provisioned(&updated);
        self.delete_alias_url(&reference.name, name)?;
        info!(function = %reference.name, alias = %name, "alias deleted");
        Ok(())
    }

    /// Lists a page of aliases ordered by name, optionally only those that point to
    /// `function_version`.
    pub fn list_aliases(
        &self,
        reference: &FunctionRef,
        function_version: Option<&str>,
        marker: Option<&str>,
        max_items: Option<i64>,
    ) -> Result<AliasList, ApiError> {
        reject_qualifier(reference)?;
        let max_items = page_size(max_items)?;
        if let Some(version) = function_version {
            versions::alias_version(version)?;
        }
        let entry = self.entry(reference)?;
        let function_arn = self.arn(&reference.name);
        let matching: Vec<&Alias> = entry
            .settings
            .aliases
            .values()
            .filter(|alias| marker.is_none_or(|m| alias.name.as_str() > m))
            .filter(|alias| function_version.is_none_or(|v| alias.function_version == v))
            .collect();
        let next_marker = (matching.len() > max_items).then(|| matching[max_items - 1].name.clone());
        let aliases = matching.iter().take(max_items).map(|alias| alias.to_wire(&function_arn)).collect();
        Ok(AliasList { aliases, next_marker })
    }
}

//! Published versions: PublishVersion, ListVersionsByFunction and the deletion of one version.
//! A version is an immutable copy of `$LATEST` with its own pool, which stays warm while
//! `$LATEST` changes.

use std::sync::Arc;

use flicker_model::versions::{self, PublishVersionRequest};
use flicker_model::{time, ApiError, FunctionConfiguration, FunctionRef};
use serde::Serialize;
use tracing::info;

use crate::entry::FunctionEntry;
use crate::functions::reject_qualifier;
use crate::pool::Pool;
use crate::Engine;

/// One page of ListVersionsByFunction.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionList {
    pub versions: Vec<FunctionConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

fn stale_revision() -> ApiError {
    ApiError::precondition_failed(
        "The Revision Id provided does not match the latest Revision Id. Call the \
         GetFunction/GetAlias API to retrieve the latest Revision Id",
    )
}

/// Parses a list operation's `MaxItems`, which the API model bounds to 1..=10000.
pub(crate) fn page_size(max_items: Option<i64>) -> Result<usize, ApiError> {
    match max_items {
        None => Ok(50),
        Some(n @ 1..=10000) => Ok(n as usize),
        Some(n) => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{n}' at 'maxItems' failed to satisfy constraint: \
             Member must have value between 1 and 10000"
        ))),
    }
}

impl Engine {
    pub async fn publish_version(
        &self,
        reference: &FunctionRef,
        request: PublishVersionRequest,
    ) -> Result<FunctionConfiguration, ApiError> {
        reject_qualifier(reference)?;
        if let Some(description) = &request.description {
            versions::description(description)?;
        }
        let _control = self.inner.control.lock().await;
        self.publish_locked(reference, request).await
    }

    /// Publishes `$LATEST` as a new version, or returns the last version when `$LATEST` has
    /// not changed since it was published. The caller holds the control lock.
    pub(crate) async fn publish_locked(
        &self,
        reference: &FunctionRef,
        request: PublishVersionRequest,
    ) -> Result<FunctionConfiguration, ApiError> {
        let entry = self.entry(reference)?;
        let latest = &entry.latest.version.config;
        if request.revision_id.as_deref().is_some_and(|r| r != latest.revision_id) {
            return Err(stale_revision());
        }
        if let Some(sha) = request.code_sha256.as_deref().filter(|sha| *sha != latest.code_sha256) {
            return Err(ApiError::invalid_parameter(format!(
                "CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST ({}). Please try \
                 again with the CodeSHA256 in $LATEST.",
                latest.code_sha256
            )));
        }
        let unchanged = entry.settings.published_revision.as_deref() == Some(latest.revision_id.as_str());
        if let Some(last) = entry.versions.values().next_back().filter(|_| unchanged) {
            return Ok(self.wire(&last.version.config));
        }

        let number = entry.settings.last_version + 1;
        let mut config = latest.clone();
        config.version = number.to_string();
        config.revision_id = uuid::Uuid::new_v4().to_string();
        config.last_modified = time::now_last_modified();
        if let Some(description) = request.description {
            config.description = description;
        }
        let version = self.prepare_version(config.clone()).await?;
        let stored = config.clone();
        self.with_store(move |store| store.update_function(&stored)).await?;

        let mut updated = FunctionEntry::clone(&entry);
        updated.versions.insert(number, Arc::new(Pool::new(version)));
        updated.settings.last_version = number;
        updated.settings.published_revision = Some(latest.revision_id.clone());
        self.save_entry(updated).await?;
        info!(function = %config.name, version = number, "version published");
        Ok(self.wire(&config))
    }

    /// Lists a page of a function's versions, `$LATEST` first. `marker` is the `NextMarker` of the
    /// previous page.
    pub fn list_versions(
        &self,
        reference: &FunctionRef,
        marker: Option<&str>,
        max_items: Option<i64>,
    ) -> Result<VersionList, ApiError> {
        let max_items = page_size(max_items)?;
        let entry = self.entry(reference)?;
        let mut all: Vec<FunctionConfiguration> =
            entry.pools().map(|pool| self.wire(&pool.version.config).without_state()).collect();
        if let Some(latest) = all.first_mut() {
            latest.function_arn = format!("{}:$LATEST", latest.function_arn);
        }
        let start = match marker {
            Some(marker) => {
                let position = all.iter().position(|c| c.version == marker);
                position
                    .map(|p| p + 1)
                    .ok_or_else(|| ApiError::invalid_parameter(format!("Invalid Marker: {marker}")))?
            }
            None => 0,
        };
        let rest: Vec<FunctionConfiguration> = all.into_iter().skip(start).collect();
        let next_marker = (rest.len() > max_items).then(|| rest[max_items - 1].version.clone());
        Ok(VersionList { versions: rest.into_iter().take(max_items).collect(), next_marker })
    }

    /// Deletes one published version. Deleting a version that does not exist succeeds without
    /// effect, as in AWS. The caller holds the control lock.
    pub(crate) async fn delete_version(
        &self,
        entry: &FunctionEntry,
        qualifier: &str,
    ) -> Result<(), ApiError> {
        let Ok(number) = qualifier.parse::<u64>() else {
            // An alias is not a version, and deleting it through DeleteFunction has no effect.
            return Ok(());
        };
        if !entry.versions.contains_key(&number) {
            return Ok(());
        }

        let referencing: Vec<&str> = entry
            .settings
            .aliases
            .values()
            .filter(|alias| {
                alias.function_version == qualifier
                    || alias.additional_version.as_ref().is_some_and(|(v, _)| v == qualifier)
            })
            .map(|alias| alias.name.as_str())
            .collect();
        if !referencing.is_empty() {
            return Err(ApiError::conflict(format!(
                "Unable to delete version because the following aliases reference it: [{}]",
                referencing.join(", ")
            )));
        }

        let name = entry.latest.version.config.name.clone();
        let version = qualifier.to_string();
        self.with_store(move |store| store.delete_function(&name, Some(&version))).await?;
        let mut updated = entry.clone();
        updated.settings.provisioned.remove(qualifier);
        if let Some(pool) = updated.versions.remove(&number) {
            pool.retire();
        }
        self.save_entry(updated).await?;
        info!(function = %entry.latest.version.config.name, version = number, "version deleted");
        Ok(())
    }
}

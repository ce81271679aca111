//! Provisioned concurrency: PutProvisionedConcurrencyConfig, GetProvisionedConcurrencyConfig,
//! DeleteProvisionedConcurrencyConfig and ListProvisionedConcurrencyConfigs, and the
//! environments started ahead for them.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use flicker_model::versions::{ProvisionedConcurrencyConfiguration, ProvisionedConfig};
use flicker_model::{time, ApiError, FunctionRef};
use serde::Serialize;
use tracing::{info, warn};

use crate::entry::FunctionEntry;
use crate::pool::{Pool, ProvisionedSlot};
use crate::versions::page_size;
use crate::Engine;

/// One page of ListProvisionedConcurrencyConfigs.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProvisionedConcurrencyList {
    pub provisioned_concurrency_configs: Vec<ProvisionedConcurrencyConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// The kind of operation that checks a qualifier, because AWS words the `$LATEST` error
/// differently for Put than for Get and Delete.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Operation {
    Put,
    Read,
}

fn config_not_found() -> ApiError {
    ApiError::new(
        404,
        "ProvisionedConcurrencyConfigNotFoundException",
        "No Provisioned Concurrency Config found for this function",
    )
}

/// The published version a provisioned concurrency qualifier stands for, if any.
fn target_version(entry: &FunctionEntry, qualifier: &str) -> Option<u64> {
    match entry.settings.aliases.get(qualifier) {
        Some(alias) => alias.function_version.parse().ok(),
        None => qualifier.parse().ok(),
    }
}

impl Engine {
    /// Finds the function and checks that the qualifier names a published version or an
    /// alias, with AWS's error for each case.
    fn provisioned_entry(
        &self,
        reference: &FunctionRef,
        qualifier: Option<&str>,
        operation: Operation,
    ) -> Result<(Arc<FunctionEntry>, String), ApiError> {
        let qualifier = qualifier
            .or(reference.qualifier.as_deref())
            .ok_or_else(|| ApiError::invalid_parameter("Qualifier is required."))?
            .to_string();
        let function_arn = self.arn(&reference.name);
        if qualifier == "$LATEST" {
            return Err(ApiError::invalid_parameter(match operation {
                Operation::Put => {
                    "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
                }
                Operation::Read => "The function resource provided must be an alias or a published version.",
            }));
        }
        let is_version = qualifier.bytes().all(|b| b.is_ascii_digit());
        let not_found = || match is_version {
            true => ApiError::function_not_found(&format!("{function_arn}:{qualifier}")),
            false => ApiError::not_found(format!("Cannot find alias arn: {function_arn}:{qualifier}")),
        };
        let settings = &self.inner.settings;
        reference.check_scope(&settings.region, &settings.account_id)?;
        let entry = self.read_functions().get(&reference.name).cloned().ok_or_else(not_found)?;
        let exists = match is_version {
            true => entry.version_pool(&qualifier).is_some(),
            false => entry.settings.aliases.contains_key(&qualifier),
        };
        if !exists {
            return Err(not_found());
        }
        Ok((entry, qualifier))
    }

    fn provisioned_wire(
        &self,
        entry: &FunctionEntry,
        qualifier: &str,
        config: &ProvisionedConfig,
    ) -> ProvisionedConcurrencyConfiguration {
        let pool = target_version(entry, qualifier).and_then(|v| entry.versions.get(&v));
        let counters = pool.map(|pool| pool.provisioned.clone()).unwrap_or_default();
        let ready = (counters.ready.load(Ordering::Acquire) as u32).min(config.requested);
        let status = if ready >= config.requested {
            "READY"
        } else if counters.failed.load(Ordering::Acquire) {
            "FAILED"
        } else {
            "IN_PROGRESS"
        };
        ProvisionedConcurrencyConfiguration {
            function_arn: None,
            requested_provisioned_concurrent_executions: config.requested,
            available_provisioned_concurrent_executions: ready,
            allocated_provisioned_concurrent_executions: ready,
            status,
            last_modified: config.last_modified.clone(),
        }
    }

    /// Checks that provisioning `requested` executions on `qualifier` fits the function's
    /// reserved concurrency or the account's unreserved share.
    fn check_provisioned_limits(
        &self,
        entry: &FunctionEntry,
        qualifier: &str,
        requested: u32,
    ) -> Result<(), ApiError> {
        let others: u32 = entry
            .settings
            .provisioned
            .iter()
            .filter(|(q, _)| q.as_str() != qualifier)
            .map(|(_, p)| p.requested)
            .sum();
        let total = others + requested;
        if let Some(reserved) = entry.settings.reserved_concurrency {
            if total > reserved {
                return Err(ApiError::invalid_parameter(format!(
                    "Requested Provisioned Concurrency should not be greater than the \
                     reservedConcurrentExecution for function [{reserved}]."
                )));
            }
            return Ok(());
        }
        let name = &entry.latest.version.config.name;
        let limit = self.inner.settings.concurrency_limit;
        let functions = self.read_functions();
        let committed: usize = functions
            .iter()
            .filter(|(other, _)| *other != name)
            .map(|(_, e)| {
                e.settings.reserved_concurrency.map_or_else(
                    || e.settings.provisioned.values().map(|p| p.requested as usize).sum(),
                    |r| r as usize,
                )
            })
            .sum();
        drop(functions);
        let unreserved = limit.saturating_sub(committed + others as usize);
        if requested as usize > unreserved {
            return Err(ApiError::invalid_parameter(format!(
                "Specified ConcurrentExecutions for function is greater than account's unreserved \
                 concurrency [{unreserved}]."
            )));
        }
        self.check_unreserved(name, total as usize, "ConcurrentExecutions")
    }

    pub async fn put_provisioned_concurrency(
        &self,
        reference: &FunctionRef,
        qualifier: Option<&str>,
        requested: Option<i64>,
    ) -> Result<ProvisionedConcurrencyConfiguration, ApiError> {
        let requested = requested
            .ok_or_else(|| ApiError::invalid_parameter("ProvisionedConcurrentExecutions is required."))?;
        if requested < 1 {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{requested}' at 'provisionedConcurrentExecutions' \
                 failed to satisfy constraint: Member must have value greater than or equal to 1"
            )));
        }
        let requested = u32::try_from(requested).unwrap_or(u32::MAX);
        let _control = self.inner.control.lock().await;
        let (entry, qualifier) = self.provisioned_entry(reference, qualifier, Operation::Put)?;
        let version = target_version(&entry, &qualifier).ok_or_else(|| {
            ApiError::invalid_parameter(
                "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
            )
        })?;
        for other in entry.settings.provisioned.keys().filter(|q| **q != qualifier) {
            if target_version(&entry, other) != Some(version) {
                continue;
            }
            let message = match entry.settings.aliases.contains_key(&qualifier) {
                true => "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version",
                false => "Version is pointed by a Provisioned Concurrency alias",
            };
            return Err(ApiError::conflict(message));
        }
        self.check_provisioned_limits(&entry, &qualifier, requested)?;

        let config = ProvisionedConfig { requested, last_modified: time::now_last_modified() };
        let mut updated = FunctionEntry::clone(&entry);
        updated.settings.provisioned.insert(qualifier.clone(), config.clone());
        let updated = self.save_entry(updated).await?;
        self.apply_provisioned(&updated);
        info!(function = %reference.name, qualifier = %qualifier, requested, "provisioned concurrency set");
        Ok(ProvisionedConcurrencyConfiguration {
            available_provisioned_concurrent_executions: 0,
            allocated_provisioned_concurrent_executions: 0,
            status: "IN_PROGRESS",
            ..self.provisioned_wire(&updated, &qualifier, &config)
        })
    }

    pub fn get_provisioned_concurrency(
        &self,
        reference: &FunctionRef,
        qualifier: Option<&str>,
    ) -> Result<ProvisionedConcurrencyConfiguration, ApiError> {
        let (entry, qualifier) = self.provisioned_entry(reference, qualifier, Operation::Read)?;
        let config = entry.settings.provisioned.get(&qualifier).ok_or_else(config_not_found)?;
        Ok(self.provisioned_wire(&entry, &qualifier, config))
    }

    /// Deletes a configuration; deleting one that does not exist succeeds, as in AWS.
    pub async fn delete_provisioned_concurrency(
        &self,
        reference: &FunctionRef,
        qualifier: Option<&str>,
    ) -> Result<(), ApiError> {
        let _control = self.inner.control.lock().await;
        let (entry, qualifier) = self.provisioned_entry(reference, qualifier, Operation::Read)?;
        if !entry.settings.provisioned.contains_key(&qualifier) {
            return Ok(());
        }
        let mut updated = FunctionEntry::clone(&entry);
        updated.settings.provisioned.remove(&qualifier);
        let updated = self.save_entry(updated).await?;
        self.apply_provisioned(&updated);
        info!(function = %reference.name, qualifier = %qualifier, "provisioned concurrency removed");
        Ok(())
    }

    pub fn list_provisioned_concurrency(
        &self,
        reference: &FunctionRef,
        marker: Option<&str>,
        max_items: Option<i64>,
    ) -> Result<ProvisionedConcurrencyList, ApiError> {
        let max_items = page_size(max_items)?;
        let entry = self.entry(reference)?;
        let function_arn = self.arn(&reference.name);
        let matching: Vec<(&String, &ProvisionedConfig)> = entry
            .settings
            .provisioned
            .iter()
            .filter(|(q, _)| marker.is_none_or(|m| q.as_str() > m))
            .collect();
        let next_marker = (matching.len() > max_items).then(|| matching[max_items - 1].0.clone());
        let configs = matching
            .iter()
            .take(max_items)
            .map(|(qualifier, config)| ProvisionedConcurrencyConfiguration {
                function_arn: Some(format!("{function_arn}:{qualifier}")),
                ..self.provisioned_wire(&entry, qualifier, config)
            })
            .collect();
        Ok(ProvisionedConcurrencyList { provisioned_concurrency_configs: configs, next_marker })
    }

    /// Sets each version pool's provisioned target from the function's configurations and
    /// starts the environments that are missing.
    pub(crate) fn apply_provisioned(&self, entry: &FunctionEntry) {
        let mut targets: BTreeMap<u64, usize> = BTreeMap::new();
        for (qualifier, config) in &entry.settings.provisioned {
            if let Some(version) = target_version(entry, qualifier) {
                *targets.entry(version).or_default() += config.requested as usize;
            }
        }
        for (version, pool) in &entry.versions {
            pool.set_provisioned_target(targets.get(version).copied().unwrap_or(0));
            self.provision(pool);
        }
    }

    /// Starts provisioned environments until the pool's target is live, unless one failed to
    /// initialize since the target was set.
    pub(crate) fn provision(&self, pool: &Arc<Pool>) {
        while !pool.is_retired() && !pool.provisioned.failed.load(Ordering::Acquire) {
            let Some(slot) = ProvisionedSlot::take(&pool.provisioned) else { return };
            let engine = self.clone();
            let pool = pool.clone();
            tokio::spawn(async move { engine.start_provisioned(pool, slot).await });
        }
    }

    async fn start_provisioned(&self, pool: Arc<Pool>, slot: ProvisionedSlot) {
        let function = pool.version.config.name.clone();
        let version = pool.version.config.version.clone();
        let mut environment = match self.inner.launcher.start(&pool.version, Some(slot)) {
            Ok(environment) => environment,
            Err(err) => {
                warn!(%function, %version, error = %err, "starting a provisioned environment failed");
                pool.provisioned.failed.store(true, Ordering::Release);
                return;
            }
        };
        if let Err(failure) = environment.wait_initialized(self.inner.settings.init_timeout).await {
            warn!(%function, %version, ?failure, "a provisioned environment failed to initialize");
            pool.provisioned.failed.store(true, Ordering::Release);
            return;
        }
        // Its initialization happened ahead of any invocation, so no REPORT line shows it.
        environment.init_duration = None;
        if let Some(slot) = environment.provisioned.as_mut() {
            slot.mark_ready();
        }
        if environment.freeze() {
            pool.release(environment);
        }
    }
}

//! Concurrency controls: PutFunctionConcurrency, GetFunctionConcurrency and
//! DeleteFunctionConcurrency, and the admission of each invocation under the function's
//! reserved concurrency or the account's unreserved share.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use flicker_model::{ApiError, FunctionRef};
use serde::Serialize;
use tracing::info;

use crate::entry::FunctionEntry;
use crate::functions::reject_qualifier;
use crate::metrics::increment;
use crate::resolve::Target;
use crate::{Engine, Inner};

/// Executions that always stay unreserved, as in AWS.
pub(crate) const MIN_UNRESERVED: usize = 100;

/// The body of GetFunctionConcurrency and PutFunctionConcurrency.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionConcurrency {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved_concurrent_executions: Option<u32>,
}

/// Holds one unit of the account's concurrency and one of the function's share until dropped.
pub(crate) struct ConcurrencyPermit {
    inner: Arc<Inner>,
    /// The function's own counter if it has reserved concurrency, else the account's
    /// unreserved counter.
    share: Arc<AtomicUsize>,
}

impl Drop for ConcurrencyPermit {
    fn drop(&mut self) {
        self.inner.running.fetch_sub(1, Ordering::AcqRel);
        self.share.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Computes what one function takes from the account's limit: its reserved concurrency, or else the
/// provisioned concurrency configured on its versions and aliases.
fn committed_by(entry: &FunctionEntry) -> usize {
    match entry.settings.reserved_concurrency {
        Some(reserved) => reserved as usize,
        None => entry.settings.provisioned.values().map(|p| p.requested as usize).sum(),
    }
}

impl Engine {
    /// Admits an invocation, or throttles it with the reason AWS gives.
    pub(crate) fn admit(&self, target: &Target) -> Result<ConcurrencyPermit, ApiError> {
        let inner = &self.inner;
        inner.running.fetch_add(1, Ordering::AcqRel);
        let (share, limit, reason) = match target.reserved {
            Some(reserved) => (
                target.running.clone(),
                reserved as usize,
                "ReservedFunctionConcurrentInvocationLimitExceeded",
            ),
            None => (
                inner.unreserved_running.clone(),
                inner.settings.concurrency_limit.saturating_sub(inner.reserved_total.load(Ordering::Acquire)),
                "ConcurrentInvocationLimitExceeded",
            ),
        };
        let previous = share.fetch_add(1, Ordering::AcqRel);
        let permit = ConcurrencyPermit { inner: inner.clone(), share };
        if previous >= limit {
            increment(&inner.metrics.throttles);
            return Err(ApiError::too_many_requests(reason, "Rate Exceeded."));
        }
        Ok(permit)
    }

    /// Sums the concurrency all functions take from the account.
    pub(crate) fn committed_concurrency(&self, functions: &HashMap<String, Arc<FunctionEntry>>) -> usize {
        functions.values().map(|entry| committed_by(entry)).sum()
    }

    fn committed_except(&self, except: &str) -> usize {
        let functions = self.read_functions();
        functions.iter().filter(|(name, _)| name.as_str() != except).map(|(_, e)| committed_by(e)).sum()
    }

    /// Recomputes the sum of reserved concurrency that admission subtracts from the limit.
    pub(crate) fn update_reserved_total(&self) {
        let total = self
            .read_functions()
            .values()
            .filter_map(|entry| entry.settings.reserved_concurrency)
            .map(|reserved| reserved as usize)
            .sum();
        self.inner.reserved_total.store(total, Ordering::Release);
    }

    /// Checks that `requested` more executions for function `name` leave the account's minimum
    /// unreserved; `parameter` names the request member in the error.
    pub(crate) fn check_unreserved(
        &self,
        name: &str,
        requested: usize,
        parameter: &str,
    ) -> Result<(), ApiError> {
        let limit = self.inner.settings.concurrency_limit;
        if self.committed_except(name) + requested + MIN_UNRESERVED > limit {
            return Err(ApiError::invalid_parameter(format!(
                "Specified {parameter} for function decreases account's UnreservedConcurrentExecution below \
                 its minimum value of [{MIN_UNRESERVED}]."
            )));
        }
        Ok(())
    }

    fn function_not_found_latest(&self, reference: &FunctionRef) -> ApiError {
        ApiError::function_not_found(&format!("{}:$LATEST", self.arn(&reference.name)))
    }

    pub async fn put_function_concurrency(
        &self,
        reference: &FunctionRef,
        reserved: Option<i64>,
    ) -> Result<FunctionConcurrency, ApiError> {
        reject_qualifier(reference)?;
        let reserved = reserved
            .ok_or_else(|| ApiError::invalid_parameter("ReservedConcurrentExecutions is required."))?;
        let _control = self.inner.control.lock().await;
        let entry = self.entry(reference).map_err(|err| match err.code {
            "ResourceNotFoundException" => self.function_not_found_latest(reference),
            _ => err,
        })?;
        if reserved < 0 {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{reserved}' at 'reservedConcurrentExecutions' failed \
                 to satisfy constraint: Member must have value greater than or equal to 0"
            )));
        }
        let reserved = u32::try_from(reserved).unwrap_or(u32::MAX);
        self.check_unreserved(&reference.name, reserved as usize, "ReservedConcurrentExecutions")?;
        let provisioned: u32 = entry.settings.provisioned.values().map(|p| p.requested).sum();
        if provisioned > reserved {
            return Err(ApiError::invalid_parameter(format!(
                "Specified ReservedConcurrentExecutions for function is less than the function's \
                 provisioned concurrency [{provisioned}]."
            )));
        }
        let mut updated = FunctionEntry::clone(&entry);
        updated.settings.reserved_concurrency = Some(reserved);
        self.save_entry(updated).await?;
        self.update_reserved_total();
        info!(function = %reference.name, reserved, "reserved concurrency set");
        Ok(FunctionConcurrency { reserved_concurrent_executions: Some(reserved) })
    }

    pub fn get_function_concurrency(&self, reference: &FunctionRef) -> Result<FunctionConcurrency, ApiError> {
        reject_qualifier(reference)?;
        let entry = self.entry(reference)?;
        Ok(FunctionConcurrency { reserved_concurrent_executions: entry.settings.reserved_concurrency })
    }

    pub async fn delete_function_concurrency(&self, reference: &FunctionRef) -> Result<(), ApiError> {
        reject_qualifier(reference)?;
        let _control = self.inner.control.lock().await;
        let entry = self.entry(reference)?;
        let mut updated = FunctionEntry::clone(&entry);
        updated.settings.reserved_concurrency = None;
        self.save_entry(updated).await?;
        self.update_reserved_total();
        info!(function = %reference.name, "reserved concurrency removed");
        Ok(())
    }
}

//! Resolution of a function reference to the pool that serves it: `$LATEST`, a published
//! version, or an alias, whose routing configuration picks one of two versions per request.

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use flicker_model::{ApiError, FunctionRef};

use crate::entry::FunctionEntry;
use crate::pool::Pool;
use crate::Engine;

/// The function version and ARN a reference leads to, for callers that do not invoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedFunction {
    pub function_name: String,
    /// `$LATEST` or the published version number that would run.
    pub executed_version: String,
    /// The ARN the reference names: unqualified, or with its version or alias suffix.
    pub qualified_arn: String,
}

/// The pool one invocation runs on, and the counters its admission checks.
#[derive(Clone)]
pub(crate) struct Target {
    pub pool: Arc<Pool>,
    /// The ARN the caller invoked, passed to the function as `invoked_function_arn`.
    pub invoked_arn: String,
    pub running: Arc<AtomicUsize>,
    pub reserved: Option<u32>,
}

/// Draws a uniformly distributed number in [0, 1) from the random source of UUID v4.
fn random_fraction() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u128() >> 75;
    bits as f64 / (1u64 << 53) as f64
}

impl Engine {
    /// Finds a function by the name part of a reference, ignoring the qualifier, with AWS's
    /// error naming the unqualified ARN.
    pub(crate) fn entry(&self, reference: &FunctionRef) -> Result<Arc<FunctionEntry>, ApiError> {
        let settings = &self.inner.settings;
        reference.check_scope(&settings.region, &settings.account_id)?;
        self.read_functions()
            .get(&reference.name)
            .cloned()
            .ok_or_else(|| ApiError::function_not_found(&self.arn(&reference.name)))
    }

    /// Builds the not-found error for a reference, naming its qualifier if it has one.
    pub(crate) fn not_found(&self, reference: &FunctionRef) -> ApiError {
        let arn = self.arn(&reference.name);
        match &reference.qualifier {
            Some(qualifier) => ApiError::function_not_found(&format!("{arn}:{qualifier}")),
            None => ApiError::function_not_found(&arn),
        }
    }

    /// Finds the pool a reference names: `$LATEST`, a version, or an alias's primary version.
    pub(crate) fn lookup(&self, reference: &FunctionRef) -> Result<Arc<Pool>, ApiError> {
        let settings = &self.inner.settings;
        reference.check_scope(&settings.region, &settings.account_id)?;
        let entry =
            self.read_functions().get(&reference.name).cloned().ok_or_else(|| self.not_found(reference))?;
        let qualifier = reference.qualifier.as_deref().unwrap_or("$LATEST");
        let version = match entry.settings.aliases.get(qualifier) {
            Some(alias) => alias.function_version.as_str(),
            None => qualifier,
        };
        entry.version_pool(version).cloned().ok_or_else(|| self.not_found(reference))
    }

    /// Resolves a reference for one invocation, choosing between an alias's two versions by
    /// their weights.
    pub(crate) fn resolve_target(&self, reference: &FunctionRef) -> Result<Target, ApiError> {
        let settings = &self.inner.settings;
        reference.check_scope(&settings.region, &settings.account_id)?;
        let entry =
            self.read_functions().get(&reference.name).cloned().ok_or_else(|| self.not_found(reference))?;
        let qualifier = reference.qualifier.as_deref().unwrap_or("$LATEST");
        let version = match entry.settings.aliases.get(qualifier) {
            Some(alias) => match &alias.additional_version {
                Some((other, weight)) if random_fraction() < *weight => other.as_str(),
                _ => alias.function_version.as_str(),
            },
            None => qualifier,
        };
        let pool = entry.version_pool(version).cloned().ok_or_else(|| self.not_found(reference))?;
        let function_arn = self.arn(&reference.name);
        let invoked_arn = match &reference.qualifier {
            Some(qualifier) => format!("{function_arn}:{qualifier}"),
            None => function_arn,
        };
        Ok(Target {
            pool,
            invoked_arn,
            running: entry.running.clone(),
            reserved: entry.settings.reserved_concurrency,
        })
    }

    /// Resolves a reference as an invocation would, without invoking: an alias with a routing
    /// configuration resolves to either of its versions.
    pub fn resolve(&self, reference: &FunctionRef) -> Result<ResolvedFunction, ApiError> {
        let target = self.resolve_target(reference)?;
        Ok(ResolvedFunction {
            function_name: reference.name.clone(),
            executed_version: target.pool.version.config.version.clone(),
            qualified_arn: target.invoked_arn,
        })
    }

    pub(crate) fn function_exists(&self, name: &str) -> bool {
        self.read_functions().contains_key(name)
    }

    /// Returns the reserved concurrency of a function, if it has one.
    pub fn reserved_concurrency(&self, name: &str) -> Option<u32> {
        self.read_functions().get(name).and_then(|entry| entry.settings.reserved_concurrency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_fraction_stays_in_unit_interval() {
        let draws: Vec<f64> = (0..10_000).map(|_| random_fraction()).collect();

        assert!(draws.iter().all(|x| (0.0..1.0).contains(x)));
        let below_tenth = draws.iter().filter(|x| **x < 0.1).count();
        // 1,000 expected; the binomial standard deviation is 30.
        assert!((800..1200).contains(&below_tenth), "{below_tenth}");
    }
}

//! The in-memory state of one function: the pool of `$LATEST`, the pools of its published
//! versions, its settings and the count of its running invocations. An entry is replaced as a
//! whole when any of it changes, never mutated in place.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use flicker_model::FunctionSettings;

use crate::pool::Pool;

#[derive(Clone)]
pub(crate) struct FunctionEntry {
    pub latest: Arc<Pool>,
    /// Published versions by number.
    pub versions: BTreeMap<u64, Arc<Pool>>,
    pub settings: FunctionSettings,
    /// Invocations of any version running now; shared by every entry that replaces this one.
    pub running: Arc<AtomicUsize>,
}

impl FunctionEntry {
    pub fn new(latest: Pool) -> Self {
        Self {
            latest: Arc::new(latest),
            versions: BTreeMap::new(),
            settings: FunctionSettings::default(),
            running: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Every pool of the function: `$LATEST` first, then the versions in order.
    pub fn pools(&self) -> impl Iterator<Item = &Arc<Pool>> {
        std::iter::once(&self.latest).chain(self.versions.values())
    }

    /// The pool of `$LATEST` or of a published version given by its number.
    pub fn version_pool(&self, version: &str) -> Option<&Arc<Pool>> {
        if version == "$LATEST" {
            return Some(&self.latest);
        }
        let number = version.parse::<u64>().ok()?;
        self.versions.get(&number)
    }

    /// The code size of every version, as AWS counts the account's code storage.
    pub fn code_size(&self) -> u64 {
        self.pools().map(|pool| pool.version.config.code_size).sum()
    }
}

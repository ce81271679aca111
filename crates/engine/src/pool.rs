//! The idle environments of one function version. An invocation takes the most recently used
//! one; a retired pool (the function changed or was deleted) keeps none. Provisioned
//! environments live in the same idle list but are never reaped.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::environment::Environment;
use crate::FunctionVersion;

pub(crate) struct Pool {
    pub version: Arc<FunctionVersion>,
    /// Idle environments, the most recently used last.
    idle: Mutex<Vec<Environment>>,
    retired: AtomicBool,
    /// Environments whose runtime has posted its response but not yet requested the next event.
    finishing: AtomicUsize,
    /// Invocations waiting for one of the finishing environments.
    waiting: AtomicUsize,
    released: Notify,
    pub provisioned: Arc<ProvisionedCounters>,
}

/// The provisioned environments of a pool: how many are wanted, started and initialized.
#[derive(Default)]
pub(crate) struct ProvisionedCounters {
    pub target: AtomicUsize,
    /// Provisioned environments starting or initialized, including busy ones.
    pub live: AtomicUsize,
    /// Provisioned environments that finished initializing.
    pub ready: AtomicUsize,
    /// Set when a provisioned environment failed to initialize; no more are started until the
    /// target is set again.
    pub failed: AtomicBool,
}

/// Counts one provisioned environment as live (and ready once initialized) until dropped.
pub(crate) struct ProvisionedSlot {
    counters: Arc<ProvisionedCounters>,
    ready: bool,
}

impl ProvisionedSlot {
    /// Takes a slot if fewer environments than the target are live.
    pub fn take(counters: &Arc<ProvisionedCounters>) -> Option<Self> {
        let target = counters.target.load(Ordering::Acquire);
        counters
            .live
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |live| (live < target).then_some(live + 1))
            .ok()
            .map(|_| Self { counters: counters.clone(), ready: false })
    }

    pub fn mark_ready(&mut self) {
        if !self.ready {
            self.ready = true;
            self.counters.ready.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Returns whether more provisioned environments are live than the target.
    pub fn surplus(&self) -> bool {
        self.counters.live.load(Ordering::Acquire) > self.counters.target.load(Ordering::Acquire)
    }
}

impl Drop for ProvisionedSlot {
    fn drop(&mut self) {
        self.counters.live.fetch_sub(1, Ordering::AcqRel);
        if self.ready {
            self.counters.ready.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Counts an environment as finishing until dropped.
pub(crate) struct Finishing(Arc<Pool>);

impl Drop for Finishing {
    fn drop(&mut self) {
        self.0.finishing.fetch_sub(1, Ordering::AcqRel);
        self.0.released.notify_one();
    }
}

impl Pool {
    pub fn new(version: FunctionVersion) -> Self {
        Self {
            version: Arc::new(version),
            idle: Mutex::new(Vec::new()),
            retired: AtomicBool::new(false),
            finishing: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            released: Notify::new(),
            provisioned: Arc::new(ProvisionedCounters::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Environment>> {
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Marks an environment as finishing its invocation until the returned guard is dropped,
    /// which must happen after the environment is released or stopped.
    pub fn finishing(self: &Arc<Self>) -> Finishing {
        self.finishing.fetch_add(1, Ordering::AcqRel);
        Finishing(self.clone())
    }

    /// Takes an idle environment, or waits up to `patience` for one that is finishing its
    /// invocation, as long as there are more of those than waiting invocations. A runtime asks
    /// for its next event within a fraction of a millisecond after answering, so a caller that
    /// sends its next request at once would otherwise pay for a cold start.
    pub async fn acquire(&self, patience: Duration) -> Option<Environment> {
        if let Some(environment) = self.take_idle() {
            return Some(environment);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.finishing.load(Ordering::Acquire) {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        let deadline = tokio::time::Instant::now() + patience;
        let taken = loop {
            let released = self.released.notified();
            if let Some(environment) = self.take_idle() {
                break Some(environment);
            }
            if self.finishing.load(Ordering::Acquire) == 0
                || tokio::time::timeout_at(deadline, released).await.is_err()
            {
                break self.take_idle();
            }
        };
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        taken
    }

    /// Takes the most recently used idle environment that is still alive.
    fn take_idle(&self) -> Option<Environment> {
        let mut idle = self.lock();
        while let Some(environment) = idle.pop() {
            if !environment.has_exited() {
                return Some(environment);
            }
        }
        None
    }

    /// Returns an environment after its invocation; a retired pool stops it instead, and so
    /// does a pool with more provisioned environments than its target.
    pub fn release(&self, mut environment: Environment) {
        if self.retired.load(Ordering::Acquire) {
            return;
        }
        if environment.provisioned.as_ref().is_some_and(ProvisionedSlot::surplus) {
            return;
        }
        environment.last_used = Instant::now();
        let mut idle = self.lock();
        // Checked again under the lock, so that an environment released while `retire` runs
        // is not kept.
        if !self.retired.load(Ordering::Acquire) {
            idle.push(environment);
        }
    }

    /// Stops every idle environment and every one released from now on.
    pub fn retire(&self) {
        self.retired.store(true, Ordering::Release);
        let stopped = std::mem::take(&mut *self.lock());
        drop(stopped);
    }

    /// Sets how many provisioned environments the pool keeps, and stops idle provisioned
    /// environments beyond that number.
    pub fn set_provisioned_target(&self, target: usize) {
        let counters = &self.provisioned;
        if counters.target.swap(target, Ordering::AcqRel) != target {
            counters.failed.store(false, Ordering::Release);
        }
        let surplus: Vec<Environment> = {
            let mut idle = self.lock();
            let mut kept = Vec::with_capacity(idle.len());
            let mut surplus = Vec::new();
            for environment in std::mem::take(&mut *idle) {
                // Dropping a surplus environment lowers `live`, so each one is checked after
                // the previous ones are counted out.
                let extra = counters.live.load(Ordering::Acquire) - surplus.len()
                    > counters.target.load(Ordering::Acquire);
                if extra && environment.provisioned.is_some() {
                    surplus.push(environment);
                } else {
                    kept.push(environment);
                }
            }
            *idle = kept;
            surplus
        };
        drop(surplus);
    }

    /// Stops environments idle for longer than `keep_alive`, except provisioned ones, and
    /// those that exited; returns how many.
    pub fn reap(&self, keep_alive: Duration) -> usize {
        let now = Instant::now();
        let expired: Vec<Environment> = {
            let mut idle = self.lock();
            let (expired, kept) = std::mem::take(&mut *idle).into_iter().partition(|e| {
                e.has_exited() || (e.provisioned.is_none() && now.duration_since(e.last_used) >= keep_alive)
            });
            *idle = kept;
            expired
        };
        expired.len()
    }

    pub fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Acquire)
    }

    pub fn idle_count(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provisioned_slots_stop_at_target() {
        let counters = Arc::new(ProvisionedCounters::default());
        counters.target.store(2, Ordering::Release);

        let first = ProvisionedSlot::take(&counters);
        let mut second = ProvisionedSlot::take(&counters);
        let third = ProvisionedSlot::take(&counters);

        assert!(first.is_some());
        assert!(third.is_none());
        if let Some(slot) = second.as_mut() {
            slot.mark_ready();
        }
        assert_eq!(counters.ready.load(Ordering::Acquire), 1);
        drop(second);
        assert_eq!(counters.live.load(Ordering::Acquire), 1);
        assert_eq!(counters.ready.load(Ordering::Acquire), 0);
    }

    #[test]
    fn provisioned_slot_surplus_after_target_lowered() {
        let counters = Arc::new(ProvisionedCounters::default());
        counters.target.store(1, Ordering::Release);
        let slot = ProvisionedSlot::take(&counters).expect("a slot below the target");

        assert!(!slot.surplus());
        counters.target.store(0, Ordering::Release);
        assert!(slot.surplus());
    }
}

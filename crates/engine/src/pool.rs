//! The idle environments of one function version. An invocation takes the most recently used
//! one; a retired pool (the function changed or was deleted) keeps none.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::environment::Environment;
use crate::FunctionVersion;

pub(crate) struct Pool {
    pub version: Arc<FunctionVersion>,
    /// Idle environments, the most recently used last.
    idle: Mutex<Vec<Environment>>,
    retired: AtomicBool,
}

impl Pool {
    pub fn new(version: FunctionVersion) -> Self {
        Self { version: Arc::new(version), idle: Mutex::new(Vec::new()), retired: AtomicBool::new(false) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Environment>> {
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes the most recently used idle environment that is still alive.
    pub fn acquire(&self) -> Option<Environment> {
        let mut idle = self.lock();
        while let Some(environment) = idle.pop() {
            if !environment.has_exited() {
                return Some(environment);
            }
        }
        None
    }

    /// Returns an environment after its invocation; a retired pool stops it instead.
    pub fn release(&self, mut environment: Environment) {
        if self.retired.load(Ordering::Acquire) {
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

    /// Stops environments idle for longer than `keep_alive`; returns how many.
    pub fn reap(&self, keep_alive: Duration) -> usize {
        let now = Instant::now();
        let expired: Vec<Environment> = {
            let mut idle = self.lock();
            let (expired, kept) = std::mem::take(&mut *idle)
                .into_iter()
                .partition(|e| now.duration_since(e.last_used) >= keep_alive || e.has_exited());
            *idle = kept;
            expired
        };
        expired.len()
    }

    pub fn idle_count(&self) -> usize {
        self.lock().len()
    }
}

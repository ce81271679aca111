//! Counters of asynchronous invocation and the queue depth of each function, rendered in the
//! Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Monotonic counters.
#[derive(Debug, Default)]
pub struct EventMetrics {
    pub accepted: AtomicU64,
    pub rejected: AtomicU64,
    pub retried: AtomicU64,
    pub throttled: AtomicU64,
    pub expired: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub succeeded: AtomicU64,
    pub failed: AtomicU64,
    pub dropped: AtomicU64,
    pub delivery_failures: AtomicU64,
}

pub(crate) fn increment(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl EventMetrics {
    /// Renders the counters and the queue depth of each function.
    pub fn render(&self, depths: &[(String, u64)]) -> String {
        let mut text = String::new();
        let counters = [
            (
                "flicker_async_events_accepted_total",
                "Events stored durably and answered with 202",
                &self.accepted,
            ),
            (
                "flicker_async_events_rejected_total",
                "Events rejected because too many were pending",
                &self.rejected,
            ),
            ("flicker_async_events_retried_total", "Retries after a function error", &self.retried),
            (
                "flicker_async_events_throttled_total",
                "Deliveries postponed by a concurrency limit",
                &self.throttled,
            ),
            (
                "flicker_async_events_expired_total",
                "Events dropped for exceeding their maximum age",
                &self.expired,
            ),
            (
                "flicker_async_events_dead_lettered_total",
                "Failed events sent to a dead-letter target or an on-failure destination",
                &self.dead_lettered,
            ),
            (
                "flicker_async_events_succeeded_total",
                "Events the function processed without error",
                &self.succeeded,
            ),
            ("flicker_async_events_failed_total", "Events that failed after their last retry", &self.failed),
            ("flicker_async_events_dropped_total", "Events whose function no longer exists", &self.dropped),
            (
                "flicker_async_delivery_failures_total",
                "Destination records or dead-letter messages that could not be sent",
                &self.delivery_failures,
            ),
        ];
        for (name, help, counter) in counters {
            let value = counter.load(Ordering::Relaxed);
            let _ = write!(text, "# HELP {name} {help}.\n# TYPE {name} counter\n{name} {value}\n");
        }
        let name = "flicker_async_queue_depth";
        let _ = write!(
            text,
            "# HELP {name} Events accepted and not finished, by function.\n# TYPE {name} gauge\n"
        );
        let mut depths = depths.to_vec();
        depths.sort();
        for (function, depth) in depths {
            let label = function.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(text, "{name}{{function=\"{label}\"}} {depth}");
        }
        text
    }
}

//! Counters of the invocation path, rendered in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Monotonic counters; gauges are read from their owners when rendered.
#[derive(Debug, Default)]
pub struct Metrics {
    pub invocations: AtomicU64,
    pub cold_starts: AtomicU64,
    pub throttles: AtomicU64,
    pub timeouts: AtomicU64,
    pub function_errors: AtomicU64,
    pub runtime_exits: AtomicU64,
    pub out_of_memory: AtomicU64,
    pub init_failures: AtomicU64,
    /// Time spent in the sandbox starting bootstraps, summed over cold starts.
    pub sandbox_start_micros: AtomicU64,
}

pub(crate) fn increment(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Values read at render time.
#[derive(Debug, Clone, Copy)]
pub struct Gauges {
    pub environments: usize,
    pub idle_environments: usize,
    pub concurrent_executions: usize,
    pub dropped_log_events: u64,
    pub dropped_subscriber_log_events: u64,
}

impl Metrics {
    pub fn render(&self, gauges: Gauges) -> String {
        let mut text = String::new();
        let counters = [
            ("flicker_invocations_total", "Invocations accepted", &self.invocations),
            ("flicker_cold_starts_total", "Environments started for an invocation", &self.cold_starts),
            ("flicker_throttles_total", "Invocations rejected by a concurrency limit", &self.throttles),
            ("flicker_timeouts_total", "Invocations that reached their timeout", &self.timeouts),
            (
                "flicker_function_errors_total",
                "Invocations that ended with a function error",
                &self.function_errors,
            ),
            ("flicker_runtime_exits_total", "Runtimes that exited during an invocation", &self.runtime_exits),
            (
                "flicker_out_of_memory_total",
                "Environments killed for exceeding their memory limit",
                &self.out_of_memory,
            ),
            ("flicker_init_failures_total", "Environments whose initialization failed", &self.init_failures),
        ];
        for (name, help, counter) in counters {
            let value = counter.load(Ordering::Relaxed);
            let _ = write!(text, "# HELP {name} {help}.\n# TYPE {name} counter\n{name} {value}\n");
        }
        let sandbox_seconds = self.sandbox_start_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let name = "flicker_sandbox_start_seconds_total";
        let _ = write!(
            text,
            "# HELP {name} Time spent starting bootstraps in the sandbox.\n# TYPE {name} counter\n{name} {sandbox_seconds}\n"
        );
        let gauge_values = [
            ("flicker_environments", "Live execution environments", gauges.environments as u64),
            (
                "flicker_idle_environments",
                "Warm environments waiting for an invocation",
                gauges.idle_environments as u64,
            ),
            ("flicker_concurrent_executions", "Invocations running now", gauges.concurrent_executions as u64),
            (
                "flicker_dropped_log_events",
                "Function log events dropped because the writer fell behind",
                gauges.dropped_log_events,
            ),
            (
                "flicker_dropped_subscriber_log_events",
                "Function log events not passed to a log subscription because it fell behind",
                gauges.dropped_subscriber_log_events,
            ),
        ];
        for (name, help, value) in gauge_values {
            let _ = write!(text, "# HELP {name} {help}.\n# TYPE {name} gauge\n{name} {value}\n");
        }
        text
    }
}

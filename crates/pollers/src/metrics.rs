//! Counters of each mapping's pollers, rendered in the Prometheus text format with the
//! mapping's UUID and function as labels.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Monotonic counters of one mapping.
#[derive(Debug, Default)]
pub struct MappingMetrics {
    /// Messages received from the queue, counting each receive of a message again.
    pub received: AtomicU64,
    /// Messages deleted after the function processed them.
    pub deleted: AtomicU64,
    /// Messages left in the queue after a function error, a throttle or a reported failure.
    pub failed: AtomicU64,
    /// Messages deleted without an invocation because they matched no filter.
    pub filtered: AtomicU64,
    /// Invocations of the function with a batch.
    pub invocations: AtomicU64,
    /// Invocations rejected by a concurrency limit.
    pub throttles: AtomicU64,
}

/// Adds `count` to a counter.
pub(crate) fn add(counter: &AtomicU64, count: usize) {
    counter.fetch_add(count as u64, Ordering::Relaxed);
}

/// One mapping's labels and counters, as the renderer reads them.
pub struct MetricsRow<'a> {
    pub uuid: &'a str,
    pub function_arn: &'a str,
    pub metrics: &'a MappingMetrics,
}

/// A counter family: its name, its help text and the counter it reads from each mapping.
type Family = (&'static str, &'static str, fn(&MappingMetrics) -> &AtomicU64);

/// Renders the counters of every mapping.
pub fn render(rows: &[MetricsRow<'_>]) -> String {
    let families: [Family; 6] = [
        ("flicker_event_source_messages_received_total", "Messages received by event source pollers", |m| {
            &m.received
        }),
        ("flicker_event_source_messages_deleted_total", "Messages deleted after processing", |m| &m.deleted),
        ("flicker_event_source_messages_failed_total", "Messages left in the queue after a failure", |m| {
            &m.failed
        }),
        ("flicker_event_source_messages_filtered_total", "Messages deleted because no filter matched", |m| {
            &m.filtered
        }),
        ("flicker_event_source_invocations_total", "Batches sent to functions", |m| &m.invocations),
        ("flicker_event_source_throttles_total", "Batches throttled by a concurrency limit", |m| {
            &m.throttles
        }),
    ];
    let mut text = String::new();
    for (name, help, counter) in families {
        let _ = write!(text, "# HELP {name} {help}.\n# TYPE {name} counter\n");
        for row in rows {
            let value = counter(row.metrics).load(Ordering::Relaxed);
            let _ = writeln!(
                text,
                "{name}{{uuid=\"{}\",function=\"{}\"}} {value}",
                row.uuid,
                row.function_arn.replace('\\', "\\\\").replace('"', "\\\"")
            );
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_labels_each_mapping() {
        let metrics = MappingMetrics::default();
        add(&metrics.received, 3);
        let rows = [MetricsRow { uuid: "u-1", function_arn: "arn:f", metrics: &metrics }];
        let text = render(&rows);
        assert!(text
            .contains("flicker_event_source_messages_received_total{uuid=\"u-1\",function=\"arn:f\"} 3\n"));
        assert!(
            text.contains("flicker_event_source_messages_deleted_total{uuid=\"u-1\",function=\"arn:f\"} 0\n")
        );
    }
}

//! Queue depth gauges in the Prometheus text format.

use std::fmt::Write as _;

use crate::service::now_ms;
use crate::{MessageCounts, QueueService};

/// A gauge: metric name, help text and the count it reports.
type Gauge = (&'static str, &'static str, fn(&MessageCounts) -> usize);

const GAUGES: [Gauge; 3] = [
    ("flicker_queue_messages_visible", "Messages a receive would return now", |c| c.visible),
    ("flicker_queue_messages_in_flight", "Messages received and not yet deleted or visible again", |c| {
        c.in_flight
    }),
    ("flicker_queue_messages_delayed", "Messages whose delay has not passed", |c| c.delayed),
];

impl QueueService {
    /// Counts the messages of each queue in each state, in name order.
    pub fn depths(&self) -> Vec<(String, MessageCounts)> {
        let now = now_ms();
        self.lock().iter().map(|(name, q)| (name.clone(), q.counts(now))).collect()
    }

    /// Per-queue depth gauges in the Prometheus text format.
    pub fn render_metrics(&self) -> String {
        let depths = self.depths();
        let mut text = String::new();
        for (metric, help, value) in GAUGES {
            let _ = write!(text, "# HELP {metric} {help}.\n# TYPE {metric} gauge\n");
            for (name, counts) in &depths {
                let _ = writeln!(text, "{metric}{{queue=\"{name}\"}} {}", value(counts));
            }
        }
        text
    }
}

//! Percentiles, process accounting from /proc, and the report table.

use std::time::Duration;

use serde::Serialize;

/// The value at percentile `p` (0..=100) of `samples`, by the nearest-rank method.
pub fn percentile(samples: &[Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

pub fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// CPU time (user plus system) a process has used so far.
pub fn cpu_time(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return Duration::ZERO };
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| fields.get(index).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // Fields 14 and 15 of /proc/PID/stat (utime, stime) in clock ticks of 1/100 s on Linux.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// Resident memory of one process in bytes.
pub fn rss_bytes(pid: u32) -> u64 {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { return 0 };
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// Every process descended from `root`, found through the parent ids in /proc.
pub fn descendants(root: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
            let parent = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
            if let Some(parent) = parent {
                parents.push((pid, parent));
            }
        }
    }
    let mut found = vec![root];
    let mut index = 0;
    while index < found.len() {
        let current = found[index];
        found.extend(parents.iter().filter(|(_, parent)| *parent == current).map(|(pid, _)| *pid));
        index += 1;
    }
    found.remove(0);
    found
}

/// One row of the report: a figure next to its floor.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub benchmark: String,
    pub figure: String,
    pub value: f64,
    pub unit: String,
    pub floor: Option<f64>,
    pub floor_name: Option<String>,
    pub target: String,
}

impl Row {
    pub fn new(benchmark: &str, figure: &str, value: f64, unit: &str) -> Self {
        Self {
            benchmark: benchmark.into(),
            figure: figure.into(),
            value,
            unit: unit.into(),
            floor: None,
            floor_name: None,
            target: String::new(),
        }
    }

    pub fn floor(mut self, name: &str, value: f64) -> Self {
        self.floor = Some(value);
        self.floor_name = Some(name.into());
        self
    }

    pub fn target(mut self, target: &str) -> Self {
        self.target = target.into();
        self
    }

    pub fn markdown(&self) -> String {
        let floor = match (&self.floor_name, self.floor) {
            (Some(name), Some(value)) => format!("{value:.3} ({name})"),
            _ => "-".into(),
        };
        let ratio = match self.floor {
            Some(floor) if floor > 0.0 => format!("{:.2}x", self.value / floor),
            _ => "-".into(),
        };
        format!(
            "| {} | {} | {:.3} {} | {floor} | {ratio} | {} |",
            self.benchmark, self.figure, self.value, self.unit, self.target
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&samples, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&samples, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&samples, 100.0), Duration::from_millis(100));
    }
}

//! Per-environment control groups: memory, CPU and process limits, the freezer, peak memory and
//! out-of-memory kills. `v1` drives the per-controller hierarchies and `v2` the unified one.
//! Both only read and write files below the roots they are given, so tests run them against a
//! temporary directory. Detecting which hierarchy the host mounts is in `detect`.

mod detect;
mod v1;
mod v2;

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use detect::{detect, DetectError};
pub use v1::V1Hierarchy;
pub use v2::V2Hierarchy;

/// Memory that buys one vCPU, as in Lambda.
pub const MEMORY_MB_PER_VCPU: u64 = 1769;

/// The scheduler period used for CPU quotas, in microseconds.
pub const CPU_PERIOD_MICROS: u64 = 100_000;

/// The way CPU time is divided between environments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CpuLimit {
    /// Proportional weights: an environment may use idle CPUs beyond its share.
    #[default]
    Weight,
    /// A hard quota of `memory / 1769 MB` CPUs per scheduler period.
    Quota,
}

/// The limits of one environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub memory_mb: u32,
    pub max_processes: u64,
    pub cpu: CpuLimit,
}

impl Limits {
    pub fn memory_bytes(&self) -> u64 {
        u64::from(self.memory_mb) << 20
    }

    /// CPU time per `CPU_PERIOD_MICROS`, at least 1 ms, the smallest quota the kernel accepts.
    pub fn cpu_quota_micros(&self) -> u64 {
        (CPU_PERIOD_MICROS * u64::from(self.memory_mb) / MEMORY_MB_PER_VCPU).max(1000)
    }

    /// cgroup v1 `cpu.shares`: 1024 for one vCPU, at least 2.
    pub fn cpu_shares(&self) -> u64 {
        (1024 * u64::from(self.memory_mb) / MEMORY_MB_PER_VCPU).max(2)
    }

    /// cgroup v2 `cpu.weight`: 100 for one vCPU, within 1 to 10000.
    pub fn cpu_weight(&self) -> u64 {
        (100 * u64::from(self.memory_mb) / MEMORY_MB_PER_VCPU).clamp(1, 10_000)
    }
}

/// A failed operation on a cgroup file or directory.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("failed to create cgroup {path}")]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to write {value:?} to {path}")]
    Write {
        path: PathBuf,
        value: String,
        #[source]
        source: io::Error,
    },
    #[error("failed to read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to remove cgroup {path}")]
    Remove {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cgroup {path} lacks the {controller} controller, and enabling it failed")]
    Controller {
        path: PathBuf,
        controller: String,
        #[source]
        source: io::Error,
    },
}

/// A place that creates the cgroups of environments.
pub trait CgroupHierarchy: Send + Sync + std::fmt::Debug {
    /// Creates the cgroup of environment `name` with its limits applied.
    fn create(&self, name: &str, limits: &Limits) -> Result<Box<dyn Cgroup>, CgroupError>;

    /// Removes the parent group of this server's environments if it is empty.
    fn remove_parent(&self);

    /// A description for logs, such as `cgroup v1 (memory at /sys/fs/cgroup/memory/...)`.
    fn describe(&self) -> String;
}

/// The cgroup of one environment.
pub trait Cgroup: Send + Sync + std::fmt::Debug {
    /// The files that a process writes `0` to in order to join this cgroup.
    fn procs_files(&self) -> Vec<PathBuf>;

    /// Asks the kernel to stop every task of the group. It returns without waiting for the
    /// group to be frozen, because the caller runs on an async worker thread and freezing an
    /// idle environment completes within microseconds.
    fn freeze(&self) -> Result<(), CgroupError>;

    fn thaw(&self) -> Result<(), CgroupError>;

    /// The peak memory use in bytes.
    fn max_memory_used(&self) -> Option<u64>;

    /// Whether the kernel's OOM killer killed a task of this group.
    fn out_of_memory(&self) -> bool;

    /// Sends SIGKILL to every task, including tasks that are frozen.
    fn kill_all(&self);

    /// Removes the group; its tasks must have exited.
    fn remove(&self) -> Result<(), CgroupError>;
}

pub(crate) fn write(path: &Path, value: impl ToString) -> Result<(), CgroupError> {
    let value = value.to_string();
    std::fs::write(path, &value).map_err(|source| CgroupError::Write {
        path: path.to_path_buf(),
        value,
        source,
    })
}

pub(crate) fn read(path: &Path) -> Result<String, CgroupError> {
    std::fs::read_to_string(path).map_err(|source| CgroupError::Read { path: path.to_path_buf(), source })
}

/// The value of `key` in a flat-keyed file such as `memory.events` (`key value` lines).
pub(crate) fn keyed_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(' ')?;
        (name == key).then(|| value.trim().parse().ok()).flatten()
    })
}

pub(crate) fn create_dir(path: &Path) -> Result<(), CgroupError> {
    match std::fs::create_dir(path) {
        Err(err) if err.kind() != io::ErrorKind::AlreadyExists => {
            Err(CgroupError::Create { path: path.to_path_buf(), source: err })
        }
        _ => Ok(()),
    }
}

/// Removes a cgroup directory, retrying while the kernel still counts exiting tasks.
pub(crate) fn remove_dir(path: &Path) -> Result<(), CgroupError> {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        match std::fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(err) if err.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(source) => return Err(CgroupError::Remove { path: path.to_path_buf(), source }),
        }
    }
}

/// Removes the `flicker-PID` groups in `base` whose server process no longer exists, such as
/// those of a server that was killed with SIGKILL, after killing the tasks left in them.
pub(crate) fn remove_stale_parents(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.strip_prefix("flicker-"))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let parent = entry.path();
        for child in
            std::fs::read_dir(&parent).into_iter().flatten().flatten().filter(|child| child.path().is_dir())
        {
            kill_listed(&child.path().join("cgroup.procs"));
            // Frozen tasks only die once thawed. Each file exists only for one cgroup version
            // and controller, and is written only where it exists.
            for (file, thawed) in [("freezer.state", "THAWED"), ("cgroup.freeze", "0")] {
                let path = child.path().join(file);
                if let Ok(mut control) = std::fs::OpenOptions::new().write(true).open(&path) {
                    let _ = std::io::Write::write_all(&mut control, thawed.as_bytes());
                }
            }
            if let Err(err) = remove_dir(&child.path()) {
                tracing::warn!(error = %crate::error_chain(&err), "removing a cgroup of a stopped server failed");
            }
        }
        match std::fs::remove_dir(&parent) {
            Ok(()) => tracing::info!(cgroup = %parent.display(), "removed the cgroup of a stopped server"),
            Err(err) => {
                tracing::warn!(cgroup = %parent.display(), error = %err, "removing the cgroup of a stopped server failed")
            }
        }
    }
}

/// Sends SIGKILL to each pid listed in a `cgroup.procs` file.
pub(crate) fn kill_listed(procs: &Path) {
    let Ok(text) = std::fs::read_to_string(procs) else { return };
    for pid in text.lines().filter_map(|line| line.trim().parse::<i32>().ok()) {
        // ESRCH means the task exited after the file was read.
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(memory_mb: u32) -> Limits {
        Limits { memory_mb, max_processes: 1024, cpu: CpuLimit::Weight }
    }

    #[test]
    fn cpu_share_follows_memory() {
        assert_eq!(limits(1769).cpu_shares(), 1024);
        assert_eq!(limits(1769).cpu_weight(), 100);
        assert_eq!(limits(1769).cpu_quota_micros(), CPU_PERIOD_MICROS);
        assert_eq!(limits(3538).cpu_quota_micros(), 2 * CPU_PERIOD_MICROS);
        assert_eq!(limits(128).cpu_shares(), 74);
        assert_eq!(limits(128).cpu_weight(), 7);
        assert_eq!(limits(128).cpu_quota_micros(), 7235);
    }

    #[test]
    fn tiny_memory_keeps_minimum_cpu() {
        assert_eq!(limits(1).cpu_shares(), 2);
        assert_eq!(limits(1).cpu_weight(), 1);
        assert_eq!(limits(1).cpu_quota_micros(), 1000);
        assert_eq!(limits(10240 * 4).cpu_weight(), 2315);
    }

    #[test]
    fn keyed_value_finds_key() {
        let events = "low 0\nhigh 0\nmax 4\noom 1\noom_kill 2\n";
        assert_eq!(keyed_value(events, "oom_kill"), Some(2));
        assert_eq!(keyed_value(events, "oom"), Some(1));
        assert_eq!(keyed_value(events, "missing"), None);
    }
}

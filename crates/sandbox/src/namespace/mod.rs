//! Environments in their own Linux namespaces (PID, mount, network, IPC, UTS, cgroup, and user
//! when the server is not root), each with a private root file system, an unprivileged user
//! without capabilities, a seccomp filter and, where the host allows it, cgroup limits.
//!
//! The server never forks itself: it executes the helper (`flicker sandbox-init`), a fresh
//! single-threaded process that receives the spec on a socket, creates the namespaces and
//! starts init; see `helper` and `init`. This module is the server side: planning, starting,
//! and the `EnvironmentControl` of a running environment.
//!
//! It does not interpret Lambda semantics and does not serve the Runtime API; the engine does.

// The kernel interfaces used here (fork, mount, pivot_root, prctl, capset, seccomp, ioctl,
// SCM_RIGHTS) have no safe wrappers; every unsafe block states its invariant.
#![allow(unsafe_code)]

pub mod cgroup;
mod channel;
mod helper;
mod identity;
mod init;
mod net_host;
mod netlink;
mod network;
mod root;
mod seccomp;
mod spec;
mod start;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use cgroup::CpuLimit;
pub use helper::run as run_helper;
pub use net_host::NetworkMode;
pub use seccomp::SeccompError;

use cgroup::CgroupHierarchy;
use root::SystemRoot;
use spec::OutsideIds;

/// The first uid (and gid) given to environments when the server runs as root; environment
/// `n` of those alive at once runs as `UID_BASE + n`, so that per-user limits such as
/// RLIMIT_NPROC count each environment on its own.
pub const UID_BASE: u32 = 200_000;

/// The sandbox user's uid and gid inside a user namespace (when the server is not root), as in
/// Lambda.
pub const ROOTLESS_UID: u32 = 993;

/// At most this many open files per process.
pub const MAX_OPEN_FILES: u64 = 1024;

/// At most this many processes and threads per environment.
pub const MAX_PROCESSES: u64 = 1024;

/// How to execute the helper: normally the running `flicker` binary with `sandbox-init`.
#[derive(Debug, Clone)]
pub struct HelperCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

impl HelperCommand {
    /// The running executable with `sandbox-init`. `/proc/self/exe` still works when the binary
    /// on disk is replaced while the server runs.
    pub fn current_exe() -> Self {
        Self { program: "/proc/self/exe".into(), args: vec!["sandbox-init".into()] }
    }
}

/// Settings of the namespace sandbox.
#[derive(Debug, Clone)]
pub struct NamespaceConfig {
    /// A directory of the server's own (such as `DATA_DIR/sandbox`); it holds the empty
    /// directory that each environment's root is mounted on inside its mount namespace.
    pub state_dir: PathBuf,
    pub helper: HelperCommand,
    pub network: NetworkMode,
    pub cpu_limit: CpuLimit,
}

/// Why the sandbox could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    #[error("failed to create the sandbox directory {path}")]
    StateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Seccomp(#[from] SeccompError),
    #[error("the sandbox self-test failed")]
    Probe(#[source] crate::StartError),
    #[error("the sandbox self-test ended with {0:?} instead of exit code 0")]
    ProbeExit(Option<crate::ExitStatus>),
}

/// Starts each environment in its own namespaces; see the module documentation.
#[derive(Debug)]
pub struct NamespaceSandbox {
    config: NamespaceConfig,
    system_root: SystemRoot,
    cgroups: Option<Arc<dyn CgroupHierarchy>>,
    /// Set when the server is not root.
    rootless: Option<OutsideIds>,
    network: Option<Arc<net_host::HostNetwork>>,
    uids: Arc<UidPool>,
    live: Arc<Mutex<std::collections::HashMap<String, Arc<dyn cgroup::Cgroup>>>>,
}

impl NamespaceSandbox {
    /// Prepares the sandbox and logs once what the host cannot enforce.
    pub fn new(config: NamespaceConfig) -> Result<Self, NamespaceError> {
        seccomp::packed_filters()?;
        let root_mount_point = config.state_dir.join("root");
        std::fs::create_dir_all(&root_mount_point)
            .map_err(|source| NamespaceError::StateDir { path: root_mount_point.clone(), source })?;

        let is_root = nix::unistd::geteuid().is_root();
        let rootless = (!is_root).then(|| OutsideIds {
            uid: nix::unistd::geteuid().as_raw(),
            gid: nix::unistd::getegid().as_raw(),
        });
        let cgroups = if is_root { detect_cgroups() } else { None };
        if !is_root {
            tracing::warn!(
                "the server is not root: environments run in a user namespace without cgroup limits \
                 (memory, CPU, process count and freezer are not enforced) and with loopback-only networking"
            );
        }
        let network = net_host::HostNetwork::set_up(config.network, is_root, &config.state_dir).map(Arc::new);
        Ok(Self {
            config,
            system_root: SystemRoot::from_host(),
            cgroups,
            rootless,
            network,
            uids: Arc::new(UidPool::default()),
            live: Arc::default(),
        })
    }

    /// Starts a trivial environment (`/bin/true`) and checks that it exits with code 0.
    pub async fn probe(&self) -> Result<(), NamespaceError> {
        start::probe(self).await
    }

    /// Whether environments get cgroup limits.
    pub fn enforces_cgroups(&self) -> bool {
        self.cgroups.is_some()
    }
}

fn detect_cgroups() -> Option<Arc<dyn CgroupHierarchy>> {
    let parent_name = format!("flicker-{}", std::process::id());
    match cgroup::detect(&parent_name) {
        Ok(hierarchy) => {
            tracing::info!(cgroups = %hierarchy.describe(), "environments get cgroup limits");
            Some(Arc::from(hierarchy))
        }
        Err(err) => {
            tracing::warn!(
                error = %crate::error_chain(&err),
                "cgroup limits are not enforced: environments have no memory, CPU or process-count limit and are not frozen between invocations"
            );
            None
        }
    }
}

/// The slots of the per-environment uids in use. Limits such as RLIMIT_NPROC count per uid,
/// so a slot is also locked host-wide (a `flock` on `/run/flicker/uid-SLOT.lock`), which keeps
/// two servers on one host from giving environments the same uid.
#[derive(Debug, Default)]
struct UidPool {
    used: Mutex<BTreeMap<u32, Option<std::fs::File>>>,
}

const UID_LOCK_DIR: &str = "/run/flicker";

/// Locks `slot` host-wide; `None` if another process holds it. Without a writable lock
/// directory (a server without root) the slot is only reserved within this process.
fn lock_uid_slot(slot: u32) -> Option<Option<std::fs::File>> {
    use std::os::fd::AsRawFd;
    if std::fs::create_dir_all(UID_LOCK_DIR).is_err() {
        return Some(None);
    }
    let Ok(file) = std::fs::File::create(Path::new(UID_LOCK_DIR).join(format!("uid-{slot}.lock"))) else {
        return Some(None);
    };
    // SAFETY: flock takes a descriptor that `file` owns for the duration of the call.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    locked.then_some(Some(file))
}

impl UidPool {
    fn acquire(&self) -> u32 {
        let mut used = self.used.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for slot in 0.. {
            if used.contains_key(&slot) {
                continue;
            }
            if let Some(lock) = lock_uid_slot(slot) {
                used.insert(slot, lock);
                return slot;
            }
        }
        unreachable!("fewer than 2^32 environments")
    }

    fn release(&self, slot: u32) {
        self.used.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_pool_reuses_released_slots() {
        // Slots locked by other processes on this host are skipped, so only the order is fixed.
        let pool = UidPool::default();
        let first = pool.acquire();
        let second = pool.acquire();
        assert!(second > first);
        pool.release(first);
        assert_eq!(pool.acquire(), first);
        assert!(pool.acquire() > second);
    }
}

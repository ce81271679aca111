//! cgroup v2: one directory per environment below a parent group of this server, which has
//! the memory, cpu and pids controllers enabled for its children.

use std::io;
use std::path::{Path, PathBuf};

use super::{
    create_dir, keyed_value, kill_listed, read, remove_dir, remove_stale_parents, write, Cgroup, CgroupError,
    CgroupHierarchy, CpuLimit, Limits, CPU_PERIOD_MICROS,
};

/// The controllers that environments need.
const CONTROLLERS: &[&str] = &["memory", "cpu", "pids"];

/// The parent group of this server's environments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2Hierarchy {
    pub parent: PathBuf,
}

impl V2Hierarchy {
    /// Creates `parent` below `own`, the server's cgroup, and enables the controllers in both.
    ///
    /// A cgroup with processes cannot enable controllers for its children. So when `own`
    /// rejects the change with EBUSY, the server process moves into the leaf `server_leaf` and
    /// tries again. This still fails if other processes share `own`.
    pub fn new(own: &Path, parent: PathBuf, server_leaf: &Path) -> Result<Self, CgroupError> {
        check_available(own)?;
        remove_stale_parents(own);
        if let Err(err) = enable_controllers(own) {
            if !is_busy(&err) {
                return Err(err);
            }
            create_dir(server_leaf)?;
            write(&server_leaf.join("cgroup.procs"), std::process::id())?;
            enable_controllers(own)?;
        }
        create_dir(&parent)?;
        enable_controllers(&parent)?;
        Ok(Self { parent })
    }
}

fn check_available(own: &Path) -> Result<(), CgroupError> {
    let available = read(&own.join("cgroup.controllers"))?;
    for controller in CONTROLLERS {
        if !available.split_whitespace().any(|name| name == *controller) {
            return Err(CgroupError::Controller {
                path: own.to_path_buf(),
                controller: controller.to_string(),
                source: io::Error::from(io::ErrorKind::NotFound),
            });
        }
    }
    Ok(())
}

fn enable_controllers(dir: &Path) -> Result<(), CgroupError> {
    let enabled = read(&dir.join("cgroup.subtree_control"))?;
    let missing: Vec<String> = CONTROLLERS
        .iter()
        .filter(|controller| !enabled.split_whitespace().any(|name| name == **controller))
        .map(|controller| format!("+{controller}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    write(&dir.join("cgroup.subtree_control"), missing.join(" ")).map_err(|err| match err {
        CgroupError::Write { source, .. } => {
            CgroupError::Controller { path: dir.to_path_buf(), controller: missing.join(" "), source }
        }
        other => other,
    })
}

fn is_busy(err: &CgroupError) -> bool {
    matches!(err, CgroupError::Controller { source, .. } if source.raw_os_error() == Some(libc::EBUSY))
}

impl CgroupHierarchy for V2Hierarchy {
    fn create(&self, name: &str, limits: &Limits) -> Result<Box<dyn Cgroup>, CgroupError> {
        let cgroup = V2Cgroup { dir: self.parent.join(name) };
        create_dir(&cgroup.dir)?;
        if let Err(err) = cgroup.apply(&self.parent, limits) {
            let _ = cgroup.remove();
            return Err(err);
        }
        Ok(Box::new(cgroup))
    }

    fn remove_parent(&self) {
        let _ = std::fs::remove_dir(&self.parent);
    }

    fn describe(&self) -> String {
        format!("cgroup v2 ({})", self.parent.display())
    }
}

#[derive(Debug)]
struct V2Cgroup {
    dir: PathBuf,
}

impl V2Cgroup {
    fn apply(&self, parent: &Path, limits: &Limits) -> Result<(), CgroupError> {
        write(&self.dir.join("memory.max"), limits.memory_bytes())?;
        if parent.join("memory.swap.max").exists() || self.dir.join("memory.swap.max").exists() {
            write(&self.dir.join("memory.swap.max"), 0)?;
        }
        match limits.cpu {
            CpuLimit::Weight => write(&self.dir.join("cpu.weight"), limits.cpu_weight())?,
            CpuLimit::Quota => write(
                &self.dir.join("cpu.max"),
                format!("{} {CPU_PERIOD_MICROS}", limits.cpu_quota_micros()),
            )?,
        }
        write(&self.dir.join("pids.max"), limits.max_processes)
    }
}

impl Cgroup for V2Cgroup {
    fn procs_files(&self) -> Vec<PathBuf> {
        vec![self.dir.join("cgroup.procs")]
    }

    fn freeze(&self) -> Result<(), CgroupError> {
        write(&self.dir.join("cgroup.freeze"), 1)
    }

    fn thaw(&self) -> Result<(), CgroupError> {
        write(&self.dir.join("cgroup.freeze"), 0)
    }

    /// Reads `memory.peak` (Linux 5.19 and later), or `memory.current` where it is missing.
    fn max_memory_used(&self) -> Option<u64> {
        let text =
            read(&self.dir.join("memory.peak")).or_else(|_| read(&self.dir.join("memory.current"))).ok()?;
        text.trim().parse().ok()
    }

    fn out_of_memory(&self) -> bool {
        let events = read(&self.dir.join("memory.events")).unwrap_or_default();
        keyed_value(&events, "oom_kill").unwrap_or(0) > 0
    }

    /// Uses `cgroup.kill` (Linux 5.14 and later), which also kills frozen tasks. Older kernels
    /// get a signal per listed task, and then a thaw, so that frozen tasks handle the signal.
    fn kill_all(&self) {
        if write(&self.dir.join("cgroup.kill"), 1).is_ok() {
            return;
        }
        kill_listed(&self.dir.join("cgroup.procs"));
        let _ = self.thaw();
    }

    fn remove(&self) -> Result<(), CgroupError> {
        remove_dir(&self.dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_own(root: &Path) -> PathBuf {
        let own = root.join("service");
        std::fs::create_dir_all(&own).unwrap();
        std::fs::write(own.join("cgroup.controllers"), "cpuset cpu io memory hugetlb pids rdma misc\n")
            .unwrap();
        std::fs::write(own.join("cgroup.subtree_control"), "").unwrap();
        own
    }

    fn fake_hierarchy(root: &Path) -> V2Hierarchy {
        let own = fake_own(root);
        let parent = own.join("flicker");
        std::fs::create_dir_all(&parent).unwrap();
        std::fs::write(parent.join("cgroup.subtree_control"), "").unwrap();
        std::fs::write(parent.join("memory.swap.max"), "max\n").unwrap();
        V2Hierarchy::new(&own, parent, &own.join("server")).unwrap()
    }

    fn text(path: PathBuf) -> String {
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn new_enables_controllers_in_own_and_parent() {
        let root = tempfile::tempdir().unwrap();
        let hierarchy = fake_hierarchy(root.path());
        assert_eq!(text(root.path().join("service/cgroup.subtree_control")), "+memory +cpu +pids");
        assert_eq!(text(hierarchy.parent.join("cgroup.subtree_control")), "+memory +cpu +pids");
    }

    #[test]
    fn new_keeps_enabled_controllers() {
        let root = tempfile::tempdir().unwrap();
        let own = fake_own(root.path());
        std::fs::write(own.join("cgroup.subtree_control"), "cpu memory pids\n").unwrap();
        let parent = own.join("flicker");
        std::fs::create_dir_all(&parent).unwrap();
        std::fs::write(parent.join("cgroup.subtree_control"), "").unwrap();
        V2Hierarchy::new(&own, parent, &own.join("server")).unwrap();
        assert_eq!(text(own.join("cgroup.subtree_control")), "cpu memory pids\n");
    }

    #[test]
    fn missing_controller_is_reported() {
        let root = tempfile::tempdir().unwrap();
        let own = fake_own(root.path());
        std::fs::write(own.join("cgroup.controllers"), "cpu io\n").unwrap();
        let err = V2Hierarchy::new(&own, own.join("flicker"), &own.join("server")).unwrap_err();
        assert!(err.to_string().contains("memory"), "{err}");
    }

    #[test]
    fn create_writes_limits() {
        let root = tempfile::tempdir().unwrap();
        let hierarchy = fake_hierarchy(root.path());
        let limits = Limits { memory_mb: 512, max_processes: 1024, cpu: CpuLimit::Weight };
        hierarchy.create("env1", &limits).unwrap();
        let dir = hierarchy.parent.join("env1");
        assert_eq!(text(dir.join("memory.max")), "536870912");
        assert_eq!(text(dir.join("memory.swap.max")), "0");
        assert_eq!(text(dir.join("cpu.weight")), "28");
        assert_eq!(text(dir.join("pids.max")), "1024");
        assert!(!dir.join("cpu.max").exists());
    }

    #[test]
    fn quota_mode_writes_cpu_max() {
        let root = tempfile::tempdir().unwrap();
        let hierarchy = fake_hierarchy(root.path());
        let limits = Limits { memory_mb: 1769, max_processes: 1024, cpu: CpuLimit::Quota };
        hierarchy.create("env1", &limits).unwrap();
        assert_eq!(text(hierarchy.parent.join("env1/cpu.max")), "100000 100000");
    }

    #[test]
    fn freeze_and_thaw_write_cgroup_freeze() {
        let root = tempfile::tempdir().unwrap();
        let hierarchy = fake_hierarchy(root.path());
        let limits = Limits { memory_mb: 128, max_processes: 1024, cpu: CpuLimit::Weight };
        let cgroup = hierarchy.create("env1", &limits).unwrap();
        let dir = hierarchy.parent.join("env1");
        cgroup.freeze().unwrap();
        assert_eq!(text(dir.join("cgroup.freeze")), "1");
        cgroup.thaw().unwrap();
        assert_eq!(text(dir.join("cgroup.freeze")), "0");
    }

    #[test]
    fn memory_counters_are_read() {
        let root = tempfile::tempdir().unwrap();
        let hierarchy = fake_hierarchy(root.path());
        let limits = Limits { memory_mb: 128, max_processes: 1024, cpu: CpuLimit::Weight };
        let cgroup = hierarchy.create("env1", &limits).unwrap();
        let dir = hierarchy.parent.join("env1");
        std::fs::write(dir.join("memory.current"), "4096\n").unwrap();
        assert_eq!(cgroup.max_memory_used(), Some(4096));
        std::fs::write(dir.join("memory.peak"), "8192\n").unwrap();
        assert_eq!(cgroup.max_memory_used(), Some(8192));

        assert!(!cgroup.out_of_memory());
        std::fs::write(dir.join("memory.events"), "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n").unwrap();
        assert!(cgroup.out_of_memory());
    }
}

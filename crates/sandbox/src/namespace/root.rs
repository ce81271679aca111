//! The root file system of an environment: the plan of what it contains (built in the server,
//! from the host's layout and the environment's spec), and the mounts that carry it out inside
//! the helper's mount namespace, ending with `pivot_root`.

use std::ffi::CString;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use super::spec::RootStep;
use crate::HostDirs;

/// The paths of the host directories inside the environment.
pub(crate) const TASK_ROOT: &str = "/var/task";
pub(crate) const RUNTIME_DIR: &str = "/var/runtime";
pub(crate) const OPT_DIR: &str = "/opt";

/// Host directories shared read-only, or recreated as the same symlink where the host has
/// merged `/usr`.
const SYSTEM_DIRS: &[&str] = &["/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin"];

/// Host `/etc` entries shared read-only when present.
const ETC_BINDS: &[&str] = &["/etc/ld.so.cache", "/etc/ssl/certs", "/etc/alternatives"];

/// Directories whose programs the environment can already run, so an interpreter there needs no
/// extra bind mount.
const VISIBLE_PREFIXES: &[&str] =
    &["/usr", "/bin", "/sbin", "/lib", "/lib64", TASK_ROOT, RUNTIME_DIR, OPT_DIR];

/// Device nodes bound from the host's `/dev`.
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// The size of the root tmpfs, which holds only directories, `/etc` files and mount points.
pub(crate) const ROOT_TMPFS_BYTES: u64 = 1 << 20;

/// The name and ids of the sandbox user.
pub(crate) const SANDBOX_USER: &str = "sbx_user1051";

/// The parts of the root that are the same for every environment, found once at start-up.
#[derive(Debug, Clone)]
pub(crate) struct SystemRoot {
    steps: Vec<RootStep>,
}

impl SystemRoot {
    /// Reads the host's layout: which system directories exist and which are symlinks.
    pub fn from_host() -> Self {
        let mut steps = Vec::new();
        for dir in SYSTEM_DIRS {
            steps.extend(share_host_path(Path::new(dir)));
        }
        steps.push(RootStep::Dir { target: "/etc".into(), mode: 0o755 });
        steps.extend(static_etc_files());
        for entry in ETC_BINDS {
            steps.extend(share_host_path(Path::new(entry)));
        }
        Self { steps }
    }
}

/// Returns the steps that make `path` look as on the host: a symlink, or a read-only bind of a
/// file or directory. Paths that the host lacks get no step.
fn share_host_path(path: &Path) -> Vec<RootStep> {
    let Ok(metadata) = path.symlink_metadata() else { return vec![] };
    if metadata.file_type().is_symlink() {
        return match std::fs::read_link(path) {
            Ok(points_to) => vec![RootStep::Symlink { target: path.into(), points_to }],
            Err(_) => vec![],
        };
    }
    let mount_point = if metadata.is_dir() {
        RootStep::Dir { target: path.into(), mode: 0o755 }
    } else {
        RootStep::File { target: path.into(), contents: vec![], mode: 0o644 }
    };
    let mut steps = parent_dirs(path);
    steps.push(mount_point);
    steps.push(RootStep::BindReadOnly { source: path.into(), target: path.into() });
    steps
}

fn parent_dirs(path: &Path) -> Vec<RootStep> {
    let mut parents: Vec<RootStep> = path
        .ancestors()
        .skip(1)
        .filter(|dir| dir.parent().is_some())
        .map(|dir| RootStep::Dir { target: dir.into(), mode: 0o755 })
        .collect();
    parents.reverse();
    parents
}

fn static_etc_files() -> Vec<RootStep> {
    let file = |name: &str, contents: Vec<u8>| RootStep::File {
        target: PathBuf::from("/etc").join(name),
        contents,
        mode: 0o644,
    };
    let resolv = std::fs::read("/etc/resolv.conf").unwrap_or_default();
    let mut steps = vec![
        file("hosts", b"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n".to_vec()),
        file("hostname", b"localhost\n".to_vec()),
        file("nsswitch.conf", b"passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n".to_vec()),
        file("resolv.conf", resolv),
    ];
    if Path::new("/usr/share/zoneinfo/Etc/UTC").exists() {
        steps.push(RootStep::Symlink {
            target: "/etc/localtime".into(),
            points_to: "/usr/share/zoneinfo/Etc/UTC".into(),
        });
    }
    steps
}

/// The per-environment inputs of the root plan.
#[derive(Debug, Clone)]
pub(crate) struct RootRequest<'a> {
    pub host: &'a HostDirs,
    pub program: &'a Path,
    pub uid: u32,
    pub gid: u32,
    pub tmp_mb: u32,
    pub shm_mb: u32,
}

/// Returns the complete, ordered plan of an environment's root.
pub(crate) fn plan(system: &SystemRoot, request: &RootRequest<'_>) -> Vec<RootStep> {
    let mut steps = system.steps.clone();
    steps.extend(user_files(request.uid, request.gid));
    for (source, target) in [
        (&request.host.task_root, TASK_ROOT),
        (&request.host.runtime_dir, RUNTIME_DIR),
        (&request.host.opt_dir, OPT_DIR),
    ] {
        steps.extend(parent_dirs(Path::new(target)));
        steps.push(RootStep::Dir { target: target.into(), mode: 0o755 });
        steps.push(RootStep::BindReadOnly { source: source.clone(), target: target.into() });
    }
    if let Some(prefix) = interpreter_prefix(request.program) {
        steps.extend(parent_dirs(&prefix));
        steps.push(RootStep::Dir { target: prefix.clone(), mode: 0o755 });
        steps.push(RootStep::BindReadOnly { source: prefix.clone(), target: prefix });
    }
    steps.push(RootStep::Dir { target: "/tmp".into(), mode: 0o1777 });
    steps.push(RootStep::Tmpfs {
        target: "/tmp".into(),
        size_bytes: u64::from(request.tmp_mb) << 20,
        mode: 0o1777,
    });
    steps.extend(dev_steps(request.shm_mb));
    steps.push(RootStep::Dir { target: "/proc".into(), mode: 0o555 });
    steps.push(RootStep::Proc { target: "/proc".into() });
    steps
}

fn user_files(uid: u32, gid: u32) -> Vec<RootStep> {
    let passwd = format!(
        "root:x:0:0:root:/root:/usr/sbin/nologin\n{SANDBOX_USER}:x:{uid}:{gid}::/tmp:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    );
    let group = format!("root:x:0:\n{SANDBOX_USER}:x:{gid}:\nnogroup:x:65534:\n");
    vec![
        RootStep::File { target: "/etc/passwd".into(), contents: passwd.into_bytes(), mode: 0o644 },
        RootStep::File { target: "/etc/group".into(), contents: group.into_bytes(), mode: 0o644 },
    ]
}

/// Returns the installation prefix of an interpreter outside the shared system directories, such as
/// `/root/.pyenv/versions/3.12.1` for `/root/.pyenv/versions/3.12.1/bin/python3.12`: the parent
/// of its `bin` directory. Such a prefix is bound read-only at the same path, so its parent
/// directories (`/root/.pyenv/versions`) exist inside but show nothing else.
fn interpreter_prefix(program: &Path) -> Option<PathBuf> {
    if !program.is_absolute() || VISIBLE_PREFIXES.iter().any(|prefix| program.starts_with(prefix)) {
        return None;
    }
    let bin = program.parent()?;
    if bin.file_name()? != "bin" || !program.exists() {
        return None;
    }
    let prefix = bin.parent()?;
    (prefix != Path::new("/")).then(|| prefix.to_path_buf())
}

fn dev_steps(shm_mb: u32) -> Vec<RootStep> {
    let mut steps = vec![RootStep::Dir { target: "/dev".into(), mode: 0o755 }];
    for device in DEVICES {
        let target = PathBuf::from("/dev").join(device);
        steps.push(RootStep::File { target: target.clone(), contents: vec![], mode: 0o666 });
        steps.push(RootStep::BindDevice { source: target.clone(), target });
    }
    for (name, points_to) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        steps.push(RootStep::Symlink {
            target: PathBuf::from("/dev").join(name),
            points_to: points_to.into(),
        });
    }
    steps.push(RootStep::Dir { target: "/dev/shm".into(), mode: 0o1777 });
    steps.push(RootStep::Tmpfs {
        target: "/dev/shm".into(),
        size_bytes: u64::from(shm_mb) << 20,
        mode: 0o1777,
    });
    steps.push(RootStep::Dir { target: "/dev/pts".into(), mode: 0o755 });
    steps.push(RootStep::Devpts { target: "/dev/pts".into() });
    steps
}

/// A failed step of building the root.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RootError {
    #[error("failed to mount {what} on {target}: {errno}")]
    Mount { what: String, target: PathBuf, errno: nix::errno::Errno },
    #[error("failed to create {target}: {source}")]
    Create { target: PathBuf, source: std::io::Error },
    #[error("failed to switch the root to {root}: {errno}")]
    PivotRoot { root: PathBuf, errno: nix::errno::Errno },
}

fn mount_error(what: impl Into<String>, target: &Path) -> impl FnOnce(nix::errno::Errno) -> RootError + '_ {
    let what = what.into();
    move |errno| RootError::Mount { what, target: target.to_path_buf(), errno }
}

/// Builds the root on `root` and makes it the process's root directory. Must run in a private
/// mount namespace, and in the new PID namespace for `/proc` to show it.
pub(crate) fn build(root: &Path, steps: &[RootStep]) -> Result<(), RootError> {
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
        .map_err(mount_error("private propagation", Path::new("/")))?;
    let options = format!("size={ROOT_TMPFS_BYTES},mode=755");
    mount(Some("tmpfs"), root, Some("tmpfs"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV, Some(options.as_str()))
        .map_err(mount_error("the root tmpfs", root))?;
    for step in steps {
        apply(root, step)?;
    }
    pivot(root)
}

fn inside(root: &Path, target: &Path) -> PathBuf {
    root.join(target.strip_prefix("/").unwrap_or(target))
}

fn apply(root: &Path, step: &RootStep) -> Result<(), RootError> {
    match step {
        RootStep::Dir { target, mode } => create_dir(&inside(root, target), *mode),
        RootStep::File { target, contents, mode } => create_file(&inside(root, target), contents, *mode),
        RootStep::Symlink { target, points_to } => {
            let path = inside(root, target);
            std::os::unix::fs::symlink(points_to, &path)
                .map_err(|source| RootError::Create { target: path, source })
        }
        RootStep::BindReadOnly { source, target } => bind_read_only(source, &inside(root, target)),
        RootStep::BindDevice { source, target } => bind_device(source, &inside(root, target)),
        RootStep::Tmpfs { target, size_bytes, mode } => {
            let options = format!("size={size_bytes},mode={mode:o}");
            let target = inside(root, target);
            let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
            mount(Some("tmpfs"), &target, Some("tmpfs"), flags, Some(options.as_str()))
                .map_err(mount_error("tmpfs", &target))
        }
        RootStep::Proc { target } => {
            let target = inside(root, target);
            let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
            mount(Some("proc"), &target, Some("proc"), flags, None::<&str>)
                .map_err(mount_error("proc", &target))
        }
        RootStep::Devpts { target } => {
            let target = inside(root, target);
            let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
            let options = "newinstance,ptmxmode=0666,mode=0620";
            mount(Some("devpts"), &target, Some("devpts"), flags, Some(options))
                .map_err(mount_error("devpts", &target))
        }
    }
}

fn create_dir(path: &Path, mode: u32) -> Result<(), RootError> {
    let created = std::fs::DirBuilder::new().mode(mode).create(path);
    match created {
        Err(err) if err.kind() != std::io::ErrorKind::AlreadyExists => {
            Err(RootError::Create { target: path.into(), source: err })
        }
        _ => {
            // The umask narrowed the mode given to mkdir; sticky and world-writable bits matter.
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                .map_err(|source| RootError::Create { target: path.into(), source })
        }
    }
}

fn create_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), RootError> {
    std::fs::write(path, contents).map_err(|source| RootError::Create { target: path.into(), source })?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|source| RootError::Create { target: path.into(), source })
}

/// Binds `source` on `target`, then remounts the bind read-only, `nosuid` and `nodev`. The
/// remount keeps the flags of the source mount that a user namespace may not clear.
fn bind_read_only(source: &Path, target: &Path) -> Result<(), RootError> {
    let what = source.display().to_string();
    mount(Some(source), target, None::<&str>, MsFlags::MS_BIND, None::<&str>)
        .map_err(mount_error(what.clone(), target))?;
    let flags = MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_RDONLY
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV
        | locked_flags(target);
    mount(None::<&str>, target, None::<&str>, flags, None::<&str>)
        .map_err(mount_error(format!("{what} (read-only)"), target))
}

fn bind_device(source: &Path, target: &Path) -> Result<(), RootError> {
    let what = source.display().to_string();
    mount(Some(source), target, None::<&str>, MsFlags::MS_BIND, None::<&str>)
        .map_err(mount_error(what.clone(), target))?;
    let flags = MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NOEXEC
        | locked_flags(target);
    mount(None::<&str>, target, None::<&str>, flags, None::<&str>)
        .map_err(mount_error(format!("{what} (nosuid)"), target))
}

/// Returns the `noexec` and access-time flags of the mount at `path`.
fn locked_flags(path: &Path) -> MsFlags {
    use nix::sys::statvfs::{statvfs, FsFlags};
    let Ok(stat) = statvfs(path) else { return MsFlags::empty() };
    let flags = stat.flags();
    let mut locked = MsFlags::empty();
    for (fs_flag, ms_flag) in [
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if flags.contains(fs_flag) {
            locked |= ms_flag;
        }
    }
    locked
}

/// Makes `root` the root directory, detaches the old root, and remounts the new root
/// read-only.
fn pivot(root: &Path) -> Result<(), RootError> {
    let pivot_error = |errno| RootError::PivotRoot { root: root.to_path_buf(), errno };
    nix::unistd::chdir(root).map_err(pivot_error)?;
    // Stacking the old root on the new one and detaching it needs no directory for the old root.
    nix::unistd::pivot_root(".", ".").map_err(pivot_error)?;
    umount2(".", MntFlags::MNT_DETACH).map_err(pivot_error)?;
    nix::unistd::chdir("/").map_err(pivot_error)?;
    let flags =
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)
        .map_err(mount_error("the root (read-only)", Path::new("/")))
}

/// Converts a path to a C string for `execve`.
pub(crate) fn c_path(path: &Path) -> Option<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostDirs {
        HostDirs {
            task_root: "/data/tasks/fn1".into(),
            runtime_dir: "/data/runtimes/python".into(),
            opt_dir: "/data/layers/empty".into(),
        }
    }

    fn request<'a>(host: &'a HostDirs, program: &'a Path) -> RootRequest<'a> {
        RootRequest { host, program, uid: 993, gid: 990, tmp_mb: 512, shm_mb: 64 }
    }

    fn targets(steps: &[RootStep]) -> Vec<PathBuf> {
        steps
            .iter()
            .filter_map(|step| match step {
                RootStep::BindReadOnly { target, .. } => Some(target.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn plan_binds_function_dirs_read_only() {
        let host = host();
        let steps = plan(&SystemRoot { steps: vec![] }, &request(&host, Path::new("/usr/bin/python3.11")));
        assert!(steps.contains(&RootStep::BindReadOnly {
            source: "/data/tasks/fn1".into(),
            target: "/var/task".into()
        }));
        assert!(steps.contains(&RootStep::BindReadOnly {
            source: "/data/runtimes/python".into(),
            target: "/var/runtime".into()
        }));
        assert!(steps.contains(&RootStep::BindReadOnly {
            source: "/data/layers/empty".into(),
            target: "/opt".into()
        }));
        assert_eq!(targets(&steps).len(), 3, "an interpreter in /usr needs no extra bind");
    }

    #[test]
    fn plan_sizes_tmp_and_shm() {
        let host = host();
        let steps = plan(&SystemRoot { steps: vec![] }, &request(&host, Path::new("/var/task/bootstrap")));
        assert!(steps.contains(&RootStep::Tmpfs {
            target: "/tmp".into(),
            size_bytes: 512 << 20,
            mode: 0o1777
        }));
        assert!(steps.contains(&RootStep::Tmpfs {
            target: "/dev/shm".into(),
            size_bytes: 64 << 20,
            mode: 0o1777
        }));
        assert_eq!(steps.last(), Some(&RootStep::Proc { target: "/proc".into() }));
    }

    #[test]
    fn plan_writes_sandbox_user() {
        let host = host();
        let steps = plan(&SystemRoot { steps: vec![] }, &request(&host, Path::new("/var/task/bootstrap")));
        let passwd = steps.iter().find_map(|step| match step {
            RootStep::File { target, contents, .. } if target == Path::new("/etc/passwd") => {
                Some(String::from_utf8_lossy(contents).into_owned())
            }
            _ => None,
        });
        assert!(passwd.unwrap().contains("sbx_user1051:x:993:990:"));
        assert!(!steps
            .iter()
            .any(|step| matches!(step, RootStep::File { target, .. } if target.ends_with("shadow"))));
    }

    #[test]
    fn interpreter_outside_usr_gets_its_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("versions/3.12.1/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("python3.12"), "").unwrap();
        assert_eq!(interpreter_prefix(&bin.join("python3.12")), Some(dir.path().join("versions/3.12.1")));
        assert_eq!(interpreter_prefix(Path::new("/usr/local/bin/python3.12")), None);
        assert_eq!(interpreter_prefix(Path::new("/var/task/bin/bootstrap")), None);
    }

    #[test]
    fn system_root_hides_home_and_root() {
        let system = SystemRoot::from_host();
        for step in &system.steps {
            if let RootStep::BindReadOnly { source, .. } = step {
                assert!(!source.starts_with("/root"), "{step:?}");
                assert!(!source.starts_with("/home"), "{step:?}");
            }
        }
    }

    #[test]
    fn parent_dirs_come_first() {
        assert_eq!(
            parent_dirs(Path::new("/var/task")),
            vec![RootStep::Dir { target: "/var".into(), mode: 0o755 }]
        );
        assert_eq!(parent_dirs(Path::new("/usr")), vec![]);
    }
}

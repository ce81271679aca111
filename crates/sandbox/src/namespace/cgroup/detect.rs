//! Finds the cgroup hierarchy of the host from `/proc/self/mountinfo` and `/proc/self/cgroup`,
//! and places this server's environments below the server's own cgroup in it.

use std::path::{Path, PathBuf};

use super::{CgroupError, CgroupHierarchy, V1Hierarchy, V2Hierarchy};

/// A failure to find a usable cgroup hierarchy.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("failed to read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no cgroup v2 hierarchy with the memory, cpu and pids controllers, and no cgroup v1 hierarchy for {missing}")]
    NotMounted { missing: String },
    #[error("the server's own cgroup for {controller} is not listed in /proc/self/cgroup")]
    OwnCgroup { controller: String },
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
}

/// The v1 controllers environments use.
const V1_CONTROLLERS: [&str; 4] = ["memory", "cpu", "pids", "freezer"];

/// One cgroup mount from `mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CgroupMount {
    /// The path inside the hierarchy that is mounted (`/` unless a container mounts a subtree).
    root: PathBuf,
    mount_point: PathBuf,
    /// `cgroup2` or `cgroup`.
    fs_type: String,
    /// The v1 controllers, from the super options.
    controllers: Vec<String>,
}

fn parse_mountinfo(text: &str) -> Vec<CgroupMount> {
    text.lines().filter_map(parse_mountinfo_line).collect()
}

fn parse_mountinfo_line(line: &str) -> Option<CgroupMount> {
    let (before, after) = line.split_once(" - ")?;
    let fields: Vec<&str> = before.split(' ').collect();
    let mut rest = after.split(' ');
    let fs_type = rest.next()?;
    if fs_type != "cgroup" && fs_type != "cgroup2" {
        return None;
    }
    let _source = rest.next();
    let super_options = rest.next().unwrap_or("");
    let controllers = super_options
        .split(',')
        .filter(|option| V1_CONTROLLERS.contains(option))
        .map(str::to_string)
        .collect();
    Some(CgroupMount {
        root: PathBuf::from(unescape(fields.get(3)?)),
        mount_point: PathBuf::from(unescape(fields.get(4)?)),
        fs_type: fs_type.to_string(),
        controllers,
    })
}

/// Decodes the octal escapes (`\040` for a space) that mountinfo uses in paths.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 4)
            .and_then(|digits| u8::from_str_radix(std::str::from_utf8(digits).ok()?, 8).ok());
        match (bytes[i], escaped) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Returns the server's cgroup path per v1 controller, and in the v2 hierarchy (key `""`).
fn parse_own_cgroups(text: &str) -> Vec<(String, PathBuf)> {
    let mut own = Vec::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next()) else { continue };
        if controllers.is_empty() {
            own.push((String::new(), PathBuf::from(path)));
        }
        for controller in controllers.split(',').filter(|name| !name.is_empty()) {
            own.push((controller.to_string(), PathBuf::from(path)));
        }
    }
    own
}

/// Returns the directory of `own` (a path in the hierarchy) below a mount of that hierarchy.
fn own_dir(mount: &CgroupMount, own: &Path) -> PathBuf {
    let relative = own.strip_prefix(&mount.root).unwrap_or(own);
    let relative = relative.strip_prefix("/").unwrap_or(relative);
    mount.mount_point.join(relative)
}

fn lookup<'a>(own: &'a [(String, PathBuf)], controller: &str) -> Result<&'a PathBuf, DetectError> {
    own.iter()
        .find(|(name, _)| name == controller)
        .map(|(_, path)| path)
        .ok_or_else(|| DetectError::OwnCgroup { controller: controller.to_string() })
}

fn read(path: &str) -> Result<String, DetectError> {
    std::fs::read_to_string(path).map_err(|source| DetectError::Read { path: path.into(), source })
}

/// Finds the hierarchy and creates `parent_name` below the server's own cgroup in it.
pub fn detect(parent_name: &str) -> Result<Box<dyn CgroupHierarchy>, DetectError> {
    let mounts = parse_mountinfo(&read("/proc/self/mountinfo")?);
    let own = parse_own_cgroups(&read("/proc/self/cgroup")?);
    if let Some(mount) = v2_with_controllers(&mounts) {
        let own_dir = own_dir(mount, lookup(&own, "")?);
        let server_leaf = own_dir.join(format!("{parent_name}-server"));
        let hierarchy = V2Hierarchy::new(&own_dir, own_dir.join(parent_name), &server_leaf)?;
        return Ok(Box::new(hierarchy));
    }
    let parents = v1_parents(&mounts, &own, parent_name)?;
    Ok(Box::new(V1Hierarchy::new(parents)?))
}

fn v2_with_controllers(mounts: &[CgroupMount]) -> Option<&CgroupMount> {
    mounts.iter().filter(|mount| mount.fs_type == "cgroup2").find(|mount| {
        let available =
            std::fs::read_to_string(mount.mount_point.join("cgroup.controllers")).unwrap_or_default();
        ["memory", "cpu", "pids"]
            .iter()
            .all(|needed| available.split_whitespace().any(|name| name == *needed))
    })
}

fn v1_parents(
    mounts: &[CgroupMount],
    own: &[(String, PathBuf)],
    parent_name: &str,
) -> Result<V1Hierarchy, DetectError> {
    let mut dirs = Vec::new();
    let mut missing = Vec::new();
    for controller in V1_CONTROLLERS {
        let mount = mounts
            .iter()
            .find(|mount| mount.fs_type == "cgroup" && mount.controllers.iter().any(|c| c == controller));
        match mount {
            Some(mount) => dirs.push(own_dir(mount, lookup(own, controller)?).join(parent_name)),
            None => missing.push(controller),
        }
    }
    if !missing.is_empty() {
        return Err(DetectError::NotMounted { missing: missing.join(", ") });
    }
    let [memory, cpu, pids, freezer]: [PathBuf; 4] = dirs.try_into().expect("one directory per controller");
    Ok(V1Hierarchy { memory, cpu, pids, freezer })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    const HYBRID_CGROUP: &str = "\
8:pids:/
6:freezer:/
4:memory:/jobs/abc
1:cpu:/
0::/
";

    #[test]
    fn mountinfo_lists_cgroup_mounts_with_controllers() {
        let mounts = parse_mountinfo(HYBRID_MOUNTINFO);
        assert_eq!(mounts.len(), 6);
        let memory = mounts.iter().find(|m| m.controllers == ["memory"]).unwrap();
        assert_eq!(memory.mount_point, PathBuf::from("/sys/fs/cgroup/memory"));
        let cpuacct = mounts.iter().find(|m| m.mount_point.ends_with("cpuacct")).unwrap();
        assert!(cpuacct.controllers.is_empty(), "cpuacct is not a controller environments use");
        assert!(mounts.iter().any(|m| m.fs_type == "cgroup2"));
    }

    #[test]
    fn v1_parents_nest_below_own_cgroup() {
        let mounts = parse_mountinfo(HYBRID_MOUNTINFO);
        let own = parse_own_cgroups(HYBRID_CGROUP);
        let parents = v1_parents(&mounts, &own, "flicker-7").unwrap();
        assert_eq!(parents.memory, PathBuf::from("/sys/fs/cgroup/memory/jobs/abc/flicker-7"));
        assert_eq!(parents.cpu, PathBuf::from("/sys/fs/cgroup/cpu/flicker-7"));
        assert_eq!(parents.pids, PathBuf::from("/sys/fs/cgroup/pids/flicker-7"));
        assert_eq!(parents.freezer, PathBuf::from("/sys/fs/cgroup/freezer/flicker-7"));
    }

    #[test]
    fn comounted_controllers_share_a_mount() {
        let mountinfo = "40 31 0:40 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
                         41 31 0:41 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
                         42 31 0:42 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n\
                         43 31 0:43 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer\n";
        let own = parse_own_cgroups("5:cpu,cpuacct:/a\n4:memory:/a\n3:pids:/a\n2:freezer:/a\n");
        let parents = v1_parents(&parse_mountinfo(mountinfo), &own, "f").unwrap();
        assert_eq!(parents.cpu, PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/a/f"));
    }

    #[test]
    fn missing_v1_controller_is_named() {
        let mountinfo = "41 31 0:41 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        let own = parse_own_cgroups(HYBRID_CGROUP);
        let err = v1_parents(&parse_mountinfo(mountinfo), &own, "f").unwrap_err();
        assert_eq!(err.to_string(), "no cgroup v2 hierarchy with the memory, cpu and pids controllers, and no cgroup v1 hierarchy for cpu, pids, freezer");
    }

    #[test]
    fn container_mount_root_is_stripped() {
        let mount = CgroupMount {
            root: PathBuf::from("/docker/abc"),
            mount_point: PathBuf::from("/sys/fs/cgroup"),
            fs_type: "cgroup2".into(),
            controllers: vec![],
        };
        assert_eq!(own_dir(&mount, Path::new("/docker/abc/app")), PathBuf::from("/sys/fs/cgroup/app"));
        assert_eq!(own_dir(&mount, Path::new("/")), PathBuf::from("/sys/fs/cgroup"));
    }

    #[test]
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape("/mnt/a\\040b"), "/mnt/a b");
        assert_eq!(unescape("/plain"), "/plain");
    }
}

//! The messages between the server and the sandbox helper: what to build and start (sent once
//! as JSON), and the helper's replies. This module only defines and encodes them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Largest message accepted on the control socket, in bytes.
pub(crate) const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// Everything the helper needs to build and start one environment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HelperSpec {
    pub id: String,
    /// The directory that the environment's root tmpfs is mounted on, inside the helper's
    /// private mount namespace.
    pub root_mount_point: PathBuf,
    /// The steps that build the root file system, in order, with targets relative to the root.
    pub root: Vec<RootStep>,
    pub hostname: String,
    pub identity: Identity,
    /// The `cgroup.procs` files that init joins before it builds the root.
    pub cgroup_procs: Vec<PathBuf>,
    /// Set when the helper is not root: it then creates a user namespace first and maps
    /// `identity.uid`/`gid` inside to these ids outside.
    pub user_namespace: Option<OutsideIds>,
    pub network: Option<NetworkSpec>,
    /// Compiled seccomp filters, installed in order; each instruction packed by `pack_filter`.
    pub seccomp: Vec<Vec<u64>>,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub working_dir: PathBuf,
}

/// One step of building the root file system. Targets are absolute paths as seen inside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum RootStep {
    Dir {
        target: PathBuf,
        mode: u32,
    },
    File {
        target: PathBuf,
        contents: Vec<u8>,
        mode: u32,
    },
    Symlink {
        target: PathBuf,
        points_to: PathBuf,
    },
    /// A read-only, `nosuid`, `nodev` bind mount of a host file or directory.
    BindReadOnly {
        source: PathBuf,
        target: PathBuf,
    },
    /// A bind mount of a host device node, keeping its device access.
    BindDevice {
        source: PathBuf,
        target: PathBuf,
    },
    Tmpfs {
        target: PathBuf,
        size_bytes: u64,
        mode: u32,
    },
    Proc {
        target: PathBuf,
    },
    Devpts {
        target: PathBuf,
    },
}

/// The unprivileged user that runs the bootstrap, and its limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Identity {
    pub uid: u32,
    pub gid: u32,
    pub max_open_files: u64,
    pub max_processes: u64,
}

/// The ids that the user namespace maps the sandbox user to.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct OutsideIds {
    pub uid: u32,
    pub gid: u32,
}

/// The inside end of the environment's veth pair.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct NetworkSpec {
    /// The interface name inside, such as `eth0`.
    pub interface: String,
    pub address: std::net::Ipv4Addr,
    pub prefix_len: u8,
    pub gateway: std::net::Ipv4Addr,
}

/// The helper's replies on the control socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Reply {
    /// The Runtime API listener is bound; its descriptor travels with this message.
    Listener,
    /// The helper has unshared the network namespace and waits for `Message::NetworkReady`.
    NetworkNamespace {
        helper_pid: i32,
    },
    /// The bootstrap was executed.
    Started,
    /// `execve` of the bootstrap failed with this errno.
    ExecFailed {
        errno: i32,
    },
    Failed {
        message: String,
    },
}

/// The server's messages after the spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Message {
    /// The host end of the veth pair is configured and the inside end was moved in.
    NetworkReady,
}

/// Packs one BPF instruction into a `u64`: code, jt, jf and k from high to low bits.
pub(crate) fn pack_instruction(code: u16, jt: u8, jf: u8, k: u32) -> u64 {
    (u64::from(code) << 48) | (u64::from(jt) << 40) | (u64::from(jf) << 32) | u64::from(k)
}

/// Unpacks what `pack_instruction` packed.
pub(crate) fn unpack_instruction(packed: u64) -> (u16, u8, u8, u32) {
    ((packed >> 48) as u16, (packed >> 40) as u8, (packed >> 32) as u8, packed as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instruction_packing_round_trips() {
        let packed = pack_instruction(0x15, 3, 250, 0xdead_beef);
        assert_eq!(unpack_instruction(packed), (0x15, 3, 250, 0xdead_beef));
    }
}

//! The host side of environment networking. In `isolated` mode an environment has loopback
//! only. In `outbound` mode each environment gets a veth pair whose inside end is `eth0`, with
//! its own /30 from a /16 that this server claims. Each server on the host claims one of
//! `10.200.0.0/16` to `10.239.0.0/16`. An nftables table masquerades the traffic that leaves
//! the /16, and drops traffic from environments to the host itself and to each other.

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use super::netlink;
use super::network::{configure_address, NetworkError};
use super::spec::NetworkSpec;

/// Whether environments can open connections beyond their own loopback interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetworkMode {
    /// A veth pair to the host with NAT.
    #[default]
    Outbound,
    /// Loopback only.
    Isolated,
}

/// The second octets of the /16 blocks that servers claim, one block per server.
const BLOCKS: std::ops::Range<u8> = 200..240;

/// /30 subnets per block, less the one at index 0, whose network address is the block's.
const LEASES_PER_BLOCK: u32 = 1 << 14;

/// The paths searched for `nft`, because a server's PATH often lacks the sbin directories.
const NFT_PATHS: &[&str] = &["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft", "/bin/nft"];

/// A failed step of preparing or attaching outbound networking.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OutboundError {
    #[error("nft is not installed (looked in {})", NFT_PATHS.join(", "))]
    NoNft,
    #[error("every address block 10.{}.0.0/16 to 10.{}.0.0/16 is claimed by another server", BLOCKS.start, BLOCKS.end - 1)]
    NoBlock,
    #[error("failed to claim the address block with lock file {path}: {source}")]
    Lock { path: PathBuf, source: std::io::Error },
    #[error("failed to enable IPv4 forwarding in /proc/sys/net/ipv4/ip_forward: {0}")]
    Forwarding(std::io::Error),
    #[error("nft failed to {what}: {message}")]
    Nft { what: &'static str, message: String },
    #[error("failed to create the veth pair {host_interface}: {source}")]
    Veth { host_interface: String, source: std::io::Error },
    #[error(transparent)]
    Address(#[from] NetworkError),
}

/// Outbound networking on the host: the claimed block, its nftables table and the leases.
#[derive(Debug)]
pub(crate) struct HostNetwork {
    block: u8,
    nft: PathBuf,
    /// Held for the server's lifetime; the lock on it marks the block as claimed.
    _lock: File,
    leases: Mutex<LeaseTable>,
}

#[derive(Debug, Default)]
struct LeaseTable {
    used: std::collections::BTreeSet<u32>,
    /// Leases are handed out round-robin, so that the name of an interface whose network
    /// namespace the kernel is still destroying is not reused at once.
    next: u32,
}

/// An environment's /30.
#[derive(Debug)]
pub(crate) struct Lease {
    block: u8,
    index: u32,
}

impl Lease {
    fn base(&self) -> u32 {
        u32::from(Ipv4Addr::new(10, self.block, 0, 0)) + 4 * self.index
    }

    fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.base() + 1)
    }

    fn address(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.base() + 2)
    }

    fn host_interface(&self) -> String {
        format!("fk{}x{}", self.block, self.index)
    }

    /// The inside end, as the helper configures it.
    pub fn inside(&self) -> NetworkSpec {
        NetworkSpec {
            interface: "eth0".into(),
            address: self.address(),
            prefix_len: 30,
            gateway: self.gateway(),
        }
    }
}

impl HostNetwork {
    /// Prepares outbound networking, or logs once why environments stay isolated.
    pub fn set_up(mode: NetworkMode, is_root: bool, state_dir: &Path) -> Option<Self> {
        if mode == NetworkMode::Isolated {
            tracing::info!("environments have loopback-only networking (--network isolated)");
            return None;
        }
        if !is_root {
            tracing::warn!("outbound networking needs root, so environments have loopback-only networking");
            return None;
        }
        match Self::try_set_up(state_dir) {
            Ok(network) => {
                tracing::info!(
                    subnet = %format!("10.{}.0.0/16", network.block),
                    table = %network.table(),
                    "environments have outbound networking through NAT; IPv4 forwarding is enabled on the host"
                );
                Some(network)
            }
            Err(err) => {
                tracing::warn!(error = %err, "outbound networking is not available, so environments have loopback-only networking");
                None
            }
        }
    }

    fn try_set_up(_state_dir: &Path) -> Result<Self, OutboundError> {
        let nft =
            NFT_PATHS.iter().map(PathBuf::from).find(|path| path.exists()).ok_or(OutboundError::NoNft)?;
        let (block, lock) = claim_block()?;
        let network = Self { block, nft, _lock: lock, leases: Mutex::default() };
        std::fs::write("/proc/sys/net/ipv4/ip_forward", "1").map_err(OutboundError::Forwarding)?;
        network.install_table()?;
        Ok(network)
    }

    fn table(&self) -> String {
        format!("flicker_{}", self.block)
    }

    /// Replaces this block's table: masquerade traffic that leaves the block, drop traffic
    /// between environments and from environments to the host itself.
    fn install_table(&self) -> Result<(), OutboundError> {
        let table = self.table();
        let block = self.block;
        let ruleset = format!(
            "table ip {table}\n\
             delete table ip {table}\n\
             table ip {table} {{\n\
               chain postrouting {{ type nat hook postrouting priority srcnat; policy accept;\n\
                 ip saddr 10.{block}.0.0/16 ip daddr != 10.{block}.0.0/16 masquerade\n\
               }}\n\
               chain forward {{ type filter hook forward priority filter; policy accept;\n\
                 iifname \"fk{block}x*\" oifname \"fk{block}x*\" drop\n\
               }}\n\
               chain input {{ type filter hook input priority filter; policy accept;\n\
                 iifname \"fk{block}x*\" drop\n\
               }}\n\
             }}\n"
        );
        self.nft(&ruleset, "install the NAT table")
    }

    fn nft(&self, script: &str, what: &'static str) -> Result<(), OutboundError> {
        use std::io::Write;
        let failed = |message: String| OutboundError::Nft { what, message };
        let mut child = Command::new(&self.nft)
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| failed(err.to_string()))?;
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(script.as_bytes())
            .map_err(|err| failed(err.to_string()))?;
        let output = child.wait_with_output().map_err(|err| failed(err.to_string()))?;
        if !output.status.success() {
            return Err(failed(String::from_utf8_lossy(&output.stderr).trim().to_string()));
        }
        Ok(())
    }

    pub fn lease(&self) -> Option<Lease> {
        let mut table = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        for offset in 0..LEASES_PER_BLOCK {
            let index = (table.next + offset) % LEASES_PER_BLOCK;
            if index != 0 && !table.used.contains(&index) {
                table.used.insert(index);
                table.next = index + 1;
                return Some(Lease { block: self.block, index });
            }
        }
        None
    }

    /// Creates the veth pair with its inside end in the network namespace of `helper_pid`,
    /// and configures the host end.
    pub fn attach(&self, lease: &Lease, helper_pid: i32) -> Result<(), OutboundError> {
        let host_interface = lease.host_interface();
        let created = netlink::create_veth(&host_interface, "eth0", helper_pid);
        if let Err(err) = created {
            if err.raw_os_error() != Some(libc::EEXIST) {
                return Err(OutboundError::Veth { host_interface, source: err });
            }
            // A namespace that the kernel has not finished destroying still owns the name.
            netlink::delete_link(&host_interface)
                .map_err(|source| OutboundError::Veth { host_interface: host_interface.clone(), source })?;
            netlink::create_veth(&host_interface, "eth0", helper_pid)
                .map_err(|source| OutboundError::Veth { host_interface: host_interface.clone(), source })?;
        }
        configure_address(&host_interface, lease.gateway(), 30)?;
        Ok(())
    }

    /// Frees the lease. The veth pair disappears with the environment's network namespace.
    pub fn release(&self, lease: Lease) {
        self.leases.lock().unwrap_or_else(|p| p.into_inner()).used.remove(&lease.index);
    }

    /// Removes the nftables table.
    pub fn shut_down(&self) {
        if let Err(err) = self.nft(&format!("delete table ip {}\n", self.table()), "delete the NAT table") {
            tracing::warn!(error = %err, "removing the NAT table failed");
        }
    }
}

/// Claims the first /16 block whose lock file no other live server holds.
fn claim_block() -> Result<(u8, File), OutboundError> {
    let dir = Path::new("/run/flicker");
    std::fs::create_dir_all(dir).map_err(|source| OutboundError::Lock { path: dir.into(), source })?;
    for block in BLOCKS {
        let path = dir.join(format!("net-10.{block}.lock"));
        let file =
            File::create(&path).map_err(|source| OutboundError::Lock { path: path.clone(), source })?;
        // SAFETY: flock takes a descriptor that `file` owns for the duration of the call.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
        if locked {
            return Ok((block, file));
        }
    }
    Err(OutboundError::NoBlock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_addresses_share_a_slash_30() {
        let lease = Lease { block: 200, index: 5 };
        assert_eq!(lease.gateway(), Ipv4Addr::new(10, 200, 0, 21));
        assert_eq!(lease.address(), Ipv4Addr::new(10, 200, 0, 22));
        assert_eq!(lease.host_interface(), "fk200x5");
        let last = Lease { block: 239, index: LEASES_PER_BLOCK - 1 };
        assert_eq!(last.address(), Ipv4Addr::new(10, 239, 255, 254));
        assert!(last.host_interface().len() < libc::IFNAMSIZ);
    }
}

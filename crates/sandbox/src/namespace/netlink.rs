//! The two rtnetlink requests that have no ioctl: creating a veth pair with one end in another
//! network namespace, and deleting a link by name. Messages are built by hand in the layout of
//! `linux/rtnetlink.h`, and each request waits for the kernel's acknowledgement.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const IFLA_IFNAME: u16 = 3;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_PID: u16 = 19;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
/// The size of `struct nlmsghdr`.
const HEADER_LEN: usize = 16;
/// The size of `struct ifinfomsg`.
const IFINFO_LEN: usize = 16;

/// A netlink message under construction: header, `ifinfomsg`, then attributes.
struct Request {
    bytes: Vec<u8>,
}

impl Request {
    fn new(message_type: u16, flags: u16) -> Self {
        let mut bytes = Vec::with_capacity(256);
        bytes.extend_from_slice(&0u32.to_ne_bytes());
        bytes.extend_from_slice(&message_type.to_ne_bytes());
        bytes.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        bytes.extend_from_slice(&1u32.to_ne_bytes());
        bytes.extend_from_slice(&0u32.to_ne_bytes());
        bytes.extend_from_slice(&[0u8; IFINFO_LEN]);
        Self { bytes }
    }

    fn pad(&mut self) {
        while !self.bytes.len().is_multiple_of(4) {
            self.bytes.push(0);
        }
    }

    fn attribute(&mut self, kind: u16, payload: &[u8]) {
        let length = (4 + payload.len()) as u16;
        self.bytes.extend_from_slice(&length.to_ne_bytes());
        self.bytes.extend_from_slice(&kind.to_ne_bytes());
        self.bytes.extend_from_slice(payload);
        self.pad();
    }

    fn name(&mut self, kind: u16, name: &str) {
        let mut payload = name.as_bytes().to_vec();
        payload.push(0);
        self.attribute(kind, &payload);
    }

    /// Starts a nested attribute; `end` fills in its length.
    fn begin(&mut self, kind: u16) -> usize {
        let start = self.bytes.len();
        self.attribute(kind, &[]);
        start
    }

    fn end(&mut self, start: usize) {
        let length = (self.bytes.len() - start) as u16;
        self.bytes[start..start + 2].copy_from_slice(&length.to_ne_bytes());
    }

    fn finish(mut self) -> Vec<u8> {
        let length = self.bytes.len() as u32;
        self.bytes[..4].copy_from_slice(&length.to_ne_bytes());
        self.bytes
    }
}

fn veth_request(host_name: &str, peer_name: &str, peer_pid: i32) -> Vec<u8> {
    let mut request = Request::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    request.name(IFLA_IFNAME, host_name);
    let link_info = request.begin(IFLA_LINKINFO);
    request.name(IFLA_INFO_KIND, "veth");
    let info_data = request.begin(IFLA_INFO_DATA);
    let peer = request.begin(VETH_INFO_PEER);
    request.bytes.extend_from_slice(&[0u8; IFINFO_LEN]);
    request.name(IFLA_IFNAME, peer_name);
    request.attribute(IFLA_NET_NS_PID, &(peer_pid as u32).to_ne_bytes());
    request.end(peer);
    request.end(info_data);
    request.end(link_info);
    request.finish()
}

fn delete_request(name: &str) -> Vec<u8> {
    let mut request = Request::new(RTM_DELLINK, 0);
    request.name(IFLA_IFNAME, name);
    request.finish()
}

/// Creates the veth pair `host_name` (in the caller's namespace) and `peer_name` (in the
/// network namespace of process `peer_pid`).
pub(crate) fn create_veth(host_name: &str, peer_name: &str, peer_pid: i32) -> io::Result<()> {
    transact(&veth_request(host_name, peer_name, peer_pid))
}

/// Deletes the link `name`, and with a veth its peer.
pub(crate) fn delete_link(name: &str) -> io::Result<()> {
    transact(&delete_request(name))
}

fn open() -> io::Result<OwnedFd> {
    // SAFETY: socket takes integer arguments and returns a new descriptor or -1.
    let raw =
        unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_ROUTE) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Sends one request and returns the kernel's acknowledgement as a result.
fn transact(request: &[u8]) -> io::Result<()> {
    let socket = open()?;
    // SAFETY: `request` is valid for its length; a netlink socket without an address sends to
    // the kernel.
    let sent = unsafe { libc::send(socket.as_raw_fd(), request.as_ptr().cast(), request.len(), 0) };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut reply = [0u8; 4096];
    // SAFETY: `reply` is writable for its length.
    let received = unsafe { libc::recv(socket.as_raw_fd(), reply.as_mut_ptr().cast(), reply.len(), 0) };
    if received < 0 {
        return Err(io::Error::last_os_error());
    }
    parse_ack(&reply[..received as usize])
}

/// Reads the `nlmsgerr` that acknowledges a request: error 0 is success, otherwise `-errno`.
fn parse_ack(reply: &[u8]) -> io::Result<()> {
    if reply.len() < HEADER_LEN + 4 {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "short netlink reply"));
    }
    let message_type = u16::from_ne_bytes([reply[4], reply[5]]);
    if message_type != NLMSG_ERROR {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unexpected netlink message type {message_type}"),
        ));
    }
    let error = i32::from_ne_bytes(reply[HEADER_LEN..HEADER_LEN + 4].try_into().expect("four bytes"));
    match error {
        0 => Ok(()),
        negative => Err(io::Error::from_raw_os_error(-negative)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn veth_request_lengths_are_consistent() {
        let bytes = veth_request("fk200x1", "eth0", 42);
        assert_eq!(u32::from_ne_bytes(bytes[..4].try_into().unwrap()) as usize, bytes.len());
        assert_eq!(bytes.len() % 4, 0);
        let link_info_at = HEADER_LEN + IFINFO_LEN + 12; // after the 12-byte IFLA_IFNAME
        let link_info_len = u16::from_ne_bytes([bytes[link_info_at], bytes[link_info_at + 1]]) as usize;
        assert_eq!(link_info_at + link_info_len, bytes.len());
        assert!(bytes.windows(5).any(|window| window == b"veth\0"));
        assert!(bytes.windows(4).any(|window| window == 42u32.to_ne_bytes()));
    }

    #[test]
    fn ack_parses_errno() {
        let mut reply = vec![0u8; HEADER_LEN + 20];
        reply[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        assert!(parse_ack(&reply).is_ok());
        reply[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&(-libc::EEXIST).to_ne_bytes());
        assert_eq!(parse_ack(&reply).unwrap_err().raw_os_error(), Some(libc::EEXIST));
    }
}

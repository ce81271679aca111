//! Networking inside the environment's network namespace: the loopback interface, the Runtime
//! API listener on 127.0.0.1:9001, and the inside end of the veth pair (address, default
//! route), all set with ioctls so that no netlink code is needed inside.

use std::ffi::CStr;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, OwnedFd};

/// The Runtime API address inside every environment, as in Lambda.
pub(crate) const RUNTIME_API: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 9001);

/// A failed network set-up step.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NetworkError {
    #[error("failed to {what} on interface {interface}: {errno}")]
    Interface { what: &'static str, interface: String, errno: nix::errno::Errno },
    #[error("failed to bind the Runtime API listener on {address}: {source}")]
    Listener { address: SocketAddr, source: std::io::Error },
    #[error("failed to add the default route via {gateway}: {errno}")]
    Route { gateway: Ipv4Addr, errno: nix::errno::Errno },
}

/// Binds the Runtime API listener. The loopback interface must be up.
pub(crate) fn bind_runtime_api() -> Result<TcpListener, NetworkError> {
    TcpListener::bind(RUNTIME_API).map_err(|source| NetworkError::Listener { address: RUNTIME_API, source })
}

fn control_socket(interface: &str) -> Result<OwnedFd, NetworkError> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    socket(AddressFamily::Inet, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None).map_err(|errno| {
        NetworkError::Interface { what: "open a control socket", interface: interface.to_string(), errno }
    })
}

fn request(interface: &str) -> libc::ifreq {
    // SAFETY: ifreq is a plain C struct for which all-zero bytes are a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(interface.bytes().take(libc::IFNAMSIZ - 1)) {
        *slot = byte as libc::c_char;
    }
    request
}

fn ioctl(
    socket: &OwnedFd,
    op: libc::Ioctl,
    request: &mut libc::ifreq,
    what: &'static str,
) -> Result<(), NetworkError> {
    // SAFETY: `request` is a valid ifreq that lives across the call, and `op` is one of the
    // SIOC* requests that read or write an ifreq.
    let result = unsafe { libc::ioctl(socket.as_raw_fd(), op, request as *mut libc::ifreq) };
    if result < 0 {
        let name = CStr::from_bytes_until_nul(bytemuck_name(request))
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        return Err(NetworkError::Interface { what, interface: name, errno: nix::errno::Errno::last() });
    }
    Ok(())
}

fn bytemuck_name(request: &libc::ifreq) -> &[u8] {
    // SAFETY: c_char and u8 have the same size and alignment, and the slice covers exactly the
    // name array.
    unsafe { std::slice::from_raw_parts(request.ifr_name.as_ptr().cast::<u8>(), request.ifr_name.len()) }
}

/// Sets IFF_UP on `interface`.
pub(crate) fn interface_up(interface: &str) -> Result<(), NetworkError> {
    let socket = control_socket(interface)?;
    let mut request = request(interface);
    ioctl(&socket, libc::SIOCGIFFLAGS, &mut request, "read the flags")?;
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
    unsafe { request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    ioctl(&socket, libc::SIOCSIFFLAGS, &mut request, "set the up flag")
}

fn sockaddr(address: Ipv4Addr) -> libc::sockaddr {
    let inet = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr { s_addr: u32::from(address).to_be() },
        sin_zero: [0; 8],
    };
    // SAFETY: sockaddr_in and sockaddr have the same size, and the kernel reads the family
    // field to interpret the bytes.
    unsafe { std::mem::transmute::<libc::sockaddr_in, libc::sockaddr>(inet) }
}

/// Gives `interface` an address and prefix length, and brings it up.
pub(crate) fn configure_address(
    interface: &str,
    address: Ipv4Addr,
    prefix_len: u8,
) -> Result<(), NetworkError> {
    let socket = control_socket(interface)?;
    let mut request = request(interface);
    request.ifr_ifru.ifru_addr = sockaddr(address);
    ioctl(&socket, libc::SIOCSIFADDR, &mut request, "set the address")?;
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix_len)).unwrap_or(0);
    let mut request = self::request(interface);
    request.ifr_ifru.ifru_netmask = sockaddr(Ipv4Addr::from(mask));
    ioctl(&socket, libc::SIOCSIFNETMASK, &mut request, "set the netmask")?;
    interface_up(interface)
}

/// Adds the default route via `gateway`.
pub(crate) fn add_default_route(gateway: Ipv4Addr) -> Result<(), NetworkError> {
    let socket = control_socket("default")?;
    // SAFETY: rtentry is a plain C struct for which all-zero bytes are a valid value.
    let mut route: libc::rtentry = unsafe { std::mem::zeroed() };
    route.rt_dst = sockaddr(Ipv4Addr::UNSPECIFIED);
    route.rt_genmask = sockaddr(Ipv4Addr::UNSPECIFIED);
    route.rt_gateway = sockaddr(gateway);
    route.rt_flags = libc::RTF_UP | libc::RTF_GATEWAY;
    // SAFETY: `route` is a valid rtentry that lives across the call; SIOCADDRT reads it.
    let result =
        unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCADDRT, &mut route as *mut libc::rtentry) };
    if result < 0 {
        return Err(NetworkError::Route { gateway, errno: nix::errno::Errno::last() });
    }
    Ok(())
}

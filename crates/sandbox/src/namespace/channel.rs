//! The control socket between the server and the helper: a `SOCK_SEQPACKET` Unix socket pair,
//! so that each JSON message arrives whole, with file descriptors passed as SCM_RIGHTS.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag,
    SockType,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::spec::MAX_MESSAGE_BYTES;

/// A failure on the control socket.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ChannelError {
    #[error("failed to create the control socket: {0}")]
    Create(nix::errno::Errno),
    #[error("failed to send on the control socket: {0}")]
    Send(nix::errno::Errno),
    #[error("failed to receive on the control socket: {0}")]
    Receive(nix::errno::Errno),
    #[error("the other end closed the control socket")]
    Closed,
    #[error("invalid message on the control socket: {0}")]
    Decode(#[from] serde_json::Error),
}

/// Creates the pair: the first end stays in the server, the second becomes the helper's stdin.
pub(crate) fn pair() -> Result<(OwnedFd, OwnedFd), ChannelError> {
    socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)
        .map_err(ChannelError::Create)
}

/// Sends `message`, with `fd` attached when given.
pub(crate) fn send<T: Serialize>(
    socket: BorrowedFd<'_>,
    message: &T,
    fd: Option<BorrowedFd<'_>>,
) -> Result<(), ChannelError> {
    let bytes = serde_json::to_vec(message)?;
    let iov = [IoSlice::new(&bytes)];
    let fds: Vec<RawFd> = fd.iter().map(|fd| fd.as_raw_fd()).collect();
    let control: Vec<ControlMessage<'_>> =
        if fds.is_empty() { vec![] } else { vec![ControlMessage::ScmRights(&fds)] };
    sendmsg::<()>(socket.as_raw_fd(), &iov, &control, MsgFlags::MSG_NOSIGNAL, None)
        .map_err(ChannelError::Send)?;
    Ok(())
}

/// Receives one message and the descriptor attached to it, if any. Descriptors arrive with
/// close-on-exec set.
pub(crate) fn receive<T: DeserializeOwned>(
    socket: BorrowedFd<'_>,
) -> Result<(T, Option<OwnedFd>), ChannelError> {
    let mut buffer = vec![0u8; MAX_MESSAGE_BYTES];
    let mut control = nix::cmsg_space!([RawFd; 1]);
    let (length, fd) = {
        let mut iov = [IoSliceMut::new(&mut buffer)];
        let received = loop {
            match recvmsg::<()>(socket.as_raw_fd(), &mut iov, Some(&mut control), MsgFlags::MSG_CMSG_CLOEXEC)
            {
                Err(nix::errno::Errno::EINTR) => continue,
                other => break other.map_err(ChannelError::Receive)?,
            }
        };
        let mut fd = None;
        for message in received.cmsgs().map_err(ChannelError::Receive)? {
            if let ControlMessageOwned::ScmRights(fds) = message {
                for raw in fds {
                    // SAFETY: the kernel just installed `raw` in this process for this message,
                    // and nothing else owns it.
                    let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                    fd.get_or_insert(owned);
                }
            }
        }
        (received.bytes, fd)
    };
    if length == 0 {
        return Err(ChannelError::Closed);
    }
    Ok((serde_json::from_slice(&buffer[..length])?, fd))
}

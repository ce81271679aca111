//! The sandbox helper: a fresh, single-threaded process (the `flicker` binary executed again).
//! It reads the spec from the control socket on its stdin, creates the namespaces, returns the
//! Runtime API listener, forks init into the new PID namespace, and then waits. Its exit
//! status repeats the bootstrap's. When the server closes the control socket, the helper kills
//! init, which ends the environment.

use std::convert::Infallible;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

use super::init::{self, BootstrapStatus};
use super::spec::{HelperSpec, Message, OutsideIds, Reply};
use super::{channel, network};

/// Exit code of the helper when it failed before init started.
const HELPER_FAILED: i32 = 124;

/// A failed step of the helper.
#[derive(Debug, thiserror::Error)]
enum HelperError {
    #[error(transparent)]
    Channel(#[from] channel::ChannelError),
    #[error("failed to {what}: {errno}")]
    Kernel { what: &'static str, errno: nix::errno::Errno },
    #[error("failed to write {path}: {source}")]
    IdMap { path: &'static str, source: std::io::Error },
    #[error(transparent)]
    Network(#[from] network::NetworkError),
}

fn kernel(what: &'static str) -> impl FnOnce(nix::errno::Errno) -> HelperError {
    move |errno| HelperError::Kernel { what, errno }
}

/// Runs the helper; the entry point of `flicker sandbox-init`.
pub fn run() -> ! {
    let control = match take_stdin() {
        Ok(control) => control,
        Err(err) => {
            eprintln!("flicker sandbox: {err}");
            std::process::exit(HELPER_FAILED);
        }
    };
    let Err(err) = prepare_and_fork(&control);
    eprintln!("flicker sandbox: {err}");
    let _ = channel::send(control.as_fd(), &Reply::Failed { message: err.to_string() }, None);
    std::process::exit(HELPER_FAILED);
}

/// Moves the control socket off stdin, and puts /dev/null there.
fn take_stdin() -> Result<OwnedFd, HelperError> {
    let raw =
        nix::fcntl::fcntl(0, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3)).map_err(kernel("duplicate stdin"))?;
    // SAFETY: F_DUPFD_CLOEXEC just returned `raw` as a new descriptor that nothing else owns.
    let control = unsafe { OwnedFd::from_raw_fd(raw) };
    let null = nix::fcntl::open("/dev/null", nix::fcntl::OFlag::O_RDONLY, nix::sys::stat::Mode::empty())
        .map_err(kernel("open /dev/null"))?;
    nix::unistd::dup2(null, 0).map_err(kernel("replace stdin"))?;
    let _ = nix::unistd::close(null);
    Ok(control)
}

fn prepare_and_fork(control: &OwnedFd) -> Result<Infallible, HelperError> {
    let (spec, _) = channel::receive::<HelperSpec>(control.as_fd())?;
    if let Some(outside) = spec.user_namespace {
        enter_user_namespace(&spec, outside)?;
    }
    let namespaces = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWNET
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWPID;
    unshare(namespaces).map_err(kernel("create the namespaces"))?;
    set_up_network(&spec, control)?;

    let (status_reader, status_writer) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(kernel("create the status pipe"))?;
    // SAFETY: the helper is single-threaded (a fresh process that started no threads), so the
    // child may run any code after fork.
    match unsafe { fork() }.map_err(kernel("fork init"))? {
        ForkResult::Child => {
            drop(status_reader);
            let control = control.try_clone().map_err(|err| HelperError::Kernel {
                what: "duplicate the control socket",
                errno: nix::errno::Errno::from_raw(err.raw_os_error().unwrap_or(0)),
            })?;
            init::run(spec, control, status_writer)
        }
        ForkResult::Parent { child } => {
            drop(status_writer);
            supervise(child, control, status_reader)
        }
    }
}

/// Creates a user namespace that maps the sandbox user to the helper's own ids; the helper
/// keeps every capability inside it until init drops them.
fn enter_user_namespace(spec: &HelperSpec, outside: OutsideIds) -> Result<(), HelperError> {
    unshare(CloneFlags::CLONE_NEWUSER).map_err(kernel("create the user namespace"))?;
    let write = |path: &'static str, text: String| {
        std::fs::write(path, text).map_err(|source| HelperError::IdMap { path, source })
    };
    write("/proc/self/setgroups", "deny".to_string())?;
    write("/proc/self/uid_map", format!("{} {} 1\n", spec.identity.uid, outside.uid))?;
    write("/proc/self/gid_map", format!("{} {} 1\n", spec.identity.gid, outside.gid))
}

/// Brings up loopback, lets the server attach the veth pair when the spec has one, and sends
/// the Runtime API listener.
fn set_up_network(spec: &HelperSpec, control: &OwnedFd) -> Result<(), HelperError> {
    network::interface_up("lo")?;
    if let Some(outside) = &spec.network {
        let helper_pid = std::process::id() as i32;
        channel::send(control.as_fd(), &Reply::NetworkNamespace { helper_pid }, None)?;
        match channel::receive::<Message>(control.as_fd())?.0 {
            Message::NetworkReady => {}
        }
        network::configure_address(&outside.interface, outside.address, outside.prefix_len)?;
        network::add_default_route(outside.gateway)?;
    }
    let listener = network::bind_runtime_api()?;
    channel::send(control.as_fd(), &Reply::Listener, Some(listener.as_fd()))?;
    Ok(())
}

/// Waits for init to exit, killing it if the server closes the control socket, then exits
/// with the bootstrap's status.
fn supervise(init: Pid, control: &OwnedFd, status: OwnedFd) -> ! {
    let pidfd = pidfd_open(init);
    let mut server_gone = false;
    loop {
        let mut fds = vec![];
        if let Some(pidfd) = &pidfd {
            fds.push(PollFd::new(pidfd.as_fd(), PollFlags::POLLIN));
        }
        if !server_gone {
            fds.push(PollFd::new(control.as_fd(), PollFlags::POLLIN));
        }
        let timeout = if pidfd.is_some() { PollTimeout::NONE } else { PollTimeout::from(100u16) };
        match poll(&mut fds, timeout) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => {}
            Ok(_) => {}
        }
        let server_event =
            !server_gone && fds.last().and_then(|fd| fd.revents()).is_some_and(|events| !events.is_empty());
        if server_event && server_closed(control) {
            server_gone = true;
            let _ = kill(init, Signal::SIGKILL);
        }
        if let Some(exit) = try_reap(init) {
            exit_like(exit, &status);
        }
    }
}

/// Reads from the control socket and returns whether the server closed its end. Other
/// messages are ignored.
fn server_closed(control: &OwnedFd) -> bool {
    channel::receive::<Message>(control.as_fd()).is_err()
}

fn pidfd_open(pid: Pid) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    // SAFETY: a non-negative result is a new descriptor that nothing else owns.
    (raw >= 0).then(|| unsafe { OwnedFd::from_raw_fd(raw as i32) })
}

fn try_reap(init: Pid) -> Option<WaitStatus> {
    match waitpid(init, Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::StillAlive) => None,
        Ok(status @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => Some(status),
        Ok(_) => None,
        Err(_) => Some(WaitStatus::Signaled(init, Signal::SIGKILL, false)),
    }
}

/// Exits with the bootstrap's status if init reported one, otherwise with init's.
fn exit_like(init_status: WaitStatus, status_pipe: &OwnedFd) -> ! {
    let mut bytes = [0u8; 8];
    let reported = nix::unistd::read(status_pipe.as_raw_fd(), &mut bytes).unwrap_or(0) == 8;
    let status = match (reported, init_status) {
        (true, _) => BootstrapStatus::decode(bytes),
        (false, WaitStatus::Signaled(_, signal, _)) => BootstrapStatus::Signal(signal as i32),
        (false, WaitStatus::Exited(_, code)) => BootstrapStatus::Code(code),
        (false, _) => BootstrapStatus::Signal(libc::SIGKILL),
    };
    match status {
        BootstrapStatus::Code(code) => std::process::exit(code),
        BootstrapStatus::Signal(signal) => die_by_signal(signal),
    }
}

/// Ends the helper by `signal`, so that the server observes the same termination as the
/// bootstrap's. Signals whose default action is not to terminate end in exit code 128 + signal.
fn die_by_signal(signal: i32) -> ! {
    let _ = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0);
    if let Ok(signal) = Signal::try_from(signal) {
        // SAFETY: SIG_DFL installs no handler code; the helper runs no other threads.
        let _ = unsafe { nix::sys::signal::signal(signal, nix::sys::signal::SigHandler::SigDfl) };
        let _ = nix::sys::signal::raise(signal);
    }
    std::process::exit(128 + signal);
}

//! The environment's init: process 1 of its PID namespace. It joins the cgroup, builds the
//! root, drops its privileges, starts the bootstrap, reaps orphaned processes, and exits when
//! the bootstrap exits, passing the bootstrap's status to the helper. Its exit makes the kernel
//! kill every other process of the namespace.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

use super::spec::{HelperSpec, Reply};
use super::{channel, identity, root};

/// Exit code of init when setting up the environment failed.
pub(crate) const SETUP_FAILED: i32 = 125;

/// The bootstrap's termination, as init reports it to the helper on the status pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BootstrapStatus {
    Code(i32),
    Signal(i32),
}

impl BootstrapStatus {
    pub fn encode(self) -> [u8; 8] {
        let (kind, value) = match self {
            Self::Code(code) => (0u32, code),
            Self::Signal(signal) => (1u32, signal),
        };
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&kind.to_ne_bytes());
        bytes[4..].copy_from_slice(&value.to_ne_bytes());
        bytes
    }

    pub fn decode(bytes: [u8; 8]) -> Self {
        let kind = u32::from_ne_bytes(bytes[..4].try_into().expect("four bytes"));
        let value = i32::from_ne_bytes(bytes[4..].try_into().expect("four bytes"));
        if kind == 0 {
            Self::Code(value)
        } else {
            Self::Signal(value)
        }
    }
}

/// A failed step of setting up the environment.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SetupError {
    #[error("failed to join cgroup {path}: {source}")]
    JoinCgroup { path: std::path::PathBuf, source: std::io::Error },
    #[error("failed to {what}: {errno}")]
    Kernel { what: &'static str, errno: nix::errno::Errno },
    #[error(transparent)]
    Root(#[from] root::RootError),
    #[error(transparent)]
    Identity(#[from] identity::IdentityError),
    #[error("invalid {what}: it contains a NUL byte")]
    Nul { what: &'static str },
}

/// The bootstrap's command line and environment, converted before `fork`.
struct Command {
    program: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    working_dir: CString,
}

impl Command {
    fn from_spec(spec: &HelperSpec) -> Result<Self, SetupError> {
        let program = root::c_path(&spec.program).ok_or(SetupError::Nul { what: "program path" })?;
        let mut argv = vec![program.clone()];
        for arg in &spec.args {
            argv.push(CString::new(arg.as_bytes()).map_err(|_| SetupError::Nul { what: "argument" })?);
        }
        let mut envp = Vec::with_capacity(spec.env.len());
        for (key, value) in &spec.env {
            envp.push(
                CString::new(format!("{key}={value}"))
                    .map_err(|_| SetupError::Nul { what: "environment variable" })?,
            );
        }
        let working_dir = CString::new(spec.working_dir.as_os_str().as_bytes())
            .map_err(|_| SetupError::Nul { what: "working directory" })?;
        Ok(Self { program, argv, envp, working_dir })
    }
}

/// Runs init. `control` is the helper's end of the control socket; `status` the write end of
/// the status pipe.
pub(crate) fn run(spec: HelperSpec, control: OwnedFd, status: OwnedFd) -> ! {
    let prepared = set_up(&spec).and_then(|()| Command::from_spec(&spec));
    let command = match prepared {
        Ok(command) => command,
        Err(err) => fail(&control, &err.to_string()),
    };
    let bootstrap = match start_bootstrap(&command, &control) {
        Ok(pid) => pid,
        Err(err) => fail(&control, &err.to_string()),
    };
    drop(control);
    let status_code = reap_until(bootstrap);
    let _ = nix::unistd::write(&status, &status_code.encode());
    std::process::exit(0);
}

/// Reports a set-up failure to the server and in the function's output, and exits.
fn fail(control: &OwnedFd, message: &str) -> ! {
    eprintln!("flicker sandbox: {message}");
    let _ = channel::send(control.as_fd(), &Reply::Failed { message: message.to_string() }, None);
    std::process::exit(SETUP_FAILED);
}

fn kernel(what: &'static str) -> impl FnOnce(nix::errno::Errno) -> SetupError {
    move |errno| SetupError::Kernel { what, errno }
}

fn set_up(spec: &HelperSpec) -> Result<(), SetupError> {
    for path in &spec.cgroup_procs {
        std::fs::write(path, "0").map_err(|source| SetupError::JoinCgroup { path: path.clone(), source })?;
    }
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
        .map_err(kernel("create the cgroup namespace"))?;
    nix::unistd::sethostname(&spec.hostname).map_err(kernel("set the host name"))?;
    root::build(&spec.root_mount_point, &spec.root)?;
    identity::drop_privileges(&spec.identity, spec.user_namespace.is_some(), &spec.seccomp)?;
    identity::set_not_dumpable()?;
    // After the switch of user, which clears the parent-death signal.
    identity::kill_on_parent_exit()?;
    Ok(())
}

/// Forks and executes the bootstrap, and waits until `execve` succeeded or failed.
fn start_bootstrap(command: &Command, control: &OwnedFd) -> Result<Pid, SetupError> {
    let (exec_reader, exec_writer) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(kernel("create the exec pipe"))?;
    // SAFETY: init is single-threaded, so the child may run any code after fork.
    match unsafe { fork() }.map_err(kernel("fork the bootstrap"))? {
        ForkResult::Child => {
            drop(exec_reader);
            let errno = exec_bootstrap(command);
            let _ = nix::unistd::write(&exec_writer, &(errno as i32).to_ne_bytes());
            std::process::exit(127);
        }
        ForkResult::Parent { child } => {
            drop(exec_writer);
            let mut bytes = [0u8; 4];
            let read = nix::unistd::read(exec_reader.as_raw_fd(), &mut bytes).unwrap_or(0);
            let reply = if read == 4 {
                Reply::ExecFailed { errno: i32::from_ne_bytes(bytes) }
            } else {
                Reply::Started
            };
            let _ = channel::send(control.as_fd(), &reply, None);
            Ok(child)
        }
    }
}

/// Runs in the bootstrap's process: gives it /dev/null as stdin, its own session and its
/// working directory, then executes it. Returns only if one of these failed.
fn exec_bootstrap(command: &Command) -> nix::errno::Errno {
    use nix::fcntl::{open, OFlag};
    use nix::sys::stat::Mode;
    let null = match open("/dev/null", OFlag::O_RDONLY, Mode::empty()) {
        Ok(fd) => fd,
        Err(errno) => return errno,
    };
    if let Err(errno) = nix::unistd::dup2(null, 0) {
        return errno;
    }
    let _ = nix::unistd::close(null);
    let _ = nix::unistd::setsid();
    if let Err(errno) = nix::unistd::chdir(command.working_dir.as_c_str()) {
        return errno;
    }
    match nix::unistd::execve(&command.program, &command.argv, &command.envp) {
        Err(errno) => errno,
        Ok(never) => match never {},
    }
}

/// Reaps every child until the bootstrap exits, and returns its status.
fn reap_until(bootstrap: Pid) -> BootstrapStatus {
    loop {
        match waitpid(None, None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == bootstrap => return BootstrapStatus::Code(code),
            Ok(WaitStatus::Signaled(pid, signal, _)) if pid == bootstrap => {
                return BootstrapStatus::Signal(signal as i32)
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return BootstrapStatus::Code(-1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips() {
        for status in [BootstrapStatus::Code(0), BootstrapStatus::Code(137), BootstrapStatus::Signal(9)] {
            assert_eq!(BootstrapStatus::decode(status.encode()), status);
        }
    }
}

//! Execution environments: the sandbox starts a function's bootstrap with its output on a
//! pipe, provides the listener its Runtime API is served on, and stops it. It has no
//! Lambda semantics; the engine decides what to start and when.

pub mod namespace;
mod process;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

pub use namespace::{NamespaceConfig, NamespaceSandbox};
pub use process::ProcessSandbox;

/// Why an environment could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// the Runtime API listener could not be bound
    #[error("failed to bind the Runtime API listener of environment {id}")]
    Listener {
        id: String,
        #[source]
        source: std::io::Error,
    },
    /// the output pipe could not be created
    #[error("failed to create the output pipe of environment {id}")]
    Pipe {
        id: String,
        #[source]
        source: std::io::Error,
    },
    /// the bootstrap could not be executed
    #[error("failed to start {program} in environment {id}")]
    Spawn {
        id: String,
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// the sandbox (namespaces, cgroup, root file system) could not be set up
    #[error("failed to set up the sandbox of environment {id}")]
    Sandbox {
        id: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Formats an error with its chain of sources, separated by `: `.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Where the directories of a function appear inside its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub task_root: PathBuf,
    pub runtime_dir: PathBuf,
    pub opt_dir: PathBuf,
}

/// The host directories that an environment is built from.
#[derive(Debug, Clone)]
pub struct HostDirs {
    /// The unpacked deployment package.
    pub task_root: PathBuf,
    /// The runtime client of the function's language.
    pub runtime_dir: PathBuf,
    /// The merged layers, or an empty directory.
    pub opt_dir: PathBuf,
}

/// What to start. Paths in `program`, `args` and `env` are as seen inside the environment,
/// built from the sandbox's `Layout`.
#[derive(Debug, Clone)]
pub struct EnvironmentSpec {
    pub id: String,
    pub host: HostDirs,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub working_dir: PathBuf,
    /// The complete environment of the bootstrap, except `AWS_LAMBDA_RUNTIME_API`, which the
    /// sandbox sets to the listener it provides.
    pub env: BTreeMap<String, String>,
    pub memory_mb: u32,
    pub ephemeral_storage_mb: u32,
}

/// How an environment's bootstrap ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

impl ExitStatus {
    /// The wording of Lambda's `Runtime.ExitError` messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Code(0) => "Runtime exited without providing a reason".to_string(),
            Self::Code(code) => format!("Runtime exited with error: exit status {code}"),
            Self::Signal(signal) => {
                let name = nix::sys::signal::Signal::try_from(*signal)
                    .map(|s| signal_word(s).to_string())
                    .unwrap_or_else(|_| format!("signal {signal}"));
                format!("Runtime exited with error: signal: {name}")
            }
        }
    }
}

fn signal_word(signal: nix::sys::signal::Signal) -> &'static str {
    use nix::sys::signal::Signal;
    match signal {
        Signal::SIGKILL => "killed",
        Signal::SIGSEGV => "segmentation fault",
        Signal::SIGABRT => "aborted",
        Signal::SIGTERM => "terminated",
        Signal::SIGBUS => "bus error",
        Signal::SIGFPE => "floating point exception",
        Signal::SIGILL => "illegal instruction",
        other => other.as_str(),
    }
}

/// A started environment.
pub struct Environment {
    /// The listener the Runtime API must be served on; the bootstrap connects to it.
    pub runtime_api: std::net::TcpListener,
    pub runtime_api_addr: SocketAddr,
    /// The read end of the pipe that the bootstrap's stdout and stderr both write to.
    pub output: OwnedFd,
    /// Changes to `Some` once the bootstrap has exited.
    pub exited: tokio::sync::watch::Receiver<Option<ExitStatus>>,
    pub control: Box<dyn EnvironmentControl>,
}

/// Operations on a running environment.
pub trait EnvironmentControl: Send + Sync {
    /// Kills every process of the environment. Idempotent.
    fn kill(&self);

    /// The peak memory use of the environment in bytes, if the sandbox can measure it.
    fn max_memory_used(&self) -> Option<u64>;

    /// Stops every process of the environment from running until `thaw`. Sandboxes without a
    /// freezer do nothing.
    fn freeze(&self) -> std::io::Result<()> {
        Ok(())
    }

    /// Lets a frozen environment run again.
    fn thaw(&self) -> std::io::Result<()> {
        Ok(())
    }

    /// Whether the kernel killed a process of the environment for exceeding its memory limit.
    fn out_of_memory(&self) -> bool {
        false
    }
}

/// A way of starting execution environments.
pub trait Sandbox: Send + Sync {
    /// Where the host directories appear inside an environment.
    fn layout(&self, host: &HostDirs) -> Layout;

    /// Starts the bootstrap. Must be called inside a Tokio runtime.
    fn start(&self, spec: EnvironmentSpec) -> Result<Environment, StartError>;

    /// A short name for logs, such as `process`.
    fn name(&self) -> &'static str;

    /// Releases what the sandbox holds on the host once the server stops, after every
    /// environment was killed. Sandboxes that hold nothing do nothing.
    fn shutdown(&self) {}
}

/// A helper for `Layout`s that leave host paths unchanged.
pub fn identity_layout(host: &HostDirs) -> Layout {
    let own = |path: &Path| path.to_path_buf();
    Layout {
        task_root: own(&host.task_root),
        runtime_dir: own(&host.runtime_dir),
        opt_dir: own(&host.opt_dir),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_wording_matches_lambda() {
        assert_eq!(ExitStatus::Code(0).describe(), "Runtime exited without providing a reason");
        assert_eq!(ExitStatus::Code(127).describe(), "Runtime exited with error: exit status 127");
        assert_eq!(ExitStatus::Signal(9).describe(), "Runtime exited with error: signal: killed");
    }
}

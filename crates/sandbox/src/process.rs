//! Environments as plain child processes: each bootstrap runs in its own process group with
//! its Runtime API on its own loopback port. This gives no isolation between functions or
//! from the host; it is the mode for development and for hosts without namespaces.

use std::net::{Ipv4Addr, TcpListener};
use std::process::Stdio;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::sync::watch;
use tracing::debug;

use crate::{
    identity_layout, Environment, EnvironmentControl, EnvironmentSpec, ExitStatus, HostDirs, Layout, Sandbox,
    StartError,
};

/// Starts each environment as a child process of the server.
#[derive(Debug, Default)]
pub struct ProcessSandbox;

impl Sandbox for ProcessSandbox {
    fn layout(&self, host: &HostDirs) -> Layout {
        identity_layout(host)
    }

    fn start(&self, spec: EnvironmentSpec) -> Result<Environment, StartError> {
        let id = spec.id.clone();
        let listener = bind_runtime_api(&id)?;
        let runtime_api_addr =
            listener.local_addr().map_err(|source| StartError::Listener { id: id.clone(), source })?;
        let (output, output_writer) = output_pipe(&id)?;

        let mut command = tokio::process::Command::new(&spec.program);
        command
            .args(&spec.args)
            .env_clear()
            .envs(&spec.env)
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api_addr.to_string())
            .current_dir(&spec.working_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(
                output_writer.try_clone().map_err(|source| StartError::Pipe { id: id.clone(), source })?,
            ))
            .stderr(Stdio::from(output_writer))
            .process_group(0);
        let child = command.spawn().map_err(|source| StartError::Spawn {
            id: id.clone(),
            program: spec.program.clone(),
            source,
        })?;
        // The command holds the parent's copies of the pipe's write end; dropping it closes
        // them, so the read end sees end-of-file once the bootstrap and its children exit.
        drop(command);

        let pid = child.id().expect("a just-spawned child has a pid") as i32;
        let exited = watch_exit(child, id);
        Ok(Environment {
            runtime_api: listener,
            runtime_api_addr,
            output,
            exited,
            control: Box::new(ProcessControl { pid: Pid::from_raw(pid) }),
        })
    }

    fn name(&self) -> &'static str {
        "process"
    }
}

fn bind_runtime_api(id: &str) -> Result<TcpListener, StartError> {
    let listener_error = |source| StartError::Listener { id: id.to_string(), source };
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(listener_error)?;
    listener.set_nonblocking(true).map_err(listener_error)?;
    Ok(listener)
}

fn output_pipe(id: &str) -> Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd), StartError> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|errno| StartError::Pipe { id: id.to_string(), source: errno.into() })
}

/// Waits for the child in a task and publishes its exit status.
fn watch_exit(mut child: tokio::process::Child, id: String) -> watch::Receiver<Option<ExitStatus>> {
    let (sender, receiver) = watch::channel(None);
    tokio::spawn(async move {
        let status = match child.wait().await {
            Ok(status) => to_exit_status(status),
            Err(err) => {
                debug!(environment = %id, error = %err, "waiting for the bootstrap failed");
                ExitStatus::Signal(Signal::SIGKILL as i32)
            }
        };
        debug!(environment = %id, ?status, "bootstrap exited");
        let _ = sender.send(Some(status));
    });
    receiver
}

pub(crate) fn to_exit_status(status: std::process::ExitStatus) -> ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitStatus::Code(code),
        (None, Some(signal)) => ExitStatus::Signal(signal),
        (None, None) => ExitStatus::Code(-1),
    }
}

struct ProcessControl {
    /// The bootstrap's pid, which is also the id of its process group.
    pid: Pid,
}

impl EnvironmentControl for ProcessControl {
    fn kill(&self) {
        // ESRCH means every process of the group is gone already.
        let _ = killpg(self.pid, Signal::SIGKILL);
    }

    fn max_memory_used(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn spec(dir: &std::path::Path, script: &str) -> EnvironmentSpec {
        EnvironmentSpec {
            id: "test".into(),
            host: HostDirs { task_root: dir.into(), runtime_dir: dir.into(), opt_dir: dir.into() },
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            working_dir: dir.into(),
            env: BTreeMap::new(),
            memory_mb: 128,
            ephemeral_storage_mb: 512,
        }
    }

    #[tokio::test]
    async fn start_reports_exit_code_and_output() {
        let dir = tempfile::tempdir().unwrap();
        let env = ProcessSandbox.start(spec(dir.path(), "echo $AWS_LAMBDA_RUNTIME_API; exit 3")).unwrap();
        let mut exited = env.exited.clone();
        let status = *exited.wait_for(Option::is_some).await.unwrap();
        assert_eq!(status, Some(ExitStatus::Code(3)));

        let output = std::fs::File::from(env.output);
        let text = std::io::read_to_string(output).unwrap();
        assert_eq!(text.trim(), env.runtime_api_addr.to_string());
    }

    #[tokio::test]
    async fn kill_ends_the_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let env = ProcessSandbox.start(spec(dir.path(), "sleep 30 & sleep 30")).unwrap();
        env.control.kill();
        let mut exited = env.exited.clone();
        let status = *exited.wait_for(Option::is_some).await.unwrap();
        assert_eq!(status, Some(ExitStatus::Signal(9)));
        // The pipe reaches end-of-file only when the background sleep is gone too.
        let output = std::fs::File::from(env.output);
        assert_eq!(std::io::read_to_string(output).unwrap(), "");
    }
}

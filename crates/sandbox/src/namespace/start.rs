//! Starting an environment from the server: the cgroup, the helper process, the exchange on
//! the control socket, and the `EnvironmentControl` that freezes, thaws and kills it.

use std::net::TcpListener;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::watch;
use tracing::{debug, warn};

use super::cgroup::{Cgroup, Limits};
use super::spec::{HelperSpec, Identity, Message, Reply};
use super::{
    channel, network, root, seccomp, NamespaceError, NamespaceSandbox, MAX_OPEN_FILES, MAX_PROCESSES,
    ROOTLESS_UID, UID_BASE,
};
use crate::{
    Environment, EnvironmentControl, EnvironmentSpec, ExitStatus, HostDirs, Layout, Sandbox, StartError,
};

/// The maximum wait for each of the helper's replies while starting.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

impl Sandbox for NamespaceSandbox {
    fn layout(&self, _host: &HostDirs) -> Layout {
        Layout {
            task_root: root::TASK_ROOT.into(),
            runtime_dir: root::RUNTIME_DIR.into(),
            opt_dir: root::OPT_DIR.into(),
        }
    }

    fn start(&self, spec: EnvironmentSpec) -> Result<Environment, StartError> {
        let resources = self.acquire(&spec)?;
        match self.launch(&spec, &resources) {
            Ok(launched) => Ok(self.finish(spec.id, launched, resources)),
            Err(err) => {
                resources.release(&self.live);
                Err(err)
            }
        }
    }

    fn name(&self) -> &'static str {
        "namespace"
    }

    /// Kills what is left of every environment and removes the cgroups, including the parent
    /// group of this server.
    fn shutdown(&self) {
        let live: Vec<_> = self.live.lock().unwrap_or_else(|p| p.into_inner()).drain().collect();
        for (id, cgroup) in live {
            cgroup.kill_all();
            if let Err(err) = cgroup.remove() {
                warn!(environment = %id, error = %crate::error_chain(&err), "removing the cgroup failed");
            }
        }
        if let Some(cgroups) = &self.cgroups {
            cgroups.remove_parent();
        }
        if let Some(network) = &self.network {
            network.shut_down();
        }
    }
}

/// The host resources of an environment, released when its helper exits: a uid slot, a
/// cgroup and an address.
struct Resources {
    id: String,
    uid_slot: Option<u32>,
    uids: Arc<super::UidPool>,
    cgroup: Option<Arc<dyn Cgroup>>,
    network: Option<(Arc<super::net_host::HostNetwork>, super::net_host::Lease)>,
}

impl Resources {
    fn release(self, live: &Mutex<std::collections::HashMap<String, Arc<dyn Cgroup>>>) {
        if let Some(cgroup) = &self.cgroup {
            cgroup.kill_all();
            if let Err(err) = cgroup.remove() {
                warn!(environment = %self.id, error = %crate::error_chain(&err), "removing the cgroup failed");
            }
            live.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.id);
        }
        if let Some((network, lease)) = self.network {
            network.release(lease);
        }
        if let Some(slot) = self.uid_slot {
            self.uids.release(slot);
        }
    }
}

/// A started helper before it is handed to the engine.
struct Launched {
    child: tokio::process::Child,
    control: OwnedFd,
    listener: TcpListener,
    output: OwnedFd,
}

fn sandbox_error(id: &str, message: impl Into<String>) -> StartError {
    StartError::Sandbox { id: id.to_string(), source: message.into().into() }
}

impl NamespaceSandbox {
    fn acquire(&self, spec: &EnvironmentSpec) -> Result<Resources, StartError> {
        let mut resources = Resources {
            id: spec.id.clone(),
            uid_slot: self.rootless.is_none().then(|| self.uids.acquire()),
            uids: self.uids.clone(),
            cgroup: None,
            network: None,
        };
        if let Some(hierarchy) = &self.cgroups {
            let limits = Limits {
                memory_mb: spec.memory_mb,
                max_processes: MAX_PROCESSES,
                cpu: self.config.cpu_limit,
            };
            match hierarchy.create(&spec.id, &limits) {
                Ok(cgroup) => {
                    let cgroup: Arc<dyn Cgroup> = Arc::from(cgroup);
                    self.live
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(spec.id.clone(), cgroup.clone());
                    resources.cgroup = Some(cgroup);
                }
                Err(err) => {
                    resources.release(&self.live);
                    return Err(StartError::Sandbox { id: spec.id.clone(), source: Box::new(err) });
                }
            }
        }
        if let Some(network) = &self.network {
            match network.lease() {
                Some(lease) => resources.network = Some((network.clone(), lease)),
                None => {
                    resources.release(&self.live);
                    return Err(sandbox_error(&spec.id, "no free environment address is left"));
                }
            }
        }
        Ok(resources)
    }

    fn helper_spec(&self, spec: &EnvironmentSpec, resources: &Resources) -> Result<HelperSpec, StartError> {
        let (uid, gid) = match resources.uid_slot {
            Some(slot) => (UID_BASE + slot, UID_BASE + slot),
            None => (ROOTLESS_UID, ROOTLESS_UID),
        };
        let request = root::RootRequest {
            host: &spec.host,
            program: &spec.program,
            uid,
            gid,
            tmp_mb: spec.ephemeral_storage_mb,
            shm_mb: spec.memory_mb,
        };
        let mut env: Vec<(String, String)> = spec.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        env.retain(|(key, _)| key != "AWS_LAMBDA_RUNTIME_API");
        env.push(("AWS_LAMBDA_RUNTIME_API".into(), network::RUNTIME_API.to_string()));
        let filters = seccomp::packed_filters()
            .map_err(|err| StartError::Sandbox { id: spec.id.clone(), source: Box::new(err) })?;
        Ok(HelperSpec {
            id: spec.id.clone(),
            root_mount_point: self.config.state_dir.join("root"),
            root: root::plan(&self.system_root, &request),
            hostname: "localhost".into(),
            identity: Identity { uid, gid, max_open_files: MAX_OPEN_FILES, max_processes: MAX_PROCESSES },
            cgroup_procs: resources.cgroup.as_ref().map(|c| c.procs_files()).unwrap_or_default(),
            user_namespace: self.rootless,
            network: resources.network.as_ref().map(|(_, lease)| lease.inside()),
            seccomp: filters.to_vec(),
            program: spec.program.clone(),
            args: spec.args.clone(),
            env,
            working_dir: spec.working_dir.clone(),
        })
    }

    fn launch(&self, spec: &EnvironmentSpec, resources: &Resources) -> Result<Launched, StartError> {
        let id = &spec.id;
        let helper_spec = self.helper_spec(spec, resources)?;
        let channel_error = |err: channel::ChannelError| sandbox_error(id, err.to_string());
        let (control, helper_end) = channel::pair().map_err(channel_error)?;
        let (output, output_writer) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|errno| StartError::Pipe { id: id.clone(), source: errno.into() })?;
        let stderr =
            output_writer.try_clone().map_err(|source| StartError::Pipe { id: id.clone(), source })?;

        let mut command = tokio::process::Command::new(&self.config.helper.program);
        command
            .args(&self.config.helper.args)
            .env_clear()
            .stdin(Stdio::from(helper_end))
            .stdout(Stdio::from(output_writer))
            .stderr(Stdio::from(stderr));
        let mut child = command.spawn().map_err(|source| StartError::Spawn {
            id: id.clone(),
            program: self.config.helper.program.clone(),
            source,
        })?;
        // Closes the server's copies of the helper's ends.
        drop(command);

        match self.exchange(spec, resources, &helper_spec, &control) {
            Ok(listener) => Ok(Launched { child, control, listener, output }),
            Err(err) => {
                let _ = child.start_kill();
                Err(err)
            }
        }
    }

    /// Sends the spec and handles the helper's replies until the bootstrap runs.
    fn exchange(
        &self,
        spec: &EnvironmentSpec,
        resources: &Resources,
        helper_spec: &HelperSpec,
        control: &OwnedFd,
    ) -> Result<TcpListener, StartError> {
        let id = &spec.id;
        let channel_error = |err: channel::ChannelError| sandbox_error(id, err.to_string());
        nix::sys::socket::setsockopt(
            control,
            nix::sys::socket::sockopt::ReceiveTimeout,
            &nix::sys::time::TimeVal::new(REPLY_TIMEOUT.as_secs() as i64, 0),
        )
        .map_err(|errno| sandbox_error(id, format!("failed to set the control socket timeout: {errno}")))?;
        channel::send(control.as_fd(), helper_spec, None).map_err(channel_error)?;
        let mut listener = None;
        loop {
            let (reply, fd) = channel::receive::<Reply>(control.as_fd()).map_err(channel_error)?;
            match reply {
                Reply::NetworkNamespace { helper_pid } => {
                    let (network, lease) = resources
                        .network
                        .as_ref()
                        .ok_or_else(|| sandbox_error(id, "unexpected network request"))?;
                    network
                        .attach(lease, helper_pid)
                        .map_err(|err| StartError::Sandbox { id: id.clone(), source: Box::new(err) })?;
                    channel::send(control.as_fd(), &Message::NetworkReady, None).map_err(channel_error)?;
                }
                Reply::Listener => {
                    let fd = fd.ok_or_else(|| sandbox_error(id, "the helper sent no listener"))?;
                    listener = Some(TcpListener::from(fd));
                }
                Reply::Started => break,
                Reply::ExecFailed { errno } => {
                    return Err(StartError::Spawn {
                        id: id.clone(),
                        program: spec.program.clone(),
                        source: std::io::Error::from_raw_os_error(errno),
                    })
                }
                Reply::Failed { message } => return Err(sandbox_error(id, message)),
            }
        }
        let listener = listener.ok_or_else(|| sandbox_error(id, "the helper sent no listener"))?;
        listener.set_nonblocking(true).map_err(|source| StartError::Listener { id: id.clone(), source })?;
        Ok(listener)
    }

    fn finish(&self, id: String, launched: Launched, resources: Resources) -> Environment {
        let cgroup = resources
            .cgroup
            .clone()
            .map(|cgroup| Arc::new(CgroupState { cgroup, after_exit: OnceLock::new() }));
        let exited = watch_exit(launched.child, resources, cgroup.clone(), self.live.clone());
        debug!(environment = %id, "sandboxed environment started");
        Environment {
            runtime_api: launched.listener,
            runtime_api_addr: network::RUNTIME_API,
            output: launched.output,
            exited,
            control: Box::new(NamespaceControl { cgroup, control: Mutex::new(Some(launched.control)) }),
        }
    }
}

/// Waits for the helper in a task, releases the environment's resources, and publishes the
/// bootstrap's exit status, which the helper repeats.
fn watch_exit(
    mut child: tokio::process::Child,
    resources: Resources,
    cgroup: Option<Arc<CgroupState>>,
    live: Arc<Mutex<std::collections::HashMap<String, Arc<dyn Cgroup>>>>,
) -> watch::Receiver<Option<ExitStatus>> {
    let (sender, receiver) = watch::channel(None);
    tokio::spawn(async move {
        let status = match child.wait().await {
            Ok(status) => crate::process::to_exit_status(status),
            Err(err) => {
                debug!(environment = %resources.id, error = %err, "waiting for the sandbox helper failed");
                ExitStatus::Signal(libc::SIGKILL)
            }
        };
        debug!(environment = %resources.id, ?status, "bootstrap exited");
        if let Some(cgroup) = &cgroup {
            cgroup.record_exit();
        }
        let _ = sender.send(Some(status));
        let _ = tokio::task::spawn_blocking(move || resources.release(&live)).await;
    });
    receiver
}

/// An environment's cgroup, and its counters as read when the helper exited, before the
/// cgroup was removed.
struct CgroupState {
    cgroup: Arc<dyn Cgroup>,
    /// Whether the OOM killer struck, and the peak memory use.
    after_exit: OnceLock<(bool, Option<u64>)>,
}

impl CgroupState {
    fn record_exit(&self) {
        let _ = self.after_exit.set((self.cgroup.out_of_memory(), self.cgroup.max_memory_used()));
    }

    fn out_of_memory(&self) -> bool {
        self.after_exit.get().map_or_else(|| self.cgroup.out_of_memory(), |(oom, _)| *oom)
    }

    fn max_memory_used(&self) -> Option<u64> {
        self.after_exit.get().map_or_else(|| self.cgroup.max_memory_used(), |(_, peak)| *peak)
    }
}

struct NamespaceControl {
    cgroup: Option<Arc<CgroupState>>,
    /// The server's end of the control socket; closing it makes the helper kill init.
    control: Mutex<Option<OwnedFd>>,
}

fn io_error(err: super::cgroup::CgroupError) -> std::io::Error {
    std::io::Error::other(crate::error_chain(&err))
}

impl EnvironmentControl for NamespaceControl {
    fn kill(&self) {
        if let Some(state) = &self.cgroup {
            state.cgroup.kill_all();
        }
        self.control.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    fn max_memory_used(&self) -> Option<u64> {
        self.cgroup.as_ref()?.max_memory_used()
    }

    fn freeze(&self) -> std::io::Result<()> {
        match &self.cgroup {
            Some(state) => state.cgroup.freeze().map_err(io_error),
            None => Ok(()),
        }
    }

    fn thaw(&self) -> std::io::Result<()> {
        match &self.cgroup {
            Some(state) => state.cgroup.thaw().map_err(io_error),
            None => Ok(()),
        }
    }

    fn out_of_memory(&self) -> bool {
        self.cgroup.as_ref().is_some_and(|cgroup| cgroup.out_of_memory())
    }
}

/// Starts `/bin/true` in an environment with empty directories and waits for exit code 0.
pub(super) async fn probe(sandbox: &NamespaceSandbox) -> Result<(), NamespaceError> {
    let dir = sandbox.config.state_dir.join("probe");
    let empty = |name: &str| -> Result<std::path::PathBuf, NamespaceError> {
        let path = dir.join(name);
        std::fs::create_dir_all(&path)
            .map_err(|source| NamespaceError::StateDir { path: path.clone(), source })?;
        Ok(path)
    };
    let host = HostDirs { task_root: empty("task")?, runtime_dir: empty("runtime")?, opt_dir: empty("opt")? };
    let spec = EnvironmentSpec {
        id: format!("probe-{}", std::process::id()),
        host,
        program: "/bin/true".into(),
        args: vec![],
        working_dir: Path::new(root::TASK_ROOT).into(),
        env: Default::default(),
        memory_mb: 128,
        ephemeral_storage_mb: 16,
    };
    let environment = sandbox.start(spec).map_err(NamespaceError::Probe)?;
    let mut exited = environment.exited.clone();
    let status = tokio::time::timeout(REPLY_TIMEOUT, exited.wait_for(Option::is_some))
        .await
        .ok()
        .and_then(|result| result.ok().map(|status| *status))
        .flatten();
    environment.control.kill();
    match status {
        Some(ExitStatus::Code(0)) => Ok(()),
        other => Err(NamespaceError::ProbeExit(other)),
    }
}

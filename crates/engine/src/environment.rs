//! One execution environment as the engine sees it: started through the sandbox, with its
//! Runtime API served and its output read, and then handed one invocation at a time.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use flicker_model::Language;
use flicker_runtime_api::{Delivery, Invocation, Outcome, RuntimeApi, RuntimeEvent};
use flicker_sandbox::{EnvironmentControl, EnvironmentSpec, ExitStatus, HostDirs, Layout, Sandbox};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, warn};

use crate::logs::{spawn_output_reader, LogStore, OutputControl, OutputSink};
use crate::pool::ProvisionedSlot;
use crate::FunctionVersion;

/// The kill switches of all live environments, so that shutdown can stop every one of them.
#[derive(Default)]
pub(crate) struct Registry {
    live: Mutex<HashMap<String, Arc<dyn EnvironmentControl>>>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<dyn EnvironmentControl>>> {
        self.live.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn count(&self) -> usize {
        self.lock().len()
    }

    pub fn kill_all(&self) {
        for control in self.lock().values() {
            control.kill();
        }
    }
}

/// Everything needed to start environments.
pub(crate) struct Launcher {
    pub sandbox: Arc<dyn Sandbox>,
    pub logs: LogStore,
    pub registry: Arc<Registry>,
    pub runtime_root: PathBuf,
    pub empty_opt: PathBuf,
    pub region: String,
}

/// Why an environment did not finish initializing.
#[derive(Debug)]
pub(crate) enum InitFailure {
    /// The bootstrap posted to `init/error`.
    Reported {
        error_type: Option<String>,
        body: Bytes,
    },
    Exited(ExitStatus),
    TimedOut(Duration),
}

/// How one invocation in an environment ended.
#[derive(Debug)]
pub(crate) enum RunResult {
    Reported(Outcome),
    /// The bootstrap asked for the next event without reporting this one.
    Abandoned,
    Exited(ExitStatus),
    /// The bootstrap was killed for exceeding the memory limit.
    OutOfMemory(ExitStatus),
    TimedOut,
}

pub(crate) struct Environment {
    pub id: String,
    api: RuntimeApi,
    exited: watch::Receiver<Option<ExitStatus>>,
    control: Arc<dyn EnvironmentControl>,
    pub output: mpsc::UnboundedSender<OutputControl>,
    /// Set at start; taken by the first invocation, whose REPORT line shows it.
    pub init_duration: Option<Duration>,
    /// How long the sandbox took to start the bootstrap.
    pub sandbox_start: Duration,
    started: Instant,
    pub last_used: Instant,
    registry: Arc<Registry>,
    /// Set for an environment started ahead for provisioned concurrency.
    pub provisioned: Option<ProvisionedSlot>,
}

impl Drop for Environment {
    fn drop(&mut self) {
        self.control.kill();
        self.registry.lock().remove(&self.id);
        debug!(environment = %self.id, "environment stopped");
    }
}

impl Launcher {
    /// Starts an environment for `version`. Initialization is awaited separately.
    /// `provisioned` is set for an environment started ahead for provisioned concurrency.
    pub fn start(
        &self,
        version: &FunctionVersion,
        provisioned: Option<ProvisionedSlot>,
    ) -> std::io::Result<Environment> {
        let initialization_type = if provisioned.is_some() { "provisioned-concurrency" } else { "on-demand" };
        let id = uuid::Uuid::new_v4().simple().to_string();
        let host = HostDirs {
            task_root: version.task_root.clone(),
            runtime_dir: self.runtime_root.join(runtime_dir_name(version.runtime.language())),
            opt_dir: version.opt_dir.clone(),
        };
        let layout = self.sandbox.layout(&host);
        let stream: Arc<str> = log_stream_name(&version.config.version, &id).into();
        let mut spec = self.spec(version, &id, &stream, host, &layout);
        spec.env.insert("AWS_LAMBDA_INITIALIZATION_TYPE".to_string(), initialization_type.to_string());

        let started = Instant::now();
        let sandboxed = self.sandbox.start(spec).map_err(std::io::Error::other)?;
        let sandbox_start = started.elapsed();
        let control: Arc<dyn EnvironmentControl> = Arc::from(sandboxed.control);
        self.registry.lock().insert(id.clone(), control.clone());

        let environment = Environment {
            api: flicker_runtime_api::serve(sandboxed.runtime_api)?,
            exited: sandboxed.exited,
            output: spawn_output_reader(
                sandboxed.output,
                OutputSink { logs: self.logs.clone(), function: version.config.name.as_str().into(), stream },
            )?,
            control,
            init_duration: None,
            sandbox_start,
            started,
            last_used: started,
            registry: self.registry.clone(),
            id,
            provisioned,
        };
        let _ = environment.output.send(OutputControl::Line(init_start_line(version, &self.region)));
        Ok(environment)
    }

    fn spec(
        &self,
        version: &FunctionVersion,
        id: &str,
        stream: &str,
        host: HostDirs,
        layout: &Layout,
    ) -> EnvironmentSpec {
        let config = &version.config;
        let (program, args) = match (&version.interpreter, version.runtime.language()) {
            (Some(interpreter), Language::Python) => (
                interpreter.path.clone(),
                vec![layout.runtime_dir.join("bootstrap.py").display().to_string()],
            ),
            (Some(interpreter), _) => (
                interpreter.path.clone(),
                vec![layout.runtime_dir.join("bootstrap.js").display().to_string()],
            ),
            (None, _) if host.task_root.join("bootstrap").exists() => {
                (layout.task_root.join("bootstrap"), vec![])
            }
            (None, _) => (layout.opt_dir.join("bootstrap"), vec![]),
        };

        let mut env: BTreeMap<String, String> =
            config.environment.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let task_root = layout.task_root.display().to_string();
        let runtime_dir = layout.runtime_dir.display().to_string();
        let opt = layout.opt_dir.display().to_string();
        let mut set = |key: &str, value: String| {
            env.insert(key.to_string(), value);
        };
        set("_HANDLER", config.handler.clone());
        set("AWS_LAMBDA_FUNCTION_NAME", config.name.clone());
        set("AWS_LAMBDA_FUNCTION_VERSION", config.version.clone());
        set("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", config.memory_size.to_string());
        set("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", config.name));
        set("AWS_LAMBDA_LOG_STREAM_NAME", stream.to_string());
        set("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_string());
        set("AWS_REGION", self.region.clone());
        set("AWS_DEFAULT_REGION", self.region.clone());
        if version.interpreter.is_some() {
            set("AWS_EXECUTION_ENV", format!("AWS_Lambda_{}", config.runtime));
        }
        set("LAMBDA_TASK_ROOT", task_root.clone());
        set("LAMBDA_RUNTIME_DIR", runtime_dir.clone());
        set("TZ", ":UTC".to_string());
        set("LANG", "en_US.UTF-8".to_string());
        // A function may set its own PATH and LD_LIBRARY_PATH, as in Lambda.
        if !config.environment.contains_key("PATH") {
            set("PATH", format!("/usr/local/bin:/usr/bin:/bin:{opt}/bin"));
        }
        if !config.environment.contains_key("LD_LIBRARY_PATH") {
            set(
                "LD_LIBRARY_PATH",
                format!(
                    "/lib64:/usr/lib64:{runtime_dir}:{runtime_dir}/lib:{task_root}:{task_root}/lib:{opt}/lib"
                ),
            );
        }
        if version.runtime.language() == Language::Python && layout.opt_dir != Path::new("/opt") {
            // The Python runtime client looks for layers under /opt, as AWS's does, unless the
            // sandbox mounts them elsewhere.
            set("FLICKER_OPT_DIR", opt.clone());
        }
        if version.runtime.language() == Language::Node {
            set(
                "NODE_PATH",
                format!("{opt}/nodejs/node_modules:{runtime_dir}/node_modules:{runtime_dir}:{task_root}"),
            );
        }

        EnvironmentSpec {
            id: id.to_string(),
            host,
            program,
            args,
            working_dir: layout.task_root.clone(),
            env,
            memory_mb: config.memory_size,
            ephemeral_storage_mb: config.ephemeral_storage,
        }
    }
}

fn runtime_dir_name(language: Language) -> &'static str {
    match language {
        Language::Python => "python",
        Language::Node => "nodejs",
        Language::Provided => "provided",
    }
}

/// Lambda's stream name: `2026/12/04/[$LATEST]` followed by the environment id.
fn log_stream_name(version: &str, id: &str) -> String {
    format!("{}/[{version}]{id}", chrono::Utc::now().format("%Y/%m/%d"))
}

fn init_start_line(version: &FunctionVersion, region: &str) -> String {
    let runtime = match &version.interpreter {
        Some(interpreter) => {
            let language = runtime_dir_name(version.runtime.language());
            format!("{language}:{}", interpreter.version)
        }
        None => version.runtime.as_str().to_string(),
    };
    format!("INIT_START Runtime Version: {runtime}\tRuntime Version ARN: arn:aws:lambda:{region}::runtime:flicker-{runtime}")
}

impl Environment {
    /// Waits until the bootstrap asks for its first invocation.
    pub async fn wait_initialized(&mut self, limit: Duration) -> Result<(), InitFailure> {
        let deadline = tokio::time::sleep(limit);
        tokio::pin!(deadline);
        let result = tokio::select! {
            biased;
            event = self.api.events.recv() => match event {
                Some(RuntimeEvent::Ready) => Ok(()),
                Some(RuntimeEvent::InitError { error_type, body }) => Err(InitFailure::Reported { error_type, body }),
                None => Err(InitFailure::Exited(ExitStatus::Code(-1))),
            },
            status = wait_exit(&mut self.exited) => Err(InitFailure::Exited(status)),
            _ = &mut deadline => Err(InitFailure::TimedOut(limit)),
        };
        self.init_duration = Some(self.started.elapsed());
        result
    }

    /// Hands over one invocation and waits for its outcome, the bootstrap's exit, or the
    /// timeout.
    pub async fn run(&mut self, invocation: Invocation, timeout: Duration) -> RunResult {
        if let Err(err) = self.control.thaw() {
            warn!(environment = %self.id, error = %err, "thawing the environment failed");
            return RunResult::Abandoned;
        }
        let (outcome, receiver) = oneshot::channel();
        if self.api.deliveries.send(Delivery { invocation, outcome }).await.is_err() {
            return RunResult::Abandoned;
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        tokio::select! {
            biased;
            outcome = receiver => match outcome {
                Ok(outcome) => RunResult::Reported(outcome),
                Err(_) => RunResult::Abandoned,
            },
            status = wait_exit(&mut self.exited) => RunResult::Exited(status),
            _ = &mut deadline => RunResult::TimedOut,
        }
    }

    /// Waits until the bootstrap asks for the next invocation, which ends the current one.
    /// Returns false if it exits or does not ask before `deadline`.
    pub async fn wait_ready(&mut self, deadline: tokio::time::Instant) -> bool {
        tokio::select! {
            biased;
            event = self.api.events.recv() => matches!(event, Some(RuntimeEvent::Ready)),
            _ = wait_exit(&mut self.exited) => false,
            _ = tokio::time::sleep_until(deadline) => false,
        }
    }

    pub fn max_memory_used(&self) -> Option<u64> {
        self.control.max_memory_used()
    }

    pub fn out_of_memory(&self) -> bool {
        self.control.out_of_memory()
    }

    /// Freezes the environment while it waits for its next invocation; returns false if that
    /// failed and the environment should be stopped.
    pub fn freeze(&self) -> bool {
        match self.control.freeze() {
            Ok(()) => true,
            Err(err) => {
                warn!(environment = %self.id, error = %err, "freezing the environment failed");
                false
            }
        }
    }

    pub fn has_exited(&self) -> bool {
        self.exited.borrow().is_some()
    }
}

async fn wait_exit(exited: &mut watch::Receiver<Option<ExitStatus>>) -> ExitStatus {
    match exited.wait_for(Option::is_some).await {
        Ok(status) => status.unwrap_or(ExitStatus::Code(-1)),
        Err(_) => ExitStatus::Code(-1),
    }
}

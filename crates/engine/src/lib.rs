//! The engine: function versions held in memory, their environment pools, admission under the
//! account concurrency limit, invocations with timeouts, logs and metrics. It takes typed
//! requests and never parses HTTP.

mod aliases;
mod concurrency;
mod entry;
mod environment;
mod events;
mod functions;
mod invoke;
mod layers;
mod logs;
mod metrics;
mod opt;
mod package;
mod pool;
mod provisioned;
mod resolve;
mod runtimes;
mod tags;
mod urls;
mod versions;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use flicker_model::{FunctionConfig, FunctionSettings, RuntimeId};
use flicker_sandbox::Sandbox;
use flicker_store::{BlobStore, LayerStore, SqliteLayerStore, SqliteStore, Store, StoreError};
use tracing::{info, warn};

use entry::FunctionEntry;
use environment::{Launcher, Registry};
use pool::Pool;

pub use events::{AcceptFuture, AcceptedEvent, EventSink};
pub use functions::{AccountSettings, FunctionDetails, FunctionList};
pub use invoke::{InvocationType, InvokeRequest, InvokeResponse};
pub use layers::LayerVersionDetails;
pub use logs::{LogEvent, LogStore, LogSubscription};
pub use metrics::Metrics;
pub use resolve::ResolvedFunction;
pub use runtimes::{Interpreter, RuntimeCatalog};
pub use urls::url_path;

/// The runtime clients by path under the runtime directory, embedded so that the binary is
/// all a deployment needs.
const RUNTIME_FILES: &[(&str, &str)] = &[
    ("python/bootstrap.py", include_str!("../../../runtimes/python/bootstrap.py")),
    ("python/flicker_runtime.py", include_str!("../../../runtimes/python/flicker_runtime.py")),
    ("nodejs/bootstrap.js", include_str!("../../../runtimes/nodejs/bootstrap.js")),
];

/// Server settings the engine needs.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    pub data_dir: PathBuf,
    pub region: String,
    pub account_id: String,
    /// Concurrent executions allowed across all functions.
    pub concurrency_limit: usize,
    /// How long an idle environment is kept warm.
    pub idle_keep_alive: Duration,
    /// How long a bootstrap may take to ask for its first invocation.
    pub init_timeout: Duration,
    /// Size at which a function's log file is rotated.
    pub log_file_bytes: u64,
}

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartEngineError {
    /// the data directory could not be prepared
    #[error("failed to prepare {path}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// the store could not be opened or read
    #[error("failed to load stored functions")]
    Store(#[from] StoreError),
    /// another server uses the data directory
    #[error("data directory {0} is in use by another Flicker server")]
    InUse(PathBuf),
}

/// A function version ready to run: its configuration and where its code and interpreter are.
#[derive(Debug)]
pub(crate) struct FunctionVersion {
    pub config: FunctionConfig,
    pub runtime: RuntimeId,
    pub interpreter: Option<Interpreter>,
    pub task_root: PathBuf,
    /// The merged layers mounted at `/opt`.
    pub opt_dir: PathBuf,
}

/// The engine; cloning it is cheap and shares all state.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    settings: EngineSettings,
    store: Box<dyn Store>,
    /// Layer versions, on a connection of their own to the same SQLite file.
    layer_store: Box<dyn LayerStore>,
    blobs: BlobStore,
    catalog: RuntimeCatalog,
    /// Each function by name. An entry is replaced, never mutated in place, when the function
    /// changes; the lock is never held across an await.
    functions: RwLock<HashMap<String, Arc<FunctionEntry>>>,
    /// Serializes control-plane writes so that each read-modify-write of a function is atomic.
    control: tokio::sync::Mutex<()>,
    launcher: Launcher,
    registry: Arc<Registry>,
    /// Invocations running now, across all functions.
    running: AtomicUsize,
    /// Invocations running now of functions without reserved concurrency.
    unreserved_running: Arc<AtomicUsize>,
    /// The sum of all functions' reserved concurrency.
    reserved_total: AtomicUsize,
    /// Bytes of `Event` payloads accepted and not yet delivered.
    event_bytes: AtomicUsize,
    metrics: Metrics,
    /// Destination of `Event` invocations once set. Until then they wait in memory.
    event_sink: OnceLock<Arc<dyn events::EventSink>>,
    /// Function URL configurations by URL id; the lock is never held across an await.
    urls: RwLock<urls::UrlTable>,
    /// An exclusive lock on the data directory, held while the engine runs.
    _data_dir_lock: nix::fcntl::Flock<std::fs::File>,
}

/// Locks the data directory, so that two servers never share one store.
fn lock_data_dir(data_dir: &Path) -> Result<nix::fcntl::Flock<std::fs::File>, StartEngineError> {
    let path = data_dir.join("flicker.lock");
    let file = std::fs::File::create(&path).map_err(|source| StartEngineError::DataDir { path, source })?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|_| StartEngineError::InUse(data_dir.to_path_buf()))
}

fn prepare_dir(path: &Path) -> Result<(), StartEngineError> {
    std::fs::create_dir_all(path).map_err(|source| StartEngineError::DataDir { path: path.into(), source })
}

fn write_runtime_clients(root: &Path) -> Result<(), StartEngineError> {
    for (name, content) in RUNTIME_FILES {
        let path = root.join(name);
        prepare_dir(path.parent().expect("runtime files have a directory"))?;
        let unchanged = std::fs::read(&path).is_ok_and(|current| current == content.as_bytes());
        if !unchanged {
            std::fs::write(&path, content).map_err(|source| StartEngineError::DataDir { path, source })?;
        }
    }
    prepare_dir(&root.join("provided"))
}

/// Compiles the Python client once per interpreter, because environments may see the runtime
/// directory read-only and would otherwise compile it on every cold start.
fn compile_python_client(catalog: &RuntimeCatalog, root: &Path) {
    for interpreter in catalog.python_interpreters() {
        let status = std::process::Command::new(&interpreter.path)
            .args(["-m", "compileall", "-q"])
            .arg(root.join("python"))
            .status();
        if !status.is_ok_and(|s| s.success()) {
            warn!(interpreter = %interpreter.path.display(), "compiling the Python runtime client failed");
        }
    }
}

impl Engine {
    /// Opens the data directory, loads every stored function and starts the idle reaper.
    /// Must be called inside a Tokio runtime.
    pub async fn start(
        settings: EngineSettings,
        sandbox: Arc<dyn Sandbox>,
    ) -> Result<Self, StartEngineError> {
        let data_dir = settings.data_dir.clone();
        prepare_dir(&data_dir)?;
        let data_dir_lock = lock_data_dir(&data_dir)?;
        let runtime_root = data_dir.join("runtimes");
        write_runtime_clients(&runtime_root)?;
        let empty_opt = data_dir.join("layers").join("empty");
        prepare_dir(&empty_opt)?;

        let store = Box::new(SqliteStore::open(&data_dir.join("flicker.db"))?);
        let layer_store = Box::new(SqliteLayerStore::open(&data_dir.join("flicker.db"))?);
        let blobs = BlobStore::open(&data_dir.join("code"))?;
        let logs = LogStore::start(&data_dir.join("logs"), settings.log_file_bytes)
            .map_err(|source| StartEngineError::DataDir { path: data_dir.join("logs"), source })?;
        let catalog = RuntimeCatalog::discover();
        compile_python_client(&catalog, &runtime_root);
        info!(sandbox = sandbox.name(), installed = ?catalog.installed(), "runtimes found");

        let registry = Arc::new(Registry::default());
        let launcher = Launcher {
            sandbox,
            logs,
            registry: registry.clone(),
            runtime_root,
            empty_opt,
            region: settings.region.clone(),
        };
        let engine = Self {
            inner: Arc::new(Inner {
                settings,
                store,
                layer_store,
                blobs,
                catalog,
                functions: RwLock::new(HashMap::new()),
                control: tokio::sync::Mutex::new(()),
                launcher,
                registry,
                running: AtomicUsize::new(0),
                unreserved_running: Arc::new(AtomicUsize::new(0)),
                reserved_total: AtomicUsize::new(0),
                event_bytes: AtomicUsize::new(0),
                metrics: Metrics::default(),
                event_sink: OnceLock::new(),
                urls: RwLock::new(HashMap::new()),
                _data_dir_lock: data_dir_lock,
            }),
        };
        engine.load_functions().await?;
        engine.load_urls()?;
        engine.spawn_reaper();
        Ok(engine)
    }

    async fn load_functions(&self) -> Result<(), StartEngineError> {
        let mut latest = HashMap::new();
        let mut versions: HashMap<String, BTreeMap<u64, Arc<Pool>>> = HashMap::new();
        for config in self.inner.store.load_functions()? {
            let name = config.name.clone();
            let number = config.version.parse::<u64>().ok();
            let pool = Pool::new(self.load_version(config).await);
            match number {
                Some(number) => {
                    versions.entry(name).or_default().insert(number, Arc::new(pool));
                }
                None => {
                    latest.insert(name, pool);
                }
            }
        }
        let mut settings: HashMap<String, FunctionSettings> =
            self.inner.store.load_settings()?.into_iter().collect();
        let entries: HashMap<String, Arc<FunctionEntry>> = latest
            .into_iter()
            .map(|(name, pool)| {
                let mut entry = FunctionEntry::new(pool);
                entry.versions = versions.remove(&name).unwrap_or_default();
                entry.settings = settings.remove(&name).unwrap_or_default();
                (name, Arc::new(entry))
            })
            .collect();
        *self.write_functions() = entries;
        self.update_reserved_total();
        let all: Vec<Arc<FunctionEntry>> = self.read_functions().values().cloned().collect();
        for entry in all {
            self.apply_provisioned(&entry);
        }
        info!(functions = self.read_functions().len(), "functions loaded");
        Ok(())
    }

    /// Prepares a stored version to run, or keeps it so that it can still be read, updated
    /// and deleted; the invocations of such a version fail until it is replaced.
    async fn load_version(&self, config: FunctionConfig) -> FunctionVersion {
        match self.prepare_version(config.clone()).await {
            Ok(version) => version,
            Err(err) => {
                warn!(function = %config.name, version = %config.version, error = %err, "stored function cannot run");
                self.unrunnable_version(config)
            }
        }
    }

    /// A version whose code or interpreter is missing: starting it fails.
    fn unrunnable_version(&self, config: FunctionConfig) -> FunctionVersion {
        let runtime = RuntimeId::parse(&config.runtime).unwrap_or_else(|_| {
            RuntimeId::parse("provided.al2023").expect("provided.al2023 is a supported runtime")
        });
        let task_root = self.inner.settings.data_dir.join("tasks").join("missing");
        let opt_dir = self.inner.launcher.empty_opt.clone();
        FunctionVersion { config, runtime, interpreter: None, task_root, opt_dir }
    }

    fn spawn_reaper(&self) {
        let engine = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(Duration::from_secs(1));
            loop {
                ticks.tick().await;
                let Some(inner) = engine.upgrade() else { return };
                let keep_alive = inner.settings.idle_keep_alive;
                let engine = Engine { inner };
                let entries: Vec<Arc<FunctionEntry>> = engine.read_functions().values().cloned().collect();
                for entry in entries {
                    for pool in entry.pools() {
                        pool.reap(keep_alive);
                        engine.provision(pool);
                    }
                }
            }
        });
    }

    fn read_functions(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<FunctionEntry>>> {
        self.inner.functions.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_functions(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<FunctionEntry>>> {
        self.inner.functions.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stops every environment. Invocations still running fail.
    pub fn shutdown(&self) {
        let entries: Vec<Arc<FunctionEntry>> = self.read_functions().values().cloned().collect();
        for pool in entries.iter().flat_map(|entry| entry.pools()) {
            pool.retire();
        }
        self.inner.registry.kill_all();
    }

    /// Renders the metrics in the Prometheus text format.
    pub fn render_metrics(&self) -> String {
        let idle = self.read_functions().values().flat_map(|e| e.pools()).map(|p| p.idle_count()).sum();
        let mut text = self.inner.metrics.render(metrics::Gauges {
            environments: self.inner.registry.count(),
            idle_environments: idle,
            concurrent_executions: self.inner.running.load(Ordering::Relaxed),
            dropped_log_events: self.inner.launcher.logs.dropped_events(),
            dropped_subscriber_log_events: self.inner.launcher.logs.dropped_subscriber_events(),
        });
        if let Some(sink) = self.event_sink() {
            text.push_str(&sink.render_metrics());
        }
        text
    }

    /// Runs a store operation on a blocking thread.
    async fn with_store<T: Send + 'static>(
        &self,
        operation: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, flicker_model::ApiError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || operation(inner.store.as_ref()))
            .await
            .map_err(|err| functions::internal("writing to the store", err))?
            .map_err(|err| functions::internal("writing to the store", err))
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.inner.settings
    }

    /// The path of a function's current log file.
    pub fn log_path(&self, function: &str) -> PathBuf {
        self.inner.launcher.logs.path(function)
    }

    /// Subscribes to a function's log events as they are written; see `LogStore::subscribe`.
    pub fn subscribe_logs(&self, function: &str, max_queued_bytes: usize) -> LogSubscription {
        self.inner.launcher.logs.subscribe(function, max_queued_bytes)
    }
}

//! The `flicker` command: `flicker serve` runs the single-node server.

mod sandbox;
mod settings;

use anyhow::Context;
use clap::{Parser, Subcommand};
use flicker_engine::{Engine, EngineSettings};
use flicker_triggers::log_subscription::LogSubscriptions;
use flicker_triggers::schedule::{ScheduleSettings, Schedules};
use tracing::info;

/// A self-hosted function platform that speaks the AWS Lambda API.
#[derive(Debug, Parser)]
#[command(name = "flicker", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant, reason = "parsed once at start-up")]
enum Command {
    /// Run the single-node server.
    Serve(settings::ServeArgs),
    /// Set up one sandboxed environment; the server runs this itself.
    #[command(hide = true)]
    SandboxInit,
}

/// Size at which a function's log file is rotated.
const LOG_FILE_BYTES: u64 = 16 * 1024 * 1024;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args.resolve()?),
        Command::SandboxInit => flicker_sandbox::namespace::run_helper(),
    }
}

fn serve(settings: settings::Settings) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(log_filter(&settings.log_level)?)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the Tokio runtime")?;
    runtime.block_on(run(settings))
}

/// Parses the log filter. A bare word must be a level: `EnvFilter` would read any other word
/// as a module name and silence every log line.
fn log_filter(text: &str) -> anyhow::Result<tracing_subscriber::EnvFilter> {
    const LEVELS: &[&str] = &["off", "error", "warn", "info", "debug", "trace"];
    let bare_words = text.split(',').filter(|directive| !directive.contains('='));
    if let Some(word) =
        bare_words.into_iter().find(|word| !LEVELS.contains(&word.trim().to_lowercase().as_str()))
    {
        anyhow::bail!(
            "invalid log level {word:?}: use one of off, error, warn, info, debug, trace, or directives such as flicker_engine=debug"
        );
    }
    tracing_subscriber::EnvFilter::try_new(text).with_context(|| format!("invalid log level {text:?}"))
}

/// Raises the open-file limit to its hard maximum: each environment costs the server a few
/// descriptors (its Runtime API listener and connections, its output pipe), and the soft
/// limit of a shell (often 1024) would cap the number of environments well below the
/// account concurrency limit.
fn raise_open_file_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => {
            if let Err(err) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                tracing::warn!(error = %err, soft, hard, "raising the open-file limit failed");
            }
        }
        Ok(_) => {}
        Err(err) => tracing::warn!(error = %err, "reading the open-file limit failed"),
    }
}

async fn run(settings: settings::Settings) -> anyhow::Result<()> {
    raise_open_file_limit();
    let engine_settings = EngineSettings {
        data_dir: settings.data_dir.clone(),
        region: settings.region.clone(),
        account_id: settings.account_id.clone(),
        concurrency_limit: settings.concurrency_limit,
        idle_keep_alive: settings.idle_keep_alive,
        init_timeout: settings.init_timeout,
        log_file_bytes: LOG_FILE_BYTES,
    };
    // The address is bound first, so that a taken port stops the server before the sandbox
    // changes anything on the host.
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("failed to listen on {}", settings.listen))?;
    let http_routes = match &settings.routes {
        Some(path) => flicker_http_events::RouteTable::load(path)?,
        None => flicker_http_events::RouteTable::default(),
    };
    let sandbox = sandbox::choose(&settings).await?;
    let engine = match Engine::start(engine_settings, sandbox.clone()).await {
        Ok(engine) => engine,
        Err(err) => {
            sandbox.shutdown();
            return Err(err)
                .with_context(|| format!("failed to open data directory {}", settings.data_dir.display()));
        }
    };
    let queues =
        match flicker_queue::QueueService::open(&settings.data_dir, &settings.region, &settings.account_id)
            .await
        {
            Ok(queues) => queues,
            Err(err) => {
                engine.shutdown();
                sandbox.shutdown();
                return Err(err).with_context(|| {
                    format!("failed to open the queues in data directory {}", settings.data_dir.display())
                });
            }
        };
    let event_settings =
        flicker_events::EventSettings { retry_scale: settings.async_retry_scale, ..Default::default() };
    let events = match flicker_events::Events::start(engine.clone(), event_settings).await {
        Ok(events) => events,
        Err(err) => {
            engine.shutdown();
            sandbox.shutdown();
            return Err(err).context("failed to open the asynchronous event journal");
        }
    };
    events.set_queue_target(std::sync::Arc::new(queues.clone()));
    let schedules = match start_schedules(&engine, &settings).await {
        Ok(schedules) => schedules,
        Err(err) => {
            engine.shutdown();
            sandbox.shutdown();
            return Err(err);
        }
    };
    let log_subscriptions = match LogSubscriptions::start(engine.clone()).await {
        Ok(log_subscriptions) => log_subscriptions,
        Err(err) => {
            engine.shutdown();
            sandbox.shutdown();
            return Err(err).context("failed to start the log subscriptions");
        }
    };
    log_subscriptions.apply_settings(&settings.log_subscriptions).await;
    let event_source_mappings = match flicker_pollers::EventSourceMappings::start(
        engine.clone(),
        std::sync::Arc::new(queues.clone()),
        &settings.data_dir.join("flicker.db"),
    )
    .await
    {
        Ok(mappings) => mappings,
        Err(err) => {
            engine.shutdown();
            sandbox.shutdown();
            return Err(err).context("failed to load event source mappings");
        }
    };
    let address = listener.local_addr()?;
    info!(%address, data_dir = %settings.data_dir.display(), region = %settings.region, "Flicker listening on http://{address}");

    if !http_routes.routes().is_empty() {
        info!(
            routes = http_routes.routes().len(),
            "HTTP routes served under http://{address}{}",
            flicker_api::ROUTES_PREFIX
        );
    }
    let state = flicker_api::AppState {
        engine: engine.clone(),
        http_routes: std::sync::Arc::new(http_routes),
        queues,
        events: events.clone(),
        schedules: schedules.clone(),
        log_subscriptions,
        event_source_mappings: event_source_mappings.clone(),
    };
    let stopping_queues = state.queues.clone();
    let router = flicker_api::router(state);
    let stopping = engine.clone();
    let stopping_mappings = event_source_mappings.clone();
    let stopping_events = events.clone();
    axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(async move {
            wait_for_signal().await;
            info!("stopping: shutting down environments");
            stopping_events.stop();
            schedules.shutdown();
            stopping_mappings.shutdown();
            stopping_queues.shutdown();
            stopping.shutdown();
        })
        .await
        .context("the server failed")?;
    event_source_mappings.shutdown();
    engine.shutdown();
    sandbox.shutdown();
    info!("stopped");
    Ok(())
}

/// Loads the stored schedule rules, applies those of the settings file and starts firing them.
async fn start_schedules(engine: &Engine, settings: &settings::Settings) -> anyhow::Result<Schedules> {
    let schedule_settings = ScheduleSettings { rate_minute: settings.schedule_rate_unit };
    let schedules = Schedules::start(engine.clone(), schedule_settings).await?;
    if let Err(err) = schedules.apply_configured(&settings.schedules).await {
        schedules.shutdown();
        return Err(err.into());
    }
    Ok(schedules)
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).expect("installing a SIGTERM handler succeeds");
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

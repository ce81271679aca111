//! Server settings from flags, `FLICKER_*` environment variables and an optional TOML file, in
//! that order of precedence, over built-in defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use flicker_triggers::log_subscription::wire::LogSubscriptionSetting;
use serde::Deserialize;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:9000";
pub const DEFAULT_DATA_DIR: &str = "flicker-data";
pub const DEFAULT_REGION: &str = "us-east-1";
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";
pub const DEFAULT_CONCURRENCY_LIMIT: usize = 1000;
pub const DEFAULT_IDLE_KEEP_ALIVE_SECONDS: u64 = 300;
pub const DEFAULT_INIT_TIMEOUT_SECONDS: u64 = 10;
pub const DEFAULT_LOG_LEVEL: &str = "info";
pub const DEFAULT_ASYNC_RETRY_SCALE: f64 = 1.0;
pub const DEFAULT_SCHEDULE_RATE_UNIT_SECONDS: u64 = 60;

/// Flags of `flicker serve`. Each also reads a `FLICKER_*` variable.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML file with settings; flags and environment variables override it.
    #[arg(long, env = "FLICKER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address and port of the API [default: 127.0.0.1:9000].
    #[arg(long, env = "FLICKER_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Directory holding the database, code, logs and runtime files [default: ./flicker-data].
    #[arg(long, env = "FLICKER_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Region used in ARNs and AWS_REGION [default: us-east-1].
    #[arg(long, env = "FLICKER_REGION")]
    pub region: Option<String>,

    /// Twelve-digit account id used in ARNs [default: 000000000000].
    #[arg(long, env = "FLICKER_ACCOUNT_ID")]
    pub account_id: Option<String>,

    /// Concurrent executions allowed across all functions [default: 1000].
    #[arg(long, env = "FLICKER_CONCURRENCY_LIMIT", value_name = "N")]
    pub concurrency_limit: Option<usize>,

    /// Seconds an idle environment stays warm before it is stopped [default: 300].
    #[arg(long, env = "FLICKER_IDLE_KEEP_ALIVE", value_name = "SECONDS")]
    pub idle_keep_alive: Option<u64>,

    /// Seconds a runtime may take to initialize [default: 10].
    #[arg(long, env = "FLICKER_INIT_TIMEOUT", value_name = "SECONDS")]
    pub init_timeout: Option<u64>,

    /// Log filter, such as `info` or `flicker_engine=debug` [default: info].
    #[arg(long, env = "FLICKER_LOG_LEVEL", value_name = "FILTER")]
    pub log_level: Option<String>,

    /// Isolation of environments: `namespace` (own namespaces, root file system, cgroup limits
    /// and seccomp filter) or `process` (plain child processes, no isolation)
    /// [default: namespace if a test environment starts, otherwise process with a warning].
    #[arg(long, env = "FLICKER_SANDBOX", value_name = "KIND")]
    pub sandbox: Option<SandboxKind>,

    /// Networking of namespace environments: `outbound` (a veth pair with NAT to the host's
    /// network) or `isolated` (loopback only) [default: outbound].
    #[arg(long, env = "FLICKER_NETWORK", value_name = "MODE")]
    pub network: Option<NetworkSetting>,

    /// CPU limit of namespace environments, proportional to memory with 1769 MB per vCPU.
    /// `weight` sets a share, and idle CPU may be used beyond it. `quota` sets a hard cap per
    /// 100 ms [default: weight].
    #[arg(long, env = "FLICKER_CPU_LIMIT", value_name = "MODE")]
    pub cpu_limit: Option<CpuLimitSetting>,

    /// Factor applied to the delays before retrying a failed asynchronous invocation, which
    /// are 60 and 120 seconds as in Lambda; 0.01 makes them 0.6 and 1.2 seconds [default: 1].
    #[arg(long, env = "FLICKER_ASYNC_RETRY_SCALE", value_name = "FACTOR")]
    pub async_retry_scale: Option<f64>,
    /// TOML file of HTTP routes served under /routes, one `[[route]]` table with `method`,
    /// `path`, `function` and `payload_format` each [default: no routes].
    #[arg(long, env = "FLICKER_ROUTES", value_name = "FILE")]
    pub routes: Option<PathBuf>,
    /// Seconds in one minute of schedule `rate()` expressions; hours and days scale with it,
    /// cron expressions do not. Lower it only to test schedules quickly [default: 60].
    #[arg(long, env = "FLICKER_SCHEDULE_RATE_UNIT_SECONDS", value_name = "SECONDS")]
    pub schedule_rate_unit_seconds: Option<u64>,
}

/// The `--sandbox` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SandboxKind {
    Namespace,
    Process,
}

/// The `--network` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkSetting {
    #[default]
    Outbound,
    Isolated,
}

/// The `--cpu-limit` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CpuLimitSetting {
    #[default]
    Weight,
    Quota,
}

/// The settings file. Keys match the flags with underscores.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    region: Option<String>,
    account_id: Option<String>,
    concurrency_limit: Option<usize>,
    idle_keep_alive: Option<u64>,
    init_timeout: Option<u64>,
    log_level: Option<String>,
    sandbox: Option<SandboxKind>,
    network: Option<NetworkSetting>,
    cpu_limit: Option<CpuLimitSetting>,
    async_retry_scale: Option<f64>,
    routes: Option<PathBuf>,
    schedule_rate_unit_seconds: Option<u64>,
    /// `[[schedules]]` tables.
    #[serde(default)]
    schedules: Vec<flicker_triggers::schedule::ConfiguredSchedule>,
    /// `[[log_subscriptions]]` tables: subscription filters applied at start.
    #[serde(default)]
    log_subscriptions: Vec<LogSubscriptionSetting>,
}

/// The settings in force.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub region: String,
    pub account_id: String,
    pub concurrency_limit: usize,
    pub idle_keep_alive: Duration,
    pub init_timeout: Duration,
    pub log_level: String,
    /// `None` chooses `namespace` if it works on this host.
    pub sandbox: Option<SandboxKind>,
    pub network: NetworkSetting,
    pub cpu_limit: CpuLimitSetting,
    /// Factor applied to the retry delays of asynchronous invocations.
    pub async_retry_scale: f64,
    /// The HTTP routes file, if any.
    pub routes: Option<PathBuf>,
    /// The length of one minute of `rate()` expressions.
    pub schedule_rate_unit: Duration,
    /// Schedule rules from the settings file.
    pub schedules: Vec<flicker_triggers::schedule::ConfiguredSchedule>,
    /// Subscription filters of the settings file, which has the only way to set them.
    pub log_subscriptions: Vec<LogSubscriptionSetting>,
}

fn read_file(path: &Path) -> anyhow::Result<FileSettings> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read settings file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid settings file {}", path.display()))
}

impl ServeArgs {
    pub fn resolve(self) -> anyhow::Result<Settings> {
        let file = match &self.config {
            Some(path) => read_file(path)?,
            None => FileSettings::default(),
        };
        let settings = Settings {
            listen: self
                .listen
                .or(file.listen)
                .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("default address parses")),
            data_dir: self.data_dir.or(file.data_dir).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            region: self.region.or(file.region).unwrap_or_else(|| DEFAULT_REGION.to_string()),
            account_id: self.account_id.or(file.account_id).unwrap_or_else(|| DEFAULT_ACCOUNT_ID.to_string()),
            concurrency_limit: self
                .concurrency_limit
                .or(file.concurrency_limit)
                .unwrap_or(DEFAULT_CONCURRENCY_LIMIT),
            idle_keep_alive: Duration::from_secs(
                self.idle_keep_alive.or(file.idle_keep_alive).unwrap_or(DEFAULT_IDLE_KEEP_ALIVE_SECONDS),
            ),
            init_timeout: Duration::from_secs(
                self.init_timeout.or(file.init_timeout).unwrap_or(DEFAULT_INIT_TIMEOUT_SECONDS),
            ),
            log_level: self.log_level.or(file.log_level).unwrap_or_else(|| DEFAULT_LOG_LEVEL.to_string()),
            sandbox: self.sandbox.or(file.sandbox),
            network: self.network.or(file.network).unwrap_or_default(),
            cpu_limit: self.cpu_limit.or(file.cpu_limit).unwrap_or_default(),
            async_retry_scale: self
                .async_retry_scale
                .or(file.async_retry_scale)
                .unwrap_or(DEFAULT_ASYNC_RETRY_SCALE),
            routes: self.routes.or(file.routes),
            schedule_rate_unit: Duration::from_secs(
                self.schedule_rate_unit_seconds
                    .or(file.schedule_rate_unit_seconds)
                    .unwrap_or(DEFAULT_SCHEDULE_RATE_UNIT_SECONDS),
            ),
            schedules: file.schedules,
            log_subscriptions: file.log_subscriptions,
        };
        settings.validate()?;
        Ok(settings)
    }
}

impl Settings {
    fn validate(&self) -> anyhow::Result<()> {
        if self.account_id.len() != 12 || !self.account_id.bytes().all(|b| b.is_ascii_digit()) {
            anyhow::bail!("invalid account id {:?}: it must be twelve digits", self.account_id);
        }
        let region_ok = self.region.split('-').count() >= 3
            && self.region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !region_ok {
            anyhow::bail!("invalid region {:?}: expected a name such as us-east-1", self.region);
        }
        if !(self.async_retry_scale.is_finite() && self.async_retry_scale >= 0.0) {
            anyhow::bail!(
                "invalid async retry scale {}: it must be a number of at least 0",
                self.async_retry_scale
            );
        }
        if self.concurrency_limit == 0 {
            anyhow::bail!("invalid concurrency limit 0: it must be at least 1");
        }
        if self.schedule_rate_unit.is_zero() {
            anyhow::bail!("invalid schedule rate unit 0: it must be at least 1 second");
        }
        for schedule in &self.schedules {
            schedule.validate()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty_args() -> ServeArgs {
        ServeArgs {
            config: None,
            listen: None,
            data_dir: None,
            region: None,
            account_id: None,
            concurrency_limit: None,
            idle_keep_alive: None,
            init_timeout: None,
            log_level: None,
            sandbox: None,
            network: None,
            cpu_limit: None,
            async_retry_scale: None,
            routes: None,
            schedule_rate_unit_seconds: None,
        }
    }

    #[test]
    fn defaults_listen_on_loopback() {
        let settings = empty_args().resolve().unwrap();
        assert!(settings.listen.ip().is_loopback());
        assert_eq!(settings.concurrency_limit, 1000);
    }

    #[test]
    fn flag_overrides_file_and_file_overrides_default() {
        let dir = std::env::temp_dir().join(format!("flicker-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("flicker.toml");
        std::fs::write(&path, "region = \"eu-west-1\"\nconcurrency_limit = 7\n").unwrap();
        let mut args = empty_args();
        args.config = Some(path);
        args.concurrency_limit = Some(9);
        let settings = args.resolve().unwrap();
        assert_eq!(settings.region, "eu-west-1");
        assert_eq!(settings.concurrency_limit, 9);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn unknown_file_key_is_rejected() {
        let dir = std::env::temp_dir().join(format!("flicker-settings-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("flicker.toml");
        std::fs::write(&path, "listen_port = 1\n").unwrap();
        let mut args = empty_args();
        args.config = Some(path);
        assert!(args.resolve().is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn sandbox_settings_default_and_read_file() {
        let settings = empty_args().resolve().unwrap();
        assert_eq!(settings.sandbox, None);
        assert_eq!(settings.network, NetworkSetting::Outbound);
        assert_eq!(settings.cpu_limit, CpuLimitSetting::Weight);

        let dir = std::env::temp_dir().join(format!("flicker-settings-sandbox-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("flicker.toml");
        std::fs::write(&path, "sandbox = \"process\"\nnetwork = \"isolated\"\ncpu_limit = \"quota\"\n")
            .unwrap();
        let mut args = empty_args();
        args.config = Some(path);
        args.sandbox = Some(SandboxKind::Namespace);
        let settings = args.resolve().unwrap();
        assert_eq!(settings.sandbox, Some(SandboxKind::Namespace));
        assert_eq!(settings.network, NetworkSetting::Isolated);
        assert_eq!(settings.cpu_limit, CpuLimitSetting::Quota);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn schedules_read_file() {
        let dir = std::env::temp_dir().join(format!("flicker-settings-schedules-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("flicker.toml");
        let text = "schedule_rate_unit_seconds = 2\n\n[[schedules]]\nname = \"nightly\"\nexpression = \"cron(0 2 * * ? *)\"\nfunction = \"report\"\ninput = '{\"full\": true}'\n";
        std::fs::write(&path, text).unwrap();
        let mut args = empty_args();
        args.config = Some(path);
        let settings = args.resolve().unwrap();
        assert_eq!(settings.schedule_rate_unit, Duration::from_secs(2));
        assert_eq!(settings.schedules.len(), 1);
        assert_eq!(settings.schedules[0].function, "report");
        assert_eq!(settings.schedules[0].input.as_deref(), Some("{\"full\": true}"));
        assert_eq!(empty_args().resolve().unwrap().schedule_rate_unit, Duration::from_secs(60));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn log_subscriptions_read_from_file() {
        let dir = std::env::temp_dir().join(format!("flicker-settings-logs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("flicker.toml");
        let text = "[[log_subscriptions]]\nlog_group = \"/aws/lambda/app\"\nfilter_name = \"errors\"\n\
                    filter_pattern = \"ERROR\"\ndestination_arn = \"arn:aws:lambda:us-east-1:000000000000:function:sink\"\n";
        std::fs::write(&path, text).unwrap();
        let mut args = empty_args();
        args.config = Some(path);
        let settings = args.resolve().unwrap();
        assert_eq!(settings.log_subscriptions.len(), 1);
        assert_eq!(settings.log_subscriptions[0].log_group, "/aws/lambda/app");
        assert_eq!(settings.log_subscriptions[0].filter_pattern, "ERROR");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_account_id_is_rejected() {
        let mut args = empty_args();
        args.account_id = Some("123".into());
        let err = args.resolve().unwrap_err().to_string();
        assert!(err.contains("\"123\""), "{err}");
    }

    #[test]
    fn async_retry_scale_reads_file_and_rejects_negative() {
        assert_eq!(empty_args().resolve().unwrap().async_retry_scale, 1.0);
        let dir = std::env::temp_dir().join(format!("flicker-settings-async-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("flicker.toml");
        std::fs::write(&path, "async_retry_scale = 0.01\n").unwrap();
        let mut args = empty_args();
        args.config = Some(path);
        assert_eq!(args.resolve().unwrap().async_retry_scale, 0.01);
        std::fs::remove_dir_all(dir).unwrap();

        let mut args = empty_args();
        args.async_retry_scale = Some(-1.0);
        assert!(args.resolve().is_err());
    }
}

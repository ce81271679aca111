//! Choosing the sandbox of `flicker serve` from the settings.

use std::sync::Arc;

use anyhow::Context;
use flicker_sandbox::namespace::{CpuLimit, HelperCommand, NetworkMode};
use flicker_sandbox::{NamespaceConfig, NamespaceSandbox, ProcessSandbox, Sandbox};
use tracing::{info, warn};

use crate::settings::{CpuLimitSetting, NetworkSetting, SandboxKind, Settings};

/// Builds the sandbox in force. Without `--sandbox`, the namespace sandbox is used if a test
/// environment starts and exits cleanly; otherwise the process sandbox, with a warning.
pub async fn choose(settings: &Settings) -> anyhow::Result<Arc<dyn Sandbox>> {
    match settings.sandbox {
        Some(SandboxKind::Process) => Ok(process()),
        Some(SandboxKind::Namespace) => {
            let sandbox = namespace(settings).await.context("the namespace sandbox is not available")?;
            Ok(Arc::new(sandbox))
        }
        None => match namespace(settings).await {
            Ok(sandbox) => Ok(Arc::new(sandbox)),
            Err(err) => {
                warn!(
                    error = format!("{err:#}"),
                    "the namespace sandbox is not available, so environments run as plain processes without isolation"
                );
                Ok(process())
            }
        },
    }
}

fn process() -> Arc<dyn Sandbox> {
    info!("environments run as plain processes (--sandbox process)");
    Arc::new(ProcessSandbox)
}

async fn namespace(settings: &Settings) -> anyhow::Result<NamespaceSandbox> {
    let config = NamespaceConfig {
        state_dir: settings.data_dir.join("sandbox"),
        helper: HelperCommand::current_exe(),
        network: match settings.network {
            NetworkSetting::Outbound => NetworkMode::Outbound,
            NetworkSetting::Isolated => NetworkMode::Isolated,
        },
        cpu_limit: match settings.cpu_limit {
            CpuLimitSetting::Weight => CpuLimit::Weight,
            CpuLimitSetting::Quota => CpuLimit::Quota,
        },
    };
    let sandbox = NamespaceSandbox::new(config)?;
    sandbox.probe().await?;
    info!(cgroups = sandbox.enforces_cgroups(), "environments run in the namespace sandbox");
    Ok(sandbox)
}

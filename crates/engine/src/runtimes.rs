//! The interpreters installed on the host, and which one runs each Lambda runtime identifier.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use flicker_model::{ApiError, Language, RuntimeId};

/// An interpreter found on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreter {
    pub path: PathBuf,
    /// The full version it reports, such as `3.11.2` or `20.20.2`.
    pub version: String,
}

/// The installed interpreters, found once at start-up.
#[derive(Debug, Clone, Default)]
pub struct RuntimeCatalog {
    /// Python interpreters by minor version (`3.11`).
    python: BTreeMap<String, Interpreter>,
    /// The `python3` command, used for identifiers without an exact match.
    python_default: Option<Interpreter>,
    node: Option<Interpreter>,
}

/// Directories searched before `PATH`.
const SYSTEM_DIRS: &[&str] = &["/usr/local/bin", "/usr/bin", "/bin"];

fn search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = SYSTEM_DIRS.iter().map(PathBuf::from).collect();
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
    }
    dirs
}

fn find_program(dirs: &[PathBuf], name: &str) -> Option<PathBuf> {
    dirs.iter().map(|dir| dir.join(name)).find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// Asks a found program for its real executable and version. Version-manager shims (pyenv,
/// nvm) resolve to the interpreter behind them here, so that environments start the
/// interpreter directly instead of paying for the shim on every cold start.
fn probe(dirs: &[PathBuf], name: &str, language: Language) -> Option<Interpreter> {
    let program = find_program(dirs, name)?;
    let script = match language {
        Language::Python => {
            ["-c", "import sys, platform; print(sys.executable); print(platform.python_version())"]
        }
        _ => ["-p", "process.execPath + '\\n' + process.versions.node"],
    };
    let output = Command::new(&program).args(script).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let mut lines = text.lines();
    let path = std::fs::canonicalize(lines.next()?.trim()).ok()?;
    let version = lines.next()?.trim().to_string();
    is_executable(&path).then_some(Interpreter { path, version })
}

impl RuntimeCatalog {
    /// Finds the Python and Node.js interpreters of the host.
    pub fn discover() -> Self {
        let dirs = search_dirs();
        let mut python = BTreeMap::new();
        for minor in 9..=13 {
            let version = format!("3.{minor}");
            if let Some(interpreter) = probe(&dirs, &format!("python{version}"), Language::Python) {
                python.insert(version, interpreter);
            }
        }
        let python_default = probe(&dirs, "python3", Language::Python);
        Self { python, python_default, node: probe(&dirs, "node", Language::Node) }
    }

    /// The interpreter that runs `runtime`; `None` for custom runtimes, which need none.
    pub fn resolve(&self, runtime: &RuntimeId) -> Result<Option<Interpreter>, ApiError> {
        let found = match runtime.language() {
            Language::Provided => return Ok(None),
            Language::Python => {
                runtime.language_version().and_then(|v| self.python.get(v)).or(self.python_default.as_ref())
            }
            Language::Node => self.node.as_ref(),
        };
        found.cloned().map(Some).ok_or_else(|| {
            ApiError::invalid_parameter(format!(
                "The runtime {runtime} needs an interpreter that is not installed on this server. \
                 Installed runtimes: {}.",
                self.installed().join(", ")
            ))
        })
    }

    /// Each distinct Python interpreter found.
    pub fn python_interpreters(&self) -> Vec<&Interpreter> {
        let mut distinct: Vec<&Interpreter> = Vec::new();
        for interpreter in self.python.values().chain(self.python_default.iter()) {
            if !distinct.iter().any(|known| known.path == interpreter.path) {
                distinct.push(interpreter);
            }
        }
        distinct
    }

    /// Descriptions of what is installed, such as `python 3.11.2 (/usr/bin/python3.11)`.
    pub fn installed(&self) -> Vec<String> {
        let mut installed = vec!["provided (custom runtimes)".to_string()];
        for interpreter in self.python_interpreters() {
            installed.push(format!("python {} ({})", interpreter.version, interpreter.path.display()));
        }
        if let Some(node) = &self.node {
            installed.push(format!("nodejs {} ({})", node.version, node.path.display()));
        }
        installed
    }

    #[cfg(test)]
    pub(crate) fn empty() -> Self {
        Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_language_is_rejected_naming_installed() {
        let catalog = RuntimeCatalog::empty();
        let err = catalog.resolve(&RuntimeId::parse("python3.11").unwrap()).unwrap_err();
        assert_eq!(err.code, "InvalidParameterValueException");
        assert!(err.message.contains("provided (custom runtimes)"), "{}", err.message);
    }

    #[test]
    fn provided_needs_no_interpreter() {
        let catalog = RuntimeCatalog::empty();
        assert_eq!(catalog.resolve(&RuntimeId::parse("provided.al2023").unwrap()).unwrap(), None);
    }
}

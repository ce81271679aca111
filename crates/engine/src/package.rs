//! Deployment packages: checking an uploaded zip, finding the handler file in it, and
//! unpacking it once per digest.

use std::collections::HashSet;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use flicker_model::{limits, ApiError, Language, RuntimeId};
use sha2::{Digest, Sha256};

/// What Flicker needs to know about an uploaded zip.
#[derive(Debug, Clone)]
pub struct PackageInfo {
    /// Lower-case hex of the SHA-256, used to name blobs and unpacked directories.
    pub sha256_hex: String,
    /// Base64 of the raw SHA-256, as `CodeSha256` is sent.
    pub sha256_base64: String,
    pub size: u64,
    files: HashSet<String>,
}

fn unzip_error() -> ApiError {
    ApiError::invalid_parameter(
        "Could not unzip uploaded file. Please check your file, then try to upload again.",
    )
}

/// Reads the zip's directory and checks the size limits.
pub fn inspect(zip: &[u8]) -> Result<PackageInfo, ApiError> {
    if zip.len() as u64 > limits::CODE_ZIPPED {
        return Err(ApiError::entity_too_large(format!(
            "Zipped size must be smaller than {} bytes",
            limits::CODE_ZIPPED
        )));
    }
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).map_err(|_| unzip_error())?;
    let mut files = HashSet::new();
    let mut unzipped_size = 0u64;
    for index in 0..archive.len() {
        let entry = archive.by_index_raw(index).map_err(|_| unzip_error())?;
        unzipped_size = unzipped_size.saturating_add(entry.size());
        if entry.is_file() {
            files.insert(entry.name().trim_start_matches("./").to_string());
        }
    }
    if unzipped_size > limits::CODE_UNZIPPED {
        return Err(ApiError::invalid_parameter(format!(
            "Unzipped size must be smaller than {} bytes",
            limits::CODE_UNZIPPED
        )));
    }
    let digest = Sha256::digest(zip);
    Ok(PackageInfo {
        sha256_hex: hex(&digest),
        sha256_base64: base64::engine::general_purpose::STANDARD.encode(digest),
        size: zip.len() as u64,
        files,
    })
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Converts a `CodeSha256` value back to the hex name of its blob.
pub fn base64_to_hex(sha256_base64: &str) -> Option<String> {
    base64::engine::general_purpose::STANDARD.decode(sha256_base64).ok().map(|raw| hex(&raw))
}

/// The files that can provide `handler` for `runtime`, relative to the package root.
pub fn handler_candidates(runtime: &RuntimeId, handler: &str) -> Vec<String> {
    match runtime.language() {
        Language::Provided => vec!["bootstrap".to_string()],
        Language::Python => {
            let Some((module, _)) = handler.rsplit_once('.') else {
                return Vec::new();
            };
            let path = module.replace('.', "/");
            vec![format!("{path}.py"), format!("{path}/__init__.py"), format!("{path}.pyc")]
        }
        Language::Node => {
            let Some((module, _)) = handler.rsplit_once('.') else {
                return Vec::new();
            };
            ["js", "mjs", "cjs"].iter().map(|ext| format!("{module}.{ext}")).collect()
        }
    }
}

impl PackageInfo {
    /// Rejects a package that lacks the file the handler names. A malformed handler is left
    /// for the runtime to report at invocation time, as Lambda does.
    pub fn check_handler(&self, runtime: &RuntimeId, handler: &str) -> Result<(), ApiError> {
        check_handler_with(runtime, handler, |file| self.files.contains(file))
    }
}

/// Rejects a handler for which `exists` finds none of the candidate files.
pub fn check_handler_with(
    runtime: &RuntimeId,
    handler: &str,
    exists: impl Fn(&str) -> bool,
) -> Result<(), ApiError> {
    let candidates = handler_candidates(runtime, handler);
    if candidates.is_empty() || candidates.iter().any(|c| exists(c)) {
        return Ok(());
    }
    Err(ApiError::invalid_parameter(format!(
        "The deployment package has no file for handler '{handler}' of runtime {runtime}: expected {}.",
        candidates.join(" or ")
    )))
}

/// Unpacks `zip` into `root/<sha256_hex>` unless that directory exists, and returns it.
/// The archive is unpacked next to its final place and renamed, so a crash never leaves a
/// half-unpacked directory under the final name.
pub fn unpack(zip: &[u8], root: &Path, sha256_hex: &str) -> std::io::Result<PathBuf> {
    let target = root.join(sha256_hex);
    if target.is_dir() {
        return Ok(target);
    }
    std::fs::create_dir_all(root)?;
    let staging = tempfile_dir(root, sha256_hex)?;
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).map_err(std::io::Error::other)?;
    archive.extract(&staging).map_err(std::io::Error::other)?;
    make_bootstrap_executable(&staging)?;
    match std::fs::rename(&staging, &target) {
        Ok(()) => Ok(target),
        Err(_) if target.is_dir() => {
            std::fs::remove_dir_all(&staging)?;
            Ok(target)
        }
        Err(err) => Err(err),
    }
}

fn tempfile_dir(root: &Path, sha256_hex: &str) -> std::io::Result<PathBuf> {
    let staging = root.join(format!(".{sha256_hex}.{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir(&staging)?;
    Ok(staging)
}

/// Custom runtimes start `bootstrap` directly, but zips made on Windows or by tools that record
/// no Unix mode carry no execute bit, so a top-level `bootstrap` is always made executable.
fn make_bootstrap_executable(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let bootstrap = dir.join("bootstrap");
    if bootstrap.is_file() {
        std::fs::set_permissions(bootstrap, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
        let mut buffer = Cursor::new(Vec::new());
        let mut writer = zip::ZipWriter::new(&mut buffer);
        for (name, content) in files {
            writer.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            writer.write_all(content.as_bytes()).unwrap();
        }
        writer.finish().unwrap();
        buffer.into_inner()
    }

    #[test]
    fn inspect_rejects_non_zip() {
        let err = inspect(b"not a zip").unwrap_err();
        assert_eq!(
            err.message,
            "Could not unzip uploaded file. Please check your file, then try to upload again."
        );
    }

    #[test]
    fn inspect_reports_digest_in_both_encodings() {
        let info = inspect(&zip_of(&[("app.py", "x = 1\n")])).unwrap();
        assert_eq!(info.sha256_hex.len(), 64);
        assert_eq!(base64_to_hex(&info.sha256_base64).unwrap(), info.sha256_hex);
    }

    #[test]
    fn python_handler_file_is_required() {
        let info = inspect(&zip_of(&[("app.py", "")])).unwrap();
        let python = RuntimeId::parse("python3.11").unwrap();
        assert!(info.check_handler(&python, "app.handler").is_ok());
        let err = info.check_handler(&python, "other.handler").unwrap_err();
        assert!(err.message.contains("other.py"), "{}", err.message);
    }

    #[test]
    fn python_package_and_nested_module() {
        let info = inspect(&zip_of(&[("src/app.py", ""), ("pkg/__init__.py", "")])).unwrap();
        let python = RuntimeId::parse("python3.11").unwrap();
        assert!(info.check_handler(&python, "src/app.handler").is_ok());
        assert!(info.check_handler(&python, "pkg.handler").is_ok());
    }

    #[test]
    fn node_handler_accepts_mjs() {
        let info = inspect(&zip_of(&[("index.mjs", "")])).unwrap();
        let node = RuntimeId::parse("nodejs20.x").unwrap();
        assert!(info.check_handler(&node, "index.handler").is_ok());
    }

    #[test]
    fn provided_needs_bootstrap() {
        let info = inspect(&zip_of(&[("main", "")])).unwrap();
        let provided = RuntimeId::parse("provided.al2023").unwrap();
        assert!(info.check_handler(&provided, "anything").is_err());
    }

    #[test]
    fn unpack_makes_bootstrap_executable() {
        use std::os::unix::fs::PermissionsExt;
        let zip = zip_of(&[("bootstrap", "#!/bin/sh\n")]);
        let dir = tempfile::tempdir().unwrap();
        let target = unpack(&zip, dir.path(), "abc").unwrap();
        let mode = std::fs::metadata(target.join("bootstrap")).unwrap().permissions().mode();
        assert_ne!(mode & 0o111, 0);
        assert_eq!(unpack(&zip, dir.path(), "abc").unwrap(), target);
    }
}

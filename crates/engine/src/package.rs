//! Deployment packages: checking an uploaded zip, finding the handler file in it, and
//! unpacking it once per digest.

use std::collections::HashSet;
use std::io::{Cursor, Read};
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
    /// Sum of the uncompressed sizes the archive declares.
    pub unzipped_size: u64,
    files: HashSet<String>,
}

fn unzip_error() -> ApiError {
    ApiError::invalid_parameter(
        "Could not unzip uploaded file. Please check your file, then try to upload again.",
    )
}

/// Sums the uncompressed sizes that the zip's directory declares.
pub fn unzipped_size(zip: &[u8]) -> Result<u64, ApiError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).map_err(|_| unzip_error())?;
    let mut total = 0u64;
    for index in 0..archive.len() {
        let entry = archive.by_index_raw(index).map_err(|_| unzip_error())?;
        total = total.saturating_add(entry.size());
    }
    Ok(total)
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
        unzipped_size,
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

/// Why a package could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// the archive is damaged or has an entry outside the package
    #[error("the archive cannot be unpacked: {0}")]
    Invalid(String),
    /// the unpacked files exceed the size limit
    #[error("the unpacked files exceed {} bytes", limits::CODE_UNZIPPED)]
    TooLarge,
    /// a file or directory could not be written
    #[error("failed to write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl UnpackError {
    /// The error a client sees for a package that cannot be unpacked.
    pub fn to_api_error(&self) -> ApiError {
        match self {
            Self::Invalid(_) => unzip_error(),
            Self::TooLarge => ApiError::invalid_parameter(format!(
                "Unzipped size must be smaller than {} bytes",
                limits::CODE_UNZIPPED
            )),
            Self::Io { .. } => ApiError::service(format!("Failed to unpack the code: {self}")),
        }
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> UnpackError + '_ {
    move |source| UnpackError::Io { path: path.to_path_buf(), source }
}

/// Maps an error of writing an entry of the archive. An entry that collides with an earlier
/// one (a file where a directory must be, a directory or symbolic link where a file must be)
/// is a fault of the archive, so it makes the archive invalid instead of failing the server.
fn entry_error<'a>(relative: &'a Path) -> impl FnOnce(std::io::Error) -> UnpackError + 'a {
    use std::io::ErrorKind;
    move |source| {
        let collides = matches!(
            source.kind(),
            ErrorKind::NotADirectory | ErrorKind::IsADirectory | ErrorKind::AlreadyExists
        ) || source.raw_os_error() == Some(nix::libc::ELOOP);
        if collides {
            UnpackError::Invalid(format!(
                "entry {} collides with an earlier entry: {source}",
                relative.display()
            ))
        } else {
            UnpackError::Io { path: relative.to_path_buf(), source }
        }
    }
}

/// Unpacks `zip` into `root/<sha256_hex>` unless that directory exists, and returns it.
/// The archive is unpacked next to its final place and renamed, so a crash never leaves a
/// half-unpacked directory under the final name; a failed unpack leaves nothing behind.
pub fn unpack(zip: &[u8], root: &Path, sha256_hex: &str) -> Result<PathBuf, UnpackError> {
    let target = root.join(sha256_hex);
    if target.is_dir() {
        return Ok(target);
    }
    std::fs::create_dir_all(root).map_err(io_error(root))?;
    let staging = root.join(format!(".{sha256_hex}.{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir(&staging).map_err(io_error(&staging))?;
    let extracted = extract(zip, &staging).and_then(|()| make_bootstrap_executable(&staging));
    if let Err(err) = extracted {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(err);
    }
    match std::fs::rename(&staging, &target) {
        Ok(()) => Ok(target),
        Err(_) if target.is_dir() => {
            let _ = std::fs::remove_dir_all(&staging);
            Ok(target)
        }
        Err(source) => Err(UnpackError::Io { path: target, source }),
    }
}

/// The file type bits of a Unix mode, and the value that marks a symbolic link.
const FILE_TYPE_MASK: u32 = 0o170_000;
const SYMLINK_TYPE: u32 = 0o120_000;
/// Permission bits kept from the zip: no setuid, setgid or sticky bit and no write access
/// for group or others, because the files live on the host and are owned by the server's user.
const KEPT_PERMISSIONS: u32 = 0o755;

/// Writes every entry of `zip` under `dir`. The zip crate's own `extract` is not used because
/// it trusts the sizes the archive declares, applies setuid bits from the archive on the host,
/// and follows symbolic links that earlier entries created.
fn extract(zip: &[u8], dir: &Path) -> Result<(), UnpackError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

    let invalid = |err: zip::result::ZipError| UnpackError::Invalid(err.to_string());
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).map_err(invalid)?;
    let mut written = 0u64;
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(invalid)?;
        let Some(relative) = entry.enclosed_name() else {
            return Err(UnpackError::Invalid(format!("entry {:?} points outside the package", entry.name())));
        };
        let path = dir.join(&relative);
        reject_symlinked_parents(dir, &relative)?;
        if entry.is_dir() {
            std::fs::create_dir_all(&path).map_err(entry_error(&relative))?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(entry_error(&relative))?;
        }
        let mode = entry.unix_mode();
        if mode.is_some_and(|m| m & FILE_TYPE_MASK == SYMLINK_TYPE) {
            let mut target = String::new();
            std::io::Read::read_to_string(&mut (&mut entry).take(4096), &mut target)
                .map_err(|err| UnpackError::Invalid(err.to_string()))?;
            let _ = std::fs::remove_file(&path);
            std::os::unix::fs::symlink(&target, &path).map_err(entry_error(&relative))?;
            continue;
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&path)
            .map_err(entry_error(&relative))?;
        let remaining = limits::CODE_UNZIPPED - written;
        let copied = std::io::copy(&mut (&mut entry).take(remaining + 1), &mut file)
            .map_err(|err| UnpackError::Invalid(format!("entry {:?}: {err}", entry.name())))?;
        written += copied;
        if written > limits::CODE_UNZIPPED {
            return Err(UnpackError::TooLarge);
        }
        let permissions = mode.map_or(0o644, |m| m & KEPT_PERMISSIONS);
        file.set_permissions(std::fs::Permissions::from_mode(permissions)).map_err(io_error(&path))?;
    }
    Ok(())
}

/// Rejects an entry whose parent directories include a symbolic link from an earlier entry,
/// which would make the entry land outside the package.
fn reject_symlinked_parents(dir: &Path, relative: &Path) -> Result<(), UnpackError> {
    let mut current = dir.to_path_buf();
    for component in relative.parent().into_iter().flat_map(Path::components) {
        current.push(component);
        if std::fs::symlink_metadata(&current).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(UnpackError::Invalid(format!(
                "entry {} passes through a symbolic link",
                relative.display()
            )));
        }
    }
    Ok(())
}

/// Custom runtimes start `bootstrap` directly, but zips made on Windows or by tools that record
/// no Unix mode carry no execute bit, so a top-level `bootstrap` that is a regular file is
/// always made executable. A symbolic link is left alone, because changing it would change
/// its target on the host.
fn make_bootstrap_executable(dir: &Path) -> Result<(), UnpackError> {
    use std::os::unix::fs::PermissionsExt;
    let bootstrap = dir.join("bootstrap");
    if std::fs::symlink_metadata(&bootstrap).is_ok_and(|m| m.file_type().is_file()) {
        std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755))
            .map_err(io_error(&bootstrap))?;
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

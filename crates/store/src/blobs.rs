//! Code blobs, stored once per SHA-256 digest under the data directory.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::StoreError;

/// A directory of immutable blobs named by the hex SHA-256 of their content.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        fs::create_dir_all(root).map_err(|source| StoreError::Blob { path: root.into(), source })?;
        Ok(Self { root: root.into() })
    }

    pub fn path(&self, sha256_hex: &str) -> PathBuf {
        self.root.join(format!("{sha256_hex}.zip"))
    }

    /// Writes a blob durably (temporary file, fsync, rename) unless it exists already.
    pub fn put(&self, sha256_hex: &str, content: &[u8]) -> Result<PathBuf, StoreError> {
        let path = self.path(sha256_hex);
        if path.exists() {
            return Ok(path);
        }
        let temporary = self.root.join(format!(".{sha256_hex}.{}.tmp", std::process::id()));
        let blob_error = |source| StoreError::Blob { path: temporary.clone(), source };
        let mut file = fs::File::create(&temporary).map_err(blob_error)?;
        file.write_all(content).map_err(blob_error)?;
        file.sync_all().map_err(blob_error)?;
        fs::rename(&temporary, &path).map_err(|source| StoreError::Blob { path: path.clone(), source })?;
        Ok(path)
    }

    pub fn get(&self, sha256_hex: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.path(sha256_hex);
        fs::read(&path).map_err(|source| StoreError::Blob { path, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_then_get_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(dir.path()).unwrap();
        blobs.put("ab", b"zip bytes").unwrap();
        assert_eq!(blobs.get("ab").unwrap(), b"zip bytes");
    }
}

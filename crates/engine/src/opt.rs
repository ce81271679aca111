//! The `/opt` directory of a function: its unpacked layers merged in order into one directory
//! per distinct list of layers. This module only arranges files on the host; the sandbox mounts
//! the result read-only.

use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::package::hex;

/// Failure to build the merged `/opt` directory.
#[derive(Debug, thiserror::Error)]
#[error("failed to merge layers into {path}")]
pub struct MergeLayersError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

/// Returns the name of the merged directory of an ordered list of layer digests.
pub fn merged_name(layer_digests: &[String]) -> String {
    hex(&Sha256::digest(layer_digests.join("\n").as_bytes()))
}

/// Merges the unpacked `layers` in order into `root/<name>` unless that directory exists, and
/// returns it.
///
/// NOTE: merged directories are never removed, like unpacked code, so a server with many
/// distinct lists of layers accumulates them under the data directory. A file of a later layer replaces the file, link or directory at the same path
/// of an earlier one. The merge happens next to the final place and is renamed, so a crash
/// never leaves a half-merged directory under the final name.
pub fn merge(layers: &[PathBuf], root: &Path, name: &str) -> Result<PathBuf, MergeLayersError> {
    let target = root.join(name);
    if target.is_dir() {
        return Ok(target);
    }
    let error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| MergeLayersError { path, source }
    };
    std::fs::create_dir_all(root).map_err(error(root))?;
    let staging = root.join(format!(".{name}.{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir(&staging).map_err(error(&staging))?;
    let merged = layers.iter().try_for_each(|layer| merge_tree(layer, &staging));
    if let Err(source) = merged {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(MergeLayersError { path: staging, source });
    }
    match std::fs::rename(&staging, &target) {
        Ok(()) => Ok(target),
        Err(_) if target.is_dir() => {
            let _ = std::fs::remove_dir_all(&staging);
            Ok(target)
        }
        Err(source) => Err(MergeLayersError { path: target, source }),
    }
}

/// Adds the entries of `source` to `destination`. Symbolic links are copied as links and never
/// followed, so a link of one layer cannot make another layer's files land outside the merge.
fn merge_tree(source: &Path, destination: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(source)? {
        let entry = entry?;
        let from = entry.path();
        let to = destination.join(entry.file_name());
        let kind = entry.file_type()?;
        let existing = std::fs::symlink_metadata(&to).ok().map(|m| m.file_type());
        if kind.is_dir() {
            match existing {
                Some(existing) if existing.is_dir() => {}
                Some(_) => {
                    std::fs::remove_file(&to)?;
                    std::fs::create_dir(&to)?;
                }
                None => std::fs::create_dir(&to)?,
            }
            merge_tree(&from, &to)?;
            continue;
        }
        match existing {
            Some(existing) if existing.is_dir() => std::fs::remove_dir_all(&to)?,
            Some(_) => std::fs::remove_file(&to)?,
            None => {}
        }
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?;
        } else if std::fs::hard_link(&from, &to).is_err() {
            // Unpacked layers are never modified, so a hard link shares them safely. A copy
            // covers file systems without hard links.
            std::fs::copy(&from, &to)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, relative: &str, content: &str) {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    #[test]
    fn later_layer_overrides_earlier() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("first");
        let second = dir.path().join("second");
        write(&first, "python/shared.py", "first");
        write(&first, "python/only_first.py", "1");
        write(&second, "python/shared.py", "second");
        write(&second, "bin/tool", "2");

        let merged = merge(&[first, second], &dir.path().join("merged"), "key").unwrap();
        assert_eq!(std::fs::read_to_string(merged.join("python/shared.py")).unwrap(), "second");
        assert_eq!(std::fs::read_to_string(merged.join("python/only_first.py")).unwrap(), "1");
        assert_eq!(std::fs::read_to_string(merged.join("bin/tool")).unwrap(), "2");
    }

    #[test]
    fn file_replaces_directory_and_link_replaces_file() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("first");
        let second = dir.path().join("second");
        write(&first, "lib/inner/a", "a");
        write(&first, "link", "plain file");
        write(&second, "lib/inner", "now a file");
        std::fs::create_dir_all(&second).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", second.join("link")).unwrap();

        let merged = merge(&[first, second], &dir.path().join("merged"), "key").unwrap();
        assert_eq!(std::fs::read_to_string(merged.join("lib/inner")).unwrap(), "now a file");
        assert_eq!(std::fs::read_link(merged.join("link")).unwrap(), Path::new("/etc/hostname"));
    }

    #[test]
    fn directory_below_earlier_link_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        let first = dir.path().join("first");
        std::fs::create_dir_all(&first).unwrap();
        std::os::unix::fs::symlink(&outside, first.join("escape")).unwrap();
        let second = dir.path().join("second");
        write(&second, "escape/planted", "x");

        let merged = merge(&[first, second], &dir.path().join("merged"), "key").unwrap();
        assert!(merged.join("escape/planted").is_file());
        assert!(!outside.join("planted").exists());
    }

    #[test]
    fn merged_name_depends_on_order() {
        let ab = merged_name(&["a".into(), "b".into()]);
        assert_ne!(ab, merged_name(&["b".into(), "a".into()]));
        assert_eq!(ab.len(), 64);
    }
}

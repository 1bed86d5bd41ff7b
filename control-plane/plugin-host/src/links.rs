//! Finding symbolic links in a bundle: a bundle is self-contained, and a
//! link would let a chart's `.Files.Get` (or anything else reading the
//! bundle) read the host's files, e.g. a service-account token or
//! `/proc/self/environ`.

use std::path::{Path, PathBuf};

/// The first symbolic link under `dir` (not following any), if there is one.
/// `dir` itself may be a link: the operator chose that path, not the
/// bundle's author.
pub(crate) fn first_symlink(dir: &Path) -> std::io::Result<Option<PathBuf>> {
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let mut entries = std::fs::read_dir(&dir)?.collect::<std::io::Result<Vec<_>>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let kind = entry.file_type()?;
            if kind.is_symlink() {
                return Ok(Some(entry.path()));
            }
            if kind.is_dir() {
                pending.push(entry.path());
            }
        }
    }
    Ok(None)
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used)] // A failed expectation is the test failing.
mod tests {
    use super::*;

    #[test]
    fn finds_a_link_at_any_depth_and_only_then() {
        let dir = std::env::temp_dir().join(format!("storeplane-links-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("charts/c/files")).unwrap();
        std::fs::write(dir.join("charts/c/files/a.txt"), "a").unwrap();
        assert_eq!(first_symlink(&dir).unwrap(), None);
        let link = dir.join("charts/c/files/host");
        std::os::unix::fs::symlink("/etc/hostname", &link).unwrap();
        assert_eq!(first_symlink(&dir).unwrap(), Some(link));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

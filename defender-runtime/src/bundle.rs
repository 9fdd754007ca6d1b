//! Loading code bundles from a directory or a zip archive.

use bytes::Bytes;
use defender_core::{
    check_archive_size, check_code_size, CodeSizeError, CodeSource, MAX_UNCOMPRESSED_CODE_BYTES,
};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// Why a bundle could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// Reading the directory or the archive failed.
    #[error("cannot read bundle: {0}")]
    Io(#[from] std::io::Error),
    /// The archive is not a valid zip file.
    #[error("invalid zip archive: {0}")]
    Zip(String),
    /// The bundle is over Defender's size rule (5 MB once zipped and base64-encoded), or
    /// over [`MAX_UNCOMPRESSED_CODE_BYTES`] uncompressed.
    #[error("bundle too large: {0}")]
    TooLarge(#[from] CodeSizeError),
    /// There is no `index.js` at the bundle's root.
    #[error("bundle has no index.js at its root")]
    NoIndex,
    /// A path in the bundle is absolute or leaves the bundle (`..`).
    #[error("invalid path in bundle: {0}")]
    InvalidPath(String),
}

fn clean_path(raw: &str) -> Result<String, BundleError> {
    let unified = raw.replace('\\', "/");
    let mut parts = Vec::new();
    for seg in unified.split('/') {
        match seg {
            "" | "." => {}
            ".." => return Err(BundleError::InvalidPath(raw.to_owned())),
            s => parts.push(s),
        }
    }
    if unified.starts_with('/') || parts.is_empty() {
        return Err(BundleError::InvalidPath(raw.to_owned()));
    }
    Ok(parts.join("/"))
}

fn finish(files: BTreeMap<String, Bytes>) -> Result<CodeSource, BundleError> {
    if !files.contains_key("index.js") {
        return Err(BundleError::NoIndex);
    }
    Ok(CodeSource::Bundle(files))
}

/// Loads every file under `dir` into a [`CodeSource::Bundle`]; `dir/index.js` must exist and
/// the bundle must pass Defender's size rule ([`check_code_size`]: at most 5 MB once zipped
/// and base64-encoded). Symbolic links are not followed.
pub fn load_bundle_dir(dir: &Path) -> Result<CodeSource, BundleError> {
    let mut files = BTreeMap::new();
    let mut total = 0usize;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let ty = entry.file_type()?;
            let path = entry.path();
            if ty.is_dir() {
                stack.push(path);
            } else if ty.is_file() {
                let rel = path
                    .strip_prefix(dir)
                    .map_err(|_| BundleError::InvalidPath(path.display().to_string()))?;
                let rel = clean_path(&rel.to_string_lossy())?;
                let content = std::fs::read(&path)?;
                total = total.saturating_add(rel.len() + content.len());
                if total > MAX_UNCOMPRESSED_CODE_BYTES {
                    return Err(CodeSizeError::UncompressedTooLarge {
                        uncompressed: total,
                        limit: MAX_UNCOMPRESSED_CODE_BYTES,
                    }
                    .into());
                }
                files.insert(rel, Bytes::from(content));
            }
        }
    }
    let source = finish(files)?;
    check_code_size(&source)?;
    Ok(source)
}

/// Loads a zip archive (as Defender's API accepted it) into a [`CodeSource::Bundle`].
///
/// Defender's size rule applies to the archive as given: its base64 encoding is at most 5 MB
/// ([`check_archive_size`]). Its uncompressed content must be at most
/// [`MAX_UNCOMPRESSED_CODE_BYTES`], so a zip bomb is refused without being inflated.
pub fn load_bundle_zip(archive: &[u8]) -> Result<CodeSource, BundleError> {
    check_archive_size(archive.len())?;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive))
        .map_err(|e| BundleError::Zip(e.to_string()))?;
    let mut files = BTreeMap::new();
    let mut total = 0usize;
    for i in 0..zip.len() {
        let mut file = zip
            .by_index(i)
            .map_err(|e| BundleError::Zip(e.to_string()))?;
        if file.is_dir() {
            continue;
        }
        let name = clean_path(file.name())?;
        let budget = MAX_UNCOMPRESSED_CODE_BYTES.saturating_sub(total + name.len());
        let mut content = Vec::new();
        // Read one byte past the budget to detect an oversized entry without inflating it all.
        (&mut file)
            .take(budget as u64 + 1)
            .read_to_end(&mut content)?;
        if content.len() > budget {
            return Err(CodeSizeError::UncompressedTooLarge {
                uncompressed: total + name.len() + content.len(),
                limit: MAX_UNCOMPRESSED_CODE_BYTES,
            }
            .into());
        }
        total += name.len() + content.len();
        files.insert(name, Bytes::from(content));
    }
    finish(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_paths() {
        assert_eq!(clean_path("./a/b.js").ok().as_deref(), Some("a/b.js"));
        assert_eq!(clean_path("a\\b.js").ok().as_deref(), Some("a/b.js"));
        assert!(clean_path("../x").is_err());
        assert!(clean_path("/etc/passwd").is_err());
    }
}
#[cfg(test)]
mod dir_tests {
    #[test]
    fn loads_nested() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("lib")).unwrap();
        std::fs::write(dir.path().join("index.js"), "x").unwrap();
        std::fs::write(dir.path().join("lib/x.js"), "y").unwrap();
        let src = super::load_bundle_dir(dir.path()).unwrap();
        match src {
            defender_core::CodeSource::Bundle(f) => {
                assert_eq!(
                    f.keys().cloned().collect::<Vec<_>>(),
                    vec!["index.js", "lib/x.js"]
                )
            }
            _ => panic!(),
        }
    }
}

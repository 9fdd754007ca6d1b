//! Reading files of the project: confined to its directory, bounded in size.

use crate::yaml::MAX_FILE_BYTES;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Joins `raw` to the project directory and checks that the file stays inside it (after
/// following links). `Ok(None)`: the file does not exist.
pub(crate) fn confine(project_dir: &Path, raw: &str) -> Result<Option<PathBuf>, String> {
    let candidate = Path::new(raw);
    if candidate.is_absolute() {
        return Err(format!(
            "`{raw}`: absolute paths are refused; name a file inside the project directory"
        ));
    }
    if candidate
        .components()
        .any(|c| matches!(c, Component::ParentDir))
    {
        return Err(format!(
            "`{raw}` leaves the project directory (`..` is refused)"
        ));
    }
    let base = project_dir
        .canonicalize()
        .map_err(|e| format!("the project directory cannot be read: {e}"))?;
    let joined = base.join(candidate);
    let full = match joined.canonicalize() {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("`{raw}` cannot be read: {e}")),
    };
    if !full.starts_with(&base) {
        return Err(format!(
            "`{raw}` leads outside the project directory (through a link)"
        ));
    }
    Ok(Some(full))
}

/// Reads a file of at most [`MAX_FILE_BYTES`].
pub(crate) fn read_bytes_bounded(path: &Path) -> Result<Vec<u8>, String> {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let file = std::fs::File::open(path).map_err(|e| format!("{name}: {e}"))?;
    let mut buf = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("{name}: {e}"))?;
    if buf.len() as u64 > MAX_FILE_BYTES {
        return Err(format!("{name} is larger than {MAX_FILE_BYTES} bytes"));
    }
    Ok(buf)
}

/// Reads a UTF-8 file of at most [`MAX_FILE_BYTES`].
pub(crate) fn read_bounded(path: &Path) -> Result<String, String> {
    let buf = read_bytes_bounded(path)?;
    String::from_utf8(buf).map_err(|_| format!("{} is not UTF-8 text", path.display()))
}

/// `full` relative to the project directory, for positions.
pub(crate) fn relative_name(project_dir: &Path, full: &Path) -> String {
    let base = project_dir
        .canonicalize()
        .unwrap_or_else(|_| project_dir.to_path_buf());
    full.strip_prefix(&base)
        .unwrap_or(full)
        .to_string_lossy()
        .into_owned()
}

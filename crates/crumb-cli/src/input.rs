//! Reading inventories from disk with clear errors: missing files, directories, binary or
//! non-UTF-8 content, and files too large to be an inventory.

use std::path::{Path, PathBuf};

use miette::Diagnostic;

/// Largest inventory accepted (bytes). Real inventories are a few kilobytes.
pub const MAX_INVENTORY_BYTES: u64 = 4 * 1024 * 1024;

/// Why an inventory file could not be read.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum InputError {
    #[error("{path}: no such file")]
    #[diagnostic(
        code(crumb::input::missing),
        help("run `crumb init -o {path}` to write a starter inventory, or pass the right path")
    )]
    Missing { path: String },
    #[error("{path}: is a directory")]
    #[diagnostic(code(crumb::input::directory), help("pass a file, like {path}/crumb.toml"))]
    Directory { path: String },
    #[error("{path}: {size} bytes is too large for an inventory (at most {max} bytes)")]
    #[diagnostic(code(crumb::input::too_large), help("an inventory is a small TOML file; is this the right file?"))]
    TooLarge { path: String, size: u64, max: u64 },
    #[error("{path}: is not UTF-8 text (invalid byte at offset {offset})")]
    #[diagnostic(code(crumb::input::encoding), help("save the file as UTF-8"))]
    NotUtf8 { path: String, offset: usize },
    #[error("{path}: {source}")]
    #[diagnostic(code(crumb::input::io))]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Read one inventory file as text.
pub fn read_inventory(path: &Path) -> Result<String, InputError> {
    let shown = path.display().to_string();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(InputError::Missing { path: shown }),
        Err(source) => return Err(InputError::Io { path: shown, source }),
    };
    if meta.is_dir() {
        return Err(InputError::Directory { path: shown });
    }
    if meta.len() > MAX_INVENTORY_BYTES {
        return Err(InputError::TooLarge { path: shown, size: meta.len(), max: MAX_INVENTORY_BYTES });
    }
    let bytes = std::fs::read(path).map_err(|source| InputError::Io { path: shown.clone(), source })?;
    if bytes.len() as u64 > MAX_INVENTORY_BYTES {
        return Err(InputError::TooLarge { path: shown, size: bytes.len() as u64, max: MAX_INVENTORY_BYTES });
    }
    String::from_utf8(bytes).map_err(|e| InputError::NotUtf8 { path: shown, offset: e.utf8_error().valid_up_to() })
}

/// The inventory files a path names: the file itself, or every `*.toml` in a directory (sorted).
pub fn inventory_paths(path: &Path) -> Result<Vec<PathBuf>, InputError> {
    let shown = path.display().to_string();
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(InputError::Missing { path: shown }),
        Err(source) => Err(InputError::Io { path: shown, source }),
        Ok(m) if m.is_dir() => {
            let mut out: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|source| InputError::Io { path: shown.clone(), source })?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
                .collect();
            out.sort();
            if out.is_empty() {
                return Err(InputError::Missing { path: format!("{shown}/*.toml") });
            }
            Ok(out)
        }
        Ok(_) => Ok(vec![path.to_path_buf()]),
    }
}

/// Write `contents` to `path` atomically (a temporary file renamed into place), so a failed
/// command never leaves a partial output file. `-` writes to standard output.
pub fn write_output(path: &Path, contents: &[u8]) -> miette::Result<()> {
    use std::io::Write;
    if path == Path::new("-") {
        std::io::stdout().write_all(contents).map_err(|e| miette::miette!("cannot write to standard output: {e}"))?;
        return Ok(());
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| {
        miette::miette!(
            help = "check that the directory exists and is writable",
            "cannot write {}: {e}",
            path.display()
        )
    })?;
    tmp.write_all(contents).map_err(|e| miette::miette!("cannot write {}: {e}", path.display()))?;
    tmp.persist(path).map_err(|e| miette::miette!("cannot write {}: {}", path.display(), e.error))?;
    Ok(())
}

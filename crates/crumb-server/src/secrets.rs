//! The data directory and the two secrets kept in it.
//!
//! - `CRUMB_DATA_DIR` (default `./.crumb`): holds `ledger.db` (the default SQLite ledger),
//!   `ip-hash.key` and `checkpoint.key`.
//! - The IP-hash key: `CRUMB_IP_HASH_KEY`, or a file named by `CRUMB_IP_HASH_KEY_FILE`, or
//!   `ip-hash.key` in the data directory, generated (32 random bytes, hex) on first run.
//! - The checkpoint key (Ed25519 seed, hex): `CRUMB_CHECKPOINT_KEY`, `CRUMB_CHECKPOINT_KEY_FILE`,
//!   or `checkpoint.key` in the data directory, generated on first run.
//!
//! Generated files are written with mode 0600. Secrets are never logged.

use std::path::{Path, PathBuf};

use crumb_ledger::CheckpointKey;
use rand::RngCore;

/// Why a secret could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// File trouble.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Bad content.
    #[error("{what}: {message}")]
    Invalid {
        /// Which secret.
        what: String,
        /// What is wrong.
        message: String,
    },
}

/// The data directory: `$CRUMB_DATA_DIR` or `./.crumb`.
pub fn data_dir() -> PathBuf {
    std::env::var_os("CRUMB_DATA_DIR").filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or_else(|| ".crumb".into())
}

/// The default database URL: `sqlite://<data dir>/ledger.db`.
pub fn default_database_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("ledger.db").display())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SecretError + '_ {
    move |source| SecretError::Io { path: path.display().to_string(), source }
}

/// Read a secret from `$VAR`, `$VAR_FILE`, or `dir/file` (generated with `generate` if absent).
fn secret(var: &str, dir: &Path, file: &str, generate: impl FnOnce() -> String) -> Result<String, SecretError> {
    if let Ok(v) = std::env::var(var)
        && !v.trim().is_empty()
    {
        return Ok(v.trim().to_string());
    }
    if let Ok(p) = std::env::var(format!("{var}_FILE"))
        && !p.trim().is_empty()
    {
        let p = PathBuf::from(p.trim());
        return std::fs::read_to_string(&p).map(|s| s.trim().to_string()).map_err(io(&p));
    }
    let path = dir.join(file);
    match std::fs::read_to_string(&path) {
        Ok(s) => Ok(s.trim().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
            let value = generate();
            write_private(&path, &value).map_err(io(&path))?;
            Ok(value)
        }
        Err(e) => Err(io(&path)(e)),
    }
}

fn write_private(path: &Path, value: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(format!("{value}\n").as_bytes())?;
    f.sync_all()
}

/// The key for hashing client addresses.
pub fn ip_hash_key(dir: &Path) -> Result<Vec<u8>, SecretError> {
    let s = secret("CRUMB_IP_HASH_KEY", dir, "ip-hash.key", || {
        let mut b = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut b);
        hex::encode(b)
    })?;
    if s.len() < 16 {
        return Err(SecretError::Invalid {
            what: "the IP-hash key".into(),
            message: "must be at least 16 characters; remove it to have one generated".into(),
        });
    }
    Ok(s.into_bytes())
}

/// The checkpoint signing key.
pub fn checkpoint_key(dir: &Path) -> Result<CheckpointKey, SecretError> {
    let s = secret("CRUMB_CHECKPOINT_KEY", dir, "checkpoint.key", || CheckpointKey::generate().secret_hex())?;
    CheckpointKey::from_hex(&s)
        .map_err(|e| SecretError::Invalid { what: "the checkpoint key".into(), message: e.to_string() })
}

/// The checkpoint key if one is configured or present, without generating one
/// (for `crumb ledger verify`).
pub fn existing_checkpoint_key(dir: &Path) -> Result<Option<CheckpointKey>, SecretError> {
    let configured = ["CRUMB_CHECKPOINT_KEY", "CRUMB_CHECKPOINT_KEY_FILE"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !s.trim().is_empty()));
    if configured || dir.join("checkpoint.key").exists() { checkpoint_key(dir).map(Some) } else { Ok(None) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_and_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().join("data");
        let k1 = checkpoint_key(&d).expect("generated");
        let k2 = checkpoint_key(&d).expect("read back");
        assert_eq!(k1.public_hex(), k2.public_hex());
        let i1 = ip_hash_key(&d).expect("generated");
        assert_eq!(i1, ip_hash_key(&d).expect("read back"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(d.join("checkpoint.key")).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}

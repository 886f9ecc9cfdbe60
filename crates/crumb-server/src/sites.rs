//! The sites a server serves, loaded from inventories, with their policy versions.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crumb_core::diff::{diff, is_material};
use crumb_core::{Inventory, policy_version};
use crumb_ledger::{PolicyVersionRow, Storage, StorageError, now_ms};

/// Why inventories could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    /// A path could not be read.
    #[error("{path}: {message}")]
    Read {
        /// The path.
        path: String,
        /// Why.
        message: String,
    },
    /// `crumb check` finds errors in an inventory.
    #[error("{path}: the inventory has errors ({first}); run `crumb check {path}` for details")]
    Invalid {
        /// The file.
        path: String,
        /// First error.
        first: String,
    },
    /// Two files declare the same site id.
    #[error("site `{id}` is declared twice ({a} and {b}); site ids must be unique")]
    Duplicate {
        /// Site id.
        id: String,
        /// First file.
        a: String,
        /// Second file.
        b: String,
    },
    /// No inventory found.
    #[error("no inventories to serve; pass --config crumb.toml or a directory of *.toml files")]
    None,
    /// Storage failed while recording versions.
    #[error("recording policy versions: {0}")]
    Storage(#[from] StorageError),
}

/// One site, ready to serve.
#[derive(Debug, Clone)]
pub struct Site {
    /// The inventory.
    pub inv: Inventory,
    /// Current policy version.
    pub version: String,
    /// Versions a POST may name: the current one and every one since the last material change, oldest first.
    pub covered: Vec<String>,
    /// Consent lifetime in ms.
    pub lifetime_ms: i64,
    /// Retention in ms.
    pub retain_ms: i64,
    /// Where it was loaded from.
    pub path: PathBuf,
}

/// All sites, by id.
#[derive(Debug, Clone, Default)]
pub struct Sites {
    /// Sites by id.
    pub by_id: HashMap<String, Arc<Site>>,
}

impl Sites {
    /// A site.
    pub fn get(&self, id: &str) -> Option<&Arc<Site>> {
        self.by_id.get(id)
    }
}

fn inventory_files(path: &Path) -> Result<Vec<PathBuf>, SiteError> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| SiteError::Read { path: shown.clone(), message: e.to_string() })?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| SiteError::Read { path: shown, message: e.to_string() })?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    out.sort();
    Ok(out)
}

/// Read and check every inventory named by `paths` (files or directories).
pub fn read_inventories(paths: &[PathBuf]) -> Result<Vec<(PathBuf, Inventory)>, SiteError> {
    let mut out: Vec<(PathBuf, Inventory)> = Vec::new();
    for p in paths {
        for file in inventory_files(p)? {
            let shown = file.display().to_string();
            let src = std::fs::read_to_string(&file)
                .map_err(|e| SiteError::Read { path: shown.clone(), message: e.to_string() })?;
            let inv = crumb_core::parse_inventory(&src).map_err(|errs| SiteError::Invalid {
                path: shown.clone(),
                first: errs.first().map(|d| d.message.clone()).unwrap_or_else(|| "does not parse".into()),
            })?;
            if let Some((other, _)) = out.iter().find(|(_, i)| i.site.id == inv.site.id) {
                return Err(SiteError::Duplicate { id: inv.site.id.clone(), a: other.display().to_string(), b: shown });
            }
            out.push((file, inv));
        }
    }
    if out.is_empty() {
        return Err(SiteError::None);
    }
    Ok(out)
}

/// The versions still covered, given a site's history (oldest first) and its current version.
pub fn covered_versions(rows: &[PolicyVersionRow], current: &str) -> Vec<String> {
    if rows.last().map(|r| r.version.as_str()) != Some(current) {
        // The site went back to an older text: only that version is current.
        return vec![current.to_string()];
    }
    let start = rows.iter().rposition(|r| r.material).unwrap_or(0);
    rows[start..].iter().map(|r| r.version.clone()).collect()
}

/// Whether `inv` is a material change from the last recorded version (true when there is none).
fn material_since(rows: &[PolicyVersionRow], inv: &Inventory) -> bool {
    match rows.last() {
        None => true,
        Some(prev) => {
            serde_json::from_str::<Inventory>(&prev.snapshot).map(|old| is_material(&diff(&old, inv))).unwrap_or(true)
        }
    }
}

fn make_site(path: PathBuf, inv: Inventory, version: String, covered: Vec<String>) -> Site {
    let secs = |d: Result<crumb_core::Duration, _>, default: u64| {
        d.ok().and_then(|d: crumb_core::Duration| d.seconds()).unwrap_or(default) as i64 * 1000
    };
    let lifetime_ms = secs(inv.rules.lifetime(), 6 * crumb_core::duration::MONTH);
    let retain_ms = secs(inv.rules.retention(), 5 * crumb_core::duration::YEAR);
    Site { inv, version, covered, lifetime_ms, retain_ms, path }
}

/// Record each site's current version in storage and build the site table.
pub async fn register(storage: &dyn Storage, invs: Vec<(PathBuf, Inventory)>) -> Result<Sites, SiteError> {
    let mut sites = Sites::default();
    for (path, inv) in invs {
        let version = policy_version(&inv);
        let id = inv.site.id.clone();
        let mut rows = storage.versions(&id).await?;
        if !rows.iter().any(|r| r.version == version) {
            let material = material_since(&rows, &inv);
            let snapshot = serde_json::to_string(&inv).unwrap_or_default();
            let row = PolicyVersionRow {
                site: id.clone(),
                version: version.clone(),
                material,
                first_seen: now_ms(),
                snapshot,
            };
            let previous = rows.last().map(|r| r.version.clone());
            if storage.add_version(&row).await?
                && material
                && let Some(previous) = previous
            {
                material_event(storage, &row, &previous).await?;
            }
            rows = storage.versions(&id).await?;
        }
        let covered = covered_versions(&rows, &version);
        sites.by_id.insert(id, Arc::new(make_site(path, inv, version, covered)));
    }
    Ok(sites)
}

/// Queue the `policy.material_change` webhook event of a version this process recorded.
async fn material_event(storage: &dyn Storage, row: &PolicyVersionRow, previous: &str) -> Result<(), SiteError> {
    let old = storage.versions(&row.site).await?.into_iter().find(|r| r.version == previous);
    let changes: Vec<String> = match (
        old.and_then(|o| serde_json::from_str::<Inventory>(&o.snapshot).ok()),
        serde_json::from_str::<Inventory>(&row.snapshot),
    ) {
        (Some(old), Ok(new)) => diff(&old, &new).iter().map(|c| c.to_string()).collect(),
        _ => Vec::new(),
    };
    let data = serde_json::json!({ "version": row.version, "previous_version": previous, "changes": changes });
    let key = format!("{}:{}:{}", crate::webhooks::MATERIAL_CHANGE, row.site, row.version);
    crate::webhooks::emit(storage, Some(&row.site), crate::webhooks::MATERIAL_CHANGE, &key, data, row.first_seen)
        .await?;
    Ok(())
}

/// The site as [`register`] would serve it, without writing anything (for `crumb banner
/// snippet`, which must produce the very bytes the server serves).
pub async fn preview(storage: &dyn Storage, path: PathBuf, inv: Inventory) -> Result<Site, SiteError> {
    let version = policy_version(&inv);
    let mut rows = storage.versions(&inv.site.id).await?;
    if !rows.iter().any(|r| r.version == version) {
        let material = material_since(&rows, &inv);
        rows.push(PolicyVersionRow {
            site: inv.site.id.clone(),
            version: version.clone(),
            material,
            first_seen: now_ms(),
            snapshot: String::new(),
        });
    }
    let covered = covered_versions(&rows, &version);
    Ok(make_site(path, inv, version, covered))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(v: &str, material: bool) -> PolicyVersionRow {
        PolicyVersionRow { site: "s".into(), version: v.into(), material, first_seen: 0, snapshot: String::new() }
    }

    #[test]
    fn a_directory_serves_every_inventory_and_rejects_duplicates() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.toml"), crumb_core::testdata::LEADSGEN).expect("write");
        std::fs::write(dir.path().join("b.toml"), crumb_core::testdata::MIXERLEAD).expect("write");
        std::fs::write(dir.path().join("notes.txt"), "not an inventory").expect("write");
        let invs = read_inventories(&[dir.path().to_path_buf()]).expect("reads");
        let ids: Vec<&str> = invs.iter().map(|(_, i)| i.site.id.as_str()).collect();
        assert_eq!(ids, ["leadsgen", "mixerlead"]);
        std::fs::write(dir.path().join("c.toml"), crumb_core::testdata::LEADSGEN).expect("write");
        let err = read_inventories(&[dir.path().to_path_buf()]).expect_err("duplicate id");
        assert!(err.to_string().contains("declared twice"), "{err}");
        let empty = tempfile::tempdir().expect("tempdir");
        assert!(matches!(read_inventories(&[empty.path().to_path_buf()]), Err(SiteError::None)));
    }

    #[test]
    fn covered_since_last_material() {
        let rows = [row("a", true), row("b", false), row("c", true), row("d", false), row("e", false)];
        assert_eq!(covered_versions(&rows, "e"), ["c", "d", "e"]);
        assert_eq!(covered_versions(&rows[..3], "c"), ["c"]);
        assert_eq!(covered_versions(&rows, "b"), ["b"]);
    }
}

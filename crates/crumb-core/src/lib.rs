//! # crumb-core
//!
//! Crumb's domain, with no I/O and no async: the inventory a site writes (`crumb.toml`),
//! durations, the one cookie/storage-name [`pattern::Matcher`] that the banner, scanner and
//! guard share, the [`version::policy_version`] content hash, the material-versus-minor
//! [`diff`] classifier, the [`check`] rules behind `crumb check`, the embedded
//! [`ocd`] Open Cookie Database, the [`classify`] cookie classifier, and the [`consent`]
//! cookie, decisions and the rules a recorded decision obeys.

pub mod check;
pub mod classify;
pub mod consent;
pub mod consent_mode;
pub mod diff;
pub mod duration;
pub mod host;
pub mod inventory;
pub mod name;
pub mod ocd;
pub mod party;
pub mod pattern;
pub mod text;
pub mod version;

pub use check::{Checked, Diagnostic, Severity, check_source};
pub use duration::Duration;
pub use inventory::{Category, Inventory, Item, Purpose, Service, StorageKind};
pub use party::Party;
pub use pattern::{Matcher, NamePattern, Observed};
pub use text::Text;
pub use version::policy_version;

/// The JSON Schema of `crumb.toml`, generated from the inventory types.
pub fn inventory_schema() -> serde_json::Value {
    let mut schema = schemars::schema_for!(Inventory);
    schema.insert("title".into(), "Crumb inventory (crumb.toml)".into());
    schema.insert(
        "description".into(),
        "One site's cookies, storage items, services, categories and consent rules. See docs/inventory.md.".into(),
    );
    schema.to_value()
}

/// Parse an inventory and reject it if `crumb check` finds errors.
pub fn parse_inventory(src: &str) -> Result<Inventory, Vec<Diagnostic>> {
    let checked = check_source(src);
    match (checked.has_errors(), checked.inventory) {
        (false, Some(inv)) => Ok(inv),
        _ => Err(checked.diagnostics.into_iter().filter(|d| d.severity == Severity::Error).collect()),
    }
}

/// The example inventories, for tests across the workspace.
#[doc(hidden)]
pub mod testdata {
    /// `examples/leadsgen.toml`.
    pub const LEADSGEN: &str = include_str!("../../../examples/leadsgen.toml");
    /// `examples/mixerlead.toml`.
    pub const MIXERLEAD: &str = include_str!("../../../examples/mixerlead.toml");
}

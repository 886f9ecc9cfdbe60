//! The policy version: a stable content hash of everything a visitor is told.

use sha2::{Digest, Sha256};

use crate::inventory::Inventory;

/// Length of a policy version in hex characters (64 bits).
pub const VERSION_LEN: usize = 16;

/// The policy version of an inventory: the first 16 hex characters of the SHA-256 of its
/// canonical JSON, leaving out what visitors are not told (the `$schema` hint, the
/// country header, the ledger's retention, the consent cookie's name, the floating button).
///
/// Whitespace, comments, key order and TOML syntax do not change it; any change to a text,
/// cookie, duration, attribute, service or rule does.
pub fn policy_version(inv: &Inventory) -> String {
    let mut visible = inv.clone();
    visible.schema = None;
    visible.rules.country_header = None;
    visible.rules.retain = String::new();
    visible.banner.cookie_name = String::new();
    visible.banner.floating_button = true;
    // Serialising plain structs and BTreeMaps is deterministic.
    let canonical = serde_json::to_vec(&visible).unwrap_or_default();
    let digest = Sha256::digest(&canonical);
    hex::encode(digest)[..VERSION_LEN].to_string()
}

/// Whether a string has the shape of a policy version.
pub fn is_version(s: &str) -> bool {
    s.len() == VERSION_LEN && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::LEADSGEN;
    use proptest::prelude::*;

    fn parse(src: &str) -> Inventory {
        toml::from_str(src).expect("parses")
    }

    #[test]
    fn stable_under_formatting_and_key_order() {
        let a = parse(LEADSGEN);
        let reformatted = LEADSGEN.replace(" = ", "=").replace("\n\n", "\n# a comment\n\n");
        let b = parse(&reformatted);
        assert_eq!(policy_version(&a), policy_version(&b));
        assert!(is_version(&policy_version(&a)));
    }

    #[test]
    fn ignores_server_only_settings() {
        let a = parse(LEADSGEN);
        let mut b = a.clone();
        b.rules.retain = "10 years".into();
        b.rules.country_header = Some("X-Country".into());
        assert_eq!(policy_version(&a), policy_version(&b));
    }

    proptest! {
        #[test]
        fn any_purpose_or_duration_change_changes_it(idx in 0usize..11, text in "[a-zA-Z ]{1,20}") {
            let a = parse(LEADSGEN);
            let mut b = a.clone();
            let n = b.cookies.len();
            let item = &mut b.cookies[idx % n];
            item.purpose = crate::text::Text::One(format!("{text} changed"));
            prop_assert_ne!(policy_version(&a), policy_version(&b));
            let mut c = a.clone();
            c.cookies[idx % n].duration = format!("{} days", 1000 + idx);
            prop_assert_ne!(policy_version(&a), policy_version(&c));
        }
    }
}

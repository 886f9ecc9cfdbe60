use std::sync::OnceLock;

use crumb_guard::{Guard, Settings, Undeclared};

/// The leadsgen example's guard, built once; undeclared cookies blocked (the path that
/// touches the most code).
pub fn guard() -> &'static Guard {
    static G: OnceLock<Guard> = OnceLock::new();
    G.get_or_init(|| {
        let inv = crumb_core::parse_inventory(crumb_core::testdata::LEADSGEN).expect("valid example");
        Guard::new(inv, Settings { undeclared: Undeclared::Block, ..Settings::default() }).expect("guard")
    })
}

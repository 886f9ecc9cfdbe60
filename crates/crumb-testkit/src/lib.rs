//! Test support shared by Crumb's crates. Nothing here is used by the `crumb` binary.
//!
//! - [`chromium`]: find Debian's Chromium and the flags every browser test starts it with.

pub mod chromium;

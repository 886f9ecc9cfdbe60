//! Test support shared by Crumb's crates. Nothing here is used by the `crumb` binary.
//!
//! - [`chromium`]: find Debian's Chromium and the flags every browser test starts it with.
//! - [`postgres`]: a fresh PostgreSQL database per test, and throwaway clusters.

pub mod chromium;
pub mod postgres;

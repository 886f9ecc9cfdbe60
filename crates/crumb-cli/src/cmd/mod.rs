//! One module per subcommand.

pub mod admin;
pub mod admin_hooks;
pub mod banner;
pub mod check;
pub mod classify;
pub mod database;
pub mod demo;
pub mod init;
pub mod ledger;
pub mod policy;
pub mod proofs;
pub mod proxy;
pub mod scan;
pub mod serve;
pub mod witness;

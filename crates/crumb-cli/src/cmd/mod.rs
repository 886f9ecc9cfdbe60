//! One module per subcommand.

pub mod banner;
pub mod check;
pub mod init;
pub mod ledger;
pub mod policy;
pub mod serve;

//! One module per subcommand.

pub mod check;
pub mod init;
pub mod ledger;
pub mod policy;
pub mod serve;

//! One module per subcommand.

pub mod check;
pub mod init;
pub mod policy;
pub mod proxy;

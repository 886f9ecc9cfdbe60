//! `--database` and `--data-dir`: where the ledger is, for every command that opens it.

use std::path::PathBuf;
use std::sync::Arc;

use miette::miette;

/// Where the ledger database is: the options of every command that opens it.
#[derive(Debug, clap::Args)]
pub struct Database {
    /// Ledger database: sqlite://PATH or postgres://... (default: SQLite in the data directory).
    #[arg(long, env = "CRUMB_DATABASE_URL")]
    pub database: Option<String>,
    /// Data directory (keys and the default database).
    #[arg(long, env = "CRUMB_DATA_DIR", default_value = ".crumb")]
    pub data_dir: PathBuf,
}

impl Database {
    /// Open (and migrate) the database. Without `--database`, the data directory's SQLite
    /// file is created when `create` is set, and must exist otherwise.
    pub async fn open(&self, create: bool) -> miette::Result<Arc<dyn crumb_ledger::Storage>> {
        let url = match &self.database {
            Some(u) => u.clone(),
            None => {
                let path = self.data_dir.join("ledger.db");
                if create {
                    std::fs::create_dir_all(&self.data_dir)
                        .map_err(|e| miette!("cannot create {}: {e}", self.data_dir.display()))?;
                } else if !path.exists() {
                    return Err(miette!(
                        help = "pass --database, or --data-dir pointing at the directory `crumb serve` used",
                        "no ledger at {}",
                        path.display()
                    ));
                }
                crumb_server::secrets::default_database_url(&self.data_dir)
            }
        };
        crumb_server::open_storage(&url)
            .await
            .map_err(|e| miette!(help = "check --database and that the database is running", "{e}"))
    }
}

//! A measuring instrument for `bench/ingest`, not a product: `crumb serve`'s own router,
//! handlers, group-commit writer, hashing and receipts, on the same allocator and runtime,
//! over a storage that keeps nothing. The consent POST's rate here is the most any storage
//! behind the writer could reach on the machine, which is what the benchmark compares the
//! SQLite and PostgreSQL rates with.
//!
//! ```text
//! cargo run --release -p crumb-cli --example ingest_ceiling -- examples/leadsgen.toml
//! ```
//!
//! Listens on `127.0.0.1:0` and prints `listening on http://ADDR` on stderr, like `crumb serve`.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use crumb_ledger::{
    AdminStore, ApiKeyRow, Checkpoint, CheckpointKey, Ledger, LedgerOptions, LoggedBatch, PolicyVersionRow, ProofStore,
    Record, ScanRow, ScanStore, SignedBatch, Stats, Storage, StorageError,
};
use crumb_server::{AppState, StateOptions, router, sites};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Accepts every write and forgets it; every read finds nothing.
struct Discard;

#[async_trait]
impl crumb_ledger::HookStore for Discard {
    async fn add_webhook(&self, _: &crumb_ledger::WebhookRow, _: &str) -> Result<(), StorageError> {
        Ok(())
    }
    async fn webhooks(&self, _: Option<&str>) -> Result<Vec<crumb_ledger::WebhookRow>, StorageError> {
        Ok(Vec::new())
    }
    async fn delete_webhook(&self, _: &str) -> Result<bool, StorageError> {
        Ok(false)
    }
    async fn enqueue_event(&self, _: Option<&str>, _: &str, _: &str, _: &str, _: i64) -> Result<u64, StorageError> {
        Ok(0)
    }
    async fn claim_deliveries(
        &self,
        _: &str,
        _: i64,
        _: i64,
        _: i64,
    ) -> Result<Vec<crumb_ledger::Claimed>, StorageError> {
        Ok(Vec::new())
    }
    async fn finish_delivery(
        &self,
        _: &str,
        _: &crumb_ledger::DeliveryRow,
        _: Option<i64>,
    ) -> Result<bool, StorageError> {
        Ok(false)
    }
    async fn deliveries(&self, _: Option<&str>, _: i64) -> Result<Vec<crumb_ledger::DeliveryRow>, StorageError> {
        Ok(Vec::new())
    }
    async fn set_roles(&self, _: &str, _: &[(String, String)]) -> Result<(), StorageError> {
        Ok(())
    }
    async fn roles(&self, _: Option<&str>) -> Result<Vec<crumb_ledger::RoleRow>, StorageError> {
        Ok(Vec::new())
    }
    async fn add_audit(&self, _: &crumb_ledger::AuditRow) -> Result<(), StorageError> {
        Ok(())
    }
    async fn audit_log(&self, _: i64) -> Result<Vec<crumb_ledger::AuditRow>, StorageError> {
        Ok(Vec::new())
    }
}

#[async_trait]
impl ScanStore for Discard {
    async fn add_scan(&self, _: &ScanRow) -> Result<i64, StorageError> {
        Ok(0)
    }
    async fn scans(&self, _: Option<&str>, _: i64) -> Result<Vec<ScanRow>, StorageError> {
        Ok(Vec::new())
    }
    async fn scan(&self, _: i64) -> Result<Option<ScanRow>, StorageError> {
        Ok(None)
    }
}

#[async_trait]
impl AdminStore for Discard {
    async fn set_admin_user(&self, _: &str, _: &str, _: i64) -> Result<bool, StorageError> {
        Ok(true)
    }
    async fn admin_password_hash(&self, _: &str) -> Result<Option<String>, StorageError> {
        Ok(None)
    }
    async fn admin_users(&self) -> Result<Vec<String>, StorageError> {
        Ok(Vec::new())
    }
    async fn delete_admin_user(&self, _: &str) -> Result<bool, StorageError> {
        Ok(false)
    }
    async fn add_admin_session(&self, _: &str, _: &str, _: i64, _: i64) -> Result<(), StorageError> {
        Ok(())
    }
    async fn admin_session(&self, _: &str, _: i64) -> Result<Option<String>, StorageError> {
        Ok(None)
    }
    async fn delete_admin_session(&self, _: &str) -> Result<(), StorageError> {
        Ok(())
    }
    async fn add_api_key(&self, _: &ApiKeyRow, _: &str) -> Result<(), StorageError> {
        Ok(())
    }
    async fn api_keys(&self) -> Result<Vec<ApiKeyRow>, StorageError> {
        Ok(Vec::new())
    }
    async fn api_key_by_hash(&self, _: &str) -> Result<Option<ApiKeyRow>, StorageError> {
        Ok(None)
    }
    async fn revoke_api_key(&self, _: &str, _: i64) -> Result<bool, StorageError> {
        Ok(false)
    }
}

#[async_trait]
impl ProofStore for Discard {
    async fn append_batch(&self, _: &[Record], _: &SignedBatch) -> Result<i64, StorageError> {
        Ok(0)
    }
    async fn log_batches(&self, _: i64, _: i64) -> Result<Vec<LoggedBatch>, StorageError> {
        Ok(Vec::new())
    }
    async fn chain_batches(&self, _: &str) -> Result<Vec<LoggedBatch>, StorageError> {
        Ok(Vec::new())
    }
    async fn batch_of(&self, _: &str, _: i64) -> Result<Option<LoggedBatch>, StorageError> {
        Ok(None)
    }
    async fn log_size(&self) -> Result<i64, StorageError> {
        Ok(0)
    }
}

#[async_trait]
impl Storage for Discard {
    async fn ping(&self) -> Result<(), StorageError> {
        Ok(())
    }
    async fn start_chain(&self, _: &str, _: i64) -> Result<(), StorageError> {
        Ok(())
    }
    async fn chains(&self) -> Result<Vec<String>, StorageError> {
        Ok(Vec::new())
    }
    async fn chain_head(&self, _: &str) -> Result<Option<(i64, String)>, StorageError> {
        Ok(None)
    }
    async fn append(&self, _: &[Record]) -> Result<(), StorageError> {
        Ok(())
    }
    async fn records(&self, _: &str, _: i64, _: i64) -> Result<Vec<Record>, StorageError> {
        Ok(Vec::new())
    }
    async fn history(&self, _: &str) -> Result<Vec<Record>, StorageError> {
        Ok(Vec::new())
    }
    async fn export(
        &self,
        _: Option<&str>,
        _: i64,
        _: i64,
        _: Option<(i64, String, i64)>,
        _: i64,
    ) -> Result<Vec<Record>, StorageError> {
        Ok(Vec::new())
    }
    async fn add_checkpoint(&self, _: &Checkpoint) -> Result<(), StorageError> {
        Ok(())
    }
    async fn checkpoints(&self, _: &str) -> Result<Vec<Checkpoint>, StorageError> {
        Ok(Vec::new())
    }
    async fn expired_prefix(&self, _: &str, _: i64) -> Result<Option<i64>, StorageError> {
        Ok(None)
    }
    async fn delete_through(&self, _: &str, _: i64) -> Result<u64, StorageError> {
        Ok(0)
    }
    async fn add_version(&self, _: &PolicyVersionRow) -> Result<bool, StorageError> {
        Ok(true)
    }
    async fn versions(&self, _: &str) -> Result<Vec<PolicyVersionRow>, StorageError> {
        Ok(Vec::new())
    }
    async fn stats(&self, _: Option<&str>, _: i64, _: i64) -> Result<Stats, StorageError> {
        Ok(Stats::default())
    }
    async fn aggregates(&self, _: &crumb_ledger::AggQuery) -> Result<Vec<crumb_ledger::AggRow>, StorageError> {
        Ok(Vec::new())
    }
    async fn rebuild_aggregates(&self) -> Result<(), StorageError> {
        Ok(())
    }
}

fn main() -> anyhow::Result<()> {
    let inventories: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    anyhow::ensure!(!inventories.is_empty(), "usage: ingest_ceiling INVENTORY...");
    // The runtime `crumb serve` builds.
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let storage: Arc<dyn Storage> = Arc::new(Discard);
        let sites = sites::register(&*storage, sites::read_inventories(&inventories)?).await?;
        let (ledger, _writer) =
            Ledger::start(storage.clone(), CheckpointKey::generate(), "ceiling".into(), LedgerOptions::default());
        let state = AppState::new(
            StateOptions {
                storage,
                ledger,
                ip_key: vec![7; 32],
                dev: false,
                trusted_proxies: Vec::new(),
                rate_limit: 0,
                public_url: None,
            },
            sites,
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        eprintln!("listening on http://{}", listener.local_addr()?);
        let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
        // Served on the worker threads, as `crumb serve` does.
        tokio::spawn(async move { axum::serve(listener, app).await }).await??;
        anyhow::Ok(())
    })
}

//! # crumb-server
//!
//! The HTTP server behind `crumb serve`: consent recording with group commit, receipts and
//! visitor histories, policy versions, health, readiness, metrics and the OpenAPI document.
//!
//! One module per concern: [`state`] (what handlers share), [`routes`] (the router, shared
//! middleware, operational handlers), [`consent`] (the consent API), [`pages`] (policy pages
//! and `declaration.json`), [`banner`] (serving the bytes `crumb-banner` builds), [`stats`]
//! (the statistics API) and [`apikeys`] (its keys), [`webhooks`] (events, signing, the
//! outbox deliverer), [`figures`] (the figures both it and the dashboard sum from the
//! ledger's aggregates), [`proofs`] (tree heads, consistency proofs, the batch proofs
//! receipts carry), [`openapi`],
//! [`sites`] (loading inventories), [`net`], [`secrets`], [`metrics`], [`error`]. Handlers
//! import [`state`], never [`routes`]; the consent rules are `crumb_core::consent`'s.
//!
//! [`router`] builds the `Router` from an [`AppState`] holding the loaded sites; other crates
//! (the dashboard) extend it. [`serve_with_listener`] runs everything on a bound listener,
//! which is how tests start it on `127.0.0.1:0`.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crumb_ledger::{CheckpointKey, Ledger, LedgerOptions, Storage, StorageError};

pub mod apikeys;
pub mod banner;
pub mod consent;
pub mod error;
pub mod figures;
pub mod metrics;
pub mod net;
pub mod openapi;
pub mod pages;
pub mod proofs;
pub mod routes;
pub mod secrets;
pub mod sites;
pub mod state;
pub mod stats;
pub mod webhooks;

pub use error::ApiError;
pub use routes::{router, router_with};
pub use state::{AppState, StateOptions};

/// Why the server could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Storage could not be opened.
    #[error("cannot open the ledger database: {0}")]
    Storage(#[from] StorageError),
    /// Inventories could not be loaded.
    #[error(transparent)]
    Sites(#[from] sites::SiteError),
    /// Keys could not be loaded.
    #[error(transparent)]
    Secret(#[from] secrets::SecretError),
    /// The listener failed.
    #[error("serving: {0}")]
    Io(#[from] std::io::Error),
    /// The database URL has an unknown scheme.
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://USER@HOST:PORT/DB")]
    Scheme(String),
}

/// Open the storage a URL names: `sqlite://...` or `postgres://...` (`postgresql://` too).
pub async fn open_storage(url: &str) -> Result<Arc<dyn Storage>, ServerError> {
    if url.starts_with("sqlite:") {
        if let Some(path) = url.strip_prefix("sqlite://")
            && let Some(parent) = std::path::Path::new(path.split('?').next().unwrap_or(path)).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)?;
        }
        Ok(Arc::new(crumb_ledger_sqlite::SqliteStorage::open(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(crumb_ledger_postgres::PgStorage::open(url).await?))
    } else {
        Err(ServerError::Scheme(url.to_string()))
    }
}

/// Everything `crumb serve` is configured with.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Inventory files or directories.
    pub inventories: Vec<PathBuf>,
    /// Database URL; `None` = SQLite in the data directory.
    pub database_url: Option<String>,
    /// Data directory (keys, default database).
    pub data_dir: PathBuf,
    /// Consent POSTs per minute per address; 0 = off.
    pub rate_limit: u32,
    /// Accept loopback http origins.
    pub dev: bool,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Writer tuning.
    pub ledger: LedgerOptions,
    /// Public base URL, used in links the policy pages print.
    pub public_url: Option<String>,
    /// Webhook delivery pacing.
    pub webhooks: webhooks::DeliveryOptions,
    /// How often the reject-spike rule is checked (ms).
    pub spike_every_ms: u64,
}

impl ServerConfig {
    /// Defaults for serving `inventories` from `data_dir`.
    pub fn new(inventories: Vec<PathBuf>, data_dir: PathBuf) -> Self {
        ServerConfig {
            inventories,
            database_url: None,
            data_dir,
            rate_limit: 0,
            dev: false,
            trusted_proxies: Vec::new(),
            ledger: LedgerOptions::default(),
            public_url: None,
            webhooks: webhooks::DeliveryOptions::default(),
            spike_every_ms: 300_000,
        }
    }

    /// The effective database URL.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| secrets::default_database_url(&self.data_dir))
    }
}

/// A started server: storage open, sites loaded, writer running.
pub struct Server {
    state: AppState,
    config: ServerConfig,
    key: CheckpointKey,
    writer: tokio::task::JoinHandle<()>,
    chain: String,
}

impl Server {
    /// Open storage (running migrations), load and register the sites, start the writer.
    pub async fn start(config: ServerConfig) -> Result<Server, ServerError> {
        let invs = sites::read_inventories(&config.inventories)?;
        let ip_key = secrets::ip_hash_key(&config.data_dir)?;
        let key = secrets::checkpoint_key(&config.data_dir)?;
        let storage = open_storage(&config.database_url()).await?;
        let table = sites::register(&*storage, invs).await?;
        let chain = format!("w-{}", uuid::Uuid::now_v7().simple());
        let (ledger, writer) = Ledger::start(storage.clone(), key.clone(), chain.clone(), config.ledger.clone());
        tracing::info!(sites = table.by_id.len(), chain = %chain, "ledger writer started");
        let state = AppState::new(
            StateOptions {
                storage,
                ledger,
                ip_key,
                dev: config.dev,
                trusted_proxies: config.trusted_proxies.clone(),
                rate_limit: config.rate_limit,
                public_url: config.public_url.clone(),
            },
            table,
        );
        Ok(Server { state, config, key, writer, chain })
    }

    /// The shared state.
    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Reload the inventories; on error the old sites stay in service.
    pub async fn reload(&self) -> Result<usize, ServerError> {
        reload(&self.state, &self.config.inventories).await
    }

    /// Serve `router` (usually [`router`] of [`Server::state`], possibly extended) on
    /// `listener` until `shutdown` resolves, then finish in-flight requests and writes.
    pub async fn serve_router(
        self,
        listener: tokio::net::TcpListener,
        router: axum::Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let Server { state, config, key, writer, chain } = self;
        let hup = tokio::spawn(reload_on_sighup(state.clone(), config.inventories.clone()));
        let retention = tokio::spawn(retention_loop(state.storage().clone(), key));
        // The deliverer claims as this process's chain id: unique per server.
        let hooks = tokio::spawn(webhooks::run_deliverer(state.storage().clone(), chain, config.webhooks.clone()));
        let served = state.clone();
        let site_ids = move || served.sites().by_id.keys().cloned().collect::<Vec<String>>();
        let spikes = tokio::spawn(webhooks::spike::run(site_ids, state.storage().clone(), config.spike_every_ms));
        let app = router.into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
        hup.abort();
        retention.abort();
        hooks.abort();
        spikes.abort();
        // The spike task holds a handle of the state (and so of the ledger): gone before
        // the writer is awaited.
        let _ = spikes.await;
        drop(state);
        // Every request has finished and every ledger handle is gone: the writer drains
        // its queue, signs a final checkpoint and ends.
        let _ = writer.await;
        tracing::info!("stopped");
        served.map_err(ServerError::Io)
    }

    /// [`Server::serve_router`] with the standard [`router`].
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let r = router(self.state());
        self.serve_router(listener, r, shutdown).await
    }
}

/// Start and serve on a bound listener until `shutdown` resolves.
pub async fn serve_with_listener(
    listener: tokio::net::TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    Server::start(config).await?.serve(listener, shutdown).await
}

async fn reload(state: &AppState, paths: &[PathBuf]) -> Result<usize, ServerError> {
    let invs = sites::read_inventories(paths)?;
    let table = sites::register(&**state.storage(), invs).await?;
    let n = table.by_id.len();
    state.replace_sites(table);
    Ok(n)
}

async fn reload_on_sighup(state: AppState, paths: Vec<PathBuf>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else { return };
        while hup.recv().await.is_some() {
            match reload(&state, &paths).await {
                Ok(n) => tracing::info!(sites = n, "inventories reloaded"),
                Err(e) => tracing::error!(error = %e, "reload failed; the previous inventories stay in service"),
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (state, paths);
        std::future::pending::<()>().await;
    }
}

async fn retention_loop(storage: Arc<dyn Storage>, key: CheckpointKey) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        match crumb_ledger::retention::apply(&*storage, &key, crumb_ledger::now_ms()).await {
            Ok(r) if r.deleted > 0 => tracing::info!(deleted = r.deleted, chains = r.chains, "retention applied"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "retention failed; will retry"),
        }
    }
}

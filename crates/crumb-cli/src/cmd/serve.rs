//! `crumb serve`: the consent API, policy pages and ledger.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use crumb_server::{Server, ServerConfig};
use miette::{IntoDiagnostic, miette};

use crate::exit;

/// Serve consent recording, receipts and policy pages for one or more sites.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  crumb serve --config crumb.toml                      one site, SQLite in ./.crumb
  crumb serve --config sites/ --listen 0.0.0.0:8080    every *.toml in sites/
  crumb serve --config crumb.toml --database postgres://crumb@db:5432/crumb
  crumb serve --config examples/leadsgen.toml --dev    also accept http://localhost origins

Data directory: $CRUMB_DATA_DIR or ./.crumb (ledger.db, ip-hash.key, checkpoint.key; the
keys are generated on first run). Secrets may come from CRUMB_IP_HASH_KEY[_FILE] and
CRUMB_CHECKPOINT_KEY[_FILE] instead. Logs: CRUMB_LOG=debug, CRUMB_LOG_FORMAT=json (never
addresses or consent ids at info). SIGHUP reloads the inventories; SIGTERM/Ctrl-C finishes in-flight writes and stops.
The dashboard is at /admin; make an account with `crumb admin create-user NAME`.
See docs/server.md and docs/dashboard.md.")]
pub struct Args {
    /// Inventory file or directory of *.toml inventories (repeatable).
    #[arg(long = "config", default_value = "crumb.toml")]
    pub config: Vec<PathBuf>,
    /// Ledger database: sqlite://PATH or postgres://USER@HOST:PORT/DB (default: SQLite in the data directory).
    #[arg(long, env = "CRUMB_DATABASE_URL")]
    pub database: Option<String>,
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, env = "CRUMB_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Consent POSTs per minute per client address, 0 = off.
    #[arg(long, env = "CRUMB_RATE_LIMIT", default_value_t = 60)]
    pub rate_limit: u32,
    /// Also accept loopback origins over plain http, for local trials.
    #[arg(long)]
    pub dev: bool,
    /// A reverse proxy whose X-Forwarded-For is trusted (repeatable; comma-separated in the env).
    #[arg(long = "trusted-proxy", env = "CRUMB_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxy: Vec<IpAddr>,
    /// Public base URL of this server (`https://consent.example.com`), for links in the policy pages.
    #[arg(long, env = "CRUMB_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Data directory for keys and the default database.
    #[arg(long, env = "CRUMB_DATA_DIR", default_value = ".crumb")]
    pub data_dir: PathBuf,
    /// A directory of dashboard templates replacing the built-in ones of the same name.
    #[arg(long, env = "CRUMB_DASHBOARD_TEMPLATES")]
    pub dashboard_templates: Option<PathBuf>,
    /// First webhook retry delay in ms, doubling per attempt (tests shorten it).
    #[arg(long, env = "CRUMB_WEBHOOK_BACKOFF_MS", default_value_t = 30_000, hide = true)]
    pub webhook_backoff_ms: i64,
    /// How often the webhook outbox is polled, in ms.
    #[arg(long, env = "CRUMB_WEBHOOK_POLL_MS", default_value_t = 1_000, hide = true)]
    pub webhook_poll_ms: u64,
    /// How often the reject-spike rule is checked, in ms.
    #[arg(long, env = "CRUMB_REJECT_SPIKE_EVERY_MS", default_value_t = 300_000, hide = true)]
    pub reject_spike_every_ms: u64,
}

/// Start logging to stderr (`CRUMB_LOG` or `RUST_LOG`, default info; `CRUMB_LOG_FORMAT=json` for JSON lines).
pub fn init_tracing() {
    let filter = std::env::var("CRUMB_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info,sqlx=warn".to_string());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = if std::env::var("CRUMB_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = async {
            match signal(SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down: finishing in-flight requests and writes");
}

/// Run `crumb serve`.
pub fn run(args: Args) -> miette::Result<u8> {
    init_tracing();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().into_diagnostic()?;
    rt.block_on(async move {
        if args.dev {
            tracing::warn!("--dev: accepting http://localhost and http://127.0.0.1 origins; do not use in production");
        }
        let mut cfg = ServerConfig::new(args.config.clone(), args.data_dir.clone());
        cfg.database_url = args.database.clone();
        cfg.rate_limit = args.rate_limit;
        cfg.dev = args.dev;
        cfg.trusted_proxies = args.trusted_proxy.clone();
        cfg.public_url = args.public_url.clone();
        cfg.webhooks = crumb_server::webhooks::DeliveryOptions {
            backoff_ms: args.webhook_backoff_ms.max(1),
            poll_ms: args.webhook_poll_ms.max(10),
        };
        cfg.spike_every_ms = args.reject_spike_every_ms.max(100);
        let server = Server::start(cfg).await.map_err(|e| miette!(help = help_for(&e), "{e}"))?;
        let listener = tokio::net::TcpListener::bind(args.listen).await.map_err(|e| {
            miette!(
                help = "pick another --listen address or stop the other process",
                "cannot listen on {}: {e}",
                args.listen
            )
        })?;
        let addr = listener.local_addr().into_diagnostic()?;
        eprintln!("crumb serve: listening on http://{addr}");
        tracing::info!(%addr, "listening");
        let dashboard = crumb_dashboard::routes(crumb_dashboard::DashboardOptions {
            templates: args.dashboard_templates.clone(),
            ..Default::default()
        });
        let app = crumb_server::router_with(server.state(), dashboard);
        // Serve on the worker threads (not the thread blocked in `block_on`).
        tokio::spawn(server.serve_router(listener, app, shutdown_signal()))
            .await
            .map_err(|e| miette!("the server task failed: {e}"))?
            .map_err(|e| miette!("{e}"))?;
        Ok(exit::OK)
    })
}

fn help_for(e: &crumb_server::ServerError) -> String {
    match e {
        crumb_server::ServerError::Storage(_) => {
            "check --database (or CRUMB_DATABASE_URL) and that the database server is running".into()
        }
        crumb_server::ServerError::Sites(_) => "run `crumb check` on the inventory and fix the errors".into(),
        crumb_server::ServerError::Secret(_) => "check the key files in the data directory (--data-dir)".into(),
        _ => "see docs/server.md".into(),
    }
}

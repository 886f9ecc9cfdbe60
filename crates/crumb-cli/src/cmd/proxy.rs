//! `crumb proxy --upstream URL --config PATH [--listen ADDR]`: the guard in front of any site.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crumb_guard::proxy::{ProxyConfig, Server, serve_metrics};
use crumb_guard::{Guard, Settings, Undeclared};
use miette::{IntoDiagnostic, miette};

use crate::exit;
use crate::input::read_inventory;

/// Reverse proxy that enforces visitors' cookie choices: `Set-Cookie` headers for refused
/// categories never reach the browser.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  crumb proxy --upstream http://127.0.0.1:3000 --config crumb.toml
  crumb proxy --upstream http://127.0.0.1:8080 --config crumb.toml --listen 0.0.0.0:80 \\
      --undeclared block --inject-banner https://consent.example.com/s/mysite/banner.js
  crumb proxy --upstream http://127.0.0.1:3000 --config crumb.toml --metrics-listen 127.0.0.1:9464

Put TLS termination (a load balancer, Caddy, nginx) in front of crumb proxy; the upstream
must be plain http://. Logs go to stderr (RUST_LOG=crumb_guard=info shows every blocked
cookie: name, category and path, never anything about the visitor).")]
pub struct Args {
    /// The site's server, as an http:// URL.
    #[arg(long)]
    pub upstream: String,
    /// The site's inventory (crumb.toml).
    #[arg(long, default_value = "crumb.toml")]
    pub config: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// What to do with cookies the inventory does not declare: block, allow or report.
    #[arg(long, default_value = "report")]
    pub undeclared: Undeclared,
    /// Insert `<script src=URL>` as the first child of `<head>` of HTML pages (identity,
    /// gzip, brotli), and hold back the scripts, frames, images and preloads of services the
    /// visitor has not granted until the banner activates them (see --no-rewrite-html).
    #[arg(long, value_name = "URL")]
    pub inject_banner: Option<String>,
    /// Hold back the elements of services the visitor has not granted even without
    /// --inject-banner (for a site that includes the banner itself).
    #[arg(long, conflicts_with = "no_rewrite_html")]
    pub rewrite_html: bool,
    /// With --inject-banner, only insert the banner tag: hold nothing back.
    #[arg(long)]
    pub no_rewrite_html: bool,
    /// Seconds the upstream may take to answer before the visitor gets a 504.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// Also serve Prometheus counters at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Worker threads (each a single-threaded runtime; every visitor connection keeps its own upstream connection); default: one per CPU.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Keep X-Forwarded-Proto/-Host set by a trusted proxy in front (the TLS terminator).
    #[arg(long)]
    pub trust_forwarded: bool,
    /// Pass cookies that are let through as the upstream wrote them (no declared attributes applied).
    #[arg(long)]
    pub keep_attributes: bool,
    /// Do not expire refused cookies the browser still sends (set before consent was withdrawn).
    #[arg(long)]
    pub keep_refused: bool,
    /// Send every request through the general HTTP stack (hyper) instead of the HTTP/1.1
    /// fast path, which forwards plain HTTP/1.1 requests with less work per request.
    #[arg(long)]
    pub no_fast_path: bool,
    /// Policy versions still covered by a stored decision (repeatable); by default any.
    #[arg(long = "valid-version", value_name = "VERSION")]
    pub valid_versions: Vec<String>,
}

pub fn run(args: Args) -> miette::Result<u8> {
    let shown = args.config.display().to_string();
    let src = read_inventory(&args.config)?;
    let inventory = crumb_core::parse_inventory(&src).map_err(|diags| {
        miette!(
            help = format!("run `crumb check {shown}` to see where"),
            "{shown}: the inventory has {} error(s)",
            diags.len()
        )
    })?;
    let valid_versions = args.valid_versions.clone();
    let settings = Settings {
        undeclared: args.undeclared,
        valid_versions: args.valid_versions,
        fix_attributes: !args.keep_attributes,
        expire_refused: !args.keep_refused,
    };
    let guard = Guard::new(inventory, settings).map_err(|e| miette!("{shown}: {e}"))?;
    let mut config = ProxyConfig::new(&args.upstream).map_err(|e| miette!("{e}"))?;
    config.timeout = Duration::from_secs(args.timeout.max(1));
    // Rendered once per language here, not per request (crumb_banner::FirstLayerSource).
    config.first_layer = args.inject_banner.as_deref().and_then(|src| {
        crumb_banner::FirstLayerSource::new(guard.inventory(), src, &valid_versions)
            .map(|f| crumb_guard::FirstLayer::new(f.renderer()))
    });
    config.inject_banner = args.inject_banner;
    config.rewrite_html = match (args.rewrite_html, args.no_rewrite_html) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    };
    config.trust_forwarded = args.trust_forwarded;
    config.fast_path = !args.no_fast_path;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("crumb_guard=info,crumb_proxy=info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
        .clamp(1, 256);
    // One single-threaded runtime per worker thread (visitor connections keep their own upstream connection);
    // accepted connections are dealt to them in turn. A request never changes threads.
    let mut workers = Vec::with_capacity(threads);
    let mut handles = Vec::with_capacity(threads);
    for i in 0..threads {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(std::net::TcpStream, std::net::SocketAddr)>();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().into_diagnostic()?;
        let guard = guard.clone();
        let config = config.clone();
        let handle = std::thread::Builder::new()
            .name(format!("crumb-proxy-{i}"))
            .spawn(move || {
                runtime.block_on(async move {
                    let server = Server::new(guard, &config);
                    while let Some((stream, addr)) = rx.recv().await {
                        match tokio::net::TcpStream::from_std(stream) {
                            Ok(stream) => server.serve_connection(stream, addr),
                            Err(e) => tracing::warn!(target: "crumb_proxy", error = %e, "cannot adopt a connection"),
                        }
                    }
                    server.shutdown().await;
                });
            })
            .into_diagnostic()?;
        workers.push(tx);
        handles.push(handle);
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().into_diagnostic()?;
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen).await.map_err(|e| {
            miette!(help = "pick another address with --listen", "cannot listen on {}: {e}", args.listen)
        })?;
        if let Some(addr) = args.metrics_listen {
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| miette!(help = "pick another --metrics-listen address", "cannot listen on {addr}: {e}"))?;
            let g = guard.clone();
            tokio::spawn(async move {
                if let Err(e) = serve_metrics(l, g).await {
                    tracing::error!(target: "crumb_proxy", error = %e, "metrics server stopped");
                }
            });
        }
        tracing::info!(
            target: "crumb_proxy",
            listen = %args.listen,
            upstream = %args.upstream,
            site = %guard.inventory().site.id,
            threads,
            "crumb proxy ready"
        );
        let shutdown = shutdown_signal();
        tokio::pin!(shutdown);
        let mut next = 0usize;
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                () = &mut shutdown => break,
            };
            let (stream, addr) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(target: "crumb_proxy", error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            match stream.into_std() {
                Ok(stream) => {
                    let _ = workers[next % workers.len()].send((stream, addr));
                    next = next.wrapping_add(1);
                }
                Err(e) => tracing::warn!(target: "crumb_proxy", error = %e, "cannot hand over a connection"),
            }
        }
        tracing::info!(target: "crumb_proxy", "shutting down: waiting for requests in flight");
        drop(workers);
        Ok::<(), miette::Report>(())
    });
    for h in handles {
        let _ = h.join();
    }
    result?;
    Ok(exit::OK)
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

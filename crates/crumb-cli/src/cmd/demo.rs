//! `crumb demo`: the whole system on the example sites, with embedded SQLite.
//!
//! Starts `crumb serve` for `examples/leadsgen.toml` and `examples/mixerlead.toml` (built into
//! the binary) on one port, and a demo LeadsGen page on another origin that loads the banner,
//! gates its scripts and an iframe, sets a strictly necessary and an analytics cookie on the
//! server behind the `crumb-guard` layer (which drops the analytics one until the visitor
//! allows it), and shows the account-settings toggles the LeadsGen policy promises.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use crumb_guard::{Guard, GuardLayer, Settings, Undeclared};
use crumb_server::{Server, ServerConfig, router_with};
use miette::{IntoDiagnostic, miette};

use crate::exit;

const LEADSGEN: &str = include_str!("../../../../examples/leadsgen.toml");
const MIXERLEAD: &str = include_str!("../../../../examples/mixerlead.toml");
const INDEX: &str = include_str!("../../demo/index.html");
const SETTINGS: &str = include_str!("../../demo/settings.html");
const PAGE_JS: &str = include_str!("../../demo/page.js");
const SETTINGS_JS: &str = include_str!("../../demo/settings.js");
const FUNCTIONAL_JS: &str = include_str!("../../demo/functional.js");
const ANALYTICS_JS: &str = include_str!("../../demo/analytics.js");
const MARKETING_JS: &str = include_str!("../../demo/marketing.js");

/// Run Crumb end to end on the example sites: the consent server and a demo site using it.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  crumb demo                                then open http://localhost:8081/
  crumb demo --listen 127.0.0.1:9080 --site-listen 127.0.0.1:9081
  crumb demo --check                        start, record one decision, verify the ledger, exit

What runs: `crumb serve` with the leadsgen and mixerlead examples (SQLite in the data
directory, --dev so loopback origins may post), and the demo LeadsGen page on another origin.
Try Reject all, Accept all, Preferences, the account-settings toggles, then
`crumb ledger verify --database sqlite://.crumb/ledger.db` and
`crumb scan http://localhost:8081/ --inventory examples/leadsgen.toml`.")]
pub struct Args {
    /// Address of the Crumb server.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Address of the demo site.
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub site_listen: SocketAddr,
    /// Data directory (keys and the SQLite ledger).
    #[arg(long, env = "CRUMB_DATA_DIR", default_value = ".crumb")]
    pub data_dir: PathBuf,
    /// Start everything, record one decision through the API, verify the ledger and exit.
    #[arg(long)]
    pub check: bool,
}

#[derive(Clone)]
struct Demo {
    crumb: String,
    site: String,
}

fn page(demo: &Demo, template: &str) -> Response {
    let body = template.replace("{{CRUMB}}", &demo.crumb).replace("{{SITE}}", &demo.site);
    let mut res = Html(body).into_response();
    // The analytics cookie the server sets on every response: the guard layer drops it
    // unless the visitor allowed analytics.
    res.headers_mut().append(header::SET_COOKIE, HeaderValue::from_static("_vercel_analytics=1; Path=/; SameSite=Lax"));
    // The site's own strictly necessary cookie, as LeadsGen's NextAuth would set it.
    // Secure, as declared: browsers accept Secure cookies from http://localhost.
    let csrf = format!("next-auth.csrf-token={}; Path=/; HttpOnly; Secure; SameSite=Lax", uuid_like());
    if let Ok(v) = HeaderValue::from_str(&csrf) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{nanos:x}")
}

fn js(body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], body).into_response()
}

/// The analytics script's response also sets the analytics cookie, as a real one would.
fn analytics_js() -> Response {
    let mut res = js(ANALYTICS_JS);
    res.headers_mut().append(header::SET_COOKIE, HeaderValue::from_static("_vercel_analytics=1; Path=/; SameSite=Lax"));
    res
}

fn demo_site(demo: Demo, guard: Guard) -> Router {
    Router::new()
        .route("/", get(|State(d): State<Demo>| async move { page(&d, INDEX) }))
        .route("/settings", get(|State(d): State<Demo>| async move { page(&d, SETTINGS) }))
        .route("/js/page.js", get(|| async { js(PAGE_JS) }))
        .route("/js/settings.js", get(|| async { js(SETTINGS_JS) }))
        .route("/js/functional.js", get(|| async { js(FUNCTIONAL_JS) }))
        .route("/js/analytics.js", get(|| async { analytics_js() }))
        .route("/js/marketing.js", get(|| async { js(MARKETING_JS) }))
        .route(
            "/embed",
            get(|| async {
                Html("<!doctype html><title>Embed</title><body style=\"font:14px system-ui\">The marketing embed loaded: it runs only after consent.</body>")
            }),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found") })
        .with_state(demo)
        .layer(GuardLayer::new(guard))
}

fn write_sites(data_dir: &std::path::Path) -> miette::Result<PathBuf> {
    let dir = data_dir.join("demo-sites");
    std::fs::create_dir_all(&dir)
        .map_err(|e| miette!(help = "pass a writable --data-dir", "cannot create {}: {e}", dir.display()))?;
    for (name, src) in [("leadsgen.toml", LEADSGEN), ("mixerlead.toml", MIXERLEAD)] {
        std::fs::write(dir.join(name), src).map_err(|e| miette!("cannot write {}: {e}", dir.join(name).display()))?;
    }
    Ok(dir)
}

async fn bind(addr: SocketAddr, what: &str) -> miette::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        miette!(
            help = format!("pick another address with --{what}, or stop the other process"),
            "cannot listen on {addr}: {e}"
        )
    })
}

/// Record one decision over HTTP, sign in to the dashboard and find it counted there; return
/// the receipt's consent id.
async fn self_check(crumb: &str, site: &str, admin_password: &str) -> miette::Result<String> {
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client: Client<_, Full<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let get = |path: String| {
        let client = client.clone();
        async move {
            let res = client.get(path.parse().into_diagnostic()?).await.into_diagnostic()?;
            let status = res.status();
            let body = res.into_body().collect().await.into_diagnostic()?.to_bytes();
            Ok::<_, miette::Report>((status, body))
        }
    };
    let (status, _) = get(format!("{crumb}/healthz")).await?;
    if !status.is_success() {
        return Err(miette!("/healthz answered {status}"));
    }
    let (status, banner) = get(format!("{crumb}/s/leadsgen/banner.js")).await?;
    if !status.is_success() || banner.is_empty() {
        return Err(miette!("/s/leadsgen/banner.js answered {status}"));
    }
    let (_, policy) = get(format!("{crumb}/s/leadsgen/cookie-policy.json")).await?;
    let policy: serde_json::Value = serde_json::from_slice(&policy).into_diagnostic()?;
    let version = policy["policy_version"].as_str().ok_or_else(|| miette!("the policy has no version"))?;
    let body = serde_json::json!({
        "site": "leadsgen",
        "policy_version": version,
        "choices": {"functional": true, "analytics": false, "marketing": false},
        "action": "save",
        "language": "en",
        "url": format!("{site}/"),
    });
    let req = hyper::Request::post(format!("{crumb}/api/v1/consents"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ORIGIN, site)
        .body(Full::new(bytes::Bytes::from(body.to_string())))
        .into_diagnostic()?;
    let res = client.request(req).await.into_diagnostic()?;
    let status = res.status();
    let body = res.into_body().collect().await.into_diagnostic()?.to_bytes();
    if status != StatusCode::CREATED {
        return Err(miette!("POST /api/v1/consents answered {status}: {}", String::from_utf8_lossy(&body)));
    }
    let receipt: serde_json::Value = serde_json::from_slice(&body).into_diagnostic()?;
    let id =
        receipt["consent_id"].as_str().map(str::to_string).ok_or_else(|| miette!("the receipt has no consent_id"))?;

    let req = hyper::Request::post(format!("{crumb}/admin/login"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Full::new(bytes::Bytes::from(format!("name=admin&password={admin_password}"))))
        .into_diagnostic()?;
    let res = client.request(req).await.into_diagnostic()?;
    let cookie = res
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|c| c.to_str().ok())
        .and_then(|c| c.split(';').next())
        .map(str::to_string)
        .ok_or_else(|| miette!("the dashboard login answered {} without a session", res.status()))?;
    let req = hyper::Request::get(format!("{crumb}/admin"))
        .header(header::COOKIE, cookie)
        .body(Full::new(bytes::Bytes::new()))
        .into_diagnostic()?;
    let res = client.request(req).await.into_diagnostic()?;
    let status = res.status();
    let page = res.into_body().collect().await.into_diagnostic()?.to_bytes();
    let page = String::from_utf8_lossy(&page);
    let counted = page
        .split("id=\"site-leadsgen\"")
        .nth(1)
        .and_then(|s| s.split("data-figure=\"records\">").nth(1))
        .and_then(|s| s.split('<').next())
        .and_then(|n| n.parse::<u64>().ok());
    if status != StatusCode::OK || counted.unwrap_or(0) == 0 {
        return Err(miette!("the dashboard answered {status} without the recorded decision"));
    }
    Ok(id)
}

pub fn run(args: Args) -> miette::Result<u8> {
    crate::cmd::serve::init_tracing();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().into_diagnostic()?;
    rt.block_on(async move {
        let sites = write_sites(&args.data_dir)?;
        let crumb_listener = bind(args.listen, "listen").await?;
        let site_listener = bind(args.site_listen, "site-listen").await?;
        let crumb_addr = crumb_listener.local_addr().into_diagnostic()?;
        let site_addr = site_listener.local_addr().into_diagnostic()?;
        let crumb = format!("http://{crumb_addr}");
        // The demo site is served as `localhost`, the consent server as `127.0.0.1`: two sites.
        let site = format!("http://localhost:{}", site_addr.port());
        let mut cfg = ServerConfig::new(vec![sites], args.data_dir.clone());
        cfg.dev = true;
        cfg.public_url = Some(crumb.clone());
        let server = Server::start(cfg).await.map_err(|e| miette!(help = "see docs/server.md", "{e}"))?;
        let state = server.state();
        // A dashboard account for the demo, with a new password on every start.
        let admin_password = crumb_dashboard::generate_password();
        let admin_hash = crumb_dashboard::hash_password(&admin_password).map_err(|e| miette!("{e}"))?;
        state.storage().set_admin_user("admin", &admin_hash, crumb_ledger::now_ms()).await.map_err(|e| miette!("{e}"))?;
        // Admin of every site, as `crumb admin create-user` makes a new account.
        let every_site = super::admin_hooks::role_pairs("admin", &[])?;
        state.storage().set_roles("admin", &every_site).await.map_err(|e| miette!("{e}"))?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut crumb_stop = stop_rx.clone();
        let crumb_task = tokio::spawn(async move {
            let r = router_with(server.state(), crumb_dashboard::routes(crumb_dashboard::DashboardOptions::default()));
            server
                .serve_router(crumb_listener, r, async move {
                    let _ = crumb_stop.wait_for(|s| *s).await;
                })
                .await
        });
        let mut site_stop = stop_rx.clone();
        let demo = Demo { crumb: crumb.clone(), site: site.clone() };
        let inventory =
            crumb_core::parse_inventory(LEADSGEN).map_err(|d| miette!("the leadsgen example is invalid: {d:?}"))?;
        let guard = Guard::new(inventory, Settings { undeclared: Undeclared::Block, ..Settings::default() })
            .map_err(|e| miette!("{e}"))?;
        let site_task = tokio::spawn(async move {
            axum::serve(site_listener, demo_site(demo, guard))
                .with_graceful_shutdown(async move {
                    let _ = site_stop.wait_for(|s| *s).await;
                })
                .await
        });
        let code = if args.check {
            let checked = self_check(&crumb, &site, &admin_password).await;
            let key = crumb_server::secrets::checkpoint_key(&args.data_dir).map_err(|e| miette!("{e}"))?;
            let report = crumb_ledger::verify(&**state.storage(), &[key.verifying_key()]).await;
            // The ledger writer ends (signing a final checkpoint) once every handle is gone.
            drop(state);
            let _ = stop_tx.send(true);
            let _ = crumb_task.await;
            let _ = site_task.await;
            let id = checked?;
            let report = report.map_err(|e| miette!("{e}"))?;
            if !report.ok() {
                return Err(miette!("the ledger does not verify: {:?}", report.problems.first()));
            }
            println!(
                "crumb demo --check: ok (decision {id} recorded and counted on the dashboard; ledger verified: {} record(s) in {} chain(s))",
                report.records, report.chains
            );
            exit::OK
        } else {
            // Written with errors ignored: a closed pipe (`crumb demo | head`) must not stop the demo.
            let urls = format!(
                "Crumb is running.\n\n  demo site (LeadsGen)   {site}/\n  banner                 {crumb}/s/leadsgen/banner.js\n  \
                 cookie policy          {crumb}/s/leadsgen/cookie-policy  (.md, .json)\n  \
                 essential-only policy  {crumb}/s/mixerlead/cookie-policy\n  \
                 API description        {crumb}/openapi.json\n  metrics                {crumb}/metrics\n  \
                 dashboard              {crumb}/admin  (account `admin`, password {admin_password})\n\n\
                 Ledger: {}/ledger.db. Press Ctrl-C to stop.\n",
                args.data_dir.display()
            );
            {
                use std::io::Write as _;
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(urls.as_bytes());
                let _ = out.flush();
            }
            let _ = tokio::signal::ctrl_c().await;
            drop(state);
            let _ = stop_tx.send(true);
            let _ = crumb_task.await;
            let _ = site_task.await;
            exit::OK
        };
        Ok(code)
    })
}

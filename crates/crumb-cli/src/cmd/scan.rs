//! `crumb scan URL`: check a live site against its inventory with headless Chromium.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use crumb_scan::{Progress, ScanOptions};
use indicatif::{ProgressBar, ProgressStyle};
use miette::miette;

use crate::exit;
use crate::input::{read_inventory, write_output};

/// Scan a live site: every cookie and storage item before consent, after "Reject all" and
/// after "Accept all", checked against the inventory.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  crumb scan https://leadsgen.app/ --inventory crumb.toml
  crumb scan https://leadsgen.app/ --inventory crumb.toml --format html -o scan.html
  crumb scan https://leadsgen.app/ --inventory crumb.toml --format sarif -o crumb.sarif
  crumb scan https://example.com/ --max-pages 5 --write-inventory draft.toml
  crumb scan https://leadsgen.app/ --inventory crumb.toml --save    also keep it for the dashboard
  crumb scan https://example.com/ --accept-selector '#onetrust-accept-btn-handler' \\
      --reject-selector '#onetrust-reject-all-handler'

The browser is Debian's Chromium: --chromium PATH, else $CRUMB_CHROMIUM, else chromium on PATH.
Exit codes: 0 no error-level findings, 1 error-level findings, 2 the scan itself failed.")]
pub struct Args {
    /// The page to start from (http or https).
    pub url: String,
    /// Inventory to check the site against; without it the scan only reports what it saw.
    #[arg(long, value_name = "PATH")]
    pub inventory: Option<PathBuf>,
    /// Most pages to scan (sitemap first, then links; same site only).
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub max_pages: usize,
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the report here instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write a draft inventory of everything observed (merged into FILE if it exists).
    #[arg(long, value_name = "FILE")]
    pub write_inventory: Option<PathBuf>,
    /// The Chromium binary.
    #[arg(long, env = "CRUMB_CHROMIUM", value_name = "PATH")]
    pub chromium: Option<PathBuf>,
    /// Pages scanned at once.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub concurrency: usize,
    /// Seconds a page may take to load, per phase.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub page_timeout: u64,
    /// Seconds the whole scan may take; pages not reached are listed as skipped.
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    pub scan_timeout: u64,
    /// Scan pages that robots.txt disallows.
    #[arg(long)]
    pub ignore_robots: bool,
    /// Block third-party cookies (a fresh Chromium's default) instead of accepting them as a
    /// typical visitor's browser does.
    #[arg(long)]
    pub block_third_party_cookies: bool,
    /// CSS selector of the "Accept all" button, for banners other than Crumb's.
    #[arg(long, value_name = "CSS")]
    pub accept_selector: Option<String>,
    /// CSS selector of the "Reject all" button, for banners other than Crumb's.
    #[arg(long, value_name = "CSS")]
    pub reject_selector: Option<String>,
    /// Also save the report in the ledger database, where the dashboard shows it (needs --inventory).
    #[arg(long, requires = "inventory")]
    pub save: bool,
    /// Where --save keeps the report.
    #[command(flatten)]
    pub db: super::database::Database,
}

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people: a summary and the findings, coloured on a terminal.
    Text,
    /// For machines: the whole report (schema in docs/scan.md).
    Json,
    /// A self-contained HTML page with screenshots of the banner states.
    Html,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
}

pub fn run(args: Args) -> miette::Result<u8> {
    let url = url::Url::parse(&args.url).map_err(|e| {
        miette!(
            help = "pass the site's address with its scheme, like https://example.com/",
            "`{}` is not a URL: {e}",
            args.url
        )
    })?;
    let mut opts = ScanOptions::new(url);
    opts.chromium = args.chromium.clone();
    opts.max_pages = args.max_pages.max(1);
    opts.concurrency = args.concurrency.clamp(1, 16);
    opts.page_timeout = Duration::from_secs(args.page_timeout.max(1));
    opts.scan_timeout = Duration::from_secs(args.scan_timeout.max(1));
    opts.ignore_robots = args.ignore_robots;
    opts.block_third_party_cookies = args.block_third_party_cookies;
    opts.accept_selector = args.accept_selector.clone();
    opts.reject_selector = args.reject_selector.clone();
    opts.screenshots = args.format == Format::Html;
    let mut site_id = None;
    if let Some(path) = &args.inventory {
        let src = read_inventory(path)?;
        let inv = crumb_core::parse_inventory(&src).map_err(|diags| {
            let first = diags.first().map(|d| d.message.clone()).unwrap_or_default();
            miette!(
                help = format!("run `crumb check {}` and fix the errors first", path.display()),
                "{}: the inventory has {} error(s), the first: {first}",
                path.display(),
                diags.len()
            )
        })?;
        site_id = Some(inv.site.id.clone());
        opts.inventory = Some((path.display().to_string(), inv));
    }

    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} scanning [{bar:30}] {pos}/{len} pages {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    let progress = {
        let bar = bar.clone();
        move |p: Progress| match p {
            Progress::Started { browser } => bar.set_message(browser),
            Progress::Planned(n) => bar.set_length(n as u64),
            Progress::PageDone { url, done } => {
                bar.set_position(done as u64);
                bar.set_message(url);
            }
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| miette!("cannot start the async runtime: {e}"))?;
    let result = runtime.block_on(crumb_scan::scan(&opts, &progress));
    bar.finish_and_clear();
    let report = result.map_err(|e| miette!(help = e.help(), "{e}"))?;

    let rendered = match args.format {
        Format::Text => {
            let color = args.output.is_none()
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            crumb_scan::report::text(&report, color)
        }
        Format::Json => crumb_scan::report::json(&report) + "\n",
        Format::Html => crumb_scan::report::html(&report),
        Format::Sarif => crumb_scan::report::sarif(&report) + "\n",
    };
    write_output(args.output.as_deref().unwrap_or(std::path::Path::new("-")), rendered.as_bytes())?;

    if args.save
        && let Some(site) = site_id
    {
        let row = crumb_ledger::ScanRow {
            id: 0,
            site,
            target: report.target.clone(),
            recorded_at: crumb_ledger::now_ms(),
            pages: report.summary.pages as i64,
            errors: report.summary.errors as i64,
            warnings: report.summary.warnings as i64,
            notes: report.summary.notes as i64,
            report: crumb_scan::report::json(&report),
        };
        let id = runtime.block_on(async {
            let storage = args.db.open(true).await?;
            let id = storage
                .add_scan(&row)
                .await
                .map_err(|e| miette!(help = "the report above is complete; only saving it failed", "{e}"))?;
            if row.errors > 0 {
                super::admin_hooks::scan_event(&*storage, &row, id).await;
            }
            Ok::<_, miette::Report>(id)
        })?;
        eprintln!("saved as scan {id}: the dashboard shows it at /admin/scans/{id}");
    }

    if let Some(path) = &args.write_inventory {
        let existing = if path.exists() { Some(read_inventory(path)?) } else { None };
        let draft = crumb_scan::draft::draft(&report, existing.as_deref())
            .map_err(|e| miette!(help = "the report above is complete; only the draft was not written", "{e}"))?;
        write_output(path, draft.as_bytes())?;
        eprintln!(
            "{} {}: review it, then `crumb check {}`",
            if existing.is_some() { "merged into" } else { "wrote draft inventory" },
            path.display(),
            path.display()
        );
    }
    Ok(if report.has_errors() { exit::FINDINGS } else { exit::OK })
}

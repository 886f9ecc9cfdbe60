//! `crumb banner snippet`: the `<script>` tag a site pastes, with its SRI hash.

use std::path::PathBuf;

use crumb_core::inventory::RegionalMode;
use crumb_server::{banner, open_storage, secrets, sites};
use miette::{IntoDiagnostic, miette};

use crate::exit;

/// The consent banner.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Print the `<script>` tag to paste into the site's pages, pinned with an SRI hash.
    #[command(after_help = "Examples:
  crumb banner snippet --site leadsgen --url https://consent.leadsgen.app
  crumb banner snippet --site leadsgen --config sites/ --url https://consent.example.com
  crumb banner snippet --site leadsgen --url https://consent.example.com --no-integrity

The tag is computed from the same inventory, data directory and database as `crumb serve`
(use the same --config, --data-dir and --database), so its integrity hash matches the bytes
the server sends. The hash pins those bytes: print the tag again after each policy change
(or use --no-integrity to always load the current banner). A `by_country` site serves
different bytes per consent mode and gets the tag without integrity. See docs/banner.md.")]
    Snippet(SnippetArgs),
}

#[derive(Debug, clap::Args)]
pub struct SnippetArgs {
    /// Site id (the inventory's `site.id`).
    #[arg(long)]
    pub site: String,
    /// The public URL `crumb serve` is reached at, as the site's visitors see it.
    #[arg(long, env = "CRUMB_PUBLIC_URL")]
    pub url: String,
    /// Inventory file or directory of *.toml inventories (repeatable), as given to `crumb serve`.
    #[arg(long = "config", default_value = "crumb.toml")]
    pub config: Vec<PathBuf>,
    /// Ledger database, as given to `crumb serve` (default: SQLite in the data directory).
    #[arg(long, env = "CRUMB_DATABASE_URL")]
    pub database: Option<String>,
    /// Data directory, as given to `crumb serve`.
    #[arg(long, env = "CRUMB_DATA_DIR", default_value = ".crumb")]
    pub data_dir: PathBuf,
    /// Print the tag without `integrity` (it then always loads the current banner).
    #[arg(long)]
    pub no_integrity: bool,
}

/// Run `crumb banner`.
pub fn run(args: Args) -> miette::Result<u8> {
    match args.command {
        Sub::Snippet(a) => snippet(a),
    }
}

fn snippet(a: SnippetArgs) -> miette::Result<u8> {
    let url = a.url.trim_end_matches('/').to_string();
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(miette!(
            help = "pass the address visitors' browsers reach crumb serve at, like https://consent.example.com",
            "--url must be an http(s) URL, not `{url}`"
        ));
    }
    let invs =
        sites::read_inventories(&a.config).map_err(|e| miette!(help = "run `crumb check` on the inventory", "{e}"))?;
    let ids: Vec<String> = invs.iter().map(|(_, i)| i.site.id.clone()).collect();
    let Some((path, inv)) = invs.into_iter().find(|(_, i)| i.site.id == a.site) else {
        return Err(miette!(
            help = format!("sites in {}: {}", shown(&a.config), ids.join(", ")),
            "no site `{}` in the inventories",
            a.site
        ));
    };
    let by_country = inv.rules.regional_mode == RegionalMode::ByCountry;
    if a.no_integrity || by_country {
        if by_country && !a.no_integrity {
            eprintln!(
                "note: site `{}` picks opt-in or opt-out per visitor (regional_mode = \"by_country\"), so its bytes differ per mode and cannot be pinned with integrity",
                a.site
            );
        }
        println!("{}", crumb_banner::snippet(&url, &a.site, None));
        return Ok(exit::OK);
    }
    let db = a.database.clone().unwrap_or_else(|| secrets::default_database_url(&a.data_dir));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().into_diagnostic()?;
    let built = rt.block_on(async {
        let storage = open_storage(&db).await.map_err(|e| {
            miette!(help = "pass the same --data-dir / --database as crumb serve, or use --no-integrity", "{e}")
        })?;
        let site = sites::preview(&*storage, path, inv).await.map_err(|e| miette!("{e}"))?;
        let mode = site.inv.rules.regional_mode;
        banner::build(&site, mode).map_err(|e| miette!("{e}"))
    })?;
    println!("{}", crumb_banner::snippet(&url, &a.site, Some(&built.banner.banner)));
    Ok(exit::OK)
}

fn shown(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

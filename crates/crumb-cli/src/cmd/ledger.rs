//! `crumb ledger verify|export|stats`: prove, export and count recorded decisions.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use crumb_ledger::{Storage, export, verify_with};
use crumb_server::secrets;
use miette::{IntoDiagnostic, miette};

use crate::exit;

/// Inspect the consent ledger.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  crumb ledger verify                                  check every chain in ./.crumb/ledger.db
  crumb ledger verify --database postgres://crumb@db/crumb --public-key 3b6a...
  crumb ledger export --site leadsgen --from 2026-01-01 --to 2026-02-01 --format csv -o jan.csv
  crumb ledger stats --site leadsgen

Exit codes: 0 ok, 1 verify found tampering, 2 the command failed. See docs/ledger.md.")]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

/// Options every ledger command takes.
#[derive(Debug, clap::Args)]
pub struct Common {
    #[command(flatten)]
    pub db: super::database::Database,
    /// Only this site (export and stats; verify always checks whole chains).
    #[arg(long)]
    pub site: Option<String>,
}

/// Ledger subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Recompute every hash and check every signed checkpoint, batch and the log; name the
    /// first bad record or batch.
    #[command(after_help = "Examples:
  crumb ledger verify                                   the data directory's ledger and key
  crumb ledger verify --database postgres://crumb@db/crumb --public-key 3b6a27bc...
  crumb ledger verify --tree-head witness.json          also: the log still holds what a witness saw
  crumb ledger verify --receipt receipt.json            also: the log still holds this receipt's record
  crumb ledger verify --json | jq '.problems[0]'

Exit codes: 0 intact, 1 tampering found (the first bad record is named), 2 could not run.")]
    Verify {
        #[command(flatten)]
        common: Common,
        /// Trusted checkpoint public key (hex; repeatable). Default: the data directory's key.
        #[arg(long = "public-key")]
        public_key: Vec<String>,
        /// A witnessed tree head (a `crumb ledger witness` state file or a tree head JSON;
        /// repeatable): the log must still extend it.
        #[arg(long = "tree-head")]
        tree_head: Vec<PathBuf>,
        /// A receipt (the 201 body; repeatable): its batch and record must still be stored.
        #[arg(long)]
        receipt: Vec<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check a consent receipt offline against the operator's public key, and optionally
    /// that the server's log still holds it.
    VerifyReceipt(super::proofs::VerifyReceiptArgs),
    /// Watch a server's signed tree heads; exit non-zero on any inconsistency.
    Witness(super::witness::WitnessArgs),
    /// Write records as CSV or JSON lines.
    #[command(after_help = "Examples:
  crumb ledger export --site leadsgen --from 2026-01-01 --to 2026-02-01 --format csv -o jan.csv
  crumb ledger export > all.jsonl                        every record, JSON lines

Times: YYYY-MM-DD (UTC) or RFC 3339; --from inclusive, --to exclusive.")]
    Export {
        #[command(flatten)]
        common: Common,
        /// From this time (inclusive): YYYY-MM-DD or RFC 3339.
        #[arg(long)]
        from: Option<String>,
        /// Until this time (exclusive): YYYY-MM-DD or RFC 3339.
        #[arg(long)]
        to: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
        /// Output file (`-` for standard output).
        #[arg(short, long, default_value = "-")]
        output: PathBuf,
    },
    /// Count records, consent ids, actions, sites, chains and checkpoints.
    #[command(after_help = "Examples:
  crumb ledger stats
  crumb ledger stats --site leadsgen --json
  crumb ledger stats --from 2026-01-01 --to 2026-02-01     decisions of January")]
    Stats {
        #[command(flatten)]
        common: Common,
        /// Only records from this time (inclusive): YYYY-MM-DD or RFC 3339.
        #[arg(long)]
        from: Option<String>,
        /// Only records before this time (exclusive): YYYY-MM-DD or RFC 3339.
        #[arg(long)]
        to: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Export formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header row.
    Csv,
}

async fn open(common: &Common) -> miette::Result<Arc<dyn Storage>> {
    common.db.open(false).await
}

fn parse_time(s: &str) -> miette::Result<i64> {
    export::parse_time(s).ok_or_else(|| {
        miette!(help = "use YYYY-MM-DD or an RFC 3339 time like 2026-01-31T12:00:00Z", "`{s}` is not a date")
    })
}

/// Run `crumb ledger ...`.
pub fn run(args: Args) -> miette::Result<u8> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().into_diagnostic()?;
    rt.block_on(async move {
        match args.command {
            Sub::Verify { common, public_key, tree_head, receipt, json } => {
                verify_cmd(&common, &public_key, &tree_head, &receipt, json).await
            }
            Sub::Export { common, from, to, format, output } => export_cmd(&common, from, to, format, output).await,
            Sub::Stats { common, from, to, json } => stats_cmd(&common, from, to, json).await,
            Sub::VerifyReceipt(a) => super::proofs::verify_receipt(a).await,
            Sub::Witness(a) => super::witness::witness(a).await,
        }
    })
}

async fn verify_cmd(
    common: &Common,
    public_keys: &[String],
    heads: &[PathBuf],
    receipts: &[PathBuf],
    json: bool,
) -> miette::Result<u8> {
    if common.site.is_some() {
        return Err(miette!(
            help = "run `crumb ledger verify` without --site: the chains interleave every site's records",
            "verify checks whole chains; it cannot check one site alone"
        ));
    }
    let mut witnessed = Vec::new();
    for h in heads {
        witnessed.push(super::witness::read_head(h)?.ok_or_else(|| miette!("{}: no such file", h.display()))?);
    }
    let mut proofs = Vec::new();
    for r in receipts {
        let text = std::fs::read_to_string(r).map_err(|e| miette!("{}: {e}", r.display()))?;
        proofs.push(
            serde_json::from_str(&text).map_err(|e| miette!("{}: not a receipt with a proof: {e}", r.display()))?,
        );
    }
    let mut trusted = Vec::new();
    for k in public_keys {
        trusted.push(crumb_ledger::keys::public_from_hex(k).map_err(|e| miette!("--public-key {k}: {e}"))?);
    }
    if trusted.is_empty() {
        let key =
            secrets::existing_checkpoint_key(&common.db.data_dir).map_err(|e| miette!("{e}"))?.ok_or_else(|| {
                miette!(
                    help =
                        "pass --data-dir of the server, or --public-key HEX (printed by a verify run that has the key)",
                    "no checkpoint key in {}",
                    common.db.data_dir.display()
                )
            })?;
        trusted.push(key.verifying_key());
    }
    let storage = open(common).await?;
    let report = verify_with(&*storage, &trusted, &witnessed, &proofs).await.map_err(|e| miette!("{e}"))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report).into_diagnostic()?);
    } else if report.ok() {
        println!(
            "ok: {} records on {} chains verified against {} signed checkpoints and {} signed batches ({} in the log)",
            report.records, report.chains, report.checkpoints, report.batches, report.log_size
        );
        let keys: Vec<String> = trusted.iter().map(|k| hex::encode(k.to_bytes())).collect();
        println!("checkpoint public key: {}", keys.join(", "));
    }
    if let Some(first) = report.problems.first() {
        super::admin_hooks::verify_event(&*storage, first, report.problems.len()).await;
    }
    if !json && let Some(first) = report.problems.first() {
        println!("TAMPERED: first bad record {}#{}: {}", first.chain, first.seq, first.message);
        for p in &report.problems[1..] {
            println!("  also {}#{}: {}", p.chain, p.seq, p.message);
        }
    }
    Ok(if report.ok() { exit::OK } else { exit::FINDINGS })
}

async fn export_cmd(
    common: &Common,
    from: Option<String>,
    to: Option<String>,
    format: ExportFormat,
    output: PathBuf,
) -> miette::Result<u8> {
    let from = from.as_deref().map(parse_time).transpose()?.unwrap_or(i64::MIN);
    let to = to.as_deref().map(parse_time).transpose()?.unwrap_or(i64::MAX);
    let storage = open(common).await?;
    let sink: Box<dyn Write> = if output == std::path::Path::new("-") {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(std::fs::File::create(&output).map_err(|e| miette!("cannot write {}: {e}", output.display()))?)
    };
    let out = std::io::BufWriter::new(sink);
    let (mut csv, mut jsonl) = match format {
        ExportFormat::Csv => (Some(csv::Writer::from_writer(out)), None),
        ExportFormat::Jsonl => (None, Some(out)),
    };
    if let Some(w) = csv.as_mut() {
        w.write_record(export::CSV_HEADER).into_diagnostic()?;
    }
    let mut after = None;
    let mut n = 0u64;
    loop {
        let page =
            storage.export(common.site.as_deref(), from, to, after.clone(), 5000).await.map_err(|e| miette!("{e}"))?;
        let Some(last) = page.last() else { break };
        after = Some((last.entry.recorded_at, last.chain.clone(), last.seq));
        for r in &page {
            n += 1;
            if let Some(w) = csv.as_mut() {
                w.write_record(export::csv_row(r)).into_diagnostic()?;
            }
            if let Some(out) = jsonl.as_mut() {
                serde_json::to_writer(&mut *out, r).into_diagnostic()?;
                out.write_all(b"\n").into_diagnostic()?;
            }
        }
    }
    if let Some(mut w) = csv {
        w.flush().into_diagnostic()?;
    }
    if let Some(mut out) = jsonl {
        out.flush().into_diagnostic()?;
    }
    eprintln!("exported {n} records");
    let site = common.site.as_deref();
    super::admin_hooks::audit_cli(&*storage, "export", site, format!("`crumb ledger export` of {n} records")).await;
    Ok(exit::OK)
}

async fn stats_cmd(common: &Common, from: Option<String>, to: Option<String>, json: bool) -> miette::Result<u8> {
    let from = from.as_deref().map(parse_time).transpose()?.unwrap_or(i64::MIN);
    let to = to.as_deref().map(parse_time).transpose()?.unwrap_or(i64::MAX);
    let storage = open(common).await?;
    let st = storage.stats(common.site.as_deref(), from, to).await.map_err(|e| miette!("{e}"))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&st).into_diagnostic()?);
        return Ok(exit::OK);
    }
    println!("records      {}", st.records);
    println!("consent ids  {}", st.consent_ids);
    println!("chains       {}", st.chains);
    println!("checkpoints  {}", st.checkpoints);
    if let (Some(a), Some(b)) = (st.first_at, st.last_at) {
        println!("first        {}", export::rfc3339(a));
        println!("last         {}", export::rfc3339(b));
    }
    for (k, v) in &st.by_site {
        println!("site {k:<12} {v}");
    }
    for (k, v) in &st.by_action {
        println!("action {k:<10} {v}");
    }
    Ok(exit::OK)
}

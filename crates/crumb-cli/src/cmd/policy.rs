//! `crumb policy`: render the cookie policy; `crumb policy diff`: classify changes.

use std::path::{Path, PathBuf};

use crumb_core::Inventory;
use crumb_core::check::{Severity, check_source};
use crumb_policy::{Format as PolicyFormat, RenderOptions};

use crate::cmd::check::report;
use crate::exit;
use crate::input::{read_inventory, write_output};

/// Render the cookie policy from an inventory, or compare two versions of one.
#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:
  crumb policy                                   HTML policy of ./crumb.toml on stdout
  crumb policy examples/leadsgen.toml --format md -o cookie-policy.md
  crumb policy --lang de --format html -o richtlinie.html
  crumb policy --templates my-templates/         override policy.html / policy.md
  crumb policy --since crumb.v3.toml             add \"what changed\" since that version
  crumb policy diff old.toml new.toml            exit 3 when a change is material

The inventory must pass `crumb check`; a failed render writes no file."
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Sub>,
    /// Inventory file.
    #[arg(default_value = "crumb.toml")]
    pub path: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Html)]
    pub format: Format,
    /// Language (one of the site's `languages`); the site's default when omitted.
    #[arg(long)]
    pub lang: Option<String>,
    /// Write to this file instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Directory with `policy.html` and/or `policy.md` overriding the built-in templates.
    #[arg(long)]
    pub templates: Option<PathBuf>,
    /// The inventory of the last material version: the policy lists, in visitors' words,
    /// the material changes since then.
    #[arg(long, value_name = "OLD")]
    pub since: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// List the changes between two inventories, each marked material or minor.
    #[command(after_help = "Examples:
  crumb policy diff crumb.old.toml crumb.toml
  git show HEAD~1:crumb.toml > /tmp/old.toml && crumb policy diff /tmp/old.toml crumb.toml

Exit codes: 0 no change or only minor ones, 3 at least one material change (visitors are
asked again), 1 an inventory has errors, 2 a file could not be read.")]
    Diff(DiffArgs),
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The earlier inventory.
    pub old: PathBuf,
    /// The later inventory.
    pub new: PathBuf,
    /// Print the changes as JSON.
    #[arg(long)]
    pub json: bool,
    /// Language of the visitor sentences (one of the new inventory's `languages`).
    #[arg(long)]
    pub lang: Option<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Html,
    #[value(alias = "markdown")]
    Md,
    Json,
}

/// Read and check an inventory; print its diagnostics; `Ok(None)` when it has errors.
pub fn load_checked(path: &Path) -> miette::Result<Option<Inventory>> {
    let src = read_inventory(path)?;
    let checked = check_source(&src);
    let shown = path.display().to_string();
    let errors: Vec<_> = checked.diagnostics.iter().filter(|d| d.severity == Severity::Error).collect();
    if !errors.is_empty() {
        for d in &errors {
            eprintln!("{:?}", report(d, &shown, &src));
        }
        eprintln!("{shown}: {} error(s); fix them first (`crumb check {shown}`)", errors.len());
        return Ok(None);
    }
    Ok(checked.inventory)
}

pub fn run(args: Args) -> miette::Result<u8> {
    if let Some(Sub::Diff(d)) = args.command {
        return diff(d);
    }
    let Some(inv) = load_checked(&args.path)? else { return Ok(exit::FINDINGS) };
    let previous = match &args.since {
        Some(path) => match load_checked(path)? {
            Some(old) => Some(old),
            None => return Ok(exit::FINDINGS),
        },
        None => None,
    };
    let opts = RenderOptions {
        format: match args.format {
            Format::Html => PolicyFormat::Html,
            Format::Md => PolicyFormat::Markdown,
            Format::Json => PolicyFormat::Json,
        },
        lang: args.lang,
        templates: args.templates,
        base_url: None,
    };
    if let Some(dir) = &opts.templates
        && !dir.is_dir()
    {
        return Err(miette::miette!(
            help = "pass a directory holding policy.html and/or policy.md",
            "{} is not a directory",
            dir.display()
        ));
    }
    let out = crumb_policy::render_since(&inv, previous.as_ref(), &opts).map_err(|e| miette::miette!("{e}"))?;
    match args.output {
        Some(path) => {
            write_output(&path, out.as_bytes())?;
            eprintln!("wrote {} (policy version {})", path.display(), crumb_core::policy_version(&inv));
        }
        None => write_output(Path::new("-"), out.as_bytes())?,
    }
    Ok(exit::OK)
}

fn diff(args: DiffArgs) -> miette::Result<u8> {
    let (Some(old), Some(new)) = (load_checked(&args.old)?, load_checked(&args.new)?) else {
        return Ok(exit::FINDINGS);
    };
    let changes = crumb_core::diff::diff(&old, &new);
    let material = crumb_core::diff::is_material(&changes);
    let lang = crumb_policy::pick_language(&new, args.lang.as_deref()).map_err(|e| miette::miette!("{e}"))?;
    let say = |c: &crumb_core::diff::Change| crumb_policy::change_sentence(c, &old, &new, &lang);
    if args.json {
        let listed: Vec<serde_json::Value> = changes
            .iter()
            .map(|c| {
                let mut v = serde_json::to_value(c).unwrap_or_default();
                v["visitor"] = say(c).into();
                v
            })
            .collect();
        let v = serde_json::json!({
            "old_version": crumb_core::policy_version(&old),
            "new_version": crumb_core::policy_version(&new),
            "material": material,
            "lang": lang,
            "changes": listed,
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else if changes.is_empty() {
        println!("no changes");
    } else {
        for c in &changes {
            println!("{c}");
            println!("         {}", say(c));
        }
        let n = changes.iter().filter(|c| c.material).count();
        println!(
            "{} change(s), {n} material: {}",
            changes.len(),
            if material { "every visitor will be asked again" } else { "visitors keep their consent" }
        );
    }
    Ok(if material { exit::MATERIAL } else { exit::OK })
}

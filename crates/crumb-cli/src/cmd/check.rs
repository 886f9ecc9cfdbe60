//! `crumb check [PATH]`: validate an inventory (or a directory of them).

use std::path::PathBuf;

use crumb_core::check::{Checked, Diagnostic, Severity, check_source};
use miette::{LabeledSpan, MietteDiagnostic, NamedSource, Report};

use crate::exit;
use crate::input::{inventory_paths, read_inventory};

/// Validate an inventory: exit 0 when it is valid (warnings allowed), 1 on errors.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  crumb check                       check ./crumb.toml
  crumb check examples/leadsgen.toml
  crumb check sites/                check every *.toml in a directory
  crumb check --format json crumb.toml | jq '.[].diagnostics'

Exit codes: 0 valid (warnings allowed), 1 errors found, 2 the file could not be read.")]
pub struct Args {
    /// Inventory file, or a directory of them.
    #[arg(default_value = "crumb.toml")]
    pub path: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Treat warnings as errors.
    #[arg(long)]
    pub deny_warnings: bool,
}

/// How to print diagnostics.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// rustc-style, for people.
    Text,
    /// A JSON array, one object per file, for machines.
    Json,
}

/// Turn a core diagnostic into a miette report pointing into `src`.
pub fn report(d: &Diagnostic, path: &str, src: &str) -> Report {
    let mut m = MietteDiagnostic::new(d.message.clone()).with_code(format!("crumb::{}", d.code)).with_severity(match d
        .severity
    {
        Severity::Error => miette::Severity::Error,
        Severity::Warning => miette::Severity::Warning,
    });
    if let Some(h) = &d.help {
        m = m.with_help(h.clone());
    }
    if let Some(span) = &d.span {
        m = m.with_label(LabeledSpan::new(d.label.clone(), span.start, span.len()));
    }
    Report::new(m).with_source_code(NamedSource::new(path, src.to_string()).with_language("TOML"))
}

/// Line and column (1-based) of a byte offset.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let before = &src[..offset.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, col)
}

fn json_for(path: &str, src: &str, checked: &Checked) -> serde_json::Value {
    let diags: Vec<_> = checked
        .diagnostics
        .iter()
        .map(|d| {
            let (line, column) = d.span.as_ref().map(|s| line_col(src, s.start)).unwrap_or((0, 0));
            serde_json::json!({
                "severity": d.severity,
                "code": d.code,
                "message": d.message,
                "help": d.help,
                "line": line,
                "column": column,
                "span": d.span.as_ref().map(|s| [s.start, s.end]),
            })
        })
        .collect();
    serde_json::json!({
        "path": path,
        "valid": !checked.has_errors(),
        "site": checked.inventory.as_ref().map(|i| i.site.id.clone()),
        "policy_version": checked.valid().map(crumb_core::policy_version),
        "errors": checked.diagnostics.iter().filter(|d| d.severity == Severity::Error).count(),
        "warnings": checked.diagnostics.iter().filter(|d| d.severity == Severity::Warning).count(),
        "diagnostics": diags,
    })
}

pub fn run(args: Args) -> miette::Result<u8> {
    let paths = inventory_paths(&args.path)?;
    let mut worst = exit::OK;
    let mut json = Vec::new();
    for path in &paths {
        let shown = path.display().to_string();
        let src = match read_inventory(path) {
            Ok(s) => s,
            Err(e) => {
                if matches!(args.format, Format::Json) {
                    json.push(serde_json::json!({"path": shown, "valid": false, "error": e.to_string()}));
                    worst = exit::FAILURE;
                    continue;
                }
                return Err(e.into());
            }
        };
        let checked = check_source(&src);
        let errors = checked.diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
        let warnings = checked.diagnostics.len() - errors;
        let failed = errors > 0 || (args.deny_warnings && warnings > 0);
        if failed && worst == exit::OK {
            worst = exit::FINDINGS;
        }
        match args.format {
            Format::Json => json.push(json_for(&shown, &src, &checked)),
            Format::Text => {
                for d in &checked.diagnostics {
                    eprintln!("{:?}", report(d, &shown, &src));
                }
                if failed {
                    eprintln!("{shown}: {errors} error(s), {warnings} warning(s)");
                } else if let Some(inv) = checked.valid() {
                    println!(
                        "{shown}: ok, site `{}`, policy version {} ({} warning(s))",
                        inv.site.id,
                        crumb_core::policy_version(inv),
                        warnings
                    );
                }
            }
        }
    }
    if matches!(args.format, Format::Json) {
        println!("{}", serde_json::to_string_pretty(&json).unwrap_or_default());
    }
    Ok(worst)
}

//! `crumb init`: write a commented starter inventory.

use std::path::PathBuf;

use crate::exit;
use crate::input::write_output;

const STARTER: &str = include_str!("../../templates/starter.toml");

/// Write a commented starter inventory that passes `crumb check`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  crumb init                         write ./crumb.toml for site `example`
  crumb init --site shop -o shop.toml
  crumb init -o - | less             print it instead")]
pub struct Args {
    /// Site id (lowercase letters, digits, `-`, `_`).
    #[arg(long, default_value = "example")]
    pub site: String,
    /// Where to write it (`-` for standard output).
    #[arg(short, long, default_value = "crumb.toml")]
    pub output: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

/// The starter inventory for `site`, dated `date` (YYYY-MM-DD).
pub fn starter(site: &str, date: &str) -> String {
    let mut name: Vec<char> = site.replace(['-', '_'], " ").chars().collect();
    if let Some(c) = name.first_mut() {
        *c = c.to_ascii_uppercase();
    }
    STARTER
        .replace("{{SITE}}", site)
        .replace("{{NAME}}", &name.into_iter().collect::<String>())
        .replace("{{DATE}}", date)
}

fn today() -> String {
    let d = time::OffsetDateTime::now_utc().date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

pub fn run(args: Args) -> miette::Result<u8> {
    let valid = !args.site.is_empty()
        && args.site.len() <= 63
        && args.site.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && args.site.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !valid {
        return Err(miette::miette!(
            help = "use lowercase letters, digits, `-` and `_`, like `--site shop`",
            "`{}` cannot be a site id",
            args.site
        ));
    }
    if args.output.as_os_str() != "-" && args.output.exists() && !args.force {
        return Err(miette::miette!(
            help = "pass --force to overwrite it, or -o another path",
            "{} already exists",
            args.output.display()
        ));
    }
    let text = starter(&args.site, &today());
    write_output(&args.output, text.as_bytes())?;
    if args.output.as_os_str() != "-" {
        eprintln!(
            "wrote {}: edit it to describe your site's cookies, then run `crumb check {}`",
            args.output.display(),
            args.output.display()
        );
    }
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starter_passes_check_without_warnings() {
        let src = starter("shop", "2026-11-23");
        let checked = crumb_core::check_source(&src);
        assert!(checked.diagnostics.is_empty(), "{:#?}", checked.diagnostics);
        assert_eq!(checked.inventory.map(|i| i.site.id), Some("shop".to_string()));
    }

    #[test]
    fn today_is_a_date() {
        let t = today();
        assert_eq!(t.len(), 10);
        assert!(t.starts_with("20"));
    }
}

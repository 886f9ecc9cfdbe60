//! `crumb admin create-user|delete-user|list-users`: the dashboard's accounts.

use std::io::BufRead;

use miette::{IntoDiagnostic, miette};

use crate::exit;

/// Manage the accounts that can sign in to the dashboard (`/admin` of `crumb serve`).
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  crumb admin create-user alice                     prints a generated password once
  printf '%s\\n' \"$PASSWORD\" | crumb admin create-user alice --password-stdin
  crumb admin create-user alice --database postgres://crumb@db/crumb
  crumb admin list-users
  crumb admin delete-user alice

Accounts live in the ledger's database, so every `crumb serve` on it knows them.
See docs/dashboard.md.")]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

/// Admin subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Create an account, or set a new password for an existing one (signing it out everywhere).
    #[command(after_help = "Examples:
  crumb admin create-user alice
  printf '%s\\n' \"$PASSWORD\" | crumb admin create-user alice --password-stdin

Without --password-stdin a random 24-character password is generated and printed once.
Passwords are stored as Argon2id hashes; at least 12 characters.")]
    CreateUser {
        /// Account name (letters, digits, `.`, `_`, `-`, `@`; at most 64 characters).
        name: String,
        /// Read the password from the first line of standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        common: super::database::Database,
    },
    /// Delete an account and end its sessions.
    DeleteUser {
        /// Account name.
        name: String,
        #[command(flatten)]
        common: super::database::Database,
    },
    /// List the accounts.
    ListUsers {
        #[command(flatten)]
        common: super::database::Database,
    },
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

/// Run `crumb admin ...`.
pub fn run(args: Args) -> miette::Result<u8> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().into_diagnostic()?;
    rt.block_on(async move {
        match args.command {
            Sub::CreateUser { name, password_stdin, common } => {
                if !valid_name(&name) {
                    return Err(miette!(
                        help = "use letters, digits, `.`, `_`, `-` or `@`, at most 64 characters",
                        "`{name}` is not a valid account name"
                    ));
                }
                let (password, generated) = if password_stdin {
                    let mut line = String::new();
                    std::io::stdin().lock().read_line(&mut line).into_diagnostic()?;
                    (line.trim_end_matches(['\r', '\n']).to_string(), false)
                } else {
                    (crumb_dashboard::generate_password(), true)
                };
                let hash = crumb_dashboard::hash_password(&password).map_err(|e| {
                    miette!(help = "pick a longer password, or omit --password-stdin to generate one", "{e}")
                })?;
                let storage = common.open(true).await?;
                let new =
                    storage.set_admin_user(&name, &hash, crumb_ledger::now_ms()).await.map_err(|e| miette!("{e}"))?;
                eprintln!(
                    "{} dashboard account `{name}`{}",
                    if new { "created" } else { "set a new password for" },
                    if new { "" } else { " (its sessions are signed out)" }
                );
                if generated {
                    println!("{password}");
                    eprintln!("the password above is shown once; sign in at /admin of `crumb serve`");
                }
                Ok(exit::OK)
            }
            Sub::DeleteUser { name, common } => {
                let storage = common.open(true).await?;
                if storage.delete_admin_user(&name).await.map_err(|e| miette!("{e}"))? {
                    eprintln!("deleted dashboard account `{name}` and signed it out");
                    Ok(exit::OK)
                } else {
                    Err(miette!(help = "`crumb admin list-users` shows the accounts", "no dashboard account `{name}`"))
                }
            }
            Sub::ListUsers { common } => {
                let storage = common.open(true).await?;
                for name in storage.admin_users().await.map_err(|e| miette!("{e}"))? {
                    println!("{name}");
                }
                Ok(exit::OK)
            }
        }
    })
}

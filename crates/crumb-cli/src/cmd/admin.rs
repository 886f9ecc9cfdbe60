//! `crumb admin create-user|delete-user|list-users`: the dashboard's accounts;
//! `crumb admin create-key|list-keys|revoke-key`: the statistics API's keys.

use std::io::BufRead;

use miette::{IntoDiagnostic, miette};

use crate::exit;

/// Manage the accounts that can sign in to the dashboard (`/admin` of `crumb serve`) and the
/// keys of the statistics API (`/api/v1/stats`).
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  crumb admin create-user alice                     prints a generated password once
  printf '%s\\n' \"$PASSWORD\" | crumb admin create-user alice --password-stdin
  crumb admin create-user alice --database postgres://crumb@db/crumb
  crumb admin list-users
  crumb admin delete-user alice
  crumb admin create-key \"BI dashboard\" --site leadsgen   prints the key once
  crumb admin list-keys
  crumb admin revoke-key 3f9c0a1b2c3d4e5f

Accounts and keys live in the ledger's database, so every `crumb serve` on it knows them.
See docs/dashboard.md and docs/server.md.")]
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
    /// Create a read-only key of the statistics API, scoped to sites; prints it once.
    #[command(after_help = "Examples:
  crumb admin create-key \"BI dashboard\" --site leadsgen
  crumb admin create-key reporting --site leadsgen --site mixerlead

The key is printed once on standard output; only its SHA-256 is stored. Use it as
`Authorization: Bearer <key>` on GET /api/v1/stats (docs/server.md).")]
    CreateKey {
        /// What the key is for (at most 100 characters), shown by list-keys.
        name: String,
        /// A site id the key may read; repeat for several (at least one).
        #[arg(long = "site", required = true)]
        sites: Vec<String>,
        #[command(flatten)]
        common: super::database::Database,
    },
    /// List the API keys (id, created, revoked, sites, name); never their secrets.
    ListKeys {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: super::database::Database,
    },
    /// Revoke an API key by id: it stops working at once on every server.
    RevokeKey {
        /// The key's id, as list-keys shows it.
        id: String,
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
            Sub::CreateKey { name, sites, common } => create_key(name, sites, common).await,
            Sub::ListKeys { json, common } => list_keys(json, common).await,
            Sub::RevokeKey { id, common } => {
                let storage = common.open(true).await?;
                if storage.revoke_api_key(&id, crumb_ledger::now_ms()).await.map_err(|e| miette!("{e}"))? {
                    eprintln!("revoked API key {id}");
                    Ok(exit::OK)
                } else {
                    Err(miette!(help = "`crumb admin list-keys` shows the keys", "no active API key `{id}`"))
                }
            }
        }
    })
}

async fn create_key(name: String, mut sites: Vec<String>, common: super::database::Database) -> miette::Result<u8> {
    use crumb_server::apikeys;
    if !apikeys::valid_name(&name) {
        return Err(miette!(
            help = "describe what the key is for, like \"BI dashboard\"",
            "the key name must be 1 to {} characters without control characters",
            apikeys::MAX_NAME
        ));
    }
    if let Some(bad) = sites.iter().find(|s| !apikeys::valid_site_id(s)) {
        return Err(miette!(
            help = "use the `[site] id` of an inventory: lowercase letters, digits, `-` and `_`",
            "`{bad}` is not a site id"
        ));
    }
    sites.sort();
    sites.dedup();
    let key = apikeys::generate();
    let row = crumb_ledger::ApiKeyRow {
        id: key.id.clone(),
        name,
        sites,
        created_at: crumb_ledger::now_ms(),
        revoked_at: None,
    };
    let storage = common.open(true).await?;
    storage.add_api_key(&row, &apikeys::hash(&key.key)).await.map_err(|e| miette!("{e}"))?;
    eprintln!("created API key {} for {}", row.id, row.sites.join(", "));
    println!("{}", key.key);
    eprintln!("the key above is shown once; send it as `Authorization: Bearer <key>` to /api/v1/stats");
    Ok(exit::OK)
}

async fn list_keys(json: bool, common: super::database::Database) -> miette::Result<u8> {
    let storage = common.open(true).await?;
    for k in storage.api_keys().await.map_err(|e| miette!("{e}"))? {
        if json {
            println!("{}", serde_json::to_string(&k).into_diagnostic()?);
            continue;
        }
        let revoked = k.revoked_at.map(crumb_ledger::export::rfc3339).unwrap_or_else(|| "active".into());
        println!(
            "{}  {}  {}  {}  {}",
            k.id,
            crumb_ledger::export::rfc3339(k.created_at),
            revoked,
            k.sites.join(","),
            k.name
        );
    }
    Ok(exit::OK)
}

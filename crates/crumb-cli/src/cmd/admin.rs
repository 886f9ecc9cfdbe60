//! `crumb admin create-user|delete-user|list-users`: the dashboard's accounts;
//! `crumb admin create-key|list-keys|revoke-key`: the statistics API's keys;
//! `set-role`, webhooks, deliveries and the audit log: [`super::admin_hooks`].

use std::io::BufRead;

use miette::{IntoDiagnostic, miette};

use super::admin_hooks as hooks;
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
  crumb admin set-role bob --role viewer --site leadsgen
  crumb admin create-webhook leadsgen https://hooks.example.com/crumb --event scan.errors
  crumb admin deliveries --site leadsgen
  crumb admin audit

Accounts, roles, keys, webhooks and the audit log live in the ledger's database, so every `crumb serve` on it knows them.
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
Passwords are stored as Argon2id hashes; at least 12 characters.
A new account is admin of every site unless --role/--site say otherwise; an existing
account keeps its roles unless --role is given.")]
    CreateUser {
        /// Account name (letters, digits, `.`, `_`, `-`, `@`; at most 64 characters).
        name: String,
        /// Read the password from the first line of standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
        /// `admin` or `viewer` (default for a new account: admin).
        #[arg(long)]
        role: Option<String>,
        /// A site the role applies to (repeatable; default: every site).
        #[arg(long = "site")]
        sites: Vec<String>,
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
    /// Replace an account's roles: admin or viewer, of some sites or of every site.
    #[command(after_help = "Examples:
  crumb admin set-role bob --role viewer --site leadsgen
  crumb admin set-role alice --role admin                 admin of every site

Viewers see figures, records, versions and scans; admins also export records and manage
webhooks; admins of every site manage accounts (docs/dashboard.md).")]
    SetRole {
        /// Account name.
        name: String,
        /// `admin` or `viewer`.
        #[arg(long)]
        role: String,
        /// A site the role applies to (repeatable; default: every site).
        #[arg(long = "site")]
        sites: Vec<String>,
        #[command(flatten)]
        common: super::database::Database,
    },
    /// Add a webhook to a site; prints its id and, once, its signing secret.
    #[command(after_help = "Examples:
  crumb admin create-webhook leadsgen https://hooks.example.com/crumb --event policy.material_change
  crumb admin create-webhook leadsgen http://127.0.0.1:9000/h --event scan.errors --event consent.reject_spike

Events: policy.material_change, scan.errors, ledger.verify_failed, consent.reject_spike.
Bodies are signed (Crumb-Signature); see docs/webhooks.md for checking them.")]
    CreateWebhook {
        /// Site id.
        site: String,
        /// The http:// URL to POST events to.
        url: String,
        /// An event type (repeatable; at least one).
        #[arg(long = "event", required = true)]
        events: Vec<String>,
        #[command(flatten)]
        common: super::database::Database,
    },
    /// List the webhooks (id, site, events, URL); never their secrets.
    ListWebhooks {
        /// Only this site.
        #[arg(long)]
        site: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: super::database::Database,
    },
    /// Delete a webhook and its undelivered events.
    DeleteWebhook {
        /// The webhook's id, as list-webhooks shows it.
        id: String,
        #[command(flatten)]
        common: super::database::Database,
    },
    /// The webhook delivery log, newest first.
    Deliveries {
        /// Only this site.
        #[arg(long)]
        site: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: super::database::Database,
    },
    /// The audit log (sign-ins, exports, account, key and webhook changes), newest first.
    Audit {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
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
            Sub::CreateUser { name, password_stdin, role, sites, common } => {
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
                if role.is_none() && !sites.is_empty() {
                    return Err(miette!(help = "add --role admin or --role viewer", "--site needs --role"));
                }
                let roles = role.as_deref().map(|r| hooks::role_pairs(r, &sites)).transpose()?;
                let hash = crumb_dashboard::hash_password(&password).map_err(|e| {
                    miette!(help = "pick a longer password, or omit --password-stdin to generate one", "{e}")
                })?;
                let storage = common.open(true).await?;
                let new =
                    storage.set_admin_user(&name, &hash, crumb_ledger::now_ms()).await.map_err(|e| miette!("{e}"))?;
                let roles = match roles {
                    Some(r) => Some(r),
                    None if new => Some(hooks::role_pairs("admin", &[])?),
                    None => None,
                };
                if let Some(r) = &roles {
                    storage.set_roles(&name, r).await.map_err(|e| miette!("{e}"))?;
                }
                let what = roles.as_deref().map(hooks::describe).unwrap_or_else(|| "unchanged roles".into());
                let action = if new { "user_created" } else { "password_changed" };
                hooks::audit_cli(&*storage, action, None, format!("account {name}: {what}")).await;
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
                    storage.set_roles(&name, &[]).await.map_err(|e| miette!("{e}"))?;
                    hooks::audit_cli(&*storage, "user_deleted", None, format!("account {name}")).await;
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
                    hooks::audit_cli(&*storage, "key_revoked", None, format!("API key {id}")).await;
                    eprintln!("revoked API key {id}");
                    Ok(exit::OK)
                } else {
                    Err(miette!(help = "`crumb admin list-keys` shows the keys", "no active API key `{id}`"))
                }
            }
            Sub::SetRole { name, role, sites, common } => {
                hooks::set_role(&*common.open(true).await?, &name, &role, &sites).await
            }
            Sub::CreateWebhook { site, url, events, common } => {
                hooks::create_webhook(&*common.open(true).await?, &site, &url, &events).await
            }
            Sub::ListWebhooks { site, json, common } => {
                hooks::list_webhooks(&*common.open(true).await?, site.as_deref(), json).await
            }
            Sub::DeleteWebhook { id, common } => hooks::delete_webhook(&*common.open(true).await?, &id).await,
            Sub::Deliveries { site, json, common } => {
                hooks::deliveries(&*common.open(true).await?, site.as_deref(), json).await
            }
            Sub::Audit { json, common } => hooks::audit_log(&*common.open(true).await?, json).await,
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
    hooks::audit_cli(&*storage, "key_created", None, format!("API key {} for {}", row.id, row.sites.join(", "))).await;
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

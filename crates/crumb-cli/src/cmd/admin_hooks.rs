//! `crumb admin` for webhooks, roles and the audit log, and the webhook events and audit
//! entries other commands leave (`crumb scan --save`, `crumb ledger verify|export`).

use crumb_ledger::{ALL_SITES, AuditRow, Storage, now_ms};
use crumb_server::webhooks;
use miette::{IntoDiagnostic, miette};

use crate::exit;

/// Append to the audit log as `cli`; a failure is a warning (the change itself is made).
pub async fn audit_cli(storage: &dyn Storage, action: &str, site: Option<&str>, detail: String) {
    let row = AuditRow {
        id: 0,
        at: now_ms(),
        actor: "cli".into(),
        action: action.into(),
        site: site.map(str::to_string),
        detail,
    };
    if let Err(e) = storage.add_audit(&row).await {
        eprintln!("warning: the audit log entry was not written: {e}");
    }
}

/// Queue `scan.errors` for a saved scan with error findings.
pub async fn scan_event(storage: &dyn Storage, row: &crumb_ledger::ScanRow, id: i64) {
    let data = serde_json::json!({
        "scan_id": id, "target": row.target, "pages": row.pages,
        "errors": row.errors, "warnings": row.warnings, "notes": row.notes,
        "dashboard_path": format!("/admin/scans/{id}"),
    });
    let key = format!("{}:{}:{id}", webhooks::SCAN_ERRORS, row.site);
    match webhooks::emit(storage, Some(&row.site), webhooks::SCAN_ERRORS, &key, data, row.recorded_at).await {
        Ok(n) if n > 0 => eprintln!("queued {n} webhook deliveries of {}", webhooks::SCAN_ERRORS),
        Ok(_) => {}
        Err(e) => eprintln!("warning: the {} webhook event was not queued: {e}", webhooks::SCAN_ERRORS),
    }
}

/// Queue `ledger.verify_failed` for every site's webhooks (the ledger is shared), once per
/// first problem found.
pub async fn verify_event(storage: &dyn Storage, first: &crumb_ledger::Problem, problems: usize) {
    let data = serde_json::json!({
        "first_problem": {"chain": first.chain, "seq": first.seq, "kind": first.kind, "message": first.message},
        "problems": problems,
    });
    let key = format!("{}:{}:{}:{:?}", webhooks::VERIFY_FAILED, first.chain, first.seq, first.kind);
    match webhooks::emit(storage, None, webhooks::VERIFY_FAILED, &key, data, now_ms()).await {
        Ok(n) if n > 0 => eprintln!("queued {n} webhook deliveries of {}", webhooks::VERIFY_FAILED),
        Ok(_) => {}
        Err(e) => eprintln!("warning: the {} webhook event was not queued: {e}", webhooks::VERIFY_FAILED),
    }
}

/// Check `--role` and `--site` into role pairs: no site means every site.
pub fn role_pairs(role: &str, sites: &[String]) -> miette::Result<Vec<(String, String)>> {
    if !["admin", "viewer"].contains(&role) {
        return Err(miette!(help = "use --role admin or --role viewer", "unknown role `{role}`"));
    }
    if let Some(bad) = sites.iter().find(|s| s.as_str() != ALL_SITES && !crumb_server::apikeys::valid_site_id(s)) {
        return Err(miette!(
            help = "use the `[site] id` of an inventory, or `*` for every site",
            "`{bad}` is not a site id"
        ));
    }
    let mut sites = if sites.is_empty() { vec![ALL_SITES.to_string()] } else { sites.to_vec() };
    sites.sort();
    sites.dedup();
    Ok(sites.into_iter().map(|s| (s, role.to_string())).collect())
}

/// `crumb admin set-role NAME --role R [--site S]...`.
pub async fn set_role(storage: &dyn Storage, name: &str, role: &str, sites: &[String]) -> miette::Result<u8> {
    let pairs = role_pairs(role, sites)?;
    if !storage.admin_users().await.map_err(|e| miette!("{e}"))?.iter().any(|n| n == name) {
        return Err(miette!(help = "`crumb admin list-users` shows the accounts", "no dashboard account `{name}`"));
    }
    storage.set_roles(name, &pairs).await.map_err(|e| miette!("{e}"))?;
    let what = describe(&pairs);
    audit_cli(storage, "role_changed", None, format!("{name} is now {what}")).await;
    eprintln!("`{name}` is now {what}");
    Ok(exit::OK)
}

/// Roles in words: `viewer of leadsgen, mixerlead`.
pub fn describe(pairs: &[(String, String)]) -> String {
    let sites: Vec<&str> = pairs.iter().map(|(s, _)| if s == ALL_SITES { "every site" } else { s.as_str() }).collect();
    format!("{} of {}", pairs.first().map(|(_, r)| r.as_str()).unwrap_or("nothing"), sites.join(", "))
}

/// `crumb admin create-webhook SITE URL --event E...`: prints the id, then the secret once.
pub async fn create_webhook(storage: &dyn Storage, site: &str, url: &str, events: &[String]) -> miette::Result<u8> {
    let (row, secret) = webhooks::build(site, url, events, "cli", now_ms()).map_err(|e| {
        miette!(
            help = format!("events: {}; URL: https://HOST[:PORT]/PATH (or http://)", webhooks::EVENTS.join(", ")),
            "{e}"
        )
    })?;
    storage.add_webhook(&row, &secret).await.map_err(|e| miette!("{e}"))?;
    audit_cli(storage, "webhook_created", Some(site), format!("webhook {} for {}", row.id, row.events.join(", ")))
        .await;
    eprintln!("created webhook {} for {} ({})", row.id, row.site, row.events.join(", "));
    println!("{}", row.id);
    println!("{secret}");
    eprintln!("the signing secret above is shown once; verify bodies as docs/webhooks.md shows");
    Ok(exit::OK)
}

/// `crumb admin list-webhooks [--site S] [--json]`.
pub async fn list_webhooks(storage: &dyn Storage, site: Option<&str>, json: bool) -> miette::Result<u8> {
    for h in storage.webhooks(site).await.map_err(|e| miette!("{e}"))? {
        if json {
            println!("{}", serde_json::to_string(&h).into_diagnostic()?);
        } else {
            println!("{}  {}  {}  {}", h.id, h.site, h.events.join(","), h.url);
        }
    }
    Ok(exit::OK)
}

/// `crumb admin delete-webhook ID`.
pub async fn delete_webhook(storage: &dyn Storage, id: &str) -> miette::Result<u8> {
    let site =
        storage.webhooks(None).await.map_err(|e| miette!("{e}"))?.into_iter().find(|h| h.id == id).map(|h| h.site);
    if !storage.delete_webhook(id).await.map_err(|e| miette!("{e}"))? {
        return Err(miette!(help = "`crumb admin list-webhooks` shows the webhooks", "no webhook `{id}`"));
    }
    audit_cli(storage, "webhook_deleted", site.as_deref(), format!("webhook {id}")).await;
    eprintln!("deleted webhook {id} and its undelivered events");
    Ok(exit::OK)
}

/// `crumb admin deliveries [--site S] [--json]`: the delivery log, newest first.
pub async fn deliveries(storage: &dyn Storage, site: Option<&str>, json: bool) -> miette::Result<u8> {
    for d in storage.deliveries(site, 200).await.map_err(|e| miette!("{e}"))? {
        if json {
            println!("{}", serde_json::to_string(&d).into_diagnostic()?);
        } else {
            let status = d.status.map(|s| s.to_string()).or(d.error.clone()).unwrap_or_default();
            println!(
                "{}  {}  {}  #{} try {}  {}  {}",
                crumb_ledger::export::rfc3339(d.at),
                d.webhook_id,
                d.event,
                d.outbox_id,
                d.attempt,
                d.outcome,
                status
            );
        }
    }
    Ok(exit::OK)
}

/// `crumb admin audit [--json]`: the audit log, newest first.
pub async fn audit_log(storage: &dyn Storage, json: bool) -> miette::Result<u8> {
    for r in storage.audit_log(1000).await.map_err(|e| miette!("{e}"))? {
        if json {
            println!("{}", serde_json::to_string(&r).into_diagnostic()?);
        } else {
            println!(
                "{}  {}  {}  {}  {}",
                crumb_ledger::export::rfc3339(r.at),
                r.actor,
                r.action,
                r.site.as_deref().unwrap_or("-"),
                r.detail
            );
        }
    }
    Ok(exit::OK)
}

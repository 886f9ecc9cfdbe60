//! Roles: what a signed-in account may see and do, and the audit log it leaves.
//!
//! An account is `admin` or `viewer` of each site it has a role on, or of every site
//! (site `*`). Viewers see a site's figures, records, versions and scans; only admins
//! export records and manage webhooks; only admins of every site manage accounts. A
//! refused request gets 403 with the JSON error `forbidden_role`.

use axum::http::StatusCode;
use crumb_ledger::{ALL_SITES, AuditRow, RoleRow, now_ms};
use crumb_server::{ApiError, AppState};

/// The roles a signed-in account has.
#[derive(Debug, Clone, Default)]
pub(crate) struct Access {
    roles: Vec<RoleRow>,
}

pub(crate) const ADMIN: &str = "admin";
pub(crate) const VIEWER: &str = "viewer";

impl Access {
    pub(crate) fn new(roles: Vec<RoleRow>) -> Access {
        Access { roles }
    }

    fn role_on(&self, site: &str) -> Option<&str> {
        // A site role and an all-sites role: the stronger one counts.
        let mut best = None;
        for r in self.roles.iter().filter(|r| r.site == site || r.site == ALL_SITES) {
            if r.role == ADMIN {
                return Some(ADMIN);
            }
            best = Some(r.role.as_str());
        }
        best
    }

    /// May see this site's figures and records.
    pub(crate) fn can_view(&self, site: &str) -> bool {
        self.role_on(site).is_some()
    }

    /// Has a role on every site.
    pub(crate) fn sees_all(&self) -> bool {
        self.roles.iter().any(|r| r.site == ALL_SITES)
    }

    /// Admin of this site.
    pub(crate) fn is_admin(&self, site: &str) -> bool {
        self.role_on(site) == Some(ADMIN)
    }

    /// Admin of every site: manages accounts, sees the whole audit log.
    pub(crate) fn admin_all(&self) -> bool {
        self.roles.iter().any(|r| r.site == ALL_SITES && r.role == ADMIN)
    }

    /// Admin of at least one site.
    pub(crate) fn admin_any(&self) -> bool {
        self.roles.iter().any(|r| r.role == ADMIN)
    }

    /// Role names for the page header.
    pub(crate) fn summary(&self) -> String {
        self.roles
            .iter()
            .map(|r| format!("{} of {}", r.role, if r.site == ALL_SITES { "all sites" } else { &r.site }))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// 403 for an account whose role does not allow `what`.
pub(crate) fn forbidden(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden_role",
        format!("your account's role does not allow {what}; ask an admin of the site (roles: docs/dashboard.md)"),
    )
}

/// Append to the audit log; a failure is logged, never shown to the user (the action
/// itself already happened or is refused on its own terms).
pub(crate) async fn audit(st: &AppState, actor: &str, action: &str, site: Option<&str>, detail: String) {
    let actor: String = actor.chars().filter(|c| !c.is_control()).take(64).collect();
    let row = AuditRow { id: 0, at: now_ms(), actor, action: action.into(), site: site.map(str::to_string), detail };
    if let Err(e) = st.storage().add_audit(&row).await {
        tracing::warn!(error = %e, action, "audit log entry not written");
    }
}

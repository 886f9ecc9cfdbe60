//! # crumb-dashboard
//!
//! The admin dashboard of `crumb serve`, under `/admin/`: consent rates per site, charts
//! of the trends (inline SVG drawn on the server, `charts`), the
//! records themselves, CSV exports and every policy version a site has published, behind a
//! login. Accounts are made with `crumb admin create-user NAME`.
//!
//! - Accounts and sessions live in the ledger's database ([`crumb_ledger::AdminStore`]), so
//!   several `crumb serve` processes on one PostgreSQL share them. Passwords are stored as
//!   Argon2id hashes, sessions as the SHA-256 of their token.
//! - The session cookie `crumb_admin` is `HttpOnly; Secure; SameSite=Strict; Path=/admin`.
//!   Forms are same-origin only (`Origin` is checked on every POST). Failed logins are
//!   throttled per address.
//! - Pages are server-rendered [minijinja](https://docs.rs/minijinja) templates an operator
//!   can override ([`DashboardOptions::templates`]); no script, no third-party request, and
//!   a `Content-Security-Policy` that allows neither.
//!
//! - Roles per site (`admin`, `viewer`; `access`): viewers cannot export records or manage
//!   webhooks and accounts. Sign-ins, exports and changes are written to the audit log.
//! - Webhooks of the sites an account administers, with their delivery log
//!   (`/admin/webhooks`, `crumb_server::webhooks`).
//!
//! [`routes`] returns the routes to merge into [`crumb_server::router_with`].

use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::response::Redirect;
use axum::routing::{get, post};
use crumb_server::AppState;

mod access;
mod audit;
mod charts;
mod hooks;
mod pages;
mod password;
mod session;
mod state;

use charts::charts;
use pages::{export, overview, records, scan, scans, versions};
use session::{login, login_form, logout};
use state::{Dashboard, security_headers, stylesheet};

pub use audit::AUDIT_SHOWN;
pub use charts::MAX_DAYS;
pub use hooks::DELIVERIES_SHOWN;
pub use pages::SCANS_SHOWN;
pub use password::{MIN_PASSWORD_LEN, PasswordError, generate_password, hash_password, verify_password};
pub use state::{DashboardOptions, MAX_FAILED_LOGINS, PAGE_SIZE, SESSION_COOKIE, TEMPLATES, THROTTLE_WINDOW_MS};

/// The dashboard's routes, to merge into [`crumb_server::router_with`].
pub fn routes(opts: DashboardOptions) -> Router<AppState> {
    let dash = Arc::new(Dashboard::new(opts));
    Router::new()
        .route("/admin", get(overview))
        .route("/admin/", get(|| async { Redirect::to("/admin") }))
        .route("/admin/login", get(login_form).post(login))
        .route("/admin/logout", post(logout))
        .route("/admin/charts", get(charts))
        .route("/admin/records", get(records))
        .route("/admin/export.csv", get(export))
        .route("/admin/versions", get(versions))
        .route("/admin/scans", get(scans))
        .route("/admin/scans/{id}", get(scan))
        .route("/admin/webhooks", get(hooks::list).post(hooks::create))
        .route("/admin/webhooks/{id}/delete", post(hooks::delete))
        .route("/admin/audit", get(audit::log))
        .route("/admin/users", get(audit::users))
        .route("/admin/users/roles", post(audit::set_role))
        .route("/admin/admin.css", get(stylesheet))
        .layer(axum::middleware::map_response(security_headers))
        .layer(Extension(dash))
}

#[cfg(test)]
mod tests;

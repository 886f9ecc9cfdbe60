//! The dashboard's shared state: options, limits, templates, rendering and login throttling.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Extension;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use crumb_ledger::export::rfc3339;
use crumb_server::ApiError;

use crate::password::{generate_password, hash_password};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "crumb_admin";
/// Failed logins from one address within [`THROTTLE_WINDOW_MS`] before it gets 429.
pub const MAX_FAILED_LOGINS: u32 = 10;
/// The window of [`MAX_FAILED_LOGINS`].
pub const THROTTLE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// Records per page of `/admin/records`.
pub const PAGE_SIZE: i64 = 100;

pub(crate) const STYLESHEET: &str = include_str!("../templates/admin.css");

/// Every template: the name an override file must have, and the built-in text.
pub const TEMPLATES: [(&str, &str); 11] = [
    ("base.html", include_str!("../templates/base.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("overview.html", include_str!("../templates/overview.html")),
    ("records.html", include_str!("../templates/records.html")),
    ("versions.html", include_str!("../templates/versions.html")),
    ("scans.html", include_str!("../templates/scans.html")),
    ("scan.html", include_str!("../templates/scan.html")),
    ("webhooks.html", include_str!("../templates/webhooks.html")),
    ("audit.html", include_str!("../templates/audit.html")),
    ("users.html", include_str!("../templates/users.html")),
    ("charts.html", include_str!("../templates/charts.html")),
];

/// How the dashboard is set up.
#[derive(Debug, Clone)]
pub struct DashboardOptions {
    /// A directory whose files replace the built-in templates of the same name
    /// ([`TEMPLATES`]).
    pub templates: Option<PathBuf>,
    /// How long a login lasts.
    pub session_hours: i64,
}

impl Default for DashboardOptions {
    fn default() -> Self {
        DashboardOptions { templates: None, session_hours: 12 }
    }
}

pub(crate) struct Dashboard {
    pub(crate) env: minijinja::Environment<'static>,
    pub(crate) session_ms: i64,
    /// Failed logins per address: (window start, count).
    pub(crate) failures: Mutex<HashMap<IpAddr, (i64, u32)>>,
    /// Verified against when the account does not exist, so both cases take as long.
    pub(crate) decoy_hash: String,
}

pub(crate) type Shared = Extension<Arc<Dashboard>>;

pub(crate) fn environment(templates: Option<PathBuf>) -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_filter("time", |ms: i64| rfc3339(ms).replace('T', " ").trim_end_matches('Z').to_string() + " UTC");
    env.set_loader(crumb_policy::override_loader(templates, |name| {
        TEMPLATES.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
    }));
    env
}

pub(crate) async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    resp
}

impl Dashboard {
    /// The state of a dashboard set up with `opts`.
    pub(crate) fn new(opts: DashboardOptions) -> Dashboard {
        Dashboard {
            env: environment(opts.templates),
            session_ms: opts.session_hours.max(1) * 3_600_000,
            failures: Mutex::new(HashMap::new()),
            decoy_hash: hash_password(&generate_password()).unwrap_or_default(),
        }
    }

    pub(crate) fn render(&self, name: &str, ctx: minijinja::Value) -> Response {
        self.render_status(StatusCode::OK, name, ctx)
    }

    pub(crate) fn render_status(&self, status: StatusCode, name: &str, ctx: minijinja::Value) -> Response {
        match self.env.get_template(name).and_then(|t| t.render(ctx)) {
            Ok(html) => (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
            Err(e) => {
                tracing::error!(template = name, error = %e, "dashboard template failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "template_error",
                    format!("the dashboard template `{name}` could not be rendered: {e}"),
                )
                .into_response()
            }
        }
    }

    pub(crate) fn throttled(&self, ip: IpAddr, now: i64) -> bool {
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&ip).is_some_and(|(start, n)| now - start < THROTTLE_WINDOW_MS && *n >= MAX_FAILED_LOGINS)
    }

    pub(crate) fn failed(&self, ip: IpAddr, now: i64) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, (start, _)| now - *start < THROTTLE_WINDOW_MS);
        let e = map.entry(ip).or_insert((now, 0));
        e.1 += 1;
    }
}

pub(crate) async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")], STYLESHEET)
        .into_response()
}

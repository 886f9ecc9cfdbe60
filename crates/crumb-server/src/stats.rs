//! The statistics API: `GET /api/v1/stats?site=&from=&to=` answers the
//! [figures](crate::figures) of one site and time range, summed from the ledger's hourly
//! aggregates (never by counting records), as JSON ([`SiteStats`]) or, with `format=csv` or `Accept: text/csv`, as a CSV export of the
//! same. Read-only, behind an API key ([`crate::apikeys`]) scoped to sites.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use crumb_ledger::export::{parse_time, rfc3339};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::apikeys;
use crate::error::ApiError;
use crate::figures::{ACTIONS, Figures, figures, whole_hour};
use crate::state::AppState;

/// The query string of `GET /api/v1/stats`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// Site id (required; must be in the key's scope).
    pub site: Option<String>,
    /// Start, inclusive: `YYYY-MM-DD` (UTC) or an RFC 3339 whole hour. Absent: from the
    /// first record.
    pub from: Option<String>,
    /// End, exclusive: `YYYY-MM-DD` (UTC) or an RFC 3339 whole hour. Absent: up to now and
    /// beyond.
    pub to: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<Format>,
}

/// Answer format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `application/json`.
    Json,
    /// `text/csv`.
    Csv,
}

/// The figures of one site over a time range.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct SiteStats {
    /// Site id.
    pub site: String,
    /// Start of the range, inclusive (RFC 3339); null when unbounded.
    #[schemars(extend("format" = "date-time"))]
    pub from: Option<String>,
    /// End of the range, exclusive (RFC 3339); null when unbounded.
    #[schemars(extend("format" = "date-time"))]
    pub to: Option<String>,
    /// Decisions recorded in the range.
    pub records: i64,
    /// Decisions that were a visitor's first (no earlier decision of their consent id is
    /// stored).
    pub first_decisions: i64,
    /// Decisions that changed an earlier one.
    pub changes: i64,
    /// Decisions per action (`accept_all`, `reject_all`, `save`, `withdraw`), zeros included.
    pub by_action: BTreeMap<String, i64>,
    /// The first decision in the range (RFC 3339), if any.
    #[schemars(extend("format" = "date-time"))]
    pub first_at: Option<String>,
    /// The last decision in the range (RFC 3339), if any.
    #[schemars(extend("format" = "date-time"))]
    pub last_at: Option<String>,
}

impl SiteStats {
    fn new(site: &str, from: Option<i64>, to: Option<i64>, st: Figures) -> Self {
        let by_action: BTreeMap<String, i64> = st.by_action.into_iter().collect();
        SiteStats {
            site: site.to_string(),
            from: from.map(rfc3339),
            to: to.map(rfc3339),
            records: st.records,
            first_decisions: st.first_decisions,
            changes: st.changes,
            by_action,
            first_at: st.first_at.map(rfc3339),
            last_at: st.last_at.map(rfc3339),
        }
    }

    /// The CSV export: a header row and one row of figures.
    pub fn csv(&self) -> String {
        let opt = |o: &Option<String>| o.clone().unwrap_or_default();
        let mut header = vec!["site", "from", "to", "records", "first_decisions", "changes"];
        header.extend(ACTIONS);
        header.extend(["first_at", "last_at"]);
        let mut row = vec![self.site.clone(), opt(&self.from), opt(&self.to)];
        row.push(self.records.to_string());
        row.push(self.first_decisions.to_string());
        row.push(self.changes.to_string());
        row.extend(ACTIONS.iter().map(|a| self.by_action.get(*a).copied().unwrap_or(0).to_string()));
        row.extend([opt(&self.first_at), opt(&self.last_at)]);
        let row: Vec<String> = row.iter().map(|f| csv_field(f)).collect();
        format!("{}\r\n{}\r\n", header.join(","), row.join(","))
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break.
fn csv_field(f: &str) -> String {
    if f.contains([',', '"', '\n', '\r']) { format!("\"{}\"", f.replace('"', "\"\"")) } else { f.to_string() }
}

/// A bound of the range: absent, or a date or time; 422 otherwise.
fn bound(name: &str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(v) = value.filter(|v| !v.is_empty()) else { return Ok(None) };
    let t = parse_time(v).ok_or_else(|| {
        ApiError::unprocessable(
            "invalid_date",
            format!("`{name}` must be a date like 2026-01-31 or an RFC 3339 time like 2026-01-31T12:00:00Z"),
        )
    })?;
    if !whole_hour(t) {
        return Err(ApiError::unprocessable(
            "invalid_date",
            format!("`{name}` must be a whole hour (UTC), like 2026-01-31T12:00:00Z: figures are kept per hour"),
        ));
    }
    Ok(Some(t))
}

fn wants_csv(format: Option<Format>, headers: &HeaderMap) -> bool {
    match format {
        Some(f) => f == Format::Csv,
        None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.split(',').any(|t| t.trim().starts_with("text/csv"))),
    }
}

pub(crate) async fn get_stats(
    State(st): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<StatsQuery>, QueryRejection>,
) -> Response {
    let key = match apikeys::authenticate(st.storage().as_ref(), &headers).await {
        Ok(k) => k,
        Err(resp) => return resp,
    };
    let result = async {
        let Query(q) = query.map_err(|e| {
            ApiError::bad_request(format!(
                "{}; the parameters are site, from, to and format (json or csv)",
                e.body_text()
            ))
        })?;
        let site = q
            .site
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::bad_request("`site` is required: the id of a site this key may read"))?;
        if !key.sites.iter().any(|s| s == site) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "site_not_in_scope",
                format!("this API key may read {}, not `{site}`", key.sites.join(", ")),
            ));
        }
        let (from, to) = (bound("from", q.from.as_deref())?, bound("to", q.to.as_deref())?);
        if let (Some(f), Some(t)) = (from, to)
            && f >= t
        {
            return Err(ApiError::unprocessable("invalid_range", "`from` must be before `to` (`to` is exclusive)"));
        }
        let figures = figures(st.storage().as_ref(), Some(site), from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX))
            .await
            .map_err(|_| ApiError::unavailable("the database is not reachable; retry later"))?;
        Ok((SiteStats::new(site, from, to, figures), wants_csv(q.format, &headers)))
    }
    .await;
    let (stats, csv) = match result {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let mut resp = if csv {
        let name = format!("attachment; filename=\"crumb-stats-{}.csv\"", stats.site);
        let mut r = ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], stats.csv()).into_response();
        if let Ok(v) = HeaderValue::from_str(&name) {
            r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
        r
    } else {
        Json(stats).into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::VARY, HeaderValue::from_static("Accept, Authorization"));
    resp
}

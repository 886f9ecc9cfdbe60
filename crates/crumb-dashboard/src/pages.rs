//! The pages behind the login: overview, records, export, versions and scans.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use crumb_ledger::aggregates::HOUR_MS;
use crumb_ledger::export::{CSV_HEADER, csv_row};
use crumb_ledger::{Record, ScanRow, now_ms};
use crumb_server::figures::{ACTIONS, figures};
use crumb_server::{ApiError, AppState};
use serde::{Deserialize, Serialize};

use crate::access::{Access, audit, forbidden};
use crate::session::{SignedIn, storage_error};
use crate::state::*;

#[derive(Serialize)]
pub(crate) struct ActionShare {
    action: String,
    count: i64,
    percent: String,
}

#[derive(Serialize)]
pub(crate) struct SiteSummary {
    id: String,
    name: String,
    version: String,
    records: i64,
    first_decisions: i64,
    changes: i64,
    actions: Vec<ActionShare>,
    accept_rate: String,
    reject_rate: String,
    last_at: Option<i64>,
    last_scan: Option<ScanRow>,
}

pub(crate) fn percent(n: i64, of: i64) -> String {
    if of == 0 { "-".into() } else { format!("{:.1}%", n as f64 * 100.0 / of as f64) }
}

/// The overview's time windows: query value, label, length in ms (`None`: all time).
pub(crate) const PERIODS: [(&str, &str, Option<i64>); 4] = [
    ("24h", "the last 24 hours", Some(86_400_000)),
    ("7d", "the last 7 days", Some(7 * 86_400_000)),
    ("30d", "the last 30 days", Some(30 * 86_400_000)),
    ("all", "all time", None),
];

#[derive(Deserialize, Default)]
pub(crate) struct PeriodQuery {
    #[serde(default)]
    period: String,
}

pub(crate) async fn overview(
    State(st): State<AppState>,
    Extension(dash): Shared,
    SignedIn(user, access): SignedIn,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, ApiError> {
    let wanted = if q.period.is_empty() { "30d" } else { q.period.as_str() };
    let (period, period_label, length) =
        PERIODS.iter().copied().find(|(k, _, _)| *k == wanted).ok_or_else(|| {
            ApiError::bad_request(format!("period must be one of 24h, 7d, 30d, all (got `{wanted}`)"))
        })?;
    // The window starts at a whole hour (the aggregates' finest bucket): "the last 24 hours"
    // are the hours that began in the last 24.
    let now = now_ms();
    let from = length.map_or(i64::MIN, |l| (now - l).div_euclid(HOUR_MS) * HOUR_MS);
    let mut out = Vec::new();
    for site in visible_sites(&st, &access) {
        let id = &site.inv.site.id;
        // Summed from the aggregates only: no record is read or counted.
        let s = figures(st.storage().as_ref(), Some(id), from, i64::MAX).await.map_err(storage_error)?;
        let count = |a: &str| s.action(a);
        out.push(SiteSummary {
            id: id.clone(),
            name: site.inv.site.name.clone(),
            version: site.version.clone(),
            records: s.records,
            first_decisions: s.first_decisions,
            changes: s.changes,
            actions: ACTIONS
                .iter()
                .map(|a| ActionShare { action: a.to_string(), count: count(a), percent: percent(count(a), s.records) })
                .collect(),
            accept_rate: percent(count("accept_all"), s.records),
            reject_rate: percent(count("reject_all"), s.records),
            last_at: s.last_at,
            last_scan: st.storage().scans(Some(id), 1).await.map_err(storage_error)?.into_iter().next(),
        });
    }
    let records: i64 = out.iter().map(|s| s.records).sum();
    let periods: Vec<(&str, &str)> = PERIODS.iter().map(|(k, label, _)| (*k, *label)).collect();
    Ok(dash.render(
        "overview.html",
        minijinja::context! { user, page => "overview", sites => out, records, period, period_label, periods },
    ))
}

/// The filter of the records page and the export: a site and a day range (UTC, both ends
/// included), as an HTML form sends them.
#[derive(Deserialize, Default)]
pub(crate) struct Filter {
    #[serde(default)]
    pub(crate) site: String,
    #[serde(default)]
    pub(crate) from: String,
    #[serde(default)]
    pub(crate) to: String,
    /// The records page's cursor: `recorded_at.seq.chain` of the last record shown.
    #[serde(default)]
    pub(crate) after: String,
}

pub(crate) struct Range {
    pub(crate) site: Option<String>,
    pub(crate) from: i64,
    pub(crate) to: i64,
}

pub(crate) fn day_start(s: &str) -> Result<i64, ApiError> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &fmt)
        .map(|d| d.midnight().assume_utc().unix_timestamp() * 1000)
        .map_err(|_| ApiError::bad_request(format!("`{s}` is not a date: use YYYY-MM-DD")))
}

impl Filter {
    pub(crate) fn range(&self) -> Result<Range, ApiError> {
        let from = if self.from.is_empty() { i64::MIN } else { day_start(&self.from)? };
        let to = if self.to.is_empty() { i64::MAX } else { day_start(&self.to)? + 86_400_000 };
        let site = Some(self.site.clone()).filter(|s| !s.is_empty());
        Ok(Range { site, from, to })
    }

    pub(crate) fn cursor(&self) -> Result<Option<(i64, String, i64)>, ApiError> {
        if self.after.is_empty() {
            return Ok(None);
        }
        let bad = || ApiError::bad_request("`after` must be a cursor from a records page");
        let mut parts = self.after.splitn(3, '.');
        let at = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let seq = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let chain = parts.next().filter(|c| !c.is_empty()).ok_or_else(bad)?;
        Ok(Some((at, chain.to_string(), seq)))
    }
}

#[derive(Serialize)]
pub(crate) struct Row {
    recorded_at: i64,
    site: String,
    consent_id: String,
    action: String,
    choices: String,
    policy_version: String,
    region: String,
    signals: String,
    ua_family: String,
    position: String,
    hash: String,
}

impl From<&Record> for Row {
    fn from(r: &Record) -> Row {
        let e = &r.entry;
        let signals =
            [(e.gpc, "GPC"), (e.dnt, "DNT")].iter().filter(|(on, _)| *on).map(|(_, n)| *n).collect::<Vec<_>>();
        Row {
            recorded_at: e.recorded_at,
            site: e.site.clone(),
            consent_id: e.consent_id.clone(),
            action: e.action.clone(),
            choices: e
                .choices
                .iter()
                .map(|(k, v)| format!("{k} {}", if *v { "on" } else { "off" }))
                .collect::<Vec<_>>()
                .join(", "),
            policy_version: e.policy_version.clone(),
            region: e.region.clone().unwrap_or_default(),
            signals: signals.join(" "),
            ua_family: e.ua_family.clone(),
            position: format!("{}#{}", r.chain, r.seq),
            hash: r.hash.chars().take(12).collect(),
        }
    }
}

/// The served sites, by id (one snapshot of the site table).
pub(crate) fn sorted_sites(st: &AppState) -> Vec<Arc<crumb_server::sites::Site>> {
    let mut sites: Vec<_> = st.sites().by_id.values().cloned().collect();
    sites.sort_by(|a, b| a.inv.site.id.cmp(&b.inv.site.id));
    sites
}

pub(crate) fn site_ids(st: &AppState) -> Vec<String> {
    sorted_sites(st).iter().map(|s| s.inv.site.id.clone()).collect()
}

/// The served sites the account may see.
pub(crate) fn visible_sites(st: &AppState, access: &Access) -> Vec<Arc<crumb_server::sites::Site>> {
    sorted_sites(st).into_iter().filter(|s| access.can_view(&s.inv.site.id)).collect()
}

/// The ids of [`visible_sites`].
pub(crate) fn visible_ids(st: &AppState, access: &Access) -> Vec<String> {
    visible_sites(st, access).iter().map(|s| s.inv.site.id.clone()).collect()
}

/// A records query must stay within the sites the account sees: a named site it has a
/// role on, or all sites for an account with a role on every site.
fn check_view(range: &Range, access: &Access) -> Result<(), ApiError> {
    match range.site.as_deref() {
        Some(site) if !access.can_view(site) => Err(forbidden(&format!("reading the records of `{site}`"))),
        None if !access.sees_all() => Err(forbidden("reading the records of every site; choose one of your sites")),
        _ => Ok(()),
    }
}

pub(crate) async fn records(
    State(st): State<AppState>,
    Extension(dash): Shared,
    SignedIn(user, access): SignedIn,
    Query(filter): Query<Filter>,
) -> Result<Response, ApiError> {
    let range = filter.range()?;
    check_view(&range, &access)?;
    let mut page = st
        .storage()
        .export(range.site.as_deref(), range.from, range.to, filter.cursor()?, PAGE_SIZE + 1)
        .await
        .map_err(storage_error)?;
    let more = page.len() as i64 > PAGE_SIZE;
    page.truncate(PAGE_SIZE as usize);
    let next = if more { page.last().map(|r| format!("{}.{}.{}", r.entry.recorded_at, r.seq, r.chain)) } else { None };
    let rows: Vec<Row> = page.iter().map(Row::from).collect();
    Ok(dash.render(
        "records.html",
        minijinja::context! { user, page => "records", rows, next, sites => visible_ids(&st, &access),
        site => filter.site, from => filter.from, to => filter.to },
    ))
}

pub(crate) async fn export(
    State(st): State<AppState>,
    SignedIn(user, access): SignedIn,
    Query(filter): Query<Filter>,
) -> Result<Response, ApiError> {
    let range = filter.range()?;
    match range.site.as_deref() {
        Some(site) if !access.is_admin(site) => return Err(forbidden(&format!("exporting the records of `{site}`"))),
        None if !access.admin_all() => return Err(forbidden("exporting the records of every site")),
        _ => {}
    }
    let span = format!("records from {} to {}", nonempty(&filter.from, "the start"), nonempty(&filter.to, "now"));
    audit(&st, &user, "export", range.site.as_deref(), format!("CSV export of {span}")).await;
    let name = format!("crumb-{}.csv", range.site.as_deref().unwrap_or("all-sites"));
    let storage = st.storage().clone();
    // Pages of 2,000 records, each one CSV chunk: a ledger of any size streams in bounded memory.
    let head = csv_chunk(std::iter::once(CSV_HEADER.iter().map(|s| s.to_string()).collect()));
    let pages = futures::stream::unfold(Some((storage, range, None)), |state| async move {
        let (storage, range, after) = state?;
        match storage.export(range.site.as_deref(), range.from, range.to, after, 2_000).await {
            Ok(page) if page.is_empty() => None,
            Ok(page) => {
                let last = page.last().map(|r| (r.entry.recorded_at, r.chain.clone(), r.seq));
                let chunk = csv_chunk(page.iter().map(csv_row));
                Some((Ok::<_, std::io::Error>(chunk), Some((storage, range, last))))
            }
            Err(e) => {
                tracing::warn!(error = %e, "dashboard export stopped");
                Some((Err(std::io::Error::other(e.to_string())), None))
            }
        }
    });
    let body =
        axum::body::Body::from_stream(futures::StreamExt::chain(futures::stream::once(async { Ok(head) }), pages));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        body,
    )
        .into_response())
}

fn nonempty<'a>(s: &'a str, default: &'a str) -> &'a str {
    if s.is_empty() { default } else { s }
}

pub(crate) fn csv_chunk(rows: impl Iterator<Item = Vec<String>>) -> bytes::Bytes {
    let mut w = csv::Writer::from_writer(Vec::new());
    for row in rows {
        // Writing to a Vec cannot fail.
        let _ = w.write_record(&row);
    }
    bytes::Bytes::from(w.into_inner().unwrap_or_default())
}

#[derive(Serialize)]
pub(crate) struct VersionRow {
    version: String,
    material: bool,
    first_seen: i64,
    current: bool,
}

#[derive(Serialize)]
pub(crate) struct SiteVersions {
    id: String,
    name: String,
    versions: Vec<VersionRow>,
}

pub(crate) async fn versions(
    State(st): State<AppState>,
    Extension(dash): Shared,
    SignedIn(user, access): SignedIn,
) -> Result<Response, ApiError> {
    let mut out = Vec::new();
    for site in visible_sites(&st, &access) {
        let id = site.inv.site.id.clone();
        let rows = st.storage().versions(&id).await.map_err(storage_error)?;
        let versions = rows
            .into_iter()
            .rev()
            .map(|r| VersionRow {
                current: r.version == site.version,
                version: r.version,
                material: r.material,
                first_seen: r.first_seen,
            })
            .collect();
        out.push(SiteVersions { id, name: site.inv.site.name.clone(), versions });
    }
    Ok(dash.render("versions.html", minijinja::context! { user, page => "versions", sites => out }))
}

/// Scans listed per page of `/admin/scans`.
pub const SCANS_SHOWN: i64 = 200;

#[derive(Deserialize, Default)]
pub(crate) struct SiteFilter {
    #[serde(default)]
    site: String,
}

pub(crate) async fn scans(
    State(st): State<AppState>,
    Extension(dash): Shared,
    SignedIn(user, access): SignedIn,
    Query(filter): Query<SiteFilter>,
) -> Result<Response, ApiError> {
    let site = Some(filter.site.as_str()).filter(|s| !s.is_empty());
    if let Some(s) = site.filter(|s| !access.can_view(s)) {
        return Err(forbidden(&format!("reading the scans of `{s}`")));
    }
    let mut rows = st.storage().scans(site, SCANS_SHOWN).await.map_err(storage_error)?;
    rows.retain(|r| access.can_view(&r.site));
    Ok(dash.render(
        "scans.html",
        minijinja::context! { user, page => "scans", scans => rows, sites => visible_ids(&st, &access), site => filter.site },
    ))
}

pub(crate) async fn scan(
    State(st): State<AppState>,
    Extension(dash): Shared,
    SignedIn(user, access): SignedIn,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found("unknown_scan", format!("no saved scan `{id}`"));
    let n: i64 = id.parse().map_err(|_| not_found())?;
    let row = st.storage().scan(n).await.map_err(storage_error)?.ok_or_else(not_found)?;
    if !access.can_view(&row.site) {
        return Err(forbidden(&format!("reading the scans of `{}`", row.site)));
    }
    let report: serde_json::Value = serde_json::from_str(&row.report).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "corrupt_scan",
            format!("saved scan {n} is not valid JSON: {e}"),
        )
    })?;
    let findings = report.get("findings").cloned().unwrap_or_else(|| serde_json::json!([]));
    Ok(dash.render(
        "scan.html",
        minijinja::context! { user, page => "scans", scan => row, findings,
        started_at => report.get("started_at").cloned().unwrap_or_default(),
        browser => report.get("browser").cloned().unwrap_or_default() },
    ))
}

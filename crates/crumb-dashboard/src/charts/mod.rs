//! `/admin/charts`: trends a privacy team reads at a glance, drawn as inline SVG on the
//! server from the ledger's [aggregates](crumb_ledger::aggregates) (and the saved scans),
//! each with a table of the same figures for screen readers.
//!
//! `?site=` (empty: every site) and `?from=&to=` (UTC days, both included; default the
//! last 30 days, at most [`MAX_DAYS`]). A bad value is a 400 with a JSON error.

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use crumb_ledger::aggregates::DAY_MS;
use crumb_ledger::{AggQuery, AggRow, Dim, Key, Storage, Table, now_ms};
use crumb_server::figures::ACTIONS;
use crumb_server::{ApiError, AppState};
use serde::{Deserialize, Serialize};

use crate::access::forbidden;
use crate::pages::{SCANS_SHOWN, day_start, site_ids, visible_ids};
use crate::session::{SignedIn, storage_error};
use crate::state::Shared;

mod svg;

use svg::{Series, Unit, lines, stacked_bars};

/// The longest range the charts draw, in days.
pub const MAX_DAYS: i64 = 731;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChartQuery {
    #[serde(default)]
    site: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// One chart and its data table.
#[derive(Serialize)]
pub(crate) struct Chart {
    id: &'static str,
    title: String,
    svg: String,
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn day_label(ms: i64) -> String {
    crumb_ledger::export::rfc3339(ms).chars().take(10).collect()
}

/// The days `from..=to` (day starts), validated.
fn days(q: &ChartQuery) -> Result<Vec<i64>, ApiError> {
    let today = now_ms().div_euclid(DAY_MS) * DAY_MS;
    let to = if q.to.is_empty() { today } else { day_start(&q.to)? };
    let from = if q.from.is_empty() { to - 29 * DAY_MS } else { day_start(&q.from)? };
    if from > to {
        return Err(ApiError::bad_request(format!("`from` ({}) is after `to` ({})", day_label(from), day_label(to))));
    }
    let n = (to - from) / DAY_MS + 1;
    if n > MAX_DAYS {
        return Err(ApiError::bad_request(format!("the range is {n} days; charts show at most {MAX_DAYS}")));
    }
    Ok((0..n).map(|i| from + i * DAY_MS).collect())
}

async fn sum(
    storage: &dyn Storage,
    table: Table,
    site: Option<&str>,
    days: &[i64],
    group: Vec<Dim>,
) -> Result<Vec<AggRow>, ApiError> {
    let (from, to) = (days[0], days[days.len() - 1] + DAY_MS);
    let q = AggQuery { table, site: site.map(str::to_string), from, to, group };
    storage.aggregates(&q).await.map_err(storage_error)
}

fn text(k: &Key) -> String {
    match k {
        Key::Text(s) => s.clone(),
        Key::Time(t) => day_label(*t),
        Key::Flag(f) => f.to_string(),
    }
}

/// A chart's table: one row per x label, one column per series.
fn table(first: &str, labels: &[String], series: &[Series], unit: Unit) -> (Vec<String>, Vec<Vec<String>>) {
    let mut headers = vec![first.to_string()];
    headers.extend(series.iter().map(|s| s.name.clone()));
    let rows = labels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut row = vec![l.clone()];
            row.extend(series.iter().map(|s| s.values.get(i).copied().flatten().map_or("-".into(), |v| unit.show(v))));
            row
        })
        .collect();
    (headers, rows)
}

fn chart(
    id: &'static str,
    title: String,
    first: &str,
    labels: &[String],
    series: Vec<Series>,
    unit: Unit,
    bars: bool,
) -> Chart {
    let svg =
        if bars { stacked_bars(id, &title, labels, &series, unit) } else { lines(id, &title, labels, &series, unit) };
    let (headers, rows) = table(first, labels, &series, unit);
    Chart { id, title, svg, headers, rows }
}

/// Decisions per day, stacked by action.
async fn decisions(s: &dyn Storage, site: Option<&str>, days: &[i64], labels: &[String]) -> Result<Chart, ApiError> {
    let rows = sum(s, Table::Decisions, site, days, vec![Dim::Day, Dim::Action]).await?;
    let series = ACTIONS
        .iter()
        .map(|a| Series {
            name: a.to_string(),
            values: days
                .iter()
                .map(|d| {
                    let n: i64 = rows
                        .iter()
                        .filter(|r| r.keys[0] == Key::Time(*d) && r.keys[1].text() == Some(a))
                        .map(|r| r.n)
                        .sum();
                    Some(n as f64)
                })
                .collect(),
        })
        .collect();
    Ok(chart("decisions", "Decisions per day, by action".into(), "Day", labels, series, Unit::Count, true))
}

/// Share of decisions granting each category, per day (categories never refused in the
/// range, the required ones, are left out).
async fn opt_in(s: &dyn Storage, site: Option<&str>, days: &[i64], labels: &[String]) -> Result<Chart, ApiError> {
    let rows = sum(s, Table::Categories, site, days, vec![Dim::Day, Dim::Category, Dim::Granted]).await?;
    let mut counts: BTreeMap<String, BTreeMap<i64, (i64, i64)>> = BTreeMap::new();
    for r in &rows {
        let (Some(day), Some(cat), Some(granted)) = (r.keys[0].time(), r.keys[1].text(), r.keys[2].flag()) else {
            continue;
        };
        let slot = counts.entry(cat.to_string()).or_default().entry(day).or_default();
        if granted { slot.0 += r.n } else { slot.1 += r.n }
    }
    let series = counts
        .into_iter()
        .filter(|(_, by_day)| by_day.values().any(|(_, refused)| *refused > 0))
        .map(|(cat, by_day)| Series {
            name: cat,
            values: days
                .iter()
                .map(|d| by_day.get(d).filter(|(g, r)| g + r > 0).map(|(g, r)| *g as f64 / (g + r) as f64))
                .collect(),
        })
        .collect();
    Ok(chart("opt-in", "Opt-in rate per category".into(), "Day", labels, series, Unit::Share, false))
}

/// Decisions per region (the twelve with most), stacked by action.
async fn regions(s: &dyn Storage, site: Option<&str>, days: &[i64]) -> Result<Chart, ApiError> {
    let rows = sum(s, Table::Decisions, site, days, vec![Dim::Region, Dim::Action]).await?;
    let mut totals: BTreeMap<String, i64> = BTreeMap::new();
    for r in &rows {
        *totals.entry(text(&r.keys[0])).or_default() += r.n;
    }
    // By count, then by the label shown (an unknown region reads "unknown").
    let label = |r: &str| if r.is_empty() { "unknown".to_string() } else { r.to_string() };
    let mut order: Vec<(String, i64)> = totals.into_iter().collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then(label(&a.0).cmp(&label(&b.0))));
    order.truncate(12);
    let labels: Vec<String> = order.iter().map(|(r, _)| label(r)).collect();
    let series = ACTIONS
        .iter()
        .map(|a| Series {
            name: a.to_string(),
            values: order
                .iter()
                .map(|(region, _)| {
                    let n: i64 = rows
                        .iter()
                        .filter(|r| r.keys[0].text() == Some(region) && r.keys[1].text() == Some(a))
                        .map(|r| r.n)
                        .sum();
                    Some(n as f64)
                })
                .collect(),
        })
        .collect();
    Ok(chart("regions", "Decisions by region".into(), "Region", &labels, series, Unit::Count, true))
}

/// Share of visitors (first decisions) sending GPC and DNT, per day.
async fn signals(s: &dyn Storage, site: Option<&str>, days: &[i64], labels: &[String]) -> Result<Chart, ApiError> {
    let rows = sum(s, Table::Decisions, site, days, vec![Dim::Day, Dim::Gpc, Dim::Dnt, Dim::First]).await?;
    let share = |pick: fn(&AggRow) -> bool| -> Vec<Option<f64>> {
        days.iter()
            .map(|d| {
                let day: Vec<&AggRow> =
                    rows.iter().filter(|r| r.keys[0] == Key::Time(*d) && r.keys[3] == Key::Flag(true)).collect();
                let all: i64 = day.iter().map(|r| r.n).sum();
                let with: i64 = day.iter().filter(|r| pick(r)).map(|r| r.n).sum();
                (all > 0).then(|| with as f64 / all as f64)
            })
            .collect()
    };
    let series = vec![
        Series { name: "GPC".into(), values: share(|r| r.keys[1] == Key::Flag(true)) },
        Series { name: "DNT".into(), values: share(|r| r.keys[2] == Key::Flag(true)) },
    ];
    Ok(chart("signals", "Share of new visitors sending GPC or DNT".into(), "Day", labels, series, Unit::Share, false))
}

/// For each material policy version, the share of each day's decisions made on it.
async fn reconsent(st: &AppState, site: Option<&str>, days: &[i64], labels: &[String]) -> Result<Chart, ApiError> {
    let s = st.storage().as_ref();
    let rows = sum(s, Table::Decisions, site, days, vec![Dim::Site, Dim::Day, Dim::Version]).await?;
    let sites: Vec<String> = match site {
        Some(one) => vec![one.to_string()],
        None => site_ids(st),
    };
    let last = days[days.len() - 1] + DAY_MS;
    let mut series = Vec::new();
    for id in &sites {
        for v in s.versions(id).await.map_err(storage_error)?.into_iter().filter(|v| v.material && v.first_seen < last)
        {
            let values = days
                .iter()
                .map(|d| {
                    let of_day = |pick: &dyn Fn(&AggRow) -> bool| -> i64 {
                        rows.iter()
                            .filter(|r| r.keys[0].text() == Some(id) && r.keys[1] == Key::Time(*d) && pick(r))
                            .map(|r| r.n)
                            .sum()
                    };
                    let all = of_day(&|_| true);
                    let on = of_day(&|r| r.keys[2].text() == Some(v.version.as_str()));
                    (d + DAY_MS > v.first_seen && all > 0).then(|| on as f64 / all as f64)
                })
                .collect();
            let short: String = v.version.chars().take(8).collect();
            let name = if site.is_some() { short } else { format!("{id} {short}") };
            series.push(Series { name, values });
        }
    }
    Ok(chart(
        "reconsent",
        "Re-consent: share of decisions on each material version".into(),
        "Day",
        labels,
        series,
        Unit::Share,
        false,
    ))
}

/// Findings of each saved scan in the range, oldest first.
async fn scans(s: &dyn Storage, site: Option<&str>, days: &[i64]) -> Result<Chart, ApiError> {
    let (from, to) = (days[0], days[days.len() - 1] + DAY_MS);
    let mut rows: Vec<_> = s
        .scans(site, SCANS_SHOWN)
        .await
        .map_err(storage_error)?
        .into_iter()
        .filter(|r| (from..to).contains(&r.recorded_at))
        .collect();
    rows.reverse();
    let labels: Vec<String> = rows.iter().map(|r| format!("{} #{}", day_label(r.recorded_at), r.id)).collect();
    let col = |f: fn(&crumb_ledger::ScanRow) -> i64| rows.iter().map(|r| Some(f(r) as f64)).collect();
    let series = vec![
        Series { name: "errors".into(), values: col(|r| r.errors) },
        Series { name: "warnings".into(), values: col(|r| r.warnings) },
        Series { name: "notes".into(), values: col(|r| r.notes) },
    ];
    Ok(chart("scans", "Scan findings over time".into(), "Scan", &labels, series, Unit::Count, true))
}

pub(crate) async fn charts(
    State(st): State<AppState>,
    Extension(dash): Shared,
    SignedIn(user, access): SignedIn,
    query: Result<Query<ChartQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| {
        ApiError::bad_request(format!("{}; the parameters are site, from and to (YYYY-MM-DD)", e.body_text()))
    })?;
    if !q.site.is_empty() && !site_ids(&st).contains(&q.site) {
        return Err(ApiError::bad_request(format!("unknown site `{}`: one of {}", q.site, site_ids(&st).join(", "))));
    }
    // A viewer or admin of some sites sees their charts only; every site's need a role on all.
    if !q.site.is_empty() && !access.can_view(&q.site) {
        return Err(forbidden(&format!("reading the figures of `{}`", q.site)));
    }
    let sites = visible_ids(&st, &access);
    let mut q = q;
    if q.site.is_empty() && !access.sees_all() {
        // Without a role on every site, the page opens on the first site the account sees.
        q.site = sites.first().cloned().ok_or_else(|| forbidden("reading the figures of any site"))?;
    }
    let site = Some(q.site.as_str()).filter(|s| !s.is_empty());
    let days = days(&q)?;
    let labels: Vec<String> = days.iter().map(|d| day_label(*d)).collect();
    let s = st.storage().as_ref();
    let charts = vec![
        decisions(s, site, &days, &labels).await?,
        opt_in(s, site, &days, &labels).await?,
        regions(s, site, &days).await?,
        signals(s, site, &days, &labels).await?,
        reconsent(&st, site, &days, &labels).await?,
        scans(s, site, &days).await?,
    ];
    Ok(dash.render(
        "charts.html",
        minijinja::context! { user, page => "charts", charts, sites, site => q.site,
        from => labels[0].clone(), to => labels[labels.len() - 1].clone() },
    ))
}

//! The dashboard's charts in real headless Chromium against the real `crumb serve`, on
//! SQLite and on PostgreSQL: a ledger seeded with two weeks of decisions (written through
//! the storage, so the aggregates are kept as `crumb serve` keeps them), then the SVG
//! read back in the browser, mark by mark, against the seeded figures; light and dark; bad
//! ranges refused with a JSON error. With `CRUMB_SCREENSHOTS` set, screenshots are written
//! there (docs/screenshots is refreshed that way).

mod banner_support;
mod support;

use std::collections::BTreeMap;

use banner_support::{Session, color_scheme, eval, goto, must, screenshot, viewport};
use crumb_ledger::{Entry, GENESIS, PolicyVersionRow, Record, ScanRow};

const PASSWORD: &str = "a long enough password";
/// 2026-03-01T00:00:00Z.
const DAY0: i64 = 1_772_323_200_000;
const DAY: i64 = 86_400_000;
const OLD_VERSION: &str = "0000aaaa1111bbbb";

/// Decision `j` of day `i`: its action, region, signals and version vary with `i` and `j`.
fn entry(i: i64, j: i64, current: &str) -> Entry {
    let action = ["accept_all", "reject_all", "save"][(j % 3) as usize];
    let on = action == "accept_all";
    // Visitors 0 and 1 of a day are those of the day before: their decisions are changes.
    let visitor = if j < 2 && i > 0 { (i - 1) * 100 + j } else { i * 100 + j };
    let at = DAY0 + i * DAY + 3_600_000 * (j % 20);
    Entry {
        consent_id: format!("0193a2b4-7c1d-7e55-9a0b-{visitor:012x}"),
        site: "leadsgen".into(),
        policy_version: if i < 7 { OLD_VERSION.into() } else { current.to_string() },
        choices: [
            ("necessary".to_string(), true),
            ("analytics".to_string(), on || (action == "save" && j % 2 == 0)),
            ("marketing".to_string(), on),
        ]
        .into(),
        action: action.into(),
        gpc: j % 5 == 0,
        dnt: j % 7 == 0,
        region: [Some("DE"), Some("FR"), Some("US"), None][(j % 4) as usize].map(str::to_string),
        mode: "opt_in".into(),
        language: Some("en".into()),
        url: None,
        ua_family: "firefox".into(),
        ip_hash: None,
        recorded_at: at,
        expires_at: at + 365 * DAY,
        retain_until: at + 3 * 365 * DAY,
    }
}

/// Fourteen days, `5 + i` decisions on day `i`; versions; three saved scans.
async fn seed(url: &str, current: &str) -> Vec<Entry> {
    let storage = crumb_server::open_storage(url).await.expect("open");
    let mut entries = Vec::new();
    let (mut seq, mut hash) = (0, GENESIS.to_string());
    for i in 0..14 {
        let mut batch = Vec::new();
        for j in 0..5 + i {
            let e = entry(i, j, current);
            entries.push(e.clone());
            let r = Record::chain_after("seed", seq, &hash, e);
            (seq, hash) = (r.seq, r.hash.clone());
            batch.push(r);
        }
        storage.append(&batch).await.expect("append");
    }
    for (version, first_seen) in [(OLD_VERSION, DAY0 - DAY), (current, DAY0 + 7 * DAY)] {
        let row = PolicyVersionRow {
            site: "leadsgen".into(),
            version: version.into(),
            material: true,
            first_seen,
            snapshot: "{}".into(),
        };
        storage.add_version(&row).await.expect("version");
    }
    for (k, errors) in [(1, 4), (5, 2), (12, 0)] {
        let scan = ScanRow {
            id: 0,
            site: "leadsgen".into(),
            target: "https://leadsgen.app/".into(),
            recorded_at: DAY0 + k * DAY + 1000,
            pages: 3,
            errors,
            warnings: 3,
            notes: 1,
            report: "{}".into(),
        };
        storage.add_scan(&scan).await.expect("scan");
    }
    entries
}

async fn type_into(page: &chromiumoxide::Page, selector: &str, text: &str) {
    let el = page.find_element(selector).await.unwrap_or_else(|e| panic!("{selector}: {e}"));
    el.click().await.expect("focus").type_str(text).await.expect("type");
}

async fn charts_story(database: Option<&str>, shots: Option<&str>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let url = database.map(str::to_string).unwrap_or_else(|| crumb_server::secrets::default_database_url(&data));
    let current = support::leadsgen_version();
    let entries = seed(&url, &current).await;
    let created = support::admin(
        &data,
        database,
        &["create-user", "alice", "--password-stdin"],
        Some("a long enough password\n"),
    );
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let lead = support::example("leadsgen.toml");
    let srv = support::Serve::start(&data, database, &["--config", lead.to_str().expect("utf8"), "--rate-limit", "0"]);
    let base = format!("http://127.0.0.1:{}", srv.port);

    // Bad ranges: a clear JSON error, before any chart is drawn.
    let login = support::request(
        srv.port,
        "POST",
        "/admin/login",
        &[("Content-Type", "application/x-www-form-urlencoded"), ("Origin", &base)],
        Some(format!("name=alice&password={}", PASSWORD.replace(' ', "+")).as_bytes()),
    );
    let cookie = login.header("set-cookie").and_then(|c| c.split(';').next()).expect("session").to_string();
    for (query, says) in [
        ("?from=2026-13-01", "is not a date"),
        ("?from=2026-03-10&to=2026-03-01", "is after"),
        ("?from=2020-01-01&to=2026-03-01", "at most 731"),
        ("?site=nope", "unknown site"),
        ("?days=3", "unknown field"),
    ] {
        let r = srv.request("GET", &format!("/admin/charts{query}"), &[("Cookie", &cookie)], None);
        assert_eq!((r.status, r.error_code().as_str()), (400, "bad_request"), "{query}: {}", r.body);
        assert!(r.json()["error"]["message"].as_str().is_some_and(|m| m.contains(says)), "{query}: {}", r.body);
    }

    let s = Session::start().await;
    let page = s.page(None, "").await;
    viewport(&page, 1100, 900, false).await;
    goto(&page, &format!("{base}/admin/login")).await;
    type_into(&page, "#name", "alice").await;
    type_into(&page, "#password", PASSWORD).await;
    page.find_element("button[type=submit]").await.expect("submit").click().await.expect("click");
    must(&page, "location.pathname === '/admin'").await;
    goto(&page, &format!("{base}/admin/charts?site=leadsgen&from=2026-03-01&to=2026-03-14")).await;
    must(&page, "document.querySelectorAll('svg.chart').length === 6").await;

    // Decisions per day: each bar is the seeded count of that day and action.
    let mut want: BTreeMap<(String, String), i64> = BTreeMap::new();
    for e in &entries {
        let day = crumb_ledger::export::rfc3339(e.recorded_at)[..10].to_string();
        *want.entry((day, e.action.clone())).or_default() += 1;
    }
    let bars: Vec<(String, String, f64)> = eval(
        &page,
        "[...document.querySelectorAll('svg[data-chart=decisions] rect[data-value]')].map(r => [r.dataset.x, r.dataset.series, +r.dataset.value])",
    )
    .await;
    let got: BTreeMap<(String, String), i64> = bars.into_iter().map(|(d, a, v)| ((d, a), v as i64)).collect();
    assert_eq!(got, want, "one bar per day and action, with the seeded count");
    let rows: usize =
        eval(&page, "document.querySelectorAll('table[data-chart-table=decisions] tbody tr').length").await;
    assert_eq!(rows, 14, "the data table has a row per day");

    // Opt-in per category: analytics on day 0 (j = 0..4: accept, reject, save(0 even → on? j=2 even), accept, reject).
    let day0: Vec<&Entry> = entries.iter().filter(|e| e.recorded_at < DAY0 + DAY).collect();
    let granted = day0.iter().filter(|e| e.choices["analytics"]).count() as f64 / day0.len() as f64;
    let shown: f64 = eval(
        &page,
        "+document.querySelector('svg[data-chart=opt-in] circle[data-series=analytics][data-x=\"2026-03-01\"]').dataset.value",
    )
    .await;
    assert!((shown - granted).abs() < 1e-9, "{shown} vs {granted}");
    let series: Vec<String> = eval(
        &page,
        "[...new Set([...document.querySelectorAll('svg[data-chart=opt-in] polyline')].map(p => p.dataset.series))]",
    )
    .await;
    assert_eq!(series, vec!["analytics", "marketing"], "a required category is never refused and not drawn");

    // Regions: unknown included, the largest first.
    let regions: Vec<String> = eval(
        &page,
        "[...document.querySelectorAll('table[data-chart-table=regions] tbody th')].map(t => t.textContent)",
    )
    .await;
    let mut count: BTreeMap<String, i64> = BTreeMap::new();
    for e in &entries {
        *count.entry(e.region.clone().unwrap_or("unknown".into())).or_default() += 1;
    }
    let mut order: Vec<(String, i64)> = count.into_iter().collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    assert_eq!(regions, order.into_iter().map(|(r, _)| r).collect::<Vec<_>>());

    // Re-consent: before the current version nothing is on it, after it everything is.
    let reconsent: Vec<(String, String, f64)> = eval(
        &page,
        "[...document.querySelectorAll('svg[data-chart=reconsent] circle')].map(c => [c.dataset.series, c.dataset.x, +c.dataset.value])",
    )
    .await;
    let short: String = current.chars().take(8).collect();
    let on_current: Vec<f64> = reconsent.iter().filter(|(s, _, _)| *s == short).map(|(_, _, v)| *v).collect();
    assert_eq!(on_current, vec![1.0; 7], "days 8 to 14, all decisions on the current version");
    assert!(reconsent.iter().any(|(s, x, v)| s == "0000aaaa" && x == "2026-03-01" && *v == 1.0));

    // GPC share of new visitors, and the saved scans, oldest first.
    let gpc: f64 =
        eval(&page, "+document.querySelector('svg[data-chart=signals] circle[data-series=GPC][data-x=\"2026-03-01\"]').dataset.value")
            .await;
    let firsts: Vec<&&Entry> = day0.iter().collect();
    assert!((gpc - firsts.iter().filter(|e| e.gpc).count() as f64 / firsts.len() as f64).abs() < 1e-9);
    let errors: Vec<f64> = eval(
        &page,
        "[...document.querySelectorAll('svg[data-chart=scans] rect[data-series=errors]')].map(r => +r.dataset.value)",
    )
    .await;
    assert_eq!(errors, vec![4.0, 2.0], "a scan without errors draws no error bar");

    // Coloured by the stylesheet under the CSP, light and dark.
    let fill = "getComputedStyle(document.querySelector('svg[data-chart=decisions] rect.s0[data-value]')).fill";
    let light: String = eval(&page, fill).await;
    assert_eq!(light, "rgb(46, 125, 50)");
    if shots.is_some() {
        // Tall enough for every chart on one screenshot.
        viewport(&page, 1100, 3000, false).await;
    }
    if let Some(dir) = shots {
        screenshot(&page, &std::path::Path::new(dir).join("charts-light.png")).await;
    }
    color_scheme(&page, "dark").await;
    let dark: String = eval(&page, fill).await;
    assert_eq!(dark, "rgb(129, 199, 132)");
    if let Some(dir) = shots {
        screenshot(&page, &std::path::Path::new(dir).join("charts-dark.png")).await;
    }

    // Every site: the same decisions (leadsgen is the only one with any).
    goto(&page, &format!("{base}/admin/charts?from=2026-03-01&to=2026-03-14")).await;
    must(&page, "document.querySelectorAll('svg.chart').length >= 5").await;
    let total: f64 = eval(
        &page,
        "[...document.querySelectorAll('svg[data-chart=decisions] rect[data-value]')].reduce((a, r) => a + +r.dataset.value, 0)",
    )
    .await;
    assert_eq!(total as usize, entries.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charts_in_chromium_sqlite() {
    let shots = std::env::var("CRUMB_SCREENSHOTS").ok();
    charts_story(None, shots.as_deref()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charts_in_chromium_postgres() {
    let db = tokio::task::spawn_blocking(crumb_testkit::postgres::database).await.expect("database");
    charts_story(Some(&db.url), None).await;
}

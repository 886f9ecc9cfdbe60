//! Rendering a [`ScanReport`]: text (optionally coloured), JSON, a self-contained HTML page,
//! and SARIF 2.1.0 for code-scanning tools.

use std::fmt::Write as _;

use base64::Engine as _;
use serde_json::json;

use crate::model::{FindingKind, ObservedItem, ScanReport, Severity};

/// The report as pretty JSON (schema: `docs/scan.md`).
pub fn json(report: &ScanReport) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

fn paint(color: bool, code: &str, s: &str) -> String {
    if color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() }
}

fn sev_label(color: bool, s: Severity) -> String {
    match s {
        Severity::Error => paint(color, "1;31", "error"),
        Severity::Warning => paint(color, "1;33", "warning"),
        Severity::Note => paint(color, "1;36", "note"),
    }
}

/// The report as text for a terminal; `color` adds ANSI colours.
pub fn text(report: &ScanReport, color: bool) -> String {
    let mut out = String::new();
    let s = &report.summary;
    let _ = writeln!(out, "{} {}", paint(color, "1", "crumb scan"), report.target);
    let _ = writeln!(
        out,
        "  {} page(s) scanned in {:.1} s with {}{}{}",
        s.pages,
        report.duration_ms as f64 / 1000.0,
        report.browser,
        if s.pages_failed > 0 { format!(", {} failed", s.pages_failed) } else { String::new() },
        if report.third_party_cookies_blocked { ", third-party cookies blocked" } else { "" }
    );
    if let Some(why) = &report.stopped_early {
        let _ = writeln!(out, "  {} stopped early: {why}", paint(color, "33", "!"));
    }
    let _ = writeln!(
        out,
        "  observed {} cookie(s), {} storage item(s), {} third-party host(s)",
        s.cookies, s.storage_items, s.third_party_hosts
    );
    let no_banner = report
        .pages
        .iter()
        .filter(|p| p.phases.iter().any(|ph| ph.banner == crate::model::BannerAction::NotFound))
        .count();
    if no_banner > 0 {
        let _ = writeln!(
            out,
            "  {} no banner answered on {no_banner} page(s): no window.Crumb API and no --accept-selector/--reject-selector match, so their reject and accept phases show the page untouched",
            paint(color, "33", "!")
        );
    }
    for page in &report.pages {
        for ph in &page.phases {
            for e in &ph.errors {
                let _ = writeln!(out, "  {} {} [{}]: {e}", paint(color, "33", "!"), page.url, ph.phase.as_str());
            }
        }
    }
    if report.inventory.is_none() {
        let _ = writeln!(out, "\nObserved (no --inventory given, so no findings):");
        let mut seen = std::collections::BTreeSet::new();
        for o in report.observations() {
            if seen.insert((o.storage, o.name.clone(), o.domain.clone())) {
                let sug = crate::findings::suggestion_for(o, None);
                let _ = writeln!(
                    out,
                    "  {:<16} {:<32} {:<28} first seen {:<15} suggested {} ({:.0}%)",
                    o.storage.as_str(),
                    o.name,
                    o.domain,
                    o.phase.as_str(),
                    sug.purpose.as_str(),
                    sug.confidence * 100.0
                );
            }
        }
    } else if report.findings.is_empty() {
        let _ = writeln!(out, "\n{} the site matches its inventory", paint(color, "1;32", "ok:"));
    } else {
        let _ = writeln!(out);
        for f in &report.findings {
            let _ = writeln!(
                out,
                "{}[{}]: {}{}",
                sev_label(color, f.severity),
                f.kind.as_str(),
                paint(color, "1", &f.name),
                f.domain.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
            );
            let _ = writeln!(out, "  {}", f.evidence);
            if let Some(p) = &f.page {
                let _ = writeln!(
                    out,
                    "  at {p}{}{}",
                    f.phase.map(|ph| format!(" [{}]", ph.as_str())).unwrap_or_default(),
                    if f.occurrences > 1 { format!(" and {} more page(s)", f.occurrences - 1) } else { String::new() }
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "\n{}: {} error(s), {} warning(s), {} note(s)",
        paint(color, "1", "summary"),
        s.errors,
        s.warnings,
        s.notes
    );
    out
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

fn yes_no(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "",
    }
}

fn observed_rows(items: &[ObservedItem]) -> String {
    let mut out = String::new();
    for o in items {
        let life = match (o.session, o.lifetime_seconds) {
            (Some(true), _) => "session".to_string(),
            (_, Some(s)) => crumb_core::Duration::Fixed(s).humanize(),
            _ => String::new(),
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(o.storage.as_str()),
            esc(&o.name),
            esc(&o.domain),
            if o.third_party { " <span class=tp>third-party</span>" } else { "" },
            esc(&life),
            yes_no(o.http_only),
            yes_no(o.secure),
            esc(o.same_site.as_deref().unwrap_or("")),
            esc(o.partition.as_deref().unwrap_or("")),
            esc(&o.set_by.as_ref().map(|b| b.url.clone()).unwrap_or_default()),
        );
    }
    out
}

/// A self-contained HTML page: findings by severity, then each page with its phases,
/// their screenshots (inline `data:` URIs), cookies, storage and third-party hosts.
pub fn html(report: &ScanReport) -> String {
    let s = &report.summary;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Crumb scan: {target}</title><style>
body{{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1b1b1b;background:#fff}}
h1{{font-size:1.5rem}}h2{{margin-top:2rem;border-bottom:1px solid #ccc}}table{{border-collapse:collapse;width:100%;font-size:13px;margin:.5rem 0}}
td,th{{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}}th{{background:#f4f4f4}}code{{font-size:12px}}
.error{{color:#a40000}}.warning{{color:#7a5200}}.note{{color:#00587a}}.tp{{font-size:11px;background:#eee;padding:0 4px;border-radius:3px}}
.shots{{display:flex;gap:1rem;flex-wrap:wrap}}.shots figure{{margin:0;max-width:22rem}}.shots img{{width:100%;border:1px solid #ccc}}
.sum{{display:flex;gap:2rem;flex-wrap:wrap}}.sum div{{font-size:1.1rem}}.err{{color:#a40000}}
@media (prefers-color-scheme:dark){{body{{background:#161616;color:#eee}}th{{background:#262626}}td,th{{border-color:#444}}.error{{color:#ff7b7b}}.warning{{color:#f0c060}}.note{{color:#7cc8e8}}.tp{{background:#333}}}}
</style></head><body>
<h1>Crumb scan of <a href="{target}">{target}</a></h1>
<p>{started}, {pages} page(s) in {secs:.1} s with {browser}{blocked}{inv}</p>
<div class="sum"><div>{cookies} cookie(s)</div><div>{storage} storage item(s)</div><div>{hosts} third-party host(s)</div>
<div class="error">{errors} error(s)</div><div class="warning">{warnings} warning(s)</div><div class="note">{notes} note(s)</div></div>
"#,
        target = esc(&report.target),
        started = esc(&report.started_at),
        pages = s.pages,
        secs = report.duration_ms as f64 / 1000.0,
        browser = esc(&report.browser),
        blocked = if report.third_party_cookies_blocked { ", third-party cookies blocked" } else { "" },
        inv = report
            .inventory
            .as_deref()
            .map(|i| format!(", checked against <code>{}</code>", esc(i)))
            .unwrap_or_default(),
        cookies = s.cookies,
        storage = s.storage_items,
        hosts = s.third_party_hosts,
        errors = s.errors,
        warnings = s.warnings,
        notes = s.notes,
    );
    if let Some(why) = &report.stopped_early {
        let _ = write!(out, "<p class=warning>Stopped early: {}</p>", esc(why));
    }
    out.push_str("<h2>Findings</h2>");
    if report.inventory.is_none() {
        out.push_str("<p>No inventory was given, so nothing was checked.</p>");
    } else if report.findings.is_empty() {
        out.push_str("<p>None: the site matches its inventory.</p>");
    }
    for sev in [Severity::Error, Severity::Warning, Severity::Note] {
        let fs: Vec<_> = report.findings.iter().filter(|f| f.severity == sev).collect();
        if fs.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            "<h3 class={c}>{c} ({n})</h3><table><tr><th>kind</th><th>name</th><th>domain</th><th>storage</th><th>page</th><th>phase</th><th>evidence</th><th>suggestion</th></tr>",
            c = sev.as_str(),
            n = fs.len()
        );
        for f in fs {
            let _ = write!(
                out,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                f.kind.as_str(),
                esc(&f.name),
                esc(f.domain.as_deref().unwrap_or("")),
                f.storage.map(|s| s.as_str()).unwrap_or(""),
                esc(f.page.as_deref().unwrap_or("")),
                if f.occurrences > 1 { format!(" (+{} more)", f.occurrences - 1) } else { String::new() },
                f.phase.map(|p| p.as_str()).unwrap_or(""),
                esc(&f.evidence),
                esc(&f
                    .suggestion
                    .as_ref()
                    .map(|s| format!(
                        "{} ({}, {:.0}%{})",
                        s.category.as_deref().unwrap_or(s.purpose.as_str()),
                        match s.source {
                            crate::classify::SuggestionSource::Framework => "framework default",
                            crate::classify::SuggestionSource::Rule => "rule",
                            crate::classify::SuggestionSource::OpenCookieDatabase => "Open Cookie Database",
                            crate::classify::SuggestionSource::Model => "model",
                        },
                        s.confidence * 100.0,
                        if s.review { ", review" } else { "" }
                    ))
                    .unwrap_or_default()),
            );
        }
        out.push_str("</table>");
    }
    out.push_str("<h2>Pages</h2>");
    for page in &report.pages {
        let _ = write!(
            out,
            "<h3><a href=\"{u}\">{u}</a> <small>({})</small></h3>",
            esc(&page.found_via),
            u = esc(&page.url)
        );
        out.push_str("<div class=shots>");
        for ph in &page.phases {
            if let Some(img) = &ph.screenshot {
                let b64 = base64::engine::general_purpose::STANDARD.encode(img);
                let _ = write!(
                    out,
                    "<figure><img alt=\"{p}\" src=\"data:image/jpeg;base64,{b64}\"><figcaption>{p} ({a:?})</figcaption></figure>",
                    p = ph.phase.as_str(),
                    a = ph.banner
                );
            }
        }
        out.push_str("</div>");
        for ph in &page.phases {
            let _ = write!(
                out,
                "<h4>{} <small>{} ms{}</small></h4>",
                ph.phase.as_str(),
                ph.duration_ms,
                ph.status.map(|s| format!(", HTTP {s}")).unwrap_or_default()
            );
            for e in &ph.errors {
                let _ = write!(out, "<p class=err>{}</p>", esc(e));
            }
            if !ph.observed.is_empty() {
                out.push_str("<table><tr><th>storage</th><th>name</th><th>domain</th><th>lifetime</th><th>HttpOnly</th><th>Secure</th><th>SameSite</th><th>partition</th><th>set by</th></tr>");
                out.push_str(&observed_rows(&ph.observed));
                out.push_str("</table>");
            }
            if !ph.third_party_hosts.is_empty() {
                out.push_str("<p>Third-party hosts: ");
                let hosts: Vec<String> =
                    ph.third_party_hosts.iter().map(|h| format!("{} ({})", esc(&h.host), h.requests)).collect();
                out.push_str(&hosts.join(", "));
                out.push_str("</p>");
            }
        }
    }
    if !report.skipped.is_empty() {
        out.push_str("<h2>Not scanned</h2><ul>");
        for s in &report.skipped {
            let _ = write!(out, "<li>{} ({})</li>", esc(&s.url), esc(&s.reason));
        }
        out.push_str("</ul>");
    }
    let _ = writeln!(out, "<p><small>{}</small></p></body></html>", esc(&report.tool));
    out
}

/// The report as SARIF 2.1.0: one rule per finding kind, one result per finding, located at
/// the page URL (and the inventory file, when one was given).
pub fn sarif(report: &ScanReport) -> String {
    let rules: Vec<_> = FindingKind::ALL
        .iter()
        .map(|k| {
            json!({
                "id": k.as_str(),
                "name": k.as_str(),
                "shortDescription": {"text": k.describe()},
                "helpUri": "https://example.invalid/crumb/docs/scan.md",
            })
        })
        .collect();
    let results: Vec<_> = report
        .findings
        .iter()
        .map(|f| {
            let mut locations = Vec::new();
            if let Some(p) = &f.page {
                locations.push(json!({"physicalLocation": {"artifactLocation": {"uri": p}}}));
            }
            if let Some(inv) = &report.inventory {
                locations.push(json!({"physicalLocation": {"artifactLocation": {"uri": inv}}}));
            }
            json!({
                "ruleId": f.kind.as_str(),
                "ruleIndex": FindingKind::ALL.iter().position(|k| *k == f.kind).unwrap_or(0),
                "level": f.severity.as_str(),
                "message": {"text": format!("{}: {}", f.name, f.evidence)},
                "locations": locations,
                "partialFingerprints": {
                    "crumbFinding/v1": format!("{}|{}|{}|{}|{}", f.kind.as_str(), f.storage.map(|s| s.as_str()).unwrap_or(""), f.name, f.domain.as_deref().unwrap_or(""), f.phase.map(|p| p.as_str()).unwrap_or("")),
                },
                "properties": {
                    "name": f.name,
                    "domain": f.domain,
                    "storage": f.storage,
                    "page": f.page,
                    "phase": f.phase,
                    "occurrences": f.occurrences,
                    "suggestion": f.suggestion,
                },
            })
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "crumb-scan",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://example.invalid/crumb",
                "rules": rules,
            }},
            "invocations": [{"executionSuccessful": true}],
            "properties": {"target": report.target, "pages": report.summary.pages},
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

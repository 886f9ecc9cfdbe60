//! `bench/classify`: how often the scanner's suggested category agrees with the category
//! real sites declare for their own cookies (`bench/classify/labelled.csv`), beside
//! CookieBlock's published 87.2% (Bollinger et al., USENIX Security 2022).
//!
//! Usage: `cargo run -p crumb-scan --example classify_bench -- bench/classify/labelled.csv docs/benchmarks.md`

#[path = "support/bench_docs.rs"]
#[allow(dead_code)]
mod bench_docs;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use crumb_core::StorageKind;
use crumb_core::inventory::Purpose;
use crumb_scan::classify::{Clues, SuggestionSource, suggest};

const CLASSES: [Purpose; 4] = [Purpose::Necessary, Purpose::Functional, Purpose::Analytics, Purpose::Marketing];

/// `<container-id>` and the like stand for a per-site value; use a plausible one.
fn concrete(name: &str) -> String {
    let mut out = String::new();
    let mut rest = name;
    while let Some(a) = rest.find('<') {
        out.push_str(&rest[..a]);
        match rest[a..].find('>') {
            Some(b) => {
                out.push_str("K7X2Q9");
                rest = &rest[a + b + 1..];
            }
            None => {
                rest = &rest[a..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

fn purpose(s: &str) -> Option<Purpose> {
    CLASSES.iter().copied().find(|p| p.as_str() == s)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let csv_path = PathBuf::from(args.next().unwrap_or_else(|| "bench/classify/labelled.csv".into()));
    let docs = PathBuf::from(args.next().unwrap_or_else(|| "docs/benchmarks.md".into()));
    let mut rdr = csv::Reader::from_path(&csv_path)?;
    let mut total = 0usize;
    let mut right = 0usize;
    let mut ocd_alone = 0usize;
    let mut by_source: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut confusion: BTreeMap<(Purpose, Purpose), usize> = BTreeMap::new();
    let mut sites = std::collections::BTreeSet::new();
    let mut wrong = Vec::new();
    for rec in rdr.records() {
        let rec = rec?;
        let (site, name, domain, storage, declared, label) = (&rec[0], &rec[2], &rec[3], &rec[4], &rec[5], &rec[6]);
        let Some(truth) = purpose(label) else { return Err(format!("unknown category `{label}`").into()) };
        let storage = match storage {
            "cookie" => StorageKind::Cookie,
            "local_storage" => StorageKind::LocalStorage,
            "session_storage" => StorageKind::SessionStorage,
            _ => StorageKind::IndexedDb,
        };
        let name = concrete(name);
        let alone = crumb_core::ocd::lookup(&name, (!domain.is_empty()).then_some(domain)).map(|e| e.purpose());
        ocd_alone += (alone == Some(truth)) as usize;
        let s = suggest(Clues {
            name: &name,
            domain: (!domain.is_empty()).then_some(domain),
            storage,
            third_party: false,
            lifetime_seconds: None,
            value_length: None,
        });
        sites.insert(site.to_string());
        total += 1;
        let ok = s.purpose == truth;
        right += ok as usize;
        let src = if s.source == SuggestionSource::OpenCookieDatabase {
            "Open Cookie Database match"
        } else if s.reason.starts_with("rule:") {
            "name rule (consent / analytics words)"
        } else {
            "fallback guess"
        };
        let e = by_source.entry(src).or_default();
        e.0 += 1;
        e.1 += ok as usize;
        *confusion.entry((truth, s.purpose)).or_default() += 1;
        if !ok {
            wrong.push(format!(
                "| {site} | `{name}` | {declared} ({}) | {} | {} |",
                truth.as_str(),
                s.purpose.as_str(),
                s.reason.replace('|', "/")
            ));
        }
    }
    let pct = |a: usize, b: usize| if b == 0 { 0.0 } else { 100.0 * a as f64 / b as f64 };
    let mut md = String::new();
    let _ = writeln!(md, "### Category suggestions (`bench/classify`)\n");
    let _ = writeln!(
        md,
        "{} on {}. Labelled set: `bench/classify/labelled.csv`, {total} cookies and storage keys from {} sites' own published cookie declarations (the two reference policies and well-known public cookie policies; see `bench/classify/README.md`). The suggestion is the scanner's (`crumb_scan::classify::suggest`: Open Cookie Database, then fallback rules), given only the name and, where the declaration names one, the domain.\n",
        bench_docs::today(),
        bench_docs::machine(),
        sites.len()
    );
    let _ = writeln!(md, "| classifier | accuracy (4 classes) |\n|---|---|");
    let _ = writeln!(md, "| Crumb scanner suggestion | **{:.1}%** ({right}/{total}) |", pct(right, total));
    let _ = writeln!(
        md,
        "| Open Cookie Database lookup alone (`crumb_core::ocd`, unmatched names counted wrong) | {:.1}% ({ocd_alone}/{total}) |",
        pct(ocd_alone, total)
    );
    for (src, (n, ok)) in &by_source {
        let _ = writeln!(md, "| of which {src} | {:.1}% ({ok}/{n}) |", pct(*ok, *n));
    }
    let _ = writeln!(
        md,
        "| CookieBlock (USENIX Security 2022, published; its own test set of CMP declarations) | 87.2% |\n"
    );
    let _ = writeln!(md, "Confusion (rows: declared, columns: suggested):\n");
    let _ = writeln!(
        md,
        "| declared \\ suggested | necessary | functional | analytics | marketing |\n|---|---|---|---|---|"
    );
    for t in CLASSES {
        let cells: Vec<String> =
            CLASSES.iter().map(|p| confusion.get(&(t, *p)).copied().unwrap_or(0).to_string()).collect();
        let _ = writeln!(md, "| {} | {} |", t.as_str(), cells.join(" | "));
    }
    if !wrong.is_empty() {
        let _ = writeln!(md, "\nDisagreements:\n\n| site | name | declared | suggested | why |\n|---|---|---|---|---|");
        for w in &wrong {
            let _ = writeln!(md, "{w}");
        }
    }
    print!("{md}");
    bench_docs::update(&docs, "classify", &md)?;
    eprintln!("wrote {}", docs.display());
    Ok(())
}

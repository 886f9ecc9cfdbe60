//! `crumb classify`: suggest a category for cookies and storage keys read from stdin, with
//! the classifier the scanner, `--write-inventory` and `crumb check` use.

use std::io::Read;

use crumb_core::classify::{Classification, Observation, classify};
use crumb_core::{Duration, StorageKind};
use miette::miette;
use serde::Deserialize;

use crate::exit;

/// Suggest categories for cookies and storage keys given on standard input.
#[derive(Debug, clap::Args)]
#[command(after_help = "Input (standard input), one observation per line:
  plain names          sessionid
  CSV with a header    name,domain,storage,party,duration,value,http_only,secure,set_by
  JSON lines           {\"name\":\"_ga\",\"domain\":\".shop.example\",\"party\":\"first\",\"duration\":\"2 years\"}
Only `name` is required. storage: cookie, local, session; party: first or third;
duration: `session`, `30 days`, `P1Y`, or seconds; set_by: the host or script URL that set it.

Examples:
  printf 'sessionid\\n_ga\\nIDE\\n' | crumb classify
  crumb classify --format csv < observed.csv > suggestions.csv
  jq -c '.[]' cookies.json | crumb classify --format json

Low-confidence answers are marked `review`: a person should confirm them. Exit codes: 0
classified, 2 the input could not be read.")]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Input format (default: guessed from the first line).
    #[arg(long, value_enum)]
    pub input: Option<Input>,
}

/// Output format.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns, for people.
    Text,
    /// CSV with a header.
    Csv,
    /// A JSON array.
    Json,
}

/// Input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Input {
    /// One name per line.
    Names,
    /// CSV with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// One input row, as CSV columns or JSON fields.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Row {
    name: String,
    domain: Option<String>,
    storage: Option<String>,
    party: Option<String>,
    third_party: Option<bool>,
    duration: Option<serde_json::Value>,
    lifetime_seconds: Option<u64>,
    value: Option<String>,
    http_only: Option<serde_json::Value>,
    secure: Option<serde_json::Value>,
    set_by: Option<String>,
}

fn flag(v: &Option<serde_json::Value>) -> Result<Option<bool>, String> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Bool(b)) => Ok(Some(*b)),
        Some(serde_json::Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "true" | "1" | "yes" => Ok(Some(true)),
            "false" | "0" | "no" => Ok(Some(false)),
            other => Err(format!("`{other}` is not true or false")),
        },
        Some(other) => Err(format!("`{other}` is not true or false")),
    }
}

fn observation(r: Row) -> Result<Observation, String> {
    if r.name.trim().is_empty() {
        return Err("no `name`".into());
    }
    let storage = match r.storage.as_deref().map(|s| s.trim().to_ascii_lowercase()) {
        None => None,
        Some(s) => Some(match s.as_str() {
            "" | "cookie" => StorageKind::Cookie,
            "local" | "localstorage" | "local_storage" => StorageKind::LocalStorage,
            "session" | "sessionstorage" | "session_storage" => StorageKind::SessionStorage,
            "indexeddb" | "indexed_db" => StorageKind::IndexedDb,
            other => return Err(format!("storage `{other}`: write cookie, local or session")),
        }),
    };
    let third_party = match (r.third_party, r.party.as_deref().map(str::trim)) {
        (Some(t), _) => Some(t),
        (None, None | Some("")) => None,
        (None, Some(p)) if p.eq_ignore_ascii_case("third") => Some(true),
        (None, Some(p)) if p.eq_ignore_ascii_case("first") => Some(false),
        (None, Some(p)) => return Err(format!("party `{p}`: write first or third")),
    };
    let lifetime_seconds = match (&r.duration, r.lifetime_seconds) {
        (_, Some(s)) => Some(s),
        (None | Some(serde_json::Value::Null), None) => None,
        (Some(serde_json::Value::Number(n)), None) => n.as_u64(),
        (Some(serde_json::Value::String(s)), None) if s.trim().is_empty() => None,
        (Some(serde_json::Value::String(s)), None) => match s.trim().parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => Some(Duration::parse(s).map_err(|e| e.to_string())?.seconds().unwrap_or(0)),
        },
        (Some(other), None) => return Err(format!("duration `{other}`")),
    };
    Ok(Observation {
        name: r.name.trim().to_string(),
        domain: r.domain.filter(|d| !d.trim().is_empty()),
        storage,
        third_party,
        lifetime_seconds,
        value: r.value,
        http_only: flag(&r.http_only)?,
        secure: flag(&r.secure)?,
        set_by: r.set_by.filter(|s| !s.trim().is_empty()),
        set_by_server: None,
    })
}

fn guess(first: &str) -> Input {
    let t = first.trim_start();
    if t.starts_with('{') {
        Input::Jsonl
    } else if t.split(',').any(|c| c.trim().eq_ignore_ascii_case("name")) && t.contains(',') {
        Input::Csv
    } else {
        Input::Names
    }
}

fn read(text: &str, input: Option<Input>) -> Result<Vec<Observation>, String> {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    match input.unwrap_or_else(|| guess(first)) {
        Input::Names => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| observation(Row { name: l.trim().to_string(), ..Row::default() }))
            .collect(),
        Input::Jsonl => text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                let row: Row = serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1))?;
                observation(row).map_err(|e| format!("line {}: {e}", i + 1))
            })
            .collect(),
        Input::Csv => {
            let mut rdr = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
            let headers = rdr.headers().map_err(|e| e.to_string())?.clone();
            rdr.records()
                .enumerate()
                .map(|(i, rec)| {
                    let rec = rec.map_err(|e| format!("row {}: {e}", i + 1))?;
                    let mut obj = serde_json::Map::new();
                    for (h, v) in headers.iter().zip(rec.iter()) {
                        if !v.is_empty() {
                            obj.insert(h.to_ascii_lowercase(), serde_json::Value::String(v.to_string()));
                        }
                    }
                    let row: Row = serde_json::from_value(serde_json::Value::Object(obj))
                        .map_err(|e| format!("row {}: {e}", i + 1))?;
                    observation(row).map_err(|e| format!("row {}: {e}", i + 1))
                })
                .collect()
        }
    }
}

fn json(o: &Observation, c: &Classification) -> serde_json::Value {
    serde_json::json!({
        "name": o.name,
        "domain": o.domain,
        "category": c.purpose.as_str(),
        "confidence": (c.confidence * 1000.0).round() / 1000.0,
        "source": c.source.as_str(),
        "review": c.review,
        "reason": c.reason,
        "ocd_entry": c.ocd.map(|e| e.id.clone()),
    })
}

/// Render classifications in a format.
fn render(rows: &[(Observation, Classification)], format: Format) -> Result<String, String> {
    match format {
        Format::Json => {
            let v: Vec<serde_json::Value> = rows.iter().map(|(o, c)| json(o, c)).collect();
            serde_json::to_string_pretty(&v).map(|s| s + "\n").map_err(|e| e.to_string())
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            let err = |e: csv::Error| e.to_string();
            w.write_record(["name", "domain", "category", "confidence", "source", "review", "reason"]).map_err(err)?;
            for (o, c) in rows {
                w.write_record([
                    o.name.as_str(),
                    o.domain.as_deref().unwrap_or(""),
                    c.purpose.as_str(),
                    &format!("{:.2}", c.confidence),
                    c.source.as_str(),
                    if c.review { "true" } else { "false" },
                    c.reason.as_str(),
                ])
                .map_err(err)?;
            }
            let bytes = w.into_inner().map_err(|e| e.to_string())?;
            String::from_utf8(bytes).map_err(|e| e.to_string())
        }
        Format::Text => {
            let width = rows.iter().map(|(o, _)| o.name.chars().count()).max().unwrap_or(4).clamp(4, 40);
            let mut out = String::new();
            for (o, c) in rows {
                out.push_str(&format!(
                    "{:<width$}  {:<10}  {:>4.0}%  {:<20}  {}{}\n",
                    o.name,
                    c.purpose.as_str(),
                    c.confidence * 100.0,
                    c.source.as_str(),
                    if c.review { "[review] " } else { "" },
                    c.reason
                ));
            }
            Ok(out)
        }
    }
}

/// Run the command.
pub fn run(args: Args) -> miette::Result<u8> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).map_err(|e| miette!("reading standard input: {e}"))?;
    let observations = match read(&text, args.input) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("crumb classify: {e}");
            return Ok(exit::FAILURE);
        }
    };
    let rows: Vec<(Observation, Classification)> = observations
        .into_iter()
        .map(|o| {
            let c = classify(&o);
            (o, c)
        })
        .collect();
    print!("{}", render(&rows, args.format).map_err(|e| miette!("{e}"))?);
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_all_three_inputs() {
        let names = read("sessionid\n\n_ga\n", None).expect("names");
        assert_eq!(names.len(), 2);
        let csv = read("name,domain,party,duration,http_only\nIDE,.doubleclick.net,third,13 months,true\n", None)
            .expect("csv");
        assert_eq!(csv[0].third_party, Some(true));
        assert_eq!(csv[0].http_only, Some(true));
        assert!(csv[0].lifetime_seconds.is_some_and(|s| s > 300 * 86_400));
        let jl = read("{\"name\":\"theme\",\"storage\":\"local\",\"duration\":\"session\"}\n", None).expect("jsonl");
        assert_eq!((jl[0].storage, jl[0].lifetime_seconds), (Some(StorageKind::LocalStorage), Some(0)));
        assert!(read("{\"name\":\"x\",\"party\":\"nobody\"}", None).is_err_and(|e| e.contains("line 1")));
        assert!(read("name,storage\nx,fridge\n", None).is_err_and(|e| e.contains("row 1")));
    }

    #[test]
    fn renders_every_format() {
        let o = read("sessionid\n", None).expect("names");
        let rows: Vec<_> = o.into_iter().map(|o| (o.clone(), classify(&o))).collect();
        assert!(render(&rows, Format::Text).expect("text").contains("necessary"));
        let csv = render(&rows, Format::Csv).expect("csv");
        assert!(
            csv.starts_with("name,domain,category,confidence,source,review,reason\nsessionid,,necessary,"),
            "{csv}"
        );
        let j: serde_json::Value = serde_json::from_str(&render(&rows, Format::Json).expect("json")).expect("parse");
        assert_eq!(j[0]["source"], "framework");
    }
}

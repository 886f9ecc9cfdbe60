//! Shared by the scanner's benchmarks: the machine description and the `## Scanner`
//! section of `docs/benchmarks.md`. Included with `#[path]`; not an example of its own.

use std::path::Path;

/// `2 cores, <CPU model>, <OS>`.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    format!("{cores} core(s), {cpu}, {}", std::env::consts::OS)
}

/// Today's date, `YYYY-MM-DD` (UTC).
pub fn today() -> String {
    let d = time::OffsetDateTime::now_utc().date();
    format!("{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day())
}

/// Replace the block between `<!-- scanner:{key} -->` and `<!-- /scanner:{key} -->` in the
/// `## Scanner` section of `path` (creating the file, section or block as needed).
pub fn update(path: &Path, key: &str, body: &str) -> std::io::Result<()> {
    let mut doc = std::fs::read_to_string(path).unwrap_or_else(|_| {
        "# Benchmarks\n\nMeasured by the scripts in `bench/`; each section says on which machine and when.\n"
            .to_string()
    });
    let open = format!("<!-- scanner:{key} -->");
    let close = format!("<!-- /scanner:{key} -->");
    let block = format!("{open}\n{}\n{close}", body.trim_end());
    if let (Some(a), Some(b)) = (doc.find(&open), doc.find(&close)) {
        doc.replace_range(a..b + close.len(), &block);
    } else {
        if !doc.contains("\n## Scanner\n") {
            if !doc.ends_with('\n') {
                doc.push('\n');
            }
            doc.push_str("\n## Scanner\n\nWritten by `bench/classify/run` and `bench/scan/run`.\n");
        }
        let start = doc.find("\n## Scanner\n").map(|i| i + 1).unwrap_or(0);
        let end = doc[start + 3..].find("\n## ").map(|i| start + 3 + i + 1).unwrap_or(doc.len());
        let mut insert = String::new();
        if !doc[..end].ends_with("\n\n") {
            insert.push('\n');
        }
        insert.push_str(&block);
        insert.push('\n');
        doc.insert_str(end, &insert);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, doc)
}

//! End-to-end tests of `crumb init`, `crumb check` and `crumb policy` against the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn crumb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crumb"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .output()
        .expect("run crumb")
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(name).display().to_string()
}

fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> String {
    let p = dir.join(name);
    std::fs::write(&p, contents).expect("write fixture");
    p.display().to_string()
}

#[test]
fn examples_check_clean() {
    for ex in ["leadsgen.toml", "mixerlead.toml"] {
        let o = crumb(&["check", &example(ex)]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        assert!(stdout(&o).contains("ok, site"), "{}", stdout(&o));
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let o = crumb(&["check", &dir.display().to_string()]);
    assert_eq!(code(&o), 0, "a directory of inventories: {}", stderr(&o));
    assert_eq!(stdout(&o).matches("ok, site").count(), 2);
}

#[test]
fn diagnostics_point_at_file_line_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = std::fs::read_to_string(example("leadsgen.toml"))
        .expect("read")
        .replace("category = \"analytics\"", "category = \"analytic\"");
    let p = write(dir.path(), "crumb.toml", &src);
    let o = crumb(&["check", &p]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    let line = src.lines().position(|l| l.contains("\"analytic\"")).expect("line") + 1;
    assert!(err.contains(&format!("crumb.toml:{line}:12")), "{err}");
    assert!(err.contains("did you mean `analytics`?"), "{err}");
    assert!(err.contains("crumb::unknown-category"), "{err}");

    let o = crumb(&["check", "--format", "json", &p]);
    assert_eq!(code(&o), 1);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json output");
    let d = &v[0]["diagnostics"][0];
    assert_eq!(d["code"], "unknown-category");
    assert_eq!(d["line"], line);
    assert_eq!(d["column"], 12);
    assert_eq!(v[0]["valid"], false);
}

#[test]
fn bad_input_is_refused_clearly_and_never_panics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: Vec<(&str, Vec<u8>, i32, &str)> = vec![
        ("malformed.toml", b"[site\nid = ".to_vec(), 1, "not valid TOML"),
        (
            "unknown-key.toml",
            std::fs::read_to_string(example("leadsgen.toml"))
                .expect("read")
                .replace("[banner]", "[banner]\ncolour = \"red\"")
                .into_bytes(),
            1,
            "unknown field `colour`",
        ),
        ("wrong-type.toml", b"[site]\nid = 5\n".to_vec(), 1, "invalid type"),
        ("empty.toml", Vec::new(), 1, "the inventory is empty"),
        ("binary.toml", vec![0xff, 0xfe, 0x00, 0x41], 2, "is not UTF-8"),
        ("huge.toml", vec![b'#'; 50 * 1024 * 1024], 2, "too large for an inventory"),
    ];
    for (name, bytes, want, message) in cases {
        let p = write(dir.path(), name, &bytes);
        let o = crumb(&["check", &p]);
        assert_eq!(code(&o), want, "{name}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{name}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{name}");
        // `policy` refuses the same input and writes no output file.
        let out = dir.path().join(format!("{name}.html"));
        let o = crumb(&["policy", &p, "-o", &out.display().to_string()]);
        assert_eq!(code(&o), want, "policy {name}: {}", stderr(&o));
        assert!(!out.exists(), "policy wrote a partial file for {name}");
    }
    let o = crumb(&["check", &dir.path().join("missing.toml").display().to_string()]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("no such file") && stderr(&o).contains("crumb init"), "{}", stderr(&o));
    let empty = tempfile::tempdir().expect("tempdir");
    let o = crumb(&["check", &empty.path().display().to_string()]);
    assert_eq!(code(&o), 2, "a directory without inventories: {}", stderr(&o));
    let o = crumb(&["policy", &empty.path().display().to_string()]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("is a directory"), "{}", stderr(&o));
}

#[test]
fn init_writes_an_inventory_that_passes_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("crumb.toml").display().to_string();
    let o = crumb(&["init", "--site", "bakery", "-o", &p]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = crumb(&["check", &p]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("site `bakery`") && stdout(&o).contains("0 warning(s)"), "{}", stdout(&o));
    let o = crumb(&["init", "-o", &p]);
    assert_eq!(code(&o), 2, "refuses to overwrite");
    assert!(stderr(&o).contains("--force"));
    let o = crumb(&["init", "--site", "Bad Site", "-o", "-"]);
    assert_eq!(code(&o), 2);
    let o = crumb(&["init", "-o", "-"]);
    assert!(stdout(&o).contains("[site]"));
}

#[test]
fn policy_renders_every_format_and_language_errors_are_clear() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (format, marker) in [("html", "<!doctype html>"), ("md", "# Cookie Policy"), ("json", "\"policy_version\"")] {
        let out = dir.path().join(format!("p.{format}")).display().to_string();
        let o = crumb(&["policy", &example("leadsgen.toml"), "--format", format, "-o", &out]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let text = std::fs::read_to_string(&out).expect("output");
        assert!(text.contains(marker), "{format}");
        assert!(text.contains("_gcl_au") || text.contains("\\_gcl\\_au"), "{format}");
    }
    let out = dir.path().join("x.html");
    let o = crumb(&["policy", &example("leadsgen.toml"), "--lang", "it", "-o", &out.display().to_string()]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("does not declare language `it`"), "{}", stderr(&o));
    assert!(!out.exists());
}

#[test]
fn policy_diff_exit_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old = example("leadsgen.toml");
    let src = std::fs::read_to_string(&old).expect("read");
    let minor = write(dir.path(), "minor.toml", src.replace("2026-04-12", "2026-05-01"));
    let material = write(dir.path(), "material.toml", src.replace("duration = \"90 days\"", "duration = \"180 days\""));
    let o = crumb(&["policy", "diff", &old, &old]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("no changes"));
    let o = crumb(&["policy", "diff", &old, &minor]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(stdout(&o).contains("minor") && stdout(&o).contains("site.effective_date"), "{}", stdout(&o));
    let o = crumb(&["policy", "diff", &old, &material]);
    assert_eq!(code(&o), 3, "{}", stdout(&o));
    assert!(stdout(&o).contains("material cookies._fbp.duration: 90 days became 180 days"), "{}", stdout(&o));
    assert!(stdout(&o).contains("“_fbp” now lasts 180 days instead of 90 days."), "in visitor words: {}", stdout(&o));
    let o = crumb(&["policy", "diff", "--json", &old, &material]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(v["material"], true);
    assert_eq!(v["changes"][0]["what"]["kind"], "item_duration");
    assert_eq!(v["changes"][0]["visitor"], "“_fbp” now lasts 180 days instead of 90 days.");
    let o = crumb(&["policy", &material, "--since", &old, "--format", "md"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let md = stdout(&o);
    assert!(md.contains("### What changed since the version of 2026-04-12"), "{md}");
    assert!(md.contains("- “\\_fbp” now lasts 180 days instead of 90 days."), "{md}");
}

#[test]
fn every_command_has_help_with_examples() {
    for cmd in [
        vec!["init"],
        vec!["check"],
        vec!["classify"],
        vec!["policy"],
        vec!["policy", "diff"],
        vec!["admin"],
        vec!["admin", "create-user"],
        vec!["admin", "create-key"],
    ] {
        let mut args = cmd.clone();
        args.push("--help");
        let o = crumb(&args);
        assert_eq!(code(&o), 0);
        assert!(stdout(&o).contains("Examples:"), "{cmd:?}: {}", stdout(&o));
    }
    let o = crumb(&["--help"]);
    assert!(stdout(&o).contains("Quick start"));
}

#[test]
fn classify_reads_names_and_prints_csv() {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_crumb"))
        .args(["classify", "--format", "csv"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("crumb classify");
    child.stdin.take().expect("stdin").write_all(b"sessionid\n_ga\n").expect("write");
    let o = child.wait_with_output().expect("output");
    assert_eq!(code(&o), 0);
    let out = stdout(&o);
    let rows: Vec<&str> = out.lines().collect();
    assert_eq!(rows[0], "name,domain,category,confidence,source,review,reason");
    assert!(rows[1].starts_with("sessionid,,necessary,0.95,framework,false,"), "{out}");
    assert!(rows[2].starts_with("_ga,,analytics,"), "{out}");
}

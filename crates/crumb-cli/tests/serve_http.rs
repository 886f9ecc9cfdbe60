//! HTTP contract of `crumb serve` (PRODUCT.md section 3), against the real binary, on
//! SQLite and on PostgreSQL.

mod support;

use support::*;

fn contract(db: Option<&str>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let lead = example("leadsgen.toml");
    let mixer = example("mixerlead.toml");
    let srv = Serve::start(
        &data,
        db,
        &["--config", lead.to_str().expect("utf8"), "--config", mixer.to_str().expect("utf8"), "--rate-limit", "0"],
    );
    let v = leadsgen_version();

    // Health, readiness, metrics, OpenAPI, GPC.
    let r = srv.request("GET", "/healthz", &[], None);
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));
    assert_eq!(srv.request("GET", "/readyz", &[], None).status, 200);
    let r = srv.request("GET", "/openapi.json", &[], None);
    assert_eq!(r.status, 200);
    assert!(r.json()["paths"]["/api/v1/consents"]["post"]["responses"]["409"].is_object());
    let r = srv.request("GET", "/.well-known/gpc.json", &[], None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["gpc"], serde_json::Value::Bool(true));

    // Policy pages and the declaration, carrying the policy version.
    let r = srv.request("GET", "/s/leadsgen/cookie-policy", &[], None);
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").is_some_and(|c| c.starts_with("text/html")));
    assert!(r.body.contains("__stripe_mid") && r.body.contains(&v), "HTML policy names cookies and the version");
    assert_eq!(r.header("x-crumb-policy-version"), Some(v.as_str()));
    let r = srv.request("GET", "/s/leadsgen/cookie-policy.md", &[], None);
    assert!(r.status == 200 && r.header("content-type").is_some_and(|c| c.starts_with("text/markdown")));
    let r = srv.request("GET", "/s/leadsgen/cookie-policy.json", &[], None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["policy_version"].as_str(), Some(v.as_str()));
    let r = srv.request("GET", "/s/leadsgen/declaration.json", &[], None);
    assert_eq!(r.status, 200);
    assert!(r.body.contains(&v) && r.body.contains("__stripe_mid"));
    let r = srv.request("GET", "/s/nosuchsite/cookie-policy", &[], None);
    assert_eq!((r.status, r.error_code().as_str()), (404, "unknown_site"));
    let r = srv.request("GET", "/s/leadsgen/cookie-policy?lang=xx", &[], None);
    assert_eq!((r.status, r.error_code().as_str()), (404, "unknown_language"));

    // A first decision: 201 with a receipt.
    let r = srv.request(
        "POST",
        "/api/v1/consents",
        &[
            ("Origin", ORIGIN),
            ("Content-Type", "application/json"),
            ("Sec-GPC", "1"),
            ("User-Agent", "Mozilla/5.0 Firefox/128.0"),
        ],
        Some(consent(&v, false, None).as_bytes()),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    let receipt = r.json();
    let id = receipt["consent_id"].as_str().expect("consent_id").to_string();
    assert_eq!(uuid_version(&id), '7', "consent ids are UUID v7: {id}");
    assert_eq!(receipt["seq"], 1);
    assert_eq!(receipt["hash"].as_str().map(str::len), Some(64));
    assert!(receipt["recorded_at"].as_str().is_some_and(|s| s.ends_with('Z')));
    assert!(receipt["expires_at"].as_str() > receipt["recorded_at"].as_str());

    // A change by the same visitor, then the history holds both and nothing else.
    let r = srv.post(&consent(&v, true, Some(&id)));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["consent_id"].as_str(), Some(id.as_str()));
    let other = srv.post(&consent(&v, true, None));
    assert_eq!(other.status, 201);
    let h = srv.request("GET", &format!("/api/v1/consents/{id}"), &[], None);
    assert_eq!(h.status, 200, "{}", h.body);
    let recs = h.json()["records"].as_array().expect("records").clone();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["choices"]["analytics"], false);
    assert_eq!(recs[0]["gpc"], true);
    assert_eq!(recs[1]["choices"]["analytics"], true);
    assert_eq!(recs[0]["choices"]["necessary"], true, "required categories are recorded as granted");
    assert_eq!(recs[0]["url"], "https://leadsgen.app/pricing", "query and fragment stripped");
    assert!(recs[0].get("ip_hash").is_none() && !h.body.contains("127.0.0"), "no address in the history");
    assert_eq!(srv.request("GET", "/api/v1/consents/not-a-uuid", &[], None).status, 400);
    let unknown = srv.request("GET", "/api/v1/consents/0193a2b4-7c1d-7e55-9a0b-3c2d1e0f9a8b", &[], None);
    assert_eq!((unknown.status, unknown.error_code().as_str()), (404, "unknown_consent_id"));

    // Every bad input: its status, a JSON error, nothing stored.
    let json = [("Origin", ORIGIN), ("Content-Type", "application/json")];
    type Case<'a> = (u16, &'a str, String, Vec<(&'a str, &'a str)>);
    let bad: Vec<Case> = vec![
        (400, "bad_request", "{not json".into(), json.to_vec()),
        (
            400,
            "bad_request",
            r#"{"site":"leadsgen","policy_version":1,"choices":{},"action":"save"}"#.into(),
            json.to_vec(),
        ),
        (400, "bad_request", consent(&v, false, None).replace("\"save\"", "\"maybe\""), json.to_vec()),
        (400, "bad_request", consent(&v, false, Some("not-a-uuid")), json.to_vec()),
        (413, "body_too_large", format!("{{\"site\":\"leadsgen\",\"pad\":\"{}\"}}", "x".repeat(9000)), json.to_vec()),
        (404, "unknown_site", consent(&v, false, None).replace("\"leadsgen\"", "\"nosuchsite\""), json.to_vec()),
        (422, "unknown_category", consent(&v, false, None).replace("\"marketing\"", "\"telepathy\""), json.to_vec()),
        (422, "missing_category", consent(&v, false, None).replace(",\"marketing\":false", ""), json.to_vec()),
        (
            422,
            "required_category",
            consent(&v, false, None).replace("{\"analytics\"", "{\"necessary\":false,\"analytics\""),
            json.to_vec(),
        ),
        (422, "inconsistent_action", consent(&v, true, None).replace("\"save\"", "\"reject_all\""), json.to_vec()),
        (409, "stale_policy_version", consent("00000000deadbeef", false, None), json.to_vec()),
        (
            403,
            "origin_not_allowed",
            consent(&v, false, None),
            vec![("Origin", "https://evil.example"), ("Content-Type", "application/json")],
        ),
        (403, "origin_not_allowed", consent(&v, false, None), vec![("Origin", "http://127.0.0.1:3000")]),
        (403, "origin_not_allowed", consent(&v, false, None), vec![("Content-Type", "application/json")]),
    ];
    for (status, code, body, headers) in &bad {
        let r = srv.request("POST", "/api/v1/consents", headers, Some(body.as_bytes()));
        assert_eq!(r.status, *status, "{code}: {}", r.body);
        assert_eq!(r.error_code(), *code, "{}", r.body);
        assert!(r.json()["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // The consent JSON check precedes the mixerlead site: a leadsgen origin cannot post for mixerlead.
    let cross = consent(&v, false, None).replace("\"leadsgen\"", "\"mixerlead\"");
    assert_eq!(srv.post(&cross).status, 403);

    // CORS preflight only for declared origins.
    let pre = srv.request(
        "OPTIONS",
        "/api/v1/consents",
        &[("Origin", ORIGIN), ("Access-Control-Request-Method", "POST")],
        None,
    );
    assert_eq!(pre.status, 204);
    assert_eq!(pre.header("access-control-allow-origin"), Some(ORIGIN));
    let pre = srv.request("OPTIONS", "/api/v1/consents", &[("Origin", "https://evil.example")], None);
    assert_eq!(pre.status, 403);
    assert!(pre.header("access-control-allow-origin").is_none());

    // Metrics count the requests and the records.
    let m = srv.request("GET", "/metrics", &[], None);
    assert_eq!(m.status, 200);
    assert!(m.body.contains("crumb_ledger_records_total 3"), "{}", m.body);
    assert!(m.body.contains("crumb_http_requests_total{route=\"/api/v1/consents\",status=\"201\"} 3"), "{}", m.body);
    assert!(m.body.contains("crumb_http_requests_total{route=\"/api/v1/consents\",status=\"422\"} 4"));
    assert!(m.body.contains("crumb_ledger_commit_seconds_bucket"));
    assert!(m.body.contains("crumb_ledger_queue_depth 0"));

    // Graceful stop signs a final checkpoint; verify passes; only the three records exist.
    let logs_before = srv.logs();
    assert!(!logs_before.iter().any(|l| l.contains("127.0.0.1:") && l.contains("consent")), "no addresses in logs");
    let data_dir = srv.data_dir.clone();
    let database = srv.database.clone();
    let st = srv.signal_and_wait("-TERM");
    assert!(st.success(), "clean exit: {st:?}");
    let out = ledger(&data_dir, database.as_deref(), &["verify"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.starts_with("ok: 3 records on 1 chains verified against 1 signed checkpoints"), "{text}");
    let out = ledger(&data_dir, database.as_deref(), &["stats", "--json"]);
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stats json");
    assert_eq!(stats["records"], 3);
    assert_eq!(stats["consent_ids"], 2);
    let out = ledger(&data_dir, database.as_deref(), &["export", "--site", "leadsgen", "--format", "csv"]);
    let csv = String::from_utf8_lossy(&out.stdout);
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.lines().next().is_some_and(|h| h.starts_with("chain,seq,consent_id")));
    let out = ledger(&data_dir, database.as_deref(), &["export", "--site", "mixerlead"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 0);
    let out = ledger(&data_dir, database.as_deref(), &["export", "--from", "2000-01-01", "--to", "2001-01-01"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 0);
}

fn uuid_version(id: &str) -> char {
    id.chars().nth(14).unwrap_or('?')
}

#[test]
fn http_contract_sqlite() {
    contract(None);
}

#[test]
fn http_contract_postgres() {
    let db = crumb_testkit::postgres::database();
    contract(Some(&db.url));
}

#[test]
fn rate_limit_and_dev_origins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lead = example("leadsgen.toml");
    let srv = Serve::start(
        &dir.path().join("d"),
        None,
        &["--config", lead.to_str().expect("utf8"), "--rate-limit", "3", "--dev"],
    );
    let v = leadsgen_version();
    let dev = [("Origin", "http://127.0.0.1:5173"), ("Content-Type", "application/json")];
    for _ in 0..3 {
        let r = srv.request("POST", "/api/v1/consents", &dev, Some(consent(&v, false, None).as_bytes()));
        assert_eq!(r.status, 201, "--dev accepts loopback http origins: {}", r.body);
    }
    let r = srv.post(&consent(&v, false, None));
    assert_eq!((r.status, r.error_code().as_str()), (429, "rate_limited"));
    assert!(r.header("retry-after").is_some());
    // Other routes are not limited.
    assert_eq!(srv.request("GET", "/healthz", &[], None).status, 200);
}

#[test]
fn sighup_reloads_and_material_changes_make_old_versions_stale() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inv_path = dir.path().join("leadsgen.toml");
    let original = std::fs::read_to_string(example("leadsgen.toml")).expect("example");
    std::fs::write(&inv_path, &original).expect("write");
    let srv =
        Serve::start(&dir.path().join("d"), None, &["--config", inv_path.to_str().expect("utf8"), "--rate-limit", "0"]);
    let v1 = leadsgen_version();
    assert_eq!(srv.post(&consent(&v1, false, None)).status, 201);

    // A minor change (contact address): v1 stays covered.
    let minor = original.replacen("contact = \"", "contact = \"privacy+", 1);
    assert_ne!(minor, original, "the example has a contact line");
    std::fs::write(&inv_path, &minor).expect("write");
    let v2 = crumb_core::policy_version(&crumb_core::parse_inventory(&minor).expect("parses"));
    let pid = srv.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-HUP", &pid]).status().expect("kill").success());
    wait_for(|| srv.post(&consent(&v2, false, None)).status == 201);
    assert_eq!(srv.post(&consent(&v1, false, None)).status, 201, "minor change: the old version is still covered");

    // A material change (a longer consent lifetime): v1 and v2 become stale.
    let material = minor.replace("consent_lifetime = \"1 year\"", "consent_lifetime = \"13 months\"");
    assert_ne!(material, minor);
    std::fs::write(&inv_path, &material).expect("write");
    let v3 = crumb_core::policy_version(&crumb_core::parse_inventory(&material).expect("parses"));
    assert!(std::process::Command::new("kill").args(["-HUP", &pid]).status().expect("kill").success());
    wait_for(|| srv.post(&consent(&v3, false, None)).status == 201);
    let r = srv.post(&consent(&v1, false, None));
    assert_eq!((r.status, r.error_code().as_str()), (409, "stale_policy_version"));
    assert_eq!(srv.post(&consent(&v2, false, None)).status, 409);

    // A broken inventory: the reload fails and the previous sites stay in service.
    std::fs::write(&inv_path, "this is not toml [").expect("write");
    assert!(std::process::Command::new("kill").args(["-HUP", &pid]).status().expect("kill").success());
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(srv.post(&consent(&v3, false, None)).status, 201);
}

fn wait_for(mut f: impl FnMut() -> bool) {
    for _ in 0..100 {
        if f() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("condition not reached in 10 s");
}

//! The statistics API and its keys, against the real binary, on SQLite and on PostgreSQL:
//! `crumb admin create-key|list-keys|revoke-key`, `GET /api/v1/stats` as JSON and CSV,
//! every refusal a JSON error, revocation taking effect at once, bad input storing nothing.

mod support;

use support::*;

fn stats(srv: &Serve, query: &str, headers: &[(&str, &str)]) -> Response {
    srv.request("GET", &format!("/api/v1/stats{query}"), headers, None)
}

fn stats_api(db: Option<&str>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");

    // Bad keys are refused and store nothing.
    for args in [
        &["create-key", "bi", "--site", "Not A Site"][..],
        &["create-key", "bi"][..],
        &["create-key", "  ", "--site", "leadsgen"][..],
    ] {
        let o = admin(&data, db, args, None);
        assert!(!o.status.success(), "{args:?} must fail");
        assert!(o.stdout.is_empty(), "no key printed for {args:?}");
    }
    let o = admin(&data, db, &["list-keys"], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.stdout.is_empty(), "no key was stored: {}", String::from_utf8_lossy(&o.stdout));

    // Two keys, printed once each; listings never show them.
    let create = |name: &str, site: &str| {
        let o = admin(&data, db, &["create-key", name, "--site", site], None);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let key = String::from_utf8_lossy(&o.stdout).trim().to_string();
        assert!(key.starts_with("crumb_") && key.len() == 87, "{key}");
        key
    };
    let lead_key = create("BI dashboard", "leadsgen");
    let mixer_key = create("mixer only", "mixerlead");
    let o = admin(&data, db, &["list-keys", "--json"], None);
    let listed = String::from_utf8_lossy(&o.stdout).to_string();
    let rows: Vec<serde_json::Value> = listed.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(rows.len(), 2, "{listed}");
    assert_eq!(rows[0]["name"], "BI dashboard");
    assert_eq!(rows[0]["sites"], serde_json::json!(["leadsgen"]));
    assert!(rows[0]["revoked_at"].is_null());
    let lead_id = rows[0]["id"].as_str().expect("id").to_string();
    assert!(lead_key.starts_with(&format!("crumb_{lead_id}_")));
    for key in [&lead_key, &mixer_key] {
        assert!(!listed.contains(&key[23..]), "listings hold no secret");
    }

    let lead = example("leadsgen.toml");
    let mixer = example("mixerlead.toml");
    let srv = Serve::start(
        &data,
        db,
        &["--config", lead.to_str().expect("utf8"), "--config", mixer.to_str().expect("utf8"), "--rate-limit", "0"],
    );
    let v = leadsgen_version();
    let first = srv.post(&consent(&v, false, None));
    assert_eq!(first.status, 201, "{}", first.body);
    let id = first.json()["consent_id"].as_str().expect("id").to_string();
    assert_eq!(srv.post(&consent(&v, true, Some(&id))).status, 201);
    let accept = serde_json::json!({"site": "leadsgen", "policy_version": v, "action": "accept_all",
        "choices": {"functional": true, "analytics": true, "marketing": true}});
    assert_eq!(srv.post(&accept.to_string()).status, 201);

    // JSON: the figures of the site, every action listed.
    let auth = format!("Bearer {lead_key}");
    let bearer = [("Authorization", auth.as_str())];
    let r = stats(&srv, "?site=leadsgen", &bearer);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("content-type").is_some_and(|c| c.starts_with("application/json")));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let j = r.json();
    assert_eq!(
        (j["site"].as_str(), j["records"].as_i64(), j["first_decisions"].as_i64(), j["changes"].as_i64()),
        (Some("leadsgen"), Some(3), Some(2), Some(1))
    );
    assert_eq!(j["by_action"], serde_json::json!({"accept_all": 1, "reject_all": 0, "save": 2, "withdraw": 0}));
    assert!(j["from"].is_null() && j["to"].is_null());
    // RFC 3339 with as many fraction digits as needed, so compare the instants, not the strings
    let at = |k: &str| j[k].as_str().filter(|t| t.ends_with('Z')).and_then(crumb_ledger::export::parse_time);
    assert!(at("first_at").is_some() && at("last_at") >= at("first_at"), "{j}");
    let r = stats(&srv, "?site=leadsgen&from=2000-01-01&to=2100-01-01T00:00:00Z", &bearer);
    assert_eq!((r.json()["records"].as_i64(), r.json()["from"].as_str()), (Some(3), Some("2000-01-01T00:00:00Z")));
    let r = stats(&srv, "?site=leadsgen&from=2000-01-01&to=2001-01-01", &bearer);
    assert_eq!(r.json()["records"], 0, "a range before every decision");
    assert!(r.json()["first_at"].is_null());

    // CSV: by format=csv or by Accept, the same figures.
    let r = stats(&srv, "?site=leadsgen&format=csv", &bearer);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("content-type").is_some_and(|c| c.starts_with("text/csv")));
    assert!(r.header("content-disposition").is_some_and(|c| c.contains("crumb-stats-leadsgen.csv")));
    let lines: Vec<&str> = r.body.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.body);
    assert_eq!(
        lines[0],
        "site,from,to,records,first_decisions,changes,accept_all,reject_all,save,withdraw,first_at,last_at"
    );
    assert!(lines[1].starts_with("leadsgen,,,3,2,1,1,0,2,0,20"), "{}", lines[1]);
    let by_accept = stats(&srv, "?site=leadsgen", &[("Authorization", auth.as_str()), ("Accept", "text/csv")]);
    assert_eq!(by_accept.body, r.body);

    // Refusals: status, code, a message, and a Bearer challenge on 401.
    let mixer_auth = format!("Bearer {mixer_key}");
    let forged = format!("Bearer crumb_{lead_id}_{}", "0".repeat(64));
    type Case<'a> = (u16, &'a str, &'a str, Vec<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        (401, "missing_api_key", "?site=leadsgen", vec![]),
        (401, "missing_api_key", "?site=leadsgen", vec![("Authorization", "Basic YWxpY2U6cHc=")]),
        (401, "invalid_api_key", "?site=leadsgen", vec![("Authorization", "Bearer not-a-key")]),
        (401, "invalid_api_key", "?site=leadsgen", vec![("Authorization", forged.as_str())]),
        (403, "site_not_in_scope", "?site=leadsgen", vec![("Authorization", mixer_auth.as_str())]),
        (403, "site_not_in_scope", "?site=mixerlead", bearer.to_vec()),
        (422, "invalid_date", "?site=leadsgen&from=yesterday", bearer.to_vec()),
        (422, "invalid_date", "?site=leadsgen&to=2026-13-45", bearer.to_vec()),
        (422, "invalid_date", "?site=leadsgen&from=2026-01-01T10:30:00Z", bearer.to_vec()),
        (422, "invalid_range", "?site=leadsgen&from=2026-02-01&to=2026-01-01", bearer.to_vec()),
        (400, "bad_request", "", bearer.to_vec()),
        (400, "bad_request", "?site=leadsgen&format=xml", bearer.to_vec()),
        (400, "bad_request", "?site=leadsgen&limit=5", bearer.to_vec()),
    ];
    for (status, code, query, headers) in &cases {
        let r = stats(&srv, query, headers);
        assert_eq!((r.status, r.error_code().as_str()), (*status, *code), "{query} {headers:?}: {}", r.body);
        assert!(r.json()["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert_eq!(r.header("www-authenticate").is_some(), *status == 401, "{}", r.body);
    }

    // Revocation: at once, once; the other key keeps working.
    let o = admin(&data, db, &["revoke-key", &lead_id], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = stats(&srv, "?site=leadsgen", &bearer);
    assert_eq!((r.status, r.error_code().as_str()), (401, "invalid_api_key"), "{}", r.body);
    assert!(!admin(&data, db, &["revoke-key", &lead_id], None).status.success(), "already revoked");
    let r = stats(&srv, "?site=mixerlead", &[("Authorization", mixer_auth.as_str())]);
    assert_eq!((r.status, r.json()["records"].as_i64()), (200, Some(0)), "{}", r.body);
    let o = admin(&data, db, &["list-keys"], None);
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    let revoked = text.lines().find(|l| l.starts_with(&lead_id)).expect("listed");
    assert!(!revoked.contains("active") && revoked.contains("leadsgen"), "{text}");

    // Nothing but the three decisions was stored, and no key reached the logs.
    let logs = srv.logs().join("\n");
    assert!(!logs.contains(&lead_key[23..]) && !logs.contains(&mixer_key[23..]), "no secret in the logs");
    let out = srv.ledger(&["stats", "--json"]);
    let st: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stats json");
    assert_eq!(st["records"], 3);
}

#[test]
fn stats_api_sqlite() {
    stats_api(None);
}

#[test]
fn stats_api_postgres() {
    let db = crumb_testkit::postgres::database();
    stats_api(Some(&db.url));
}

//! The dashboard (`/admin`) and `crumb admin`, against the real binary, on SQLite and on
//! PostgreSQL: accounts, login, session cookie, the pages' figures, the CSV export, logout,
//! throttling and cross-origin forms.

mod support;

use support::*;

const PASSWORD: &str = "a long enough password";

fn login(srv: &Serve, name: &str, password: &str) -> Response {
    let body = format!("name={name}&password={}", password.replace(' ', "+"));
    srv.request(
        "POST",
        "/admin/login",
        &[("Content-Type", "application/x-www-form-urlencoded"), ("Origin", &format!("http://127.0.0.1:{}", srv.port))],
        Some(body.as_bytes()),
    )
}

/// `crumb_admin=TOKEN` from a login response's `Set-Cookie`.
fn session(r: &Response) -> String {
    let c = r.header("set-cookie").unwrap_or_else(|| panic!("no Set-Cookie: {r:?}"));
    c.split(';').next().expect("name=value").to_string()
}

/// The body of a `Transfer-Encoding: chunked` response, unframed.
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if n == 0 {
            break;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
    out
}

fn figure(html: &str, site: &str, name: &str) -> String {
    let section = html.split(&format!("id=\"site-{site}\"")).nth(1).expect("site section");
    let cell = section.split(&format!("data-figure=\"{name}\">")).nth(1).expect("figure");
    cell.split('<').next().expect("value").to_string()
}

fn dashboard(db: Option<&str>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");

    // Accounts: a short password is refused, a good one stored, a generated one printed.
    let o = admin(&data, db, &["create-user", "alice", "--password-stdin"], Some("short\n"));
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("at least 12 characters"));
    let o = admin(&data, db, &["create-user", "alice", "--password-stdin"], Some(&format!("{PASSWORD}\n")));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = admin(&data, db, &["create-user", "bob"], None);
    assert!(o.status.success());
    let generated = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert_eq!(generated.len(), 24, "the generated password is printed once: {generated}");
    assert!(!admin(&data, db, &["create-user", "no spaces"], None).status.success());
    let o = admin(&data, db, &["list-users"], None);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "alice\nbob\n");

    let lead = example("leadsgen.toml");
    let mixer = example("mixerlead.toml");
    let srv = Serve::start(
        &data,
        db,
        &["--config", lead.to_str().expect("utf8"), "--config", mixer.to_str().expect("utf8"), "--rate-limit", "0"],
    );
    let v = leadsgen_version();
    let mut ids = Vec::new();
    for analytics in [true, false, false] {
        let r = srv.post(&consent(&v, analytics, None));
        assert_eq!(r.status, 201, "{}", r.body);
        ids.push(r.json()["consent_id"].as_str().expect("id").to_string());
    }
    let accept = serde_json::json!({"site": "leadsgen", "policy_version": v, "action": "accept_all",
        "choices": {"functional": true, "analytics": true, "marketing": true}});
    assert_eq!(srv.post(&accept.to_string()).status, 201);

    // Signed out: every page sends to the login form; the export too.
    for path in ["/admin", "/admin/records", "/admin/versions", "/admin/export.csv"] {
        let r = srv.request("GET", path, &[], None);
        assert_eq!((r.status, r.header("location")), (303, Some("/admin/login")), "{path}");
    }
    let r = srv.request("GET", "/admin/login", &[], None);
    assert_eq!(r.status, 200);
    assert!(r.body.contains("<form method=\"post\" action=\"/admin/login\""));
    let csp = r.header("content-security-policy").expect("CSP");
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(r.header("x-frame-options"), Some("DENY"));

    // A wrong password or an unknown account: 401, no cookie.
    for (name, pw) in [("alice", "wrong password here"), ("mallory", PASSWORD)] {
        let r = login(&srv, name, pw);
        assert_eq!(r.status, 401, "{name}");
        assert!(r.header("set-cookie").is_none());
        assert!(r.body.contains("Wrong account name or password."));
    }
    // A form posted from another origin is refused.
    let r = srv.request(
        "POST",
        "/admin/login",
        &[("Content-Type", "application/x-www-form-urlencoded"), ("Origin", "https://evil.example")],
        Some(format!("name=alice&password={}", PASSWORD.replace(' ', "+")).as_bytes()),
    );
    assert_eq!((r.status, r.error_code().as_str()), (403, "cross_origin_form"));

    // Signed in: a session cookie with every protective attribute.
    let r = login(&srv, "alice", PASSWORD);
    assert_eq!((r.status, r.header("location")), (303, Some("/admin")), "{}", r.body);
    let set = r.header("set-cookie").expect("cookie").to_string();
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/admin", "Max-Age=43200"] {
        assert!(set.contains(attr), "{attr} in {set}");
    }
    let cookie = session(&r);
    assert_eq!(cookie.len(), "crumb_admin=".len() + 64);
    assert!(login(&srv, "bob", &generated).status == 303, "the generated password works");

    // The overview's figures are the ledger's.
    let r = srv.request("GET", "/admin", &[("Cookie", &cookie)], None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(figure(&r.body, "leadsgen", "records"), "4");
    assert_eq!(figure(&r.body, "leadsgen", "first_decisions"), "4");
    assert_eq!(figure(&r.body, "leadsgen", "changes"), "0");
    assert_eq!(figure(&r.body, "leadsgen", "accept_rate"), "25.0%");
    assert_eq!(figure(&r.body, "leadsgen", "reject_rate"), "0.0%");
    assert_eq!(figure(&r.body, "mixerlead", "records"), "0");
    assert!(r.body.contains("Decisions, the last 30 days"), "the default window is 30 days");
    for period in ["24h", "all"] {
        let w = srv.request("GET", &format!("/admin?period={period}"), &[("Cookie", &cookie)], None);
        assert_eq!(figure(&w.body, "leadsgen", "records"), "4", "{period}");
    }
    let bad = srv.request("GET", "/admin?period=year", &[("Cookie", &cookie)], None);
    assert_eq!((bad.status, bad.error_code().as_str()), (400, "bad_request"));
    assert!(r.body.contains("alice") && r.body.contains("Sign out"));
    assert_eq!(r.header("cache-control"), Some("no-store"));

    // Records, filtered by site, and a date range that holds none of them.
    let r = srv.request("GET", "/admin/records?site=leadsgen", &[("Cookie", &cookie)], None);
    assert_eq!(r.status, 200);
    for id in &ids {
        assert!(r.body.contains(id.as_str()), "record {id} is listed");
    }
    let r = srv.request("GET", "/admin/records?site=mixerlead", &[("Cookie", &cookie)], None);
    assert!(r.body.contains("No records match.") && !r.body.contains(ids[0].as_str()));
    let r = srv.request("GET", "/admin/records?from=2001-01-01&to=2001-01-31", &[("Cookie", &cookie)], None);
    assert!(r.body.contains("No records match."));
    let r = srv.request("GET", "/admin/records?from=yesterday", &[("Cookie", &cookie)], None);
    assert_eq!((r.status, r.error_code().as_str()), (400, "bad_request"), "{}", r.body);

    // Paging: 100 records a page, a cursor to the next, nothing shown twice or skipped.
    for _ in 0..100 {
        assert_eq!(srv.post(&consent(&v, false, None)).status, 201);
    }
    let mut seen = Vec::new();
    let mut path = "/admin/records?site=leadsgen".to_string();
    for _ in 0..3 {
        let r = srv.request("GET", &path, &[("Cookie", &cookie)], None);
        assert_eq!(r.status, 200, "{}", r.body);
        seen.extend(r.body.match_indices("<tr><td>").map(|(i, _)| r.body[i..i + 200].to_string()));
        match r.body.split("rel=\"next\" href=\"").nth(1) {
            Some(rest) => path = rest.split('"').next().expect("href").replace("&amp;", "&"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 104, "four pages' worth in two pages: 100 + 4");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 104);

    // The export is exactly `crumb ledger export --format csv`.
    let r = srv.request("GET", "/admin/export.csv?site=leadsgen", &[("Cookie", &cookie)], None);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-disposition"), Some("attachment; filename=\"crumb-leadsgen.csv\""));
    let csv = dechunk(&r.body);
    let cli = srv.ledger(&["export", "--site", "leadsgen", "--format", "csv"]);
    assert!(cli.status.success());
    assert_eq!(csv, String::from_utf8_lossy(&cli.stdout));
    assert_eq!(csv.lines().count(), 105, "header and 104 records");
    let stats = |args: &[&str]| -> serde_json::Value {
        let o = srv.ledger(&[&["stats", "--json", "--site", "leadsgen"], args].concat());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).expect("stats JSON")
    };
    assert_eq!(stats(&[])["records"], 104);
    assert_eq!(stats(&["--from", "2001-01-01", "--to", "2001-02-01"])["records"], 0, "a window with no decisions");

    // Policy versions: the current one is marked.
    let r = srv.request("GET", "/admin/versions", &[("Cookie", &cookie)], None);
    assert_eq!(r.status, 200);
    assert!(r.body.contains(&v) && r.body.contains("current"));

    // Logout ends the session on the server, not only in the browser.
    let r = srv.request(
        "POST",
        "/admin/logout",
        &[("Cookie", &cookie), ("Origin", &format!("http://127.0.0.1:{}", srv.port))],
        Some(b""),
    );
    assert_eq!((r.status, r.header("location")), (303, Some("/admin/login")));
    assert!(r.header("set-cookie").is_some_and(|c| c.contains("Max-Age=0")));
    assert_eq!(srv.request("GET", "/admin", &[("Cookie", &cookie)], None).status, 303);

    // A new password signs the account out everywhere.
    let cookie = session(&login(&srv, "alice", PASSWORD));
    assert_eq!(srv.request("GET", "/admin", &[("Cookie", &cookie)], None).status, 200);
    let o = admin(&data, db, &["create-user", "alice"], None);
    assert!(String::from_utf8_lossy(&o.stderr).contains("signed out"));
    assert_eq!(srv.request("GET", "/admin", &[("Cookie", &cookie)], None).status, 303);
    let o = admin(&data, db, &["delete-user", "bob"], None);
    assert!(o.status.success());
    assert_eq!(admin(&data, db, &["delete-user", "bob"], None).status.code(), Some(2));

    // Ten failures from one address, then even the right password waits.
    for _ in 0..8 {
        assert_eq!(login(&srv, "alice", "still the wrong one").status, 401);
    }
    let r = login(&srv, "alice", "still the wrong one");
    assert_eq!(r.status, 429, "after ten failures: two above, eight here");
    let r = login(&srv, "alice", PASSWORD);
    assert_eq!(r.status, 429);
    assert!(r.header("set-cookie").is_none());

    // Neither the password nor the session token reaches the logs.
    let logs = srv.logs().join("\n");
    assert!(!logs.contains(PASSWORD) && !logs.contains(&cookie["crumb_admin=".len()..]));
    assert!(logs.contains("dashboard login"), "logins are logged");
}

#[test]
fn dashboard_sqlite() {
    dashboard(None);
}

#[test]
fn dashboard_postgres() {
    let db = crumb_testkit::postgres::database();
    dashboard(Some(&db.url));
}

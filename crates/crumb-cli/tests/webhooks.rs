//! Webhooks, roles and the audit log against the real binary, on SQLite and PostgreSQL:
//! a signed delivery to a loopback receiver that fails twice and then succeeds (retries
//! with backoff observed), one delivery per event with two `crumb serve` on one PostgreSQL,
//! viewers refused exports and management, audit rows written, bad input stores nothing;
//! an https receiver whose CA is trusted gets a signed delivery, one whose CA is not gets
//! none and the delivery log says why.

mod support;
mod webhooks_tls;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::*;

const PASSWORD: &str = "a long enough password";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Hit {
    at: Instant,
    headers: Vec<(String, String)>,
    body: String,
}

impl Hit {
    fn header(&self, name: &str) -> &str {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).unwrap_or_default()
    }
}

/// A loopback HTTP receiver answering the scripted statuses in turn, then 200.
struct Receiver {
    port: u16,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Receiver {
    fn start(script: Vec<u16>) -> Receiver {
        Receiver::start_with(script, None)
    }

    /// A receiver over TLS with the server settings `tls`.
    fn start_tls(tls: Arc<rustls::ServerConfig>) -> Receiver {
        Receiver::start_with(vec![], Some(tls))
    }

    fn start_with(script: Vec<u16>, tls: Option<Arc<rustls::ServerConfig>>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let hits = Arc::new(Mutex::new(Vec::new()));
        let (h, script) = (hits.clone(), Arc::new(Mutex::new(script.into_iter())));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let status = || script.lock().expect("lock").next().unwrap_or(200);
                match &tls {
                    None => answer(stream, &h, status),
                    Some(cfg) => {
                        let Ok(conn) = rustls::ServerConnection::new(cfg.clone()) else { continue };
                        answer(rustls::StreamOwned::new(conn, stream), &h, status)
                    }
                }
            }
        });
        Receiver { port, hits }
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().expect("lock").clone()
    }

    fn wait_for(&self, n: usize, secs: u64) -> Vec<Hit> {
        let end = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < end {
            if self.hits().len() >= n {
                return self.hits();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("expected {n} webhook requests, got {:?}", self.hits());
    }
}

/// Read one request from `stream` (nothing when it never comes, e.g. a failed TLS
/// handshake), note it and answer `status()`.
fn answer<S: Read + Write>(stream: S, hits: &Mutex<Vec<Hit>>, status: impl FnOnce() -> u16) {
    let mut reader = BufReader::new(stream);
    let mut headers = Vec::new();
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let len = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    let _ = reader.read_exact(&mut body);
    hits.lock().expect("lock").push(Hit { at: Instant::now(), headers, body: String::from_utf8_lossy(&body).into() });
    let stream = reader.get_mut();
    let _ = write!(stream, "HTTP/1.1 {} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status());
    let _ = stream.flush();
}

/// Check `Crumb-Signature` independently of Crumb: `openssl dgst -sha256 -hmac`.
fn assert_signed(hit: &Hit, secret: &str) {
    let sig = hit.header("crumb-signature");
    let (t, v1) = sig.split_once(",v1=").unwrap_or_else(|| panic!("signature header: {sig:?}"));
    let t = t.strip_prefix("t=").expect("t=");
    let age = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64
        - t.parse::<i64>().expect("t is a number");
    assert!((0..300).contains(&age), "timestamp is recent: {age}");
    let mut child = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", secret])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl runs");
    child.stdin.take().expect("stdin").write_all(format!("{t}.{}", hit.body).as_bytes()).expect("write");
    let out = String::from_utf8(child.wait_with_output().expect("openssl").stdout).expect("utf8");
    let expected = out.trim().rsplit(' ').next().expect("digest");
    assert_eq!(v1, expected, "HMAC-SHA256 over t.body with the secret");
}

fn login(srv: &Serve, name: &str, password: &str) -> Response {
    let body = format!("name={name}&password={}", password.replace(' ', "+"));
    post_form(srv, "/admin/login", "", &body)
}

fn post_form(srv: &Serve, path: &str, cookie: &str, body: &str) -> Response {
    let origin = format!("http://127.0.0.1:{}", srv.port);
    let mut h = vec![("Content-Type", "application/x-www-form-urlencoded"), ("Origin", origin.as_str())];
    if !cookie.is_empty() {
        h.push(("Cookie", cookie));
    }
    srv.request("POST", path, &h, Some(body.as_bytes()))
}

fn session(r: &Response) -> String {
    let c = r.header("set-cookie").unwrap_or_else(|| panic!("no Set-Cookie: {r:?}"));
    c.split(';').next().expect("name=value").to_string()
}

fn get(srv: &Serve, path: &str, cookie: &str) -> Response {
    srv.request("GET", path, &[("Cookie", cookie)], None)
}

fn ok(o: &std::process::Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn lines_json(out: &str) -> Vec<serde_json::Value> {
    out.lines().map(|l| serde_json::from_str(l).expect("json line")).collect()
}

/// An inventory with `n` extra analytics cookies: each one more is a material change.
fn inventory_with(base: &str, n: usize) -> String {
    let mut s = base.to_string();
    for i in 0..n {
        s.push_str(&format!(
            "\n[[cookies]]\nname = \"hooktest_{i}\"\ncategory = \"analytics\"\npurpose = \"Webhook test cookie {i}\"\nduration = \"1 day\"\n"
        ));
    }
    s
}

/// SIGHUP: a reload. The handler is installed as serving starts: wait until a request was
/// served, as a SIGHUP before that would end the process.
fn hup(srv: &Serve) {
    assert_eq!(srv.request("GET", "/healthz", &[], None).status, 200);
    std::thread::sleep(Duration::from_millis(100));
    let pid = srv.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-HUP", &pid]).status().expect("kill").success());
}

fn fail_twice_then_succeed(db: Option<&str>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let inv = dir.path().join("leadsgen.toml");
    let base = std::fs::read_to_string(example("leadsgen.toml")).expect("example");
    std::fs::write(&inv, &base).expect("write");
    let rx = Receiver::start(vec![500, 503]);
    let url = format!("http://127.0.0.1:{}/hook?token=t0ps3cret", rx.port);
    let out = ok(&admin(&data, db, &["create-webhook", "leadsgen", &url, "--event", "policy.material_change"], None));
    let mut lines = out.lines();
    let (id, secret) = (lines.next().expect("id").to_string(), lines.next().expect("secret").to_string());
    assert!(id.starts_with("wh_") && secret.starts_with("whsec_"), "{out}");

    let srv = Serve::start(
        &data,
        db,
        &["--config", inv.to_str().expect("utf8"), "--webhook-backoff-ms", "400", "--webhook-poll-ms", "50"],
    );
    assert!(rx.hits().is_empty(), "the first version of a site is no event");
    std::fs::write(&inv, inventory_with(&base, 1)).expect("write");
    hup(&srv);
    let hits = rx.wait_for(3, 30);
    std::thread::sleep(Duration::from_millis(1500));
    let hits_after = rx.hits();
    assert_eq!(hits_after.len(), 3, "delivered on the third attempt, then no more: {hits_after:?}");
    for h in &hits {
        assert_signed(h, &secret);
        assert_eq!(h.header("crumb-event"), "policy.material_change");
        assert_eq!(h.header("content-type"), "application/json");
        assert_eq!(h.body, hits[0].body, "the same body on every attempt");
        assert_eq!(h.header("crumb-delivery"), hits[0].header("crumb-delivery"));
    }
    let gaps = [hits[1].at - hits[0].at, hits[2].at - hits[1].at];
    assert!(gaps[0] >= Duration::from_millis(380), "first retry after the backoff: {gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(780), "the backoff doubles: {gaps:?}");
    let body: serde_json::Value = serde_json::from_str(&hits[0].body).expect("json body");
    assert_eq!(body["type"], "policy.material_change");
    assert_eq!(body["site"], "leadsgen");
    let new_version =
        crumb_core::policy_version(&crumb_core::parse_inventory(&inventory_with(&base, 1)).expect("parses"));
    assert_eq!(body["data"]["version"], new_version.as_str());
    assert_eq!(body["data"]["previous_version"], leadsgen_version().as_str());
    assert!(body["data"]["changes"].as_array().is_some_and(|c| !c.is_empty()), "{body}");

    // The delivery log: two failures, then delivered.
    let log = lines_json(&ok(&admin(&data, db, &["deliveries", "--json"], None)));
    let got: Vec<(i64, String, Option<i64>)> = log
        .iter()
        .rev()
        .map(|d| {
            (d["attempt"].as_i64().expect("n"), d["outcome"].as_str().expect("o").to_string(), d["status"].as_i64())
        })
        .collect();
    assert_eq!(
        got,
        vec![(1, "retrying".into(), Some(500)), (2, "retrying".into(), Some(503)), (3, "delivered".into(), Some(200))]
    );
    // No secret and no URL token in the server's log.
    let logs = srv.logs().join("\n");
    assert!(logs.contains("webhook attempt"), "{logs}");
    assert!(!logs.contains(&secret) && !logs.contains("t0ps3cret"), "{logs}");

    // The dashboard shows the log to an admin.
    ok(&admin(&data, db, &["create-user", "alice", "--password-stdin"], Some(&format!("{PASSWORD}\n"))));
    let cookie = session(&login(&srv, "alice", PASSWORD));
    let page = get(&srv, "/admin/webhooks", &cookie);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&id));
    assert_eq!(page.body.matches("data-outcome=\"retrying\"").count(), 2);
    assert_eq!(page.body.matches("data-outcome=\"delivered\"").count(), 1);
    assert!(!page.body.contains(&secret), "the secret is shown only when created");
}

#[test]
fn webhook_fails_twice_then_succeeds_sqlite() {
    fail_twice_then_succeed(None);
}

#[test]
fn webhook_fails_twice_then_succeeds_postgres() {
    let pg = crumb_testkit::postgres::database();
    fail_twice_then_succeed(Some(&pg.url));
}

/// https: a receiver whose certificate a CA in `SSL_CERT_FILE` signed gets the signed
/// delivery; one whose CA is not trusted gets nothing, and its failed attempt is logged with
/// the reason.
#[test]
fn https_webhooks_trust_the_configured_roots() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, inv) = (dir.path().join("data"), dir.path().join("leadsgen.toml"));
    let base = std::fs::read_to_string(example("leadsgen.toml")).expect("example");
    std::fs::write(&inv, &base).expect("write");
    let ca = webhooks_tls::ca(dir.path(), "ca");
    webhooks_tls::ca(dir.path(), "rogue");
    let good = Receiver::start_tls(webhooks_tls::server_config(dir.path(), "ca"));
    let bad = Receiver::start_tls(webhooks_tls::server_config(dir.path(), "rogue"));
    let mut hooks = Vec::new();
    for rx in [&good, &bad] {
        let url = format!("https://127.0.0.1:{}/hook", rx.port);
        let out =
            ok(&admin(&data, None, &["create-webhook", "leadsgen", &url, "--event", "policy.material_change"], None));
        let mut lines = out.lines();
        hooks.push((lines.next().expect("id").to_string(), lines.next().expect("secret").to_string()));
    }
    let args = ["--config", inv.to_str().expect("utf8"), "--webhook-backoff-ms", "60000", "--webhook-poll-ms", "50"];
    let srv = Serve::start_env(&data, None, &args, &[("SSL_CERT_FILE", ca.to_str().expect("utf8"))]);
    std::fs::write(&inv, inventory_with(&base, 1)).expect("write");
    hup(&srv);
    let hits = good.wait_for(1, 30);
    assert_signed(&hits[0], &hooks[0].1);
    assert_eq!(hits[0].header("crumb-event"), "policy.material_change");
    // The untrusted receiver's attempt fails in the handshake: no request reaches it.
    let end = Instant::now() + Duration::from_secs(30);
    let failed = loop {
        let log = lines_json(&ok(&admin(&data, None, &["deliveries", "--json"], None)));
        if let Some(d) = log.iter().find(|d| d["webhook_id"] == hooks[1].0.as_str()) {
            break d.clone();
        }
        assert!(Instant::now() < end, "no attempt logged for the untrusted receiver: {log:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(failed["outcome"], "retrying", "{failed}");
    assert!(failed["status"].is_null(), "{failed}");
    let error = failed["error"].as_str().unwrap_or_default();
    assert!(error.contains("certificate") && error.contains("UnknownIssuer"), "the reason is logged: {failed}");
    assert!(bad.hits().is_empty(), "nothing sent to an untrusted receiver");
    let log = lines_json(&ok(&admin(&data, None, &["deliveries", "--json"], None)));
    let delivered = log.iter().find(|d| d["webhook_id"] == hooks[0].0.as_str()).expect("the trusted one's attempt");
    assert_eq!((delivered["outcome"].as_str(), delivered["status"].as_i64()), (Some("delivered"), Some(200)));
}

#[test]
fn two_servers_on_one_postgres_deliver_each_event_once() {
    let pg = crumb_testkit::postgres::database();
    let db = Some(pg.url.as_str());
    let dir = tempfile::tempdir().expect("tempdir");
    let inv = dir.path().join("leadsgen.toml");
    let base = std::fs::read_to_string(example("leadsgen.toml")).expect("example");
    std::fs::write(&inv, &base).expect("write");
    let rx = Receiver::start(Vec::new());
    let url = format!("http://127.0.0.1:{}/hook", rx.port);
    let (d1, d2) = (dir.path().join("d1"), dir.path().join("d2"));
    ok(&admin(&d1, db, &["create-webhook", "leadsgen", &url, "--event", "policy.material_change"], None));
    let args = ["--config", inv.to_str().expect("utf8"), "--webhook-poll-ms", "20"];
    let a = Serve::start(&d1, db, &args);
    let b = Serve::start(&d2, db, &args);
    const EVENTS: usize = 8;
    for n in 1..=EVENTS {
        std::fs::write(&inv, inventory_with(&base, n)).expect("write");
        // Both servers reload the same new version at once; both deliverers poll.
        hup(&a);
        hup(&b);
        rx.wait_for(n, 20);
    }
    std::thread::sleep(Duration::from_secs(2));
    let hits = rx.hits();
    let mut ids: Vec<String> = hits
        .iter()
        .map(|h| {
            serde_json::from_str::<serde_json::Value>(&h.body).expect("json")["id"].as_str().expect("id").to_string()
        })
        .collect();
    assert_eq!(hits.len(), EVENTS, "one delivery per event: {ids:?}");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), EVENTS, "eight distinct events");
    // Both servers' deliverers were polling: between them, one attempt per event.
    let attempts = |s: &Serve| s.logs().iter().filter(|l| l.contains("webhook attempt")).count();
    let (by_a, by_b) = (attempts(&a), attempts(&b));
    eprintln!("deliveries by server a: {by_a}, by server b: {by_b}");
    assert_eq!(by_a + by_b, EVENTS);
    let log = lines_json(&ok(&admin(&d1, db, &["deliveries", "--json"], None)));
    assert_eq!(log.len(), EVENTS, "one attempt each");
    assert!(log.iter().all(|d| d["outcome"] == "delivered"));
}

fn roles_and_audit(db: Option<&str>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let pw = format!("{PASSWORD}\n");
    ok(&admin(&data, db, &["create-user", "alice", "--password-stdin"], Some(&pw)));
    ok(&admin(
        &data,
        db,
        &["create-user", "vera", "--password-stdin", "--role", "viewer", "--site", "leadsgen"],
        Some(&pw),
    ));
    ok(&admin(
        &data,
        db,
        &["create-user", "mia", "--password-stdin", "--role", "admin", "--site", "mixerlead"],
        Some(&pw),
    ));
    // Bad role input: refused, nothing changed.
    assert_eq!(admin(&data, db, &["set-role", "vera", "--role", "owner"], None).status.code(), Some(2));
    assert_eq!(admin(&data, db, &["set-role", "nobody", "--role", "viewer"], None).status.code(), Some(2));
    assert_eq!(admin(&data, db, &["create-user", "zed", "--site", "leadsgen"], None).status.code(), Some(2));
    assert!(!ok(&admin(&data, db, &["list-users"], None)).contains("zed"));
    // Bad webhook input on the command line: refused, nothing stored.
    for args in [
        &["create-webhook", "leadsgen", "ftp://x/", "--event", "scan.errors"][..],
        &["create-webhook", "leadsgen", "http://127.0.0.1:9/h", "--event", "nope"],
        &["create-webhook", "Not A Site", "http://127.0.0.1:9/h", "--event", "scan.errors"],
        &["create-webhook", "leadsgen", "https://user:pw@example.com/h", "--event", "scan.errors"],
    ] {
        let o = admin(&data, db, args, None);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(ok(&admin(&data, db, &["list-webhooks"], None)), "");

    let lead = example("leadsgen.toml");
    let mixer = example("mixerlead.toml");
    let srv =
        Serve::start(&data, db, &["--config", lead.to_str().expect("utf8"), "--config", mixer.to_str().expect("utf8")]);
    assert_eq!(login(&srv, "vera", "wrong password!!").status, 401);
    let admin_c = session(&login(&srv, "alice", PASSWORD));
    let viewer = session(&login(&srv, "vera", PASSWORD));
    let mia = session(&login(&srv, "mia", PASSWORD));

    // The viewer reads her site, and nothing else.
    assert_eq!(get(&srv, "/admin", &viewer).status, 200);
    let overview = get(&srv, "/admin", &viewer).body;
    assert!(overview.contains("id=\"site-leadsgen\"") && !overview.contains("id=\"site-mixerlead\""));
    assert_eq!(get(&srv, "/admin/records?site=leadsgen", &viewer).status, 200);
    for path in [
        "/admin/records?site=mixerlead",
        "/admin/records",
        "/admin/export.csv?site=leadsgen",
        "/admin/export.csv",
        "/admin/webhooks",
        "/admin/audit",
        "/admin/users",
    ] {
        let r = get(&srv, path, &viewer);
        assert_eq!((r.status, r.error_code().as_str()), (403, "forbidden_role"), "{path}: {}", r.body);
        assert!(r.json()["error"]["message"].as_str().is_some_and(|m| m.contains("role")));
    }
    let r = post_form(&srv, "/admin/users/roles", &viewer, "name=vera&site=*&role=admin");
    assert_eq!(r.status, 403, "a viewer cannot make herself admin");
    let r = post_form(
        &srv,
        "/admin/webhooks",
        &viewer,
        "site=leadsgen&url=http%3A%2F%2F127.0.0.1%3A9%2Fh&event=scan.errors",
    );
    assert_eq!(r.status, 403);
    // A site admin: exports and webhooks of her site only; no accounts.
    assert_eq!(get(&srv, "/admin/export.csv?site=mixerlead", &mia).status, 200);
    assert_eq!(get(&srv, "/admin/export.csv?site=leadsgen", &mia).status, 403);
    assert_eq!(get(&srv, "/admin/users", &mia).status, 403);
    let r =
        post_form(&srv, "/admin/webhooks", &mia, "site=leadsgen&url=http%3A%2F%2F127.0.0.1%3A9%2Fh&event=scan.errors");
    assert_eq!(r.status, 403);
    assert_eq!(ok(&admin(&data, db, &["list-webhooks"], None)), "", "nothing stored by refused requests");

    // Bad input on the dashboard's forms: a clear JSON error, nothing stored.
    for (body, code) in [
        ("site=leadsgen&url=ftp%3A%2F%2Fx%2F&event=scan.errors", "invalid_webhook"),
        ("site=leadsgen&url=http%3A%2F%2F127.0.0.1%3A9%2Fh&event=nope", "invalid_webhook"),
        ("site=leadsgen&url=http%3A%2F%2F127.0.0.1%3A9%2Fh", "invalid_webhook"),
        ("site=nosuchsite&url=http%3A%2F%2F127.0.0.1%3A9%2Fh&event=scan.errors", "invalid_webhook"),
        ("url=http%3A%2F%2F127.0.0.1%3A9%2Fh&event=scan.errors", "invalid_webhook"),
        ("site=leadsgen&url=%zz&event=scan.errors", "bad_request"),
        ("site=leadsgen&bogus=1", "invalid_webhook"),
    ] {
        let r = post_form(&srv, "/admin/webhooks", &admin_c, body);
        assert!(r.status == 422 || r.status == 400, "{body}: {} {}", r.status, r.body);
        assert_eq!(r.error_code(), code, "{body}: {}", r.body);
    }
    for body in [
        "name=nobody&site=*&role=viewer",
        "name=vera&site=nosuchsite&role=viewer",
        "name=vera&site=leadsgen&role=owner",
        "name=alice&site=*&role=viewer",
        "name=vera",
    ] {
        let r = post_form(&srv, "/admin/users/roles", &admin_c, body);
        assert!(r.status == 422 || r.status == 400, "{body}: {} {}", r.status, r.body);
    }
    assert_eq!(ok(&admin(&data, db, &["list-webhooks"], None)), "");
    let vera_roles = get(&srv, "/admin/users", &admin_c).body;
    assert!(vera_roles.contains("viewer of leadsgen"), "roles unchanged");

    // The admin does it right: a webhook (secret shown once), an export, a role change.
    let r = post_form(
        &srv,
        "/admin/webhooks",
        &admin_c,
        "site=leadsgen&url=http%3A%2F%2F127.0.0.1%3A9%2Fh&event=scan.errors&event=consent.reject_spike",
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.body.contains("whsec_"));
    let hooks = lines_json(&ok(&admin(&data, db, &["list-webhooks", "--json"], None)));
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0]["created_by"], "alice");
    assert_eq!(get(&srv, "/admin/export.csv", &admin_c).status, 200);
    let r = post_form(&srv, "/admin/users/roles", &admin_c, "name=vera&site=mixerlead&role=viewer");
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(get(&srv, "/admin", &viewer).body.contains("id=\"site-mixerlead\""), "the new role applies at once");
    let id = hooks[0]["id"].as_str().expect("id");
    assert_eq!(post_form(&srv, &format!("/admin/webhooks/{id}/delete"), &viewer, "").status, 403);
    assert_eq!(post_form(&srv, "/admin/webhooks/wh_nope/delete", &admin_c, "").status, 404);
    assert_eq!(post_form(&srv, &format!("/admin/webhooks/{id}/delete"), &admin_c, "").status, 303);
    assert_eq!(ok(&admin(&data, db, &["list-webhooks"], None)), "");

    // Audit rows, from the dashboard and the command line.
    let audit = lines_json(&ok(&admin(&data, db, &["audit", "--json"], None)));
    let has = |actor: &str, action: &str| audit.iter().any(|r| r["actor"] == actor && r["action"] == action);
    for (actor, action) in [
        ("cli", "user_created"),
        ("vera", "sign_in_failed"),
        ("alice", "sign_in"),
        ("mia", "export"),
        ("alice", "export"),
        ("alice", "webhook_created"),
        ("alice", "role_changed"),
        ("alice", "webhook_deleted"),
    ] {
        assert!(has(actor, action), "{actor} {action} in {audit:#?}");
    }
    assert!(!has("vera", "export"), "refused exports are not exports");
    let page = get(&srv, "/admin/audit", &admin_c);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("data-action=\"sign_in_failed\""));
    // A site admin sees her site's entries only.
    let page = get(&srv, "/admin/audit", &mia).body;
    assert!(page.contains("data-action=\"export\"") && !page.contains("data-action=\"sign_in\""));
}

#[test]
fn roles_and_audit_sqlite() {
    roles_and_audit(None);
}

#[test]
fn roles_and_audit_postgres() {
    let pg = crumb_testkit::postgres::database();
    roles_and_audit(Some(&pg.url));
}

//! Unit tests of the dashboard's parsers, cookies and templates.
use crate::pages::*;
use crate::password::*;
use crate::session::*;
use crate::state::*;
use axum::http::{HeaderMap, HeaderValue, header};

use crumb_ledger::ScanRow;

#[test]
fn passwords_hash_and_verify() {
    assert!(matches!(hash_password("short"), Err(PasswordError::TooShort)));
    let h = hash_password("correct horse battery").expect("hash");
    assert!(h.starts_with("$argon2id$"), "{h}");
    assert!(verify_password("correct horse battery", &h));
    assert!(!verify_password("correct horse batterY", &h));
    assert!(!verify_password("correct horse battery", "not a hash"));
    assert_ne!(h, hash_password("correct horse battery").expect("hash"), "salted");
}

#[test]
fn generated_passwords_are_long_and_distinct() {
    let a = generate_password();
    assert_eq!(a.len(), 24);
    assert!(a.chars().all(|c| c.is_ascii_alphanumeric() && !"l1I0Oo".contains(c)));
    assert_ne!(a, generate_password());
}

#[test]
fn session_cookie_is_found_among_others() {
    let mut h = HeaderMap::new();
    h.append(header::COOKIE, HeaderValue::from_static("a=1; crumb_admin=tok; b=2"));
    assert_eq!(session_token(&h).as_deref(), Some("tok"));
    let mut h = HeaderMap::new();
    h.append(header::COOKIE, HeaderValue::from_static("crumb_admin=; x=y"));
    assert_eq!(session_token(&h), None);
}

#[test]
fn cross_origin_posts_are_refused() {
    let mut h = HeaderMap::new();
    h.insert(header::HOST, HeaderValue::from_static("consent.example.com"));
    assert!(same_origin(&h).is_ok(), "no Origin: a same-origin navigation of an old browser");
    h.insert(header::ORIGIN, HeaderValue::from_static("https://consent.example.com"));
    assert!(same_origin(&h).is_ok());
    h.insert(header::ORIGIN, HeaderValue::from_static("https://evil.example"));
    assert!(same_origin(&h).is_err());
    h.insert(header::ORIGIN, HeaderValue::from_static("null"));
    assert!(same_origin(&h).is_err());
}

#[test]
fn every_builtin_template_renders_its_empty_state() {
    let env = environment(None);
    for (name, _) in TEMPLATES {
        let ctx = minijinja::context! { user => "alice", page => "x", error => None::<String>, name => "", insecure => true,
        sites => Vec::<String>::new(), rows => Vec::<String>::new(), next => None::<String>,
        site => "", from => "", to => "", records => 0, chains => 0, checkpoints => 0,
        scans => Vec::<String>::new(), findings => Vec::<String>::new(), started_at => "", browser => "",
        charts => Vec::<String>::new(),
        period => "30d", period_label => "the last 30 days", periods => vec![("30d", "the last 30 days")],
        hooks => Vec::<String>::new(), log => Vec::<String>::new(), events => vec!["scan.errors"],
        created_id => None::<String>, secret => None::<String>, accounts => Vec::<String>::new(),
        scan => ScanRow { id: 1, site: "s".into(), target: "t".into(), recorded_at: 0, pages: 0, errors: 0,
            warnings: 0, notes: 0, report: String::new() } };
        let html = env.get_template(name).and_then(|t| t.render(ctx)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(html.contains("</html>"), "{name} is a whole page");
    }
}

#[test]
fn secure_contexts() {
    let ctx = |host: &str, proto: Option<&str>| {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).expect("host"));
        if let Some(p) = proto {
            h.insert("x-forwarded-proto", HeaderValue::from_str(p).expect("proto"));
        }
        secure_context(&h)
    };
    assert!(ctx("127.0.0.1:8080", None) && ctx("localhost", None) && ctx("[::1]:80", None));
    assert!(ctx("consent.example.com", Some("https")));
    assert!(!ctx("consent.example.com", None) && !ctx("10.0.0.5:8080", Some("http")));
}

proptest::proptest! {
    /// Whatever a visitor puts in the query string or the cookie header, parsing answers
    /// (a value or a 400), never panics.
    #[test]
    fn query_and_cookie_parsing_never_panic(site in ".{0,40}", from in ".{0,20}", to in ".{0,20}", after in ".{0,60}", cookie in ".{0,80}") {
        let f = Filter { site, from, to, after };
        let _ = f.range();
        let _ = f.cursor();
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            let mut h = HeaderMap::new();
            h.insert(header::COOKIE, v.clone());
            h.insert(header::HOST, HeaderValue::from_static("127.0.0.1"));
            h.insert(header::ORIGIN, v);
            let _ = session_token(&h);
            let _ = same_origin(&h);
            let _ = secure_context(&h);
        }
    }
}

#[test]
fn filters_parse_days_and_cursors() {
    let f = Filter {
        site: "leadsgen".into(),
        from: "2026-01-01".into(),
        to: "2026-01-01".into(),
        after: "5.7.w-1.2".into(),
    };
    let r = f.range().expect("range");
    assert_eq!(r.site.as_deref(), Some("leadsgen"));
    assert_eq!(r.to - r.from, 86_400_000, "the `to` day is included");
    assert_eq!(f.cursor().expect("cursor"), Some((5, "w-1.2".to_string(), 7)));
    assert!(Filter { from: "yesterday".into(), ..Filter::default() }.range().is_err());
    assert!(Filter { after: "x".into(), ..Filter::default() }.cursor().is_err());
}

//! The dashboard in real headless Chromium against the real `crumb serve` on 127.0.0.1:
//! sign in through the form, read the figures, hold the session cookie the way a browser
//! does (HttpOnly, Secure on a loopback origin, SameSite=Strict), sign out.

mod banner_support;
mod support;

use banner_support::{Session, eval, goto, must, screenshot, viewport};

const PASSWORD: &str = "a long enough password";

async fn click(page: &chromiumoxide::Page, selector: &str) {
    page.find_element(selector)
        .await
        .unwrap_or_else(|e| panic!("{selector}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {selector}: {e}"));
}

async fn type_into(page: &chromiumoxide::Page, selector: &str, text: &str) {
    page.find_element(selector)
        .await
        .unwrap_or_else(|e| panic!("{selector}: {e}"))
        .click()
        .await
        .expect("focus")
        .type_str(text)
        .await
        .expect("type");
}

/// Sign in, read the overview, check the session cookie, sign out. A screenshot of the
/// overview goes to `$CRUMB_SCREENSHOTS` when set (docs/screenshots is refreshed that way).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_read_sign_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let created =
        support::admin(&data, None, &["create-user", "alice", "--password-stdin"], Some(&format!("{}\n", PASSWORD)));
    assert!(created.status.success());
    let lead = support::example("leadsgen.toml");
    let srv = support::Serve::start(&data, None, &["--config", lead.to_str().expect("utf8"), "--rate-limit", "0"]);
    let v = support::leadsgen_version();
    for analytics in [true, false] {
        assert_eq!(srv.post(&support::consent(&v, analytics, None)).status, 201);
    }
    for (action, on) in [("accept_all", true), ("reject_all", false), ("accept_all", true)] {
        let body = serde_json::json!({"site": "leadsgen", "policy_version": v, "action": action,
            "choices": {"functional": on, "analytics": on, "marketing": on}});
        assert_eq!(srv.post(&body.to_string()).status, 201);
    }
    let base = format!("http://127.0.0.1:{}", srv.port);

    let s = Session::start().await;
    let page = s.page(None, "").await;
    viewport(&page, 1200, 800, false).await;
    goto(&page, &format!("{base}/admin")).await;
    must(&page, "location.pathname === '/admin/login' && !!document.querySelector('#password')").await;

    // A wrong password shows the error and sets nothing.
    type_into(&page, "#name", "alice").await;
    type_into(&page, "#password", "not the password").await;
    click(&page, "button[type=submit]").await;
    must(&page, "document.querySelector('[role=alert]')?.textContent.includes('Wrong account name or password')").await;
    assert!(page.get_cookies().await.expect("cookies").iter().all(|c| c.name != "crumb_admin"));

    // The right one lands on the overview with the ledger's figures.
    type_into(&page, "#password", PASSWORD).await;
    click(&page, "button[type=submit]").await;
    must(&page, "location.pathname === '/admin' && !!document.querySelector('#site-leadsgen')").await;
    let records: String =
        eval(&page, "document.querySelector('#site-leadsgen [data-figure=records]').textContent").await;
    assert_eq!(records, "5");
    let accept: String =
        eval(&page, "document.querySelector('#site-leadsgen [data-figure=accept_rate]').textContent").await;
    assert_eq!(accept, "40.0%");
    let styled: String = eval(&page, "getComputedStyle(document.querySelector('.top')).display").await;
    assert_eq!(styled, "flex", "the stylesheet loads under the page's CSP");

    // The browser keeps the session cookie, protected; scripts cannot read it.
    let cookies = page.get_cookies().await.expect("cookies");
    let c = cookies.iter().find(|c| c.name == "crumb_admin").expect("session cookie stored");
    assert!(c.http_only && c.secure, "{c:?}");
    assert_eq!(format!("{:?}", c.same_site), "Some(Strict)");
    assert_eq!(c.path, "/admin");
    let visible: String = eval(&page, "document.cookie").await;
    assert!(!visible.contains("crumb_admin"));

    // Records and versions are one click away.
    click(&page, "nav a[href='/admin/records']").await;
    must(
        &page,
        "location.pathname === '/admin/records' && document.querySelectorAll('table.records tbody tr').length === 5",
    )
    .await;
    click(&page, "nav a[href='/admin/versions']").await;
    must(&page, &format!("location.pathname === '/admin/versions' && document.body.textContent.includes('{v}')")).await;

    click(&page, "nav a[href='/admin']").await;
    must(&page, "location.pathname === '/admin'").await;
    if let Some(out) = std::env::var_os("CRUMB_SCREENSHOTS") {
        screenshot(&page, &std::path::PathBuf::from(out).join("dashboard.png")).await;
    }

    // Sign out: back to the form, and the old session no longer opens the dashboard.
    click(&page, "form.logout button").await;
    must(&page, "location.pathname === '/admin/login'").await;
    goto(&page, &format!("{base}/admin")).await;
    must(&page, "location.pathname === '/admin/login'").await;
}

//! The [`HookStore`](crate::HookStore) part of the conformance suite: webhooks, the outbox's
//! exactly-once claims, roles and the audit log. Backends run it with
//! [`hooks_conformance_tests!`](crate::hooks_conformance_tests).

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::{AuditRow, DeliveryRow, Storage, WebhookRow};

fn hook(id: &str, site: &str, events: &[&str]) -> WebhookRow {
    WebhookRow {
        id: id.into(),
        site: site.into(),
        url: format!("http://127.0.0.1:9/{id}"),
        events: events.iter().map(|e| e.to_string()).collect(),
        created_at: 1,
        created_by: "alice".into(),
    }
}

fn attempt(c: &crate::Claimed, at: i64, outcome: &str, status: Option<i64>) -> DeliveryRow {
    DeliveryRow {
        outbox_id: c.id,
        webhook_id: c.webhook_id.clone(),
        site: c.site.clone(),
        event: c.event.clone(),
        attempt: c.attempt,
        at,
        status,
        error: status.filter(|s| *s >= 300).map(|s| format!("HTTP {s}")),
        duration_ms: 3,
        outcome: outcome.into(),
    }
}

/// Webhooks are stored per site, events queue once per key and webhook, a claimed row is
/// leased to one owner, retried at its time, and finished once.
pub async fn webhook_outbox(s: Arc<dyn Storage>) {
    s.add_webhook(&hook("wh_a", "leadsgen", &["policy.material_change", "scan.errors"]), "sa").await.expect("add");
    s.add_webhook(&hook("wh_b", "mixerlead", &["policy.material_change"]), "sb").await.expect("add");
    assert!(s.add_webhook(&hook("wh_a", "leadsgen", &[]), "x").await.is_err(), "duplicate id refused");
    assert_eq!(s.webhooks(None).await.expect("list").len(), 2);
    assert_eq!(
        s.webhooks(Some("leadsgen")).await.expect("list"),
        vec![hook("wh_a", "leadsgen", &["policy.material_change", "scan.errors"])]
    );

    let body = r#"{"id":"k1"}"#;
    assert_eq!(s.enqueue_event(Some("leadsgen"), "policy.material_change", "k1", body, 100).await.expect("q"), 1);
    assert_eq!(s.enqueue_event(Some("leadsgen"), "policy.material_change", "k1", body, 101).await.expect("q"), 0);
    assert_eq!(s.enqueue_event(Some("leadsgen"), "ledger.verify_failed", "k2", body, 100).await.expect("q"), 0);
    // Every site: only the subscribed webhooks.
    assert_eq!(s.enqueue_event(None, "policy.material_change", "k3", body, 100).await.expect("q"), 2);

    let got = s.claim_deliveries("A", 200, 1_000, 10).await.expect("claim");
    assert_eq!(got.len(), 3);
    let first = got.iter().find(|c| c.webhook_id == "wh_a" && c.body == body).expect("wh_a row").clone();
    assert_eq!((first.attempt, first.secret.as_str(), first.site.as_str()), (1, "sa", "leadsgen"));
    assert!(s.claim_deliveries("B", 300, 1_000, 10).await.expect("claim").is_empty(), "leased rows stay with A");
    assert!(!s.finish_delivery("B", &attempt(&first, 300, "delivered", Some(200)), None).await.expect("finish"));
    assert!(s.finish_delivery("A", &attempt(&first, 300, "retrying", Some(500)), Some(5_000)).await.expect("f"));
    for c in got.iter().filter(|c| c.id != first.id) {
        assert!(s.finish_delivery("A", &attempt(c, 300, "delivered", Some(204)), None).await.expect("finish"));
    }
    assert!(s.claim_deliveries("B", 4_999, 1_000, 10).await.expect("claim").is_empty(), "not due yet");
    let again = s.claim_deliveries("B", 5_000, 1_000, 10).await.expect("claim");
    assert_eq!(again.iter().map(|c| (c.id, c.attempt)).collect::<Vec<_>>(), vec![(first.id, 2)]);
    // B's lease runs out: A takes the row over and B can no longer finish it.
    let taken = s.claim_deliveries("A", 6_001, 1_000, 10).await.expect("claim");
    assert_eq!(taken.iter().map(|c| (c.id, c.attempt)).collect::<Vec<_>>(), vec![(first.id, 3)]);
    assert!(!s.finish_delivery("B", &attempt(&again[0], 6_002, "delivered", Some(200)), None).await.expect("f"));
    assert!(s.finish_delivery("A", &attempt(&taken[0], 6_003, "delivered", Some(200)), None).await.expect("f"));
    assert!(s.claim_deliveries("A", 1_000_000, 1_000, 10).await.expect("claim").is_empty(), "delivered is final");

    let log = s.deliveries(Some("leadsgen"), 10).await.expect("log");
    assert_eq!(
        log.iter().map(|d| (d.attempt, d.outcome.as_str())).collect::<Vec<_>>(),
        vec![(3, "delivered"), (1, "delivered"), (1, "retrying")]
    );
    assert_eq!(log[2].error.as_deref(), Some("HTTP 500"));
    assert_eq!(s.deliveries(None, 100).await.expect("log").len(), 4);

    // Deleting a webhook drops its undelivered events.
    s.enqueue_event(Some("mixerlead"), "policy.material_change", "k4", body, 7_000).await.expect("q");
    assert!(s.delete_webhook("wh_b").await.expect("delete"));
    assert!(!s.delete_webhook("wh_b").await.expect("delete"));
    assert!(s.claim_deliveries("A", 1_000_000, 1_000, 10).await.expect("claim").is_empty());
}

/// Four claimers racing over 60 due rows: every row is handed out exactly once.
pub async fn concurrent_claims_are_exclusive(s: Arc<dyn Storage>) {
    s.add_webhook(&hook("wh_c", "leadsgen", &["scan.errors"]), "sc").await.expect("add");
    for i in 0..60 {
        let key = format!("k{i}");
        s.enqueue_event(Some("leadsgen"), "scan.errors", &key, "{}", 10).await.expect("q");
    }
    let mut tasks = Vec::new();
    for w in 0..4 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..30 {
                let got = s.claim_deliveries(&format!("w{w}"), 20, 60_000, 3).await.expect("claim");
                if got.is_empty() {
                    break;
                }
                ids.extend(got.iter().map(|c| c.id));
            }
            ids
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let distinct: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), 60, "each row claimed once: {all:?}");
    assert_eq!(distinct.len(), 60);
}

/// Roles replace as a set per account; the audit log keeps entries newest first.
pub async fn roles_and_audit(s: Arc<dyn Storage>) {
    let pairs = |v: &[(&str, &str)]| v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<Vec<_>>();
    s.set_roles("bob", &pairs(&[("leadsgen", "viewer"), ("mixerlead", "admin")])).await.expect("roles");
    s.set_roles("alice", &pairs(&[("*", "admin")])).await.expect("roles");
    let bob = s.roles(Some("bob")).await.expect("roles");
    assert_eq!(
        bob.iter().map(|r| (r.site.as_str(), r.role.as_str())).collect::<Vec<_>>(),
        vec![("leadsgen", "viewer"), ("mixerlead", "admin")]
    );
    s.set_roles("bob", &pairs(&[("leadsgen", "admin")])).await.expect("roles");
    assert_eq!(s.roles(Some("bob")).await.expect("roles").len(), 1);
    assert_eq!(s.roles(None).await.expect("roles").len(), 2);
    s.set_roles("bob", &[]).await.expect("roles");
    assert!(s.roles(Some("bob")).await.expect("roles").is_empty());

    for (i, action) in ["sign_in_failed", "sign_in", "export"].iter().enumerate() {
        let site = (*action == "export").then(|| "leadsgen".to_string());
        let row = AuditRow {
            id: 0,
            at: 10 + i as i64,
            actor: "alice".into(),
            action: action.to_string(),
            site,
            detail: "d".into(),
        };
        s.add_audit(&row).await.expect("audit");
    }
    let log = s.audit_log(2).await.expect("audit");
    assert_eq!(log.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(), vec!["export", "sign_in"]);
    assert_eq!(log[0].site.as_deref(), Some("leadsgen"));
    assert!(log[0].id > log[1].id);
}

/// Generate one `#[tokio::test]` per [`HookStore`](crate::HookStore) story. `$make` is an
/// async expression returning a fresh `Arc<dyn Storage>`.
#[macro_export]
macro_rules! hooks_conformance_tests {
    ($make:expr) => {
        $crate::hooks_conformance_tests!(@one $make; webhook_outbox, concurrent_claims_are_exclusive, roles_and_audit);
    };
    (@one $make:expr; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let s = $make.await;
                $crate::hooks_conformance::$name(s).await;
            }
        )*
    };
}

//! The guard as a layer of a tonic gRPC server: the standard gRPC health service behind
//! [`GuardLayer`], with an application layer that sets cookies on every response and
//! records the consent state it was handed. A real tonic client calls it over 127.0.0.1.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use crumb_core::consent::ConsentState;
use crumb_guard::{GuardLayer, Settings};
use http::header::SET_COOKIE;
use tonic::metadata::MetadataValue;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64
}

/// Names of the cookies a gRPC response's metadata sets.
fn cookies(meta: &tonic::metadata::MetadataMap) -> Vec<String> {
    let mut names: Vec<String> = meta
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split('=').next())
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn guards_a_tonic_grpc_server() {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_service_status("crumb.test", tonic_health::ServingStatus::Serving).await;
    let seen: Arc<Mutex<Vec<Option<ConsentState>>>> = Arc::default();
    let record = seen.clone();
    let layers = tower::ServiceBuilder::new()
        .layer(GuardLayer::new(guard(false, Settings::default())))
        .map_request(move |req: http::Request<tonic::body::Body>| {
            record.lock().expect("lock").push(req.extensions().get::<ConsentState>().cloned());
            req
        })
        .map_response(|mut res: http::Response<tonic::body::Body>| {
            // The application sets a strictly necessary and an analytics cookie.
            let h = res.headers_mut();
            h.append(
                SET_COOKIE,
                "next-auth.session-token=s; Path=/; HttpOnly; Secure; SameSite=Lax".parse().expect("v"),
            );
            h.append(SET_COOKIE, "_plausible=p; Path=/; Max-Age=1800".parse().expect("v"));
            res
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        tonic::transport::Server::builder().layer(layers).add_service(health).serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener),
            async {
                let _ = stopped.await;
            },
        ),
    );

    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut client = HealthClient::new(channel);

    // No decision yet (an opt-in site): the analytics cookie is removed.
    let res = client.check(HealthCheckRequest { service: "crumb.test".into() }).await.expect("check");
    assert_eq!(res.get_ref().status, ServingStatus::Serving as i32);
    assert_eq!(cookies(res.metadata()), ["next-auth.session-token"]);

    // Analytics granted in the consent cookie: both cookies go through.
    let mut req = tonic::Request::new(HealthCheckRequest { service: "crumb.test".into() });
    let cookie = format!("cookie-consent=1.0193a2b4-7c1d-7e55-9a0b-3c2d1e0f9a8b.3f2a9c1b7e4d5a6b.analytics.{}", now());
    req.metadata_mut().insert("cookie", MetadataValue::try_from(cookie.as_str()).expect("metadata"));
    let res = client.check(req).await.expect("check");
    assert_eq!(cookies(res.metadata()), ["_plausible", "next-auth.session-token"]);

    // The service behind the guard was handed the consent state of each call.
    let states = seen.lock().expect("lock").clone();
    assert_eq!(states.len(), 2, "{states:?}");
    let first = states[0].as_ref().expect("consent state on the first call");
    assert!(first.allows("necessary") && !first.allows("analytics"), "{first:?}");
    let second = states[1].as_ref().expect("consent state on the second call");
    assert!(second.allows("analytics"), "{second:?}");

    let _ = stop.send(());
    server.await.expect("server task").expect("server stops cleanly");
}

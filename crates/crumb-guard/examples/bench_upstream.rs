//! The upstream site `bench/proxy/run.sh` puts behind every proxy: an HTML page of about
//! 2 KB that sets three cookies (necessary, analytics, undeclared).
//!
//! ```text
//! cargo run --release -p crumb-guard --example bench_upstream -- 127.0.0.1:18080 [PAGE.html]
//! ```
//!
//! With a second argument it answers that file instead (`bench/rewrite/run.sh`: a 40 KB
//! page with tracker tags).

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;

fn page() -> Bytes {
    let mut html = String::from("<!doctype html><html><head><meta charset=\"utf-8\"><title>Bench</title></head><body>");
    while html.len() < 2000 {
        html.push_str("<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>");
    }
    html.push_str("</body></html>");
    Bytes::from(html)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18080".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let body = match std::env::args().nth(2) {
        Some(path) => Bytes::from(std::fs::read(&path)?),
        None => page(),
    };
    println!("bench upstream on http://{addr}");
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let body = body.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |_req| {
                let body = body.clone();
                async move {
                    let res = http::Response::builder()
                        .header("content-type", "text/html; charset=utf-8")
                        .header("set-cookie", "next-auth.session-token=s3ss10n; Path=/; HttpOnly; Secure; SameSite=Lax")
                        .header("set-cookie", "_plausible=pv; Path=/; Max-Age=1800")
                        .header("set-cookie", "ab_test=b; Path=/; Max-Age=86400")
                        .body(Full::new(body))
                        .expect("static response");
                    Ok::<_, Infallible>(res)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}

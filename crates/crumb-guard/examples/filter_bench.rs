//! Micro-benchmark of the guard's hot path: the consent decision per request and the
//! `Set-Cookie` filter per response, with time and heap allocations per call.
//! Run by `bench/proxy/run.sh` (release build):
//!
//! ```text
//! cargo run --release -p crumb-guard --example filter_bench
//! ```

use std::hint::black_box;
use std::time::Instant;

use crumb_guard::{Guard, Settings, Undeclared};
use http::{HeaderMap, HeaderValue};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const NOW: i64 = 1_800_000_000;

fn response(set_cookies: &[&str]) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("text/html"));
    for c in set_cookies {
        h.append("set-cookie", HeaderValue::from_str(c).expect("valid"));
    }
    h
}

fn request(cookie: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("accept", HeaderValue::from_static("text/html"));
    if let Some(c) = cookie {
        h.insert("cookie", HeaderValue::from_str(c).expect("valid"));
    }
    h
}

struct Case {
    name: &'static str,
    cookie: Option<String>,
    set_cookies: &'static [&'static str],
}

fn main() {
    let inv = crumb_core::parse_inventory(crumb_core::testdata::LEADSGEN).expect("valid example");
    let guard = Guard::new(inv, Settings { undeclared: Undeclared::Report, ..Settings::default() }).expect("guard");
    let accepted =
        format!("_ga=GA1.1; cookie-consent=1.-.3f2a9c1b7e4d5a6b.functional~analytics~marketing.{}", NOW - 60);
    let rejected = format!("cookie-consent=1.-.3f2a9c1b7e4d5a6b.-.{}", NOW - 60);
    let cases = [
        Case { name: "no Set-Cookie", cookie: Some(accepted.clone()), set_cookies: &[] },
        Case {
            name: "3 kept unchanged (accepted)",
            cookie: Some(accepted.clone()),
            set_cookies: &[
                "next-auth.session-token=s; Path=/; HttpOnly; Secure; SameSite=Lax",
                "_plausible=pv; Path=/",
                "theme=dark; Path=/; Max-Age=86400",
            ],
        },
        Case {
            name: "3, 2 removed (rejected)",
            cookie: Some(rejected),
            set_cookies: &[
                "next-auth.session-token=s; Path=/; HttpOnly; Secure; SameSite=Lax",
                "_plausible=pv; Path=/",
                "_fbp=fb.1; Path=/; Max-Age=7776000",
            ],
        },
        Case {
            name: "3, 1 rewritten, 1 undeclared (no decision)",
            cookie: None,
            set_cookies: &["next-auth.session-token=s; Path=/", "_plausible=pv; Path=/", "ab_test=b; Path=/"],
        },
    ];
    const N: u32 = 200_000;
    println!(
        "| case | decide ns/request | filter ns/response | allocations/request (decide) | allocations/response (filter) |"
    );
    println!("|---|---:|---:|---:|---:|");
    for case in &cases {
        let req = request(case.cookie.as_deref());
        let res = response(case.set_cookies);
        // Time, without the profiler.
        let t = Instant::now();
        for _ in 0..N {
            black_box(guard.consent_at(black_box(&req), NOW));
        }
        let decide_ns = t.elapsed().as_nanos() as f64 / f64::from(N);
        let state = guard.consent_at(&req, NOW);
        let allowed = guard.allowed(&state);
        let mut copies: Vec<HeaderMap> = (0..N).map(|_| res.clone()).collect();
        let t = Instant::now();
        for h in copies.iter_mut() {
            black_box(guard.filter_at(black_box(h), allowed, "/", NOW));
        }
        let filter_ns = t.elapsed().as_nanos() as f64 / f64::from(N);
        drop(copies);
        // Allocations, with the profiler.
        let m = 1000u64;
        let profiler = dhat::Profiler::builder().testing().build();
        let before = dhat::HeapStats::get().total_blocks;
        for _ in 0..m {
            black_box(guard.consent_at(black_box(&req), NOW));
        }
        let decide_allocs = (dhat::HeapStats::get().total_blocks - before) as f64 / m as f64;
        let mut copies: Vec<HeaderMap> = (0..m).map(|_| res.clone()).collect();
        let before = dhat::HeapStats::get().total_blocks;
        for h in copies.iter_mut() {
            black_box(guard.filter_at(black_box(h), allowed, "/", NOW));
        }
        let filter_allocs = (dhat::HeapStats::get().total_blocks - before) as f64 / m as f64;
        drop(copies);
        drop(profiler);
        println!("| {} | {decide_ns:.0} | {filter_ns:.0} | {decide_allocs:.1} | {filter_allocs:.1} |", case.name);
    }
}

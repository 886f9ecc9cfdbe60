//! Micro-benchmark of the HTML pass: time per page (and MB/s) for a visitor without a
//! choice (everything held back), one who granted everything (banner tag only), and one who
//! granted everything with no banner configured (no pass at all), on a 40 KB page carrying
//! analytics and marketing tags, fed in 8 KiB chunks as a proxy receives it.
//!
//! ```text
//! cargo run --release -p crumb-guard --example rewrite_bench [PAGE.html INVENTORY.toml [ITERATIONS [CASE]]]
//! ```
//!
//! With a page and an inventory it measures those instead (`bench/rewrite/page.html` with
//! `bench/adoption/crumb.toml`: the page `bench/rewrite/run.sh` puts behind the proxy);
//! `CASE` (0, 1 or 2) runs only that case (for `perf record`).

use std::hint::black_box;
use std::time::Instant;

use bytes::Bytes;
use crumb_guard::html::HtmlPass;
use crumb_guard::{BannerTag, Guard, Plan, Rewriter, Settings};
use http::{HeaderMap, HeaderValue};

fn page() -> String {
    let mut p = String::from(
        "<!doctype html><html><head><title>Shop</title><link rel=\"stylesheet\" href=\"/s.css\">\
         <script defer data-domain=\"shop\" src=\"https://plausible.io/js/script.js\"></script>\
         <script async src=\"https://www.googletagmanager.com/gtag/js?id=AW-1\"></script>\
         <script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}</script>\
         </head><body>",
    );
    while p.len() < 40_000 {
        p.push_str(
            "<article class=\"item\"><h2>Product</h2><p>Some text about the product, with a <a href=\"/p/1\">link</a> \
             and more words to make a realistic paragraph of a shop page.</p><img src=\"/img/p1.jpg\" alt=\"\"></article>\n",
        );
    }
    p.push_str("<img src=\"https://www.facebook.com/tr?id=1&ev=PageView\" alt=\"\"><script src=\"/app.js\"></script></body></html>");
    p
}

/// This thread's CPU time so far (Linux: `/proc/thread-self/schedstat`), which, unlike the
/// wall clock, does not count the time other jobs on a shared machine take.
fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat").ok()?.split_whitespace().next()?.parse().ok()
}

fn plan(r: &Rewriter, cookie: Option<&str>) -> Plan {
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("shop.example"));
    if let Some(c) = cookie {
        h.insert("cookie", HeaderValue::from_str(c).expect("valid"));
    }
    r.plan_for_request(&h, None, None)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (doc, inv) = match args.as_slice() {
        [page, inv, ..] => {
            (std::fs::read(page).expect("page readable"), std::fs::read_to_string(inv).expect("inventory readable"))
        }
        _ => (page().into_bytes(), crumb_core::testdata::LEADSGEN.to_string()),
    };
    let iters: u32 = args.get(2).map_or(2000, |n| n.parse().expect("ITERATIONS is a number"));
    let inv = crumb_core::parse_inventory(&inv).expect("inventory parses");
    let cats: Vec<String> = inv.categories.iter().filter(|c| !c.required).map(|c| c.id.to_string()).collect();
    let guard = Guard::new(inv, Settings::default()).expect("guard");
    let with_banner = Rewriter::new(&guard, Some(BannerTag::script("/s/site/banner.js")));
    let no_banner = Rewriter::new(&guard, None);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let all = format!("{}=1.-.v.{}.{now}", guard.inventory().banner.cookie_name, cats.join("~"));
    let doc = Bytes::from(doc);
    let chunks: Vec<Bytes> = doc.chunks(8192).map(Bytes::copy_from_slice).collect();
    let cases: [(&str, &Rewriter, Option<&str>); 3] = [
        ("no choice: everything held", &with_banner, None),
        ("granted everything: banner tag only", &with_banner, Some(all.as_str())),
        ("granted everything, no banner: no pass", &no_banner, Some(all.as_str())),
    ];
    println!("page: {} bytes in {} chunks", doc.len(), chunks.len());
    let only: Option<usize> = args.get(3).map(|n| n.parse().expect("CASE is a number"));
    for (i, (name, r, cookie)) in cases.into_iter().enumerate() {
        if only.is_some_and(|o| o != i) {
            continue;
        }
        let start = Instant::now();
        let cpu0 = cpu_ns();
        let mut out_len = 0;
        for _ in 0..iters {
            let p = plan(r, cookie);
            if !p.needs_pass() {
                out_len = black_box(chunks.iter().map(Bytes::len).sum::<usize>());
                continue;
            }
            let mut pass = HtmlPass::new(p, None, None);
            let mut out = Vec::with_capacity(doc.len() + 512);
            for c in &chunks {
                pass.push(c, &mut out).expect("push");
            }
            pass.finish(&mut out).expect("finish");
            out_len = black_box(out.len());
        }
        let per = start.elapsed().as_secs_f64() / iters as f64;
        let cpu = match (cpu0, cpu_ns()) {
            (Some(a), Some(b)) => format!("{:>8.1} µs CPU/page", (b - a) as f64 / 1e3 / iters as f64),
            _ => String::new(),
        };
        println!(
            "{name:<42} {:>8.1} µs/page {:>8.0} MB/s {cpu} ({out_len} bytes out)",
            per * 1e6,
            doc.len() as f64 / per / 1e6
        );
    }
}

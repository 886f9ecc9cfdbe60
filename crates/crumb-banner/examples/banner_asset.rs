//! Write a site's served banner assets, for `bench/banner-size`.
//!
//! ```text
//! cargo run -p crumb-banner --example banner_asset -- examples/leadsgen.toml opt_in OUT_DIR
//! ```
//! writes `OUT_DIR/banner.js` (the first request) and `OUT_DIR/banner-more.js` (on demand).

use std::process::ExitCode;

use crumb_banner::{ClientContext, SiteBanner};
use crumb_core::inventory::RegionalMode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, mode, out] = args.as_slice() else {
        eprintln!("usage: banner_asset INVENTORY.toml opt_in|opt_out OUT_DIR");
        return ExitCode::from(2);
    };
    let mode = if mode == "opt_out" { RegionalMode::OptOut } else { RegionalMode::OptIn };
    let src = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let inv = match crumb_core::parse_inventory(&src) {
        Ok(inv) => inv,
        Err(d) => {
            eprintln!("{path} has errors (run `crumb check {path}`): {d:?}");
            return ExitCode::from(2);
        }
    };
    // as `crumb serve` builds it: relative URLs, resolved by the script against its own src
    let version = crumb_core::policy_version(&inv);
    let ctx = ClientContext { base_url: String::new(), version, valid_versions: Vec::new(), mode, region: None };
    let banner = match SiteBanner::for_site(&inv, &ctx) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let out = std::path::Path::new(out);
    let written = std::fs::create_dir_all(out)
        .and_then(|()| std::fs::write(out.join("banner.js"), &banner.banner.js))
        .and_then(|()| std::fs::write(out.join("banner-more.js"), &banner.more.js));
    if let Err(e) = written {
        eprintln!("cannot write to {}: {e}", out.display());
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}

//! # crumb-banner
//!
//! The consent banner the server serves at `GET /s/{site}/banner.js`.
//!
//! The JavaScript and CSS sources live in `src/js/`; `build.sh` minifies them with esbuild into
//! `dist/banner.min.js` (first stage) and `dist/more.min.js` (second stage: preferences dialog
//! and deletion), which are committed and embedded here with `include_str!`, so `cargo build`
//! never needs Node. `build.sh --check` is the CI drift check.
//!
//! Serving is cheap: [`SiteBanner::build`] does all the work once per site and consent mode
//! (inline the configuration and the strings of the site's languages, minify nothing at run
//! time, gzip -9 and brotli 11 both stages, hash them for the strong `ETag` and the SRI
//! `integrity`). A request only picks precomputed bytes.
//!
//! Per-visitor variation: the only per-visitor fields of [`ClientConfig`] are `mode` and
//! `region`. The server builds one [`SiteBanner`] per mode the site can use (one for a fixed
//! `opt_in`/`opt_out` site, two for `by_country`) with `region: None`, and picks by the mode
//! [`crumb_core::consent::mode_for`] resolves from the country header. For Google Consent
//! Mode the script sets a global default (everything denied) and, for a `by_country` site, a
//! second default scoped with `region` to the opt-out countries (granted there, as opt-out
//! allows until refused); both are the same for every visitor, so the asset stays shared.

use std::collections::BTreeMap;
use std::io::Write as _;

use base64::Engine as _;
use bytes::Bytes;
use crumb_core::inventory::{Inventory, RegionalMode};
use serde::Serialize;
use sha2::{Digest as _, Sha256, Sha384};

pub mod config;
pub mod text;

pub use config::{ClientConfig, ClientContext, client_config};

/// The committed, minified first stage (`build.sh` writes it).
pub const BANNER_TEMPLATE: &str = include_str!("../dist/banner.min.js");
/// The committed, minified second stage.
pub const MORE_TEMPLATE: &str = include_str!("../dist/more.min.js");

const CONFIG_MARK: &str = "__CRUMB_CONFIG__";
const TEXT_MARK: &str = "__CRUMB_TEXT__";
const MORE_MARK: &str = "__CRUMB_MORE__";

/// Why a banner could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The configuration could not be serialised.
    #[error("could not serialise the banner configuration: {0}")]
    Json(#[from] serde_json::Error),
    /// The embedded template lacks a placeholder (a broken `dist/` build).
    #[error("the embedded banner template has no {0} placeholder: rebuild it with crates/crumb-banner/build.sh")]
    Template(&'static str),
    /// Compression failed.
    #[error("could not compress the banner: {0}")]
    Io(#[from] std::io::Error),
}

/// One precompressed, hashed script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// The script (UTF-8 JavaScript).
    pub js: Bytes,
    /// `gzip -9` of `js`.
    pub gzip: Bytes,
    /// Brotli (quality 11) of `js`.
    pub brotli: Bytes,
    /// Strong ETag, quoted: `"` + 32 hex digits of SHA-256 + `"`.
    pub etag: String,
    /// Subresource Integrity value: `sha384-` + base64.
    pub integrity: String,
}

impl Asset {
    /// Compress and hash a script.
    pub fn new(js: String) -> Result<Asset, BuildError> {
        let js = Bytes::from(js);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&js)?;
        let gzip = Bytes::from(gz.finish()?);
        let mut br = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut br, 4096, 11, 22);
            w.write_all(&js)?;
        }
        let etag = format!("\"{}\"", &hex_lower(&Sha256::digest(&js))[..32]);
        let integrity = format!("sha384-{}", base64::engine::general_purpose::STANDARD.encode(Sha384::digest(&js)));
        Ok(Asset { js, gzip, brotli: Bytes::from(br), etag, integrity })
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Both stages of one site's banner for one consent mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteBanner {
    /// The mode this banner was built for.
    pub mode: RegionalMode,
    /// `GET /s/{site}/banner.js`: first layer, gating, cookie, Consent Mode, JS API.
    pub banner: Asset,
    /// `GET /s/{site}/banner-more.js`: preferences dialog and deletion, loaded on demand.
    pub more: Asset,
}

/// The first stage's configuration object: [`ClientConfig`] (which skips what only the second
/// stage needs) plus where the second stage is and its SRI hash.
#[derive(Serialize)]
struct FirstStage<'a> {
    #[serde(flatten)]
    cfg: &'a ClientConfig,
    more: String,
    more_sri: &'a str,
}

/// The URL of the second stage, next to `declaration.json`.
pub fn more_url(cfg: &ClientConfig) -> String {
    match cfg.declaration.strip_suffix("declaration.json") {
        Some(dir) => format!("{dir}banner-more.js"),
        None => {
            let base = cfg.api.trim_end_matches("/api/v1/consents");
            format!("{base}/s/{}/banner-more.js", cfg.site)
        }
    }
}

/// JSON as a JavaScript literal that is also safe inside HTML.
fn js_literal<T: Serialize>(v: &T) -> Result<String, BuildError> {
    Ok(serde_json::to_string(v)?.replace('<', "\\u003c"))
}

fn replace_once(template: &str, mark: &'static str, with: &str) -> Result<String, BuildError> {
    if !template.contains(mark) {
        return Err(BuildError::Template(mark));
    }
    Ok(template.replacen(mark, with, 1))
}

impl SiteBanner {
    /// Build both stages for `cfg` (its `mode` decides which strings are inlined; its
    /// `region` should be `None` for a shared, cacheable asset).
    pub fn build(cfg: &ClientConfig) -> Result<SiteBanner, BuildError> {
        let opt_out = cfg.mode == RegionalMode::OptOut;
        let mut core_text = BTreeMap::new();
        let mut more_text = BTreeMap::new();
        for lang in &cfg.languages {
            let (c, p) = text::for_language(lang);
            let site = |s: &str| s.replace("{site}", &cfg.site_name);
            let mut m: BTreeMap<&str, String> = BTreeMap::new();
            m.insert("title", site(c.title));
            m.insert("text", (if opt_out { c.text_opt_out } else { c.text_opt_in }).to_string());
            m.insert("policy", c.policy.into());
            m.insert("accept", c.accept.into());
            if opt_out {
                m.insert("dns", c.dns.into());
            } else {
                m.insert("reject", c.reject.into());
            }
            m.insert("prefs", c.prefs.into());
            m.insert("fab", c.fab.into());
            m.insert("signal", (if opt_out { c.signal_opt_out } else { c.signal_opt_in }).into());
            m.insert("blocked", c.blocked.into());
            m.insert("allow", c.allow.into());
            core_text.insert(lang.clone(), m);
            let pm: BTreeMap<&str, &str> = [
                ("ptitle", p.ptitle),
                ("ptext", p.ptext),
                ("save", p.save),
                ("close", p.close),
                ("always", p.always),
                ("used", p.used),
                ("details", p.details),
                ("error", p.error),
            ]
            .into();
            more_text.insert(lang.clone(), pm);
        }

        let more_data = serde_json::json!({
            "categories": cfg.categories.iter().map(|c| (&c.id, &c.details)).collect::<BTreeMap<_, _>>(),
            "text": more_text,
        });
        let more = Asset::new(replace_once(MORE_TEMPLATE, MORE_MARK, &js_literal(&more_data)?)?)?;
        let core = FirstStage { cfg, more: more_url(cfg), more_sri: &more.integrity };
        let js = replace_once(BANNER_TEMPLATE, CONFIG_MARK, &js_literal(&core)?)?;
        let js = replace_once(&js, TEXT_MARK, &js_literal(&core_text)?)?;
        Ok(SiteBanner { mode: cfg.mode, banner: Asset::new(js)?, more })
    }

    /// Build both stages of `inv`'s banner for the context the server knows (its base URL,
    /// the site's policy version and covered versions, the mode).
    pub fn for_site(inv: &Inventory, ctx: &ClientContext) -> Result<SiteBanner, BuildError> {
        SiteBanner::build(&client_config(inv, ctx))
    }
}

/// The tag a site pastes: `<script async src=... integrity=... crossorigin=anonymous>`.
///
/// With `pinned`, the tag carries the banner's SRI hash and a `?v=` of its ETag: the browser
/// then runs exactly these bytes, so the tag must be printed again after each policy change
/// (and a `by_country` site, whose bytes differ per mode, cannot be pinned). Without it, the
/// tag always loads the current banner.
pub fn snippet(base_url: &str, site: &str, pinned: Option<&Asset>) -> String {
    let base = base_url.trim_end_matches('/');
    match pinned {
        Some(a) => format!(
            "<script async src=\"{base}/s/{site}/banner.js?v={}\" integrity=\"{}\" crossorigin=\"anonymous\"></script>",
            a.etag.trim_matches('"'),
            a.integrity
        ),
        None => format!("<script async src=\"{base}/s/{site}/banner.js\" crossorigin=\"anonymous\"></script>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crumb_core::testdata::{LEADSGEN, MIXERLEAD};

    use crumb_core::inventory::Inventory;

    fn inventory(src: &str) -> Inventory {
        toml::from_str(src).expect("example parses")
    }

    fn ctx(mode: RegionalMode) -> ClientContext {
        ClientContext {
            base_url: "https://consent.leadsgen.app".into(),
            version: "0123456789abcdef".into(),
            valid_versions: Vec::new(),
            mode,
            region: None,
        }
    }

    fn gzip9(b: &[u8]) -> usize {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(b).expect("gzip");
        gz.finish().expect("gzip").len()
    }

    #[test]
    fn by_country_sites_carry_their_opt_out_regions() {
        let src = LEADSGEN.replace(
            "regional_mode = \"opt_in\"",
            "regional_mode = \"by_country\"\ncountry_header = \"CF-IPCountry\"\nopt_out_countries = [\"US-CA\"]",
        );
        let b = SiteBanner::build(&client_config(&inventory(&src), &ctx(RegionalMode::OptIn))).expect("builds");
        assert!(std::str::from_utf8(&b.banner.js).expect("utf-8").contains("\"opt_out_regions\":[\"US-CA\"]"));
        let plain = SiteBanner::build(&client_config(&inventory(LEADSGEN), &ctx(RegionalMode::OptIn))).expect("builds");
        assert!(std::str::from_utf8(&plain.banner.js).expect("utf-8").contains("\"opt_out_regions\":[]"));
    }

    /// PRODUCT.md section 7: leadsgen's first request, gzip -9, at most 5,120 bytes.
    #[test]
    fn leadsgen_banner_fits_the_size_budget() {
        let inv = inventory(LEADSGEN);
        for mode in [RegionalMode::OptIn, RegionalMode::OptOut] {
            let b = SiteBanner::build(&client_config(&inv, &ctx(mode))).expect("builds");
            let size = gzip9(&b.banner.js);
            eprintln!("{mode:?}: {} bytes, {size} gzip -9, {} brotli", b.banner.js.len(), b.banner.brotli.len());
            assert!(size <= 5120, "leadsgen banner.js is {size} bytes gzip -9, over the 5,120 budget");
            assert_eq!(b.banner.gzip.len(), size, "served gzip is level 9");
        }
    }

    /// The first request does not grow with the number of declared cookies.
    #[test]
    fn size_does_not_grow_with_declared_cookies() {
        let base = SiteBanner::build(&client_config(&inventory(LEADSGEN), &ctx(RegionalMode::OptIn))).expect("builds");
        let mut src = LEADSGEN.to_string();
        for i in 0..300 {
            src.push_str(&format!(
                "\n[[cookies]]\nname = \"_extra_{i}\"\ncategory = \"marketing\"\npurpose = \"Extra tracker {i}\"\nduration = \"30 days\"\n"
            ));
        }
        let big = SiteBanner::build(&client_config(&inventory(&src), &ctx(RegionalMode::OptIn))).expect("builds");
        // only the version hash and SRI of the second stage change
        assert!(
            big.banner.js.len().abs_diff(base.banner.js.len()) <= 4,
            "{} vs {}",
            big.banner.js.len(),
            base.banner.js.len()
        );
        let decl = crumb_policy::declaration(&inventory(&src));
        assert!(decl["categories"][3]["items"].as_array().expect("items").len() > 300);
    }

    #[test]
    fn inlines_config_strings_and_second_stage_hash() {
        let inv = inventory(LEADSGEN);
        let b = SiteBanner::build(&client_config(&inv, &ctx(RegionalMode::OptIn))).expect("builds");
        let js = std::str::from_utf8(&b.banner.js).expect("utf-8");
        assert!(!js.contains("__CRUMB_"), "placeholders replaced");
        assert!(js.contains("\"cookie-consent\"") && js.contains("Reject all") && js.contains("Cookies on LeadsGen"));
        assert!(!js.contains("Do Not Sell"), "opt-in banner carries no opt-out wording");
        assert!(js.contains(&b.more.integrity), "first stage pins the second stage");
        assert!(js.contains("https://consent.leadsgen.app/s/leadsgen/banner-more.js"));
        assert!(!js.contains("Stripe, Inc."), "providers only in the second stage");
        let more = std::str::from_utf8(&b.more.js).expect("utf-8");
        assert!(more.contains("Stripe, Inc.") && more.contains("Cookie details") && !more.contains("__CRUMB_"));
        let out = SiteBanner::build(&client_config(&inv, &ctx(RegionalMode::OptOut))).expect("builds");
        let js = std::str::from_utf8(&out.banner.js).expect("utf-8");
        assert!(js.contains("Do Not Sell or Share My Personal Information") && !js.contains("Reject all"));
        assert_ne!(out.banner.etag, b.banner.etag);
    }

    #[test]
    fn only_declared_languages_are_inlined() {
        let inv = inventory(MIXERLEAD);
        let cfg = client_config(&inv, &ctx(RegionalMode::OptIn));
        let b = SiteBanner::build(&cfg).expect("builds");
        let js = std::str::from_utf8(&b.banner.js).expect("utf-8");
        for lang in crate::text::LANGUAGES {
            let declared = cfg.languages.iter().any(|l| text::for_language(l).0.lang == lang.0.lang);
            assert_eq!(js.contains(lang.0.accept), declared, "{} strings inlined iff declared", lang.0.lang);
        }
    }

    #[test]
    fn hashes_and_compression_round_trip() {
        let a = Asset::new("console.log(1)".into()).expect("asset");
        let mut out = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&a.gzip[..]), &mut out).expect("gunzip");
        assert_eq!(out, "console.log(1)");
        let mut out = Vec::new();
        brotli::BrotliDecompress(&mut &a.brotli[..], &mut out).expect("unbrotli");
        assert_eq!(out, b"console.log(1)");
        assert!(a.etag.starts_with('"') && a.etag.ends_with('"') && a.etag.len() == 34);
        // `printf console.log(1) | openssl dgst -sha384 -binary | base64`
        assert_eq!(a.integrity, "sha384-vuz+yO71bcb30P4dMUNzy6/D2y+6d/n0KcOnt5clJtTBxEDoKAqGay0stFlC8Dpr");
    }

    #[test]
    fn snippet_pins_or_follows() {
        let a = Asset::new("x".into()).expect("asset");
        let s = snippet("https://c.example/", "shop", Some(&a));
        assert!(s.starts_with("<script async src=\"https://c.example/s/shop/banner.js?v="));
        assert!(s.contains(&format!("integrity=\"{}\"", a.integrity)) && s.contains("crossorigin=\"anonymous\""));
        assert!(!snippet("https://c.example", "shop", None).contains("integrity"));
    }

    /// The deletion fields the banner reads from crumb-policy's declaration.json.
    #[test]
    fn declaration_carries_what_the_banner_deletes() {
        let mut src = LEADSGEN.to_string();
        src.push_str("\n[[cookies]]\nname = \"_ga_*\"\ncategory = \"analytics\"\npurpose = \"GA4\"\nduration = \"1 year\"\ndomain = \".leadsgen.app\"\npath = \"/app\"\n");
        let d = crumb_policy::declaration(&inventory(&src));
        let analytics =
            d["categories"].as_array().expect("categories").iter().find(|c| c["id"] == "analytics").expect("analytics");
        let ga = analytics["items"].as_array().expect("items").iter().find(|i| i["name"] == "_ga_*").expect("_ga_*");
        assert_eq!((ga["match"].as_str(), ga["pattern"].as_str()), (Some("prefix"), Some("_ga_")));
        assert_eq!(
            (ga["domain"].as_str(), ga["path"].as_str(), ga["storage"].as_str()),
            (Some(".leadsgen.app"), Some("/app"), Some("cookie"))
        );
        assert_eq!(ga["duration"]["en"], "1 year");
    }
}

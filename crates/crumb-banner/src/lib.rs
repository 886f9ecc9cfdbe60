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
pub mod first_layer;
pub mod intercept;
pub mod server_layer;
pub mod text;

pub use config::{ClientConfig, ClientContext, client_config};
pub use first_layer::{bar_html, first_layer_html, pick_language};
pub use server_layer::FirstLayerSource;

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

/// JSON as a JavaScript literal that is also safe inside HTML: no `</` or `<!` (`<\/`, `<\u0021`).
fn js_literal<T: Serialize>(v: &T) -> Result<String, BuildError> {
    Ok(serde_json::to_string(v)?.replace("</", "<\\/").replace("<!", "<\\u0021"))
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
        let core_text: BTreeMap<&str, _> =
            cfg.languages.iter().map(|l| (l.as_str(), first_layer::core_text(cfg, l))).collect();
        let more_text: BTreeMap<&str, _> =
            cfg.languages.iter().map(|l| (l.as_str(), first_layer::more_text(cfg, l))).collect();
        let more_data = serde_json::json!({
            "declaration": cfg.declaration,
            "categories": cfg.categories.iter().map(|c| (&c.id, serde_json::json!({
                "title": c.title,
                "description": c.details.description,
                "services": c.details.services,
            }))).collect::<BTreeMap<_, _>>(),
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

/// The tag a site pastes first in its `<head>`: `<script src=... integrity=... crossorigin=anonymous>`.
///
/// It is a classic, synchronous tag (no `async`, no `defer`): the interceptor in the banner
/// must run before any other script of the page, or it cannot hold back what those scripts
/// insert (docs/banner.md, "Run-time interceptor").
///
/// With `pinned`, the tag carries the banner's SRI hash and a `?v=` of its ETag: the browser
/// then runs exactly these bytes, so the tag must be printed again after each policy change
/// (and a `by_country` site, whose bytes differ per mode, cannot be pinned). Without it, the
/// tag always loads the current banner.
pub fn snippet(base_url: &str, site: &str, pinned: Option<&Asset>) -> String {
    let base = base_url.trim_end_matches('/');
    match pinned {
        Some(a) => format!(
            "<script src=\"{base}/s/{site}/banner.js?v={}\" integrity=\"{}\" crossorigin=\"anonymous\"></script>",
            a.etag.trim_matches('"'),
            a.integrity
        ),
        None => format!("<script src=\"{base}/s/{site}/banner.js\" crossorigin=\"anonymous\"></script>"),
    }
}

/// The tag the guard inserts as the first child of `<head>`: `<script src="SRC" nonce="N">`,
/// synchronous like [`snippet`]'s, with the page's CSP nonce when it has one.
pub fn head_tag(src: &str, nonce: Option<&str>) -> String {
    let attr = |s: &str| s.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;");
    let nonce = nonce.map(|n| format!(" nonce=\"{}\"", attr(n))).unwrap_or_default();
    format!("<script src=\"{}\"{nonce}></script>", attr(src))
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

    /// The first layer the guard puts in the HTML is the markup banner.js inserts.
    #[test]
    fn server_markup_is_the_markup_the_script_inserts() {
        let c = client_config(&inventory(LEADSGEN), &ctx(RegionalMode::OptIn));
        let b = SiteBanner::build(&c).expect("builds");
        let js = std::str::from_utf8(&b.banner.js).expect("utf-8");
        // the `bar` string inlined into banner.js, read back as JSON
        let at = js.find("{\"en\":{\"bar\":").expect("texts inlined") + 6;
        let text: serde_json::Value =
            serde_json::Deserializer::from_str(&js[at..]).into_iter().next().expect("json").expect("valid json");
        let bar = bar_html(&c, "en");
        assert_eq!(text["bar"], bar.as_str());
        assert_eq!(text["dir"], "ltr");
        let html = first_layer_html(&c, Some("en-GB,en;q=0.9"), Some("r4nd\"om"));
        assert_eq!(
            html,
            format!(
                "<style nonce=\"r4nd&quot;om\">{}</style><div id=crumb lang=\"en\" dir=ltr>{bar}</div>",
                first_layer::BANNER_CSS
            )
        );
        assert!(!html.contains("<script"), "no script in the first layer");
        for s in ["Cookies on LeadsGen", ">Accept all</button>", ">Reject all</button>", ">Preferences</button>"] {
            assert!(bar.contains(s), "{s} in {bar}");
        }
        assert!(bar.contains("href=\"https://consent.leadsgen.app/s/leadsgen/cookie-policy\""));
        assert!(first_layer::BANNER_CSS.starts_with("#crumb{") && !first_layer::BANNER_CSS.contains("</"));
        let out = bar_html(&client_config(&inventory(LEADSGEN), &ctx(RegionalMode::OptOut)), "en");
        assert!(out.contains("Do Not Sell or Share My Personal Information") && !out.contains("Reject all"));
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
            // what was measured holds the interceptor and the declared hosts it blocks
            let js = std::str::from_utf8(&b.banner.js).expect("utf-8");
            assert!(
                js.contains("MutationObserver")
                    && js.contains("sendBeacon")
                    && js.contains("connect\\\\.facebook\\\\.net")
            );
            let layer = first_layer_html(&client_config(&inv, &ctx(mode)), Some("en"), Some("n0nce"));
            eprintln!("{mode:?}: first layer in the HTML {} bytes, {} gzip -9", layer.len(), gzip9(layer.as_bytes()));
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
        assert!(s.starts_with("<script src=\"https://c.example/s/shop/banner.js?v="));
        assert!(!s.contains("async") && !s.contains("defer"), "the interceptor needs a synchronous tag");
        assert_eq!(
            head_tag("/s/shop/banner.js?a=1&b=\"", Some("n1")),
            "<script src=\"/s/shop/banner.js?a=1&amp;b=&quot;\" nonce=\"n1\"></script>"
        );
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

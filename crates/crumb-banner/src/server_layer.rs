//! The first layer for pages a server rewrites (`crumb proxy`, or `crumb_guard::HtmlLayer` in
//! an application): [`FirstLayerSource`] renders [`first_layer_html`] for a request from the
//! inventory and the banner's URL, the way `crumb serve` configures the banner.
//!
//! The markup depends only on the visitor's language and the page's CSP nonce, so it is
//! rendered once per offered language when the source is built; a request only picks the
//! language and, with a nonce, puts it into the cached markup.

use std::collections::BTreeMap;

use crumb_core::inventory::{Inventory, RegionalMode};

use crate::config::{ClientContext, client_config};
use crate::first_layer::{first_layer_html, pick_language};

/// The nonce placeholder in the cached markup (never valid in a nonce, which is base64).
const NONCE_MARK: &str = "\u{1}crumb-nonce\u{1}";

/// The first layer of one site, rendered per language.
#[derive(Debug, Clone)]
pub struct FirstLayerSource {
    cfg: crate::ClientConfig,
    /// language -> (markup without nonce, markup with [`NONCE_MARK`] as the nonce)
    cached: BTreeMap<String, (String, String)>,
}

impl FirstLayerSource {
    /// The first layer for pages that load the banner from `banner_src` (its
    /// `…/s/{site}/banner.js` URL, whose server answers the consent API). `valid_versions`
    /// as given to the server (`--valid-version`). `None` when the site needs no banner, when
    /// `banner_src` is not the site's banner URL, or when the mode depends on the visitor's
    /// country (`by_country`: the script renders the first layer for the region the server
    /// resolves).
    pub fn new(inv: &Inventory, banner_src: &str, valid_versions: &[String]) -> Option<FirstLayerSource> {
        if inv.rules.regional_mode == RegionalMode::ByCountry {
            return None;
        }
        let path = format!("/s/{}/banner.js", inv.site.id);
        let base = banner_src.split('?').next().unwrap_or(banner_src).strip_suffix(&path)?.to_string();
        let ctx = ClientContext {
            base_url: base,
            version: crumb_core::policy_version(inv),
            valid_versions: valid_versions.to_vec(),
            mode: crumb_core::consent::mode_for(inv, None),
            region: None,
        };
        let cfg = client_config(inv, &ctx);
        if !cfg.needs_banner {
            return None;
        }
        let cached = cfg
            .languages
            .iter()
            .map(|l| {
                let plain = first_layer_html(&cfg, Some(l), None);
                let marked = first_layer_html(&cfg, Some(l), Some(NONCE_MARK));
                (l.clone(), (plain, marked))
            })
            .collect();
        Some(FirstLayerSource { cfg, cached })
    }

    /// The first layer for a visitor sending `accept_language`, with the page's CSP `nonce`.
    pub fn render(&self, accept_language: Option<&str>, nonce: Option<&str>) -> String {
        let lang = pick_language(&self.cfg, accept_language);
        match (self.cached.get(lang), nonce) {
            (Some((plain, _)), None) => plain.clone(),
            (Some((_, marked)), Some(n)) => marked.replace(NONCE_MARK, &crate::first_layer::esc(n)),
            (None, _) => first_layer_html(&self.cfg, accept_language, nonce),
        }
    }

    /// [`render`](Self::render) as a closure, the shape `crumb_guard::FirstLayer::new` takes:
    /// `FirstLayer::new(source.renderer())`.
    pub fn renderer(self) -> impl Fn(Option<&str>, Option<&str>) -> Option<String> + Send + Sync + 'static {
        move |lang, nonce| Some(self.render(lang, nonce))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crumb_core::testdata::LEADSGEN;

    #[test]
    fn cached_markup_equals_a_fresh_render() {
        let src = LEADSGEN.replace("languages = [\"en\"]", "languages = [\"en\", \"de\"]");
        let inv: Inventory = toml::from_str(&src).expect("example parses");
        let banner = "https://c.example/s/leadsgen/banner.js";
        let s = FirstLayerSource::new(&inv, banner, &[]).expect("leadsgen needs a banner");
        for (lang, nonce) in
            [(Some("de-DE,de;q=0.9"), None), (Some("en"), Some("r4nd\"om")), (None, Some("abc")), (Some("fr"), None)]
        {
            assert_eq!(s.render(lang, nonce), first_layer_html(&s.cfg, lang, nonce), "{lang:?} {nonce:?}");
        }
        assert!(s.render(Some("de"), None).contains("lang=\"de\""));
        assert!(FirstLayerSource::new(&inv, "https://c.example/s/other/banner.js", &[]).is_none());
    }
}

//! Who a cookie belongs to. Party is where the cookie lives, not who wrote the code that sets
//! it: a cookie on the site's own domain is first party even when a processor (hosting, CDN,
//! load balancer, a payment or analytics script) sets it there on the site's behalf; a cookie
//! on another site's domain is third party.

use serde::Serialize;

use crate::host::{domain_covers, origin_host};
use crate::inventory::{Inventory, Item, StorageKind};

/// First or third party.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// On the site's own domain (host-only cookies, web storage, the site's parent domain).
    First,
    /// On another site's domain.
    Third,
}

impl Item {
    /// The company that sets the item, when it is not the site itself: `provider`, unless it
    /// is empty or `first_party`.
    pub fn set_by(&self) -> Option<&str> {
        self.provider.as_deref().map(str::trim).filter(|p| !p.is_empty() && *p != "first_party")
    }
}

impl Inventory {
    /// Whether a cookie `Domain` (`.example.com`, `app.example.com`) belongs to the site: one
    /// of its origins, a parent of one, or inside its `cookie_domain`.
    pub fn is_site_domain(&self, domain: &str) -> bool {
        let d = domain.trim().trim_start_matches('.').to_ascii_lowercase();
        if d.is_empty() {
            return true;
        }
        self.is_site_host(&d)
            || self.site.cookie_domain.as_deref().is_some_and(|c| domain_covers(c, &d))
            || self.site.origins.iter().any(|o| domain_covers(&d, origin_host(o).trim_start_matches("*.")))
    }

    /// The item's party. A cookie declared without `domain` is host-only on the site, and web
    /// storage belongs to the site's origin: both are first party, whoever sets them. A
    /// cookie whose `domain` is not the site's is third party.
    pub fn party(&self, item: &Item) -> Party {
        match &item.domain {
            Some(d) if item.storage() == StorageKind::Cookie && !self.is_site_domain(d) => Party::Third,
            _ => Party::First,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::{LEADSGEN, MIXERLEAD};

    fn inv(src: &str) -> Inventory {
        toml::from_str(src).expect("example parses")
    }

    #[test]
    fn party_is_where_the_cookie_lives() {
        let lg = inv(LEADSGEN);
        let stripe = lg.cookies.iter().find(|c| c.name == "__stripe_mid").expect("declared");
        assert_eq!(lg.party(stripe), Party::First, "host-only on the site, set by Stripe's script");
        assert_eq!(stripe.set_by(), Some("Stripe"));
        let mut lb = stripe.clone();
        lb.domain = Some(".leadsgen.app".into());
        assert_eq!(lg.party(&lb), Party::First, "the site's parent domain");
        lb.domain = Some("app.leadsgen.app".into());
        assert_eq!(lg.party(&lb), Party::First, "a subdomain of a wildcard origin");
        lb.domain = Some(".stripe.com".into());
        assert_eq!(lg.party(&lb), Party::Third, "another site's domain");
        lb.domain = Some("evilleadsgen.app".into());
        assert_eq!(lg.party(&lb), Party::Third);
        let ml = inv(MIXERLEAD);
        assert!(ml.items().all(|i| ml.party(i) == Party::First && i.set_by().is_none()));
        let mut own = ml.cookies[0].clone();
        own.provider = Some("first_party".into());
        assert_eq!(own.set_by(), None);
    }
}

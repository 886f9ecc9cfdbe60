//! The banner's own UI strings (not the site's texts, which come from the inventory).
//!
//! Only the languages a site declares are inlined; a declared language Crumb has no
//! translation for falls back to its base language (`de-AT` -> `de`), then to English.

/// Strings of the first layer (inlined into `banner.js`). `{site}` is the site's name.
#[derive(Debug, Clone, Copy)]
pub struct CoreText {
    /// Language tag.
    pub lang: &'static str,
    /// First-layer title.
    pub title: &'static str,
    /// First-layer text in an opt-in region.
    pub text_opt_in: &'static str,
    /// First-layer text in an opt-out region. It names no partners: a banner with no
    /// third-party service shows the same text.
    pub text_opt_out: &'static str,
    /// Link to the cookie policy.
    pub policy: &'static str,
    /// Accept all.
    pub accept: &'static str,
    /// Reject all.
    pub reject: &'static str,
    /// The opt-out refusal (CCPA/CPRA wording).
    pub dns: &'static str,
    /// Open the preferences.
    pub prefs: &'static str,
    /// Floating button.
    pub fab: &'static str,
    /// Statement shown when an honoured GPC/DNT signal pre-denied categories; `{s}` = signal name.
    pub signal_opt_in: &'static str,
    /// Same, in an opt-out region (the signal is a refusal of sale/sharing).
    pub signal_opt_out: &'static str,
    /// Embed placeholder; `{s}` = service, `{c}` = category titles.
    pub blocked: &'static str,
    /// Embed placeholder button.
    pub allow: &'static str,
}

/// Strings of the preferences dialog (inlined into `banner-prefs.js`).
#[derive(Debug, Clone, Copy)]
pub struct PrefsText {
    /// Dialog title.
    pub ptitle: &'static str,
    /// Dialog text.
    pub ptext: &'static str,
    /// Save choices.
    pub save: &'static str,
    /// Close button's accessible name.
    pub close: &'static str,
    /// Shown next to required categories.
    pub always: &'static str,
    /// Before the list of services.
    pub used: &'static str,
    /// Per-category cookie details toggle.
    pub details: &'static str,
    /// The declaration could not be loaded.
    pub error: &'static str,
    /// Download the receipt of the last recorded decision.
    pub receipt: &'static str,
}

/// Every language Crumb ships strings for, English first.
pub const LANGUAGES: &[(CoreText, PrefsText)] = &[
    (
        CoreText {
            lang: "en",
            title: "Cookies on {site}",
            text_opt_in: "We use cookies that are needed for the site to work. With your consent we also use optional cookies; nothing optional runs until you choose. You can change your mind at any time.",
            text_opt_out: "We use cookies, some of them optional. You can opt out of the sale or sharing of your personal information and of optional cookies at any time.",
            policy: "Cookie policy",
            accept: "Accept all",
            reject: "Reject all",
            dns: "Do Not Sell or Share My Personal Information",
            prefs: "Preferences",
            fab: "Privacy choices",
            signal_opt_in: "Your browser sends a {s} signal, so optional tracking stays off unless you switch it on.",
            signal_opt_out: "Your browser sends a {s} signal: we treat it as a request not to sell or share your personal information.",
            blocked: "{s} is blocked until you allow {c} cookies.",
            allow: "Allow and load",
        },
        PrefsText {
            ptitle: "Privacy preferences",
            ptext: "Choose which optional cookies we may use. Strictly necessary ones are always on.",
            save: "Save choices",
            close: "Close",
            always: "Always on",
            used: "Used by:",
            details: "Cookie details",
            error: "The cookie details could not be loaded. Please try again.",
            receipt: "Download receipt of my choice",
        },
    ),
    (
        CoreText {
            lang: "de",
            title: "Cookies auf {site}",
            text_opt_in: "Wir verwenden Cookies, die für den Betrieb der Website nötig sind. Mit Ihrer Einwilligung nutzen wir auch optionale Cookies; nichts Optionales läuft, bevor Sie wählen. Sie können Ihre Wahl jederzeit ändern.",
            text_opt_out: "Wir verwenden Cookies, einige davon optional. Sie können dem Verkauf oder der Weitergabe Ihrer personenbezogenen Daten und optionalen Cookies jederzeit widersprechen.",
            policy: "Cookie-Richtlinie",
            accept: "Alle akzeptieren",
            reject: "Alle ablehnen",
            dns: "Meine personenbezogenen Daten nicht verkaufen oder weitergeben",
            prefs: "Einstellungen",
            fab: "Datenschutz-Einstellungen",
            signal_opt_in: "Ihr Browser sendet ein {s}-Signal, daher bleibt optionales Tracking aus, solange Sie es nicht einschalten.",
            signal_opt_out: "Ihr Browser sendet ein {s}-Signal: Wir werten es als Widerspruch gegen Verkauf und Weitergabe Ihrer personenbezogenen Daten.",
            blocked: "{s} ist blockiert, bis Sie {c}-Cookies erlauben.",
            allow: "Erlauben und laden",
        },
        PrefsText {
            ptitle: "Datenschutz-Einstellungen",
            ptext: "Wählen Sie, welche optionalen Cookies wir verwenden dürfen. Unbedingt erforderliche sind immer aktiv.",
            save: "Auswahl speichern",
            close: "Schließen",
            always: "Immer aktiv",
            used: "Genutzt von:",
            details: "Cookie-Details",
            error: "Die Cookie-Details konnten nicht geladen werden. Bitte versuchen Sie es erneut.",
            receipt: "Nachweis meiner Wahl herunterladen",
        },
    ),
    (
        CoreText {
            lang: "fr",
            title: "Cookies sur {site}",
            text_opt_in: "Nous utilisons des cookies nécessaires au fonctionnement du site. Avec votre consentement, nous utilisons aussi des cookies facultatifs ; rien de facultatif ne s’exécute avant votre choix. Vous pouvez changer d’avis à tout moment.",
            text_opt_out: "Nous utilisons des cookies, dont certains facultatifs. Vous pouvez à tout moment refuser la vente ou le partage de vos informations personnelles et les cookies facultatifs.",
            policy: "Politique relative aux cookies",
            accept: "Tout accepter",
            reject: "Tout refuser",
            dns: "Ne pas vendre ni partager mes informations personnelles",
            prefs: "Préférences",
            fab: "Choix de confidentialité",
            signal_opt_in: "Votre navigateur envoie un signal {s} : le suivi facultatif reste désactivé tant que vous ne l’activez pas.",
            signal_opt_out: "Votre navigateur envoie un signal {s} : nous le traitons comme un refus de la vente ou du partage de vos informations personnelles.",
            blocked: "{s} est bloqué tant que vous n’autorisez pas les cookies « {c} ».",
            allow: "Autoriser et charger",
        },
        PrefsText {
            ptitle: "Préférences de confidentialité",
            ptext: "Choisissez les cookies facultatifs que nous pouvons utiliser. Les cookies strictement nécessaires sont toujours actifs.",
            save: "Enregistrer mes choix",
            close: "Fermer",
            always: "Toujours actifs",
            used: "Utilisés par :",
            details: "Détails des cookies",
            error: "Impossible de charger les détails des cookies. Veuillez réessayer.",
            receipt: "Télécharger le reçu de mon choix",
        },
    ),
];

/// The strings for a site language: exact tag, then base language, then English.
pub fn for_language(lang: &str) -> &'static (CoreText, PrefsText) {
    let lower = lang.to_ascii_lowercase();
    let base = lower.split(['-', '_']).next().unwrap_or_default();
    LANGUAGES
        .iter()
        .find(|(c, _)| c.lang == lower)
        .or_else(|| LANGUAGES.iter().find(|(c, _)| c.lang == base))
        .unwrap_or(&LANGUAGES[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_exact_then_base_then_english() {
        assert_eq!(for_language("de").0.lang, "de");
        assert_eq!(for_language("fr-CA").0.lang, "fr");
        assert_eq!(for_language("pt-BR").0.lang, "en");
        for (c, _) in LANGUAGES {
            assert!(c.title.contains("{site}") && c.blocked.contains("{s}") && c.blocked.contains("{c}"), "{}", c.lang);
            assert!(c.signal_opt_in.contains("{s}") && c.signal_opt_out.contains("{s}"), "{}", c.lang);
        }
    }
}

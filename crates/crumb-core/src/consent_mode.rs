//! Google Consent Mode v2: the consent types a category maps to.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Google Consent Mode v2 consent types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentModeType {
    /// Advertising storage.
    AdStorage,
    /// Sending user data to Google for advertising.
    AdUserData,
    /// Personalised advertising.
    AdPersonalization,
    /// Analytics storage.
    AnalyticsStorage,
    /// Functionality storage (e.g. language).
    FunctionalityStorage,
    /// Personalisation storage (e.g. recommendations).
    PersonalizationStorage,
    /// Security storage (authentication, fraud prevention).
    SecurityStorage,
}

impl ConsentModeType {
    /// All seven types, in Google's order.
    pub const ALL: [ConsentModeType; 7] = [
        ConsentModeType::AdStorage,
        ConsentModeType::AdUserData,
        ConsentModeType::AdPersonalization,
        ConsentModeType::AnalyticsStorage,
        ConsentModeType::FunctionalityStorage,
        ConsentModeType::PersonalizationStorage,
        ConsentModeType::SecurityStorage,
    ];

    /// The key as gtag spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentModeType::AdStorage => "ad_storage",
            ConsentModeType::AdUserData => "ad_user_data",
            ConsentModeType::AdPersonalization => "ad_personalization",
            ConsentModeType::AnalyticsStorage => "analytics_storage",
            ConsentModeType::FunctionalityStorage => "functionality_storage",
            ConsentModeType::PersonalizationStorage => "personalization_storage",
            ConsentModeType::SecurityStorage => "security_storage",
        }
    }

    /// Whether this type is about advertising or analytics (never strictly necessary).
    pub fn is_tracking(self) -> bool {
        matches!(
            self,
            ConsentModeType::AdStorage
                | ConsentModeType::AdUserData
                | ConsentModeType::AdPersonalization
                | ConsentModeType::AnalyticsStorage
        )
    }
}

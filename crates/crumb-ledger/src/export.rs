//! The shapes of `crumb ledger export` and the dashboard's export: CSV columns and times.

use crate::Record;

/// Unix milliseconds as RFC 3339 UTC (`2026-01-31T12:00:00.123Z`); empty when out of range.
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// A time as Unix milliseconds: `YYYY-MM-DD` (midnight UTC) or RFC 3339; `None` when it is
/// neither.
pub fn parse_time(s: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok();
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &fmt).ok().map(|d| d.midnight().assume_utc().unix_timestamp() * 1000)
}

/// The columns of a CSV export, in order.
pub const CSV_HEADER: [&str; 20] = [
    "chain",
    "seq",
    "consent_id",
    "site",
    "policy_version",
    "choices",
    "action",
    "gpc",
    "dnt",
    "region",
    "mode",
    "language",
    "url",
    "ua_family",
    "ip_hash",
    "recorded_at",
    "expires_at",
    "retain_until",
    "prev_hash",
    "hash",
];

/// One record as a CSV row (`choices` as `category=bool;...`, times in RFC 3339).
pub fn csv_row(r: &Record) -> Vec<String> {
    let e = &r.entry;
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    let choices = e.choices.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(";");
    vec![
        r.chain.clone(),
        r.seq.to_string(),
        e.consent_id.clone(),
        e.site.clone(),
        e.policy_version.clone(),
        choices,
        e.action.clone(),
        e.gpc.to_string(),
        e.dnt.to_string(),
        opt(&e.region),
        e.mode.clone(),
        opt(&e.language),
        opt(&e.url),
        e.ua_family.clone(),
        opt(&e.ip_hash),
        rfc3339(e.recorded_at),
        rfc3339(e.expires_at),
        rfc3339(e.retain_until),
        r.prev_hash.clone(),
        r.hash.clone(),
    ]
}

//! Durations as an inventory states them: `session`, `72 hours`, `30 days`, `13 months`,
//! `1 year`, or ISO-8601 (`P30D`, `PT72H`, `P1Y6M`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Seconds in a minute, hour, day, week, month (average Gregorian) and year (average Gregorian).
pub const MINUTE: u64 = 60;
/// One hour in seconds.
pub const HOUR: u64 = 3_600;
/// One day in seconds.
pub const DAY: u64 = 86_400;
/// One week in seconds.
pub const WEEK: u64 = 7 * DAY;
/// One average Gregorian month (30.436875 days) in seconds.
pub const MONTH: u64 = 2_629_746;
/// One average Gregorian year (365.2425 days) in seconds.
pub const YEAR: u64 = 31_556_952;

/// How long a cookie or a consent lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Duration {
    /// Until the browser session ends.
    Session,
    /// A fixed lifetime in seconds.
    Fixed(u64),
}

/// Why a duration could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a duration: {reason}")]
pub struct DurationError {
    /// What was given.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Duration {
    /// Parse a duration (see the module documentation for the accepted forms).
    pub fn parse(input: &str) -> Result<Self, DurationError> {
        let err = |reason: &str| DurationError { input: input.to_string(), reason: reason.to_string() };
        let s = input.trim();
        if s.is_empty() {
            return Err(err("it is empty; write `session`, `30 days`, `1 year` or `P30D`"));
        }
        if s.eq_ignore_ascii_case("session") {
            return Ok(Duration::Session);
        }
        if s.starts_with('P') || s.starts_with('p') {
            return parse_iso(s).map(Duration::Fixed).map_err(|r| err(&r));
        }
        let mut total: u64 = 0;
        let mut words = s.split_whitespace().peekable();
        let mut any = false;
        while let Some(num) = words.next() {
            let num = num.trim_end_matches(',');
            if num.eq_ignore_ascii_case("and") {
                continue;
            }
            let n: u64 = num
                .parse()
                .map_err(|_| err("expected a whole number followed by a unit, as in `30 days` or `1 year`"))?;
            let unit =
                words.next().ok_or_else(|| err("the number has no unit; add `hours`, `days`, `months` or `years`"))?;
            let unit = unit.trim_end_matches(',').to_ascii_lowercase();
            let secs = unit_seconds(&unit).ok_or_else(|| {
                err(&format!("unknown unit `{unit}`; use seconds, minutes, hours, days, weeks, months or years"))
            })?;
            total = n.checked_mul(secs).and_then(|v| total.checked_add(v)).ok_or_else(|| err("it is too long"))?;
            any = true;
        }
        if !any {
            return Err(err("expected a number and a unit"));
        }
        if total == 0 {
            return Err(err("a zero duration; a cookie that lasts no time is not set at all"));
        }
        Ok(Duration::Fixed(total))
    }

    /// Lifetime in seconds (`None` for a session cookie).
    pub fn seconds(self) -> Option<u64> {
        match self {
            Duration::Session => None,
            Duration::Fixed(s) => Some(s),
        }
    }

    /// Whether `self` lasts longer than `other` (a fixed duration outlasts a session).
    pub fn longer_than(self, other: Duration) -> bool {
        match (self, other) {
            (Duration::Session, _) => false,
            (Duration::Fixed(_), Duration::Session) => true,
            (Duration::Fixed(a), Duration::Fixed(b)) => a > b,
        }
    }

    /// A human reading in English (`1 year`, `30 days`, `72 hours`, `session`).
    pub fn humanize(self) -> String {
        let Duration::Fixed(s) = self else {
            return "session".into();
        };
        let plural = |n: u64, unit: &str| {
            if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") }
        };
        for (size, unit) in
            [(YEAR, "year"), (MONTH, "month"), (WEEK, "week"), (DAY, "day"), (HOUR, "hour"), (MINUTE, "minute")]
        {
            if s >= size && s % size == 0 {
                return plural(s / size, unit);
            }
        }
        if s >= DAY && s % HOUR == 0 {
            return plural(s / HOUR, "hour");
        }
        plural(s, "second")
    }
}

fn unit_seconds(unit: &str) -> Option<u64> {
    Some(match unit {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "min" | "mins" | "minute" | "minutes" => MINUTE,
        "h" | "hr" | "hrs" | "hour" | "hours" => HOUR,
        "d" | "day" | "days" => DAY,
        "w" | "week" | "weeks" => WEEK,
        "mo" | "month" | "months" => MONTH,
        "y" | "yr" | "yrs" | "year" | "years" => YEAR,
        _ => return None,
    })
}

fn parse_iso(s: &str) -> Result<u64, String> {
    let upper = s.to_ascii_uppercase();
    let body = &upper[1..];
    if body.is_empty() {
        return Err("an ISO-8601 duration needs at least one part, as in `P30D`".into());
    }
    let (date, time) = match body.split_once('T') {
        Some((d, t)) => {
            if t.is_empty() {
                return Err("`T` must be followed by hours, minutes or seconds".into());
            }
            (d, Some(t))
        }
        None => (body, None),
    };
    let mut total: u64 = 0;
    let mut add = |part: &str, table: &[(char, u64)]| -> Result<(), String> {
        let mut num = String::new();
        let mut last_rank: Option<usize> = None;
        for c in part.chars() {
            if c.is_ascii_digit() {
                num.push(c);
                continue;
            }
            let rank = table
                .iter()
                .position(|(u, _)| *u == c)
                .ok_or_else(|| format!("unexpected `{c}` in an ISO-8601 duration"))?;
            if last_rank.is_some_and(|r| r >= rank) {
                return Err("ISO-8601 parts must come in order (Y, M, W, D, then T H, M, S)".into());
            }
            last_rank = Some(rank);
            if num.is_empty() {
                return Err(format!("`{c}` has no number before it"));
            }
            let n: u64 = num.parse().map_err(|_| "the number is too large".to_string())?;
            total = n
                .checked_mul(table[rank].1)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| "it is too long".to_string())?;
            num.clear();
        }
        if !num.is_empty() {
            return Err("a number at the end has no unit letter".into());
        }
        Ok(())
    };
    add(date, &[('Y', YEAR), ('M', MONTH), ('W', WEEK), ('D', DAY)])?;
    if let Some(t) = time {
        add(t, &[('H', HOUR), ('M', MINUTE), ('S', 1)])?;
    }
    if total == 0 {
        return Err("a zero duration".into());
    }
    Ok(total)
}

impl FromStr for Duration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Duration::parse(s)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.humanize())
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.humanize())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Duration::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_the_forms_policies_use() {
        assert_eq!(Duration::parse("session"), Ok(Duration::Session));
        assert_eq!(Duration::parse("Session"), Ok(Duration::Session));
        assert_eq!(Duration::parse("72 hours"), Ok(Duration::Fixed(72 * HOUR)));
        assert_eq!(Duration::parse("30 days"), Ok(Duration::Fixed(30 * DAY)));
        assert_eq!(Duration::parse("13 months"), Ok(Duration::Fixed(13 * MONTH)));
        assert_eq!(Duration::parse("1 year"), Ok(Duration::Fixed(YEAR)));
        assert_eq!(Duration::parse("1 year 6 months"), Ok(Duration::Fixed(YEAR + 6 * MONTH)));
        assert_eq!(Duration::parse("P30D"), Ok(Duration::Fixed(30 * DAY)));
        assert_eq!(Duration::parse("PT72H"), Ok(Duration::Fixed(72 * HOUR)));
        assert_eq!(Duration::parse("P1Y6M"), Ok(Duration::Fixed(YEAR + 6 * MONTH)));
        assert_eq!(Duration::parse("P1DT12H"), Ok(Duration::Fixed(DAY + 12 * HOUR)));
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for bad in [
            "",
            "forever",
            "30",
            "30 fortnights",
            "days 30",
            "P",
            "PT",
            "P30",
            "PD",
            "P1D2Y",
            "0 days",
            "-1 days",
            "99999999999999999999 years",
            "P99999999999999Y",
        ] {
            assert!(Duration::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn humanizes() {
        assert_eq!(Duration::Fixed(YEAR).humanize(), "1 year");
        assert_eq!(Duration::Fixed(90 * DAY).humanize(), "90 days");
        assert_eq!(Duration::Fixed(72 * HOUR).humanize(), "3 days");
        assert_eq!(Duration::Fixed(13 * MONTH).humanize(), "13 months");
        assert_eq!(Duration::Session.humanize(), "session");
    }

    proptest! {
        #[test]
        fn humanized_durations_read_back(secs in 1u64..(50 * YEAR)) {
            let d = Duration::Fixed(secs);
            prop_assert_eq!(Duration::parse(&d.humanize()), Ok(d));
        }

        #[test]
        fn words_and_iso_agree(n in 1u64..10_000, unit in 0usize..4) {
            let (word, letter, t) = [("days", 'D', false), ("years", 'Y', false), ("hours", 'H', true), ("minutes", 'M', true)][unit];
            let iso = if t { format!("PT{n}{letter}") } else { format!("P{n}{letter}") };
            prop_assert_eq!(Duration::parse(&format!("{n} {word}")), Duration::parse(&iso));
        }

        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = Duration::parse(&s);
        }

        #[test]
        fn longer_than_is_a_strict_order(a in 1u64..1_000_000, b in 1u64..1_000_000) {
            let (x, y) = (Duration::Fixed(a), Duration::Fixed(b));
            prop_assert!(!(x.longer_than(y) && y.longer_than(x)));
            prop_assert_eq!(x.longer_than(y), a > b);
            prop_assert!(x.longer_than(Duration::Session));
        }
    }
}

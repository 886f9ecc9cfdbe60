//! `export::parse_time`, which `crumb ledger` and `GET /api/v1/stats` read `from`/`to` with:
//! dates are UTC midnight, RFC 3339 times round-trip through `rfc3339`, and nothing panics.

use crumb_ledger::export::{parse_time, rfc3339};
use proptest::prelude::*;

#[test]
fn dates_and_times() {
    assert_eq!(parse_time("1970-01-02"), Some(86_400_000));
    assert_eq!(parse_time("2026-01-31T12:00:00Z"), Some(1_769_860_800_000));
    assert_eq!(parse_time("2026-01-31T13:00:00+01:00"), Some(1_769_860_800_000));
    for bad in ["", "yesterday", "2026-13-01", "2026-02-30", "2026-01-31T25:00:00Z", "31.01.2026"] {
        assert_eq!(parse_time(bad), None, "{bad}");
    }
}

proptest! {
    #[test]
    fn times_round_trip(ms in -62_135_596_800_000i64..253_402_300_799_999i64) {
        prop_assert_eq!(parse_time(&rfc3339(ms)), Some(ms));
    }

    #[test]
    fn dates_are_utc_midnight(days in -719_162i64..2_932_896i64) {
        let ms = days * 86_400_000;
        let date = &rfc3339(ms)[..10];
        prop_assert_eq!(parse_time(date), Some(ms));
    }

    #[test]
    fn any_text_is_parsed_or_refused(s in "\\PC{0,40}") {
        let _ = parse_time(&s);
    }
}

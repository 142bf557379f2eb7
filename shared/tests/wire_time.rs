//! The wire format of timestamps, pinned byte for byte.
//!
//! `Timestamp` is `jiff::Timestamp` with jiff's own serde. Before jiff the wire
//! types used `time::OffsetDateTime` with `time::serde::rfc3339`; the strings
//! below are exactly what that wrote for the same instants (RFC 3339 in UTC
//! with `Z`, the fraction only when non-zero and without trailing zeros), so
//! clients and stored JSON of either version read each other.

use mchat_shared::Timestamp;
use mchat_shared::api::{Role, UserBrief};

fn wire(t: Timestamp) -> String {
    serde_json::to_string(&t).unwrap_or_default()
}

fn brief(last_seen: Option<Timestamp>) -> UserBrief {
    UserBrief {
        username: "ada".into(),
        display_name: "Ada".into(),
        role: Role::Mentor,
        availability: None,
        last_seen,
    }
}

fn ms(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn ns(ns: i128) -> Timestamp {
    Timestamp::from_nanosecond(ns).unwrap_or(Timestamp::UNIX_EPOCH)
}

#[test]
fn store_milliseconds_and_whole_seconds_are_written_as_before() {
    // The store keeps unix milliseconds: these are the values the server sends.
    assert_eq!(wire(ms(1_796_228_520_123)), r#""2026-12-02T16:22:00.123Z""#);
    assert_eq!(wire(ms(1_796_228_520_000)), r#""2026-12-02T16:22:00Z""#);
    assert_eq!(wire(ms(1_796_228_520_100)), r#""2026-12-02T16:22:00.1Z""#);
    assert_eq!(wire(ms(1_796_228_520_120)), r#""2026-12-02T16:22:00.12Z""#);
    assert_eq!(wire(ms(0)), r#""1970-01-01T00:00:00Z""#);
    assert_eq!(wire(ms(-1)), r#""1969-12-31T23:59:59.999Z""#);
    // jiff's range ends a day earlier than time's (9999-12-30T22:00Z, so that
    // every offset can show it); the store never holds such an instant.
    assert_eq!(wire(ms(253_402_207_199_999)), r#""9999-12-30T21:59:59.999Z""#);
    assert_eq!(wire(Timestamp::MAX), r#""9999-12-30T22:00:00.999999999Z""#);
    // Finer instants (a client's clock): as many digits as needed, as before.
    assert_eq!(
        wire(ns(1_796_228_520_000_001_000)),
        r#""2026-12-02T16:22:00.000001Z""#
    );
    assert_eq!(
        wire(ns(1_796_228_520_000_000_001)),
        r#""2026-12-02T16:22:00.000000001Z""#
    );
}

#[test]
fn wire_types_write_the_same_bytes() {
    assert_eq!(
        serde_json::to_string(&brief(Some(ms(1_796_228_520_123)))).unwrap_or_default(),
        r#"{"username":"ada","display_name":"Ada","role":"mentor","last_seen":"2026-12-02T16:22:00.123Z"}"#
    );
    assert_eq!(
        serde_json::to_string(&brief(None)).unwrap_or_default(),
        r#"{"username":"ada","display_name":"Ada","role":"mentor","last_seen":null}"#
    );
}

#[test]
fn any_rfc3339_offset_is_read_as_its_instant() {
    let read = |s: &str| serde_json::from_str::<Timestamp>(&format!("\"{s}\"")).ok();
    let at = ms(1_796_228_520_000);
    assert_eq!(read("2026-12-02T16:22:00Z"), Some(at));
    assert_eq!(read("2026-12-03T01:22:00+09:00"), Some(at));
    assert_eq!(read("2026-12-02T14:52:00.5-01:30"), Some(ms(1_796_228_520_500)));
    assert_eq!(read("2026-12-02T16:22:00-00:00"), Some(at));
    // RFC 3339 allows lower-case `t`/`z` and (section 5.6 note) a space; time read them too.
    assert_eq!(read("2026-12-02t16:22:00z"), Some(at));
    assert_eq!(read("2026-12-02 16:22:00Z"), Some(at));
    // Read in another offset, written back in UTC.
    assert_eq!(
        read("2026-12-03T01:22:00.123+09:00").map(wire).as_deref(),
        Some(r#""2026-12-02T16:22:00.123Z""#)
    );
}

#[test]
fn what_is_not_an_instant_is_refused() {
    let read = |s: &str| serde_json::from_str::<Timestamp>(s).ok();
    assert_eq!(read(r#""2026-12-02""#), None, "a date alone");
    assert_eq!(read(r#""2026-12-02T16:22:00""#), None, "no offset");
    assert_eq!(read(r#""yesterday""#), None);
    assert_eq!(read("1796228520"), None, "a number");
}

#[test]
fn optional_timestamps_may_be_null_or_missing() {
    let json = r#"{"username":"ada","display_name":"Ada","role":"mentor"}"#;
    assert_eq!(serde_json::from_str::<UserBrief>(json).ok(), Some(brief(None)));
    let json = r#"{"username":"ada","display_name":"Ada","role":"mentor","last_seen":null}"#;
    assert_eq!(serde_json::from_str::<UserBrief>(json).ok(), Some(brief(None)));
    let json =
        r#"{"username":"ada","display_name":"Ada","role":"mentor","last_seen":"2026-12-02T16:22:00.123Z"}"#;
    assert_eq!(
        serde_json::from_str::<UserBrief>(json).ok(),
        Some(brief(Some(ms(1_796_228_520_123))))
    );
}

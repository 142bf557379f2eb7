//! The thread shows message times in the local zone (`when::with_zone`
//! pins it for this test thread), the day separators agreeing with them.

use super::*;
use jiff::tz::TimeZone;

/// Ana's thread rendered with times in `zone`.
fn thread_in(zone: &str) -> String {
    let tz = TimeZone::get(zone).unwrap_or(TimeZone::UTC);
    crate::when::with_zone(tz, || {
        let mut app = app();
        open_ana(&mut app);
        render(&app, 80, 24)
    })
}

#[test]
fn thread_times_are_local() {
    // t0 is 2027-01-15 08:00 UTC: 17:00 in Tokyo, midnight in Los Angeles.
    let tokyo = thread_in("Asia/Tokyo");
    assert!(tokyo.contains("17:00"), "{tokyo}");
    assert!(!tokyo.contains("08:00"), "UTC shown: {tokyo}");
    let la = thread_in("America/Los_Angeles");
    assert!(la.contains("00:00"), "{la}");
    assert!(!la.contains("08:00") && !la.contains("17:00"), "{la}");
    let utc = thread_in("UTC");
    assert!(utc.contains("08:00"), "{utc}");
}

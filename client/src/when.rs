//! When to send or remind: `--in` durations ("30m", "2h", "1d", "1w",
//! "1h30m") and `--at` local times ("2026-12-01 09:00", "2026-12-01T09:00",
//! "09:00" = its next occurrence, "today 18:00", "tomorrow 09:00"), read in
//! the user's local time zone, and the human form of a due time.
//!
//! Time zones come from `jiff`, which reads the IANA database and `TZ`
//! without the soundness problem `time`'s local offset has in a
//! multi-threaded process. `MCHAT_TZ` (an IANA name or a POSIX TZ string)
//! overrides the system zone, so tests and scripts can pin it. Every time a
//! person reads (`mchat read`, `watch`, the TUI) is shown in that zone
//! through [`clock`] and [`relative`]; `--json` keeps the wire's UTC.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

pub use jiff::Zoned;

/// Why a time could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WhenError {
    #[error(
        "cannot read the duration {0:?}: use a number and a unit, like 30m, 2h, 1d, 1w or 1h30m (s, m, h, d, w)"
    )]
    Duration(String),
    #[error(
        "cannot read the time {0:?}: use \"2026-12-01 09:00\", \"09:00\" (its next occurrence), \"today 18:00\" or \"tomorrow 09:00\", in local time"
    )]
    Time(String),
    #[error("{0}")]
    Zone(String),
}

/// The time zone times are read and shown in: `MCHAT_TZ`, else the system's
/// (which honours `TZ`).
pub fn local_zone() -> Result<TimeZone, WhenError> {
    #[cfg(test)]
    if let Some(tz) = TEST_ZONE.with(|z| z.borrow().clone()) {
        return Ok(tz);
    }
    match std::env::var("MCHAT_TZ") {
        Ok(name) if !name.trim().is_empty() => {
            let name = name.trim();
            TimeZone::get(name)
                .or_else(|_| TimeZone::posix(name))
                .map_err(|_| {
                    WhenError::Zone(format!("MCHAT_TZ={name:?} is not a time zone this system knows"))
                })
        }
        _ => Ok(TimeZone::try_system().unwrap_or(TimeZone::UTC)),
    }
}

/// The zone for showing times: [`local_zone`], read once per process (the
/// TUI formats many times per frame), UTC when it cannot be read (the
/// commands that read `--at` report that error themselves).
pub fn display_zone() -> TimeZone {
    #[cfg(test)]
    if let Some(tz) = TEST_ZONE.with(|z| z.borrow().clone()) {
        return tz;
    }
    static ZONE: std::sync::OnceLock<TimeZone> = std::sync::OnceLock::new();
    ZONE.get_or_init(|| local_zone().unwrap_or(TimeZone::UTC)).clone()
}

#[cfg(test)]
thread_local! {
    /// A zone pinned by [`with_zone`] for this test thread only (tests run
    /// in parallel, and `set_var` would leak into the others).
    static TEST_ZONE: std::cell::RefCell<Option<TimeZone>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with times read and shown in `tz` (tests only).
#[cfg(test)]
pub fn with_zone<R>(tz: TimeZone, f: impl FnOnce() -> R) -> R {
    let before = TEST_ZONE.with(|z| z.replace(Some(tz)));
    let result = f();
    TEST_ZONE.with(|z| *z.borrow_mut() = before);
    result
}

/// A wire timestamp in `tz`.
pub fn in_zone(t: Timestamp, tz: &TimeZone) -> Zoned {
    t.to_zoned(tz.clone())
}

/// The clock time of a message for a person: `HH:MM` when it is on `now`'s
/// local day, else `YYYY-MM-DD HH:MM` (in `now`'s zone).
pub fn clock(t: &Zoned, now: &Zoned) -> String {
    let t = t.with_time_zone(now.time_zone().clone());
    if t.date() == now.date() {
        t.strftime("%H:%M").to_string()
    } else {
        t.strftime("%Y-%m-%d %H:%M").to_string()
    }
}

/// Reads a duration: one or more `<number><unit>` parts (s, m, h, d, w),
/// spaces allowed between parts ("1h30m", "1h 30m", "90m").
pub fn parse_in(input: &str) -> Result<Span, WhenError> {
    let bad = || WhenError::Duration(input.to_string());
    let s: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    if s.is_empty() {
        return Err(bad());
    }
    // Totals per unit: weeks, days, hours, minutes, seconds.
    let mut totals = [0i64; 5];
    let mut rest = s.as_str();
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(bad());
        }
        let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = rest[..unit_len].to_ascii_lowercase();
        rest = &rest[unit_len..];
        let slot = match unit.as_str() {
            "w" | "week" | "weeks" => 0,
            "d" | "day" | "days" => 1,
            "h" | "hr" | "hrs" | "hour" | "hours" => 2,
            "m" | "min" | "mins" | "minute" | "minutes" => 3,
            "s" | "sec" | "secs" | "second" | "seconds" => 4,
            _ => return Err(bad()),
        };
        totals[slot] = totals[slot].checked_add(n).ok_or_else(bad)?;
    }
    let [w, d, h, m, sec] = totals;
    let span = Span::new()
        .try_weeks(w)
        .and_then(|x| x.try_days(d))
        .and_then(|x| x.try_hours(h))
        .and_then(|x| x.try_minutes(m))
        .and_then(|x| x.try_seconds(sec))
        .map_err(|_| bad())?;
    Ok(span)
}

/// `now` plus a duration read by [`parse_in`] (days and weeks are calendar
/// days in `now`'s zone, so "1d" lands at the same wall-clock time).
pub fn after(now: &Zoned, input: &str) -> Result<Zoned, WhenError> {
    let span = parse_in(input)?;
    now.checked_add(span)
        .map_err(|_| WhenError::Duration(input.to_string()))
}

/// "9:30", "09:30" or "09:30:15" (and nothing else).
fn parse_time(s: &str) -> Option<Time> {
    let parts: Vec<&str> = s.trim().split(':').collect();
    if !(2..=3).contains(&parts.len())
        || parts
            .iter()
            .any(|p| p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()))
        || parts[1].len() != 2
    {
        return None;
    }
    let n = |i: usize| parts.get(i).map_or(Some(0), |p| p.parse::<i8>().ok());
    Time::new(n(0)?, n(1)?, n(2)?, 0).ok()
}

/// Reads a local time relative to `now` (and in `now`'s zone).
pub fn parse_at(input: &str, now: &Zoned) -> Result<Zoned, WhenError> {
    let bad = || WhenError::Time(input.to_string());
    let s = input.trim();
    let tz = now.time_zone().clone();
    let today = now.date();
    let lower = s.to_ascii_lowercase();
    let civil: DateTime = if let Some(rest) = lower.strip_prefix("tomorrow") {
        let t = parse_time(rest).ok_or_else(bad)?;
        today.tomorrow().map_err(|_| bad())?.to_datetime(t)
    } else if let Some(rest) = lower.strip_prefix("today") {
        today.to_datetime(parse_time(rest).ok_or_else(bad)?)
    } else if let Some(t) = parse_time(s) {
        // A bare time: its next occurrence.
        let candidate = today.to_datetime(t);
        let zoned = candidate.to_zoned(tz.clone()).map_err(|_| bad())?;
        if zoned.timestamp() > now.timestamp() {
            candidate
        } else {
            today.tomorrow().map_err(|_| bad())?.to_datetime(t)
        }
    } else {
        let (date, time) = s.split_once([' ', 'T', 't']).ok_or_else(bad)?;
        let date: Date = date.trim().parse().map_err(|_| bad())?;
        date.to_datetime(parse_time(time).ok_or_else(bad)?)
    };
    civil.to_zoned(tz).map_err(|_| bad())
}

/// The due time for `--at` or `--in` (exactly one is given), now, in the
/// local zone.
pub fn resolve(at: Option<&str>, in_: Option<&str>) -> Result<Zoned, WhenError> {
    let now = Zoned::now().with_time_zone(local_zone()?);
    match (at, in_) {
        (Some(at), _) => parse_at(at, &now),
        (None, Some(d)) => after(&now, d),
        (None, None) => Err(WhenError::Time(String::new())),
    }
}

/// A wire timestamp in the local zone (the wire form of a local time is
/// just [`Zoned::timestamp`]).
pub fn to_local(t: Timestamp) -> Zoned {
    in_zone(t, &display_zone())
}

/// The one relative-time form, for lists and due times alike. Past: "just
/// now", "5m ago", "3h ago", "yesterday", "4d ago", then the local date
/// (a week-old "12d ago" is harder to place than a date). Future: "in 40s",
/// "in 30m", "in 2h 5m" (a due time is planned to the minute, so hours keep
/// their minutes), "in 8d". Compact units, because a list column is narrow.
pub fn relative(t: &Zoned, now: &Zoned) -> String {
    let secs = t.timestamp().as_second() - now.timestamp().as_second();
    let a = secs.unsigned_abs();
    if secs < 0 {
        return match a {
            a if a < 45 => "just now".into(),
            a if a < 3600 => format!("{}m ago", (a + 30) / 60),
            a if a < 86_400 => format!("{}h ago", a / 3600),
            a if a < 2 * 86_400 => "yesterday".into(),
            a if a < 7 * 86_400 => format!("{}d ago", a / 86_400),
            _ => t
                .with_time_zone(now.time_zone().clone())
                .strftime("%Y-%m-%d")
                .to_string(),
        };
    }
    if a < 60 {
        format!("in {a}s")
    } else if a < 3600 {
        format!("in {}m", a / 60)
    } else if a < 48 * 3600 {
        let (h, m) = (a / 3600, (a % 3600) / 60);
        if m == 0 {
            format!("in {h}h")
        } else {
            format!("in {h}h {m}m")
        }
    } else {
        format!("in {}d", (a + 12 * 3600) / 86_400)
    }
}

/// "Tue 1 Dec 09:00 (in 8d)", with the year when it is not `now`'s.
pub fn describe(t: &Zoned, now: &Zoned) -> String {
    let fmt = if t.year() == now.year() {
        "%a %-d %b %H:%M"
    } else {
        "%a %-d %b %Y %H:%M"
    };
    format!("{} ({})", t.strftime(fmt), relative(t, now))
}

/// [`describe`] for a wire timestamp, relative to the current time.
pub fn describe_due(t: Timestamp) -> String {
    let z = to_local(t);
    let now = Zoned::now().with_time_zone(z.time_zone().clone());
    describe(&z, &now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str, tz: &str) -> Zoned {
        let dt: DateTime = s.parse().unwrap();
        dt.to_zoned(TimeZone::get(tz).unwrap()).unwrap()
    }

    #[test]
    fn durations() {
        let now = at("2026-11-22T15:00", "UTC");
        let cases = [
            ("30m", "2026-11-22T15:30"),
            ("2h", "2026-11-22T17:00"),
            ("1d", "2026-11-23T15:00"),
            ("1w", "2026-11-29T15:00"),
            ("1h30m", "2026-11-22T16:30"),
            ("1h 30m", "2026-11-22T16:30"),
            ("90m", "2026-11-22T16:30"),
            ("45s", "2026-11-22T15:00:45"),
            ("2H", "2026-11-22T17:00"),
        ];
        for (input, want) in cases {
            let got = after(&now, input).unwrap();
            assert_eq!(got.datetime(), want.parse::<DateTime>().unwrap(), "{input}");
        }
        for bad in [
            "",
            "m",
            "30",
            "2x",
            "1h30",
            "-1h",
            "h2",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert!(parse_in(bad).is_err(), "{bad:?} should not parse");
        }
        let msg = parse_in("soon").unwrap_err().to_string();
        assert!(msg.contains("\"soon\"") && msg.contains("1h30m"), "{msg}");
    }

    #[test]
    fn a_day_later_keeps_the_wall_clock_across_dst() {
        // Paris leaves summer time on 25 Oct 2026: 1d is 25 hours that day.
        let now = at("2026-10-24T09:00", "Europe/Paris");
        let later = after(&now, "1d").unwrap();
        assert_eq!(later.datetime(), "2026-10-25T09:00".parse::<DateTime>().unwrap());
        assert_eq!(
            later.timestamp().as_second() - now.timestamp().as_second(),
            25 * 3600
        );
    }

    #[test]
    fn absolute_times_are_local() {
        let now = at("2026-11-22T15:00", "America/New_York");
        let z = parse_at("2026-12-01 09:00", &now).unwrap();
        assert_eq!(z.datetime(), "2026-12-01T09:00".parse::<DateTime>().unwrap());
        // 09:00 in New York (EST) is 14:00 UTC.
        assert_eq!(z.timestamp().to_string(), "2026-12-01T14:00:00Z");
        assert_eq!(parse_at("2026-12-01T09:00", &now).unwrap(), z);
        assert_eq!(
            parse_at("2026-12-01 09:00:30", &now).unwrap().datetime(),
            "2026-12-01T09:00:30".parse::<DateTime>().unwrap()
        );
    }

    #[test]
    fn bare_times_are_the_next_occurrence() {
        let now = at("2026-11-22T15:00", "UTC");
        assert_eq!(
            parse_at("18:00", &now).unwrap().datetime(),
            "2026-11-22T18:00".parse::<DateTime>().unwrap()
        );
        assert_eq!(
            parse_at("09:00", &now).unwrap().datetime(),
            "2026-11-23T09:00".parse::<DateTime>().unwrap()
        );
        assert_eq!(
            parse_at("15:00", &now).unwrap().datetime(),
            "2026-11-23T15:00".parse::<DateTime>().unwrap()
        );
        assert_eq!(
            parse_at("tomorrow 09:00", &now).unwrap().datetime(),
            "2026-11-23T09:00".parse::<DateTime>().unwrap()
        );
        assert_eq!(
            parse_at("Tomorrow 9:30", &now).ok().map(|z| z.datetime()),
            "2026-11-23T09:30".parse::<DateTime>().ok()
        );
        // "today" may be in the past: the server says so.
        assert_eq!(
            parse_at("today 09:00", &now).unwrap().datetime(),
            "2026-11-22T09:00".parse::<DateTime>().unwrap()
        );
        // Year end.
        let eve = at("2026-12-31T23:00", "UTC");
        assert_eq!(
            parse_at("tomorrow 08:00", &eve).unwrap().datetime(),
            "2027-01-01T08:00".parse::<DateTime>().unwrap()
        );
    }

    #[test]
    fn nonsense_is_an_error_with_the_formats() {
        let now = at("2026-11-22T15:00", "UTC");
        for bad in [
            "",
            "next tuesday",
            "2026-13-01 09:00",
            "2026-12-01",
            "25:00",
            "tomorrow",
            "12/01 9am",
        ] {
            let err = parse_at(bad, &now).unwrap_err();
            assert!(err.to_string().contains("tomorrow 09:00"), "{bad}: {err}");
        }
    }

    #[test]
    fn human_form() {
        let now = at("2026-11-23T10:00", "UTC");
        let due = at("2026-12-01T09:00", "UTC");
        assert_eq!(describe(&due, &now), "Tue 1 Dec 09:00 (in 8d)");
        let soon = at("2026-11-23T12:05", "UTC");
        assert_eq!(describe(&soon, &now), "Mon 23 Nov 12:05 (in 2h 5m)");
        let next_year = at("2027-01-05T08:00", "UTC");
        assert!(describe(&next_year, &now).starts_with("Tue 5 Jan 2027 08:00"));
        assert_eq!(relative(&now, &soon), "2h ago");
    }

    #[test]
    fn relative_times_past_and_future() {
        let now = at("2026-11-23T10:00", "Asia/Tokyo");
        let ago = |secs: i64| relative(&now.checked_sub(Span::new().seconds(secs)).unwrap(), &now);
        let ahead = |secs: i64| relative(&now.checked_add(Span::new().seconds(secs)).unwrap(), &now);
        assert_eq!(ago(10), "just now");
        assert_eq!(ago(5 * 60), "5m ago");
        assert_eq!(ago(3 * 3600 + 1700), "3h ago");
        assert_eq!(ago(30 * 3600), "yesterday");
        assert_eq!(ago(4 * 86_400), "4d ago");
        // Older than a week: the local date (08:00 and 23:00 Tokyo time;
        // in UTC both are on the 12th).
        assert_eq!(ago(10 * 86_400 + 2 * 3600), "2026-11-13");
        assert_eq!(ago(10 * 86_400 + 11 * 3600), "2026-11-12");
        assert_eq!(ahead(40), "in 40s");
        assert_eq!(ahead(30 * 60), "in 30m");
        assert_eq!(ahead(3 * 3600), "in 3h");
        assert_eq!(ahead(8 * 86_400), "in 8d");
    }

    #[test]
    fn clocks_are_local_with_the_date_when_not_today() {
        let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
        let now = at("2026-12-02T20:52", "Asia/Tokyo");
        // 11:52 UTC is 20:52 in Tokyo: the example.
        let wire: Timestamp = "2026-12-02T11:52Z".parse().unwrap();
        assert_eq!(clock(&in_zone(wire, &tokyo), &now), "20:52");
        // 23:30 UTC on the 1st is 08:30 on the 2nd in Tokyo: still today.
        let early: Timestamp = "2026-12-01T23:30Z".parse().unwrap();
        assert_eq!(clock(&in_zone(early, &tokyo), &now), "08:30");
        let yesterday: Timestamp = "2026-12-01T12:00Z".parse().unwrap();
        assert_eq!(clock(&in_zone(yesterday, &tokyo), &now), "2026-12-01 21:00");
        // The test zone override reaches display_zone.
        let shown = with_zone(tokyo.clone(), display_zone);
        assert_eq!(shown.iana_name(), Some("Asia/Tokyo"));
    }
}

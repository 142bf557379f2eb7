//! Output: exactly one JSON document on stdout with `--json`; otherwise
//! human lines, coloured only on a terminal and without `NO_COLOR`
//! (anstream strips styles when stdout is piped). Every string that came
//! from the server goes through [`crate::sanitize`] before it is printed in
//! human mode; JSON keeps the exact text (JSON escaping makes it safe).

use crate::when;
use anstyle::{AnsiColor, Style};
use mchat_shared::Timestamp;
use serde::Serialize;
use std::borrow::Cow;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

pub const BOLD: Style = Style::new().bold();
pub const DIM: Style = Style::new().dimmed();
pub const GREEN: Style = AnsiColor::Green.on_default();
pub const YELLOW: Style = AnsiColor::Yellow.on_default();
pub const RED: Style = AnsiColor::Red.on_default();
pub const CYAN: Style = AnsiColor::Cyan.on_default();
pub const BADGE: Style = AnsiColor::Magenta.on_default().bold();

#[derive(Debug, Clone, Copy)]
pub struct Out {
    pub json: bool,
    pub quiet: bool,
    pub verbose: bool,
}

impl Out {
    /// Prints `value` as the command's one JSON document.
    pub fn json<T: Serialize>(&self, value: &T) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(value)?;
        write_stdout(format_args!("{text}"));
        Ok(())
    }

    /// A human line on stdout (styles stripped when piped).
    pub fn line(&self, text: impl std::fmt::Display) {
        write_stdout(format_args!("{text}"));
    }

    /// A side remark on stderr (suppressed by `-q`, and in JSON mode kept off stdout).
    pub fn note(&self, text: impl std::fmt::Display) {
        if !self.quiet {
            anstream::eprintln!("{text}");
        }
    }
}

/// Writes one line to stdout. When the reader has gone away (`mchat inbox |
/// head`), stop quietly like any Unix filter instead of failing.
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = anstream::stdout();
    stdout_written(writeln!(out, "{args}").and_then(|()| out.flush()));
}

/// Writes bytes to stdout as they are (no styling, no newline added), with
/// the same handling of a reader that has gone away.
pub fn write_stdout_bytes(bytes: &[u8]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    stdout_written(out.write_all(bytes).and_then(|()| out.flush()));
}

fn stdout_written(result: std::io::Result<()>) {
    if let Err(e) = result {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("mchat: cannot write to stdout: {e}");
        std::process::exit(i32::from(super::exit::FAILURE));
    }
}

/// Network text, made safe for one line.
pub fn safe(s: &str) -> Cow<'_, str> {
    crate::sanitize::line(s)
}

/// Network text, made safe, keeping newlines.
pub fn safe_text(s: &str) -> Cow<'_, str> {
    crate::sanitize::text(s)
}

/// How many columns a display name may take in a CLI table.
pub const DISPLAY_NAME_COLUMN: usize = 24;

/// A display name for the column beside a username. The CLI names people
/// by username, the name they type and the one nobody can imitate (the
/// server refuses look-alikes), with the display name beside it: display
/// names are free text and may still look like someone else's.
pub fn display_cell(display_name: &str) -> String {
    truncate(&safe(display_name), DISPLAY_NAME_COLUMN)
}

/// Wraps `text` in `style`.
pub fn paint(style: Style, text: impl std::fmt::Display) -> String {
    format!("{style}{text}{style:#}")
}

/// [`crate::when::relative`] for a wire time, from now.
pub fn relative(t: Timestamp) -> String {
    relative_from(t, Timestamp::now())
}

/// [`crate::when::relative`] for wire times (the TUI passes its frame's `now`).
pub fn relative_from(t: Timestamp, now: Timestamp) -> String {
    let tz = when::display_zone();
    when::relative(&when::in_zone(t, &tz), &when::in_zone(now, &tz))
}

/// The local clock time of a message: `HH:MM` today, otherwise the date
/// too (see [`crate::when::display_zone`] for the zone).
pub fn clock(t: Timestamp) -> String {
    clock_at(t, Timestamp::now())
}

/// [`clock`] with "today" taken from `now` (the TUI's frame time).
pub fn clock_at(t: Timestamp, now: Timestamp) -> String {
    let tz = when::display_zone();
    when::clock(&when::in_zone(t, &tz), &when::in_zone(now, &tz))
}

/// The one byte size for people: 512 B, 1.5 KiB, 2.0 MiB. Binary units,
/// because the server's limits are powers of two (`files.max_bytes` is
/// 100 MiB, printed as such rather than "104.9 MB") and the upload progress
/// bar (indicatif) counts in KiB/MiB as well.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Display width of already-sanitised text (no escape sequences inside):
/// wide CJK and emoji count as two columns, combining marks as none.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// Cuts `s` to at most `max` columns, with an ellipsis when cut (and
/// nothing at all for 0 columns: never wider than `max`).
pub fn truncate(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = UnicodeWidthChar::width(c).unwrap_or(0);
        if w + cw + 1 > max {
            break;
        }
        out.push(c);
        w += cw;
    }
    if max > 0 {
        out.push('…');
    }
    out
}

/// Pads `s` with spaces to `cols` display columns.
pub fn pad(s: &str, cols: usize) -> String {
    let w = width(s);
    if w >= cols {
        s.to_string()
    } else {
        format!("{s}{}", " ".repeat(cols - w))
    }
}

/// Renders rows as aligned columns (cells already sanitised; styles are
/// applied by the caller after padding).
pub fn columns(rows: &[Vec<String>]) -> Vec<usize> {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    (0..n)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| width(c))
                .max()
                .unwrap_or(0)
        })
        .collect()
}

/// The text without our own styling (SGR sequences `ESC [ ... m`), for tests
/// that check what a human line says.
#[cfg(test)]
pub fn unstyled(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::SignedDuration;

    #[test]
    fn relative_times() {
        let now = Timestamp::now();
        assert_eq!(
            relative_from(now - SignedDuration::from_secs(10), now),
            "just now"
        );
        assert_eq!(relative_from(now - SignedDuration::from_mins(5), now), "5m ago");
        assert_eq!(relative_from(now - SignedDuration::from_hours(3), now), "3h ago");
        assert_eq!(
            relative_from(now - SignedDuration::from_hours(30), now),
            "yesterday"
        );
        assert_eq!(
            relative_from(now - SignedDuration::from_hours(4 * 24), now),
            "4d ago"
        );
        assert_eq!(relative_from(now + SignedDuration::from_mins(30), now), "in 30m");
    }

    #[test]
    fn clock_is_local() {
        let tokyo = jiff::tz::TimeZone::get("Asia/Tokyo").unwrap();
        let now: Timestamp = "2026-12-02T11:52Z".parse().unwrap();
        let earlier: Timestamp = "2026-12-02T02:05Z".parse().unwrap();
        when::with_zone(tokyo, || {
            assert_eq!(clock_at(now, now), "20:52");
            assert_eq!(clock_at(earlier, now), "11:05");
            assert_eq!(
                clock_at(now - SignedDuration::from_hours(24), now),
                "2026-12-01 20:52"
            );
        });
        let utc = jiff::tz::TimeZone::UTC;
        when::with_zone(utc, || assert_eq!(clock_at(now, now), "11:52"));
    }

    #[test]
    fn sizes_are_binary() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(human_size(100 * 1024 * 1024), "100.0 MiB");
        assert_eq!(human_size(5 * 1024 * 1024 * 1024 * 1024 * 1024), "5120.0 TiB");
    }

    #[test]
    fn widths_and_truncation() {
        assert_eq!(width("abc"), 3);
        assert_eq!(width("語語"), 4);
        assert_eq!(truncate("hello world", 6), "hello…");
        assert_eq!(truncate("語語語語", 5), "語語…");
        assert_eq!(truncate("abc", 0), "");
        assert_eq!(pad("語", 4), "語  ");
        assert_eq!(width("e\u{301}"), 1, "a combining mark takes no column");
        assert_eq!(width("🎉"), 2);
    }
}

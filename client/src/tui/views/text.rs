//! Width-aware text helpers: wrapping and truncation by display columns
//! (CJK and emoji count two), on strings that were already sanitised.

use crate::sanitize::line;
use unicode_width::UnicodeWidthChar;

/// The CLI's width and truncation: one implementation of each job.
pub use crate::cli::output::{truncate, width};

/// A person as every view names them: display name, then ` @username`
/// (both sanitised here), to style apart. Display names are free text and
/// may look like someone else's; usernames cannot (the server refuses
/// look-alikes), so within `max` columns the username is kept whole and the
/// display name is cut first.
pub fn person(display_name: &str, username: &str, max: usize) -> (String, String) {
    let handle = format!("@{}", line(username));
    let room = max.saturating_sub(width(&handle) + 1);
    if room == 0 {
        return (String::new(), truncate(&handle, max));
    }
    (truncate(&line(display_name), room), format!(" {handle}"))
}

/// Wraps `s` (which may contain newlines) to `max` columns: at spaces when
/// possible, inside long words otherwise. Never returns an empty list.
pub fn wrap(s: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut out = Vec::new();
    for para in s.split('\n') {
        let mut line = String::new();
        let mut used = 0;
        for word in para.split_inclusive(' ') {
            let ww = width(word);
            if used + ww.saturating_sub(usize::from(word.ends_with(' '))) > max && !line.is_empty() {
                out.push(line.trim_end().to_string());
                line.clear();
                used = 0;
            }
            if width(word.trim_end_matches(' ')) > max {
                for c in word.chars() {
                    let cw = c.width().unwrap_or(0);
                    if used + cw > max {
                        out.push(std::mem::take(&mut line));
                        used = 0;
                    }
                    line.push(c);
                    used += cw;
                }
            } else {
                line.push_str(word);
                used += ww;
            }
        }
        out.push(line.trim_end().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_by_columns() {
        assert_eq!(wrap("hello world", 5), vec!["hello", "world"]);
        assert_eq!(wrap("漢字漢字漢字", 4), vec!["漢字", "漢字", "漢字"]);
        assert_eq!(wrap("a\nb", 10), vec!["a", "b"]);
        assert!(wrap("", 3) == vec![String::new()]);
        for l in wrap("🎉🎉🎉 abc 漢字", 3) {
            assert!(width(&l) <= 3, "{l}");
        }
        assert_eq!(truncate("漢字漢字", 5), "漢字…");
    }

    #[test]
    fn people_keep_their_username_when_cut() {
        let both = |(a, b): (String, String)| format!("{a}{b}");
        assert_eq!(both(person("Mona Lisa", "mona", 40)), "Mona Lisa @mona");
        assert_eq!(both(person("Mona Lisa", "mona", 10)), "Mon… @mona");
        assert_eq!(both(person("Mona Lisa", "mona", 5)), "@mona");
        assert_eq!(both(person("Mona Lisa", "mona", 3)), "@m…");
        assert_eq!(both(person("漢字漢字", "li", 8)), "漢… @li");
        let hostile = both(person("x\u{1b}[2J", "eve", 20));
        assert!(
            !hostile.contains('\u{1b}') && hostile.ends_with(" @eve"),
            "{hostile:?}"
        );
        for max in 0..20 {
            assert!(
                width(&both(person("Ben 漢字 🎉", "ben.carter", max))) <= max,
                "{max}"
            );
        }
    }
}

//! The one terminal sanitiser: every piece of text that came from the server
//! (message bodies, display names, headlines, file names, previews) passes
//! through [`text`] or [`line`] before it reaches a terminal, in the TUI and
//! in human CLI output alike (DESIGN.md §5, "Untrusted text").
//!
//! # What changes
//!
//! | input                                              | output                         |
//! |----------------------------------------------------|--------------------------------|
//! | C0 controls U+0000–U+001F (except `\n`, `\t`)      | control picture: `␀` … `␟`     |
//! | DEL U+007F                                         | `␡`                            |
//! | C1 controls U+0080–U+009F (8-bit CSI, OSC, …)      | `<U+009B>`                     |
//! | bidi controls (`is_bidi_control`)                  | `<U+202E>`                     |
//! | invisible characters (`is_invisible`)              | `<U+200B>`                     |
//! | U+2028/U+2029, other hiding/reordering format chars| `<U+2028>`                     |
//! | `\n`, `\t` in [`line`]                             | `⏎`, a space                   |
//!
//! Everything else — CJK, emoji, combining marks, right-to-left letters,
//! private-use icons — is returned unchanged, and clean input is returned as
//! [`Cow::Borrowed`] without allocating.
//!
//! # Escape sequences
//!
//! Only the introducer is replaced: ESC becomes `␛` and the 8-bit
//! introducers (CSI U+009B, OSC U+009D, DCS U+0090, ST U+009C, …) become
//! `<U+009B>` and so on. The rest of the sequence (`[2J`, `]52;c;…`) stays as
//! inert printable text. This is safe because a terminal only interprets a
//! sequence that *starts* with a control character, and after sanitising
//! there is none left (no C0 but `\n`/`\t`, no DEL, no C1). The body is kept
//! deliberately rather than parsed away: a parser that drops "the rest of an
//! unterminated OSC string" would hand an attacker a way to make legitimate
//! text disappear, whereas showing `␛]0;pwned␇` tells the reader exactly what
//! was attempted. It also keeps the function a context-free, idempotent
//! character map (plus the joiner rule below).
//!
//! # Joiners
//!
//! Zero-width joiner U+200D and zero-width non-joiner U+200C are invisible, so
//! they are shown as `<U+200D>`/`<U+200C>` — except where they do a visible
//! job:
//! - a ZWJ directly between two emoji (U+1F000–U+1FAFF, U+2600–U+27BF,
//!   U+2B00–U+2BFF, the arrows U+2194–U+2199 and the emoji presentation
//!   selector U+FE0F), so family, profession and flag sequences such as
//!   `👩‍💻`, `👨‍👩‍👧` or `🏳️‍🌈` keep rendering as one picture;
//! - a ZWJ or ZWNJ directly between two characters of a script that uses them
//!   for shaping (the Arabic family incl. Syriac and Thaana, the Indic blocks
//!   U+0900–U+0DFF, Myanmar, Khmer, Mongolian, Arabic presentation forms), so
//!   Persian `می‌خواهم` or Sinhala `ශ්‍රී` are not littered with escapes. This
//!   extends the brief's emoji-only rule: those joiners change glyph shapes,
//!   never order, and display names cannot contain them at all (the server
//!   rejects invisible characters there).
//!
//! The neighbours are looked at in the input, and only neighbours that are
//! themselves passed through unchanged count, which keeps the function
//! idempotent. Tag characters U+E0000–U+E007F are shown too (they can
//! smuggle invisible ASCII), except inside the three RGI subdivision flags
//! (England, Scotland, Wales).

use mchat_shared::validate::{is_bidi_control, is_invisible};
use std::borrow::Cow;
use std::fmt::Write as _;

/// Sanitises multi-line text (message bodies, bios): keeps `\n` and `\t`,
/// makes every other control, escape introducer, bidi control and invisible
/// character visible (see the module docs). Returns [`Cow::Borrowed`] when
/// nothing needed changing.
pub fn text(s: &str) -> Cow<'_, str> {
    sanitize(s, Mode::Text)
}

/// Sanitises text shown on one line (names, headlines, file names, message
/// previews): like [`text`], and in addition a newline becomes `⏎` (U+23CE,
/// so merged lines stay recognisable) and a tab becomes one space. The result
/// contains no control character at all.
pub fn line(s: &str) -> Cow<'_, str> {
    sanitize(s, Mode::Line)
}

/// Hostile inputs for tests across the workspace: every entry must come out
/// of [`text`] and [`line`] with no escape sequence, control character or
/// bidi control left. Each entry is documented next to it.
pub const HOSTILE: &[&str] = &[
    // CSI ED 2: clears the whole screen (wipes the conversation from view).
    "\x1b[2J",
    // CSI CUU 1: cursor up one line, so the next text overwrites the previous message.
    "\x1b[1A",
    // OSC 0 terminated by BEL: sets the window title.
    "\x1b]0;pwned\x07",
    // OSC 52: writes "evil" (base64) into the system clipboard.
    "\x1b]52;c;ZXZpbA==\x07",
    // OSC 8 hyperlink terminated by ST: the text "click" silently links to http://evil.
    "\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\",
    // 8-bit C1 CSI (U+009B) + SGR 31: red text on terminals that honour C1 controls.
    "\u{9b}31m",
    // 8-bit OSC (U+009D) title change terminated by 8-bit ST (U+009C).
    "\u{9d}0;pwned\u{9c}",
    // DCS DECRQSS: asks the terminal to answer, which types the answer into the user's input.
    "\x1bP$qm\x1b\\",
    // CSI DSR 6: cursor position report, another way to inject a reply into the input.
    "\x1b[6n",
    // Fake bracketed-paste end: anything after it would be treated as typed, not pasted.
    "\x1b[201~rm -rf ~\n",
    // Switch to the alternate screen: the conversation vanishes.
    "\x1b[?1049h",
    // RIS: full terminal reset.
    "\x1bc",
    // SGR 8 (concealed): the following text is invisible.
    "\x1b[8mhidden",
    // Carriage return: "EVIL" overwrites "safe text" on the same line.
    "safe text\rEVIL",
    // Backspaces erase what came before.
    "rm -rf /tmp/x\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08ls",
    // A bell flood.
    "\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07",
    // DEL and vertical tab / form feed.
    "a\x7fb\x0bc\x0cd",
    // U+202E RIGHT-TO-LEFT OVERRIDE: "exe.txt" reads as "txt.exe".
    "invoice\u{202E}txt.exe",
    // Bidi isolate that is never closed, reordering everything after it.
    "\u{2067}admin",
    // Zero-width joiner and zero-width space between letters: look-alike names.
    "pay\u{200D}pal ad\u{200B}min",
    // NUL: truncates in C-string consumers, invisible elsewhere.
    "before\0after",
    // Unicode line and paragraph separators: break lines where no newline is visible.
    "one\u{2028}two\u{2029}three",
    // Tag characters smuggling invisible ASCII ("hi") after ordinary text.
    "ok\u{E0068}\u{E0069}",
    // Interlinear annotation characters hiding text.
    "\u{FFF9}shown\u{FFFA}hidden\u{FFFB}",
    // 8-bit NEL (U+0085): a line break some terminals honour.
    "line\u{85}break",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Text,
    Line,
}

/// What happens to one character, before looking at its neighbours.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fix {
    Keep,
    /// Replaced by one visible character.
    Char(char),
    /// Replaced by `<U+XXXX>`.
    Hex,
}

const ZWNJ: char = '\u{200C}';
const ZWJ: char = '\u{200D}';
const BLACK_FLAG: char = '\u{1F3F4}';
/// The tag sequences of the RGI subdivision flags (after U+1F3F4):
/// `gbeng`, `gbsct`, `gbwls`, each ending with CANCEL TAG U+E007F.
const SUBDIVISION_FLAG_TAGS: [&str; 3] = [
    "\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}",
    "\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}",
    "\u{E0067}\u{E0062}\u{E0077}\u{E006C}\u{E0073}\u{E007F}",
];

fn sanitize(s: &str, mode: Mode) -> Cow<'_, str> {
    // `out` stays `None` until the first change, so clean input costs one scan.
    let mut out: Option<String> = None;
    let mut i = 0;
    while let Some(c) = s[i..].chars().next() {
        let next_i = i + c.len_utf8();
        if c == BLACK_FLAG
            && let Some(tags) = SUBDIVISION_FLAG_TAGS
                .iter()
                .find(|t| s[next_i..].starts_with(**t))
        {
            let end = next_i + tags.len();
            if let Some(o) = out.as_mut() {
                o.push_str(&s[i..end]);
            }
            i = end;
            continue;
        }
        let mut fix = classify(c, mode);
        if (c == ZWJ || c == ZWNJ) && joins(s[..i].chars().next_back(), c, s[next_i..].chars().next()) {
            fix = Fix::Keep;
        }
        match fix {
            Fix::Keep => {
                if let Some(o) = out.as_mut() {
                    o.push(c);
                }
            }
            Fix::Char(r) => start(&mut out, s, i).push(r),
            Fix::Hex => {
                // Writing into a String cannot fail.
                let _ = write!(start(&mut out, s, i), "<U+{:04X}>", u32::from(c));
            }
        }
        i = next_i;
    }
    match out {
        Some(o) => Cow::Owned(o),
        None => Cow::Borrowed(s),
    }
}

/// The output buffer, created on the first change with the clean prefix.
fn start<'a>(out: &'a mut Option<String>, s: &str, i: usize) -> &'a mut String {
    out.get_or_insert_with(|| {
        let mut o = String::with_capacity(s.len() + 16);
        o.push_str(&s[..i]);
        o
    })
}

/// The context-free rule for one character.
fn classify(c: char, mode: Mode) -> Fix {
    match c {
        '\n' if mode == Mode::Line => Fix::Char('\u{23CE}'),
        '\t' if mode == Mode::Line => Fix::Char(' '),
        '\n' | '\t' => Fix::Keep,
        // C0: the Control Pictures block mirrors it at U+2400.
        '\0'..='\x1f' => Fix::Char(char::from_u32(0x2400 + u32::from(c)).unwrap_or('\u{FFFD}')),
        '\x7f' => Fix::Char('\u{2421}'),
        '\u{80}'..='\u{9f}' => Fix::Hex,
        c if is_bidi_control(c) || is_invisible(c) || is_hidden_format(c) => Fix::Hex,
        _ => Fix::Keep,
    }
}

/// Format and separator characters beyond the shared bidi/invisible lists
/// that can break lines, hide text or render as blanks.
fn is_hidden_format(c: char) -> bool {
    matches!(
        c,
        // LINE SEPARATOR, PARAGRAPH SEPARATOR.
        '\u{2028}' | '\u{2029}'
        // The rest of the invisible-operator/format range (U+2065 is reserved,
        // U+206A–U+206F are deprecated format controls).
        | '\u{2065}' | '\u{206A}'..='\u{206F}'
        // Hangul fillers: letters that render as nothing (blank-name trick).
        | '\u{3164}' | '\u{FFA0}'
        // Interlinear annotation anchor/separator/terminator.
        | '\u{FFF9}'..='\u{FFFB}'
        // Egyptian hieroglyph, shorthand and musical format controls.
        | '\u{13430}'..='\u{1343F}' | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}'
        // Tag characters (invisible ASCII).
        | '\u{E0000}'..='\u{E007F}'
    )
}

/// Whether a joiner between `prev` and `next` does a visible job (see the
/// module docs). Only neighbours that pass through unchanged count.
fn joins(prev: Option<char>, joiner: char, next: Option<char>) -> bool {
    let (Some(prev), Some(next)) = (prev, next) else {
        return false;
    };
    let script = |c: char| is_joining_script(c) && classify(c, Mode::Text) == Fix::Keep;
    (joiner == ZWJ && is_emoji(prev) && is_emoji(next)) || (script(prev) && script(next))
}

/// Emoji-ish code points that take part in ZWJ sequences.
fn is_emoji(c: char) -> bool {
    matches!(
        c,
        '\u{1F000}'..='\u{1FAFF}'
            | '\u{2600}'..='\u{27BF}'
            | '\u{2B00}'..='\u{2BFF}'
            | '\u{2194}'..='\u{2199}'
            | '\u{FE0F}'
    )
}

/// Scripts that use ZWJ/ZWNJ to control shaping.
fn is_joining_script(c: char) -> bool {
    matches!(
        c,
        // Arabic, Syriac, Arabic Supplement, Thaana, NKo, Samaritan, Mandaic,
        // Syriac Supplement, Arabic Extended-B/A.
        '\u{0600}'..='\u{08FF}'
        // Devanagari … Sinhala.
        | '\u{0900}'..='\u{0DFF}'
        | '\u{1000}'..='\u{109F}' // Myanmar
        | '\u{1780}'..='\u{17FF}' // Khmer
        | '\u{1800}'..='\u{18AF}' // Mongolian
        | '\u{FB50}'..='\u{FDFF}' // Arabic Presentation Forms-A
        | '\u{FE70}'..='\u{FEFF}' // Arabic Presentation Forms-B
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Unicode 15.1 general category Cf, as ranges (independent of the code under test).
    const CF: &[(u32, u32)] = &[
        (0x00AD, 0x00AD),
        (0x0600, 0x0605),
        (0x061C, 0x061C),
        (0x06DD, 0x06DD),
        (0x070F, 0x070F),
        (0x0890, 0x0891),
        (0x08E2, 0x08E2),
        (0x180E, 0x180E),
        (0x200B, 0x200F),
        (0x202A, 0x202E),
        (0x2060, 0x2064),
        (0x2066, 0x206F),
        (0xFEFF, 0xFEFF),
        (0xFFF9, 0xFFFB),
        (0x110BD, 0x110BD),
        (0x110CD, 0x110CD),
        (0x13430, 0x1343F),
        (0x1BCA0, 0x1BCA3),
        (0x1D173, 0x1D17A),
        (0xE0001, 0xE0001),
        (0xE0020, 0xE007F),
    ];

    /// Cf characters that are visible glyphs (prepended concatenation marks
    /// such as the Arabic number sign) and may stay.
    fn visible_format(c: char) -> bool {
        matches!(
            c,
            '\u{0600}'
                ..='\u{0605}'
                    | '\u{06DD}'
                    | '\u{070F}'
                    | '\u{0890}'
                    | '\u{0891}'
                    | '\u{08E2}'
                    | '\u{110BD}'
                    | '\u{110CD}'
        )
    }

    fn is_cf(c: char) -> bool {
        CF.iter().any(|&(a, b)| (a..=b).contains(&u32::from(c)))
    }

    /// Checks every safety property of one output; `single` for [`line`].
    fn assert_safe(out: &str, single: bool) {
        // Byte ranges of the tag sequences of RGI subdivision flags.
        let flag_tags: Vec<std::ops::Range<usize>> = out
            .match_indices(BLACK_FLAG)
            .filter_map(|(p, f)| {
                let from = p + f.len();
                SUBDIVISION_FLAG_TAGS
                    .iter()
                    .find(|t| out[from..].starts_with(**t))
                    .map(|t| from..from + t.len())
            })
            .collect();
        let indexed: Vec<(usize, char)> = out.char_indices().collect();
        let chars: Vec<char> = indexed.iter().map(|&(_, c)| c).collect();
        for (k, &(at, c)) in indexed.iter().enumerate() {
            if c.is_control() {
                assert!(
                    !single && (c == '\n' || c == '\t'),
                    "control {c:?} left in {out:?}"
                );
            }
            assert_ne!(c, '\x1b', "ESC left in {out:?}");
            assert!(!('\u{80}'..='\u{9f}').contains(&c), "C1 left in {out:?}");
            assert!(!is_bidi_control(c), "bidi control left in {out:?}");
            assert!(!matches!(c, '\u{2028}' | '\u{2029}'), "separator left in {out:?}");
            if c == ZWJ || c == ZWNJ {
                let prev = k.checked_sub(1).map(|p| chars[p]);
                assert!(
                    joins(prev, c, chars.get(k + 1).copied()),
                    "stray joiner in {out:?}"
                );
            } else if ('\u{E0000}'..='\u{E007F}').contains(&c) {
                // Only inside an RGI subdivision flag.
                let ok = flag_tags.iter().any(|r| r.contains(&at));
                assert!(ok, "tag character left in {out:?}");
            } else if is_cf(c) {
                assert!(
                    visible_format(c),
                    "format character U+{:04X} left in {out:?}",
                    u32::from(c)
                );
            } else {
                assert!(!is_invisible(c), "invisible left in {out:?}");
            }
        }
    }

    #[test]
    fn hostile_corpus_is_neutralised() {
        for h in HOSTILE {
            let t = text(h);
            let l = line(h);
            assert!(matches!(t, Cow::Owned(_)), "{h:?} must change");
            assert_safe(&t, false);
            assert_safe(&l, true);
            assert_eq!(text(&t), t, "idempotent on {h:?}");
            assert_eq!(line(&l), l, "idempotent on {h:?}");
        }
    }

    #[test]
    fn hostile_expected_renderings() {
        let cases: &[(&str, &str)] = &[
            ("\x1b[2J", "␛[2J"),
            ("\x1b[1A", "␛[1A"),
            ("\x1b]0;pwned\x07", "␛]0;pwned␇"),
            ("\x1b]52;c;ZXZpbA==\x07", "␛]52;c;ZXZpbA==␇"),
            (
                "\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\",
                "␛]8;;http://evil␛\\click␛]8;;␛\\",
            ),
            ("\u{9b}31m", "<U+009B>31m"),
            ("\u{9d}0;pwned\u{9c}", "<U+009D>0;pwned<U+009C>"),
            ("\x1bP$qm\x1b\\", "␛P$qm␛\\"),
            ("\x1b[201~rm -rf ~\n", "␛[201~rm -rf ~\n"),
            ("safe text\rEVIL", "safe text␍EVIL"),
            ("ab\x08\x08cd", "ab␈␈cd"),
            ("\x07\x07", "␇␇"),
            ("a\x7fb", "a␡b"),
            ("invoice\u{202E}txt.exe", "invoice<U+202E>txt.exe"),
            ("pay\u{200D}pal", "pay<U+200D>pal"),
            ("ad\u{200B}min", "ad<U+200B>min"),
            ("before\0after", "before␀after"),
            ("one\u{2028}two", "one<U+2028>two"),
            ("ok\u{E0068}", "ok<U+E0068>"),
            ("\u{FEFF}bom", "<U+FEFF>bom"),
            ("soft\u{AD}hyphen", "soft<U+00AD>hyphen"),
            ("\u{3164}", "<U+3164>"),
        ];
        for (input, want) in cases {
            assert_eq!(text(input), *want, "{input:?}");
        }
        // The whole hostile string is there, visibly: nothing is dropped.
        assert_eq!(line("\x1b[201~rm -rf ~\n"), "␛[201~rm -rf ~⏎");
        assert_eq!(line("a\tb\nc"), "a b⏎c");
        assert_eq!(text("a\tb\nc"), "a\tb\nc");
    }

    #[test]
    fn clean_text_is_borrowed() {
        for s in [
            "",
            "hello, world",
            "line one\n\tline two",
            "日本語のテキスト 中文 한국어",
            "emoji 😀🎉 flags 🇫🇷🇯🇵 keycap 1️⃣ skin 👍🏽",
            "family 👨\u{200D}👩\u{200D}👧\u{200D}👦 coder 👩🏽\u{200D}💻 rainbow 🏳\u{FE0F}\u{200D}🌈",
            "heart on fire ❤\u{FE0F}\u{200D}🔥 pirate 🏴\u{200D}☠\u{FE0F} black cat 🐈\u{200D}⬛",
            "walking right 🚶\u{200D}➡\u{FE0F} shaking 🙂\u{200D}↔\u{FE0F}",
            "England 🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F} Wales 🏴\u{E0067}\u{E0062}\u{E0077}\u{E006C}\u{E0073}\u{E007F}",
            "combining e\u{0301} a\u{0308} Zalgo-lite o\u{0336}",
            "مرحبا بالعالم שלום עולם",
            "Persian می\u{200C}خواهم Sinhala ශ්\u{200D}රී Hindi क्\u{200D}ष",
            "Arabic number sign \u{0600}123",
            "nbsp\u{A0}and em\u{2003}space",
            "private use \u{E0A0}",
            "<U+202E> typed literally",
        ] {
            let t = text(s);
            assert!(matches!(t, Cow::Borrowed(_)), "{s:?} became {t:?}");
            assert_eq!(t, s);
        }
        assert!(matches!(line("Ada Lovelace 🧑\u{200D}🔬"), Cow::Borrowed(_)));
    }

    #[test]
    fn joiner_rules() {
        // ZWJ only between two emoji (or two characters of a joining script).
        assert_eq!(text("\u{200D}😀"), "<U+200D>😀");
        assert_eq!(text("😀\u{200D}"), "😀<U+200D>");
        assert_eq!(text("😀\u{200D}a"), "😀<U+200D>a");
        assert_eq!(text("😀\u{200D}\u{200D}😀"), "😀<U+200D><U+200D>😀");
        // ZWNJ never joins emoji.
        assert_eq!(text("😀\u{200C}😀"), "😀<U+200C>😀");
        // Latin has no use for ZWNJ.
        assert_eq!(text("a\u{200C}b"), "a<U+200C>b");
        // A neighbour that is itself escaped does not count.
        assert_eq!(text("\u{061C}\u{200C}ب"), "<U+061C><U+200C>ب");
        // Only the three RGI subdivision flags keep their tags.
        assert_eq!(text("🏴\u{E0078}\u{E007F}"), "🏴<U+E0078><U+E007F>");
        assert_eq!(
            text("\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}")
                .matches("<U+")
                .count(),
            6
        );
    }

    /// Characters that exercise every branch, mixed with arbitrary ones.
    fn any_text() -> impl Strategy<Value = String> {
        let palette = prop::sample::select(vec![
            '\x1b',
            '\u{9b}',
            '\u{9c}',
            '\u{85}',
            '\0',
            '\r',
            '\n',
            '\t',
            '\x7f',
            '[',
            ';',
            'a',
            '<',
            'U',
            '+',
            '>',
            ZWJ,
            ZWNJ,
            '\u{FE0F}',
            '👨',
            '👩',
            '⬛',
            '❤',
            'ب',
            'ی',
            '\u{061C}',
            '\u{0600}',
            'क',
            '\u{094D}',
            BLACK_FLAG,
            '\u{E0067}',
            '\u{E0062}',
            '\u{E0065}',
            '\u{E006E}',
            '\u{E007F}',
            '\u{202E}',
            '\u{2066}',
            '\u{200B}',
            '\u{2028}',
            '\u{FEFF}',
            '\u{23CE}',
            '\u{2400}',
            ' ',
        ]);
        let ch = prop_oneof![
            3 => palette,
            1 => any::<char>(),
            1 => proptest::char::range('\0', '\u{ff}'),
            1 => proptest::char::range('\u{2000}', '\u{2070}'),
        ];
        prop::collection::vec(ch, 0..48).prop_map(String::from_iter)
    }

    fn clean_text() -> impl Strategy<Value = String> {
        let ch = prop_oneof![
            proptest::char::range(' ', '~'),
            proptest::char::range('\u{4E00}', '\u{9FFF}'),
            proptest::char::range('\u{0300}', '\u{036F}'),
            proptest::char::range('\u{0621}', '\u{064A}'),
            proptest::char::range('\u{05D0}', '\u{05EA}'),
            proptest::char::range('\u{1F600}', '\u{1F64F}'),
            prop::sample::select(vec!['\n', '\t', 'é', 'ß', '\u{A0}']),
        ];
        prop::collection::vec(ch, 0..64).prop_map(String::from_iter)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn text_is_idempotent(s in any_text()) {
            let once = text(&s).into_owned();
            prop_assert_eq!(text(&once), once.as_str());
        }

        #[test]
        fn line_is_idempotent(s in any_text()) {
            let once = line(&s).into_owned();
            prop_assert_eq!(line(&once), once.as_str());
        }

        #[test]
        fn outputs_are_safe(s in any_text()) {
            assert_safe(&text(&s), false);
            assert_safe(&line(&s), true);
        }

        #[test]
        fn borrowed_exactly_when_unchanged(s in any_text()) {
            let t = text(&s);
            prop_assert_eq!(matches!(t, Cow::Borrowed(_)), t == s.as_str());
            let l = line(&s);
            prop_assert_eq!(matches!(l, Cow::Borrowed(_)), l == s.as_str());
        }

        #[test]
        fn line_agrees_with_text(s in any_text()) {
            let t = text(&s);
            prop_assert_eq!(line(&t), line(&s));
        }

        #[test]
        fn clean_input_is_untouched(s in clean_text()) {
            let t = text(&s);
            prop_assert!(matches!(t, Cow::Borrowed(_)));
            prop_assert_eq!(t, s.as_str());
        }
    }
}

//! Look-alike names: the comparison key that says two names would be mistaken
//! for each other (issue 12, impersonation).
//!
//! The key is the UTS #39 confusable *skeleton* of the name after NFKC and
//! case folding, folded again, with runs of whitespace collapsed:
//! - NFKC + folding: `MONA`, `Ｍｏｎａ` (full width), `STRASSE`/`straße`.
//! - the skeleton: `rn` ↔ `m`, `0` ↔ `O`, `1` ↔ `l`, Cyrillic `о` ↔ Latin
//!   `o`; default-ignorable characters vanish.
//! - the fold after it: prototypes are sometimes capitals (`0` → `O`).
//! - `i` ↔ `l`: a capital `I` is drawn like `l` (`BiII` for `Bill`), but the
//!   key must be case-blind, and only an equivalence can be a stored key, so
//!   `i` and `l` are one letter here. The price is that `ali` and `all`
//!   collide; for a program with minors, refusing a rare real pair is the
//!   right side to err on.
//!
//! The server stores the key of every username and display name (indexed)
//! and refuses a new name whose key equals another user's. Keys are only ever
//! compared for equality; they are not meant to be shown. Changing this
//! function changes stored keys: a migration must then reset them so the
//! start-up backfill recomputes them.

use caseless::Caseless;
use unicode_normalization::UnicodeNormalization;
use unicode_security::confusable_detection::skeleton;

/// The comparison key of a username or display name: two names with the same
/// key look alike. Never panics, for any input.
pub fn name_key(name: &str) -> String {
    // Fold first, so the key depends on the folded name only: `MONA`, `Mona`
    // and `mona` can never get different keys.
    let folded: String = name.nfkc().default_case_fold().nfkc().collect();
    // Prototypes may be capitals (`0` → `O`) or map on (a second pass is cheap).
    let once: String = skeleton(&folded).default_case_fold().collect();
    let key: String = skeleton(&once)
        .default_case_fold()
        .nfd()
        .map(|c| if c == 'i' { 'l' } else { c })
        .nfkc()
        .collect();
    let mut out = String::with_capacity(key.len());
    for word in key.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Whether two names would be mistaken for each other.
pub fn confusable(a: &str, b: &str) -> bool {
    name_key(a) == name_key(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alikes_collide() {
        let mona = [
            "mona",
            "rnona",
            "m0na",
            "MONA",
            "Mona",
            "M\u{043E}na",  // Cyrillic о
            "\u{FF4D}ona",  // full-width m
            "mo\u{00AD}na", // soft hyphen (default ignorable)
            "\u{217F}ona",  // small roman numeral one thousand
            "r\u{0578}ona", // Armenian vo for n
        ];
        for name in mona {
            assert!(confusable(name, "mona"), "{name:?} should look like mona");
        }
        let pairs = [
            ("user1", "userl"),
            ("user1", "userI"),
            ("Ada Lovelace", "Ada  Lovelace"),
            ("Ada Lovelace", "ADA LOVELACE"),
            ("Ada Lovelace", "Ada\u{00A0}Lovelace"),
            ("Zoë", "Zoe\u{0308}"),
            ("Straße", "STRASSE"),
            ("paypal", "p\u{0430}yp\u{0430}l"),
            ("Bill", "BiII"),
            ("Lisa", "LISA"),
            ("Mona Lisa", "MONA LlSA"),
            ("ìan", "ÌAN"),
        ];
        for (a, b) in pairs {
            assert!(confusable(a, b), "{a:?} and {b:?} should collide");
        }
    }

    #[test]
    fn distinct_names_do_not_collide() {
        let pairs = [
            ("ana", "anna"),
            ("ben", "ben2"),
            ("user1", "user2"),
            ("mona", "mina"),
            ("mona", "moa"),
            ("Ana Lima", "Ana Lim"),
            ("Ada Lovelace", "AdaLovelace"),
            ("mentor1", "mentor10"),
            ("Zoë", "Zoe"),
            ("李", "季"),
            ("Ali", "Alia"),
        ];
        for (a, b) in pairs {
            assert!(!confusable(a, b), "{a:?} and {b:?} should stay distinct");
        }
    }

    #[test]
    fn key_is_trimmed_and_stable() {
        assert_eq!(name_key("  Mona   Lisa "), name_key("mona lisa"));
        for name in ["mona", "m0na", "Ada Lovelace", "Zoë 😀 李", "Straße"] {
            let key = name_key(name);
            assert_eq!(name_key(&key), key, "{name:?}: the key of a key is itself");
        }
    }

    /// Upper and lower case of every letter below U+3000 share a key.
    #[test]
    fn keys_are_case_blind() {
        for c in (0u32..0x3000)
            .filter_map(char::from_u32)
            .filter(|c| c.is_alphabetic())
        {
            let upper: String = c.to_uppercase().collect();
            let lower: String = c.to_lowercase().collect();
            assert_eq!(name_key(&upper), name_key(&lower), "{upper:?} / {lower:?}");
        }
    }

    /// The Big List of Naughty Strings: never panics, never leaves edge spaces.
    #[test]
    fn blns_never_panics() {
        let blns: Vec<String> = serde_json::from_str(include_str!("../../testdata/blns/blns.json"))
            .unwrap_or_else(|e| panic!("blns.json: {e}"));
        assert!(blns.len() > 400);
        for s in &blns {
            let key = name_key(s);
            assert!(!key.starts_with(' ') && !key.ends_with(' '), "{s:?} → {key:?}");
        }
    }
}

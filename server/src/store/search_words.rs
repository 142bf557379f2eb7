//! How text is cut into search words: runs of letters and digits, compared
//! lower-cased and without diacritics (`cafe` finds `Café`), as SQLite's
//! FTS5 `unicode61 remove_diacritics` tokenizer cuts them. The highlights
//! of every backend and PostgreSQL's index are made of these words, so a
//! search finds and marks the same words on both.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// One word of a text: where it is (char offsets, end exclusive) and the
/// form it is compared in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub start: usize,
    pub end: usize,
    pub key: String,
}

/// The form a word is compared in: without diacritics, lower-cased.
pub fn key(word: &str) -> String {
    word.nfd()
        .filter(|&c| !is_combining_mark(c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The words of `text`, in order.
pub fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    let mut n = 0;
    for (i, c) in text.chars().enumerate() {
        if c.is_alphanumeric() {
            if current.is_empty() {
                start = i;
            }
            current.push(c);
        } else if !current.is_empty() {
            out.push(Word {
                start,
                end: i,
                key: key(&current),
            });
            current.clear();
        }
        n = i + 1;
    }
    if !current.is_empty() {
        out.push(Word {
            start,
            end: n,
            key: key(&current),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_letter_and_digit_runs_compared_without_case_or_accents() {
        let w = words("Café-crème, 12 CAFÉS!");
        let keys: Vec<&str> = w.iter().map(|w| w.key.as_str()).collect();
        assert_eq!(keys, ["cafe", "creme", "12", "cafes"]);
        assert_eq!((w[0].start, w[0].end), (0, 4));
        assert_eq!((w[3].start, w[3].end), (15, 20));
        assert!(words(" -- ").is_empty());
        assert_eq!(key("ÇA"), "ca");
        assert_eq!(words("привет мир")[1].key, "мир");
    }
}

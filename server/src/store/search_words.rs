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

/// The words of `text`, in order. A run whose key is empty (combining
/// marks that count as letters, U+0345 say, and nothing else) is no word:
/// nothing can search for it, and PostgreSQL takes no empty lexeme.
pub fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    fn push(out: &mut Vec<Word>, current: &mut String, start: usize, end: usize) {
        let key = key(current);
        if !key.is_empty() {
            out.push(Word { start, end, key });
        }
        current.clear();
    }
    let mut n = 0;
    for (i, c) in text.chars().enumerate() {
        if c.is_alphanumeric() {
            if current.is_empty() {
                start = i;
            }
            current.push(c);
        } else if !current.is_empty() {
            push(&mut out, &mut current, start, i);
        }
        n = i + 1;
    }
    if !current.is_empty() {
        push(&mut out, &mut current, start, n);
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
        // U+0345 is alphabetic and a combining mark: alone, it is no word.
        assert_eq!(
            words("a \u{345} b")
                .iter()
                .map(|w| w.key.as_str())
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(key("ÇA"), "ca");
        assert_eq!(words("привет мир")[1].key, "мир");
    }
}

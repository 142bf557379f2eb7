//! Validation and normalisation rules both sides apply.
//!
//! Every function returns the normalised value (what the server stores) or a
//! [`ValidationError`] whose message is one clear sentence a CLI can print as
//! it is. Lengths are counted in Unicode scalar values (`char`s): a combining
//! mark counts as one, an emoji made of several code points counts as several.

use crate::limits::*;

/// A rejected input: which field, and a sentence saying why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    pub field: &'static str,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// Formats a count with thousands separators: `4213` → `4,213`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Bidirectional formatting controls (embeddings, overrides, isolates and marks
/// that can reorder surrounding text).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Invisible characters that make two different strings look the same.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{180E}' | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'
    )
}

/// A control character other than newline and tab (C0, DEL, C1).
fn is_forbidden_control(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

fn describe_char(c: char) -> String {
    format!("U+{:04X}", c as u32)
}

/// Usernames: 3–32 of `a-z 0-9 _ . -`, starting with a letter or digit (so a
/// username can never be mistaken for a command-line flag). Input is
/// case-folded, so `Alice` and `alice` are the same user.
pub fn username(input: &str) -> Result<String, ValidationError> {
    let name = input.trim().to_ascii_lowercase();
    let len = name.chars().count();
    if !(USERNAME_MIN..=USERNAME_MAX).contains(&len) {
        return Err(ValidationError::new(
            "username",
            format!("a username is {USERNAME_MIN} to {USERNAME_MAX} characters long; this one has {len}"),
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-')))
    {
        return Err(ValidationError::new(
            "username",
            format!(
                "a username may contain only a-z, 0-9, '_', '.' and '-'; found {}",
                if bad.is_ascii_graphic() {
                    format!("'{bad}'")
                } else {
                    describe_char(bad)
                }
            ),
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(ValidationError::new(
            "username",
            "a username must start with a letter or a digit",
        ));
    }
    Ok(name)
}

/// Rejects characters that must never appear in a single-line name or label:
/// controls, bidi controls and invisible characters.
fn plain_line(field: &'static str, what: &str, value: &str) -> Result<(), ValidationError> {
    if let Some(c) = value
        .chars()
        .find(|&c| c.is_control() || is_bidi_control(c) || is_invisible(c))
    {
        return Err(ValidationError::new(
            field,
            format!(
                "{what} may not contain control or invisible characters ({})",
                describe_char(c)
            ),
        ));
    }
    Ok(())
}

/// Display names: 1–64 characters after trimming, on one line, without
/// control, bidi or invisible characters (they are shown everywhere and must
/// not impersonate anyone).
pub fn display_name(input: &str) -> Result<String, ValidationError> {
    let name = input.trim();
    let len = name.chars().count();
    if len == 0 {
        return Err(ValidationError::new("display_name", "the display name is empty"));
    }
    if len > DISPLAY_NAME_MAX {
        return Err(ValidationError::new(
            "display_name",
            format!("the display name is {len} characters; the limit is {DISPLAY_NAME_MAX}"),
        ));
    }
    plain_line("display_name", "a display name", name)?;
    Ok(name.to_owned())
}

/// Message bodies: 1–4000 characters after trimming; newline and tab allowed,
/// every other control character (C0, DEL, C1) rejected. Bidi controls are
/// allowed (right-to-left writers use them); clients show them visibly.
/// Returns the trimmed body, which is what the server stores.
pub fn message_body(input: &str) -> Result<String, ValidationError> {
    let body = input.trim();
    let len = body.chars().count();
    if len == 0 {
        return Err(ValidationError::new("body", "the message is empty"));
    }
    if len > MESSAGE_MAX_CHARS {
        return Err(ValidationError::new(
            "body",
            format!(
                "message is {} characters; the limit is {}",
                thousands(len),
                thousands(MESSAGE_MAX_CHARS)
            ),
        ));
    }
    if let Some(c) = body.chars().find(|&c| is_forbidden_control(c)) {
        return Err(ValidationError::new(
            "body",
            format!(
                "the message contains the control character {}; only newline and tab are allowed",
                describe_char(c)
            ),
        ));
    }
    Ok(body.to_owned())
}

/// Optional multi-line free text (bio, decline reason): trimmed, at most
/// `max` characters, newline and tab allowed. Empty becomes `None`.
pub fn free_text(field: &'static str, input: &str, max: usize) -> Result<Option<String>, ValidationError> {
    let text = input.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let len = text.chars().count();
    if len > max {
        return Err(ValidationError::new(
            field,
            format!(
                "{field} is {} characters; the limit is {}",
                thousands(len),
                thousands(max)
            ),
        ));
    }
    if let Some(c) = text.chars().find(|&c| is_forbidden_control(c)) {
        return Err(ValidationError::new(
            field,
            format!("{field} contains the control character {}", describe_char(c)),
        ));
    }
    Ok(Some(text.to_owned()))
}

/// Optional single-line profile text (headline, level): like [`free_text`]
/// but on one line, without bidi or invisible characters.
pub fn profile_line(field: &'static str, input: &str) -> Result<Option<String>, ValidationError> {
    let text = input.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let len = text.chars().count();
    if len > PROFILE_TEXT_MAX {
        return Err(ValidationError::new(
            field,
            format!("{field} is {len} characters; the limit is {PROFILE_TEXT_MAX}"),
        ));
    }
    plain_line(field, field, text)?;
    Ok(Some(text.to_owned()))
}

/// Tags (mentor expertise, mentee interests): at most 20, each 1–32
/// characters, lower-cased, on one line, no commas; duplicates removed,
/// order kept.
pub fn tags(field: &'static str, input: &[String]) -> Result<Vec<String>, ValidationError> {
    let mut out: Vec<String> = Vec::with_capacity(input.len());
    for raw in input {
        let tag = raw.trim().to_lowercase();
        if tag.is_empty() {
            continue;
        }
        let len = tag.chars().count();
        if len > TAG_MAX_CHARS {
            return Err(ValidationError::new(
                field,
                format!("the tag '{tag}' is {len} characters; the limit is {TAG_MAX_CHARS}"),
            ));
        }
        if tag.contains(',') {
            return Err(ValidationError::new(field, "a tag may not contain a comma"));
        }
        plain_line(field, "a tag", &tag)?;
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    if out.len() > TAGS_MAX {
        return Err(ValidationError::new(
            field,
            format!("{} tags given; the limit is {TAGS_MAX}", out.len()),
        ));
    }
    Ok(out)
}

/// Passwords: 8–256 characters. Nothing else is imposed (length beats rules).
pub fn password(input: &str) -> Result<(), ValidationError> {
    let len = input.chars().count();
    if len < PASSWORD_MIN {
        return Err(ValidationError::new(
            "password",
            format!("the password is too short: use at least {PASSWORD_MIN} characters"),
        ));
    }
    if len > PASSWORD_MAX {
        return Err(ValidationError::new(
            "password",
            format!("the password is too long: the limit is {PASSWORD_MAX} characters"),
        ));
    }
    Ok(())
}

/// Client ids (idempotency keys): 1–64 of `A-Z a-z 0-9 . _ : -`. A UUID fits.
pub fn client_id(input: &str) -> Result<(), ValidationError> {
    if input.is_empty() || input.len() > CLIENT_ID_MAX {
        return Err(ValidationError::new(
            "client_id",
            format!("client_id must be 1 to {CLIENT_ID_MAX} characters"),
        ));
    }
    if !input
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'))
    {
        return Err(ValidationError::new(
            "client_id",
            "client_id may contain only letters, digits, '.', '_', ':' and '-'",
        ));
    }
    Ok(())
}

/// Token names: 1–64 characters on one line.
pub fn token_name(input: &str) -> Result<String, ValidationError> {
    let name = input.trim();
    if name.is_empty() || name.chars().count() > TOKEN_NAME_MAX {
        return Err(ValidationError::new(
            "name",
            format!("a token name is 1 to {TOKEN_NAME_MAX} characters"),
        ));
    }
    plain_line("name", "a token name", name)?;
    Ok(name.to_owned())
}

/// Template names: 1–40 ASCII letters, digits, `-` and `_` (typed on command
/// lines and in the TUI, so no spaces). Stored lowercase.
pub fn template_name(input: &str) -> Result<String, ValidationError> {
    let name = input.trim();
    let ok = !name.is_empty()
        && name.len() <= TEMPLATE_NAME_MAX
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(ValidationError::new(
            "name",
            format!("a template name is 1 to {TEMPLATE_NAME_MAX} letters, digits, '-' or '_'"),
        ));
    }
    Ok(name.to_ascii_lowercase())
}

/// A reaction: one emoji (or a short symbol) — 1 to 16 characters, no
/// letters or digits, no whitespace or controls. Stored as given.
pub fn reaction(input: &str) -> Result<String, ValidationError> {
    let emoji = input.trim();
    let count = emoji.chars().count();
    if count == 0 || count > REACTION_MAX_CHARS {
        return Err(ValidationError::new(
            "emoji",
            format!("a reaction is one emoji (1 to {REACTION_MAX_CHARS} characters)"),
        ));
    }
    if let Some(c) = emoji
        .chars()
        .find(|&c| c.is_alphanumeric() || c.is_whitespace() || c.is_control() || is_bidi_control(c))
    {
        return Err(ValidationError::new(
            "emoji",
            format!(
                "a reaction is an emoji, not text ({} is not allowed)",
                describe_char(c)
            ),
        ));
    }
    Ok(emoji.to_owned())
}

/// An uploaded file's name as the server stores it: the last path component,
/// 1–255 characters, no control, bidi or invisible characters, not `.` or
/// `..`. (Downloads sanitise again for the local file system.)
pub fn file_name(input: &str) -> Result<String, ValidationError> {
    let base = input.rsplit(['/', '\\']).next().unwrap_or("").trim();
    if base.is_empty() || base == "." || base == ".." {
        return Err(ValidationError::new("name", "the file needs a name"));
    }
    if base.chars().count() > FILE_NAME_MAX_CHARS {
        return Err(ValidationError::new(
            "name",
            format!("a file name is at most {FILE_NAME_MAX_CHARS} characters"),
        ));
    }
    if let Some(c) = base
        .chars()
        .find(|&c| c.is_control() || is_bidi_control(c) || is_invisible(c))
    {
        return Err(ValidationError::new(
            "name",
            format!("the file name contains {}", describe_char(c)),
        ));
    }
    Ok(base.to_owned())
}

/// Windows device names: a file called `CON`, `nul.txt` or `COM1.log` opens
/// the device, not a file.
const RESERVED_FILE_NAMES: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "COM0", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6",
    "COM7", "COM8", "COM9", "LPT0", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Longest name [`safe_file_name`] returns, in bytes (file systems allow 255).
const SAFE_FILE_NAME_MAX_BYTES: usize = 200;

/// A name that is safe to create in a local directory, from any string a
/// peer sent (downloads use it; the server for `Content-Disposition`, the
/// client for the file it writes). Keeps the last path component, replaces
/// control, bidi, invisible and Windows-forbidden characters with `_`, never
/// starts with `.` or `-` (hidden files, command-line flags), never ends in
/// a dot or space, avoids device names (`CON`, `NUL`, `COM1`…), and fits in
/// 200 bytes (keeping a short extension). Never empty: `download` at worst.
pub fn safe_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let mut out: String = base
        .chars()
        .map(|c| {
            if c.is_control()
                || is_bidi_control(c)
                || is_invisible(c)
                || matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*' | '\u{FFFD}')
                || (c.is_whitespace() && c != ' ')
            {
                '_'
            } else {
                c
            }
        })
        .collect();
    out = out
        .trim_start_matches(['.', '-', ' '])
        .trim_end_matches(['.', ' '])
        .to_owned();
    if out.len() > SAFE_FILE_NAME_MAX_BYTES {
        out = shorten_file_name(&out);
    }
    if out.is_empty() {
        return "download".to_owned();
    }
    let stem = out.split('.').next().unwrap_or("").trim_end();
    if RESERVED_FILE_NAMES.iter().any(|r| r.eq_ignore_ascii_case(stem)) {
        out.insert(0, '_');
        // The prefix may push a name cut to the limit over it (found by
        // fuzz/validate); cutting again keeps the `_` and so the fix.
        if out.len() > SAFE_FILE_NAME_MAX_BYTES {
            out = shorten_file_name(&out);
        }
    }
    out
}

/// Cuts a name to [`SAFE_FILE_NAME_MAX_BYTES`] on a character boundary,
/// keeping an extension of up to 16 bytes.
fn shorten_file_name(name: &str) -> String {
    let ext = match name.rfind('.') {
        Some(i) if i > 0 && name.len() - i <= 16 => &name[i..],
        _ => "",
    };
    let stem = &name[..name.len() - ext.len()];
    let mut cut = SAFE_FILE_NAME_MAX_BYTES - ext.len();
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    let stem = stem[..cut].trim_end_matches(['.', ' ']);
    format!("{stem}{ext}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_length_edges() {
        let exactly = "a".repeat(MESSAGE_MAX_CHARS);
        assert_eq!(message_body(&exactly).as_deref(), Ok(exactly.as_str()));
        let over = "a".repeat(MESSAGE_MAX_CHARS + 1);
        let err = message_body(&over).unwrap_err();
        assert_eq!(err.message, "message is 4,001 characters; the limit is 4,000");
        // Trimming happens before counting: 4000 characters plus surrounding spaces fit.
        let padded = format!("  \n{exactly}\t ");
        assert_eq!(message_body(&padded).as_deref(), Ok(exactly.as_str()));
        // Counting is by character, not byte: 4000 three-byte characters fit.
        let wide = "語".repeat(MESSAGE_MAX_CHARS);
        assert!(message_body(&wide).is_ok());
        assert!(message_body(&format!("{wide}語")).is_err());
    }

    #[test]
    fn body_rejects_empty_and_whitespace() {
        assert_eq!(message_body("").unwrap_err().message, "the message is empty");
        assert!(message_body(" \t\n \r\n ").is_err(), "only whitespace is empty");
        assert!(
            message_body("\u{3000}\u{2003}").is_err(),
            "unicode spaces trim too"
        );
    }

    #[test]
    fn body_controls() {
        assert_eq!(message_body("a\nb\tc").as_deref(), Ok("a\nb\tc"));
        for bad in [
            "a\0b",
            "a\x1b[2Jb",
            "a\rb",
            "a\x07b",
            "a\x7fb",
            "a\u{9b}31mb",
            "a\u{85}b",
            "a\u{90}qb",
        ] {
            let err = message_body(bad).unwrap_err();
            assert_eq!(err.field, "body");
            assert!(err.message.contains("control character"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn body_allows_bidi_emoji_and_combining_marks() {
        // Bidi controls are legitimate in right-to-left text; clients render them visibly.
        assert!(message_body("abc \u{202E}cba").is_ok());
        assert!(message_body("مرحبا \u{2067}hi\u{2069}").is_ok());
        // A family emoji is 7 code points joined by ZWJ; it is allowed and counts as 7.
        let family = "👨\u{200D}👩\u{200D}👧\u{200D}👦";
        assert_eq!(family.chars().count(), 7);
        assert!(message_body(family).is_ok());
        let near = format!("{}{}", "a".repeat(MESSAGE_MAX_CHARS - 7), family);
        assert!(message_body(&near).is_ok());
        assert!(message_body(&format!("a{near}")).is_err());
        // e + COMBINING ACUTE ACCENT is two characters.
        let e_acute = "e\u{0301}";
        assert!(message_body(e_acute).is_ok());
        let combining = e_acute.repeat(MESSAGE_MAX_CHARS / 2);
        assert!(message_body(&combining).is_ok());
        assert!(message_body(&format!("{combining}x")).is_err());
    }

    #[test]
    fn usernames() {
        assert_eq!(username(" Alice ").as_deref(), Ok("alice"));
        assert_eq!(username("a.b_c-9").as_deref(), Ok("a.b_c-9"));
        assert!(username("ab").is_err());
        assert!(username(&"a".repeat(32)).is_ok());
        assert!(username(&"a".repeat(33)).is_err());
        assert!(username("-rf").is_err(), "cannot look like a flag");
        assert!(username("al ice").is_err());
        assert!(username("alicé").is_err());
        assert!(username("ali\0ce").is_err());
        assert!(username("al\u{202E}ice").is_err());
    }

    #[test]
    fn display_names() {
        assert_eq!(display_name("  Ada Lovelace ").as_deref(), Ok("Ada Lovelace"));
        assert!(display_name("   ").is_err());
        assert!(display_name(&"x".repeat(64)).is_ok());
        assert!(display_name(&"x".repeat(65)).is_err());
        assert!(display_name("Ada\nLovelace").is_err());
        assert!(display_name("Ada\x1b]0;pwned\x07").is_err());
        assert!(display_name("Ada\u{9b}").is_err(), "C1 CSI");
        assert!(display_name("admin\u{202E}nimda").is_err(), "bidi override");
        assert!(display_name("ad\u{200B}min").is_err(), "zero-width space");
        assert!(display_name("Zoë 😀 李").is_ok());
    }

    #[test]
    fn other_fields() {
        assert!(password("short").is_err());
        assert!(password("long enough").is_ok());
        assert!(password(&"p".repeat(257)).is_err());
        assert!(client_id("0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b").is_ok());
        assert!(client_id("").is_err());
        assert!(client_id("has space").is_err());
        assert!(client_id(&"x".repeat(65)).is_err());
        assert_eq!(
            tags(
                "expertise",
                &["Rust".into(), " rust ".into(), "".into(), "Go".into()]
            ),
            Ok(vec!["rust".to_string(), "go".to_string()])
        );
        assert!(tags("expertise", &["a,b".into()]).is_err());
        assert!(tags("expertise", &(0..21).map(|i| format!("t{i}")).collect::<Vec<_>>()).is_err());
        assert_eq!(free_text("reason", "  ", 10), Ok(None));
        assert!(free_text("reason", "x\x1b", 10).is_err());
        assert!(profile_line("headline", "Staff engineer\n").is_ok());
        assert!(profile_line("headline", "Staff\nengineer").is_err());
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(4213), "4,213");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }

    /// Found by `fuzz/validate`: a long name whose cut starts with a device
    /// name got its `_` prefix after the cut, one byte over the limit, and a
    /// second pass changed it again.
    #[test]
    fn safe_file_name_device_prefix_stays_within_the_limit() {
        let long = format!("CON.{}", "a".repeat(250));
        let safe = safe_file_name(&long);
        assert!(safe.len() <= SAFE_FILE_NAME_MAX_BYTES, "{} bytes", safe.len());
        assert!(safe.starts_with("_CON."), "{safe}");
        assert_eq!(safe_file_name(&safe), safe, "idempotent");
        let spaced = format!("COM1{}.txt", " ".repeat(250));
        assert_eq!(safe_file_name(&spaced), "_COM1.txt");
        assert_eq!(safe_file_name("nul.txt"), "_nul.txt");
        assert_eq!(safe_file_name("../.hidden"), "hidden");
    }
}

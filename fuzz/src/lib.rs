//! The properties the fuzz targets check, as plain functions: each takes the
//! fuzzer's bytes and panics when a property is broken. `fuzz_targets/*.rs`
//! hand them to libFuzzer; `tests/corpus.rs` runs them over the seed corpus
//! on stable, so they are exercised even where cargo-fuzz cannot run.
//!
//! - [`wire`]: JSON → every request type, `ClientFrame`, `ServerFrame` and
//!   the main response types. Never panics; whatever deserialises
//!   serialises, and that output deserialises back to the same value
//!   (compared by re-serialising).
//! - [`validate`]: every function of `mchat_shared::validate` on arbitrary
//!   strings. Never panics; a normalised value validates again to itself
//!   (idempotence); the documented limits hold on accepted values.
//! - [`sanitize`]: `mchat::sanitize::{text, line}` (the client's file,
//!   included by path). Idempotent, and the output has no control character
//!   but `\n`/`\t` (`text`) or none at all (`line`), no ESC, no bidi control.

#![forbid(unsafe_code)]

use mchat_shared::ErrorBody;
use mchat_shared::api::*;
use mchat_shared::events::Event;
use mchat_shared::limits::*;
use mchat_shared::realtime::{ClientFrame, ServerFrame, SyncQuery, SyncResponse};
use mchat_shared::validate;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::borrow::Cow;

/// The client's sanitiser, compiled here from its source file so the fuzz
/// build does not pull in the whole client.
#[path = "../../client/src/sanitize.rs"]
pub mod client_sanitize;

// ------------------------------------------------------------------ wire

/// Deserialise `s` as `T`; if that works, the value must serialise, the
/// output must deserialise again, and serialising that gives the same text.
fn round_trip<T: Serialize + DeserializeOwned>(s: &str) {
    let name = std::any::type_name::<T>();
    let Ok(value) = serde_json::from_str::<T>(s) else {
        return;
    };
    let json = serde_json::to_string(&value)
        .unwrap_or_else(|e| panic!("{name}: {s:?} deserialises but does not serialise: {e}"));
    let back: T = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("{name}: its own output {json:?} (from {s:?}) does not deserialise: {e}"));
    let again = serde_json::to_string(&back).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(json, again, "{name}: round trip changed the value (input {s:?})");
}

/// Wire decoding: see the module docs.
pub fn wire(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    // The WebSocket frames, both directions.
    round_trip::<ClientFrame>(s);
    round_trip::<ServerFrame>(s);
    round_trip::<Event>(s);
    round_trip::<SyncResponse>(s);
    round_trip::<SyncQuery>(s);
    // Request bodies.
    round_trip::<SendMessageRequest>(s);
    round_trip::<CreateConversationRequest>(s);
    round_trip::<EditMessageRequest>(s);
    round_trip::<CreateScheduledRequest>(s);
    round_trip::<RegisterRequest>(s);
    round_trip::<LoginRequest>(s);
    round_trip::<UpdateMeRequest>(s);
    round_trip::<CreateTokenRequest>(s);
    round_trip::<ConversationSettings>(s);
    round_trip::<DeclineRequest>(s);
    round_trip::<ReadRequest>(s);
    round_trip::<MarkNotificationsRead>(s);
    round_trip::<PutTemplateRequest>(s);
    // Query strings (decoded by serde the same way).
    round_trip::<MessagesQuery>(s);
    round_trip::<SearchQuery>(s);
    round_trip::<DirectoryQuery>(s);
    // Responses a client decodes.
    round_trip::<Message>(s);
    round_trip::<Conversation>(s);
    round_trip::<MessagePage>(s);
    round_trip::<SearchResults>(s);
    round_trip::<ScheduledItem>(s);
    round_trip::<FileInfo>(s);
    round_trip::<Template>(s);
    round_trip::<User>(s);
    round_trip::<NotificationList>(s);
    round_trip::<AuthResponse>(s);
    round_trip::<ErrorBody>(s);
}

// -------------------------------------------------------------- validate

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Characters no single-line value may keep.
fn line_safe(s: &str) -> bool {
    !s.chars()
        .any(|c| c.is_control() || validate::is_bidi_control(c) || validate::is_invisible(c))
}

/// `f` accepted `input` as `out`: `f(out)` must give `out` again.
fn idempotent<T, E>(what: &str, input: &str, out: &T, f: impl Fn(&str) -> Result<T, E>)
where
    T: PartialEq + std::fmt::Debug + AsRef<str>,
{
    match f(out.as_ref()) {
        Ok(again) => assert_eq!(&again, out, "{what}: not idempotent for {input:?}"),
        Err(_) => panic!("{what}: {input:?} was accepted as {out:?}, which is then rejected"),
    }
}

/// Validation: see the module docs.
pub fn validate(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let s = s.as_ref();

    if let Ok(u) = validate::username(s) {
        idempotent("username", s, &u, validate::username);
        assert!((USERNAME_MIN..=USERNAME_MAX).contains(&chars(&u)), "{u:?}");
        assert!(
            u.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c)),
            "{u:?}"
        );
        assert!(u.starts_with(|c: char| c.is_ascii_alphanumeric()), "{u:?}");
    }
    if let Ok(d) = validate::display_name(s) {
        idempotent("display_name", s, &d, validate::display_name);
        assert!((1..=DISPLAY_NAME_MAX).contains(&chars(&d)), "{d:?}");
        assert!(line_safe(&d), "{d:?}");
    }
    if let Ok(b) = validate::message_body(s) {
        idempotent("message_body", s, &b, validate::message_body);
        assert!((1..=MESSAGE_MAX_CHARS).contains(&chars(&b)), "{b:?}");
        assert!(
            !b.chars().any(|c| c.is_control() && c != '\n' && c != '\t'),
            "{b:?}"
        );
        assert_eq!(b.trim(), b, "a body is stored trimmed");
    }
    for (field, max) in [("reason", REASON_MAX_CHARS), ("bio", BIO_MAX), ("tiny", 3)] {
        if let Ok(Some(t)) = validate::free_text(field, s, max) {
            assert_eq!(validate::free_text(field, &t, max), Ok(Some(t.clone())), "{s:?}");
            assert!((1..=max).contains(&chars(&t)), "{t:?}");
            assert!(
                !t.chars().any(|c| c.is_control() && c != '\n' && c != '\t'),
                "{t:?}"
            );
        }
    }
    if let Ok(Some(p)) = validate::profile_line("headline", s) {
        assert_eq!(
            validate::profile_line("headline", &p),
            Ok(Some(p.clone())),
            "{s:?}"
        );
        assert!((1..=PROFILE_TEXT_MAX).contains(&chars(&p)), "{p:?}");
        assert!(line_safe(&p), "{p:?}");
    }
    let raw_tags: Vec<String> = s.split(['\n', ';']).map(str::to_owned).collect();
    if let Ok(tags) = validate::tags("expertise", &raw_tags) {
        assert_eq!(
            validate::tags("expertise", &tags),
            Ok(tags.clone()),
            "{raw_tags:?}"
        );
        assert!(tags.len() <= TAGS_MAX, "{tags:?}");
        for t in &tags {
            assert!((1..=TAG_MAX_CHARS).contains(&chars(t)), "{t:?}");
            assert!(line_safe(t) && !t.contains(','), "{t:?}");
        }
        let mut dedup = tags.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), tags.len(), "duplicate tags kept: {tags:?}");
    }
    if validate::password(s).is_ok() {
        assert!((PASSWORD_MIN..=PASSWORD_MAX).contains(&chars(s)));
    }
    if validate::client_id(s).is_ok() {
        assert!((1..=CLIENT_ID_MAX).contains(&s.len()), "{s:?}");
        assert!(s.chars().all(|c| c.is_ascii_graphic()), "{s:?}");
    }
    if let Ok(n) = validate::token_name(s) {
        idempotent("token_name", s, &n, validate::token_name);
        assert!((1..=TOKEN_NAME_MAX).contains(&chars(&n)), "{n:?}");
        assert!(line_safe(&n), "{n:?}");
    }
    if let Ok(n) = validate::template_name(s) {
        idempotent("template_name", s, &n, validate::template_name);
        assert!((1..=TEMPLATE_NAME_MAX).contains(&chars(&n)), "{n:?}");
        assert!(
            n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'),
            "{n:?}"
        );
    }
    if let Ok(e) = validate::reaction(s) {
        idempotent("reaction", s, &e, validate::reaction);
        assert!((1..=REACTION_MAX_CHARS).contains(&chars(&e)), "{e:?}");
        assert!(
            !e.chars()
                .any(|c| c.is_alphanumeric() || c.is_whitespace() || c.is_control()),
            "{e:?}"
        );
    }
    if let Ok(f) = validate::file_name(s) {
        idempotent("file_name", s, &f, validate::file_name);
        assert!((1..=FILE_NAME_MAX_CHARS).contains(&chars(&f)), "{f:?}");
        assert!(line_safe(&f) && !f.contains(['/', '\\']), "{f:?}");
        assert!(f != "." && f != "..", "{f:?}");
    }
    safe_file_name(s);
}

/// `safe_file_name` on anything: the promises of its doc comment.
fn safe_file_name(s: &str) {
    let out = validate::safe_file_name(s);
    assert!(!out.is_empty());
    assert!(out.len() <= 200, "{} bytes: {out:?} (from {s:?})", out.len());
    assert!(!out.starts_with(['.', '-', ' ']), "{out:?} (from {s:?})");
    assert!(!out.ends_with(['.', ' ']), "{out:?} (from {s:?})");
    assert!(
        !out.contains(['/', '\\', '<', '>', ':', '"', '|', '?', '*']),
        "{out:?}"
    );
    assert!(line_safe(&out), "{out:?}");
    let stem = out
        .split('.')
        .next()
        .unwrap_or("")
        .trim_end()
        .to_ascii_uppercase();
    let device = ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"].contains(&stem.as_str())
        || ((stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit());
    assert!(!device, "{out:?} is a device name (from {s:?})");
    assert_eq!(validate::safe_file_name(&out), out, "not idempotent (from {s:?})");
    // What the client writes is also a name the server accepts.
    assert_eq!(
        validate::file_name(&out).as_deref(),
        Ok(out.as_str()),
        "from {s:?}"
    );
}

// -------------------------------------------------------------- sanitize

/// The terminal sanitiser: see the module docs.
pub fn sanitize(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let s = s.as_ref();
    for (mode, f) in [
        ("text", client_sanitize::text as fn(&str) -> Cow<'_, str>),
        ("line", client_sanitize::line),
    ] {
        let out = f(s);
        for c in out.chars() {
            let allowed_control = mode == "text" && (c == '\n' || c == '\t');
            assert!(
                !c.is_control() || allowed_control,
                "{mode}: control U+{:04X} left in {out:?} (from {s:?})",
                u32::from(c)
            );
            assert!(
                !validate::is_bidi_control(c),
                "{mode}: bidi control U+{:04X} left (from {s:?})",
                u32::from(c)
            );
            assert!(
                !matches!(c, '\u{2028}' | '\u{2029}' | '\u{200B}' | '\u{FEFF}' | '\u{00AD}'),
                "{mode}: U+{:04X} left (from {s:?})",
                u32::from(c)
            );
        }
        // Invisible characters survive only as joiners between characters
        // that use them (emoji sequences, joining scripts).
        for (i, c) in out.char_indices() {
            if validate::is_invisible(c) {
                assert!(
                    c == '\u{200D}' || c == '\u{200C}',
                    "{mode}: invisible U+{:04X} left (from {s:?})",
                    u32::from(c)
                );
                let prev = out[..i].chars().next_back();
                let next = out[i + c.len_utf8()..].chars().next();
                assert!(
                    prev.is_some() && next.is_some(),
                    "{mode}: a joiner at an edge survived in {out:?} (from {s:?})"
                );
            }
        }
        let again = f(&out);
        assert_eq!(again, out, "{mode}: not idempotent (from {s:?})");
        assert!(
            matches!(again, Cow::Borrowed(_)),
            "{mode}: clean text was copied (from {s:?})"
        );
        if matches!(out, Cow::Borrowed(_)) {
            assert_eq!(out, s, "{mode}: borrowed but changed");
        }
    }
}

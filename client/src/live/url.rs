//! The live endpoint's URL: `ws://` from `http://`, `wss://` from `https://`,
//! with the server's path prefix kept and the cursor as `?since=SEQ`.

use super::LiveError;

/// The WebSocket URL of `GET /v1/ws` on `server` (an `http(s)://` base URL,
/// as the HTTP client uses it), resuming after `since` when given. Without
/// `since` the server starts from "now".
///
/// ```
/// use mchat::live::ws_url;
/// assert_eq!(ws_url("http://127.0.0.1:7878", Some(42)).unwrap(), "ws://127.0.0.1:7878/v1/ws?since=42");
/// assert_eq!(ws_url("https://chat.example.org/", None).unwrap(), "wss://chat.example.org/v1/ws");
/// ```
pub fn ws_url(server: &str, since: Option<i64>) -> Result<String, LiveError> {
    let server = server.trim().trim_end_matches('/');
    let (scheme, rest) = if let Some(rest) = strip_prefix_ignore_case(server, "https://") {
        ("wss", rest)
    } else if let Some(rest) = strip_prefix_ignore_case(server, "http://") {
        ("ws", rest)
    } else {
        return Err(LiveError::BadUrl(server.to_string()));
    };
    // A query or fragment on the base URL has no meaning here.
    if rest.is_empty() || rest.starts_with('/') || rest.contains(['?', '#']) {
        return Err(LiveError::BadUrl(server.to_string()));
    }
    let mut url = format!("{scheme}://{rest}/v1/ws");
    if let Some(seq) = since {
        url.push_str(&format!("?since={seq}"));
    }
    Ok(url)
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_map_to_websocket_schemes() {
        assert_eq!(
            ws_url("http://127.0.0.1:7878", None).unwrap(),
            "ws://127.0.0.1:7878/v1/ws"
        );
        assert_eq!(
            ws_url("https://chat.example.org", Some(0)).unwrap(),
            "wss://chat.example.org/v1/ws?since=0"
        );
        assert_eq!(
            ws_url("HTTPS://Chat.example.org", Some(7)).unwrap(),
            "wss://Chat.example.org/v1/ws?since=7"
        );
    }

    #[test]
    fn trailing_slashes_and_prefixes() {
        assert_eq!(
            ws_url("http://localhost:7878/", Some(3)).unwrap(),
            "ws://localhost:7878/v1/ws?since=3"
        );
        assert_eq!(
            ws_url(" https://example.org/mchat/ ", None).unwrap(),
            "wss://example.org/mchat/v1/ws"
        );
        assert_eq!(
            ws_url("http://[::1]:7878", Some(-1)).unwrap(),
            "ws://[::1]:7878/v1/ws?since=-1"
        );
    }

    #[test]
    fn other_urls_are_refused() {
        for bad in [
            "ftp://example.org",
            "ws://example.org",
            "example.org:7878",
            "http://",
            "http:///v1",
            "http://example.org/?x=1",
            "http://example.org/#top",
            "",
        ] {
            assert!(matches!(ws_url(bad, None), Err(LiveError::BadUrl(_))), "{bad}");
        }
    }
}

//! Hostile input (issue 7 item 5): every string of the Big List of Naughty
//! Strings (`testdata/blns/blns.json`, vendored) and of
//! `mchat::sanitize::HOSTILE` goes in as a message body (HTTP out, HTTP and
//! WebSocket back), a display name, a headline and a bio. For each one:
//! no 5xx, no panic, and either accepted and returned byte-exact (exactly
//! what `mchat_shared::validate` says the server stores) or refused with
//! 400 `validation_failed` — in which case the shared validation refuses it
//! too, so client and server apply the same rules. The accepted strings are
//! then shown by the human-mode CLI, whose output must carry no ESC, C1,
//! bidi control or other control character except newline and tab. The
//! server is healthy at the end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{User, accepted_pair, runtime};
use futures_util::{SinkExt, StreamExt};
use mchat::api::{Client, ClientError};
use mchat::sanitize::HOSTILE;
use mchat_shared::api::{MessagesQuery, SendMessageRequest, UpdateMeRequest};
use mchat_shared::events::EventKind;
use mchat_shared::limits::BIO_MAX;
use mchat_shared::realtime::{ServerFrame, Signal};
use mchat_shared::validate;
use mchat_shared::{ConversationId, ErrorCode, MessageId};
use mchat_testkit::TestServer;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// BLNS followed by the terminal-escape corpus.
fn corpus() -> Vec<String> {
    let path = mchat_testkit::workspace_root().join("testdata/blns/blns.json");
    let blns: Vec<String> = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert!(blns.len() > 400, "{} strings in {}", blns.len(), path.display());
    blns.into_iter()
        .chain(HOSTILE.iter().map(|s| (*s).to_string()))
        .collect()
}

/// What a terminal must never receive: ESC and every other control
/// character except newline and tab (C0, DEL, C1), and bidi controls.
fn assert_terminal_safe(what: &str, text: &str) {
    if let Some((i, c)) = text.char_indices().find(|&(_, c)| {
        c == '\u{1b}'
            || ('\u{80}'..='\u{9f}').contains(&c)
            || validate::is_bidi_control(c)
            || (c.is_control() && c != '\n' && c != '\t')
    }) {
        let start = text[..i].char_indices().rev().nth(30).map_or(0, |(j, _)| j);
        let end = text[i..]
            .char_indices()
            .nth(30)
            .map_or(text.len(), |(j, _)| i + j);
        panic!(
            "{what}: raw U+{:04X} reaches the terminal near {:?}",
            c as u32,
            &text[start..end]
        );
    }
}

/// Accepted with exactly what validation stores, or refused with 400
/// `validation_failed` when validation refuses it too. Anything else (5xx,
/// another status, a dropped connection) fails the test. Returns whether it
/// was accepted.
fn check_outcome<T: std::fmt::Debug, E: std::fmt::Debug + PartialEq>(
    what: &str,
    input: &str,
    expected: &Result<E, validate::ValidationError>,
    got: Result<T, ClientError>,
    stored: impl FnOnce(&T) -> E,
) -> bool {
    match (got, expected) {
        (Ok(v), Ok(want)) => {
            let have = stored(&v);
            assert_eq!(&have, want, "{what} {input:?}: not returned byte-exact");
            true
        }
        (
            Err(ClientError::Api {
                status: 400,
                code: ErrorCode::ValidationFailed,
                ..
            }),
            Err(_),
        ) => false,
        (got, expected) => {
            panic!("{what} {input:?}: server answered {got:?}, shared validation says {expected:?}")
        }
    }
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text frame, decoded; pings answered. Panics at the deadline.
async fn next_frame(ws: &mut Socket, deadline: tokio::time::Instant) -> ServerFrame {
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("a frame before the deadline")
            .expect("the socket stays open")
            .expect("a readable frame");
        match msg {
            WsMessage::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            WsMessage::Ping(p) => ws.send(WsMessage::Pong(p)).await.unwrap(),
            WsMessage::Close(c) => panic!("server closed the socket: {c:?}"),
            _ => {}
        }
    }
}

#[test]
fn naughty_message_bodies_round_trip_over_http_and_websocket() {
    let strings = corpus();
    let server = TestServer::start_open();
    let (mona, ana) = accepted_pair(&server);
    let conv = ConversationId(
        mona.json(&["inbox"], "")["conversations"][0]["id"]
            .as_i64()
            .unwrap(),
    );
    let ana_api = Client::new(&server.url(), Some(ana.token())).unwrap();
    let mona_api = Client::new(&server.url(), Some(mona.token())).unwrap();
    let started = Instant::now();

    let accepted: HashMap<MessageId, String> = runtime().block_on(async {
        // Mona listens on the socket (bearer header) before anything is sent.
        let url = format!("{}/v1/ws", server.url().replacen("http://", "ws://", 1));
        let mut req = url.into_client_request().unwrap();
        req.headers_mut().insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {}", mona.token())).unwrap(),
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !matches!(
            next_frame(&mut ws, deadline).await,
            ServerFrame::Signal(Signal::Ready { .. })
        ) {}

        // Everything at once, 16 in flight, on the one conversation.
        let outcomes: Vec<(usize, Result<_, ClientError>)> =
            futures_util::stream::iter(strings.iter().enumerate())
                .map(|(i, s)| {
                    let api = &ana_api;
                    async move {
                        let req = SendMessageRequest {
                            client_id: uuid::Uuid::now_v7().to_string(),
                            body: s.clone(),
                            reply_to: None,
                            file: None,
                        };
                        (i, api.send(conv, &req).await)
                    }
                })
                .buffer_unordered(16)
                .collect()
                .await;

        let mut accepted = HashMap::new();
        for (i, got) in outcomes {
            let s = &strings[i];
            let expected = validate::message_body(s);
            let mut id = None;
            if check_outcome("body", s, &expected, got, |m| {
                id = Some(m.value.id);
                m.value.body.clone()
            }) {
                accepted.insert(id.unwrap(), expected.unwrap());
            }
        }

        // Every accepted body comes back over the socket, byte-exact.
        let mut pending = accepted.clone();
        while !pending.is_empty() {
            if let ServerFrame::Event(ev) = next_frame(&mut ws, deadline).await
                && let EventKind::MessageNew { message } = ev.kind
                && let Some(want) = pending.remove(&message.id)
            {
                assert_eq!(message.body, want, "WebSocket copy of message {}", message.id.0);
            }
        }
        let _ = ws.close(None).await;

        // And from history, page by page.
        let mut from_history = HashMap::new();
        let mut before = None;
        loop {
            let page = mona_api
                .messages(
                    conv,
                    &MessagesQuery {
                        before,
                        after: None,
                        limit: Some(100),
                    },
                )
                .await
                .unwrap();
            for m in &page.messages {
                from_history.insert(m.id, m.body.clone());
            }
            if !page.has_more || page.messages.is_empty() {
                break;
            }
            before = page.messages.first().map(|m| m.id);
        }
        // Acknowledged (2xx) and pushed over the socket means committed:
        // a later history read must see it. (Seen once to fail, not
        // reproduced since: say which ids are missing and what the page
        // around the first one holds now.)
        let mut missing: Vec<i64> = accepted
            .keys()
            .filter(|id| !from_history.contains_key(id))
            .map(|id| id.0)
            .collect();
        missing.sort_unstable();
        if let Some(&first) = missing.first() {
            let again = mona_api
                .messages(
                    conv,
                    &MessagesQuery {
                        before: Some(MessageId(first + 1)),
                        after: None,
                        limit: Some(3),
                    },
                )
                .await
                .map(|p| p.messages.iter().map(|m| m.id.0).collect::<Vec<_>>());
            panic!(
                "{} acknowledged messages missing from history: {missing:?}; \
                 {} ids read; refetched around {first}: {again:?}",
                missing.len(),
                from_history.len()
            );
        }
        for (id, want) in &accepted {
            assert_eq!(
                from_history.get(id),
                Some(want),
                "history copy of message {}",
                id.0
            );
        }
        ana_api.health().await.expect("the server is still healthy");
        accepted
    });

    let refused = strings.len() - accepted.len();
    eprintln!(
        "message bodies: {} strings, {} accepted, {refused} refused ({:?})",
        strings.len(),
        accepted.len(),
        started.elapsed()
    );
    assert!(accepted.len() > 400 && refused > 0);
    assert!(
        accepted
            .values()
            .any(|b| b.chars().any(validate::is_bidi_control)),
        "some accepted bodies carry bidi controls, so the output check bites"
    );

    // The human-mode CLI shows all of them, made safe.
    let (code, out, err) = ana.run(&["read", "mona", "--limit", "100", "--no-mark"], "");
    assert_eq!(code, 0, "{err}");
    assert_terminal_safe("mchat read", &out);
    assert_terminal_safe("mchat read (stderr)", &err);
    // Older pages too: each accepted body as the latest message in `inbox`
    // would be one run per string; instead read every body through `read`
    // with `--before`, 100 at a time.
    let mut ids: Vec<&MessageId> = accepted.keys().collect();
    ids.sort();
    for chunk in ids.chunks(100) {
        let before = (chunk.last().unwrap().0 + 1).to_string();
        let (code, out, err) = mona.run(
            &["read", "ana", "--limit", "100", "--before", &before, "--no-mark"],
            "",
        );
        assert_eq!(code, 0, "{err}");
        assert_terminal_safe("mchat read --before", &out);
        assert_terminal_safe("mchat read --before (stderr)", &err);
    }
    for user in [&mona, &ana] {
        let (code, out, err) = user.run(&["inbox"], "");
        assert_eq!(code, 0, "{err}");
        assert_terminal_safe("mchat inbox", &out);
        assert_terminal_safe("mchat inbox (stderr)", &err);
    }
}

#[derive(Default)]
struct Counts {
    names: usize,
    headlines: usize,
    bios: usize,
}

/// One mentor takes `strings` as display name, headline and bio in turn
/// (each on its own request), and after each the CLI shows what was kept.
fn profile_round_trips(server: &TestServer, mentor: &User, viewer: &User, strings: &[String]) -> Counts {
    let api = Client::new(&server.url(), Some(mentor.token())).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut counts = Counts::default();
    for s in strings {
        let expected = validate::display_name(s);
        let got = rt.block_on(api.update_me(&UpdateMeRequest {
            display_name: Some(s.clone()),
            ..UpdateMeRequest::default()
        }));
        let name_ok = check_outcome("display name", s, &expected, got, |u| u.display_name.clone());
        counts.names += usize::from(name_ok);

        let expected = validate::profile_line("headline", s);
        let got = rt.block_on(api.update_me(&UpdateMeRequest {
            headline: Some(s.clone()),
            ..UpdateMeRequest::default()
        }));
        let headline_ok = check_outcome("headline", s, &expected, got, |u| u.profile.headline.clone());
        counts.headlines += usize::from(headline_ok);

        let expected = validate::free_text("bio", s, BIO_MAX);
        let got = rt.block_on(api.update_me(&UpdateMeRequest {
            bio: Some(s.clone()),
            ..UpdateMeRequest::default()
        }));
        let bio_ok = check_outcome("bio", s, &expected, got, |u| u.profile.bio.clone());
        counts.bios += usize::from(bio_ok);

        // What was accepted is shown by the CLI, made safe: name, headline
        // and bio in `whoami` (the name in full), name and headline in the
        // directory (cut to the column width).
        if name_ok || headline_ok || bio_ok {
            for (user, args) in [(mentor, &["whoami"][..]), (viewer, &["mentors"][..])] {
                let (code, out, err) = user.run(args, "");
                assert_eq!(code, 0, "{args:?} after {s:?}: {err}");
                assert_terminal_safe(&format!("mchat {args:?} showing {s:?}"), &out);
                assert_terminal_safe(&format!("mchat {args:?} (stderr) for {s:?}"), &err);
                if name_ok && args[0] == "whoami" {
                    let shown =
                        mchat::sanitize::line(validate::display_name(s).unwrap().as_str()).into_owned();
                    assert!(out.contains(&shown), "mchat {args:?} shows {shown:?}: {out}");
                }
            }
        }
    }
    counts
}

#[test]
fn naughty_names_headlines_and_bios_round_trip_over_http() {
    let strings = corpus();
    let server = TestServer::start_open();
    let ana = User::register(&server, "ana", &[]);
    let started = Instant::now();
    const WORKERS: usize = 4;
    let chunk = strings.len().div_ceil(WORKERS);
    let counts: Vec<Counts> = std::thread::scope(|scope| {
        let handles: Vec<_> = strings
            .chunks(chunk)
            .enumerate()
            .map(|(i, part)| {
                let (server, ana) = (&server, &ana);
                scope.spawn(move || {
                    let mentor = User::register(server, &format!("mentor{i}"), &["--role", "mentor"]);
                    profile_round_trips(server, &mentor, ana, part)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let names: usize = counts.iter().map(|c| c.names).sum();
    let headlines: usize = counts.iter().map(|c| c.headlines).sum();
    let bios: usize = counts.iter().map(|c| c.bios).sum();

    let api = Client::new(&server.url(), Some(ana.token())).unwrap();
    runtime()
        .block_on(api.health())
        .expect("the server is still healthy");
    let n = strings.len();
    eprintln!(
        "{n} strings: display names {names} accepted / {} refused; headlines {headlines} / {}; \
         bios {bios} / {} ({:?})",
        n - names,
        n - headlines,
        n - bios,
        started.elapsed()
    );
    assert!(names > 300 && headlines > 300 && bios > 400);
}

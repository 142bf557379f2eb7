//! Attachments through the real `mchat` binary: `send --file` and
//! `download` end to end, who may download, refusing to overwrite, a file
//! too large for the server, an unreachable server (files are not queued);
//! and the hostile-input corpus (issue 7 item 5) as file names over HTTP:
//! no 5xx, stored byte-exact when `validate::file_name` accepts the name,
//! 400 exactly when it refuses it, and the name `mchat download` saves to
//! disk always safe. Files the server's published limits refuse are
//! refused before upload (issue 12), also when the cached limits are stale.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{User, accepted_pair, assert_one_sentence, one_json, runtime};
use futures_util::StreamExt;
use mchat::api::{Client, ClientError};
use mchat::files::safe_file_name;
use mchat::sanitize::HOSTILE;
use mchat_shared::api::{FileInfo, SendMessageRequest};
use mchat_shared::validate;
use mchat_shared::{ConversationId, ErrorCode};
use mchat_testkit::TestServer;
use std::path::{Path, PathBuf};

/// Bytes that do not repeat in an obvious way.
fn pattern(len: usize) -> Vec<u8> {
    mchat_testkit::noise(len, 0x2545_f491)
}

/// The only entries of `dir`.
fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    all.sort();
    all
}

/// What a name saved to disk must never be or contain.
fn assert_safe_on_disk(name: &str, from: &str) {
    let stem = name
        .split('.')
        .next()
        .unwrap_or("")
        .trim_end()
        .to_ascii_uppercase();
    let reserved = ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"].contains(&stem.as_str())
        || ((stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit());
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && !name.starts_with(['.', '-'])
        && !name.ends_with(['.', ' '])
        && name.len() <= 255
        && !reserved
        && !name
            .chars()
            .any(|c| c.is_control() || validate::is_bidi_control(c) || validate::is_invisible(c));
    assert!(ok, "unsafe name on disk {name:?} (from {from:?})");
}

/// Decodes `%XX` escapes (as in RFC 8187 `filename*`).
fn percent_decode(s: &str) -> String {
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn send_file_and_download_end_to_end() {
    let server = TestServer::start_open();
    let (mona, ana) = accepted_pair(&server);
    let eve = User::register(&server, "eve", &[]);
    let bytes = pattern(3 * 1024 * 1024 + 11);
    let src = ana.home.path().join("lecture notes.pdf");
    std::fs::write(&src, &bytes).unwrap();

    let sent = ana.json(
        &["send", "mona", "--file", src.to_str().unwrap(), "the notes"],
        "",
    );
    assert_eq!(sent["status"], "sent", "{sent}");
    let message = &sent["message"];
    assert_eq!(message["kind"], "file");
    assert_eq!(message["body"], "the notes");
    assert_eq!(message["attachment"]["name"], "lecture notes.pdf");
    assert_eq!(message["attachment"]["size"], bytes.len() as u64);
    assert_eq!(message["attachment"]["content_type"], "application/pdf");
    let id = message["id"].as_i64().unwrap().to_string();

    // Human mode: one line, no caption needed.
    let small = ana.home.path().join("hello.txt");
    std::fs::write(&small, "hello\n").unwrap();
    let out = ana.ok(&["send", "mona", "--file", small.to_str().unwrap()], "");
    assert!(out.contains("sent hello.txt"), "{out}");

    // Into a directory: under the sender's name.
    let dir = tempfile::tempdir().unwrap();
    let out = mona.ok(&["download", &id, "-o", dir.path().to_str().unwrap()], "");
    let saved = dir.path().join("lecture notes.pdf");
    assert!(out.contains("saved"), "{out}");
    assert_eq!(std::fs::read(&saved).unwrap(), bytes);
    assert_eq!(entries(dir.path()), vec![saved.clone()], "no temporary file left");

    // Never overwritten without --force.
    std::fs::write(&saved, b"mine").unwrap();
    let (code, _, err) = mona.run(&["download", &id, "-o", saved.to_str().unwrap()], "");
    assert_eq!(code, 5, "{err}");
    assert_one_sentence(&err);
    assert!(err.contains("--force"), "{err}");
    assert_eq!(std::fs::read(&saved).unwrap(), b"mine");
    let doc = mona.json(&["download", &id, "-o", saved.to_str().unwrap(), "--force"], "");
    assert_eq!(doc["status"], "saved");
    assert_eq!(doc["bytes"], bytes.len() as u64);
    assert_eq!(std::fs::read(&saved).unwrap(), bytes);

    // To stdout.
    let hello_id = one_json(&mona.run(&["--json", "read", "ana", "--limit", "1"], "").1)["messages"][0]["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let (code, out, err) = mona.run(&["download", &hello_id, "-o", "-"], "");
    assert_eq!((code, out.as_str()), (0, "hello\n"), "{err}");

    // Not a participant: not found (4), as for a message that does not exist.
    let (code, _, err) = eve.run(&["download", &id, "-o", dir.path().to_str().unwrap()], "");
    assert_eq!(code, 4, "{err}");
    assert_one_sentence(&err);
    let (code, _, _) = eve.run(&["download", "999999"], "");
    assert_eq!(code, 4);
    // A message without a file.
    let text = ana.json(&["send", "mona", "just text"], "")["message"]["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let (code, _, err) = mona.run(&["download", &text], "");
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("no file"), "{err}");

    // A missing local file is a usage error, before anything is sent.
    let (code, _, err) = ana.run(&["send", "mona", "--file", "/nonexistent/x.txt"], "");
    assert_eq!(code, 2, "{err}");
    assert_one_sentence(&err);
}

#[test]
fn too_large_files_and_unreachable_servers_are_reported() {
    let mut server = TestServer::start_with(
        "[registration]\nrequire_mentor_approval = false\n[files]\nmax_bytes = 1048576\n",
    );
    let (_mona, ana) = accepted_pair(&server);
    let big = ana.home.path().join("big.bin");
    std::fs::write(&big, pattern(48 * 1024 * 1024)).unwrap();
    let (code, _, err) = ana.run(&["send", "mona", "--file", big.to_str().unwrap()], "");
    assert_eq!(code, 5, "{err}");
    assert_one_sentence(&err);
    assert!(err.contains("larger than"), "{err}");

    let png = ana.home.path().join("photo.png");
    std::fs::write(&png, pattern(100)).unwrap();
    let out = ana.ok(&["send", "mona", "--file", png.to_str().unwrap()], "");
    assert!(out.contains("photo.png"), "{out}");
    let exe = ana.home.path().join("clip.mp4");
    std::fs::write(&exe, pattern(100)).unwrap();
    let (code, _, err) = ana.run(&["send", "mona", "--file", exe.to_str().unwrap()], "");
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("not accepted"), "{err}");

    server.stop();
    let (code, out, err) = ana.run(&["--json", "send", "mona", "--file", png.to_str().unwrap()], "");
    assert_eq!(code, 1, "{out} {err}");
    assert!(out.contains("not kept in the outbox"), "{out}");
    let (code, _, err) = ana.run(&["send", "mona", "--file", png.to_str().unwrap()], "");
    assert_eq!(code, 1, "{err}");
    assert_one_sentence(&err);
    assert!(err.contains("cannot reach the server"), "{err}");
}

#[test]
fn a_file_the_server_would_refuse_is_refused_before_a_byte_is_sent() {
    let server = TestServer::start_with(
        "[registration]\nrequire_mentor_approval = false\n[files]\nmax_bytes = 1048576\n",
    );
    let (_mona, ana) = accepted_pair(&server);
    let proxy = mchat_testkit::DropResponseProxy::start(&server.url(), 0, |_| false);
    let token = ana.token();
    let proxy_url = proxy.url();
    let via_proxy = |args: &[&str]| {
        let mut all = vec!["--server", proxy_url.as_str()];
        all.extend_from_slice(args);
        ana.run_env(&all, "", &[("MCHAT_TOKEN", &token)])
    };
    let big = ana.home.path().join("big.bin");
    std::fs::write(&big, pattern(8 * 1024 * 1024)).unwrap();
    let clip = ana.home.path().join("clip.mp4");
    std::fs::write(&clip, pattern(100)).unwrap();

    let (code, _, err) = via_proxy(&["send", "mona", "--file", big.to_str().unwrap()]);
    assert_eq!(code, 5, "{err}");
    assert_one_sentence(&err);
    assert!(
        err.contains("the file is larger than this server accepts (1048576 bytes)"),
        "{err}"
    );
    let (code, out, err) = via_proxy(&["--json", "send", "mona", "--file", clip.to_str().unwrap()]);
    assert_eq!(code, 5, "{out} {err}");
    assert_eq!(one_json(&out)["error"]["code"], "unsupported_media_type", "{out}");

    let seen = proxy.seen();
    assert!(
        !seen.iter().any(|r| r.starts_with("POST /v1/files")),
        "the refused files were uploaded anyway: {seen:?}"
    );
    // The limits were asked for once, then served from the cache.
    let asked = seen.iter().filter(|r| r.starts_with("GET /v1/info")).count();
    assert_eq!(asked, 1, "{seen:?}");

    // A file within the limits still goes up, through the same cache.
    let small = ana.home.path().join("ok.txt");
    std::fs::write(&small, "fine").unwrap();
    let (code, out, err) = via_proxy(&["send", "mona", "--file", small.to_str().unwrap()]);
    assert_eq!(code, 0, "{out} {err}");
    assert!(proxy.seen().iter().any(|r| r.starts_with("POST /v1/files")));
}

#[test]
fn stale_cached_limits_still_end_in_the_servers_refusal() {
    let server = TestServer::start_with(
        "[registration]\nrequire_mentor_approval = false\n[files]\nmax_bytes = 1048576\n",
    );
    let (_mona, ana) = accepted_pair(&server);
    // Limits cached before the server's were lowered: the client believes
    // 100 MiB is fine and sends 48 MiB to a server that stops at 1 MiB.
    let cache = mchat::api::InfoCache::new(&ana.home.path().join("data/cache/server-info"));
    let entry_path = cache.entry_path(&server.url());
    std::fs::create_dir_all(entry_path.parent().unwrap()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let entry = serde_json::json!({"fetched_at": now, "info": {"version": "0", "limits": {
        "message_max_chars": 4000, "file_max_bytes": 104857600, "file_allowed_types": ["*/*"],
        "file_name_max_chars": 255, "body_max_bytes": 65536}}});
    std::fs::write(&entry_path, entry.to_string()).unwrap();
    let big = ana.home.path().join("big.bin");
    std::fs::write(&big, pattern(48 * 1024 * 1024)).unwrap();
    for _ in 0..3 {
        let (code, _, err) = ana.run(&["send", "mona", "--file", big.to_str().unwrap()], "");
        assert_eq!(code, 5, "{err}");
        assert_one_sentence(&err);
        assert!(err.contains("larger than"), "{err}");
    }
}

#[test]
fn hostile_file_names_round_trip_and_save_safely() {
    let path = mchat_testkit::workspace_root().join("testdata/blns/blns.json");
    let blns: Vec<String> = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert!(blns.len() > 400);
    let extra = [
        "CON",
        "nul.txt",
        "com1.log",
        "-rf",
        "--help",
        ".bashrc",
        "..",
        "...",
        "../../etc/passwd",
        "..\\..\\boot.ini",
        "a/",
        " spaced ",
        "trailing.",
        "what?*<>|.txt",
    ];
    let names: Vec<String> = blns
        .into_iter()
        .chain(HOSTILE.iter().map(|s| (*s).to_string()))
        .chain(extra.iter().map(|s| (*s).to_string()))
        .collect();

    let server = TestServer::start_open();
    let (mona, ana) = accepted_pair(&server);
    let ana_api = Client::new(&server.url(), Some(ana.token())).unwrap();
    let conv = ConversationId(
        mona.json(&["inbox"], "")["conversations"][0]["id"]
            .as_i64()
            .unwrap(),
    );
    let content = ana.home.path().join("content.txt");
    std::fs::write(&content, b"x").unwrap();

    let outcomes: Vec<(usize, Result<FileInfo, ClientError>)> = runtime().block_on(async {
        futures_util::stream::iter(names.iter().enumerate())
            .map(|(i, name)| {
                let api = &ana_api;
                let content = &content;
                async move { (i, api.upload_file(content, name, "text/plain", |_| {}).await) }
            })
            .buffer_unordered(16)
            .collect()
            .await
    });
    let mut accepted: Vec<(String, FileInfo)> = Vec::new();
    for (i, got) in outcomes {
        let name = &names[i];
        match (validate::file_name(name), got) {
            (Ok(want), Ok(info)) => {
                assert_eq!(info.name, want, "stored name of {name:?}");
                assert_safe_on_disk(&safe_file_name(&info.name), name);
                accepted.push((name.clone(), info));
            }
            (
                Err(_),
                Err(ClientError::Api {
                    status: 400,
                    code,
                    field,
                    ..
                }),
            ) => {
                assert_eq!(code, ErrorCode::ValidationFailed, "{name:?}");
                assert_eq!(field.as_deref(), Some("name"), "{name:?}");
            }
            (want, got) => panic!("{name:?}: validate says {want:?}, the server answered {got:?}"),
        }
    }
    assert!(accepted.len() > 300, "{} accepted", accepted.len());

    // What any other HTTP client (a browser) is told to save it as: ASCII
    // only, and the exact safe name in `filename*`.
    let token = ana.token();
    let http = mchat_testkit::http_client();
    let dispositions: Vec<(String, String)> = runtime().block_on(async {
        futures_util::stream::iter(accepted.iter())
            .map(|(_, info)| {
                let (http, token, base) = (&http, &token, server.url());
                async move {
                    let resp = http
                        .get(format!("{base}/v1/files/{}", info.id))
                        .bearer_auth(token)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(resp.status(), 200, "{:?}", info.name);
                    let header = resp.headers()["content-disposition"]
                        .to_str()
                        .unwrap()
                        .to_string();
                    (info.name.clone(), header)
                }
            })
            .buffer_unordered(16)
            .collect()
            .await
    });
    for (name, header) in dispositions {
        assert!(header.bytes().all(|b| (0x20..0x7f).contains(&b)), "{header:?}");
        let encoded = header.split("filename*=UTF-8''").nth(1).unwrap();
        assert_eq!(percent_decode(encoded), safe_file_name(&name), "{header:?}");
    }

    // Through the CLI: each name that needs sanitising, saved into an empty directory.
    let mut checked = 0;
    let picks: Vec<&(String, FileInfo)> = accepted
        .iter()
        .filter(|(_, info)| safe_file_name(&info.name) != info.name || extra.contains(&info.name.as_str()))
        .take(40)
        .collect();
    assert!(picks.len() >= 15, "{} names need sanitising", picks.len());
    for (k, (given, info)) in picks.into_iter().enumerate() {
        let req = SendMessageRequest {
            client_id: format!("hostile-{k}"),
            body: String::new(),
            reply_to: None,
            file: Some(info.id),
        };
        let message = runtime().block_on(ana_api.send(conv, &req)).unwrap().value;
        let dir = tempfile::tempdir().unwrap();
        let (code, out, err) = mona.run(
            &[
                "download",
                &message.id.to_string(),
                "-o",
                dir.path().to_str().unwrap(),
            ],
            "",
        );
        assert_eq!(code, 0, "{given:?}: {out} {err}");
        let saved = entries(dir.path());
        assert_eq!(saved.len(), 1, "{given:?}: {saved:?}");
        assert_eq!(saved[0].parent(), Some(dir.path()));
        let on_disk = saved[0].file_name().unwrap().to_str().unwrap().to_string();
        assert_eq!(on_disk, safe_file_name(&info.name), "{given:?}");
        assert_safe_on_disk(&on_disk, given);
        assert_eq!(std::fs::read(&saved[0]).unwrap(), b"x");
        checked += 1;
    }
    assert!(checked >= 15);
    // The server is still fine.
    assert!(ana.ok(&["whoami"], "").contains("ana"));
}

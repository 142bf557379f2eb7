//! Attachments over HTTP: streaming uploads (size and type limits, hostile
//! names, content-addressed storage, no leftovers), attaching a file to a
//! message, and who may download it (uploader and participants; everyone
//! else 404).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Api, Response, TestServer, assert_error, decode, files_under, query_escape};
use mchat_shared::api::{FileInfo, Message, MessageKind};
use reqwest::{Method, StatusCode, header};
use serde_json::json;
use sha2::{Digest, Sha256};

/// Bytes that do not compress or repeat in an obvious way.
fn pattern(len: usize) -> Vec<u8> {
    mchat_testkit::noise(len, 0x9e37_79b9)
}

fn sha_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

async fn upload_raw(api: &Api, name: &str, content_type: Option<&str>, bytes: Vec<u8>) -> Response {
    api.raw(
        Method::POST,
        &format!("/v1/files?name={}", query_escape(name)),
        content_type,
        Some(bytes),
    )
    .await
}

/// Uploads without a Content-Length (chunked), in 1 KiB pieces.
async fn upload_chunked(api: &Api, name: &str, bytes: Vec<u8>) -> Response {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = bytes.chunks(1024).map(|c| Ok(c.to_vec())).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let rb = api
        .builder(Method::POST, &format!("/v1/files?name={}", query_escape(name)))
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(body);
    Api::send(rb).await
}

async fn download(api: &Api, id: i64) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let resp = api
        .builder(Method::GET, &format!("/v1/files/{id}"))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    (status, headers, resp.bytes().await.unwrap().to_vec())
}

async fn send_file(
    api: &Api,
    conv: i64,
    client_id: &str,
    body: &str,
    file: i64,
) -> (StatusCode, serde_json::Value) {
    api.post(
        &format!("/v1/conversations/{conv}/messages"),
        &json!({"client_id": client_id, "body": body, "file": file}),
    )
    .await
}

fn tmp_is_empty(server: &TestServer) -> bool {
    files_under(&server.data_dir().join("files").join("tmp")).is_empty()
}

#[tokio::test]
async fn upload_attach_and_download_round_trip() {
    let server = TestServer::start();
    let (mona, ana, conv) = server.accepted_pair("mona", "ana").await;
    // Larger than the global JSON body limit (64 KiB): uploads are streamed past it.
    let bytes = pattern(300 * 1024 + 7);
    let info = ana
        .upload("notes/../report v2.pdf", "application/pdf", &bytes)
        .await;
    assert_eq!(info.name, "report v2.pdf");
    assert_eq!(info.size, bytes.len() as u64);
    assert_eq!(info.content_type, "application/pdf");
    assert_eq!(info.sha256, sha_hex(&bytes));

    // Stored once, under its hash; nothing left in tmp.
    let blob = server
        .data_dir()
        .join("files")
        .join(&info.sha256[..2])
        .join(&info.sha256[2..]);
    assert_eq!(std::fs::read(&blob).unwrap(), bytes);
    assert!(tmp_is_empty(&server));

    // Caption optional on a file message.
    let (status, v) = send_file(&ana, conv.0, "f-1", "", info.id.0).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let m: Message = decode(v);
    assert_eq!(m.kind, MessageKind::File);
    assert_eq!(m.body, "");
    let a = m.attachment.clone().expect("attachment");
    assert_eq!(
        (a.id, a.name.as_str(), a.size),
        (info.id, "report v2.pdf", info.size)
    );

    // The peer sees it in history and can download it.
    let history = mona.history(conv).await;
    let seen = history.iter().find(|x| x.id == m.id).unwrap();
    assert_eq!(seen.attachment, m.attachment);
    let (status, headers, got) = download(&mona, info.id.0).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, bytes);
    assert_eq!(headers[header::CONTENT_TYPE], "application/pdf");
    assert_eq!(headers[header::CONTENT_LENGTH], bytes.len().to_string().as_str());
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"report v2.pdf\"; filename*=UTF-8''report%20v2.pdf"
    );
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(
        headers[header::CONTENT_SECURITY_POLICY],
        "default-src 'none'; sandbox"
    );

    // The same bytes again: a new row, the same blob.
    let again = mona.upload("copy.bin", "application/octet-stream", &bytes).await;
    assert_ne!(again.id, info.id);
    assert_eq!(again.sha256, info.sha256);
    let blobs: Vec<_> = files_under(&server.data_dir().join("files"));
    assert_eq!(blobs.len(), 1, "{blobs:?}");

    // A caption works too, and replays compare the file.
    let (status, v) = send_file(&ana, conv.0, "f-2", "the report", info.id.0).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let (status, v) = send_file(&ana, conv.0, "f-2", "the report", info.id.0).await;
    assert_eq!(status, StatusCode::OK, "replay: {v}");
    let other = ana.upload("other.txt", "text/plain", b"other").await;
    let (status, v) = send_file(&ana, conv.0, "f-2", "the report", other.id.0).await;
    assert_error(status, &v, 409, "idempotency_conflict");
    let (status, v) = ana.send_raw(conv, "f-2", "the report").await;
    assert_error(status, &v, 409, "idempotency_conflict");
}

#[tokio::test]
async fn only_the_uploader_and_participants_can_download() {
    let server = TestServer::start();
    let (mona, ana, conv) = server.accepted_pair("mona", "ana").await;
    let eve = server.mentee("eve").await;
    let bytes = b"private notes".to_vec();
    let info = ana.upload("notes.txt", "text/plain", &bytes).await;
    let id = info.id.0;

    // Uploaded but not sent: only the uploader.
    assert_eq!(download(&ana, id).await.2, bytes);
    for who in [&mona, &eve] {
        let (status, _, body) = download(who, id).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{}", who.username);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_error(status, &v, 404, "not_found");
    }
    // Nobody attaches someone else's file.
    let (status, v) = send_file(&mona, conv.0, "steal", "", id).await;
    assert_error(status, &v, 404, "not_found");
    let (status, v) = send_file(&ana, conv.0, "nope", "", 999_999).await;
    assert_error(status, &v, 404, "not_found");

    let (status, v) = send_file(&ana, conv.0, "share", "", id).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let message: Message = decode(v);
    assert_eq!(download(&mona, id).await.2, bytes);
    // Outsiders: the same 404 as a file that does not exist.
    let (status, _, body) = download(&eve, id).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (missing_status, _, missing_body) = download(&eve, 999_999).await;
    assert_eq!(missing_status, StatusCode::NOT_FOUND);
    assert_eq!(body, missing_body);
    // Eve cannot attach it in her own conversation either.
    let (status, v) = send_file(&eve, conv.0, "x", "", id).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    // No token: 401.
    let (status, _, _) = download(&server.anon(), id).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let r = upload_raw(&server.anon(), "a.txt", Some("text/plain"), b"x".to_vec()).await;
    assert_error(r.status, &r.body, 401, "unauthorized");

    // A deleted message takes its file with it (nothing else carries it; see privacy.rs).
    let (status, v) = ana.delete(&format!("/v1/messages/{}", message.id)).await;
    assert_eq!(status, StatusCode::OK, "delete: {v}");
    assert_eq!(download(&mona, id).await.0, StatusCode::NOT_FOUND);
    assert_eq!(download(&ana, id).await.0, StatusCode::NOT_FOUND);
    let seen = mona.history(conv).await;
    let tombstone = seen.iter().find(|m| m.id == message.id).unwrap();
    assert_eq!(tombstone.attachment, None, "a deleted message shows no file");
}

#[tokio::test]
async fn size_and_type_limits_are_enforced() {
    let server = TestServer::start_with(
        "[files]\nmax_bytes = 4096\nallowed_types = [\"text/*\", \"application/octet-stream\"]\n",
    );
    let ana = server.mentee("ana").await;

    let ok = ana
        .upload("max.bin", "application/octet-stream", &pattern(4096))
        .await;
    assert_eq!(ok.size, 4096);
    // Declared too large: refused before reading.
    let r = upload_raw(&ana, "big.bin", Some("application/octet-stream"), pattern(4097)).await;
    assert_error(r.status, &r.body, 413, "payload_too_large");
    // The rest of the body is not read: the connection is not reused.
    assert_eq!(r.headers[header::CONNECTION], "close");
    // Not declared (chunked): refused the moment it passes the limit.
    let r = upload_chunked(&ana, "big.bin", pattern(64 * 1024)).await;
    assert_error(r.status, &r.body, 413, "payload_too_large");
    let r = upload_chunked(&ana, "small.bin", pattern(3000)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(decode::<FileInfo>(r.body).sha256, sha_hex(&pattern(3000)));

    // Types: families and exact types, parameters ignored, the rest 415.
    let t = ana.upload("a.md", "Text/Markdown; charset=utf-8", b"# hi").await;
    assert_eq!(t.content_type, "text/markdown");
    let none = upload_raw(&ana, "raw", None, b"raw".to_vec()).await;
    assert_eq!(none.status, StatusCode::CREATED, "{}", none.text);
    assert_eq!(
        decode::<FileInfo>(none.body).content_type,
        "application/octet-stream"
    );
    for ct in ["image/png", "application/pdf", "nonsense", "text/", "a b/c"] {
        let r = upload_raw(&ana, "x", Some(ct), b"x".to_vec()).await;
        assert_error(r.status, &r.body, 415, "unsupported_media_type");
    }
    // Nothing half-written is left behind, nothing refused was stored.
    assert!(tmp_is_empty(&server));
    let stored = files_under(&server.data_dir().join("files")).len();
    assert_eq!(stored, 4, "max.bin, small.bin, a.md and raw only");
}

#[tokio::test]
async fn bad_names_and_queries_are_refused() {
    let server = TestServer::start();
    let ana = server.mentee("ana").await;
    for name in [
        "",
        "   ",
        ".",
        "..",
        "dir/",
        "a\u{0}b",
        "tab\there",
        "bidi\u{202E}txt.exe",
        "zw\u{200B}j",
    ] {
        let r = upload_raw(&ana, name, Some("text/plain"), b"x".to_vec()).await;
        assert_error(r.status, &r.body, 400, "validation_failed");
        assert_eq!(r.body["error"]["field"], "name", "{name:?}");
    }
    let long = "a".repeat(256);
    let r = upload_raw(&ana, &long, Some("text/plain"), b"x".to_vec()).await;
    assert_error(r.status, &r.body, 400, "validation_failed");
    // Only the last path component is kept.
    let info = ana
        .upload("..\\..\\windows\\system32\\evil.txt", "text/plain", b"x")
        .await;
    assert_eq!(info.name, "evil.txt");
    let info = ana.upload("../../etc/passwd", "text/plain", b"x").await;
    assert_eq!(info.name, "passwd");
    // No name, unknown query keys, bad ids.
    let r = ana
        .raw(Method::POST, "/v1/files", Some("text/plain"), Some(b"x".to_vec()))
        .await;
    assert_error(r.status, &r.body, 400, "invalid_query");
    let r = ana
        .raw(
            Method::POST,
            "/v1/files?name=a&x=1",
            Some("text/plain"),
            Some(b"x".to_vec()),
        )
        .await;
    assert_error(r.status, &r.body, 400, "invalid_query");
    let (status, v) = ana.get("/v1/files/abc").await;
    assert_error(status, &v, 400, "invalid_query");
    let (status, v) = ana.get("/v1/files/..%2F..%2Fetc%2Fpasswd").await;
    assert!(status.is_client_error(), "{status} {v}");
    assert!(tmp_is_empty(&server));
}

#[tokio::test]
async fn send_rules_with_files_and_replies() {
    let server = TestServer::start();
    let (mona, ana, conv) = server.accepted_pair("mona", "ana").await;
    // Without a file the body is still required.
    let (status, v) = ana.send_raw(conv, "empty", "  ").await;
    assert_error(status, &v, 400, "validation_failed");
    // reply_to must be a message of the same conversation.
    let m = ana.say(conv, "first", "first").await;
    let (status, v) = mona
        .post(
            &format!("/v1/conversations/{conv}/messages"),
            &json!({"client_id": "r1", "body": "yes", "reply_to": m.id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let (_, eve, other) = server.accepted_pair("mia", "eve").await;
    let elsewhere = eve.say(other, "e1", "elsewhere").await;
    for bad in [elsewhere.id.0, 999_999] {
        let (status, v) = mona
            .post(
                &format!("/v1/conversations/{conv}/messages"),
                &json!({"client_id": format!("r-{bad}"), "body": "hm", "reply_to": bad}),
            )
            .await;
        assert_error(status, &v, 400, "validation_failed");
        assert_eq!(v["error"]["field"], "reply_to", "{v}");
    }
}

#[tokio::test]
async fn unfinished_uploads_are_removed_at_start() {
    let mut server = TestServer::start();
    let tmp = server.data_dir().join("files").join("tmp");
    assert!(tmp.is_dir(), "the server prepares files/tmp at start");
    std::fs::write(tmp.join("leftover"), b"half an upload").unwrap();
    server.stop();
    server.start_again();
    assert!(tmp_is_empty(&server));
    let ana = server.mentee("ana").await;
    ana.upload("after.txt", "text/plain", b"fine").await;
}

/// Sends a whole upload over a plain TCP socket — the request head, then
/// `body_len` bytes in 64 KiB writes (chunked encoding when `chunked`) — and
/// only then reads the answer, like a client that does not look at the
/// response before it has sent everything. Returns whether every byte was
/// accepted by the socket, and what came back.
fn upload_over_tcp(
    addr: std::net::SocketAddr,
    token: &str,
    content_type: &str,
    body_len: usize,
    chunked: bool,
) -> (Result<(), std::io::Error>, String) {
    use std::io::{Read, Write};
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    tcp.set_write_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_string()
    } else {
        format!("Content-Length: {body_len}")
    };
    let head = format!(
        "POST /v1/files?name=big.bin HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: {content_type}\r\n{framing}\r\n\r\n"
    );
    let body = pattern(body_len);
    let sent = (|| {
        tcp.write_all(head.as_bytes())?;
        for chunk in body.chunks(64 * 1024) {
            if chunked {
                tcp.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())?;
                tcp.write_all(chunk)?;
                tcp.write_all(b"\r\n")?;
            } else {
                tcp.write_all(chunk)?;
            }
        }
        if chunked {
            tcp.write_all(b"0\r\n\r\n")?;
        }
        tcp.flush()
    })();
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer);
    (sent, String::from_utf8_lossy(&answer).into_owned())
}

#[tokio::test]
async fn a_client_still_sending_a_refused_upload_gets_the_answer_not_a_reset() {
    let server = TestServer::start_with(
        "[files]\nmax_bytes = 1048576\nallowed_types = [\"application/octet-stream\"]\n",
    );
    let ana = server.mentee("ana").await;
    let addr = server.addr();
    // Over the limit by Content-Length, over it mid-stream (chunked), and a
    // refused type: each answered, none cut off while the client sends
    // (up to the bound the server is willing to read and discard).
    for (content_type, len, chunked, want) in [
        ("application/octet-stream", 6 << 20, false, "413"),
        ("application/octet-stream", 6 << 20, true, "413"),
        ("video/mp4", 4 << 20, false, "415"),
    ] {
        let token = ana.token.clone();
        let (sent, answer) =
            tokio::task::spawn_blocking(move || upload_over_tcp(addr, &token, content_type, len, chunked))
                .await
                .unwrap();
        assert!(
            sent.is_ok(),
            "{content_type} {len} chunked={chunked}: the server stopped reading: {sent:?}; answer {answer:?}"
        );
        let status_line = answer.lines().next().unwrap_or("");
        assert!(status_line.contains(want), "{content_type}: {answer:?}");
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        let code = if want == "413" {
            "payload_too_large"
        } else {
            "unsupported_media_type"
        };
        assert_eq!(v["error"]["code"], code, "{answer}");
    }
    // The limit sentence is the one the server publishes its limits for.
    let (status, info) = server.anon().get("/v1/info").await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["limits"]["file_max_bytes"], 1_048_576);
    assert!(tmp_is_empty(&server));
}

#[tokio::test]
async fn invalid_utf8_in_the_name_is_refused_not_altered() {
    let server = TestServer::start();
    let ana = server.mentee("ana").await;
    for query in ["name=a%FFb", "name=%C3", "name=ok%ED%A0%80.txt", "name=a%80%80"] {
        let r = ana
            .raw(
                Method::POST,
                &format!("/v1/files?{query}"),
                Some("text/plain"),
                Some(b"x".to_vec()),
            )
            .await;
        assert_error(r.status, &r.body, 400, "validation_failed");
        assert_eq!(r.body["error"]["field"], "name", "{query}: {}", r.text);
    }
    // Valid multi-byte names still pass, '+' is a space.
    let r = ana
        .raw(
            Method::POST,
            "/v1/files?name=r%C3%A9sum%C3%A9+v2.txt",
            Some("text/plain"),
            Some(b"x".to_vec()),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(decode::<FileInfo>(r.body).name, "résumé v2.txt");
    assert!(tmp_is_empty(&server));
}

#[tokio::test]
async fn revoking_a_token_stops_its_transfers() {
    let server = TestServer::start();
    let (_mona, ana, _conv) = server.accepted_pair("mona", "ana").await;
    let phone = server.login("ana").await;

    // A download read slowly: the server blocks on a full socket, then the
    // token is revoked, and the rest never comes.
    let bytes = pattern(48 << 20);
    let info = phone.upload("big.bin", "application/octet-stream", &bytes).await;
    let mut resp = phone
        .builder(Method::GET, &format!("/v1/files/{}", info.id))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut got = resp.chunk().await.unwrap().map_or(0, |c| c.len());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (status, v) = ana.delete(&format!("/v1/tokens/{}", phone.token_id)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let cut = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            match resp.chunk().await {
                Ok(Some(c)) => got += c.len(),
                Ok(None) => return false,
                Err(_) => return true,
            }
        }
    })
    .await
    .expect("the download neither ended nor failed");
    assert!(
        cut && got < bytes.len(),
        "a revoked token's download went on: {got} bytes"
    );

    // An upload still streaming when its token is revoked: answered 401 at once.
    let owner = server.login("ana").await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(tokio_stream_from(rx));
    let upload = tokio::spawn({
        let rb = owner
            .builder(Method::POST, "/v1/files?name=slow.bin")
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(body);
        async move { Api::send(rb).await }
    });
    tx.send(Ok(pattern(64 * 1024))).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (status, v) = ana.delete(&format!("/v1/tokens/{}", owner.token_id)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let r = tokio::time::timeout(std::time::Duration::from_secs(5), upload)
        .await
        .expect("the upload was not ended by the revocation")
        .unwrap();
    assert_error(r.status, &r.body, 401, "unauthorized");
    drop(tx);
    assert!(tmp_is_empty(&server));
}

/// A stream of the chunks sent into `rx`, ending when every sender is dropped.
fn tokio_stream_from(
    rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) })
}

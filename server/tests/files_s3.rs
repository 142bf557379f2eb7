//! Attachments in an S3-compatible bucket (`[files] store = "s3"`): a real
//! S3 service (`moto_server`, see testkit's `TestBucket`) on loopback, and
//! real mchatd processes — one on SQLite, and two nodes on one PostgreSQL
//! database that must both serve every file.
//!
//! Needs moto (and PostgreSQL for the nodes): `.ci/run` runs these with
//! `--ignored`, naming moto_server in `MCHAT_TEST_MOTO_SERVER`.

// Test helpers outside #[test] functions may panic on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Api, TestServer, decode};
use mchat_shared::api::Message;
use mchat_testkit::{TestBucket, TestDatabase};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};

/// Bytes that differ everywhere, `len` long.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn key_of(bytes: &[u8]) -> String {
    let sha: String = Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
    format!("files/{}/{}", &sha[..2], &sha[2..])
}

async fn download(api: &Api, id: i64) -> (StatusCode, Vec<u8>) {
    let resp = api
        .builder(Method::GET, &format!("/v1/files/{id}"))
        .send()
        .await
        .unwrap();
    (resp.status(), resp.bytes().await.unwrap().to_vec())
}

async fn send_file(api: &Api, conv: impl std::fmt::Display, client_id: &str, file: i64) -> Message {
    let (status, v) = api
        .post(
            &format!("/v1/conversations/{conv}/messages"),
            &json!({"client_id": client_id, "body": "see attached", "file": file}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    decode(v)
}

async fn delete(api: &Api, id: impl std::fmt::Display) {
    let (status, v) = api.delete(&format!("/v1/messages/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
}

#[tokio::test]
#[ignore = "needs an S3 service: run with MCHAT_TEST_MOTO_SERVER and --ignored"]
async fn attachments_live_in_the_bucket_and_go_with_their_last_message() {
    let bucket = TestBucket::start();
    let server = TestServer::start_with(&bucket.files_toml());
    let (mona, ana, conv) = server.accepted_pair("mona", "ana").await;
    // Larger than one part (8 MiB): a multipart upload.
    let bytes = pattern(12 * 1024 * 1024 + 17, 1);
    let info = ana.upload("big.bin", "application/octet-stream", &bytes).await;
    assert_eq!(bucket.keys(), [key_of(&bytes)]);
    // Nothing of it stays on the node's disk.
    let local: Vec<_> = common::files_under(server.data_dir());
    assert!(
        local
            .iter()
            .all(|p| !p.to_string_lossy().contains(&key_of(&bytes)[9..])),
        "{local:?}"
    );
    let sent = send_file(&ana, conv, "f1", info.id.0).await;
    let (status, got) = download(&mona, info.id.0).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        got == bytes,
        "the bytes came back changed ({} of {})",
        got.len(),
        bytes.len()
    );
    // The same bytes again: one object; they stay while a message carries them.
    let again = mona.upload("copy.bin", "application/octet-stream", &bytes).await;
    assert_eq!(again.sha256, info.sha256);
    let copy = send_file(&mona, conv, "f2", again.id.0).await;
    delete(&ana, sent.id).await;
    assert_eq!(bucket.keys().len(), 1);
    assert_eq!(download(&mona, again.id.0).await.1.len(), bytes.len());
    delete(&mona, copy.id).await;
    assert!(bucket.keys().is_empty(), "{:?}", bucket.keys());
    // Small files too, and a restart keeps what rows name.
    let small = ana.upload("note.txt", "application/octet-stream", b"hello").await;
    let mut server = server;
    server.restart();
    let (status, got) = download(&server.adopt(&ana), small.id.0).await;
    assert_eq!((status, got.as_slice()), (StatusCode::OK, &b"hello"[..]));
}

#[tokio::test]
#[ignore = "needs an S3 service and PostgreSQL: run with MCHAT_TEST_MOTO_SERVER through scripts/with-postgres.sh, --ignored"]
async fn every_node_serves_every_file_from_the_bucket() {
    let bucket = TestBucket::start();
    let db = TestDatabase::create();
    let a = TestServer::start_on_postgres(db.url(), &bucket.files_toml());
    let b = TestServer::start_on_postgres(db.url(), &bucket.files_toml());
    let (mona, ana, conv) = a.accepted_pair("mona", "ana").await;
    let bytes = pattern(300_000, 7);
    let info = ana.upload("plan.pdf", "application/octet-stream", &bytes).await;
    let sent = send_file(&ana, conv, "f1", info.id.0).await;
    // Uploaded through node A, downloaded through node B.
    let (status, got) = download(&b.adopt(&mona), info.id.0).await;
    assert_eq!(status, StatusCode::OK);
    assert!(got == bytes);
    // Deleted through node B: gone from the bucket, for node A too.
    delete(&b.adopt(&ana), sent.id).await;
    assert!(bucket.keys().is_empty(), "{:?}", bucket.keys());
    let (status, _) = download(&mona, info.id.0).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

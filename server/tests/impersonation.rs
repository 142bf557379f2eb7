//! Impersonation (issue 12): look-alike usernames and display names are
//! refused at registration, `PATCH /v1/me` and `mchatd admin create-user`,
//! and the check covers rows written before it existed.

// Test helpers outside #[test] functions may panic on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{PASSWORD, TestServer, assert_error};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn register(server: &TestServer, username: &str, display_name: Option<&str>) -> (StatusCode, Value) {
    let mut body = json!({"username": username, "password": PASSWORD, "role": "mentee"});
    if let Some(name) = display_name {
        body["display_name"] = json!(name);
    }
    server.anon().post("/v1/auth/register", &body).await
}

fn assert_too_similar(status: StatusCode, v: &Value, want_status: u16, code: &str, field: Option<&str>) {
    assert_error(status, v, want_status, code);
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("too similar"), "{v}");
    if let Some(field) = field {
        assert_eq!(v["error"]["field"], field, "{v}");
    }
}

#[tokio::test]
async fn look_alike_usernames_are_refused() {
    let server = TestServer::start();
    server
        .register_with(
            json!({"username": "mona", "password": PASSWORD, "role": "mentor", "display_name": "Mona Lisa"}),
        )
        .await;
    for look_alike in ["rnona", "m0na", "rn0na"] {
        let (status, v) = register(&server, look_alike, None).await;
        assert_too_similar(status, &v, 409, "username_taken", None);
    }
    // The exact name keeps its own sentence.
    let (status, v) = register(&server, "MONA", None).await;
    assert_error(status, &v, 409, "username_taken");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("is taken"),
        "{v}"
    );

    // A username that looks like someone's display name impersonates them too.
    server
        .register_with(
            json!({"username": "carla", "password": PASSWORD, "role": "mentee", "display_name": "Zed"}),
        )
        .await;
    let (status, v) = register(&server, "zed", Some("Zed Shaw")).await;
    assert_too_similar(status, &v, 409, "username_taken", None);

    // Ordinary distinct names are untouched.
    for name in ["ana", "anna", "ben", "ben2", "user1", "user2", "mina"] {
        let (status, v) = register(&server, name, None).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {v}");
    }
    // 1 and l are the same shape.
    let (status, v) = register(&server, "userl", None).await;
    assert_too_similar(status, &v, 409, "username_taken", None);
}

#[tokio::test]
async fn look_alike_display_names_are_refused_at_register_and_patch() {
    let server = TestServer::start();
    let mona = server
        .register_with(
            json!({"username": "mona", "password": PASSWORD, "role": "mentor", "display_name": "Mona Lisa"}),
        )
        .await;
    for look_alike in [
        "Mona Lisa",
        "MONA  LISA",
        "M\u{043E}na Lisa",
        "Mona",
        "M0NA",
        "rnona",
    ] {
        let (status, v) = register(&server, "ben", Some(look_alike)).await;
        assert_too_similar(status, &v, 400, "validation_failed", Some("display_name"));
    }
    let ben = server
        .register_with(
            json!({"username": "ben", "password": PASSWORD, "role": "mentee", "display_name": "Ben Carter"}),
        )
        .await;

    for look_alike in ["Mona Lisa", "M\u{043E}na Lisa", "mona"] {
        let (status, v) = ben.patch("/v1/me", &json!({"display_name": look_alike})).await;
        assert_too_similar(status, &v, 400, "validation_failed", Some("display_name"));
    }
    let me: Value = ben.get_ok("/v1/me").await;
    assert_eq!(me["display_name"], "Ben Carter", "a refused name is not stored");

    // Everyone may keep, re-set or re-case their own name, or use their username.
    for own in ["Mona Lisa", "MONA LISA", "mona", "Mona"] {
        let (status, v) = mona.patch("/v1/me", &json!({"display_name": own})).await;
        assert_eq!(status, StatusCode::OK, "{own}: {v}");
    }
    // Mona's old display name is free again once she changed it.
    let (status, v) = ben.patch("/v1/me", &json!({"display_name": "Mona Lisa"})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    // ...and now hers would collide with Ben's.
    let (status, v) = mona.patch("/v1/me", &json!({"display_name": "Mona Lisa"})).await;
    assert_too_similar(status, &v, 400, "validation_failed", Some("display_name"));
    // A change of anything else keeps working.
    let (status, v) = ben.patch("/v1/me", &json!({"headline": "learning Rust"})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn admin_create_user_refuses_look_alikes() {
    let server = TestServer::start();
    server.create_user_cli("mona", "mentor", PASSWORD);
    let create = |args: &[&str]| {
        let mut all = vec!["create-user"];
        all.extend_from_slice(args);
        all.push("--password-stdin");
        server.admin(&all, &format!("{PASSWORD}\n"))
    };
    let out = create(&["rnona", "--role", "admin"]);
    assert!(!out.status.success(), "a look-alike admin was created");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("too similar"),
        "{out:?}"
    );
    let out = create(&["support", "--display-name", "M0na"]);
    assert!(!out.status.success(), "a look-alike display name was accepted");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("too similar"),
        "{out:?}"
    );
    let out = create(&["support", "--display-name", "Support"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Users stored before the keys existed (or inserted directly, as
/// `mchat-bench seed` does) are keyed when the server starts.
#[tokio::test]
async fn rows_without_keys_are_backfilled_at_start() {
    let mut server = TestServer::start();
    server
        .register_with(
            json!({"username": "mona", "password": PASSWORD, "role": "mentor", "display_name": "Mona Lisa"}),
        )
        .await;
    server.stop();
    let n = server
        .sql()
        .execute("UPDATE users SET username_key = NULL, display_key = NULL", &[]);
    assert_eq!(n, 1);
    server.start_again();
    let (status, v) = register(&server, "rnona", None).await;
    assert_too_similar(status, &v, 409, "username_taken", None);
    let (status, v) = register(&server, "ben", Some("Mona Lisa")).await;
    assert_too_similar(status, &v, 400, "validation_failed", Some("display_name"));
}

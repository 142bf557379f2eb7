//! Registration modes (open / invite / closed) and the offline admin
//! commands (`mchatd admin approve-mentor | announce | reset-password |
//! invite`), run against the data dir of a live server.

mod common;

use common::{PASSWORD, TestServer, assert_error};
use mchat_shared::api::{NotificationKind, UserList};
use reqwest::StatusCode;
use serde_json::json;

fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "mchatd admin failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test]
async fn invite_mode_needs_a_code_with_uses_left() {
    let server = TestServer::start_with("[registration]\nmode = \"invite\"\n");
    let body = |name: &str, code: Option<&str>| json!({"username": name, "password": PASSWORD, "role": "mentee", "invite_code": code});
    let (status, v) = server.anon().post("/v1/auth/register", &body("ana", None)).await;
    assert_error(status, &v, 403, "registration_closed");
    let (status, v) = server
        .anon()
        .post("/v1/auth/register", &body("ana", Some("inv_not-a-real-code")))
        .await;
    assert_error(status, &v, 403, "registration_closed");

    let code = stdout(&server.admin(&["invite", "--uses", "1"], ""));
    assert!(code.starts_with("inv_"), "{code}");
    let (status, v) = server
        .anon()
        .post("/v1/auth/register", &body("ana", Some(&code)))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    // One use only.
    let (status, v) = server
        .anon()
        .post("/v1/auth/register", &body("ben", Some(&code)))
        .await;
    assert_error(status, &v, 403, "registration_closed");
    // A failed registration does not burn a use: a two-use code survives a taken username.
    let code2 = stdout(&server.admin(&["invite", "--uses", "2"], ""));
    let (status, v) = server
        .anon()
        .post("/v1/auth/register", &body("ana", Some(&code2)))
        .await;
    assert_error(status, &v, 409, "username_taken");
    for name in ["carla", "dan"] {
        let (status, v) = server
            .anon()
            .post("/v1/auth/register", &body(name, Some(&code2)))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {v}");
    }
    let (status, v) = server
        .anon()
        .post("/v1/auth/register", &body("erin", Some(&code2)))
        .await;
    assert_error(status, &v, 403, "registration_closed");
}

#[tokio::test]
async fn closed_mode_refuses_registration_but_admins_create_users() {
    let server = TestServer::start_with("[registration]\nmode = \"closed\"\n");
    let (status, v) = server
        .anon()
        .post(
            "/v1/auth/register",
            &json!({"username": "ana", "password": PASSWORD, "role": "mentee"}),
        )
        .await;
    assert_error(status, &v, 403, "registration_closed");
    server.create_user_cli("ana", "mentee", PASSWORD);
    let ana = server.login("ana").await;
    assert_eq!(ana.auth.user.username, "ana");
}

#[tokio::test]
async fn approve_announce_and_reset_password_from_the_command_line() {
    let server = TestServer::start();
    let mona = server.register("mona", "mentor").await;
    let ana = server.mentee("ana").await;
    let listed = |list: &UserList| list.users.iter().any(|u| u.username == "mona");
    let before: UserList = ana.get_ok("/v1/users?role=mentor").await;
    assert!(!listed(&before), "unapproved mentors are not listed");

    assert_eq!(
        stdout(&server.admin(&["approve-mentor", "mona"], "")),
        "mona is an approved mentor"
    );
    let after: UserList = ana.get_ok("/v1/users?role=mentor").await;
    assert!(listed(&after));
    let kinds: Vec<_> = mona
        .notifications(false)
        .await
        .notifications
        .iter()
        .map(|n| n.kind)
        .collect();
    assert_eq!(kinds, vec![NotificationKind::MentorApproved]);
    let out = server.admin(&["approve-mentor", "ana"], "");
    assert!(!out.status.success(), "a mentee cannot be approved as a mentor");
    assert!(String::from_utf8_lossy(&out.stderr).contains("ana is not a mentor"));

    let said = stdout(&server.admin(&["announce", "Office hours move to Thursday"], ""));
    assert_eq!(said, "announced to 2 users");
    for who in [&mona, &ana] {
        let list = who.notifications(true).await;
        let n = list
            .notifications
            .iter()
            .find(|n| n.kind == NotificationKind::Announcement)
            .expect("announcement");
        assert_eq!(n.body, "Office hours move to Thursday");
    }

    let out = server.admin(
        &["reset-password", "ana", "--password-stdin"],
        "a brand new password\n",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (status, v) = ana.get("/v1/me").await;
    assert_error(status, &v, 401, "unauthorized");
    let (status, v) = server
        .anon()
        .post(
            "/v1/auth/login",
            &json!({"username": "ana", "password": PASSWORD}),
        )
        .await;
    assert_error(status, &v, 401, "invalid_credentials");
    let (status, v) = server
        .anon()
        .post(
            "/v1/auth/login",
            &json!({"username": "ana", "password": "a brand new password"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let out = server.admin(&["reset-password", "ghost", "--password-stdin"], "whatever123\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user named ghost"));
}

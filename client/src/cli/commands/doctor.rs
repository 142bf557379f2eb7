//! `mchat doctor`: the first thing to run when something is wrong.
//!
//! It always prints the whole report (with `--json`, one document), then
//! exits non-zero when a check failed, so `mchat doctor || alert` works:
//! 3 when the account is the problem (not logged in, token refused or for
//! another server), 1 for anything else (server unreachable, local store).
//! Messages waiting in the outbox are reported but are not a failure.
//! For an `https://` server it names the roots it trusted (the platform's,
//! `--ca-file`), which is the first question when a certificate is refused.

use super::super::context::Ctx;
use super::super::output::{DIM, GREEN, RED, YELLOW, paint, safe};
use serde::Serialize;
use std::time::Instant;

#[derive(Serialize)]
struct Report {
    profile: String,
    server: String,
    config_file: String,
    data_dir: String,
    reachable: bool,
    latency_ms: Option<f64>,
    server_version: Option<String>,
    /// For an https:// server: the certificates trusted, in words.
    tls_roots: Option<String>,
    logged_in: bool,
    username: Option<String>,
    token_valid: Option<bool>,
    token_expires_at: Option<mchat_shared::Timestamp>,
    token_source: Option<&'static str>,
    outbox_depth: Option<u32>,
    event_cursor: Option<i64>,
    /// Every check passed (the exit code is 0).
    ok: bool,
    problems: Vec<String>,
}

pub async fn run(ctx: &mut Ctx) -> anyhow::Result<()> {
    let mut r = Report {
        profile: ctx.profile.clone(),
        server: ctx.server.clone(),
        config_file: ctx.paths.config_file.display().to_string(),
        data_dir: ctx.paths.data_dir.display().to_string(),
        reachable: false,
        latency_ms: None,
        server_version: None,
        tls_roots: ctx
            .server
            .starts_with("https://")
            .then(crate::tls::roots_in_words),
        logged_in: ctx.has_token(),
        username: ctx.username().map(str::to_string),
        token_valid: None,
        token_expires_at: ctx.credentials.as_ref().map(|c| c.expires_at),
        token_source: if ctx.env_token.is_some() {
            Some("MCHAT_TOKEN")
        } else if ctx.credentials.is_some() {
            Some("credentials file")
        } else {
            None
        },
        outbox_depth: None,
        event_cursor: None,
        ok: true,
        problems: Vec::new(),
    };
    let mut local_failed = false;
    match ctx.local() {
        Ok(local) => {
            r.outbox_depth = local.outbox_len().ok();
            r.event_cursor = local.cursor().ok().flatten();
        }
        Err(e) => {
            r.problems.push(format!("local store: {e:#}"));
            local_failed = true;
        }
    }
    let started = Instant::now();
    match ctx.anonymous()?.health().await {
        Ok(h) => {
            r.reachable = true;
            r.latency_ms = Some((started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0);
            r.server_version = Some(h.version);
        }
        Err(e) => r.problems.push(e.to_string()),
    }
    // A saved token for another server is a finding, not a reason to stop
    // (and whether that server answers does not change it).
    let token = ctx.token();
    if let Err(e) = &token {
        r.token_valid = Some(false);
        r.problems.push(format!("token: {e:#}"));
    }
    if r.reachable && r.logged_in && token.is_ok() {
        match ctx.client() {
            Ok(client) => match client.me().await {
                Ok(me) => {
                    r.token_valid = Some(true);
                    r.username = Some(me.username);
                }
                Err(e) => {
                    r.token_valid = Some(false);
                    r.problems.push(format!("token: {e}"));
                }
            },
            Err(e) => {
                r.token_valid = Some(false);
                r.problems.push(format!("token: {e:#}"));
            }
        }
    } else if !r.logged_in {
        r.problems
            .push("not logged in: run 'mchat login USERNAME'".into());
    }
    let account_failed = !r.logged_in || r.token_valid == Some(false);
    r.ok = r.reachable && !account_failed && !local_failed;
    if r.outbox_depth.unwrap_or(0) > 0 {
        r.problems.push(format!(
            "{} message(s) wait in the outbox: 'mchat outbox'",
            r.outbox_depth.unwrap_or(0)
        ));
    }
    if ctx.out.json {
        ctx.out.json(&r)?;
        return verdict(&r, account_failed);
    }
    let ok = |b: bool| if b { paint(GREEN, "ok") } else { paint(RED, "no") };
    let out = &ctx.out;
    out.line(format!("profile      {}", r.profile));
    out.line(format!(
        "server       {}  reachable: {}{}",
        r.server,
        ok(r.reachable),
        r.latency_ms.map(|l| format!(" ({l} ms)")).unwrap_or_default()
    ));
    if let Some(roots) = &r.tls_roots {
        out.line(format!("tls          trusting {roots}"));
    }
    if let Some(v) = &r.server_version {
        out.line(format!(
            "version      mchatd {}  (mchat {})",
            safe(v),
            env!("CARGO_PKG_VERSION")
        ));
    }
    out.line(format!(
        "account      {}{}",
        r.username
            .as_deref()
            .map(|u| safe(u).into_owned())
            .unwrap_or_else(|| "not logged in".into()),
        r.token_valid
            .map(|v| format!("  token valid: {}", ok(v)))
            .unwrap_or_default()
    ));
    if let Some(t) = r.token_expires_at {
        out.line(format!(
            "token        expires {}  ({})",
            crate::when::to_local(t).date(),
            r.token_source.unwrap_or("")
        ));
    }
    out.line(format!("outbox       {} queued", r.outbox_depth.unwrap_or(0)));
    out.line(format!(
        "cursor       {}",
        r.event_cursor
            .map(|c| c.to_string())
            .unwrap_or_else(|| "none yet".into())
    ));
    out.line(paint(DIM, format!("config       {}", r.config_file)));
    out.line(paint(DIM, format!("data         {}", r.data_dir)));
    for p in &r.problems {
        out.line(format!("{} {}", paint(YELLOW, "!"), safe(p)));
    }
    verdict(&r, account_failed)
}

/// The exit: `Ok` when every check passed, otherwise the code the module
/// docs give, with the first problem as the sentence.
fn verdict(r: &Report, account_failed: bool) -> anyhow::Result<()> {
    if r.ok {
        return Ok(());
    }
    let code = if account_failed && r.reachable {
        super::super::exit::AUTH
    } else {
        super::super::exit::FAILURE
    };
    let first = r.problems.first().map(String::as_str).unwrap_or("a check failed");
    Err(super::super::exit::Reported {
        code,
        message: format!("doctor: {}", safe(first)),
    }
    .into())
}

//! Accounts: register, login, logout, whoami, profile, status, tokens.

use super::super::context::Ctx;
use super::super::exit::{self, Exit};
use super::super::output::{BOLD, DIM, GREEN, YELLOW, paint, relative, safe, safe_text};
use crate::config::Credentials;
use clap::{Args, Subcommand};
use mchat_shared::api::{
    AuthResponse, Availability, CreateTokenRequest, LoginRequest, Profile, RegisterRequest, Role,
    UpdateMeRequest, User,
};
use mchat_shared::{TokenId, validate};
use serde::Serialize;
use std::io::{BufRead, IsTerminal};

#[derive(Args)]
pub struct RegisterArgs {
    pub username: String,
    /// mentor or mentee.
    #[arg(long, default_value = "mentee", value_parser = ["mentor", "mentee"])]
    pub role: String,
    #[arg(long)]
    pub display_name: Option<String>,
    /// Read the password from the first line of stdin.
    #[arg(long)]
    pub password_stdin: bool,
    /// Invite code, when the server requires one.
    #[arg(long)]
    pub invite: Option<String>,
    /// Mentors: headline or profession.
    #[arg(long)]
    pub headline: Option<String>,
    /// Mentors: expertise tags, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub expertise: Vec<String>,
    /// Mentees: grade or level.
    #[arg(long)]
    pub level: Option<String>,
    /// Mentees: interests, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub interests: Vec<String>,
}

#[derive(Args)]
pub struct LoginArgs {
    pub username: String,
    /// Read the password from the first line of stdin.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Args)]
pub struct ProfileArgs {
    #[command(subcommand)]
    pub command: Option<ProfileCommand>,
}

#[derive(Subcommand)]
pub enum ProfileCommand {
    /// Show your profile (the default).
    Show,
    /// Change profile fields; an empty value clears a field.
    Set {
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        headline: Option<String>,
        #[arg(long)]
        experience: Option<String>,
        #[arg(long, value_delimiter = ',')]
        expertise: Option<Vec<String>>,
        #[arg(long)]
        level: Option<String>,
        #[arg(long, value_delimiter = ',')]
        interests: Option<Vec<String>>,
        #[arg(long)]
        bio: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum TokensCommand {
    /// List your live tokens.
    List,
    /// Create a named token for a script (printed once): export MCHAT_TOKEN=...
    Create {
        name: String,
        #[arg(long)]
        days: Option<u32>,
    },
    /// Revoke a token by id.
    Revoke { id: i64 },
}

/// Reads a password: `--password-stdin`, or a no-echo prompt on a terminal.
fn password(from_stdin: bool, confirm: bool) -> anyhow::Result<String> {
    let pw = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else if std::io::stdin().is_terminal() {
        let pw = rpassword::prompt_password("password: ")?;
        if confirm && rpassword::prompt_password("again: ")? != pw {
            return Err(Exit::rejected("the passwords do not match").into());
        }
        pw
    } else {
        return Err(Exit::new(
            exit::USAGE,
            "no terminal to ask for the password: use --password-stdin",
        )
        .into());
    };
    validate::password(&pw)?;
    Ok(pw)
}

#[derive(Serialize)]
struct Session<'a> {
    server: &'a str,
    profile: &'a str,
    user: &'a User,
    token_id: TokenId,
    expires_at: mchat_shared::Timestamp,
}

fn save_session(ctx: &mut Ctx, auth: &AuthResponse) -> anyhow::Result<()> {
    let creds = Credentials {
        server: ctx.server.clone(),
        username: auth.user.username.clone(),
        token: auth.token.clone(),
        token_id: auth.token_id.0,
        expires_at: auth.expires_at,
    };
    creds.save(&ctx.paths.credentials_file(&ctx.profile))?;
    ctx.credentials = Some(creds);
    if ctx.out.json {
        ctx.out.json(&Session {
            server: &ctx.server,
            profile: &ctx.profile,
            user: &auth.user,
            token_id: auth.token_id,
            expires_at: auth.expires_at,
        })?;
    }
    Ok(())
}

fn device_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_default();
    if host.is_empty() {
        "mchat".into()
    } else {
        format!("mchat on {host}")
    }
}

pub async fn register(ctx: &mut Ctx, a: RegisterArgs) -> anyhow::Result<()> {
    let username = validate::username(&a.username)?;
    if let Some(d) = &a.display_name {
        validate::display_name(d)?;
    }
    let role = Role::parse(&a.role).unwrap_or(Role::Mentee);
    let pw = password(a.password_stdin, true)?;
    let req = RegisterRequest {
        username,
        password: pw,
        display_name: a.display_name,
        role,
        invite_code: a.invite,
        profile: Some(Profile {
            headline: a.headline,
            expertise: a.expertise,
            level: a.level,
            interests: a.interests,
            ..Profile::default()
        }),
        token_name: Some(device_name()),
    };
    let auth = ctx.anonymous()?.register(&req).await?;
    save_session(ctx, &auth)?;
    if !ctx.out.json {
        ctx.out.line(format!(
            "{} registered {} as a {} on {}",
            paint(GREEN, "✓"),
            paint(BOLD, safe(&auth.user.username)),
            auth.user.role,
            ctx.server
        ));
        if auth.user.mentor_approved == Some(false) {
            ctx.out
                .line("  an admin has to approve your mentor account before mentees can find you");
        }
    }
    Ok(())
}

pub async fn login(ctx: &mut Ctx, a: LoginArgs) -> anyhow::Result<()> {
    let username = validate::username(&a.username).map_err(|e| Exit::rejected(e.message))?;
    let pw = password(a.password_stdin, false)?;
    let req = LoginRequest {
        username,
        password: pw,
        token_name: Some(device_name()),
    };
    let auth = ctx.anonymous()?.login(&req).await?;
    save_session(ctx, &auth)?;
    if !ctx.out.json {
        ctx.out.line(format!(
            "{} logged in as {} on {}",
            paint(GREEN, "✓"),
            paint(BOLD, safe(&auth.user.username)),
            ctx.server
        ));
    }
    Ok(())
}

pub async fn logout(ctx: &mut Ctx) -> anyhow::Result<()> {
    let path = ctx.paths.credentials_file(&ctx.profile);
    let Some(creds) = ctx.credentials.clone() else {
        return Err(Exit::not_logged_in(&ctx.profile).into());
    };
    // Revoke on the server; if it is unreachable, forget the token anyway
    // and say so (it expires on its own).
    // Only the server that issued the token ever sees it, whatever --server says.
    let revoked = match crate::api::Client::new(&creds.server, Some(creds.token)) {
        Ok(c) => c.logout().await,
        Err(e) => Err(e),
    };
    Credentials::remove(&path)?;
    if let Err(e) = &revoked {
        ctx.out.note(format!(
            "note: could not revoke the token on the server ({}); it was forgotten here",
            safe(&e.to_string())
        ));
    }
    if ctx.out.json {
        ctx.out
            .json(&serde_json::json!({"ok": true, "revoked": revoked.is_ok(), "profile": ctx.profile}))?;
    } else {
        ctx.out.line(format!("logged out of {}", creds.server));
    }
    Ok(())
}

/// Prints a user: the profile view shared by whoami and profile.
fn print_user(ctx: &Ctx, u: &User) {
    let out = &ctx.out;
    out.line(format!(
        "{} ({}) — {}{}",
        paint(BOLD, safe(&u.display_name)),
        safe(&u.username),
        u.role,
        u.availability.map(|a| format!(", {a}")).unwrap_or_default()
    ));
    if u.mentor_approved == Some(false) {
        out.line(format!("  {}", paint(YELLOW, "awaiting approval by an admin")));
    }
    let p = &u.profile;
    let fields = [
        ("headline", p.headline.as_deref()),
        ("experience", p.experience.as_deref()),
        ("level", p.level.as_deref()),
    ];
    for (name, value) in fields {
        if let Some(v) = value {
            out.line(format!("  {} {}", paint(DIM, format!("{name:<11}")), safe(v)));
        }
    }
    if !p.expertise.is_empty() {
        out.line(format!(
            "  {} {}",
            paint(DIM, format!("{:<11}", "expertise")),
            safe(&p.expertise.join(", "))
        ));
    }
    if !p.interests.is_empty() {
        out.line(format!(
            "  {} {}",
            paint(DIM, format!("{:<11}", "interests")),
            safe(&p.interests.join(", "))
        ));
    }
    if let Some(bio) = &p.bio {
        out.line(format!("  {}", safe_text(bio).replace('\n', "\n  ")));
    }
}

pub async fn whoami(ctx: &mut Ctx) -> anyhow::Result<()> {
    let me = ctx.client()?.me().await?;
    if ctx.out.json {
        ctx.out
            .json(&serde_json::json!({"server": ctx.server, "profile": ctx.profile, "user": me}))?;
    } else {
        print_user(ctx, &me);
        ctx.out.line(format!(
            "  {} {} (profile {})",
            paint(DIM, format!("{:<11}", "server")),
            ctx.server,
            ctx.profile
        ));
    }
    Ok(())
}

pub async fn profile(ctx: &mut Ctx, a: ProfileArgs) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let user = match a.command.unwrap_or(ProfileCommand::Show) {
        ProfileCommand::Show => client.me().await?,
        ProfileCommand::Set {
            display_name,
            headline,
            experience,
            expertise,
            level,
            interests,
            bio,
        } => {
            let req = UpdateMeRequest {
                display_name,
                headline,
                experience,
                expertise,
                level,
                interests,
                bio,
                availability: None,
            };
            client.update_me(&req).await?
        }
    };
    if ctx.out.json {
        ctx.out.json(&user)?;
    } else {
        print_user(ctx, &user);
    }
    Ok(())
}

pub async fn status(ctx: &mut Ctx, availability: &str) -> anyhow::Result<()> {
    let availability = Availability::parse(&availability.trim().to_lowercase())
        .ok_or_else(|| Exit::new(exit::USAGE, "availability is one of: available, away, busy"))?;
    let user = ctx
        .client()?
        .update_me(&UpdateMeRequest {
            availability: Some(availability),
            ..UpdateMeRequest::default()
        })
        .await?;
    if ctx.out.json {
        ctx.out.json(&user)?;
    } else {
        ctx.out
            .line(format!("{} you are now {availability}", paint(GREEN, "✓")));
    }
    Ok(())
}

pub async fn tokens(ctx: &mut Ctx, c: TokensCommand) -> anyhow::Result<()> {
    let client = ctx.client()?;
    match c {
        TokensCommand::List => {
            let list = client.tokens().await?;
            if ctx.out.json {
                return ctx.out.json(&list);
            }
            for t in &list.tokens {
                ctx.out.line(format!(
                    "{:>5}  {}{}  expires {}  last used {}",
                    t.id,
                    safe(&t.name),
                    if t.current {
                        paint(GREEN, " (this one)")
                    } else {
                        String::new()
                    },
                    crate::when::to_local(t.expires_at).date(),
                    t.last_used_at.map(relative).unwrap_or_else(|| "never".into())
                ));
            }
        }
        TokensCommand::Create { name, days } => {
            let created = client
                .create_token(&CreateTokenRequest {
                    name,
                    expires_in_days: days,
                })
                .await?;
            if ctx.out.json {
                return ctx.out.json(&created);
            }
            ctx.out.line(&created.token);
            ctx.out.note(format!(
                "token {} created; it is shown only once. Scripts use it as MCHAT_TOKEN.",
                created.info.id
            ));
        }
        TokensCommand::Revoke { id } => {
            client.revoke_token(TokenId(id)).await?;
            if ctx.out.json {
                return ctx.out.json(&serde_json::json!({"ok": true, "revoked": id}));
            }
            ctx.out.line(format!("{} token {id} revoked", paint(GREEN, "✓")));
        }
    }
    Ok(())
}

/// `mchat` with no subcommand: the inbox when logged in, otherwise how to start.
pub async fn no_command(ctx: &mut Ctx) -> anyhow::Result<()> {
    if ctx.has_token() {
        return super::conversations::inbox(ctx, false).await;
    }
    Err(Exit::new(
        exit::AUTH,
        "you are not logged in: run 'mchat login USERNAME' or 'mchat register USERNAME --role mentee' \
         (see 'mchat --help')",
    )
    .into())
}

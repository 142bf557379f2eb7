//! `mchat mute/unmute/archive/unarchive`, `mchat template`, `mchat remind`, `mchat scheduled`, and sending later (`send --at/--in`) or from a template.

use super::super::context::Ctx;
use super::super::exit::{Exit, USAGE};
use super::super::output::{
    BOLD, CYAN, DIM, GREEN, RED, YELLOW, columns, pad, paint, safe, safe_text, truncate,
};
use super::conversations::find;
use super::messages::SendArgs;
use crate::api::{Client, ClientError};
use crate::when;
use clap::{Args, Subcommand};
use mchat_shared::api::{
    ConversationSettings, CreateScheduledRequest, ScheduledItem, ScheduledKind, ScheduledStatus, Template,
    TemplateList,
};
use mchat_shared::{ScheduledId, validate};
use serde::Serialize;
use std::collections::BTreeMap;

/// Which per-conversation setting `mute`/`unmute`/`archive`/`unarchive` changes.
#[derive(Debug, Clone, Copy)]
pub enum Setting {
    Mute(bool),
    Archive(bool),
}

#[derive(Subcommand)]
pub enum TemplateCommand {
    /// Save a template (replacing one of the same name): mchat template add welcome "Hi {first_name}!"
    Add {
        name: String,
        /// The text; '-' (or nothing, with piped stdin) reads stdin.
        body: Vec<String>,
    },
    /// List your templates.
    List,
    /// Show one template.
    Show { name: String },
    /// Delete a template.
    Rm { name: String },
}

#[derive(Args)]
pub struct RemindArgs {
    /// What to be reminded of.
    pub text: Vec<String>,
    /// When, local time: "2026-12-01 09:00", "09:00", "tomorrow 09:00".
    #[arg(long, conflicts_with = "in_", required_unless_present = "in_")]
    pub at: Option<String>,
    /// In how long: 30m, 2h, 1d, 1w, 1h30m.
    #[arg(long = "in")]
    pub in_: Option<String>,
}

#[derive(Subcommand)]
pub enum ScheduledCommand {
    /// Pending scheduled messages and reminders (the default).
    List {
        /// Also sent, failed and cancelled ones.
        #[arg(long)]
        all: bool,
    },
    /// Cancel a pending item.
    Cancel { id: i64 },
}

pub async fn set(ctx: &mut Ctx, user: &str, s: Setting) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let conv = find(&client, user).await?;
    let settings = match s {
        Setting::Mute(m) => ConversationSettings {
            muted: Some(m),
            archived: None,
        },
        Setting::Archive(a) => ConversationSettings {
            muted: None,
            archived: Some(a),
        },
    };
    let updated = client.set_conversation_settings(conv.id, &settings).await?;
    if ctx.out.json {
        return ctx.out.json(&updated);
    }
    let peer = paint(BOLD, safe(&updated.peer.username));
    let line = match s {
        Setting::Mute(true) => format!("muted {peer}: no notifications or bell for this conversation"),
        Setting::Mute(false) => format!("unmuted {peer}"),
        Setting::Archive(true) => {
            format!(
                "archived {peer}: hidden from the inbox until a new message ('mchat inbox --archived' lists it)"
            )
        }
        Setting::Archive(false) => format!("unarchived {peer}: back in the inbox"),
    };
    ctx.out.line(format!("{} {line}", paint(GREEN, "✓")));
    Ok(())
}

// ---- templates ----

fn template_name(name: &str) -> anyhow::Result<String> {
    validate::template_name(name).map_err(|e| Exit::rejected(e.message).into())
}

fn no_template(name: &str) -> anyhow::Error {
    Exit::not_found(format!(
        "you have no template named {}; 'mchat template list' shows yours",
        safe(name)
    ))
    .into()
}

async fn template_named(client: &Client, name: &str) -> anyhow::Result<Template> {
    let key = template_name(name)?;
    client
        .templates()
        .await?
        .into_iter()
        .find(|t| t.name == key)
        .ok_or_else(|| no_template(&key))
}

#[derive(Serialize)]
struct TemplateSaved<'a> {
    template: &'a Template,
    created: bool,
}

pub async fn template(ctx: &mut Ctx, c: TemplateCommand) -> anyhow::Result<()> {
    let client = ctx.client()?;
    match c {
        TemplateCommand::Add { name, body } => {
            let name = template_name(&name)?;
            let body = validate::message_body(&super::body_from(body, "template text")?)
                .map_err(|e| Exit::rejected(e.message))?;
            // Fail early on a body that can never be filled.
            let mut probe = BTreeMap::new();
            for v in crate::templates::variables(&body) {
                probe.insert(v, String::new());
            }
            if let Err(e) = crate::templates::render(&body, &probe) {
                return Err(Exit::rejected(safe(&e.to_string())).into());
            }
            let saved = client.put_template(&name, &body).await?;
            if ctx.out.json {
                return ctx.out.json(&TemplateSaved {
                    template: &saved.value,
                    created: saved.created,
                });
            }
            let vars = crate::templates::variables(&saved.value.body);
            let uses = if vars.is_empty() {
                String::new()
            } else {
                format!(
                    " (uses {})",
                    vars.iter()
                        .map(|v| format!("{{{v}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            ctx.out.line(format!(
                "{} {} template {}{uses}",
                paint(GREEN, "✓"),
                if saved.created { "saved" } else { "replaced" },
                paint(BOLD, safe(&saved.value.name))
            ));
        }
        TemplateCommand::List => {
            let templates = client.templates().await?;
            if ctx.out.json {
                return ctx.out.json(&TemplateList { templates });
            }
            if templates.is_empty() {
                ctx.out
                    .line("no templates yet: save one with 'mchat template add NAME TEXT'");
                return Ok(());
            }
            let w = templates.iter().map(|t| t.name.len()).max().unwrap_or(0);
            for t in &templates {
                let first = safe(t.body.lines().next().unwrap_or("")).into_owned();
                ctx.out.line(format!(
                    "{}  {}",
                    paint(BOLD, pad(&safe(&t.name), w)),
                    truncate(&first, 64)
                ));
            }
        }
        TemplateCommand::Show { name } => {
            let t = template_named(&client, &name).await?;
            if ctx.out.json {
                return ctx.out.json(&t);
            }
            ctx.out
                .line(paint(DIM, format!("── template {} ──", safe(&t.name))));
            for line in safe_text(&t.body).lines() {
                ctx.out.line(line);
            }
        }
        TemplateCommand::Rm { name } => {
            let key = template_name(&name)?;
            match client.delete_template(&key).await {
                Ok(()) => {}
                Err(ClientError::Api { status: 404, .. }) => return Err(no_template(&key)),
                Err(e) => return Err(e.into()),
            }
            if ctx.out.json {
                return ctx.out.json(&serde_json::json!({"deleted": true, "name": key}));
            }
            ctx.out.line(format!(
                "{} deleted template {}",
                paint(GREEN, "✓"),
                paint(BOLD, safe(&key))
            ));
        }
    }
    Ok(())
}

/// `--var k=v` arguments as a map.
fn parse_vars(vars: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for v in vars {
        let Some((k, val)) = v.split_once('=') else {
            return Err(Exit::new(USAGE, format!("--var takes KEY=VALUE, not {:?}", safe(v))).into());
        };
        let k = k.trim();
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(Exit::new(
                USAGE,
                format!(
                    "--var: {:?} is not a variable name (letters, digits and '_')",
                    safe(k)
                ),
            )
            .into());
        }
        out.insert(k.to_string(), val.to_string());
    }
    Ok(out)
}

/// The body of `mchat send USER --template NAME --var k=v`: the template
/// with `{variables}` filled from the peer's profile and `vars`.
pub async fn template_body(
    ctx: &mut Ctx,
    target: &str,
    name: &str,
    vars: &[String],
) -> anyhow::Result<String> {
    let extra = parse_vars(vars)?;
    let client = ctx.client()?;
    let template = template_named(&client, name).await?;
    let conv = find(&client, target).await?;
    let me = client.me().await?;
    let mut values = match client.user(&conv.peer.username).await {
        Ok(peer) => crate::templates::peer_vars(&peer, &me),
        Err(_) => crate::templates::brief_vars(&conv.peer, &me),
    };
    values.extend(extra);
    crate::templates::render(&template.body, &values).map_err(|e| Exit::rejected(safe(&e.to_string())).into())
}

// ---- scheduled messages and reminders ----

fn due_from(at: Option<&str>, in_: Option<&str>) -> anyhow::Result<when::Zoned> {
    when::resolve(at, in_).map_err(|e| Exit::rejected(e.to_string()).into())
}

#[derive(Serialize)]
struct ScheduledOut<'a> {
    status: &'static str,
    item: &'a ScheduledItem,
}

fn item_line(item: &ScheduledItem) -> String {
    match item.kind {
        ScheduledKind::Message => format!(
            "#{} to {}",
            item.id,
            paint(BOLD, safe(item.peer.as_deref().unwrap_or("?")))
        ),
        ScheduledKind::Reminder => format!("reminder #{}", item.id),
    }
}

async fn create(ctx: &mut Ctx, client: &Client, req: CreateScheduledRequest) -> anyhow::Result<()> {
    let item = client.schedule(&req).await?.value;
    if ctx.out.json {
        return ctx.out.json(&ScheduledOut {
            status: "scheduled",
            item: &item,
        });
    }
    ctx.out.line(format!(
        "{} scheduled {} for {}",
        paint(GREEN, "✓"),
        item_line(&item),
        when::describe_due(item.due_at)
    ));
    Ok(())
}

/// `mchat send USER MSG --at/--in`: store it on the server for later.
pub async fn send_later(ctx: &mut Ctx, a: SendArgs) -> anyhow::Result<()> {
    let due = due_from(a.at.as_deref(), a.in_.as_deref())?;
    if a.reply_to.is_some() {
        return Err(Exit::new(USAGE, "--reply-to cannot be combined with --at or --in").into());
    }
    let text = match &a.template {
        Some(name) => template_body(ctx, &a.target, name, &a.vars).await?,
        None => super::body_from(a.message, "message")?,
    };
    let body = validate::message_body(&text).map_err(|e| Exit::rejected(e.message))?;
    let client = ctx.client()?;
    let conv = find(&client, &a.target).await?;
    let req = CreateScheduledRequest {
        kind: ScheduledKind::Message,
        conversation_id: Some(conv.id),
        body,
        due_at: due.timestamp(),
        client_id: uuid::Uuid::now_v7().to_string(),
    };
    create(ctx, &client, req).await
}

pub async fn remind(ctx: &mut Ctx, a: RemindArgs) -> anyhow::Result<()> {
    let due = due_from(a.at.as_deref(), a.in_.as_deref())?;
    let text = super::body_from(a.text, "reminder text")?;
    let body = validate::message_body(&text).map_err(|e| Exit::rejected(e.message))?;
    let client = ctx.client()?;
    let req = CreateScheduledRequest {
        kind: ScheduledKind::Reminder,
        conversation_id: None,
        body,
        due_at: due.timestamp(),
        client_id: uuid::Uuid::now_v7().to_string(),
    };
    create(ctx, &client, req).await
}

fn status_cell(s: ScheduledStatus) -> (&'static str, anstyle::Style) {
    match s {
        ScheduledStatus::Pending => ("pending", YELLOW),
        ScheduledStatus::Sent => ("sent", GREEN),
        ScheduledStatus::Failed => ("failed", RED),
        ScheduledStatus::Cancelled => ("cancelled", DIM),
    }
}

pub async fn scheduled(ctx: &mut Ctx, c: Option<ScheduledCommand>) -> anyhow::Result<()> {
    let client = ctx.client()?;
    match c.unwrap_or(ScheduledCommand::List { all: false }) {
        ScheduledCommand::List { all } => {
            let items = client.scheduled(all).await?;
            if ctx.out.json {
                return ctx.out.json(&mchat_shared::api::ScheduledList { items });
            }
            if items.is_empty() {
                ctx.out.line(if all {
                    "nothing scheduled in the last 30 days"
                } else {
                    "nothing scheduled: 'mchat send USER MSG --in 2h' or 'mchat remind --in 1d TEXT'"
                });
                return Ok(());
            }
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|i| {
                    vec![
                        format!("#{}", i.id),
                        match i.kind {
                            ScheduledKind::Message => {
                                format!("to {}", safe(i.peer.as_deref().unwrap_or("?")))
                            }
                            ScheduledKind::Reminder => "reminder".into(),
                        },
                        when::describe_due(i.due_at),
                        status_cell(i.status).0.to_string(),
                        truncate(&safe(i.body.lines().next().unwrap_or("")), 48),
                    ]
                })
                .collect();
            let w = columns(&rows);
            for (row, item) in rows.iter().zip(&items) {
                let mut line = format!(
                    "{}  {}  {}",
                    paint(DIM, pad(&row[0], w[0])),
                    paint(BOLD, pad(&row[1], w[1])),
                    paint(CYAN, pad(&row[2], w[2])),
                );
                if all {
                    line.push_str(&format!(
                        "  {}",
                        paint(status_cell(item.status).1, pad(&row[3], w[3]))
                    ));
                }
                line.push_str(&format!("  {}", row[4]));
                ctx.out.line(line);
                if let Some(err) = &item.error {
                    ctx.out.line(paint(RED, format!("    {}", safe(err))));
                }
            }
        }
        ScheduledCommand::Cancel { id } => {
            let item = match client.cancel_scheduled(ScheduledId(id)).await {
                Ok(item) => item,
                Err(ClientError::Api { status: 404, .. }) => {
                    return Err(Exit::not_found(format!(
                        "you have no scheduled item #{id}; 'mchat scheduled' lists yours"
                    ))
                    .into());
                }
                Err(e) => return Err(e.into()),
            };
            if ctx.out.json {
                return ctx.out.json(&ScheduledOut {
                    status: "cancelled",
                    item: &item,
                });
            }
            ctx.out.line(format!(
                "{} cancelled {}, due {}",
                paint(GREEN, "✓"),
                item_line(&item),
                when::describe_due(item.due_at)
            ));
        }
    }
    Ok(())
}

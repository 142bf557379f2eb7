//! `mchat mute/unmute/archive/unarchive`, `mchat template`, `mchat remind`, `mchat scheduled`, and sending later (`send --at/--in`) or from a template.

use super::super::context::Ctx;
use super::messages::SendArgs;
use clap::{Args, Subcommand};

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

pub async fn set(_ctx: &mut Ctx, _user: &str, _s: Setting) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}

pub async fn template(_ctx: &mut Ctx, _c: TemplateCommand) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}

pub async fn remind(_ctx: &mut Ctx, _a: RemindArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}

pub async fn scheduled(_ctx: &mut Ctx, _c: Option<ScheduledCommand>) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}

/// `mchat send USER MSG --at/--in`: store it on the server for later.
pub async fn send_later(_ctx: &mut Ctx, _a: SendArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}

/// The body of `mchat send USER --template NAME --var k=v`: the template
/// with `{variables}` filled from the peer's profile and `vars`.
pub async fn template_body(
    _ctx: &mut Ctx,
    _target: &str,
    _name: &str,
    _vars: &[String],
) -> anyhow::Result<String> {
    anyhow::bail!("not yet")
}

//! Attachments: `mchat send USER --file PATH` (with a progress bar) and `mchat download ID`.
//!
//! A file send is not queued offline (the outbox holds text, not files): when
//! the server cannot be reached it says so and exits 1; run it again later.
//!
//! Before a byte is sent, the file's size and type are checked against the
//! limits the server publishes (`GET /v1/info`, cached): a file it would
//! refuse fails at once with its 413/415 sentence (exit 5). If an upload is
//! cut off anyway (a server that closed while we were still sending), the
//! limits are fetched afresh, and a refusal they explain is reported as such
//! rather than as an unreachable server.

use super::super::context::Ctx;
use super::super::exit::{self, Exit};
use super::super::output::{GREEN, paint, safe};
use super::conversations::find;
use super::messages::SendArgs;
use crate::api::{Client, ClientError, InfoCache};
use crate::files::{content_type_for, safe_file_name};
use clap::Args;
use indicatif::{HumanBytes, ProgressBar, ProgressStyle};
use mchat_shared::api::{Message, SendMessageRequest};
use mchat_shared::{MessageId, validate};
use serde::Serialize;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Transfers above this size get a progress bar (on a terminal).
const PROGRESS_MIN_BYTES: u64 = 1024 * 1024;

#[derive(Args)]
pub struct DownloadArgs {
    /// The id of the message that carries the file.
    pub id: i64,
    /// Where to save it (a file, or a directory to save into). Default: the
    /// current directory, under the sender's (sanitised) file name. '-' writes to stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
}

#[derive(Serialize)]
struct Sent<'a> {
    status: &'static str,
    message: &'a Message,
}

#[derive(Serialize)]
struct Saved<'a> {
    status: &'static str,
    path: &'a Path,
    bytes: u64,
    message_id: MessageId,
    name: &'a str,
    content_type: &'a str,
}

/// A progress bar on stderr for a transfer of `len` bytes, or a hidden one
/// when stderr is not a terminal, the transfer is small, or `-q` was given.
fn progress_bar(ctx: &Ctx, len: u64, verb: &str) -> ProgressBar {
    if ctx.out.quiet || len < PROGRESS_MIN_BYTES || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let template = format!("{verb} {{bar:30}} {{bytes}}/{{total_bytes}} {{bytes_per_sec}} {{eta}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Says plainly that files are not queued when the server is out of reach.
fn not_queued(ctx: &Ctx, e: ClientError) -> anyhow::Error {
    if e.is_transient() {
        Exit::new(
            exit::FAILURE,
            format!(
                "cannot reach the server at {}; files are not kept in the outbox, so nothing was sent: \
                 try again when the server is back",
                ctx.server
            ),
        )
        .into()
    } else {
        e.into()
    }
}

/// The server's limits for `ctx.server` (cached beside the other local files).
fn info_cache(ctx: &Ctx) -> InfoCache {
    InfoCache::new(&ctx.paths.data_dir.join("cache").join("server-info"))
}

/// Refuses a file the server's published limits would refuse, with the
/// server's own sentence and code (exit 5).
fn refuse_early(limits: &mchat_shared::api::ServerLimits, size: u64, content_type: &str) -> Result<(), Exit> {
    limits
        .check_file(size, content_type)
        .map_err(|(code, message)| Exit {
            code: exit::REJECTED,
            message,
            machine: code.as_str(),
        })
}

/// An upload that failed in transit: if fresh limits say the server refuses
/// this file, that is the answer it could not deliver; otherwise the failure.
async fn explain_cut_off(
    ctx: &Ctx,
    client: &Client,
    e: ClientError,
    size: u64,
    content_type: &str,
) -> anyhow::Error {
    if matches!(e, ClientError::Unreachable { .. })
        && let Some(info) = info_cache(ctx).refresh(client).await
        && let Err(refused) = refuse_early(&info.limits, size, content_type)
    {
        return refused.into();
    }
    not_queued(ctx, e)
}

/// `mchat send USER --file PATH [MESSAGE]`.
pub async fn send_file(ctx: &mut Ctx, a: SendArgs) -> anyhow::Result<()> {
    let Some(path) = a.file.clone() else {
        return Err(Exit::new(exit::USAGE, "give the file to send with --file PATH").into());
    };
    let meta = std::fs::metadata(&path)
        .map_err(|e| Exit::new(exit::USAGE, format!("cannot read {}: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(Exit::new(exit::USAGE, format!("{} is not a file", path.display())).into());
    }
    let raw_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = validate::file_name(&raw_name)?;
    // The message is an optional caption (never read from stdin unless asked with '-').
    let caption = if a.message.is_empty() {
        String::new()
    } else {
        validate::message_body(&super::body_from(a.message, "caption")?)?
    };
    let client = ctx.client()?;
    let content_type = content_type_for(&path);
    if let Some(info) = info_cache(ctx).get(&client).await {
        refuse_early(&info.limits, meta.len(), &content_type)?;
    }
    let conversation = match find(&client, &a.target).await {
        Ok(c) => c,
        Err(e) => {
            return Err(match e.downcast::<ClientError>() {
                Ok(ce) => not_queued(ctx, ce),
                Err(other) => other,
            });
        }
    };
    let bar = progress_bar(ctx, meta.len(), "sending");
    let progress = {
        let bar = bar.clone();
        move |n: u64| bar.set_position(n)
    };
    let uploaded = client.upload_file(&path, &name, &content_type, progress).await;
    bar.finish_and_clear();
    let info = match uploaded {
        Ok(info) => info,
        Err(e) => return Err(explain_cut_off(ctx, &client, e, meta.len(), &content_type).await),
    };
    let req = SendMessageRequest {
        client_id: uuid::Uuid::now_v7().to_string(),
        body: caption,
        reply_to: a.reply_to.map(MessageId),
        file: Some(info.id),
    };
    let message = client
        .send(conversation.id, &req)
        .await
        .map_err(|e| not_queued(ctx, e))?
        .value;
    if ctx.out.json {
        ctx.out.json(&Sent {
            status: "sent",
            message: &message,
        })?;
    } else if !ctx.out.quiet {
        ctx.out.line(format!(
            "{} sent {} ({}) (#{})",
            paint(GREEN, "✓"),
            safe(&info.name),
            HumanBytes(info.size),
            message.id
        ));
    }
    Ok(())
}

/// Where a download goes: stdout (`None`), or a path.
fn destination(output: Option<&Path>, name: &str) -> anyhow::Result<Option<PathBuf>> {
    let safe_name = safe_file_name(name);
    Ok(match output {
        Some(p) if p == Path::new("-") => None,
        Some(p) if p.is_dir() => Some(p.join(safe_name)),
        Some(p) => Some(p.to_path_buf()),
        None => Some(std::env::current_dir()?.join(safe_name)),
    })
}

/// `mchat download ID [-o PATH] [--force]`.
pub async fn download(ctx: &mut Ctx, a: DownloadArgs) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let message = client.message(MessageId(a.id)).await.map_err(|e| match e {
        ClientError::Api { status: 404, .. } => {
            Exit::not_found(format!("you have no message {}", a.id)).into()
        }
        other => anyhow::Error::from(other),
    })?;
    let Some(attachment) = message.attachment else {
        return Err(Exit::not_found(format!("message {} has no file", a.id)).into());
    };
    let Some(dest) = destination(a.output.as_deref(), &attachment.name)? else {
        if ctx.out.json {
            return Err(Exit::new(
                exit::USAGE,
                "--json and '-o -' both want stdout: save to a file with -o PATH",
            )
            .into());
        }
        let mut stdout = tokio::io::stdout();
        client
            .download_file_to(attachment.id, &mut stdout, |_, _| {})
            .await?;
        return Ok(());
    };
    if dest.exists() && !a.force {
        return Err(Exit {
            code: exit::REJECTED,
            message: format!(
                "{} already exists: use --force to replace it, or -o to save elsewhere",
                safe(&dest.display().to_string())
            ),
            machine: "file_exists",
        }
        .into());
    }
    let bar = progress_bar(ctx, attachment.size, "receiving");
    let progress = |n: u64, _total: Option<u64>| bar.set_position(n);
    let got = if a.force {
        client
            .download_file_replacing(attachment.id, &dest, progress)
            .await
    } else {
        client.download_file(attachment.id, &dest, progress).await
    };
    bar.finish_and_clear();
    let bytes = got?;
    if ctx.out.json {
        ctx.out.json(&Saved {
            status: "saved",
            path: &dest,
            bytes,
            message_id: message.id,
            name: &attachment.name,
            content_type: &attachment.content_type,
        })?;
    } else if !ctx.out.quiet {
        ctx.out.line(format!(
            "{} saved {} ({})",
            paint(GREEN, "✓"),
            safe(&dest.display().to_string()),
            HumanBytes(bytes)
        ));
    }
    Ok(())
}

//! Attachments: `mchat send USER --file PATH` (with a progress bar) and `mchat download ID`.

use super::super::context::Ctx;
use super::messages::SendArgs;
use clap::Args;
use std::path::PathBuf;

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

/// `mchat send USER --file PATH [MESSAGE]`.
pub async fn send_file(_ctx: &mut Ctx, _a: SendArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}

pub async fn download(_ctx: &mut Ctx, _a: DownloadArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}

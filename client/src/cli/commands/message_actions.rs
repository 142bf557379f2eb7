//! `mchat edit`, `mchat delete` and `mchat react`.

use super::super::context::Ctx;
use clap::Args;

#[derive(Args)]
pub struct EditArgs {
    /// The message id (shown by `mchat read`).
    pub id: i64,
    /// The new text; '-' (or nothing, with piped stdin) reads stdin.
    pub text: Vec<String>,
}

#[derive(Args)]
pub struct DeleteArgs {
    /// The message id.
    pub id: i64,
}

#[derive(Args)]
pub struct ReactArgs {
    /// The message id.
    pub id: i64,
    /// One emoji, e.g. 👍
    pub emoji: String,
    /// Take the reaction back.
    #[arg(long)]
    pub remove: bool,
}

pub async fn edit(_ctx: &mut Ctx, _a: EditArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}

pub async fn delete(_ctx: &mut Ctx, _a: DeleteArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}

pub async fn react(_ctx: &mut Ctx, _a: ReactArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}

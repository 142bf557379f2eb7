//! `mchat search QUERY [--with USER]`.

use super::super::context::Ctx;
use clap::Args;

#[derive(Args)]
pub struct SearchArgs {
    /// Words to find; "a phrase" in quotes.
    #[arg(required = true)]
    pub query: Vec<String>,
    /// Only the conversation with this user.
    #[arg(long)]
    pub with: Option<String>,
    /// How many results.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
}

pub async fn run(_ctx: &mut Ctx, _a: SearchArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}

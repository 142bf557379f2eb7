//! `mchat mentors`: the mentor directory.

use super::super::context::Ctx;
use super::super::output::{BOLD, DIM, GREEN, YELLOW, columns, display_cell, pad, paint, safe, truncate};
use clap::Args;
use mchat_shared::api::{Availability, DirectoryQuery, Role};

#[derive(Args)]
pub struct MentorsArgs {
    /// Only mentors who are available now.
    #[arg(long)]
    pub available: bool,
    /// Only mentors with this expertise tag.
    #[arg(long)]
    pub expertise: Option<String>,
    /// Search names, headlines and tags.
    #[arg(long, short = 's')]
    pub search: Option<String>,
}

pub async fn mentors(ctx: &mut Ctx, a: MentorsArgs) -> anyhow::Result<()> {
    let list = ctx
        .client()?
        .users(&DirectoryQuery {
            role: Some(Role::Mentor),
            available: a.available.then_some(true),
            q: a.search,
            expertise: a.expertise,
            limit: None,
        })
        .await?;
    if ctx.out.json {
        return ctx.out.json(&list);
    }
    if list.users.is_empty() {
        ctx.out.line("no mentors match");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .users
        .iter()
        .map(|u| {
            vec![
                safe(&u.username).into_owned(),
                display_cell(&u.display_name),
                u.availability.map(|a| a.to_string()).unwrap_or_default(),
                truncate(&safe(u.profile.headline.as_deref().unwrap_or("")), 36),
                truncate(&safe(&u.profile.expertise.join(", ")), 40),
            ]
        })
        .collect();
    let w = columns(&rows);
    for (row, u) in rows.iter().zip(&list.users) {
        let avail_style = match u.availability {
            Some(Availability::Available) => GREEN,
            Some(Availability::Away) => YELLOW,
            _ => DIM,
        };
        ctx.out.line(format!(
            "{}  {}  {}  {}  {}",
            paint(BOLD, pad(&row[0], w[0])),
            pad(&row[1], w[1]),
            paint(avail_style, pad(&row[2], w[2])),
            pad(&row[3], w[3]),
            paint(DIM, &row[4])
        ));
    }
    Ok(())
}

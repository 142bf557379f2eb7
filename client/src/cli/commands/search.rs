//! `mchat search QUERY [--with USER] [--limit N]`: full-text search over my
//! messages, one block per hit (who, when, the snippet with the matched
//! words in bold, and the `mchat read` command that shows it in context).

use super::super::context::Ctx;
use super::super::exit::Exit;
use super::super::output::{BOLD, CYAN, DIM, clock, paint, safe};
use clap::Args;
use mchat_shared::api::{SearchHit, SearchQuery};
use mchat_shared::limits::{SEARCH_MAX, SEARCH_QUERY_MAX_CHARS};

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

/// Cuts `snippet` into runs of plain and highlighted text by the char ranges
/// in `highlights` (sorted, clamped, overlaps merged: a bad range from the
/// server cannot panic or repeat text).
pub fn segments(snippet: &str, highlights: &[[u32; 2]]) -> Vec<(String, bool)> {
    let chars: Vec<char> = snippet.chars().collect();
    let n = chars.len();
    let mut ranges: Vec<(usize, usize)> = highlights
        .iter()
        .map(|[a, b]| ((*a as usize).min(n), (*b as usize).min(n)))
        .filter(|(a, b)| a < b)
        .collect();
    ranges.sort_unstable();
    let mut out = Vec::new();
    let mut at = 0;
    for (a, b) in ranges {
        let a = a.max(at);
        if a >= b {
            continue;
        }
        if a > at {
            out.push((chars[at..a].iter().collect(), false));
        }
        out.push((chars[a..b].iter().collect(), true));
        at = b;
    }
    if at < n {
        out.push((chars[at..].iter().collect(), false));
    }
    out
}

/// The snippet for a terminal: each run sanitised on its own (so the
/// highlight boundaries stay where the server put them), matches in bold.
fn render_snippet(hit: &SearchHit) -> String {
    segments(&hit.snippet, &hit.highlights)
        .into_iter()
        .map(|(text, marked)| {
            let clean = safe(&text);
            if marked {
                paint(BOLD, clean)
            } else {
                clean.into_owned()
            }
        })
        .collect()
}

pub async fn run(ctx: &mut Ctx, a: SearchArgs) -> anyhow::Result<()> {
    let q = a.query.join(" ").trim().to_owned();
    if q.is_empty() {
        return Err(Exit::rejected("give words to search for").into());
    }
    if q.chars().count() > SEARCH_QUERY_MAX_CHARS {
        return Err(
            Exit::rejected(format!("a search is at most {SEARCH_QUERY_MAX_CHARS} characters")).into(),
        );
    }
    if !(1..=SEARCH_MAX).contains(&a.limit) {
        return Err(Exit::rejected(format!("--limit must be 1 to {SEARCH_MAX}")).into());
    }
    let client = ctx.client()?;
    super::outbox::flush_quietly(ctx, &client).await;
    let query = SearchQuery {
        q,
        with: a.with.map(|w| w.trim().to_owned()),
        conversation: None,
        limit: Some(a.limit),
    };
    let results = client.search(&query).await?;
    if ctx.out.json {
        return ctx.out.json(&results);
    }
    if results.hits.is_empty() {
        ctx.out.line("no messages match");
        return Ok(());
    }
    let me = ctx.username().map(str::to_owned);
    for (i, hit) in results.hits.iter().enumerate() {
        if i > 0 {
            ctx.out.line("");
        }
        let m = &hit.message;
        let sender = match m.sender.as_deref() {
            Some(s) if Some(s) == me.as_deref() => "you".to_owned(),
            Some(s) => safe(s).into_owned(),
            None => "system".to_owned(),
        };
        ctx.out.line(format!(
            "{}  {} {}  {}",
            paint(CYAN, safe(&hit.peer)),
            paint(DIM, "from"),
            sender,
            paint(DIM, format!("{}  #{}", clock(m.created_at), m.id)),
        ));
        ctx.out.line(format!("  {}", render_snippet(hit)));
        ctx.out.line(paint(
            DIM,
            format!("  mchat read {} --before {}", safe(&hit.peer), m.id.0 + 1),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::segments;

    fn s(parts: &[(&str, bool)]) -> Vec<(String, bool)> {
        parts.iter().map(|(t, b)| ((*t).to_owned(), *b)).collect()
    }

    #[test]
    fn ranges_are_chars_and_cover_the_snippet_once() {
        assert_eq!(
            segments("a café b", &[[2, 6]]),
            s(&[("a ", false), ("café", true), (" b", false)])
        );
        assert_eq!(segments("rust", &[[0, 4]]), s(&[("rust", true)]));
        assert_eq!(segments("plain", &[]), s(&[("plain", false)]));
    }

    #[test]
    fn bad_ranges_neither_panic_nor_repeat() {
        assert_eq!(
            segments("abcdef", &[[4, 99], [1, 3], [2, 5], [3, 3], [9, 2]]),
            s(&[("a", false), ("bc", true), ("de", true), ("f", true)])
        );
        assert_eq!(segments("", &[[0, 1]]), s(&[]));
    }
}

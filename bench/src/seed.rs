//! `mchat-bench seed`: fills an mchatd data dir with a large, realistic
//! database fast (1,000,000 messages across 10,000 conversations in
//! seconds, not the hours it would take through the API).
//!
//! How: the real `mchatd` is started once on the empty dir, which applies
//! the server's own migrations (so the schema is never copied here), and one
//! user (`seed`) is registered through the API; the server is stopped and its
//! argon2 password hash is reused for every seeded user, so the benchmark can
//! log in as anyone with [`SEED_PASSWORD`]. Then rusqlite bulk-inserts users,
//! accepted mentor–mentee conversations, participants and messages in one
//! transaction with prepared statements, `journal_mode = OFF` and
//! `synchronous = OFF`. The full-text index is built in one pass at the end
//! (`'rebuild'`) with the FTS triggers dropped during the insert and
//! recreated from their stored SQL (`--fts triggers` keeps them instead, to
//! compare). Text comes from a fixed vocabulary with Zipf-like word
//! frequencies (a few very common words, a long tail of rare ones) and a
//! seeded RNG, so a run is reproducible.

use crate::api::Api;
use crate::history::SplitMix;
use crate::server::{self, Launch, Server};
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use mchat_shared::api::Role;
use rusqlite::{Connection, params};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Everyone's password in a seeded database (`Api::register` gives the
/// template user `seed` the password `bench-password-seed`).
pub const SEED_PASSWORD: &str = "bench-password-seed";
const TEMPLATE_USER: &str = "seed";
/// The database file mchatd keeps in its data dir.
pub const DB_FILE: &str = "mchatd.sqlite3";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FtsMode {
    /// Drop the FTS triggers during the insert, rebuild the index once, recreate them.
    Rebuild,
    /// Keep the triggers: the index grows row by row.
    Triggers,
}

#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    /// mchatd data dir to create (must not hold a database yet).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Messages in total (one system "accepted" message per conversation included).
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: usize,
    /// Accepted mentor–mentee conversations.
    #[arg(long, default_value_t = 10_000)]
    pub conversations: usize,
    /// Users (a quarter of them mentors).
    #[arg(long, default_value_t = 2_000)]
    pub users: usize,
    /// How the full-text index is built.
    #[arg(long, value_enum, default_value_t = FtsMode::Rebuild)]
    pub fts: FtsMode,
    /// RNG seed (the same seed gives the same database).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// mchatd binary [default: mchatd next to this executable].
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// Print exactly one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// The shape of a seeded database: who the users are and who talks to whom.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub mentors: usize,
    pub mentees: usize,
    pub conversations: usize,
}

impl Shape {
    pub fn new(users: usize, conversations: usize) -> Result<Shape> {
        let mentors = (users / 4).max(1);
        let mentees = users.saturating_sub(mentors);
        if mentees == 0 || conversations == 0 {
            bail!("need at least 2 users and 1 conversation");
        }
        if conversations.div_ceil(mentors) > mentees {
            bail!(
                "{conversations} conversations need more users: each of the {mentors} mentors would need \
                 more distinct mentees than the {mentees} there are"
            );
        }
        Ok(Shape {
            mentors,
            mentees,
            conversations,
        })
    }

    /// The mentor and mentee index of conversation `k`: every pair distinct
    /// (for one mentor, `k / mentors` differs, so the mentee does too).
    pub fn pair(&self, k: usize) -> (usize, usize) {
        let m = k % self.mentors;
        let e = (k / self.mentors + m * 37) % self.mentees;
        (m, e)
    }
}

pub fn mentor_name(i: usize) -> String {
    format!("mentor{i:05}")
}

pub fn mentee_name(i: usize) -> String {
    format!("mentee{i:05}")
}

/// Everyday words of a mentoring chat, most common first (space-separated).
const COMMON: &str = "the to i you a and it is of that in for this we on with can do have be not but what so my \
     me if just about your how are at was there think like would code rust yes thanks know one \
     could get time will more when then use work now because error try make see good need some \
     function test really here also want which way help next question review week trait borrow \
     checker lifetime lifetimes compile compiler async await tokio thread memory type types \
     generic generics struct enum match pattern crate module cargo build release debug \
     performance benchmark database query index sqlite server client request response api http \
     json serde pull branch commit merge rebase git github issue bug fix feature design \
     architecture interview career job resume team manager project deadline meeting call \
     tomorrow today monday friday weekend great awesome sorry maybe probably exactly idea \
     example documentation docs book chapter exercise practice learn learning understand \
     explain read write writing tests unit integration coverage clippy fmt macro macros closure \
     iterator vector string slice reference pointer box rc arc mutex channel future stream pin \
     unsafe ffi wasm embedded linux windows mac terminal editor vim vscode plugin library";

/// Syllables of the long tail of rare (made-up, but word-like) words (space-separated).
const SYLLABLES: &str = "ka lo mi ne ru sa to vi ze bo da fe gi ho ju pe qua ri su ty wo xe yu zor vak tel mor quin \
     dra spe lin tor gan bel";

/// The vocabulary: [`COMMON`] then `tail` made-up words, in rank order.
pub fn vocabulary(tail: usize) -> Vec<String> {
    let mut words: Vec<String> = COMMON.split_whitespace().map(str::to_owned).collect();
    let syllables: Vec<&str> = SYLLABLES.split_whitespace().collect();
    let n = syllables.len();
    for i in 0..tail {
        // Three syllables from the digits of i in base n: distinct for i < n³.
        let (a, b, c) = (i % n, (i / n) % n, (i / n / n) % n);
        words.push(format!("{}{}{}", syllables[a], syllables[b], syllables[c]));
    }
    words
}

/// A word rank with P(rank r) ∝ 1/(r+1) (Zipf, s = 1), via a log-uniform draw.
pub fn zipf(rng: &mut SplitMix, n: usize) -> usize {
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let r = ((n as f64 + 1.0).powf(u) - 1.0) as usize;
    r.min(n - 1)
}

/// One message body: 3–24 words, sometimes a question.
fn body(rng: &mut SplitMix, vocab: &[String], out: &mut String) {
    out.clear();
    let words = rng.range(3, 25);
    for i in 0..words {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&vocab[zipf(rng, vocab.len())]);
    }
    out.push(if rng.range(0, 4) == 0 { '?' } else { '.' });
}

/// Conversation of the next text message: skewed (a few long threads, many
/// short ones): index ⌊C·u²⌋.
fn pick_conversation(rng: &mut SplitMix, conversations: usize) -> usize {
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    ((u * u * conversations as f64) as usize).min(conversations - 1)
}

/// Starts mchatd on `dir` (which applies the migrations), registers the
/// template user, stops the server.
async fn prepare(args: &SeedArgs, dir: &Path) -> Result<()> {
    let bin = match &args.server_bin {
        Some(p) => p.clone(),
        None => server::default_bin()?,
    };
    let launch = Launch {
        bin,
        extra_env: Vec::new(),
        ready_timeout: Duration::from_secs(30),
    };
    let srv = Server::start_on(&launch, dir).await?;
    let mut api = Api::new(&srv.base_url())?;
    let registered = api.register(TEMPLATE_USER, Role::Mentor).await;
    let stopped = srv.stop(Duration::from_secs(20)).await;
    registered.context("registering the template user")?;
    if !stopped.contains("exited") {
        bail!("mchatd did not stop cleanly: {stopped}");
    }
    Ok(())
}

/// Figures of one seeding run.
struct Timings {
    insert_s: f64,
    fts_s: f64,
}

fn fill(conn: &mut Connection, args: &SeedArgs, shape: Shape) -> Result<Timings> {
    conn.pragma_update(None, "journal_mode", "OFF")?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    conn.pragma_update(None, "cache_size", -262_144)?; // 256 MiB
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "foreign_keys", false)?;
    let hash: String = conn
        .query_row(
            "SELECT password_hash FROM users WHERE username = ?1",
            [TEMPLATE_USER],
            |r| r.get(0),
        )
        .context("the template user is missing")?;
    let triggers: Vec<(String, String)> = conn
        .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'messages_fts%'")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    if triggers.is_empty() {
        bail!("the database has no FTS triggers: is this mchatd older than schema V4?");
    }
    let started = Instant::now();
    let tx = conn.transaction()?;
    if args.fts == FtsMode::Rebuild {
        for (name, _) in &triggers {
            tx.execute_batch(&format!("DROP TRIGGER {name}"))?;
        }
    }
    let mut rng = SplitMix::new(args.seed);
    let n = args.messages;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    // Messages 2 s apart, the newest a minute ago.
    let t0 = now - 60_000 - 2_000 * n as i64;
    let first_user: i64 = tx.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM users", [], |r| r.get(0))?;
    let mentor_id = |i: usize| first_user + i as i64;
    let mentee_id = |i: usize| first_user + (shape.mentors + i) as i64;
    {
        let mut user = tx.prepare(
            "INSERT INTO users (id, username, display_name, role, password_hash, mentor_approved, expertise, \
             created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for i in 0..shape.mentors {
            let name = mentor_name(i);
            user.execute(params![
                mentor_id(i),
                name,
                format!("Mentor {i}"),
                "mentor",
                hash,
                true,
                r#"["rust","career"]"#,
                t0 - 86_400_000
            ])?;
        }
        for i in 0..shape.mentees {
            user.execute(params![
                mentee_id(i),
                mentee_name(i),
                format!("Mentee {i}"),
                "mentee",
                hash,
                false,
                "[]",
                t0 - 86_400_000
            ])?;
        }
    }
    let first_conv: i64 = tx.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM conversations", [], |r| {
        r.get(0)
    })?;
    let first_msg: i64 = tx.query_row(
        "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0) + 1",
        [],
        |r| r.get(0),
    )?;
    let vocab = vocabulary(20_000);
    // Per conversation: last message id, last text message id, last time.
    let mut last = vec![(0i64, 0i64, t0); shape.conversations];
    {
        let mut msg = tx.prepare(
            "INSERT INTO messages (id, conversation_id, sender_id, kind, system_action, body, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let mut text = String::with_capacity(256);
        for i in 0..n {
            let id = first_msg + i as i64;
            let at = t0 + 2_000 * i as i64;
            if i < shape.conversations.min(n) {
                // Each conversation opens with the mentor's acceptance (a system message).
                let (m, _) = shape.pair(i);
                msg.execute(params![
                    id,
                    first_conv + i as i64,
                    mentor_id(m),
                    "system",
                    "accepted",
                    format!("{} accepted the request", mentor_name(m)),
                    at
                ])?;
                last[i] = (id, last[i].1, at);
                continue;
            }
            let k = pick_conversation(&mut rng, shape.conversations);
            let (m, e) = shape.pair(k);
            let sender = if rng.range(0, 2) == 0 {
                mentor_id(m)
            } else {
                mentee_id(e)
            };
            body(&mut rng, &vocab, &mut text);
            msg.execute(params![
                id,
                first_conv + k as i64,
                sender,
                "text",
                None::<&str>,
                text,
                at
            ])?;
            last[k] = (id, id, at);
        }
    }
    {
        let mut conv = tx.prepare(
            "INSERT INTO conversations (id, kind, direct_key, status, requested_by, created_at, status_changed_at, \
             last_activity_at, last_message_id, last_text_message_id) \
             VALUES (?1, 'direct', ?2, 'accepted', ?3, ?4, ?4, ?5, ?6, ?7)",
        )?;
        let mut part = tx.prepare(
            "INSERT INTO participants (conversation_id, user_id, joined_at, delivered_up_to, read_up_to) \
             VALUES (?1, ?2, ?3, ?4, ?4)",
        )?;
        for (k, (last_id, last_text, last_at)) in last.iter().enumerate() {
            let (m, e) = shape.pair(k);
            let (a, b) = (mentor_id(m), mentee_id(e));
            let id = first_conv + k as i64;
            let created = t0 - 3_600_000;
            let text_id = (*last_text > 0).then_some(*last_text);
            let last_id = (*last_id > 0).then_some(*last_id);
            conv.execute(params![
                id,
                format!("{}:{}", a.min(b), a.max(b)),
                b,
                created,
                last_at,
                last_id,
                text_id
            ])?;
            for user in [a, b] {
                part.execute(params![id, user, created, last_id.unwrap_or(0)])?;
            }
        }
    }
    if n > 0 {
        tx.execute(
            "INSERT OR REPLACE INTO sqlite_sequence (name, seq) VALUES ('messages', ?1)",
            [first_msg + n as i64 - 1],
        )?;
    }
    let insert_s = started.elapsed().as_secs_f64();
    let fts_started = Instant::now();
    if args.fts == FtsMode::Rebuild {
        tx.execute_batch("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")?;
        for (_, sql) in &triggers {
            tx.execute_batch(sql)?;
        }
    }
    tx.commit()?;
    let fts_s = match args.fts {
        FtsMode::Rebuild => fts_started.elapsed().as_secs_f64(),
        FtsMode::Triggers => 0.0,
    };
    conn.pragma_update(None, "journal_mode", "WAL")?;
    Ok(Timings { insert_s, fts_s })
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Seeds and returns the report.
pub async fn run(args: &SeedArgs) -> Result<Value> {
    let started = Instant::now();
    let shape = Shape::new(args.users, args.conversations)?;
    if args.messages < args.conversations {
        bail!("--messages must be at least --conversations (each conversation opens with a system message)");
    }
    let dir = &args.data_dir;
    let db = dir.join(DB_FILE);
    if db.exists() {
        bail!("{} already exists: seed into a new data dir", db.display());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    prepare(args, dir).await?;
    let prepared_s = started.elapsed().as_secs_f64();
    let path = db.clone();
    let a = args.clone();
    let timings = tokio::task::spawn_blocking(move || -> Result<Timings> {
        let mut conn = Connection::open(&path)?;
        fill(&mut conn, &a, shape)
    })
    .await
    .context("the seeding thread failed")??;
    let bytes = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    Ok(json!({
        "data_dir": dir.display().to_string(),
        "messages": args.messages,
        "conversations": args.conversations,
        "users": shape.mentors + shape.mentees,
        "mentors": shape.mentors,
        "mentees": shape.mentees,
        "password": SEED_PASSWORD,
        "fts": match args.fts { FtsMode::Rebuild => "rebuild", FtsMode::Triggers => "triggers" },
        "seed": args.seed,
        "seconds": {
            "migrate_and_register": round2(prepared_s),
            "insert": round2(timings.insert_s),
            "fts_rebuild": round2(timings.fts_s),
            "total": round2(started.elapsed().as_secs_f64()),
        },
        "db_mb": round2(bytes as f64 / 1048576.0),
    }))
}

/// `mchat-bench seed`.
pub async fn main(args: SeedArgs) -> Result<()> {
    let report = run(&args).await?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "seeded {} messages, {} conversations, {} users into {} in {} s \
             (insert {} s, FTS rebuild {} s); DB {} MB; password for every user: {}",
            report["messages"],
            report["conversations"],
            report["users"],
            args.data_dir.display(),
            report["seconds"]["total"],
            report["seconds"]["insert"],
            report["seconds"]["fts_rebuild"],
            report["db_mb"],
            SEED_PASSWORD
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn pairs_are_distinct_and_spread() {
        let shape = Shape::new(2000, 10_000).unwrap();
        let pairs: HashSet<_> = (0..10_000).map(|k| shape.pair(k)).collect();
        assert_eq!(pairs.len(), 10_000);
        let mut per_mentee = vec![0; shape.mentees];
        for k in 0..10_000 {
            per_mentee[shape.pair(k).1] += 1;
        }
        assert!(
            per_mentee.iter().all(|&c| (2..=20).contains(&c)),
            "{per_mentee:?}"
        );
        assert!(Shape::new(8, 100).is_err());
    }

    #[test]
    fn vocabulary_is_distinct_and_zipf_favours_the_head() {
        let v = vocabulary(20_000);
        let set: HashSet<_> = v.iter().collect();
        assert_eq!(set.len(), v.len());
        let mut rng = SplitMix::new(3);
        let draws: Vec<usize> = (0..100_000).map(|_| zipf(&mut rng, v.len())).collect();
        let the = draws.iter().filter(|&&r| r == 0).count();
        assert!((5_000..15_000).contains(&the), "{the}");
        assert!(draws.iter().all(|&r| r < v.len()));
    }
}

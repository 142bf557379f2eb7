//! Seed data for the demo: a mentor, three mentees and a little history —
//! a pending request, an accepted conversation with unread messages, and a
//! completed one — created through the real HTTP API, with a reply, a few
//! reactions, a saved template and a reminder so every feature has
//! something to show.

use crate::api::Client;
use mchat_shared::api::{
    AuthResponse, CreateConversationRequest, CreateScheduledRequest, Message, Profile, RegisterRequest, Role,
    ScheduledKind, SendMessageRequest,
};
use mchat_shared::{ConversationId, MessageId};

pub const PASSWORD: &str = "demo-password";

/// A seeded user: their token and a client bound to it.
pub struct Seeded {
    pub auth: AuthResponse,
    pub client: Client,
}

pub struct World {
    pub mentor: Seeded,
    pub ana: Seeded,
    pub ben: Seeded,
    pub chris: Seeded,
    /// The accepted conversation between the mentor and ana (the live one).
    pub live: ConversationId,
}

async fn user(
    url: &str,
    username: &str,
    display: &str,
    role: Role,
    profile: Profile,
) -> anyhow::Result<Seeded> {
    let auth = Client::new(url, None)?
        .register(&RegisterRequest {
            username: username.into(),
            password: PASSWORD.into(),
            display_name: Some(display.into()),
            role,
            invite_code: None,
            profile: Some(profile),
            token_name: Some("mchat demo".into()),
        })
        .await?;
    let client = Client::new(url, Some(auth.token.clone()))?;
    Ok(Seeded { auth, client })
}

/// `who` posts `body` in `conv`.
pub async fn say(who: &Seeded, conv: ConversationId, body: &str) -> anyhow::Result<Message> {
    reply(who, conv, body, None).await
}

/// `who` posts `body` in `conv`, answering `to` (quoted in the thread).
async fn reply(
    who: &Seeded,
    conv: ConversationId,
    body: &str,
    to: Option<MessageId>,
) -> anyhow::Result<Message> {
    let sent = who
        .client
        .send(
            conv,
            &SendMessageRequest {
                client_id: uuid::Uuid::now_v7().to_string(),
                body: body.into(),
                reply_to: to,
                file: None,
            },
        )
        .await?;
    Ok(sent.value)
}

async fn request(from: &Seeded, to: &str, intro: &str) -> anyhow::Result<ConversationId> {
    Ok(from
        .client
        .request_conversation(&CreateConversationRequest {
            to: to.into(),
            message: intro.into(),
            client_id: None,
        })
        .await?
        .conversation
        .id)
}

pub async fn seed(url: &str) -> anyhow::Result<World> {
    let mentor = user(
        url,
        "mona",
        "Mona Okafor",
        Role::Mentor,
        Profile {
            headline: Some("Staff engineer, distributed systems".into()),
            experience: Some("14 years: backend, SRE, tech lead".into()),
            expertise: vec!["rust".into(), "distributed-systems".into(), "career".into()],
            ..Profile::default()
        },
    )
    .await?;
    let mentee = |level: &str, interests: &[&str]| Profile {
        level: Some(level.into()),
        interests: interests.iter().map(|s| s.to_string()).collect(),
        ..Profile::default()
    };
    let ana = user(
        url,
        "ana",
        "Ana Lima",
        Role::Mentee,
        mentee("2nd-year CS student", &["rust", "open-source"]),
    )
    .await?;
    let ben = user(
        url,
        "ben",
        "Ben Carter",
        Role::Mentee,
        mentee("junior developer", &["sre"]),
    )
    .await?;
    let chris = user(
        url,
        "chris",
        "Chris Wong",
        Role::Mentee,
        mentee("bootcamp graduate", &["career"]),
    )
    .await?;

    // A completed conversation, history kept.
    let done = request(
        &chris,
        "mona",
        "Hi Mona, could you look at my resume before I apply?",
    )
    .await?;
    mentor.client.accept(done).await?;
    say(
        &mentor,
        done,
        "Of course. Lead with the project you are proudest of.",
    )
    .await?;
    let news = say(
        &chris,
        done,
        "Reordered it as you said — and I got the job. Thank you!",
    )
    .await?;
    mentor.client.react(news.id, "🎉", true).await?;
    mentor.client.complete(done).await?;

    // The live one: accepted, with messages the mentor has not read yet.
    let live = request(
        &ana,
        "mona",
        "Hi Mona! I'm learning Rust and keep losing fights with the borrow checker. Would you mentor me?",
    )
    .await?;
    mentor.client.accept(live).await?;
    let question = say(&mentor, live, "Happy to, Ana. What are you building?").await?;
    ana.client.react(question.id, "🙏", true).await?;
    let answer = reply(
        &ana,
        live,
        "A small chat server with axum and SQLite.",
        Some(question.id),
    )
    .await?;
    mentor.client.react(answer.id, "👍", true).await?;
    say(
        &ana,
        live,
        "My handler says \"cannot borrow `state` as mutable\". Where do I start?",
    )
    .await?;

    // A pending request waiting for the mentor's answer.
    request(
        &ben,
        "mona",
        "Hello! My first on-call rotation starts next month. Any advice on preparing?",
    )
    .await?;

    // A saved reply (Ctrl-T in the composer) and a reminder (the Scheduled tab).
    mentor
        .client
        .put_template(
            "welcome",
            "Hi {first_name}, glad to mentor you! Let's start with what you want to learn first.",
        )
        .await?;
    mentor
        .client
        .schedule(&CreateScheduledRequest {
            kind: ScheduledKind::Reminder,
            conversation_id: None,
            body: "Check in with Ben about on-call prep".into(),
            due_at: mchat_shared::Timestamp::now() + jiff::SignedDuration::from_hours(24),
            client_id: uuid::Uuid::now_v7().to_string(),
        })
        .await?;

    Ok(World {
        mentor,
        ana,
        ben,
        chris,
        live,
    })
}

/// What the scripted mentee says, one line every few seconds.
pub const SCRIPT: &[&str] = &[
    "I wrapped the state in Arc<Mutex<…>> and it compiles now!",
    "Is it ever OK to hold a lock across an .await?",
    "Found it: tokio's docs say use a std Mutex for short critical sections.",
    "Next question: how do you structure tests against a real server?",
    "I spawn it on port 0 and read the port back. Feels right?",
    "Thanks for today — same time next week? 🙏",
];

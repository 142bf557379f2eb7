//! Seed data for the demo: a mentor, three mentees and a little history —
//! a pending request, an accepted conversation with unread messages, and a
//! completed one — created through the real HTTP API.

use crate::api::Client;
use mchat_shared::ConversationId;
use mchat_shared::api::{
    AuthResponse, CreateConversationRequest, Profile, RegisterRequest, Role, SendMessageRequest,
};

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
pub async fn say(who: &Seeded, conv: ConversationId, body: &str) -> anyhow::Result<()> {
    who.client
        .send(
            conv,
            &SendMessageRequest {
                client_id: uuid::Uuid::now_v7().to_string(),
                body: body.into(),
                reply_to: None,
                file: None,
            },
        )
        .await?;
    Ok(())
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
    say(
        &chris,
        done,
        "Reordered it as you said — and I got the job. Thank you!",
    )
    .await?;
    mentor.client.complete(done).await?;

    // The live one: accepted, with messages the mentor has not read yet.
    let live = request(
        &ana,
        "mona",
        "Hi Mona! I'm learning Rust and keep losing fights with the borrow checker. Would you mentor me?",
    )
    .await?;
    mentor.client.accept(live).await?;
    say(&mentor, live, "Happy to, Ana. What are you building?").await?;
    say(&ana, live, "A small chat server with axum and SQLite.").await?;
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

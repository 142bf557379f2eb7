//! The benchmark (ignored by default): time to first frame with
//! 500 cached conversations, frame time while scrolling 100,000 messages.

use super::*;

/// `cargo test --release -p mchat --lib tui::tests::bench -- --ignored --nocapture`.
#[test]
#[ignore = "benchmark: run explicitly with --ignored --nocapture"]
fn bench_first_frame_and_long_thread() {
    use std::time::Instant;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("local.sqlite3");
    {
        let store = crate::local::LocalStore::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let list: Vec<Conversation> = (0..500)
            .map(|i| {
                conv(
                    i,
                    &format!("user{i}"),
                    &format!("User {i} 漢字"),
                    ConversationStatus::Accepted,
                    (i % 3) as u32,
                    Some(msg(
                        i * 10,
                        i,
                        &format!("user{i}"),
                        "a last message preview that is long enough",
                    )),
                )
            })
            .collect();
        store.cache_conversations(&list).unwrap_or_else(|e| panic!("{e}"));
    }
    let start = Instant::now();
    let store = crate::local::LocalStore::open(&path).unwrap_or_else(|e| panic!("{e}"));
    let cached = store.cached_conversations().unwrap_or_else(|e| panic!("{e}"));
    let mut app = App::new(
        user("mona", Role::Mentor),
        KeyMap::default(),
        Theme::default(),
        true,
    );
    app.update(Action::Conversations {
        list: cached,
        cached: true,
    });
    let mut term = Terminal::new(TestBackend::new(100, 30)).unwrap_or_else(|e| panic!("{e}"));
    term.draw(|f| views::draw(f, &app))
        .unwrap_or_else(|e| panic!("{e}"));
    let first_frame = start.elapsed();
    println!(
        "first frame, 500 cached conversations: {:.2} ms",
        first_frame.as_secs_f64() * 1e3
    );

    let id = ConversationId(1);
    crate::tui::input::open(&mut app, id);
    let messages = (0..100_000)
        .map(|i| {
            let mut m = msg(i + 1, 1, if i % 2 == 0 { "user1" } else { "mona" }, "");
            m.body = format!(
                "message {i}: some text long enough to wrap over the thread pane at least once, 漢字 🎉"
            );
            m
        })
        .collect();
    app.threads.insert(
        id,
        crate::tui::app::Thread {
            messages,
            ..Default::default()
        },
    );
    app.focus = Focus::Thread;
    let mut times = Vec::new();
    for step in 0..2_000 {
        let cmd = if step < 1_000 {
            KeyCode::Up
        } else {
            KeyCode::PageUp
        };
        app.update(code(cmd));
        let t = Instant::now();
        term.draw(|f| views::draw(f, &app))
            .unwrap_or_else(|e| panic!("{e}"));
        times.push(t.elapsed());
    }
    times.sort();
    let avg = times.iter().map(|d| d.as_secs_f64()).sum::<f64>() / times.len() as f64;
    println!(
        "100,000-message thread, scrolling: avg {:.3} ms, p99 {:.3} ms, max {:.3} ms per frame",
        avg * 1e3,
        times[times.len() * 99 / 100].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );
}

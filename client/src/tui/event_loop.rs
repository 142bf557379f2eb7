//! The event loop: crossterm key events, live events, effect results and a
//! one-second tick become [`Action`]s; each goes through
//! [`App::update`](super::app::App::update), its effects are started, and
//! the frame is redrawn. SIGTERM quits like `q`.

use super::action::Action;
use super::app::App;
use super::effects::Runner;
use super::terminal::Term;
use super::views;
use crate::live::{LiveEvent, LiveHandle};
use crossterm::event::{Event, EventStream, KeyEventKind};
use futures_util::StreamExt;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

pub async fn run(
    term: &mut Term,
    app: &mut App,
    runner: &Runner,
    mut rx: UnboundedReceiver<Action>,
    mut live: LiveHandle,
) -> anyhow::Result<LiveHandle> {
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    #[cfg(unix)]
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    if let Ok(size) = term.size() {
        app.size = ratatui::layout::Rect::new(0, 0, size.width, size.height);
    }
    term.draw(|f| views::draw(f, app))?;
    let mut live_open = true;
    loop {
        #[cfg(unix)]
        let terminated = sigterm.recv();
        #[cfg(not(unix))]
        let terminated = std::future::pending::<Option<()>>();
        let action = tokio::select! {
            _ = terminated => break,
            ev = keys.next() => match ev {
                Some(Ok(Event::Key(k))) if k.kind != KeyEventKind::Release => Action::Key(k),
                Some(Ok(Event::Resize(width, height))) => Action::Resize(width, height),
                Some(Ok(_)) => Action::Tick,
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            Some(a) = rx.recv() => a,
            ev = live.events.recv(), if live_open => match ev {
                Some(LiveEvent::Frame(f)) => Action::Frame(f.frame),
                Some(LiveEvent::State(s)) => Action::Conn(s),
                Some(LiveEvent::Unknown { .. }) => continue,
                None => {
                    live_open = false;
                    continue;
                }
            },
            _ = tick.tick() => Action::Tick,
        };
        for effect in app.update(action) {
            runner.run(effect, Some(&live));
        }
        if app.quit {
            break;
        }
        // Apply whatever else is already waiting before drawing once.
        while let Ok(a) = rx.try_recv() {
            for effect in app.update(a) {
                runner.run(effect, Some(&live));
            }
        }
        term.draw(|f| views::draw(f, app))?;
    }
    Ok(live)
}

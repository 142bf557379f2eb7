//! Terminal setup and restore: raw mode, the alternate screen and, where the
//! terminal supports it, unambiguous key reports (so Shift-Enter arrives as
//! such) on start;
//! restored on quit, on panic (a hook restores before the message prints)
//! and on SIGTERM (the event loop quits normally).

use crossterm::event::{KeyboardEnhancementFlags, PopKeyboardEnhancementFlags, PushKeyboardEnhancementFlags};
use crossterm::{cursor, execute, terminal};
use std::sync::atomic::{AtomicBool, Ordering};

/// The keyboard enhancement was pushed and must be popped.
static ENHANCED: AtomicBool = AtomicBool::new(false);
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::io::{Stdout, stdout};

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Enters raw mode and the alternate screen, and installs the panic hook.
pub fn setup() -> anyhow::Result<Term> {
    terminal::enable_raw_mode()?;
    if let Err(e) = execute!(stdout(), terminal::EnterAlternateScreen, cursor::Hide) {
        restore();
        return Err(e.into());
    }
    if matches!(terminal::supports_keyboard_enhancement(), Ok(true))
        && execute!(
            stdout(),
            PushKeyboardEnhancementFlags(KeyboardEnhancementFlags::DISAMBIGUATE_ESCAPE_CODES)
        )
        .is_ok()
    {
        ENHANCED.store(true, Ordering::SeqCst);
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
    Ok(Terminal::new(CrosstermBackend::new(stdout()))?)
}

/// Leaves the alternate screen and raw mode; safe to call more than once.
pub fn restore() {
    if ENHANCED.swap(false, Ordering::SeqCst) {
        let _ = execute!(stdout(), PopKeyboardEnhancementFlags);
    }
    let _ = execute!(stdout(), terminal::LeaveAlternateScreen, cursor::Show);
    let _ = terminal::disable_raw_mode();
}

/// Restores the terminal when dropped (covers early returns and errors).
#[derive(Debug)]
pub struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

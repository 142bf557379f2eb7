//! One module per group of commands.

pub mod account;
pub mod conversations;
pub mod directory;
pub mod doctor;
pub mod files;
pub mod message_actions;
pub mod messages;
pub mod notifications;
pub mod organise;
pub mod outbox;
pub mod search;
pub mod watch;

use std::io::{IsTerminal, Read};

/// A body from the command line: the words joined, or stdin for `-` (or no
/// words with piped stdin). CRLF becomes LF (the server accepts only LF).
pub fn body_from(words: Vec<String>, what: &str) -> anyhow::Result<String> {
    let from_stdin =
        (words.len() == 1 && words[0] == "-") || (words.is_empty() && !std::io::stdin().is_terminal());
    let text = if from_stdin {
        let mut buf = String::new();
        std::io::stdin()
            .read_to_string(&mut buf)
            .map_err(|e| super::exit::Exit::rejected(format!("cannot read the {what} from stdin: {e}")))?;
        buf
    } else if words.is_empty() {
        return Err(super::exit::Exit::new(
            super::exit::USAGE,
            format!("give the {what} as an argument, or '-' to read it from stdin"),
        )
        .into());
    } else {
        words.join(" ")
    };
    let text = text.replace("\r\n", "\n");
    if text.trim().is_empty() {
        // Nothing to send is a mistake in the command line, not text the
        // server refused (exit 2, not 5).
        return Err(super::exit::Exit::new(super::exit::USAGE, format!("the {what} is empty")).into());
    }
    Ok(text)
}

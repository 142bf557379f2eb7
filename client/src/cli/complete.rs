//! Shell completion. `mchat completions SHELL` prints a small script that,
//! at each TAB, runs `mchat` again with `COMPLETE=SHELL` set; clap_complete's
//! engine then answers from the command definitions, and the arguments that
//! name a person are completed from the local cache of the profile in use
//! (the peers of cached conversations: no network at TAB time), `status`
//! with its three values.

use crate::config::{self, ClientConfig, Paths};
use crate::local::LocalStore;
use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};

/// Candidates for an argument that names a peer.
pub fn peers() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        cached_peers()
            .into_iter()
            .map(|(user, display)| CompletionCandidate::new(user).help(Some(display.into())))
            .collect()
    })
}

/// Candidates for `mchat status`.
pub fn availabilities() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        ["available", "away", "busy"]
            .into_iter()
            .map(CompletionCandidate::new)
            .collect()
    })
}

/// (username, display name) of every cached conversation's peer, for the
/// profile `MCHAT_PROFILE` or the config's default names. Nothing when the
/// cache does not exist yet: completion never creates files.
fn cached_peers() -> Vec<(String, String)> {
    let Ok(paths) = Paths::discover(None) else {
        return Vec::new();
    };
    let profile = std::env::var("MCHAT_PROFILE")
        .ok()
        .filter(|p| !p.is_empty())
        .or_else(|| {
            ClientConfig::load(&paths.config_file)
                .ok()
                .and_then(|c| c.default_profile)
        })
        .unwrap_or_else(|| config::DEFAULT_PROFILE.to_string());
    let path = paths.local_store(&profile);
    if !path.exists() {
        return Vec::new();
    }
    let Ok(store) = LocalStore::open(&path) else {
        return Vec::new();
    };
    let mut peers: Vec<(String, String)> = store
        .cached_conversations()
        .unwrap_or_default()
        .into_iter()
        .map(|c| {
            (
                c.peer.username,
                crate::sanitize::line(&c.peer.display_name).into_owned(),
            )
        })
        .collect();
    peers.sort();
    peers.dedup_by(|a, b| a.0 == b.0);
    peers
}

/// The registration script for `shell`: it calls this very binary back.
pub fn registration(shell: clap_complete::Shell) -> anyhow::Result<Vec<u8>> {
    let name = shell.to_string();
    let shells = clap_complete::env::Shells::builtins();
    let completer = shells
        .completer(&name)
        .ok_or_else(|| anyhow::anyhow!("no completion support for {name}"))?;
    let bin = std::env::current_exe()
        .ok()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "mchat".into());
    let mut script = Vec::new();
    completer.write_registration("COMPLETE", "mchat", "mchat", &bin, &mut script)?;
    Ok(script)
}

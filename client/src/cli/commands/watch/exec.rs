//! `--exec CMD`: a command run for each event, one at a time.
//!
//! `sh -c CMD` gets the event's JSON (one line) on stdin and
//! `MCHAT_EVENT_TYPE` / `MCHAT_EVENT_SEQ` in its environment; its stdout
//! and stderr are watch's own. Watch waits for it before the next event,
//! so a slow command slows the stream down rather than piling up processes
//! (the live connection resumes from the cursor if the server gives up on
//! us meanwhile). A command that runs past the timeout is killed, with its
//! whole process group on unix. A failure is reported on stderr and watch
//! goes on.

use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// How one run ended badly.
#[derive(Debug, PartialEq, Eq)]
pub enum ExecFailure {
    /// `sh` could not be started.
    Spawn(String),
    /// It exited unsuccessfully (code, or the signal that ended it).
    Status(String),
    /// It ran past the timeout and was killed.
    TimedOut(Duration),
    /// Watch is stopping (Ctrl-C): it was killed.
    Cancelled,
}

impl std::fmt::Display for ExecFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExecFailure::Spawn(e) => write!(f, "could not be started ({e})"),
            ExecFailure::Status(s) => write!(f, "failed ({s})"),
            ExecFailure::TimedOut(d) => write!(f, "ran longer than {} s and was killed", d.as_secs()),
            ExecFailure::Cancelled => write!(f, "was killed because watch is stopping"),
        }
    }
}

/// Runs `sh -c cmd` with `json` and a newline on stdin, waits for it (at
/// most `timeout`, and no longer than until `cancel` resolves: the command
/// runs in its own process group, so a Ctrl-C on the terminal does not reach
/// it by itself).
pub async fn run(
    cmd: &str,
    json: &str,
    kind: &str,
    seq: Option<i64>,
    timeout: Duration,
    cancel: impl std::future::Future<Output = ()>,
) -> Result<(), ExecFailure> {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(cmd)
        .env("MCHAT_EVENT_TYPE", kind)
        .env("MCHAT_EVENT_SEQ", seq.map(|s| s.to_string()).unwrap_or_default())
        .stdin(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    command.process_group(0);
    let mut child = command.spawn().map_err(|e| ExecFailure::Spawn(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        let input = format!("{json}\n");
        // A command that does not read its stdin may exit first: fine.
        tokio::spawn(async move {
            let _ = stdin.write_all(input.as_bytes()).await;
        });
    }
    let failure = tokio::select! {
        waited = tokio::time::timeout(timeout, child.wait()) => match waited {
            Ok(Ok(status)) if status.success() => return Ok(()),
            Ok(Ok(status)) => return Err(ExecFailure::Status(status.to_string())),
            Ok(Err(e)) => return Err(ExecFailure::Status(e.to_string())),
            Err(_) => ExecFailure::TimedOut(timeout),
        },
        () = cancel => ExecFailure::Cancelled,
    };
    #[cfg(unix)]
    if let Some(pid) = child.id() {
        kill_group(pid).await;
    }
    let _ = child.kill().await;
    Err(failure)
}

/// SIGKILL to the process group led by `pid` (the command and whatever it
/// started).
#[cfg(unix)]
async fn kill_group(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    const TEN: Duration = Duration::from_secs(10);

    #[tokio::test]
    async fn stdin_env_status_and_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("out");
        let cmd = format!(
            "{{ cat; echo \"$MCHAT_EVENT_TYPE $MCHAT_EVENT_SEQ\"; }} >> '{}'",
            file.display()
        );
        let never = std::future::pending::<()>;
        run(&cmd, r#"{"seq":4}"#, "message_new", Some(4), TEN, never())
            .await
            .unwrap();
        run(&cmd, r#"{"type":"typing"}"#, "typing", None, TEN, never())
            .await
            .unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            text,
            "{\"seq\":4}\nmessage_new 4\n{\"type\":\"typing\"}\ntyping \n"
        );

        let failed = run("exit 3", "{}", "x", None, TEN, never()).await;
        assert!(
            matches!(&failed, Err(ExecFailure::Status(s)) if s.contains('3')),
            "{failed:?}"
        );
        assert!(failed.unwrap_err().to_string().starts_with("failed ("));

        let started = std::time::Instant::now();
        let slow = run(
            "sleep 30 & sleep 30",
            "{}",
            "x",
            None,
            Duration::from_millis(300),
            never(),
        )
        .await;
        assert_eq!(slow, Err(ExecFailure::TimedOut(Duration::from_millis(300))));
        assert!(started.elapsed() < Duration::from_secs(10));
        let cancel = tokio::time::sleep(Duration::from_millis(200));
        let stopped = run("sleep 30", "{}", "x", None, TEN, cancel).await;
        assert_eq!(stopped, Err(ExecFailure::Cancelled));
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}

//! For the build scripts of `mchat` and `mchatd`: sets `MCHAT_LONG_VERSION`
//! (what `--version` prints: the package version, the short git commit —
//! `unknown` outside a checkout or without git — and the build date, UTC,
//! `SOURCE_DATE_EPOCH` when set, for reproducible builds).
//!
//! To avoid rebuilding on every change in the tree, the script reruns only
//! when the checked-out commit can have moved: `.git/HEAD`, the ref it
//! names and `packed-refs` (and `SOURCE_DATE_EPOCH`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// Call from `build.rs`; then `env!("MCHAT_LONG_VERSION")` in the crate.
pub fn emit() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let commit = git_dir()
        .map(|dir| {
            watch_head(&dir);
            git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into())
        })
        .unwrap_or_else(|| "unknown".into());
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    println!(
        "cargo:rustc-env=MCHAT_LONG_VERSION={version} ({commit} {})",
        build_date()
    );
}
/// `git ARGS` in this package's directory, trimmed, when it succeeds.
fn git(args: &[&str]) -> Option<String> {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")?;
    let out = Command::new("git").args(args).current_dir(dir).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| text.to_string())
}

/// The repository's git directory (which may be a worktree's), if any.
fn git_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(git(&["rev-parse", "--absolute-git-dir"])?);
    dir.join("HEAD").exists().then_some(dir)
}

/// Reruns when HEAD moves: HEAD itself (a checkout), the branch it names
/// (a commit) and packed-refs (where `git gc` moves that branch); `git
/// rev-parse --git-path` finds them in worktrees too. Only existing files:
/// cargo reruns on every build for a missing one.
fn watch_head(dir: &Path) {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let mut paths = vec![dir.join("HEAD")];
    if let Some(branch) = git(&["rev-parse", "--symbolic-full-name", "HEAD"]) {
        paths.extend(git(&["rev-parse", "--git-path", &branch]).map(|p| manifest.join(p)));
    }
    paths.extend(git(&["rev-parse", "--git-path", "packed-refs"]).map(|p| manifest.join(p)));
    for path in paths.into_iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// `YYYY-MM-DD` (UTC) of `SOURCE_DATE_EPOCH`, else of now.
fn build_date() -> String {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
        });
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`). Ten lines here rather than a date crate
/// as a build-dependency, which would be compiled a second time for the
/// build script on every clean build.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn days_become_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        // 2000-02-29 (a leap day in a century year) and 2026-12-02.
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_789), (2026, 12, 2));
    }
}

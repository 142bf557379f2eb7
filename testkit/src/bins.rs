//! Finding (and, when needed, building) the workspace's binaries.
//!
//! An integration test runs as `target/<profile>/deps/<test>-<hash>`, so the
//! binaries it wants sit two directories up: `target/<profile>/mchatd`.
//! Cargo only builds the binaries of the package under test, so `cargo test
//! -p mchat` does not build `mchatd`: when the binary is missing, or older
//! than a source file of its package or of `mchat-shared`, it is built with
//! `$CARGO build -p PACKAGE --bin NAME` (same profile, same target dir) from
//! the workspace root. Each binary is checked once per test process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::SystemTime;

/// The workspace root (the testkit crate's parent directory).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The `mchatd` server binary of this build profile, built if missing or stale.
pub fn mchatd_bin() -> PathBuf {
    binary("mchatd", "mchatd", &["server", "shared"])
}

/// The `mchat` client binary of this build profile, built if missing or
/// stale. (Inside the `mchat` package's own tests, `env!("CARGO_BIN_EXE_mchat")`
/// is the same file and always fresh.)
pub fn mchat_bin() -> PathBuf {
    binary("mchat", "mchat", &["client", "shared"])
}

/// Binaries already checked by this process.
static CHECKED: Mutex<BTreeMap<&'static str, PathBuf>> = Mutex::new(BTreeMap::new());

fn binary(package: &str, bin: &'static str, source_dirs: &[&str]) -> PathBuf {
    // One test builds while the others wait: cargo would serialise them
    // anyway, and the first one's answer is good for all.
    let mut checked = CHECKED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = checked.get(bin) {
        return path.clone();
    }
    let profile_dir = profile_dir();
    let path = profile_dir.join(format!("{bin}{}", std::env::consts::EXE_SUFFIX));
    let root = workspace_root();
    if !path.exists() || is_stale(&path, &root, source_dirs) {
        build(package, bin, &profile_dir, &root);
    }
    assert!(
        path.exists(),
        "cargo built {package} but {} does not exist",
        path.display()
    );
    checked.insert(bin, path.clone());
    path
}

/// `target/<profile>`: the directory of the running executable, one level up
/// when that is `deps/` (tests) or `examples/`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("cannot find the running test executable");
    let dir = exe.parent().expect("the test executable has no parent directory");
    match dir.file_name().and_then(|n| n.to_str()) {
        Some("deps" | "examples") => dir.parent().unwrap_or(dir).to_path_buf(),
        _ => dir.to_path_buf(),
    }
}

/// Is any source file of the binary's packages newer than the binary?
fn is_stale(binary: &Path, root: &Path, source_dirs: &[&str]) -> bool {
    let Ok(built) = std::fs::metadata(binary).and_then(|m| m.modified()) else {
        return true;
    };
    source_dirs.iter().any(|dir| {
        let pkg = root.join(dir);
        newest(&pkg.join("src")).max(modified(&pkg.join("Cargo.toml"))) > Some(built)
    })
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The newest modification time of any file under `dir`.
fn newest(dir: &Path) -> Option<SystemTime> {
    let mut best = None;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return None;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let t = if path.is_dir() {
            newest(&path)
        } else {
            modified(&path)
        };
        best = best.max(t);
    }
    best
}

fn build(package: &str, bin: &str, profile_dir: &Path, root: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["build", "--quiet", "-p", package, "--bin", bin]);
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(other) => {
            cmd.args(["--profile", other]);
        }
        None => {}
    }
    if let Some(target_dir) = profile_dir.parent() {
        cmd.arg("--target-dir").arg(target_dir);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo to build {bin}: {e}"));
    assert!(
        out.status.success(),
        "`cargo build -p {package} --bin {bin}` failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

//! The fuzz properties on stable, without libFuzzer: every input under
//! `seeds/<target>/` (hand-written seeds and the inputs of crashes found
//! and fixed) and, when present, the local `corpus/<target>/` a fuzz run
//! grew. `cargo test` in `fuzz/`.

use std::path::Path;

fn run(target: &str, check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for dir in ["seeds", "corpus"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for entry in entries.flatten() {
            let data = std::fs::read(entry.path()).unwrap_or_default();
            let path = entry.path();
            let result = std::panic::catch_unwind(|| check(&data));
            assert!(result.is_ok(), "{target}: {} fails", path.display());
            n += 1;
        }
    }
    assert!(n > 0, "{target}: no seeds found");
}

#[test]
fn wire_client_frame_seeds() {
    run("wire_client_frame", mchat_fuzz::wire);
}

#[test]
fn validate_seeds() {
    run("validate", mchat_fuzz::validate);
}

#[test]
fn sanitize_seeds() {
    run("sanitize", mchat_fuzz::sanitize);
}

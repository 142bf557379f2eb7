//! The real `mchat` against a real `mchatd` serving TLS itself, with a
//! certificate from a throwaway CA (rcgen): with `--ca-file` (or the
//! profile's `ca_file`) it works over https:// and wss://; without, it
//! fails with a sentence that names the roots it trusted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{one_json, run_mchat};
use mchat_testkit::{PASSWORD, TestPki, TestServer};
use std::path::{Path, PathBuf};

/// A server with a certificate for `localhost` signed by a fresh CA, and
/// that CA's PEM file (in the server's scratch directory).
fn tls_server() -> (TestServer, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path());
    let server = TestServer::start_with(&pki.server_toml());
    // The server reads its files at start; the CA goes where it outlives `dir`.
    let ca_file = server.dir().join("ca.pem");
    std::fs::write(&ca_file, &pki.ca_pem).unwrap();
    let url = format!("https://localhost:{}", server.addr().port());
    (server, ca_file, url)
}

fn home() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("mchat-home-").tempdir().unwrap()
}

/// `mchat [FLAGS] register tess --role mentee --password-stdin` at `url`.
fn register_tess(home: &Path, url: &str, flags: &[&str]) -> (i32, String, String) {
    let mut args = flags.to_vec();
    args.extend(["register", "tess", "--role", "mentee", "--password-stdin"]);
    run_mchat(home, url, &args, format!("{PASSWORD}\n").as_bytes(), &[])
}

fn ca_arg(ca: &Path) -> String {
    ca.display().to_string()
}

#[test]
fn with_ca_file_https_and_wss_work() {
    let (_server, ca, url) = tls_server();
    let home = home();
    let ca = ca_arg(&ca);
    let (code, _out, err) = register_tess(home.path(), &url, &["--ca-file", &ca]);
    assert_eq!(code, 0, "register over https: {err}");

    let (code, out, err) = run_mchat(
        home.path(),
        &url,
        &["--ca-file", &ca, "--json", "doctor"],
        b"",
        &[],
    );
    assert_eq!(code, 0, "doctor: {out}{err}");
    let report = one_json(&out);
    assert_eq!(report["reachable"], true, "{report}");
    assert_eq!(report["token_valid"], true, "{report}");
    let roots = report["tls_roots"].as_str().unwrap_or_default();
    assert!(
        roots.contains("the CA file") && roots.contains("ca.pem"),
        "{roots}"
    );

    // wss:// with the same roots: the replay, then exit.
    let (code, _out, err) = run_mchat(
        home.path(),
        &url,
        &["--ca-file", &ca, "--json", "watch", "--once", "--since", "0"],
        b"",
        &[],
    );
    assert_eq!(code, 0, "watch over wss: {err}");
}

#[test]
fn without_the_ca_the_failure_names_the_roots() {
    let (_server, ca, url) = tls_server();
    let home = home();
    let (code, _out, err) = register_tess(home.path(), &url, &[]);
    assert_ne!(code, 0, "an unknown CA must not be trusted");
    assert!(
        err.contains("certificate was refused")
            && err.contains("trusted roots: the platform's root certificates")
            && err.contains("--ca-file"),
        "{err}"
    );

    let (code, out, _err) = run_mchat(home.path(), &url, &["doctor"], b"", &[]);
    assert_ne!(code, 0);
    assert!(
        out.contains("tls          trusting the platform's root certificates"),
        "{out}"
    );
    assert!(!out.contains("the CA file"), "{out}");

    // Logged in with the CA, the live connection without it is refused the same way.
    let ca = ca_arg(&ca);
    let (code, _out, err) = register_tess(home.path(), &url, &["--ca-file", &ca]);
    assert_eq!(code, 0, "{err}");
    let (code, _out, err) = run_mchat(home.path(), &url, &["--json", "watch", "--once"], b"", &[]);
    assert_ne!(code, 0);
    assert!(err.contains("trusted roots: the platform's"), "{err}");
}

#[test]
fn the_profile_ca_file_is_relative_to_the_config_and_a_bad_one_is_a_usage_error() {
    let (_server, ca, url) = tls_server();
    let home = home();
    let config_dir = home.path().join("config");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::copy(&ca, config_dir.join("private-ca.pem")).unwrap();
    std::fs::write(
        config_dir.join("config.toml"),
        "[profiles.default]\nca_file = \"private-ca.pem\"\n",
    )
    .unwrap();
    let (code, out, err) = run_mchat(home.path(), &url, &["--json", "doctor"], b"", &[]);
    let report = one_json(&out);
    assert_eq!(report["reachable"], true, "{report} {err}");
    // Reachable but not logged in: the account check fails, not TLS.
    assert_eq!(code, 3, "{report}");

    let missing = home.path().join("missing.pem");
    let (code, _out, err) = run_mchat(
        home.path(),
        &url,
        &["--ca-file", &missing.display().to_string(), "doctor"],
        b"",
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cannot read the CA file") && err.contains("missing.pem"),
        "{err}"
    );
}

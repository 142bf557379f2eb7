//! Which certificates mchat trusts for `https://` and `wss://`: the
//! platform's root certificates (rustls-native-certs: the system store, or
//! `SSL_CERT_FILE` / `SSL_CERT_DIR`), plus a private CA from `--ca-file` or
//! `[profiles.X] ca_file`.
//!
//! One rustls config per process, shared by the HTTP client and the live
//! connection so both always trust the same roots. It is process-wide on
//! purpose: the CLI resolves `--ca-file` once ([`configure`]) before any
//! connection, and every client made afterwards (commands, TUI, watch,
//! demo) picks it up without threading a path through each of them.
//! Reading the system store takes a few milliseconds, so it happens only
//! for an `https://` server, once.
//!
//! Why rustls-native-certs and not rustls-platform-verifier (which reqwest
//! 0.13 pulls in): on Linux that verifier reads the same store through
//! rustls-native-certs, but keeps what it found to itself, so the "trusted
//! roots: the platform's root certificates (N) and the CA file F (M)"
//! sentence of `mchat doctor` and of a refused certificate could not be
//! said, and with an empty store and no `--ca-file` it refuses to be built
//! ("No CA certificates were loaded from the system") where this says what
//! to install; on macOS and Windows it hands the decision to the OS, whose
//! roots cannot be counted or named at all.

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// The trust of this process, once built.
static TRUST: OnceLock<Trust> = OnceLock::new();

/// A rustls client config and, in words, the roots it trusts.
#[derive(Debug)]
pub struct Trust {
    config: Arc<rustls::ClientConfig>,
    roots: String,
    ca_file: Option<PathBuf>,
}

/// Why the roots could not be set up; one sentence naming the file.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the CA file {}: {reason}", path.display())]
    CaFile { path: PathBuf, reason: String },
    #[error("the CA file {} holds no PEM certificate", path.display())]
    EmptyCaFile { path: PathBuf },
    #[error("a certificate in the CA file {} is not usable: {reason}", path.display())]
    BadCa { path: PathBuf, reason: String },
    #[error("cannot set up TLS: {0}")]
    Setup(String),
}

impl Trust {
    /// The platform's roots, plus every certificate in `ca_file`.
    fn load(ca_file: Option<&Path>) -> Result<Trust, TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        // Unreadable entries in the system store are skipped, as a browser
        // would; what was found is said in `roots`.
        let native = rustls_native_certs::load_native_certs();
        let (platform, _unusable) = roots.add_parsable_certificates(native.certs);
        let mut words = if platform > 0 {
            format!("the platform's root certificates ({platform})")
        } else {
            "the platform's root certificates (none found: install ca-certificates or set SSL_CERT_FILE)"
                .to_string()
        };
        if let Some(path) = ca_file {
            let added = add_ca_file(&mut roots, path)?;
            words.push_str(&format!(" and the CA file {} ({added})", path.display()));
        }
        Ok(Trust {
            config: config_with(roots)?,
            roots: words,
            ca_file: ca_file.map(Path::to_path_buf),
        })
    }

    /// The rustls config (HTTP/1.1: mchatd speaks nothing else).
    pub fn config(&self) -> Arc<rustls::ClientConfig> {
        self.config.clone()
    }

    /// The roots in words: "the platform's root certificates (146) and the
    /// CA file ca.pem (1)".
    pub fn roots(&self) -> &str {
        &self.roots
    }
}

/// A client config that trusts exactly `roots`, with ring: the one rustls
/// crypto provider in the build (aws-lc-rs is kept out, and reqwest is built
/// without a provider of its own).
fn config_with(roots: rustls::RootCertStore) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A config that trusts no root, for an `http://` server's client: reqwest
/// wants a TLS config even for a client that never makes a TLS connection
/// (without one it would look for a process-wide crypto provider, and read
/// the system's store for its platform verifier). Any `https://` through it
/// is refused, which cannot happen: redirects stay within the origin.
pub fn no_roots() -> Result<Arc<rustls::ClientConfig>, TlsError> {
    config_with(rustls::RootCertStore::empty())
}

/// Adds every certificate of a PEM file; returns how many.
fn add_ca_file(roots: &mut rustls::RootCertStore, path: &Path) -> Result<usize, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect)
        .map_err(|e| TlsError::CaFile {
            path: path.to_path_buf(),
            reason: match e {
                rustls::pki_types::pem::Error::Io(io) => io.to_string(),
                other => format!("not valid PEM ({other:?})"),
            },
        })?;
    if certs.is_empty() {
        return Err(TlsError::EmptyCaFile {
            path: path.to_path_buf(),
        });
    }
    let count = certs.len();
    for cert in certs {
        roots.add(cert).map_err(|e| TlsError::BadCa {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    }
    Ok(count)
}

/// Sets the process's trust: the platform's roots plus `ca_file`. Checks
/// the file now, so a bad path is one sentence before anything connects.
/// Once set it stays; asking for another CA file afterwards is an error
/// rather than a silent mismatch (the CLI configures once, at start).
pub fn configure(ca_file: Option<&Path>) -> Result<&'static Trust, TlsError> {
    if let Some(trust) = TRUST.get() {
        return match ca_file {
            Some(path) if trust.ca_file.as_deref() != Some(path) => Err(TlsError::Setup(format!(
                "the trusted roots were already set up ({}); {} came too late",
                trust.roots,
                path.display()
            ))),
            _ => Ok(trust),
        };
    }
    let trust = Trust::load(ca_file)?;
    Ok(TRUST.get_or_init(|| trust))
}

/// The process's trust: as [`configure`]d, else the platform's roots alone.
pub fn trust() -> Result<&'static Trust, TlsError> {
    configure(None)
}

/// The roots in words, for an error message about a refused certificate.
pub fn roots_in_words() -> String {
    match trust() {
        Ok(t) => t.roots().to_string(),
        Err(e) => e.to_string(),
    }
}

/// If `err` (anywhere in its chain) is a TLS failure, a sentence saying what
/// failed and which roots were trusted, with the way out for a private CA.
pub fn describe_failure(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let tls = find_rustls_error(err)?;
    let what = match tls {
        rustls::Error::InvalidCertificate(_) => format!("the server's certificate was refused ({tls})"),
        other => format!("the TLS handshake failed ({other})"),
    };
    Some(format!(
        "{what}; trusted roots: {} — for a private CA pass --ca-file PATH or set ca_file in the profile",
        roots_in_words()
    ))
}

/// The `rustls::Error` in an error chain. hyper and tokio-rustls wrap it in
/// `io::Error`s (nested, even), whose `source()` skips the wrapped error, so
/// those are opened with `get_ref` instead.
fn find_rustls_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(wrapped) => Some(wrapped as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rustls_error_is_found_inside_an_io_error() {
        // Nested as hyper-util and tokio-rustls do it.
        let io = std::io::Error::other(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        ));
        let found = describe_failure(&io).unwrap_or_default();
        assert!(found.contains("UnknownIssuer"), "{found}");
        assert!(found.contains("trusted roots: "), "{found}");
        let plain = std::io::Error::other("connection refused");
        assert_eq!(describe_failure(&plain), None);
    }

    #[test]
    fn a_bad_ca_file_is_one_sentence_naming_it() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let missing = dir.path().join("missing.pem");
        let err = Trust::load(Some(&missing)).err().map(|e| e.to_string());
        assert!(
            err.as_deref().is_some_and(|e| e.contains("missing.pem")),
            "{err:?}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no pem here\n").unwrap_or_else(|e| panic!("{e}"));
        let err = Trust::load(Some(&empty)).err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("holds no PEM certificate")),
            "{err:?}"
        );
    }
}

//! reqwest clients for the tests: [`http_client`] for `http://` on
//! loopback, [`https_client`] for a server whose certificate a test's own CA
//! signed.
//!
//! reqwest is built without a rustls crypto provider (`rustls-no-provider`:
//! its default would be aws-lc-rs, which this workspace keeps out). A client
//! that reqwest sets up itself would then panic at `build()` unless a
//! process-wide provider had been installed, and on Linux would read the
//! system's certificate store for its platform verifier. So every client
//! here is handed a rustls config with ring instead, as the real client is.

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::sync::Arc;

/// A rustls client config with ring that trusts exactly the certificates
/// of `ca_pem` (none for `""`), e.g. for `wss://` with tungstenite.
pub fn tls_config(ca_pem: &str) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots
            .add(cert.expect("a PEM certificate"))
            .expect("a usable CA certificate");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// A client builder for `http://`, to add timeouts and the like to. It
/// trusts no root certificate: any `https://` through it is refused.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().tls_backend_preconfigured(tls_config(""))
}

/// A plain client for `http://` (what `reqwest::Client::new()` was).
pub fn http_client() -> reqwest::Client {
    http_client_builder().build().expect("an HTTP client")
}

/// A client that trusts only the certificates of `ca_pem` (not the
/// platform's roots), e.g. [`crate::TestPki::ca_pem`].
pub fn https_client(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config(ca_pem))
        .build()
        .expect("an HTTPS client")
}

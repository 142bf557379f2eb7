//! [`TestPki`]: a throwaway CA and a server certificate it signed for
//! `localhost` and `127.0.0.1` (rcgen), as PEM files, for the tests that
//! run mchatd with `[server] tls_cert` / `tls_key`.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use std::path::{Path, PathBuf};

/// The CA (in memory and as a file) and the server's certificate and key files.
pub struct TestPki {
    /// The CA certificate, PEM: what a client that trusts only it is given.
    pub ca_pem: String,
    /// `ca.pem` in the directory, for `--ca-file` and `ca_file`.
    pub ca_file: PathBuf,
    /// The server certificate, PEM file.
    pub cert: PathBuf,
    /// Its private key, PEM file.
    pub key: PathBuf,
}

impl TestPki {
    /// Generates a fresh CA and server certificate into `dir`.
    pub fn generate(dir: &Path) -> TestPki {
        let ca_key = KeyPair::generate().expect("a CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "mentorchat test CA");
        let ca = ca_params.self_signed(&ca_key).expect("a self-signed CA");
        let leaf_key = KeyPair::generate().expect("a server key");
        let leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("server certificate params")
            .signed_by(&leaf_key, &ca, &ca_key)
            .expect("a server certificate signed by the CA");
        let pki = TestPki {
            ca_pem: ca.pem(),
            ca_file: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        std::fs::write(&pki.ca_file, &pki.ca_pem).expect("write ca.pem");
        std::fs::write(&pki.cert, leaf.pem()).expect("write cert.pem");
        std::fs::write(&pki.key, leaf_key.serialize_pem()).expect("write key.pem");
        pki
    }

    /// The `[server]` table that makes mchatd serve this certificate.
    pub fn server_toml(&self) -> String {
        format!(
            "[server]\ntls_cert = {:?}\ntls_key = {:?}\n",
            self.cert.display().to_string(),
            self.key.display().to_string()
        )
    }
}

//! `mchat-testkit`: what the workspace's integration tests share.
//!
//! - [`mchatd_bin`] / [`mchat_bin`]: the real binaries, built on demand.
//! - [`TestServer`]: a real `mchatd` on `127.0.0.1:0` with a temporary data
//!   directory (or an existing one) and config file; stop, kill, restart on
//!   the same data, run `mchatd admin ...` and `mchatd backup` against it.
//! - [`TestServer::sql`]: direct SQL on a test server's storage, SQLite or
//!   PostgreSQL, for what only shows below the API.
//! - [`DropResponseProxy`]: a loopback TCP proxy that lets the server commit
//!   a request and then closes the client's connection instead of answering,
//!   to force a "lost response after commit".
//! - [`TestDatabase`]: a database of its own on the throwaway PostgreSQL
//!   cluster `scripts/with-postgres.sh` starts, for the PostgreSQL tests.
//! - [`TestPki`]: a throwaway CA and server certificate for the TLS tests.
//! - [`http_client`] / [`https_client`]: reqwest clients with ring as the
//!   TLS provider (reqwest has none of its own in this workspace): tests
//!   build theirs here, never with `reqwest::Client::new()`.
//!
//! Everything is real processes, real sockets and temporary directories: no
//! mocks. Every wait is bounded and panics with the server's log on timeout.
//!
//! ```no_run
//! use mchat_testkit::{DropResponseProxy, PASSWORD, TestServer};
//!
//! let mut server = TestServer::start_open(); // no mentor approval needed
//! let out = server.admin(&["create-user", "mona", "--role", "mentor", "--password-stdin"], PASSWORD);
//! assert!(out.status.success());
//! // Point a client at `server.url()`, or at a proxy that loses the answer
//! // to the next message send after the server stored it:
//! let proxy = DropResponseProxy::message_posts(&server.url(), 1);
//! let _client_url = proxy.url();
//! server.stop(); // SIGTERM, like an operator
//! server.start_again_on_same_port(); // same data directory
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bins;
mod http;
mod pki;
mod postgres;
mod proxy;
mod s3;
mod server;
mod sql;

pub use bins::{mchat_bin, mchatd_bin, workspace_root};
pub use http::{http_client, http_client_builder, https_client, tls_config};
pub use pki::TestPki;
pub use postgres::{PG_URL_VAR, TestDatabase};
pub use proxy::{DropResponseProxy, RequestHead};
pub use s3::{MOTO_VAR, TestBucket};
pub use server::{BACKEND_VAR, TestServer, on_postgres, postgres_config, sqlite_only};
pub use sql::{Backend, Sql, Value};

/// `len` bytes that neither compress nor repeat in an obvious way
/// (xorshift32 from `seed`), for upload tests.
pub fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// A password that passes validation, for test users.
pub const PASSWORD: &str = "correct horse battery staple";

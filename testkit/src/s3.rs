//! An S3-compatible bucket for the attachment tests: a `moto_server` (the
//! moto project's S3 service, a real HTTP implementation of the S3 API) on
//! a loopback port, one per test, stopped when dropped. `.ci/run` installs
//! moto in a virtualenv and names the program in [`MOTO_VAR`]; the tests
//! that need it are `#[ignore]`d otherwise.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The variable naming the `moto_server` program.
pub const MOTO_VAR: &str = "MCHAT_TEST_MOTO_SERVER";

/// A running S3 service with one empty bucket.
pub struct TestBucket {
    child: Child,
    port: u16,
    bucket: String,
}

impl TestBucket {
    /// Starts the service and creates the bucket. Panics, saying how to run
    /// the test, when no `moto_server` is named.
    pub fn start() -> TestBucket {
        let program = std::env::var(MOTO_VAR).unwrap_or_else(|_| {
            panic!(
                "{MOTO_VAR} is not set: this test needs an S3 service; install moto \
                 (pip install 'moto[server]') and name its moto_server in {MOTO_VAR}"
            )
        });
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("no free loopback port");
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        let bucket = TestBucket {
            child,
            port,
            bucket: "mchat-test".into(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let (status, body) = bucket.request("PUT", &format!("/{}", bucket.bucket));
        assert_eq!(status, 200, "cannot create the bucket: {body}");
        bucket
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The `[files]` tables that put a server's attachments in this bucket.
    pub fn files_toml(&self) -> String {
        format!(
            "[files]\nstore = \"s3\"\n[files.s3]\nbucket = \"{}\"\nendpoint = \"{}\"\n\
             region = \"us-east-1\"\naccess_key_id = \"test\"\nsecret_access_key = \"test\"\n\
             allow_http = true\n",
            self.bucket,
            self.endpoint()
        )
    }

    /// The keys in the bucket.
    pub fn keys(&self) -> Vec<String> {
        let (status, body) = self.request("GET", &format!("/{}?list-type=2", self.bucket));
        assert_eq!(status, 200, "cannot list the bucket: {body}");
        body.split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</Key>").map(|(k, _)| k.to_string()))
            .collect()
    }

    /// One plain HTTP/1.1 request (moto does not check signatures): status and body.
    fn request(&self, method: &str, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("moto_server is gone");
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        stream
            .write_all(head.as_bytes())
            .expect("cannot write to moto_server");
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .expect("cannot read from moto_server");
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = response.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        (status, body.to_string())
    }
}

impl Drop for TestBucket {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

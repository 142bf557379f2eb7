//! Where attachments' bytes live: content-addressed by SHA-256 (`ab/cdef…`)
//! in a directory — one node's own, or a volume several nodes mount — or in
//! an S3-compatible bucket, which every node reaches. Which rows name which
//! bytes, and when bytes may go, is the store's business (`store/files.rs`,
//! `store/blobs.rs`); this only keeps bytes.

mod dir;
mod s3;

pub use dir::DirBlobs;
pub use s3::S3Blobs;

use crate::config::{Config, FilesStore};
use bytes::Bytes;
use futures_util::stream::BoxStream;
use std::io;
use std::path::Path;
use std::time::SystemTime;

/// A stored blob's bytes, as they arrive.
pub type ByteStream = BoxStream<'static, io::Result<Bytes>>;

/// The bytes of every attachment, by hash.
pub enum Blobs {
    Dir(dir::DirBlobs),
    S3(s3::S3Blobs),
}

/// Whether `sha256` is a hex SHA-256, the only names blobs have (so a
/// stored value can never name anything outside the blobs).
pub fn is_hash(sha256: &str) -> bool {
    sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `ab/cdef…` for a hash, `None` for anything else.
fn key(sha256: &str) -> Option<(&str, &str)> {
    is_hash(sha256).then(|| sha256.split_at(2))
}

fn not_a_hash(sha256: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("not a blob hash: {sha256:?}"),
    )
}

impl Blobs {
    /// The blob store `[files]` asks for; what stops it is one sentence.
    pub fn open(config: &Config) -> Result<Blobs, String> {
        match config.files.store {
            FilesStore::Dir => Ok(Blobs::Dir(dir::DirBlobs::new(config.files_dir()))),
            FilesStore::S3 => s3::S3Blobs::open(&config.files.s3).map(Blobs::S3),
        }
    }

    /// Blobs in the directory `root`.
    pub fn in_dir(root: std::path::PathBuf) -> Blobs {
        Blobs::Dir(dir::DirBlobs::new(root))
    }

    /// For logs: where the bytes are.
    pub fn describe(&self) -> String {
        match self {
            Blobs::Dir(d) => d.describe(),
            Blobs::S3(s) => s.describe(),
        }
    }

    /// Whether the blob of `sha256` is stored.
    pub async fn exists(&self, sha256: &str) -> io::Result<bool> {
        match self {
            Blobs::Dir(d) => d.exists(sha256).await,
            Blobs::S3(s) => s.exists(sha256).await,
        }
    }

    /// Stores `file` (a finished, synced upload) as the blob of `sha256`.
    /// True when `file` itself was moved into place (nothing to clean up).
    pub async fn put(&self, sha256: &str, file: &Path) -> io::Result<bool> {
        match self {
            Blobs::Dir(d) => d.put(sha256, file).await,
            Blobs::S3(s) => s.put(sha256, file).await.map(|()| false),
        }
    }

    /// The bytes of `sha256`.
    pub async fn get(&self, sha256: &str) -> io::Result<ByteStream> {
        match self {
            Blobs::Dir(d) => d.get(sha256).await,
            Blobs::S3(s) => s.get(sha256).await,
        }
    }

    /// Removes the blob of `sha256`; false when it was not there.
    pub async fn remove(&self, sha256: &str) -> io::Result<bool> {
        match self {
            Blobs::Dir(d) => d.remove(sha256).await,
            Blobs::S3(s) => s.remove(sha256).await,
        }
    }

    /// Every stored hash, or only those stored before `before`.
    pub async fn list(&self, before: Option<SystemTime>) -> io::Result<Vec<String>> {
        match self {
            Blobs::Dir(d) => d.list(before).await,
            Blobs::S3(s) => s.list(before).await,
        }
    }
}

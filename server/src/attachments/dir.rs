//! Blobs in a directory: `ab/cdef…` under it. Uploads are streamed to its
//! `tmp/` first, so putting one in place is a rename on the same volume.

use super::{ByteStream, key, not_a_hash};
use futures_util::StreamExt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Read size for downloads.
const READ_CHUNK: usize = 64 * 1024;

pub struct DirBlobs {
    root: PathBuf,
}

impl DirBlobs {
    pub fn new(root: PathBuf) -> DirBlobs {
        DirBlobs { root }
    }

    pub fn describe(&self) -> String {
        format!("directory {}", self.root.display())
    }

    fn path(&self, sha256: &str) -> io::Result<PathBuf> {
        let (head, rest) = key(sha256).ok_or_else(|| not_a_hash(sha256))?;
        Ok(self.root.join(head).join(rest))
    }

    pub async fn exists(&self, sha256: &str) -> io::Result<bool> {
        tokio::fs::try_exists(self.path(sha256)?).await
    }

    pub async fn put(&self, sha256: &str, file: &Path) -> io::Result<bool> {
        let dest = self.path(sha256)?;
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        // Same bytes racing in twice: both renames put identical content in place.
        tokio::fs::rename(file, &dest).await?;
        Ok(true)
    }

    pub async fn get(&self, sha256: &str) -> io::Result<ByteStream> {
        let file = tokio::fs::File::open(self.path(sha256)?).await?;
        Ok(tokio_util::io::ReaderStream::with_capacity(file, READ_CHUNK).boxed())
    }

    pub async fn remove(&self, sha256: &str) -> io::Result<bool> {
        match tokio::fs::remove_file(self.path(sha256)?).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn list(&self, before: Option<SystemTime>) -> io::Result<Vec<String>> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || list_dir(&root, before))
            .await
            .map_err(io::Error::other)?
    }
}

fn list_dir(root: &Path, before: Option<SystemTime>) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    let prefixes = match std::fs::read_dir(root) {
        Ok(p) => p,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for prefix in prefixes {
        let prefix = prefix?;
        let head = prefix.file_name().to_string_lossy().into_owned();
        if head.len() != 2 || !prefix.path().is_dir() {
            continue;
        }
        for blob in std::fs::read_dir(prefix.path())? {
            let blob = blob?;
            let sha = format!("{head}{}", blob.file_name().to_string_lossy());
            if !super::is_hash(&sha) {
                continue;
            }
            let old_enough = match before {
                None => true,
                Some(t) => blob.metadata()?.modified()? < t,
            };
            if old_enough {
                out.push(sha);
            }
        }
    }
    Ok(out)
}

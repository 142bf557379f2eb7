//! Content-addressed blobs an upload is about to name ([`BlobPins`]).
//!
//! A deletion decides in its transaction that no file row names some bytes
//! any more and unlinks the blob after COMMIT. An upload of the same bytes
//! can be between finding that blob in place (so keeping its own copy out)
//! and committing its row: unlinking then would leave the new row without
//! its bytes. An upload therefore pins the hash before it looks, until its
//! row is committed, and the unlink happens under the same lock and skips a
//! pinned hash. Either the unlink runs first (the upload then finds no blob
//! and moves its own copy in) or the pin does (the blob stays, and the new
//! row names it). An upload that fails after pinning leaves at most an
//! orphan, which the sweep at the next start removes.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

/// Hashes pinned by uploads in flight, with how many hold each.
#[derive(Debug, Default)]
pub struct BlobPins {
    pinned: Mutex<HashMap<String, usize>>,
}

/// Keeps a hash pinned until dropped (after the upload's row is committed,
/// or when the upload fails).
#[derive(Debug)]
pub struct BlobPin {
    pins: Arc<BlobPins>,
    sha256: String,
}

impl BlobPins {
    /// Pins `sha256` until the returned guard is dropped.
    pub fn pin(self: &Arc<Self>, sha256: &str) -> BlobPin {
        let mut pinned = self.pinned.lock().unwrap_or_else(PoisonError::into_inner);
        *pinned.entry(sha256.to_string()).or_default() += 1;
        BlobPin {
            pins: Arc::clone(self),
            sha256: sha256.to_string(),
        }
    }

    /// Unlinks `path` (the blob of `sha256`) unless an upload pins it.
    /// Blocking: one unlink under the lock, so call it off the runtime.
    pub fn unlink_unless_pinned(&self, sha256: &str, path: &Path) -> std::io::Result<bool> {
        let pinned = self.pinned.lock().unwrap_or_else(PoisonError::into_inner);
        if pinned.contains_key(sha256) {
            return Ok(false);
        }
        match std::fs::remove_file(path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl Drop for BlobPin {
    fn drop(&mut self) {
        let mut pinned = self.pins.pinned.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = pinned.get_mut(&self.sha256) {
            *n -= 1;
            if *n == 0 {
                pinned.remove(&self.sha256);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_pinned_blob_survives_the_unlink_and_goes_once_unpinned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        std::fs::write(&path, b"bytes").unwrap();
        let pins = Arc::new(BlobPins::default());
        let first = pins.pin("ab");
        let second = pins.pin("ab");
        assert!(!pins.unlink_unless_pinned("ab", &path).unwrap());
        drop(first);
        assert!(
            !pins.unlink_unless_pinned("ab", &path).unwrap(),
            "still pinned once"
        );
        assert!(path.exists());
        drop(second);
        assert!(pins.unlink_unless_pinned("ab", &path).unwrap());
        assert!(!path.exists());
        // Already gone: not an error.
        assert!(!pins.unlink_unless_pinned("ab", &path).unwrap());
    }
}

//! Content-addressed blobs between a deletion's decision and its unlink ([`BlobPins`]).
//!
//! A deletion decides in its transaction that no file row names some bytes
//! any more and unlinks the blob after COMMIT. An upload of the same bytes
//! can find that blob in place (so keep its own copy out) and commit its row
//! anywhere in between: unlinking then would leave the new row without its
//! bytes. Two marks, both taken under one lock, close every interleaving:
//!
//! - an upload *pins* the hash before it looks for the blob and holds the
//!   pin until its row is committed;
//! - a deletion *condemns* the hash inside its transaction (the moment it
//!   sees no row) unless it is pinned, and a pin taken later *spares* it.
//!
//! The unlink goes ahead only for a hash still condemned. An upload that
//! pinned before the decision was in flight at it (nothing is condemned);
//! one that pinned after spared it. Either way its row keeps its bytes. A
//! deletion that rolls back drops its mark; every mistake this can make is
//! an orphan, which the sweep at the next start removes, never a lost blob.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

/// Marks on hashes whose blob may be about to go.
#[derive(Debug, Default)]
pub struct BlobPins {
    marks: Mutex<Marks>,
}

#[derive(Debug, Default)]
struct Marks {
    /// Uploads in flight per hash (between looking and committing).
    pinned: HashMap<String, usize>,
    /// Deletions per hash that decided no row names it, not yet unlinked
    /// and not spared since.
    condemned: HashMap<String, usize>,
}

/// Keeps a hash pinned until dropped (after the upload's row is committed,
/// or when the upload fails).
#[derive(Debug)]
pub struct BlobPin {
    pins: Arc<BlobPins>,
    sha256: String,
}

/// A deletion's decision that no row names `sha256`, carried from its
/// transaction to the unlink after COMMIT. Dropped unused (the transaction
/// failed), it withdraws itself.
#[derive(Debug)]
pub struct Condemned {
    pins: Arc<BlobPins>,
    sha256: String,
    settled: bool,
}

impl BlobPins {
    fn marks(&self) -> std::sync::MutexGuard<'_, Marks> {
        self.marks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Pins `sha256` until the returned guard is dropped, sparing it from
    /// any deletion that condemned it before.
    pub fn pin(self: &Arc<Self>, sha256: &str) -> BlobPin {
        let mut marks = self.marks();
        marks.condemned.remove(sha256);
        *marks.pinned.entry(sha256.to_string()).or_default() += 1;
        BlobPin {
            pins: Arc::clone(self),
            sha256: sha256.to_string(),
        }
    }

    /// Condemns `sha256`, whose last row this transaction removed; `None`
    /// while an upload of the same bytes is in flight (its row will name
    /// the blob, or it fails and leaves an orphan).
    pub fn condemn(self: &Arc<Self>, sha256: String) -> Option<Condemned> {
        let mut marks = self.marks();
        if marks.pinned.contains_key(&sha256) {
            return None;
        }
        *marks.condemned.entry(sha256.clone()).or_default() += 1;
        Some(Condemned {
            pins: Arc::clone(self),
            sha256,
            settled: false,
        })
    }
}

impl Condemned {
    /// The hash this deletion condemned.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Unlinks `path` (the blob of this hash) unless an upload has spared
    /// it since. `Ok(true)` when it was removed. Blocking: one unlink under
    /// the lock, so call it off the runtime.
    pub fn unlink(mut self, path: &Path) -> std::io::Result<bool> {
        self.settled = true;
        let mut marks = self.pins.marks();
        if !release(&mut marks.condemned, &self.sha256) {
            return Ok(false);
        }
        match std::fs::remove_file(path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Takes one count off `sha256`; false when it held none.
fn release(counts: &mut HashMap<String, usize>, sha256: &str) -> bool {
    let Some(n) = counts.get_mut(sha256) else {
        return false;
    };
    *n -= 1;
    if *n == 0 {
        counts.remove(sha256);
    }
    true
}

impl Drop for BlobPin {
    fn drop(&mut self) {
        release(&mut self.pins.marks().pinned, &self.sha256);
    }
}

impl Drop for Condemned {
    fn drop(&mut self) {
        if !self.settled {
            release(&mut self.pins.marks().condemned, &self.sha256);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn blob() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        std::fs::write(&path, b"bytes").unwrap();
        (dir, path)
    }

    #[test]
    fn a_hash_pinned_at_the_decision_is_not_condemned() {
        let pins = Arc::new(BlobPins::default());
        let first = pins.pin("ab");
        let second = pins.pin("ab");
        assert!(pins.condemn("ab".into()).is_none());
        drop(first);
        assert!(pins.condemn("ab".into()).is_none(), "still pinned once");
        drop(second);
        let (_dir, path) = blob();
        assert!(pins.condemn("ab".into()).unwrap().unlink(&path).unwrap());
        assert!(!path.exists());
    }

    /// The interleaving the pin alone missed: the upload pins, finds the
    /// blob, commits and unpins, all between the decision and the unlink.
    #[test]
    fn a_pin_after_the_decision_spares_the_blob_even_once_released() {
        let pins = Arc::new(BlobPins::default());
        let (_dir, path) = blob();
        let doomed = pins.condemn("ab".into()).unwrap();
        drop(pins.pin("ab"));
        assert!(!doomed.unlink(&path).unwrap());
        assert!(path.exists());
    }

    #[test]
    fn a_withdrawn_decision_unlinks_nothing_and_a_later_one_does() {
        let pins = Arc::new(BlobPins::default());
        let (_dir, path) = blob();
        drop(pins.condemn("ab".into()).unwrap());
        assert!(pins.marks().condemned.is_empty());
        let again = pins.condemn("ab".into()).unwrap();
        assert!(again.unlink(&path).unwrap());
        // Already gone: not an error.
        std::fs::write(&path, b"bytes").unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(!pins.condemn("ab".into()).unwrap().unlink(&path).unwrap());
        assert!(pins.marks().condemned.is_empty());
    }
}

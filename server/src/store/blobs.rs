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
//! The removal goes ahead only for a hash still condemned. An upload that
//! pinned before the decision was in flight at it (nothing is condemned);
//! one that pinned after spared it. Either way its row keeps its bytes. A
//! removal takes a third mark, *removing*, in the same step as it checks,
//! and a pin waits for it to end: the bytes may be in a bucket, and the
//! upload must not find them there just before they go. A deletion that
//! rolls back drops its mark; every mistake this can make is an orphan,
//! which the sweep at the next start removes, never a lost blob.
//!
//! These marks live in one process's memory: with several nodes, uploads
//! on one and deletions on another do not see each other's (docs/STORAGE.md).

use std::collections::HashMap;
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
    /// Removals under way per hash: a pin waits for them.
    removing: HashMap<String, usize>,
}

/// A removal under way; dropped when the blob is gone (or the removal failed).
#[derive(Debug)]
pub struct Removing {
    pins: Arc<BlobPins>,
    sha256: String,
}

/// How often a pin looks again while a removal of its hash is under way
/// (one delete request: rare, and short).
const REMOVAL_POLL: std::time::Duration = std::time::Duration::from_millis(2);

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
    /// any deletion that condemned it before; waits for a removal of it
    /// that is under way, so the blob is then either there or gone for good.
    pub async fn pin(self: &Arc<Self>, sha256: &str) -> BlobPin {
        loop {
            {
                let mut marks = self.marks();
                if !marks.removing.contains_key(sha256) {
                    marks.condemned.remove(sha256);
                    *marks.pinned.entry(sha256.to_string()).or_default() += 1;
                    return BlobPin {
                        pins: Arc::clone(self),
                        sha256: sha256.to_string(),
                    };
                }
            }
            tokio::time::sleep(REMOVAL_POLL).await;
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

    /// Starts the removal of this hash's blob unless an upload has spared
    /// it since: `None` when it must stay. Remove the blob, then drop the
    /// guard.
    pub fn settle(mut self) -> Option<Removing> {
        self.settled = true;
        let mut marks = self.pins.marks();
        if !release(&mut marks.condemned, &self.sha256) {
            return None;
        }
        *marks.removing.entry(self.sha256.clone()).or_default() += 1;
        Some(Removing {
            pins: Arc::clone(&self.pins),
            sha256: self.sha256.clone(),
        })
    }
}

impl Drop for Removing {
    fn drop(&mut self) {
        release(&mut self.pins.marks().removing, &self.sha256);
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

    #[tokio::test]
    async fn a_hash_pinned_at_the_decision_is_not_condemned() {
        let pins = Arc::new(BlobPins::default());
        let first = pins.pin("ab").await;
        let second = pins.pin("ab").await;
        assert!(pins.condemn("ab".into()).is_none());
        drop(first);
        assert!(pins.condemn("ab".into()).is_none(), "still pinned once");
        drop(second);
        assert!(pins.condemn("ab".into()).unwrap().settle().is_some());
    }

    /// The interleaving the pin alone missed: the upload pins, finds the
    /// blob, commits and unpins, all between the decision and the removal.
    #[tokio::test]
    async fn a_pin_after_the_decision_spares_the_blob_even_once_released() {
        let pins = Arc::new(BlobPins::default());
        let doomed = pins.condemn("ab".into()).unwrap();
        drop(pins.pin("ab").await);
        assert!(doomed.settle().is_none());
    }

    /// A pin taken while the removal is under way waits for its end, so
    /// the upload then finds the blob gone and stores its own bytes.
    #[tokio::test]
    async fn a_pin_waits_for_a_removal_under_way() {
        let pins = Arc::new(BlobPins::default());
        let removing = pins.condemn("ab".into()).unwrap().settle().unwrap();
        let waiting = tokio::spawn({
            let pins = Arc::clone(&pins);
            async move { pins.pin("ab").await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        assert!(!waiting.is_finished(), "the pin waits for the removal");
        drop(removing);
        let pin = waiting.await.unwrap();
        assert!(pins.condemn("ab".into()).is_none(), "pinned now");
        drop(pin);
        assert!(pins.marks().removing.is_empty());
    }

    #[test]
    fn a_withdrawn_decision_removes_nothing_and_a_later_one_does() {
        let pins = Arc::new(BlobPins::default());
        drop(pins.condemn("ab".into()).unwrap());
        assert!(pins.marks().condemned.is_empty());
        let again = pins.condemn("ab".into()).unwrap();
        drop(again.settle().unwrap());
        let marks = pins.marks();
        assert!(marks.condemned.is_empty() && marks.removing.is_empty());
    }
}

//! History paging: sequential `GET .../messages?limit=50` for the newest page
//! and for random `before=` cursors, checking every page is full and in order.

use crate::api::Api;
use anyhow::{Result, bail};
use mchat_shared::{ConversationId, MessageId};

pub const PAGE: u32 = 50;

/// Client round trips and server times (ms) of one sampling run.
#[derive(Debug, Default)]
pub struct Pages {
    pub client_ms: Vec<f64>,
    pub server_ms: Vec<f64>,
    /// Messages per page (every page is checked to have [`PAGE`]).
    pub events_per_page: usize,
}

/// A small deterministic PRNG (SplitMix64), so cursor choice is reproducible by seed.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> SplitMix {
        SplitMix(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..hi` (`hi > lo`), bias negligible for our sizes.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo) as u64) as usize
    }
}

/// `n` random cursors from the seeded message ids (sorted ascending): each
/// has at least [`PAGE`] seeded messages before it, so every page is full.
pub fn cursors(sorted_ids: &[MessageId], n: usize, seed: u64) -> Result<Vec<MessageId>> {
    let lo = PAGE as usize;
    if sorted_ids.len() <= lo {
        bail!(
            "need more than {lo} seeded messages for before= cursors, have {}",
            sorted_ids.len()
        );
    }
    let mut rng = SplitMix::new(seed);
    Ok((0..n)
        .map(|_| sorted_ids[rng.range(lo, sorted_ids.len())])
        .collect())
}

/// Fetches one page per entry of `cursors` (`None`: the newest page), in sequence.
pub async fn sample(api: &Api, conv: ConversationId, cursors: &[Option<MessageId>]) -> Result<Pages> {
    let mut out = Pages {
        client_ms: Vec::with_capacity(cursors.len()),
        server_ms: Vec::with_capacity(cursors.len()),
        events_per_page: PAGE as usize,
    };
    for (k, before) in cursors.iter().enumerate() {
        let (timing, page) = api.page(conv, *before, PAGE).await?;
        let n = page.messages.len();
        if n != PAGE as usize {
            bail!("page #{k} (before={before:?}) has {n} messages, expected {PAGE}");
        }
        let ordered = page.messages.windows(2).all(|w| w[0].id < w[1].id);
        let below = before.is_none_or(|b| page.messages.iter().all(|m| m.id < b));
        if !ordered || !below || !page.has_more {
            bail!(
                "page #{k} (before={before:?}) is out of order, past its cursor, or claims no more history"
            );
        }
        out.client_ms.push(timing.client_ms);
        out.server_ms.extend(timing.server_ms);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_leave_a_full_page() {
        let ids: Vec<MessageId> = (1000..1100).map(MessageId).collect();
        let c = cursors(&ids, 500, 7).unwrap();
        assert_eq!(c.len(), 500);
        assert!(c.iter().all(|id| id.0 >= 1050 && id.0 < 1100));
        assert_eq!(c, cursors(&ids, 500, 7).unwrap());
        assert!(cursors(&ids[..50], 1, 7).is_err());
    }
}

//! The checks of `mchat-bench load`, as pure functions: what one recipient
//! received against the set acknowledged with 201 in their conversation
//! (lost, duplicated, out of order, never acknowledged), and the unread
//! count a user should see.

use serde::Serialize;
use std::collections::BTreeSet;

/// One recipient's delivery against what was acknowledged.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub received: u64,
    /// Acknowledged but never received.
    pub lost: u64,
    /// Received more than once (each extra copy counts).
    pub duplicated: u64,
    /// Received with an id not above the previous one in the same conversation.
    pub out_of_order: u64,
    /// Received but never acknowledged to its sender.
    pub unexpected: u64,
}

impl Delivery {
    pub fn add(&mut self, o: Delivery) {
        self.received += o.received;
        self.lost += o.lost;
        self.duplicated += o.duplicated;
        self.out_of_order += o.out_of_order;
        self.unexpected += o.unexpected;
    }
}

/// `received`: message ids of one conversation in the order they arrived.
pub fn check_delivery(received: &[i64], acked: &BTreeSet<i64>) -> Delivery {
    let mut seen = BTreeSet::new();
    let mut d = Delivery {
        received: received.len() as u64,
        ..Delivery::default()
    };
    let mut last: Option<i64> = None;
    for &id in received {
        if !seen.insert(id) {
            d.duplicated += 1;
        }
        if last.is_some_and(|l| id <= l) {
            d.out_of_order += 1;
        }
        last = Some(id);
        if !acked.contains(&id) {
            d.unexpected += 1;
        }
    }
    d.lost = acked.difference(&seen).count() as u64;
    d
}

/// Sending moves the sender's own read marker to their message, so a
/// user's unread count is the peer's messages above max(my last message,
/// my explicit read marker).
pub fn expected_unread(mine: &[i64], peers: &[i64], read_up_to: i64) -> u64 {
    let marker = mine.iter().copied().max().unwrap_or(0).max(read_up_to);
    peers.iter().filter(|&&id| id > marker).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_counts_each_fault() {
        let acked: BTreeSet<i64> = [1, 2, 3, 4].into();
        assert_eq!(
            check_delivery(&[1, 2, 3, 4], &acked),
            Delivery {
                received: 4,
                ..Delivery::default()
            }
        );
        let d = check_delivery(&[1, 3, 2, 3, 9], &acked);
        assert_eq!(d.lost, 1); // 4
        assert_eq!(d.duplicated, 1); // 3 again
        assert_eq!(d.out_of_order, 1); // 2 after 3
        assert_eq!(d.unexpected, 1); // 9
        assert_eq!(d.received, 5);
    }

    #[test]
    fn unread_counts_the_peer_above_my_marker() {
        assert_eq!(expected_unread(&[1, 5], &[2, 3, 6, 7], 0), 2);
        assert_eq!(expected_unread(&[1, 5], &[2, 3, 6, 7], 6), 1);
        assert_eq!(expected_unread(&[], &[2, 3], 0), 2);
    }
}

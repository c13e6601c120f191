//! How often a rider may cancel before new requests wait (API.md, "Abuse
//! limits"): at most `limit` cancels in any window of [`CANCEL_WINDOW`].
//! Pure, so the rule is tested on its own; the trip service reads the
//! cancels from Postgres and asks here.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The window a rider's cancels are counted in.
pub const CANCEL_WINDOW: Duration = Duration::from_secs(10 * 60);

/// `None` when a rider whose cancels (within the window, oldest first)
/// were at `cancels` may request now; otherwise how many whole seconds
/// until the window allows again (at least 1).
pub fn cancel_wait(cancels: &[DateTime<Utc>], limit: u32, now: DateTime<Utc>) -> Option<u64> {
    let window = chrono::Duration::from_std(CANCEL_WINDOW).ok()?;
    let in_window: Vec<&DateTime<Utc>> = cancels.iter().filter(|at| **at > now - window).collect();
    let limit = limit.max(1) as usize;
    if in_window.len() < limit {
        return None;
    }
    // Requests are allowed again once only `limit - 1` cancels remain in
    // the window: when the one that many places from the newest ages out.
    let ages_out = *in_window[in_window.len() - limit] + window;
    let wait_ms = (ages_out - now).num_milliseconds().max(0) as u64;
    Some(wait_ms.div_ceil(1000).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(now: DateTime<Utc>, secs_ago: i64) -> DateTime<Utc> {
        now - chrono::Duration::seconds(secs_ago)
    }

    #[test]
    fn the_limit_and_its_wait() {
        let now = Utc::now();
        let four: Vec<_> = [500, 400, 300, 200].iter().map(|s| at(now, *s)).collect();
        assert_eq!(cancel_wait(&four, 5, now), None, "four of five");
        let five: Vec<_> = [500, 400, 300, 200, 100]
            .iter()
            .map(|s| at(now, *s))
            .collect();
        assert_eq!(
            cancel_wait(&five, 5, now),
            Some(100),
            "the oldest ages out in 100 s"
        );
        let old: Vec<_> = [700, 650, 300, 200, 100]
            .iter()
            .map(|s| at(now, *s))
            .collect();
        assert_eq!(
            cancel_wait(&old, 5, now),
            None,
            "two are outside the window"
        );
        assert_eq!(cancel_wait(&[], 1, now), None);
        assert_eq!(cancel_wait(&[at(now, 599)], 1, now), Some(1));
    }

    proptest! {
        /// Waiting the answer's seconds always lets the rider in, and
        /// waiting a second less never would have (unless it was 1 s).
        #[test]
        fn the_wait_is_exact(
            ago in proptest::collection::vec(0i64..900, 0..12),
            limit in 1u32..8,
        ) {
            let now = Utc::now();
            let mut cancels: Vec<_> = ago.iter().map(|s| at(now, *s)).collect();
            cancels.sort();
            let in_window = cancels.iter().filter(|c| now - **c < chrono::Duration::seconds(600)).count();
            match cancel_wait(&cancels, limit, now) {
                None => prop_assert!(in_window < limit as usize),
                Some(wait) => {
                    prop_assert!(in_window >= limit as usize);
                    let later = now + chrono::Duration::seconds(wait as i64);
                    prop_assert_eq!(cancel_wait(&cancels, limit, later), None);
                    if wait > 1 {
                        let sooner = now + chrono::Duration::seconds(wait as i64 - 1);
                        prop_assert!(cancel_wait(&cancels, limit, sooner).is_some());
                    }
                }
            }
        }
    }
}

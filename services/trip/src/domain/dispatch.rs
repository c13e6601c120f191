//! Dispatch rules, pure: how far to search, when to give up, how long a claim
//! lives. The workers in `crate::dispatch` do the I/O and ask these.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hail_shared::config::DispatchConfig;

/// How soon a trip whose search found nobody is searched again.
pub const RETRY_EMPTY_SEARCH: Duration = Duration::from_millis(500);

/// Candidates asked for per search; claims go down this list in order.
pub const CANDIDATES_PER_SEARCH: usize = 5;

/// Each empty search widens the radius by this factor, up to the maximum.
const RADIUS_GROWTH: f64 = 1.5;

#[derive(Clone, Debug)]
pub struct SearchPolicy {
    pub first_radius_km: f64,
    pub max_radius_km: f64,
    pub deadline: Duration,
    pub offer_timeout: Duration,
}

impl SearchPolicy {
    pub fn from_config(config: &DispatchConfig) -> Self {
        Self {
            first_radius_km: config.search_radius_km,
            max_radius_km: config.max_search_radius_km,
            deadline: config.match_deadline,
            offer_timeout: config.offer_timeout,
        }
    }

    /// The radius after an empty search at `current_km`.
    pub fn widen(&self, current_km: f64) -> f64 {
        (current_km * RADIUS_GROWTH)
            .max(self.first_radius_km)
            .min(self.max_radius_km)
    }

    /// Whether a trip requested at `requested_at` has searched long enough.
    pub fn deadline_passed(&self, requested_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        now.signed_duration_since(requested_at)
            .to_std()
            .is_ok_and(|waited| waited >= self.deadline)
    }

    /// A claim outlives its offer a little, so the driver is still held while
    /// an expired offer is being settled, and never longer than that.
    pub fn claim_ttl(&self) -> Duration {
        self.offer_timeout + Duration::from_secs(5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy() -> SearchPolicy {
        SearchPolicy {
            first_radius_km: 3.0,
            max_radius_km: 10.0,
            deadline: Duration::from_secs(60),
            offer_timeout: Duration::from_secs(15),
        }
    }

    #[test]
    fn the_radius_widens_step_by_step_to_the_maximum() {
        let p = policy();
        let steps: Vec<f64> = std::iter::successors(Some(3.0), |r| Some(p.widen(*r)))
            .take(6)
            .collect();
        assert_eq!(steps, vec![3.0, 4.5, 6.75, 10.0, 10.0, 10.0]);
    }

    #[test]
    fn the_deadline_counts_from_the_request() {
        let p = policy();
        let t0 = Utc::now();
        assert!(!p.deadline_passed(t0, t0 + chrono::Duration::seconds(59)));
        assert!(p.deadline_passed(t0, t0 + chrono::Duration::seconds(60)));
        // A clock that went backwards is not a passed deadline.
        assert!(!p.deadline_passed(t0, t0 - chrono::Duration::seconds(5)));
    }

    proptest! {
        #[test]
        fn widening_never_shrinks_nor_passes_the_maximum(current in 0.0f64..100.0) {
            let p = policy();
            let next = p.widen(current);
            prop_assert!(next <= p.max_radius_km);
            prop_assert!(next >= current.min(p.max_radius_km));
        }
    }
}

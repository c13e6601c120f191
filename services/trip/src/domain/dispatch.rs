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

    /// When a trip whose search found nobody is searched again: the first
    /// boundary of the retry grid (every `RETRY_EMPTY_SEARCH`) at least half
    /// a step away. Every waiting trip searched on one boundary lands on the
    /// next one together, so when a driver appears they are all due at once
    /// and tried in queue order (premium first, then oldest), not in
    /// whatever order their own timers would fire.
    pub fn next_retry(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let step = RETRY_EMPTY_SEARCH.as_millis() as i64;
        let earliest = now.timestamp_millis() + step / 2;
        let aligned = (earliest + step - 1).div_euclid(step) * step;
        DateTime::from_timestamp_millis(aligned).unwrap_or(now)
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

    #[test]
    fn retries_fall_on_a_shared_grid() {
        let p = policy();
        // Searched just after one boundary, a few ms apart: the same next one.
        let a = DateTime::from_timestamp_millis(1_000_010).unwrap();
        let b = DateTime::from_timestamp_millis(1_000_090).unwrap();
        assert_eq!(p.next_retry(a), p.next_retry(b));
        assert_eq!(p.next_retry(a).timestamp_millis(), 1_000_500);
    }

    proptest! {
        #[test]
        fn a_retry_waits_half_a_step_to_a_step_and_a_half(ms in 0i64..10_000_000_000) {
            let p = policy();
            let now = DateTime::from_timestamp_millis(ms).unwrap();
            let at = p.next_retry(now).timestamp_millis();
            prop_assert_eq!(at % 500, 0);
            prop_assert!((250..750).contains(&(at - ms)), "{}", at - ms);
        }

        #[test]
        fn widening_never_shrinks_nor_passes_the_maximum(current in 0.0f64..100.0) {
            let p = policy();
            let next = p.widen(current);
            prop_assert!(next <= p.max_radius_km);
            prop_assert!(next >= current.min(p.max_radius_km));
        }
    }
}

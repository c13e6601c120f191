//! Dispatch rules, pure: how far to search, when to give up, how long a claim
//! lives. The workers in `crate::dispatch` do the I/O and ask these.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use chrono::{DateTime, Utc};
use hail_shared::{
    api::geo::LatLng,
    cities::Cities,
    config::{DispatchConfig, MatchMode, MatchStrategy},
};
use uuid::Uuid;

/// How soon a trip whose search found nobody is searched again.
pub const RETRY_EMPTY_SEARCH: Duration = Duration::from_millis(500);

/// The longest a trip searching at its widest radius waits between searches,
/// in retry steps (5 s).
pub const MAX_RETRY_STEPS: i64 = 10;

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
    /// How long a worker holds a trip it dispatches (`HAIL_DISPATCH_LEASE_SECS`).
    pub lease: Duration,
}

impl SearchPolicy {
    pub fn from_config(config: &DispatchConfig) -> Self {
        Self {
            first_radius_km: config.search_radius_km,
            max_radius_km: config.max_search_radius_km,
            deadline: config.match_deadline,
            offer_timeout: config.offer_timeout,
            lease: config.step_lease,
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
        Self::on_grid(now, RETRY_EMPTY_SEARCH.as_millis() as i64 / 2)
    }

    /// Like [`Self::next_retry`], for a trip requested at `requested_at`
    /// whose radius is already the widest: it waits a quarter of the time
    /// it has waited so far (between one and [`MAX_RETRY_STEPS`] steps, and
    /// never past its deadline, so giving up stays on time), so a queue of
    /// trips nobody can serve does not take every matcher pass.
    /// A driver freed near one wakes it at once (`crate::freed`), and a
    /// younger trip still yields a driver it wants.
    pub fn next_retry_at_widest(
        &self,
        requested_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let step = RETRY_EMPTY_SEARCH.as_millis() as i64;
        let waited = now.signed_duration_since(requested_at).num_milliseconds();
        let delay = (waited / 4).clamp(step / 2, step * MAX_RETRY_STEPS - step / 2);
        let deadline = requested_at
            + chrono::Duration::from_std(self.deadline).unwrap_or(chrono::TimeDelta::MAX);
        Self::on_grid(now, delay).min(deadline.max(now))
    }

    /// The first boundary of the retry grid at least `delay_ms` after `now`.
    fn on_grid(now: DateTime<Utc>, delay_ms: i64) -> DateTime<Utc> {
        let step = RETRY_EMPTY_SEARCH.as_millis() as i64;
        let earliest = now.timestamp_millis() + delay_ms;
        let aligned = (earliest + step - 1).div_euclid(step) * step;
        DateTime::from_timestamp_millis(aligned).unwrap_or(now)
    }

    /// A claim outlives its offer a little, so the driver is still held while
    /// an expired offer is being settled, and the lease of the worker that
    /// made it: if that worker dies, the claim is still there when the next
    /// one picks the trip up and gives it back. (A claim that ran out first
    /// left the driver BUSY, with no lock for anyone to release: with a 4 s
    /// offer timeout and the 10 s lease, a killed trip-service instance lost
    /// its claimed drivers for good.)
    pub fn claim_ttl(&self) -> Duration {
        self.offer_timeout.max(self.lease) + Duration::from_secs(5)
    }
}

/// When the next batch of a batched city runs: the next multiple of
/// `window` on the wall clock after `now`, so every instance's batch loops
/// tick at the same moments, and a trip requested at any time waits less
/// than one window for its batch.
pub fn next_batch_at(now: DateTime<Utc>, window: Duration) -> DateTime<Utc> {
    let step = i64::try_from(window.as_millis()).unwrap_or(i64::MAX).max(1);
    let next = (now.timestamp_millis().div_euclid(step) + 1).saturating_mul(step);
    DateTime::from_timestamp_millis(next).unwrap_or(now)
}

/// How one city's trips are dispatched: its search and its match mode,
/// each its own or the global setting it takes.
#[derive(Clone, Debug)]
pub struct CityPolicy {
    pub search: SearchPolicy,
    pub mode: MatchMode,
    pub strategy: MatchStrategy,
    /// Batched only: how long due trips are collected before a batch.
    pub batch_window: Duration,
    /// Batched only: candidates each trip brings to the assignment.
    pub batch_candidates: usize,
}

/// Every city's policy. A trip whose city is no longer served (a cities
/// file changed under waiting trips) takes the global settings.
#[derive(Clone, Debug)]
pub struct CityPolicies {
    by_city: HashMap<String, CityPolicy>,
    global: CityPolicy,
}

impl CityPolicies {
    pub fn new(global: &DispatchConfig, cities: &Cities) -> Self {
        let policy = |config: &DispatchConfig| CityPolicy {
            search: SearchPolicy::from_config(config),
            mode: config.mode,
            strategy: config.strategy,
            batch_window: config.batch_window,
            batch_candidates: config.batch_candidates,
        };
        Self {
            by_city: cities
                .all()
                .iter()
                .map(|c| (c.id.clone(), policy(&global.for_city(&c.dispatch))))
                .collect(),
            global: policy(global),
        }
    }

    pub fn of(&self, city: &str) -> &CityPolicy {
        self.by_city.get(city).unwrap_or(&self.global)
    }

    /// The cities matched in batches, with their policies (each gets its
    /// own batch loop; the greedy matchers leave their trips alone).
    pub fn batched(&self) -> Vec<(String, CityPolicy)> {
        let mut cities: Vec<(String, CityPolicy)> = self
            .by_city
            .iter()
            .filter(|(_, p)| p.strategy == MatchStrategy::Batched)
            .map(|(id, p)| (id.clone(), p.clone()))
            .collect();
        cities.sort_by(|a, b| a.0.cmp(&b.0));
        cities
    }

    fn all(&self) -> impl Iterator<Item = &CityPolicy> {
        self.by_city.values().chain(std::iter::once(&self.global))
    }

    /// The longest match deadline of any city: what the queue's SQL uses to
    /// tell young trips from old ones (each trip's own deadline is checked
    /// with its city's policy).
    pub fn longest_deadline(&self) -> Duration {
        self.all()
            .map(|p| p.search.deadline)
            .max()
            .unwrap_or_default()
    }

    /// The widest radius any city's trips search in: how far from a driver
    /// a waiting trip that could use it may stand.
    pub fn widest_radius_km(&self) -> f64 {
        self.all()
            .map(|p| p.search.max_radius_km.max(p.search.first_radius_km))
            .fold(0.0, f64::max)
    }

    /// The longest claim any city's offer needs: one matcher call claims
    /// for trips of several cities, and a claim may outlive its offer.
    pub fn longest_claim_ttl(&self) -> Duration {
        self.all()
            .map(|p| p.search.claim_ttl())
            .max()
            .unwrap_or_default()
    }
}

/// How many due trips one matcher pass takes. Within a pass, claims are
/// decided in queue order by one Redis script, so a bigger batch costs no
/// fairness; it bounds the work (and the latency) of one pass.
pub const BATCH_SIZE: usize = 64;

/// How many trips searching again on their timer (the slow lane) one pass
/// takes at most, on top of the trips due for a reason. A pass of the slow
/// lane alone stays short, so a new trip or a woken one waits at most that
/// long for its own pass; when the slow lane is longer than the matcher's
/// spare time, its searches space out (a freed driver nearby still wakes a
/// waiting trip at once, and a trip past its deadline leaves the slow lane
/// to be given up on time).
pub const SLOW_LANE_PER_PASS: usize = 8;

/// How many trips never searched yet (the fresh lane) one pass of the
/// fresh matcher takes at most: a new request's first offer waits for at
/// most that matcher's pass under way and its own, whatever backlog of
/// older trips is due elsewhere in the city. Every lane of one pass stays
/// under the 100 searches the driver service answers per call.
pub const FRESH_LANE_PER_PASS: usize = 24;

/// What one trip of a batch will try to claim after its search.
#[derive(Clone, Debug, PartialEq)]
pub struct Wish {
    /// Its candidates it may take, nearest first: those before the first one
    /// a waiting trip ahead in the queue also wants.
    pub drivers: Vec<Uuid>,
    /// A waiting trip ahead wants one of its candidates: that trip goes first.
    pub yields: bool,
}

impl Wish {
    /// `wanted(i)`: whether a waiting trip ahead wants candidate `i`.
    pub fn new(candidates: &[Uuid], wanted: impl Fn(usize) -> bool) -> Self {
        let cut = (0..candidates.len())
            .find(|&i| wanted(i))
            .unwrap_or(candidates.len());
        Self {
            drivers: candidates[..cut].to_vec(),
            yields: cut < candidates.len(),
        }
    }
}

/// The driver each wish (in queue order) gets if every claim succeeds: the
/// first of its drivers no earlier wish gets. `None` when earlier wishes
/// take all of them. The claim script applies the same rule to the live
/// state, so this is what gets noted before claiming.
pub fn expected_claims(wishes: &[Wish]) -> Vec<Option<Uuid>> {
    let mut taken = HashSet::new();
    wishes
        .iter()
        .map(|wish| {
            let got = wish.drivers.iter().find(|d| !taken.contains(*d)).copied();
            if let Some(driver) = got {
                taken.insert(driver);
            }
            got
        })
        .collect()
}

/// Why a trip of a batch got no driver, and so when it searches again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Miss {
    /// A waiting trip ahead wants its driver: wake those trips; this one is
    /// behind them and searches again on its timer (the slow lane), not at
    /// once: at rush hour a young trip would otherwise yield again every
    /// pass while the crowd ahead of it is served.
    Yield,
    /// Trips earlier in the batch took drivers it could have had, and its
    /// search may have left more out (it found as many as it asked for):
    /// search again now, at the same radius, for the next nearest.
    Contended,
    /// Nobody free in reach (everything it found, if anything, went to trips
    /// ahead of it): widen the radius and search again soon.
    Widen,
    /// Batched: the driver its batch gave it went away before the claim.
    /// The next batch serves it first (after premium trips), same radius.
    DriverGone,
}

impl Miss {
    /// `candidates`: everything its search found, of the `asked` it asked
    /// for; `taken`: the drivers other trips of the batch got.
    pub fn of(wish: &Wish, candidates: &[Uuid], asked: usize, taken: &HashSet<Uuid>) -> Self {
        if wish.yields {
            Self::Yield
        } else if candidates.len() >= asked && candidates.iter().any(|d| taken.contains(d)) {
            Self::Contended
        } else {
            Self::Widen
        }
    }
}

/// A driver the release made matchable again, where it was.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FreedDriver {
    pub driver_id: Uuid,
    pub at: LatLng,
}

impl FreedDriver {
    pub fn encode(&self) -> String {
        format!("{},{},{}", self.driver_id, self.at.lat, self.at.lng)
    }

    pub fn decode(entry: &str) -> Option<Self> {
        let mut parts = entry.split(',');
        let driver_id = parts.next()?.parse().ok()?;
        let lat = parts.next()?.parse().ok()?;
        let lng = parts.next()?.parse().ok()?;
        Some(Self {
            driver_id,
            at: LatLng::new(lat, lng),
        })
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
            lease: Duration::from_secs(10),
        }
    }

    #[test]
    fn a_claim_outlives_its_offer_and_the_lease_of_its_worker() {
        let long_offer = policy();
        assert_eq!(long_offer.claim_ttl(), Duration::from_secs(20));
        let short_offer = SearchPolicy {
            offer_timeout: Duration::from_secs(4),
            ..policy()
        };
        assert!(short_offer.claim_ttl() > short_offer.lease);
        assert!(short_offer.claim_ttl() > short_offer.offer_timeout);
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
    fn batches_fall_on_the_window_grid_less_than_a_window_ahead() {
        let window = Duration::from_millis(2000);
        let at = |ms: i64| DateTime::from_timestamp_millis(ms).unwrap();
        assert_eq!(next_batch_at(at(10_000), window), at(12_000));
        assert_eq!(next_batch_at(at(10_001), window), at(12_000));
        assert_eq!(next_batch_at(at(11_999), window), at(12_000));
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

    fn ids(n: usize) -> Vec<Uuid> {
        (0..n).map(|_| Uuid::new_v4()).collect()
    }

    #[test]
    fn a_wish_stops_before_the_first_driver_a_trip_ahead_wants() {
        let d = ids(4);
        let wish = Wish::new(&d, |i| i == 2);
        assert_eq!(wish.drivers, d[..2].to_vec());
        assert!(wish.yields);
        let free = Wish::new(&d, |_| false);
        assert_eq!(free.drivers, d);
        assert!(!free.yields);
        let first = Wish::new(&d, |i| i == 0);
        assert!(first.drivers.is_empty() && first.yields);
    }

    #[test]
    fn earlier_wishes_get_their_nearest_first() {
        let d = ids(3);
        let wish = |drivers: &[Uuid]| Wish {
            drivers: drivers.to_vec(),
            yields: false,
        };
        // Both want d0 most: the first gets it, the second its next nearest.
        let got = expected_claims(&[wish(&[d[0], d[1]]), wish(&[d[0], d[2]]), wish(&[d[0]])]);
        assert_eq!(got, vec![Some(d[0]), Some(d[2]), None]);
    }

    #[test]
    fn a_miss_says_why() {
        let d = ids(3);
        let taken: HashSet<Uuid> = [d[1]].into();
        let cut = Wish::new(&d, |i| i == 2);
        assert_eq!(Miss::of(&cut, &d, 3, &HashSet::new()), Miss::Yield);
        let whole = Wish::new(&d, |_| false);
        // It found all it asked for: there may be more beyond them.
        assert_eq!(Miss::of(&whole, &d, 3, &taken), Miss::Contended);
        // It found fewer: everything in reach went to trips ahead of it.
        assert_eq!(Miss::of(&whole, &d, 5, &taken), Miss::Widen);
        assert_eq!(Miss::of(&whole, &d, 3, &HashSet::new()), Miss::Widen);
        assert_eq!(
            Miss::of(&Wish::new(&[], |_| false), &[], 3, &taken),
            Miss::Widen
        );
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
        fn a_trip_at_its_widest_backs_off_with_its_wait_on_the_grid(
            start in 0i64..10_000_000_000,
            waited in 0i64..600_000,
        ) {
            let p = policy();
            let requested = DateTime::from_timestamp_millis(start).unwrap();
            let now = DateTime::from_timestamp_millis(start + waited).unwrap();
            let at = p.next_retry_at_widest(requested, now).timestamp_millis();
            let delay = at - (start + waited);
            let deadline = start + p.deadline.as_millis() as i64;
            if at < deadline {
                prop_assert_eq!(at % 500, 0);
            } else {
                // Never past the deadline (or now, once it has passed).
                prop_assert_eq!(at, deadline.max(start + waited));
                return Ok(());
            }
            // Never sooner than an ordinary retry, never later than the cap.
            prop_assert!(delay >= 250, "{}", delay);
            prop_assert!(delay < 5_000 + 500, "{}", delay);
            // Longer waits never retry sooner (up to the grid).
            let later = DateTime::from_timestamp_millis(start + waited + 1_000).unwrap();
            let at_later = p.next_retry_at_widest(requested, later).timestamp_millis();
            if at_later < deadline {
                prop_assert!(at_later - (start + waited + 1_000) + 500 >= delay, "{} then {}", delay, at_later);
            }
        }

        #[test]
        fn widening_never_shrinks_nor_passes_the_maximum(current in 0.0f64..100.0) {
            let p = policy();
            let next = p.widen(current);
            prop_assert!(next <= p.max_radius_km);
            prop_assert!(next >= current.min(p.max_radius_km));
        }

        #[test]
        fn a_driver_goes_to_one_trip_and_the_earliest_that_wants_it(
            lists in prop::collection::vec(prop::collection::vec(0usize..8, 0..5), 0..12)
        ) {
            let pool = ids(8);
            let wishes: Vec<Wish> = lists
                .iter()
                .map(|l| Wish { drivers: l.iter().map(|&i| pool[i]).collect(), yields: false })
                .collect();
            let claims = expected_claims(&wishes);
            prop_assert_eq!(claims.len(), wishes.len());
            // What the answer must be, stated without the algorithm: nobody
            // is given twice; each trip gets one of its own drivers; and a
            // trip passes over a driver (or gets nobody) only when a trip
            // before it in the queue got that driver.
            let given: Vec<Uuid> = claims.iter().flatten().copied().collect();
            let distinct: HashSet<Uuid> = given.iter().copied().collect();
            prop_assert_eq!(distinct.len(), given.len(), "a driver given twice");
            for (k, (wish, got)) in wishes.iter().zip(&claims).enumerate() {
                let passed_over = match got {
                    Some(driver) => {
                        let at = wish.drivers.iter().position(|d| d == driver);
                        prop_assert!(at.is_some(), "trip {} got a driver it never wanted", k);
                        &wish.drivers[..at.unwrap_or(0)]
                    }
                    None => &wish.drivers[..],
                };
                for driver in passed_over {
                    prop_assert!(
                        claims[..k].contains(&Some(*driver)),
                        "trip {} passed over a driver no earlier trip got", k
                    );
                }
            }
        }
    }

    #[test]
    fn an_entry_reads_back_as_written() {
        let freed = FreedDriver {
            driver_id: Uuid::new_v4(),
            at: LatLng::new(1.352_083, 103.819_836),
        };
        assert_eq!(FreedDriver::decode(&freed.encode()), Some(freed));
    }

    #[test]
    fn a_malformed_entry_is_skipped() {
        for entry in [
            "",
            "x,1,2",
            "00000000-0000-0000-0000-000000000000,1",
            "a,b,c,d",
        ] {
            assert_eq!(FreedDriver::decode(entry), None, "{entry:?}");
        }
    }
}

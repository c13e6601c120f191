//! The ring rule of a candidate search: which GEOSEARCH to send next, so a
//! search costs what is near the pickup, not what the city holds.
//!
//! Redis's GEOSEARCH walks every member in the radius's bounding box, whatever
//! COUNT says (a 3 km search costs 86 ms in a city of a million drivers). So
//! a search starts with a small ring and widens (doubling, up to the radius
//! asked) only while it has fewer live candidates than it wants. With the
//! rings doubling, all the rings together walk at most 4/3 of the last one,
//! and the last one is at most twice the distance to the `limit`-th live
//! driver: the cost follows the drivers near the pickup.
//!
//! Correctness, for every point set (property-tested below):
//! - the answer is the `limit` nearest live members within the radius,
//!   nearest first, exactly as one unbounded search then a filter would give;
//! - a COUNT never hides a live member behind ghosts: a ring whose answer
//!   was cut by its COUNT is asked again with a larger COUNT before anything
//!   is concluded, because the members past the cut may be the live ones.
//!
//! - a ring's members are checked (present, ONLINE, unclaimed) nearest
//!   first, a growing prefix at a time ([`Prefix`]), so a ring of a
//!   thousand drivers costs the checks of its first few.
//!
//! Pure: no I/O. `Index::candidates` runs the queries this plans.

/// The first ring, as Namma Yatri starts its search (250 m), at most.
pub const FIRST_RING_KM: f64 = 0.25;

/// The smallest first ring (50 m: about a GPS fix's error in a city).
pub const MIN_FIRST_RING_KM: f64 = 0.05;

/// The first ring for a search that asks for `count` members, in a city
/// whose index holds `drivers_per_km2` on average: the radius whose disc
/// holds `count` at that density, between [`MIN_FIRST_RING_KM`] and
/// [`FIRST_RING_KM`]. GEOSEARCH walks the geohash cells around its radius
/// (about nine times its square), so in a city of a million drivers a
/// 250 m ring walks some 300 members to return its 20; a ring sized for
/// the 20 walks a fifth of that. A sparse city keeps 250 m: the mean
/// density says nothing of its downtown, where a wider first ring would
/// walk the whole crowd. Any first ring gives the same answer (the rings
/// widen while too few are live); this only decides how many round trips
/// and how many members it costs.
pub fn first_ring_km(count: usize, drivers_per_km2: f64) -> f64 {
    if drivers_per_km2.is_nan() || drivers_per_km2 <= 0.0 {
        return FIRST_RING_KM;
    }
    let km = (count.max(1) as f64 / (std::f64::consts::PI * drivers_per_km2)).sqrt();
    km.clamp(MIN_FIRST_RING_KM, FIRST_RING_KM)
}

/// How a search goes on: the ring and COUNT of the next GEOSEARCH.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RingSearch {
    radius_km: f64,
    limit: usize,
    ring_km: f64,
    count: usize,
}

/// What one GEOSEARCH answered: how many members it returned (before any
/// filter) and, if they were checked, how many of them are live.
#[derive(Clone, Copy, Debug)]
pub struct RingAnswer {
    pub returned: usize,
    pub live: usize,
}

impl RingSearch {
    /// A search for the `limit` nearest live drivers within `radius_km`,
    /// over-fetching `overfetch` members per wanted driver at each ring.
    pub fn new(radius_km: f64, limit: usize, overfetch: usize) -> Self {
        let limit = limit.max(1);
        Self {
            radius_km,
            limit,
            ring_km: FIRST_RING_KM.min(radius_km),
            count: limit.saturating_mul(overfetch).max(limit),
        }
    }

    /// The same search, its first ring sized by the city's mean density
    /// ([`first_ring_km`]).
    pub fn in_density(
        radius_km: f64,
        limit: usize,
        overfetch: usize,
        drivers_per_km2: f64,
    ) -> Self {
        let mut search = Self::new(radius_km, limit, overfetch);
        search.ring_km = first_ring_km(search.count, drivers_per_km2).min(radius_km);
        search
    }

    /// The next GEOSEARCH: radius (km) and COUNT.
    pub fn query(&self) -> (f64, usize) {
        (self.ring_km, self.count)
    }

    fn truncated(&self, returned: usize) -> bool {
        returned >= self.count
    }

    fn at_radius(&self) -> bool {
        self.ring_km >= self.radius_km
    }

    /// Whether the members a ring returned need their liveness checked.
    /// Fewer members than wanted, in a ring that is neither the last nor cut
    /// by its COUNT, cannot end the search: widen without checking them.
    pub fn needs_check(&self, returned: usize) -> bool {
        returned >= self.limit || self.at_radius() || self.truncated(returned)
    }

    /// Takes a ring's answer; `false` when the search is done (the live
    /// members so far are the answer), `true` when `query` has the next one.
    pub fn advance(&mut self, answer: RingAnswer) -> bool {
        if answer.live >= self.limit {
            return false;
        }
        if self.truncated(answer.returned) {
            // Ghosts, claimed or excluded drivers filled the COUNT: the live
            // ones may be just past the cut, in this very ring.
            self.count = self.count.saturating_mul(4);
            return true;
        }
        if self.at_radius() {
            return false;
        }
        self.ring_km = (self.ring_km * 2.0).min(self.radius_km);
        true
    }
}

/// Which of a ring's members to check next: they come nearest first, so
/// checking a growing prefix (2 x `limit`, then 4 times more each time)
/// until `limit` are live gives the same answer as checking them all, while
/// a dense ring costs only its first few members' checks.
#[derive(Clone, Copy, Debug)]
pub struct Prefix {
    limit: usize,
    checked: usize,
    chunk: usize,
}

impl Prefix {
    pub fn new(limit: usize) -> Self {
        let limit = limit.max(1);
        Self {
            limit,
            checked: 0,
            chunk: limit.saturating_mul(2),
        }
    }

    /// How many members (from the nearest) have been checked.
    pub fn checked(&self) -> usize {
        self.checked
    }

    /// The next members to check, given how many of `len` members there
    /// are and how many of those checked so far are live; `None` once
    /// `limit` are live or every member is checked.
    pub fn next(&mut self, len: usize, live: usize) -> Option<std::ops::Range<usize>> {
        if live >= self.limit || self.checked >= len {
            return None;
        }
        let start = self.checked;
        self.checked = start.saturating_add(self.chunk).min(len);
        self.chunk = self.chunk.saturating_mul(4);
        Some(start..self.checked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A member at `km` from the pickup, live or not.
    #[derive(Clone, Copy, Debug)]
    struct Member {
        km: f64,
        live: bool,
    }

    /// GEOSEARCH over a sorted point set: the members within `ring`,
    /// nearest first, at most `count`.
    fn geosearch(members: &[Member], ring: f64, count: usize) -> Vec<Member> {
        members
            .iter()
            .filter(|m| m.km <= ring)
            .take(count)
            .copied()
            .collect()
    }

    /// Runs a search as `Index::candidates` does; returns the answer and
    /// the last ring asked.
    fn run(members: &[Member], radius: f64, limit: usize, overfetch: usize) -> (Vec<f64>, f64) {
        run_in(members, radius, limit, overfetch, None)
    }

    /// [`run`], the first ring sized by a city's density when one is given.
    fn run_in(
        members: &[Member],
        radius: f64,
        limit: usize,
        overfetch: usize,
        drivers_per_km2: Option<f64>,
    ) -> (Vec<f64>, f64) {
        let mut plan = match drivers_per_km2 {
            Some(density) => RingSearch::in_density(radius, limit, overfetch, density),
            None => RingSearch::new(radius, limit, overfetch),
        };
        loop {
            let (ring, count) = plan.query();
            let found = geosearch(members, ring, count);
            let mut prefix = Prefix::new(limit);
            let mut live = 0;
            if plan.needs_check(found.len()) {
                while let Some(more) = prefix.next(found.len(), live) {
                    live += found[more].iter().filter(|m| m.live).count();
                }
            }
            let answer = RingAnswer {
                returned: found.len(),
                live,
            };
            if !plan.advance(answer) {
                let checked = &found[..prefix.checked()];
                let live: Vec<f64> = checked.iter().filter(|m| m.live).map(|m| m.km).collect();
                return (live.into_iter().take(limit).collect(), ring);
            }
        }
    }

    fn brute_force(members: &[Member], radius: f64, limit: usize) -> Vec<f64> {
        members
            .iter()
            .filter(|m| m.live && m.km <= radius)
            .take(limit)
            .map(|m| m.km)
            .collect()
    }

    fn sorted(mut members: Vec<Member>) -> Vec<Member> {
        members.sort_by(|a, b| a.km.total_cmp(&b.km));
        members
    }

    #[test]
    fn ghosts_nearer_than_a_live_driver_never_hide_it() {
        // 40 ghosts within 100 m, the one live driver at 2 km.
        let mut members: Vec<Member> = (0..40)
            .map(|i| Member {
                km: 0.001 * f64::from(i),
                live: false,
            })
            .collect();
        members.push(Member {
            km: 2.0,
            live: true,
        });
        let (found, _) = run(&sorted(members), 3.0, 1, 3);
        assert_eq!(found, vec![2.0]);
    }

    #[test]
    fn a_dense_pickup_stops_at_the_first_ring() {
        let members: Vec<Member> = (0..1000)
            .map(|i| Member {
                km: 0.0002 * f64::from(i),
                live: true,
            })
            .collect();
        let (found, ring) = run(&members, 3.0, 10, 3);
        assert_eq!(found.len(), 10);
        assert_eq!(ring, FIRST_RING_KM);
    }

    #[test]
    fn a_small_radius_is_never_exceeded() {
        let plan = RingSearch::new(0.1, 5, 3);
        assert_eq!(plan.query().0, 0.1);
    }

    #[test]
    fn the_first_ring_holds_what_is_wanted_at_the_citys_density() {
        // A million drivers over 2,000 km2, 20 members wanted: about 113 m.
        let km = first_ring_km(20, 500.0);
        assert!((km - 0.1128).abs() < 0.001, "{km}");
        // Ten thousand over the same city: 250 m, never more.
        assert_eq!(first_ring_km(20, 5.0), FIRST_RING_KM);
        // Denser than any city: the floor.
        assert_eq!(first_ring_km(20, 1e9), MIN_FIRST_RING_KM);
        // An empty or unknown city: the usual first ring.
        for density in [0.0, -1.0, f64::NAN] {
            assert_eq!(first_ring_km(20, density), FIRST_RING_KM);
        }
        // And never past the radius asked.
        assert_eq!(RingSearch::in_density(0.03, 5, 4, 500.0).query().0, 0.03);
    }

    fn members() -> impl Strategy<Value = Vec<Member>> {
        prop::collection::vec(
            (0.0f64..12.0, prop::bool::weighted(0.4)).prop_map(|(km, live)| Member { km, live }),
            0..300,
        )
        .prop_map(sorted)
    }

    proptest! {
        /// Whatever the mix of live and dead members, and whatever first
        /// ring a city's density picks (or none), rings give exactly what
        /// one unbounded search and a filter would.
        #[test]
        fn rings_find_the_nearest_live_members(
            members in members(),
            radius in 0.05f64..10.0,
            limit in 1usize..20,
            overfetch in 1usize..5,
            density in prop::option::of(prop_oneof![Just(0.0), 0.0f64..100_000.0]),
        ) {
            let (found, _) = run_in(&members, radius, limit, overfetch, density);
            prop_assert_eq!(found, brute_force(&members, radius, limit));
        }

        /// A first ring always lies between the floor and 250 m.
        #[test]
        fn the_first_ring_stays_in_bounds(count in 0usize..10_000, density in any::<f64>()) {
            let km = first_ring_km(count, density);
            prop_assert!((MIN_FIRST_RING_KM..=FIRST_RING_KM).contains(&km), "{km}");
        }

        /// The last ring asked is at most twice the distance of the
        /// `limit`-th live member (or the first ring): a search walks what
        /// is near, not what exists.
        #[test]
        fn the_last_ring_follows_the_nearest_live_members(
            members in members(),
            radius in 0.05f64..10.0,
            limit in 1usize..20,
        ) {
            let (found, ring) = run(&members, radius, limit, 3);
            if found.len() == limit {
                let bound = (2.0 * found[limit - 1]).max(FIRST_RING_KM).min(radius);
                prop_assert!(ring <= bound + 1e-9, "ring {ring} > bound {bound}");
            } else {
                prop_assert!(ring >= radius);
            }
        }
    }
}

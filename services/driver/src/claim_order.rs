//! The order in which one claims call tries its drivers (pure, no I/O).
//!
//! A call carries trips in queue order, each with its drivers nearest
//! first, and promises that a trip is never beaten to a driver by a trip
//! behind it. Each attempt is one script on one driver's slot (a cluster
//! has no script across drivers), so the call goes in rounds: a round tries
//! the next driver of every trip whose driver no trip ahead of it may still
//! want, all side by side; a trip that loses tries its next driver in a
//! later round. The first trip still waiting always has an attempt in a
//! round, so a call takes at most as many rounds as attempts.

use std::collections::HashSet;

use uuid::Uuid;

pub struct ClaimRounds {
    /// Per trip: its drivers not yet tried, nearest first.
    left: Vec<Vec<Uuid>>,
    won: Vec<Option<Uuid>>,
}

impl ClaimRounds {
    pub fn new(wishes: Vec<Vec<Uuid>>) -> Self {
        let won = vec![None; wishes.len()];
        Self { left: wishes, won }
    }

    /// A trip that already holds one of its drivers (a retried call) keeps
    /// it and tries no other.
    pub fn already_held(&mut self, trip: usize, driver: Uuid) {
        self.won[trip] = Some(driver);
        self.left[trip].clear();
    }

    /// The attempts of the next round, as (trip, driver); empty when the
    /// call is done.
    pub fn next_round(&self) -> Vec<(usize, Uuid)> {
        let mut wanted_ahead: HashSet<Uuid> = HashSet::new();
        let mut round = Vec::new();
        for (trip, left) in self.left.iter().enumerate() {
            if self.won[trip].is_some() {
                continue;
            }
            if let Some(&first) = left.first() {
                if !wanted_ahead.contains(&first) {
                    round.push((trip, first));
                }
            }
            wanted_ahead.extend(left.iter().copied());
        }
        round
    }

    /// What an attempt got. A driver won is tried by no other trip.
    pub fn record(&mut self, trip: usize, driver: Uuid, won: bool) {
        self.left[trip].retain(|d| *d != driver);
        if won {
            self.won[trip] = Some(driver);
            self.left[trip].clear();
            for left in &mut self.left {
                left.retain(|d| *d != driver);
            }
        }
    }

    /// Per trip, the driver it holds.
    pub fn into_won(self) -> Vec<Option<Uuid>> {
        self.won
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    fn ids(n: usize) -> Vec<Uuid> {
        (0..n).map(|_| Uuid::new_v4()).collect()
    }

    /// Plays a call against drivers of which `free` could be claimed.
    fn play(wishes: Vec<Vec<Uuid>>, free: &HashSet<Uuid>) -> (Vec<Option<Uuid>>, usize) {
        let mut rounds = ClaimRounds::new(wishes);
        let mut taken: HashSet<Uuid> = HashSet::new();
        let mut count = 0;
        loop {
            let round = rounds.next_round();
            if round.is_empty() {
                return (rounds.into_won(), count);
            }
            count += 1;
            let drivers: Vec<Uuid> = round.iter().map(|(_, d)| *d).collect();
            let distinct: HashSet<Uuid> = drivers.iter().copied().collect();
            assert_eq!(distinct.len(), drivers.len(), "one driver twice in a round");
            for (trip, driver) in round {
                let won = free.contains(&driver) && taken.insert(driver);
                rounds.record(trip, driver, won);
            }
        }
    }

    /// What the one-script-per-call version did: trips in order, each the
    /// first of its drivers still free.
    fn in_order(wishes: &[Vec<Uuid>], free: &HashSet<Uuid>) -> Vec<Option<Uuid>> {
        let mut taken = HashSet::new();
        wishes
            .iter()
            .map(|wish| {
                let driver = wish
                    .iter()
                    .find(|d| free.contains(d) && !taken.contains(*d))
                    .copied();
                taken.extend(driver);
                driver
            })
            .collect()
    }

    #[test]
    fn trips_with_different_drivers_claim_in_one_round() {
        let drivers = ids(3);
        let wishes: Vec<Vec<Uuid>> = drivers.iter().map(|d| vec![*d]).collect();
        let free = drivers.iter().copied().collect();
        let (won, rounds) = play(wishes, &free);
        assert_eq!(won, drivers.into_iter().map(Some).collect::<Vec<_>>());
        assert_eq!(rounds, 1);
    }

    #[test]
    fn a_trip_behind_waits_for_a_driver_the_trip_ahead_may_want() {
        let [a, b] = ids(2)[..] else { unreachable!() };
        // The first trip's nearest is gone; its next is the second trip's first.
        let wishes = vec![vec![a, b], vec![b]];
        let free = HashSet::from([b]);
        let mut rounds = ClaimRounds::new(wishes.clone());
        assert_eq!(rounds.next_round(), vec![(0, a)]);
        rounds.record(0, a, false);
        assert_eq!(rounds.next_round(), vec![(0, b)]);
        let (won, _) = play(wishes, &free);
        assert_eq!(won, vec![Some(b), None]);
    }

    #[test]
    fn a_held_driver_is_kept_and_nothing_else_is_tried() {
        let [a, b] = ids(2)[..] else { unreachable!() };
        let mut rounds = ClaimRounds::new(vec![vec![a, b], vec![a]]);
        rounds.already_held(0, b);
        assert_eq!(rounds.next_round(), vec![(1, a)]);
    }

    proptest! {
        /// Whatever the drivers and who is free, the rounds hand out
        /// exactly what claiming trip by trip, in queue order, would.
        #[test]
        fn rounds_give_what_queue_order_gives(
            pool in 1usize..12,
            picks in prop::collection::vec(prop::collection::vec(0usize..12, 0..6), 0..10),
            free_mask in any::<u16>(),
        ) {
            let drivers = ids(pool);
            let wishes: Vec<Vec<Uuid>> = picks
                .iter()
                .map(|p| {
                    let mut seen = HashSet::new();
                    p.iter()
                        .map(|i| drivers[i % pool])
                        .filter(|d| seen.insert(*d))
                        .collect()
                })
                .collect();
            let free: HashSet<Uuid> = drivers
                .iter()
                .enumerate()
                .filter(|(i, _)| free_mask & (1 << i) != 0)
                .map(|(_, d)| *d)
                .collect();
            let attempts: usize = wishes.iter().map(Vec::len).sum();
            let (won, rounds) = play(wishes.clone(), &free);
            prop_assert_eq!(&won, &in_order(&wishes, &free));
            prop_assert!(rounds <= attempts.max(1));
            let held: HashMap<Uuid, usize> = won.iter().flatten().fold(HashMap::new(), |mut m, d| {
                *m.entry(*d).or_default() += 1;
                m
            });
            prop_assert!(held.values().all(|n| *n == 1));
        }
    }
}

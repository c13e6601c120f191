//! Fares and pickup PINs: pure rules, no I/O.
//!
//! A fare is `base + per_km * km + per_min * minutes`, at least `minimum`,
//! times the tier's multiplier (API.md, "Trips"). Everything is integer
//! arithmetic in hundredths of the currency's major unit: the distance is
//! taken in whole metres and the time in whole seconds, each product is
//! rounded half up once, and no amount ever passes through a float sum.

use hail_shared::{
    api::{fares::Money, geo::LatLng, trips::Tier},
    cities::{City, Tariff},
};

/// A trip's distance and duration, and what that costs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quote {
    pub distance_km: f64,
    pub duration_secs: u64,
    pub amount: Money,
}

/// What the tariff charges for `metres` and `secs` at `tier`.
pub fn price(tariff: &Tariff, tier: Tier, metres: u64, secs: u64) -> Money {
    let metres = i128::from(metres);
    let secs = i128::from(secs);
    let distance = div_round(i128::from(tariff.per_km) * metres, 1000);
    let time = div_round(i128::from(tariff.per_min) * secs, 60);
    let fare = (i128::from(tariff.base) + distance + time).max(i128::from(tariff.minimum));
    let multiplier = match tier {
        Tier::Standard => 100,
        Tier::Premium => i128::from(tariff.premium_multiplier),
    };
    let total = div_round(fare * multiplier, 100);
    Money(i64::try_from(total).unwrap_or(i64::MAX))
}

/// The estimate for a trip from `pickup` to `dropoff`: the straight line
/// times the city's `route_factor`, at its `avg_speed_kmh`.
pub fn estimate(city: &City, pickup: LatLng, dropoff: LatLng, tier: Tier) -> Quote {
    let road_km = city.road_km(pickup.distance_km(&dropoff));
    let duration_secs = city.travel_secs(road_km);
    Quote {
        distance_km: road_km,
        duration_secs,
        amount: price(&city.tariff, tier, metres(road_km), duration_secs),
    }
}

/// The final fare for `distance_km` driven in `duration_secs`.
pub fn final_fare(city: &City, tier: Tier, distance_km: f64, duration_secs: u64) -> Money {
    price(&city.tariff, tier, metres(distance_km), duration_secs)
}

/// Whole metres of a distance in km (negative or not finite: 0).
pub fn metres(km: f64) -> u64 {
    if km.is_finite() && km > 0.0 {
        (km * 1000.0).round() as u64
    } else {
        0
    }
}

/// `n / d` rounded half up, for non-negative `n` and positive `d`.
fn div_round(n: i128, d: i128) -> i128 {
    (n + d / 2) / d
}

/// Wrong PINs a trip allows before it is cancelled (`pin_attempts`).
pub const PIN_ATTEMPTS: i16 = 5;

/// A fresh four-digit pickup PIN, from the operating system's randomness
/// (a rider's PIN must not be guessable from another's).
pub fn new_pin() -> String {
    use rand::Rng;
    format!("{:04}", rand::rngs::OsRng.gen_range(0..10_000u32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hail_shared::cities::Cities;
    use proptest::prelude::*;

    fn sg() -> City {
        Cities::builtin().default_city().clone()
    }

    #[test]
    fn the_default_tariff_by_hand() {
        let t = Tariff::DEFAULT;
        // 3.00 + 0.70 * 10 km + 0.25 * 20 min = 15.00
        assert_eq!(price(&t, Tier::Standard, 10_000, 1_200), Money(1500));
        // premium 1.5x
        assert_eq!(price(&t, Tier::Premium, 10_000, 1_200), Money(2250));
        // a short hop pays the minimum, 6.00
        assert_eq!(price(&t, Tier::Standard, 500, 60), Money(600));
        // 1234 m: 0.70 * 1.234 = 0.8638 -> 0.86; 100 s: 0.25 * 100/60 = 0.4166 -> 0.42
        assert_eq!(
            price(&t, Tier::Standard, 1_234, 100),
            Money(600).max(Money(300 + 86 + 42))
        );
        assert_eq!(price(&t, Tier::Standard, 5_234, 100), Money(300 + 366 + 42));
    }

    #[test]
    fn an_estimate_uses_the_route_factor_and_speed() {
        let city = sg();
        let a = LatLng::new(1.30, 103.80);
        let b = a.north(10.0);
        let q = estimate(&city, a, b, Tier::Standard);
        assert!((q.distance_km - 13.0).abs() < 1e-6);
        assert_eq!(q.duration_secs, 1560); // 13 km at 30 km/h = 26 min
                                           // 3.00 + 0.70 * 13 + 0.25 * 26 = 18.60
        assert_eq!(q.amount, Money(1860));
    }

    #[test]
    fn pins_are_four_digits() {
        for _ in 0..200 {
            let pin = new_pin();
            assert_eq!(pin.len(), 4);
            assert!(pin.bytes().all(|b| b.is_ascii_digit()), "{pin}");
        }
    }

    proptest! {
        /// Never below the minimum (times the tier), and never less for
        /// a longer or slower trip.
        #[test]
        fn fares_are_at_least_the_minimum_and_monotone(
            m in 0u64..500_000, s in 0u64..20_000, dm in 0u64..10_000, ds in 0u64..3_000, premium: bool
        ) {
            let t = Tariff::DEFAULT;
            let tier = if premium { Tier::Premium } else { Tier::Standard };
            let base = price(&t, tier, m, s);
            let floor = if premium { 900 } else { 600 };
            prop_assert!(base.hundredths() >= floor);
            prop_assert!(price(&t, tier, m + dm, s + ds) >= base);
        }
    }
}

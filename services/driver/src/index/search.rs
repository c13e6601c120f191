//! Candidate search: rings around a point in its city's index, every
//! member checked against its own keys before it is a candidate.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use hail_shared::{
    api::{drivers::NearbyDriver, geo::LatLng},
    cities::City,
    redis_conn::RedisConn,
};
use uuid::Uuid;

use super::Index;
use crate::rings::{Prefix, RingAnswer, RingSearch};

/// How often a city's density is read again.
const DENSITY_READ_EVERY: Duration = Duration::from_secs(1);

impl Index {
    /// Matchable drivers within `radius_km` of `at`, in `at`'s city, nearest
    /// first, at most `limit` (none when `at` lies in no city).
    ///
    /// Walks rings (`rings::RingSearch`): each ring asks Redis for more
    /// members than wanted, then filters. A COUNT of exactly `limit` before
    /// filtering would let stale or claimed members crowd out live drivers
    /// further away; a ring cut by its COUNT is asked again with a larger one.
    pub async fn candidates(
        &self,
        redis: &mut RedisConn,
        at: LatLng,
        radius_km: f64,
        limit: usize,
        overfetch: usize,
        exclude: &[Uuid],
    ) -> redis::RedisResult<Vec<NearbyDriver>> {
        let Some(city) = self.cities.at(at) else {
            return Ok(Vec::new());
        };
        let key = self.keys.driver_locations(&city.id);
        let density = self.density(redis, city, &key).await?;
        let mut plan = RingSearch::in_density(radius_km, limit, overfetch, density);
        // Liveness of every member checked so far: an inner ring's members
        // are not asked about again when the ring widens.
        let mut live: HashMap<Uuid, bool> = HashMap::new();
        loop {
            let (ring_km, count) = plan.query();
            let found: Vec<(String, f64, (f64, f64))> = redis::cmd("GEOSEARCH")
                .arg(&key)
                .arg("FROMLONLAT")
                .arg(at.lng)
                .arg(at.lat)
                .arg("BYRADIUS")
                .arg(ring_km)
                .arg("km")
                .arg("ASC")
                .arg("COUNT")
                .arg(count)
                .arg("WITHDIST")
                .arg("WITHCOORD")
                .query_async(redis)
                .await?;
            let returned = found.len();
            let found: Vec<NearbyDriver> = found
                .into_iter()
                .filter_map(|(member, dist, (lng, lat))| {
                    let driver_id = Uuid::parse_str(&member).ok()?;
                    (!exclude.contains(&driver_id)).then_some(NearbyDriver {
                        driver_id,
                        lat,
                        lng,
                        distance_km: dist,
                    })
                })
                .collect();
            let mut answer = RingAnswer { returned, live: 0 };
            // Checked nearest first, a growing prefix at a time (`Prefix`).
            let mut prefix = Prefix::new(limit);
            if plan.needs_check(returned) {
                while let Some(more) = prefix.next(found.len(), answer.live) {
                    let unchecked: Vec<Uuid> = found[more.clone()]
                        .iter()
                        .map(|d| d.driver_id)
                        .filter(|id| !live.contains_key(id))
                        .collect();
                    live.extend(self.liveness(redis, &unchecked).await?);
                    answer.live += found[more]
                        .iter()
                        .filter(|d| live.get(&d.driver_id).copied().unwrap_or(false))
                        .count();
                }
            }
            if !plan.advance(answer) {
                return Ok(found[..prefix.checked()]
                    .iter()
                    .filter(|d| live.get(&d.driver_id).copied().unwrap_or(false))
                    .take(limit)
                    .cloned()
                    .collect());
            }
        }
    }

    /// The city's drivers per km² (its index's members over its box), read
    /// at most once per [`DENSITY_READ_EVERY`] per city: one O(1) ZCARD, so
    /// a first ring follows the fleet as it grows or thins within seconds.
    async fn density(
        &self,
        redis: &mut RedisConn,
        city: &City,
        key: &str,
    ) -> redis::RedisResult<f64> {
        let known = self.densities.lock().ok().and_then(|known| {
            known
                .get(&city.id)
                .filter(|(at, _)| at.elapsed() < DENSITY_READ_EVERY)
                .map(|(_, density)| *density)
        });
        if let Some(density) = known {
            return Ok(density);
        }
        let members: u64 = redis::cmd("ZCARD").arg(key).query_async(redis).await?;
        let density = members as f64 / city.bbox.area_km2();
        if let Ok(mut known) = self.densities.lock() {
            known.insert(city.id.clone(), (Instant::now(), density));
        }
        Ok(density)
    }

    /// Whether each driver is matchable: present, ONLINE and unclaimed.
    /// One `MGET` per driver (its three keys share its slot), all in one
    /// round trip on a single Redis and side by side on a cluster, where
    /// each driver has its own slot: a third of the commands three reads
    /// per driver were.
    async fn liveness(
        &self,
        redis: &mut RedisConn,
        drivers: &[Uuid],
    ) -> redis::RedisResult<Vec<(Uuid, bool)>> {
        if drivers.is_empty() {
            return Ok(Vec::new());
        }
        let k = &self.keys;
        let reads = drivers
            .iter()
            .map(|id| {
                let mut read = redis::cmd("MGET");
                read.arg(k.driver_presence(*id))
                    .arg(k.driver_status(*id))
                    .arg(k.driver_lock(*id));
                read
            })
            .collect();
        let answers = redis.each(reads).await?;
        Ok(drivers
            .iter()
            .zip(answers)
            .map(|(id, answer)| (*id, matchable(&answer)))
            .collect())
    }
}

/// A driver's `MGET presence status lock`, read as matchable: a presence
/// key, an ONLINE status and no claim lock. Anything unreadable counts as
/// not matchable.
fn matchable(answer: &redis::Value) -> bool {
    let Ok(values) = redis::from_redis_value_ref::<Vec<Option<String>>>(answer) else {
        return false;
    };
    let [present, status, lock] = values.as_slice() else {
        return false;
    };
    present.is_some()
        && status.as_deref().is_some_and(|s| s.starts_with("ONLINE:"))
        && lock.is_none()
}

#[cfg(test)]
mod tests {
    use redis::Value;

    use super::matchable;

    fn answer(values: [Option<&str>; 3]) -> Value {
        Value::Array(
            values
                .iter()
                .map(|v| match v {
                    Some(s) => Value::BulkString(s.as_bytes().to_vec()),
                    None => Value::Nil,
                })
                .collect(),
        )
    }

    #[test]
    fn only_a_present_online_unclaimed_driver_is_matchable() {
        let online = Some("ONLINE:sg");
        assert!(matchable(&answer([Some("1"), online, None])));
        assert!(!matchable(&answer([None, online, None])), "no presence");
        assert!(!matchable(&answer([Some("1"), Some("BUSY:sg"), None])));
        assert!(!matchable(&answer([Some("1"), None, None])), "no status");
        assert!(
            !matchable(&answer([Some("1"), online, Some("trip"),])),
            "claimed"
        );
        assert!(!matchable(&Value::Nil), "unreadable");
        assert!(!matchable(&Value::Array(vec![Value::Nil])), "short");
    }
}

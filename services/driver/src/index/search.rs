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

    /// Whether each driver is matchable: present, ONLINE and unclaimed (one
    /// round trip for all of them on a single Redis; side by side on a
    /// cluster, where each driver has its own slot).
    async fn liveness(
        &self,
        redis: &mut RedisConn,
        drivers: &[Uuid],
    ) -> redis::RedisResult<Vec<(Uuid, bool)>> {
        if drivers.is_empty() {
            return Ok(Vec::new());
        }
        let k = &self.keys;
        let mut reads = Vec::with_capacity(drivers.len() * 3);
        for id in drivers {
            reads.push(redis::Cmd::exists(k.driver_presence(*id)));
            reads.push(redis::Cmd::get(k.driver_status(*id)));
            reads.push(redis::Cmd::exists(k.driver_lock(*id)));
        }
        let flags = redis.each(reads).await?;
        Ok(drivers
            .iter()
            .zip(flags.chunks(3))
            .map(|(id, chunk)| {
                let [present, status, locked] = chunk else {
                    return (*id, false);
                };
                let present: bool = redis::from_redis_value_ref(present).unwrap_or(false);
                let status: Option<String> = redis::from_redis_value_ref(status).unwrap_or(None);
                let locked: bool = redis::from_redis_value_ref(locked).unwrap_or(true);
                let online = status.is_some_and(|s| s.starts_with("ONLINE:"));
                (*id, present && online && !locked)
            })
            .collect())
    }
}

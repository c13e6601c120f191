//! The Redis side of the driver service: the GEO index of matchable drivers,
//! presence keys, the status mirror, claims and open offers.
//!
//! Guarantees (DESIGN.md, "the matching core"):
//! - a ping is one round trip (`scripts/ping.lua`) and never touches Postgres;
//! - each city has its own GEO set, and a driver is in at most one: the
//!   city its last ping lies in (none when it lies in no city);
//! - only ONLINE, present, unclaimed drivers are in a GEO set, and
//!   candidate searches still filter, because a member can go stale between
//!   the sweeper's passes;
//! - a search walks rings around its point (`rings`), so it costs what is
//!   near the point, not what the city holds;
//! - exactly one trip holds a claim, and only that trip can release it.

use std::{collections::HashMap, sync::Arc};

use chrono::{DateTime, Utc};
use hail_shared::{
    api::{
        drivers::{ClaimWish, DriverLocation, DriverStatus, LocationUpdate, NearbyDriver},
        geo::LatLng,
        trips::Offer,
    },
    cities::Cities,
    events::LocationEvent,
    keys::Keys,
};
use redis::{aio::ConnectionManager, AsyncCommands, Script};
use uuid::Uuid;

use crate::rings::{Prefix, RingAnswer, RingSearch};

/// How long a driver stays present after its last ping.
pub const PRESENCE_TTL_SECS: u64 = 30;

/// The scripts, loaded once (redis-rs sends EVALSHA and falls back to EVAL).
#[derive(Clone)]
pub struct Index {
    keys: Keys,
    cities: Arc<Cities>,
    /// Every city's GEO set and last-seen set, in the cities' order
    /// (scripts that may move a driver between cities are handed them all).
    city_keys: Arc<[(String, String)]>,
    ping: Script,
    set_status: Script,
    claim_first: Script,
    show_offer: Script,
    refresh_presence: Script,
    release: Script,
    end_offer: Script,
}

/// What a ping found.
pub enum PingOutcome {
    Recorded,
    Offline,
    /// Redis has no status for this driver (it restarted, or the driver is
    /// new): load it from Postgres, mirror it, and ping again.
    StatusUnknown,
}

impl Index {
    pub fn new(keys: Keys, cities: Arc<Cities>) -> Self {
        let city_keys = cities
            .all()
            .iter()
            .map(|c| (keys.driver_locations(&c.id), keys.drivers_seen(&c.id)))
            .collect();
        Self {
            keys,
            cities,
            city_keys,
            ping: Script::new(include_str!("../scripts/ping.lua")),
            set_status: Script::new(include_str!("../scripts/set_status.lua")),
            claim_first: Script::new(include_str!("../scripts/claim_first.lua")),
            show_offer: Script::new(include_str!("../scripts/show_offer.lua")),
            refresh_presence: Script::new(include_str!("../scripts/refresh_presence.lua")),
            release: Script::new(include_str!("../scripts/release.lua")),
            end_offer: Script::new(include_str!("../scripts/end_offer.lua")),
        }
    }

    pub async fn ping(
        &self,
        redis: &mut ConnectionManager,
        driver_id: Uuid,
        update: &LocationUpdate,
    ) -> redis::RedisResult<PingOutcome> {
        let now = Utc::now();
        let event = LocationEvent {
            driver_id,
            lat: update.lat,
            lng: update.lng,
            heading: update.heading,
            speed_kmh: update.speed_kmh,
            ts: now,
        };
        let event = serde_json::to_string(&event).unwrap_or_default();
        let k = &self.keys;
        let city = self.cities.at(LatLng::new(update.lat, update.lng));
        let mut invocation = self.ping.prepare_invoke();
        invocation
            .key(k.driver_status(driver_id))
            .key(k.driver_presence(driver_id))
            .key(k.driver_position(driver_id))
            .key(k.driver_lock(driver_id))
            .key(k.driver_ride(driver_id))
            .arg(driver_id.to_string())
            .arg(update.lng)
            .arg(update.lat)
            .arg(PRESENCE_TTL_SECS)
            .arg(k.channel_driver_location())
            .arg(event)
            .arg(update.heading.map(|h| h.to_string()).unwrap_or_default())
            .arg(now.to_rfc3339())
            .arg(now.timestamp_millis())
            .arg(city.map_or("", |c| c.id.as_str()));
        self.every_city(&mut invocation);
        let status: String = invocation.invoke_async(redis).await?;
        Ok(match status.as_str() {
            "OFFLINE" => PingOutcome::Offline,
            "UNKNOWN" => PingOutcome::StatusUnknown,
            _ => PingOutcome::Recorded,
        })
    }

    /// Mirrors a status (with its Postgres version) and fixes the GEO set.
    pub async fn set_status(
        &self,
        redis: &mut ConnectionManager,
        driver_id: Uuid,
        status: DriverStatus,
        version: i64,
    ) -> redis::RedisResult<()> {
        let k = &self.keys;
        let mut invocation = self.set_status.prepare_invoke();
        invocation
            .key(k.driver_status(driver_id))
            .key(k.driver_presence(driver_id))
            .key(k.driver_position(driver_id))
            .key(k.driver_lock(driver_id))
            .key(k.driver_ride(driver_id))
            .arg(driver_id.to_string())
            .arg(status.as_str())
            .arg(version);
        self.every_city(&mut invocation);
        invocation.invoke_async::<i64>(redis).await.map(|_| ())
    }

    /// Hands a script every city's id (as ARGV) and its GEO and last-seen
    /// sets (as KEYS), in the same order, for a script that may move a
    /// driver between cities.
    fn every_city(&self, invocation: &mut redis::ScriptInvocation<'_>) {
        for (city, (index, seen)) in self.cities.all().iter().zip(self.city_keys.iter()) {
            invocation.arg(city.id.as_str()).key(index).key(seen);
        }
    }

    /// Claims for a batch of trips in order: each takes the first of its
    /// drivers that is present, ONLINE, in the trip's city and not held
    /// (`scripts/claim_first.lua`).
    /// One entry per wish: the driver it holds, if any.
    pub async fn claim_first(
        &self,
        redis: &mut ConnectionManager,
        wishes: &[ClaimWish],
        ttl_secs: u64,
    ) -> redis::RedisResult<Vec<Option<Uuid>>> {
        let k = &self.keys;
        let mut invocation = self.claim_first.prepare_invoke();
        invocation.arg(ttl_secs.max(1)).arg(wishes.len());
        for wish in wishes {
            invocation
                .key(k.driver_locations(&wish.city))
                .arg(wish.trip_id.to_string())
                .arg(wish.city.as_str())
                .arg(wish.drivers.len());
            for driver_id in &wish.drivers {
                invocation
                    .key(k.driver_lock(*driver_id))
                    .key(k.driver_presence(*driver_id))
                    .key(k.driver_status(*driver_id))
                    .key(k.driver_position(*driver_id))
                    .arg(driver_id.to_string());
            }
        }
        let won: Vec<String> = invocation.invoke_async(redis).await?;
        Ok(won.iter().map(|id| Uuid::parse_str(id).ok()).collect())
    }

    /// Shows `trip_id`'s offer to the driver while the trip holds its claim.
    pub async fn show_offer(
        &self,
        redis: &mut ConnectionManager,
        driver_id: Uuid,
        trip_id: Uuid,
        offer: &Offer,
        ttl_secs: u64,
    ) -> redis::RedisResult<bool> {
        let offer = serde_json::to_string(offer).unwrap_or_default();
        let shown: i64 = self
            .show_offer
            .key(self.keys.driver_lock(driver_id))
            .key(self.keys.driver_offer(driver_id))
            .arg(trip_id.to_string())
            .arg(offer)
            .arg(ttl_secs.max(1))
            .invoke_async(redis)
            .await?;
        Ok(shown == 1)
    }

    /// Drops `trip_id`'s claim (and its offer); someone else's stays.
    pub async fn release(
        &self,
        redis: &mut ConnectionManager,
        driver_id: Uuid,
        trip_id: Uuid,
    ) -> redis::RedisResult<()> {
        let k = &self.keys;
        self.release
            .key(k.driver_lock(driver_id))
            .key(k.driver_offer(driver_id))
            .key(k.driver_ride(driver_id))
            .arg(trip_id.to_string())
            .invoke_async::<i64>(redis)
            .await
            .map(|_| ())
    }

    /// The driver is on `trip_id` now: its offer leaves its view, and its
    /// pings go to the trip's rider (`scripts/end_offer.lua`). `false` when
    /// the driver is not BUSY or another trip holds it.
    pub async fn start_ride(
        &self,
        redis: &mut ConnectionManager,
        driver_id: Uuid,
        trip_id: Uuid,
    ) -> redis::RedisResult<bool> {
        let k = &self.keys;
        let started: i64 = self
            .end_offer
            .key(k.driver_offer(driver_id))
            .key(k.driver_lock(driver_id))
            .key(k.driver_status(driver_id))
            .key(k.driver_ride(driver_id))
            .arg(trip_id.to_string())
            .invoke_async(redis)
            .await?;
        Ok(started == 1)
    }

    /// Matchable drivers within `radius_km` of `at`, in `at`'s city, nearest
    /// first, at most `limit` (none when `at` lies in no city).
    ///
    /// Walks rings (`rings::RingSearch`): each ring asks Redis for more
    /// members than wanted, then filters. A COUNT of exactly `limit` before
    /// filtering would let stale or claimed members crowd out live drivers
    /// further away; a ring cut by its COUNT is asked again with a larger one.
    pub async fn candidates(
        &self,
        redis: &mut ConnectionManager,
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
        let mut plan = RingSearch::new(radius_km, limit, overfetch);
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

    /// Whether each driver is matchable: present, ONLINE and unclaimed (one
    /// round trip for all of them).
    async fn liveness(
        &self,
        redis: &mut ConnectionManager,
        drivers: &[Uuid],
    ) -> redis::RedisResult<Vec<(Uuid, bool)>> {
        if drivers.is_empty() {
            return Ok(Vec::new());
        }
        let k = &self.keys;
        let mut pipe = redis::pipe();
        for id in drivers {
            pipe.exists(k.driver_presence(*id))
                .get(k.driver_status(*id))
                .exists(k.driver_lock(*id));
        }
        let flags: Vec<redis::Value> = pipe.query_async(redis).await?;
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

    /// Extends a live presence (an open socket between pings) and marks the
    /// driver seen; an expired one stays expired until the next ping
    /// (`scripts/refresh_presence.lua`).
    pub async fn refresh_presence(
        &self,
        redis: &mut ConnectionManager,
        driver_id: Uuid,
    ) -> redis::RedisResult<bool> {
        let mut invocation = self.refresh_presence.prepare_invoke();
        invocation
            .key(self.keys.driver_presence(driver_id))
            .key(self.keys.driver_position(driver_id))
            .arg(driver_id.to_string())
            .arg(PRESENCE_TTL_SECS)
            .arg(Utc::now().timestamp_millis());
        for (city, (_, seen)) in self.cities.all().iter().zip(self.city_keys.iter()) {
            invocation.arg(city.id.as_str()).key(seen);
        }
        let live: i64 = invocation.invoke_async(redis).await?;
        Ok(live == 1)
    }

    /// The last reported position, if any.
    pub async fn position(
        &self,
        redis: &mut ConnectionManager,
        driver_id: Uuid,
    ) -> redis::RedisResult<Option<DriverLocation>> {
        let (lat, lng, at): (Option<f64>, Option<f64>, Option<String>) = redis
            .hmget(self.keys.driver_position(driver_id), &["lat", "lng", "at"])
            .await?;
        let updated_at = at
            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map(|t| t.with_timezone(&Utc));
        Ok(match (lat, lng, updated_at) {
            (Some(lat), Some(lng), Some(updated_at)) => Some(DriverLocation {
                lat,
                lng,
                updated_at,
            }),
            _ => None,
        })
    }

    /// The open offer shown to the driver, if one holds.
    pub async fn current_offer(
        &self,
        redis: &mut ConnectionManager,
        driver_id: Uuid,
    ) -> redis::RedisResult<Option<Offer>> {
        let raw: Option<String> = redis.get(self.keys.driver_offer(driver_id)).await?;
        Ok(raw.and_then(|s| serde_json::from_str(&s).ok()))
    }

    /// One sweep of every city: removes the drivers whose presence expired
    /// from its GEO and last-seen sets. Returns how many. It reads only the
    /// drivers silent for longer than a presence lasts (the last-seen set's
    /// oldest), so a pass costs what went quiet, not the fleet.
    pub async fn sweep(&self, redis: &mut ConnectionManager) -> redis::RedisResult<usize> {
        let mut removed = 0;
        for (index, seen) in self.city_keys.iter() {
            removed += self.sweep_one(redis, index, seen).await?;
        }
        Ok(removed)
    }

    async fn sweep_one(
        &self,
        redis: &mut ConnectionManager,
        index: &str,
        seen: &str,
    ) -> redis::RedisResult<usize> {
        const BATCH: usize = 500;
        let mut removed = 0;
        loop {
            let now = Utc::now().timestamp_millis();
            let silent_since = now - PRESENCE_TTL_SECS as i64 * 1000;
            let silent: Vec<String> = redis::cmd("ZRANGEBYSCORE")
                .arg(seen)
                .arg("-inf")
                .arg(silent_since)
                .arg("LIMIT")
                .arg(0)
                .arg(BATCH)
                .query_async(redis)
                .await?;
            if silent.is_empty() {
                return Ok(removed);
            }
            let mut pipe = redis::pipe();
            for member in &silent {
                pipe.exists(self.presence_key_for(member));
            }
            let present: Vec<bool> = pipe.query_async(redis).await?;
            let mut fix = redis::pipe();
            for (member, present) in silent.iter().zip(&present) {
                if *present {
                    // Kept present some other way: looked at again later.
                    fix.zadd(seen, member, now).ignore();
                } else {
                    fix.zrem(index, member).ignore().zrem(seen, member).ignore();
                    removed += 1;
                }
            }
            fix.query_async::<()>(redis).await?;
            if silent.len() < BATCH {
                return Ok(removed);
            }
        }
    }

    fn presence_key_for(&self, member: &str) -> String {
        match Uuid::parse_str(member) {
            Ok(id) => self.keys.driver_presence(id),
            // Not one of ours: a presence key that cannot exist, so it is swept.
            Err(_) => format!("{}driver:presence:invalid", self.keys.prefix()),
        }
    }
}

//! The Redis side of the driver service: the GEO index of matchable drivers,
//! presence keys, the status mirror, claims and open offers.
//!
//! Guarantees (DESIGN.md, "the matching core"):
//! - a ping, and a claim, is one script on a single Redis (the driver's,
//!   writing its city's index too) and two on a cluster (the driver's, then
//!   its city's: `sync`); a ping never touches Postgres;
//! - each city has its own GEO set, and a driver is in at most one: the
//!   city its last ping lies in (none when it lies in no city);
//! - only ONLINE, present, unclaimed drivers are in a GEO set, and
//!   candidate searches still filter, because a member can go stale between
//!   a driver's step and its city's (`sync`), or the sweeper's passes;
//! - a search walks rings around its point (`rings`), so it costs what is
//!   near the point, not what the city holds (`search`);
//! - exactly one trip holds a claim, and only that trip can release it.
//!
//! Every script touches one hash slot (`keys.rs` has the map), so all of
//! this runs the same on a single Redis and on a Redis Cluster.

mod ping;
mod search;
mod sync;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Instant,
};

use chrono::{DateTime, Utc};
use futures::future::join_all;
use hail_shared::{
    api::{
        drivers::{ClaimWish, DriverLocation, DriverStatus},
        geo::LatLng,
        trips::Offer,
    },
    cities::Cities,
    keys::Keys,
    redis_conn::RedisConn,
};
use redis::{AsyncCommands, Script};
use uuid::Uuid;

pub use ping::{PingOutcome, PingStep, Pinged, RidePoint};
pub use sync::Stamp;

use crate::claim_order::ClaimRounds;

/// How long a driver stays present after its last ping.
pub const PRESENCE_TTL_SECS: u64 = 30;

/// The driver service's Redis keys and scripts. Cloned with the service's
/// state, so once per request: everything in it is shared, not copied.
#[derive(Clone)]
pub struct Index {
    keys: Keys,
    cities: Arc<Cities>,
    scripts: Arc<Scripts>,
    /// Each city's drivers per km², as last read, for sizing first rings.
    densities: Arc<Mutex<HashMap<String, (Instant, f64)>>>,
    /// Index writes waiting for their city's next script (`sync`).
    writes: Arc<sync::CityWrites>,
}

/// The scripts, hashed once (redis-rs sends EVALSHA and falls back to EVAL).
/// A `Script` clone copies its source, several kilobytes for these: held
/// behind one `Arc`, since the state is cloned for every request (session
/// 21's profile of the rush bench: the driver service's state clones and
/// their allocations took a tenth of its CPU).
struct Scripts {
    ping: Script,
    set_status: Script,
    claim: Script,
    show_offer: Script,
    refresh_presence: Script,
    release: Script,
    end_offer: Script,
    index_sync: Script,
    sweep: Script,
}

/// How long a ride's pickup is kept at most (a trip whose driver never
/// arrives nor starts, and is never released, does not leave it forever).
const PICKUP_TTL_SECS: u64 = 4 * 3600;

/// The ride's pickup from the pickup key's `"<trip> <lat> <lng>"`, if it is
/// this trip's.
fn read_pickup(raw: &str, trip_id: Uuid) -> Option<LatLng> {
    let mut parts = raw.split(' ');
    let trip = Uuid::parse_str(parts.next()?).ok()?;
    let lat: f64 = parts.next()?.parse().ok()?;
    let lng: f64 = parts.next()?.parse().ok()?;
    (trip == trip_id && lat.is_finite() && lng.is_finite()).then(|| LatLng::new(lat, lng))
}

/// A driver script that stamps, or one that applies a stamp to a city's
/// index (`scripts/stamp.lua`, which defines both, goes first).
fn stamping(script: &str) -> Script {
    Script::new(&format!(
        "{}\n{script}",
        include_str!("../../scripts/stamp.lua")
    ))
}

impl Index {
    pub fn new(keys: Keys, cities: Arc<Cities>) -> Self {
        Self {
            keys,
            cities,
            scripts: Arc::new(Scripts {
                ping: stamping(include_str!("../../scripts/ping.lua")),
                set_status: stamping(include_str!("../../scripts/set_status.lua")),
                claim: stamping(include_str!("../../scripts/claim.lua")),
                show_offer: Script::new(include_str!("../../scripts/show_offer.lua")),
                refresh_presence: stamping(include_str!("../../scripts/refresh_presence.lua")),
                release: stamping(include_str!("../../scripts/release.lua")),
                end_offer: Script::new(include_str!("../../scripts/end_offer.lua")),
                index_sync: stamping(include_str!("../../scripts/index_sync.lua")),
                sweep: Script::new(include_str!("../../scripts/sweep.lua")),
            }),
            densities: Arc::default(),
            writes: Arc::default(),
        }
    }

    /// Mirrors a status (with its Postgres version) and fixes the index.
    pub async fn set_status(
        &self,
        redis: &mut RedisConn,
        driver_id: Uuid,
        status: DriverStatus,
        version: i64,
    ) -> redis::RedisResult<()> {
        let k = &self.keys;
        let answer: Vec<String> = self
            .on_driver(&self.scripts.set_status, driver_id)
            .key(k.driver_ride(driver_id))
            .arg(status.as_str())
            .arg(version)
            .invoke_async(redis)
            .await?;
        self.sync_answer(redis, driver_id, &answer).await
    }

    /// A stamping script's invocation with the driver's four keys first, in
    /// the order `stamp.lua` takes them: status, presence, position, lock.
    fn on_driver<'a>(&self, script: &'a Script, driver_id: Uuid) -> redis::ScriptInvocation<'a> {
        let k = &self.keys;
        let mut invocation = script.prepare_invoke();
        invocation
            .key(k.driver_status(driver_id))
            .key(k.driver_presence(driver_id))
            .key(k.driver_position(driver_id))
            .key(k.driver_lock(driver_id));
        invocation
    }

    /// Applies the stamp of a driver script that answered `{'1', stamp...}`
    /// (nothing for `{'0'}`).
    async fn sync_answer(
        &self,
        redis: &mut RedisConn,
        driver_id: Uuid,
        answer: &[String],
    ) -> redis::RedisResult<()> {
        match answer {
            [done, stamp @ ..] if done == "1" => match Stamp::read(stamp) {
                Some(stamp) => self.sync(redis, driver_id, &stamp).await,
                None => Err(unexpected("a driver script", done)),
            },
            _ => Ok(()),
        }
    }

    /// Claims for a batch of trips in queue order: each takes the first of
    /// its drivers that is present, ONLINE, in the trip's city and not held,
    /// and no trip is beaten to a driver by one behind it
    /// (`claim_order::ClaimRounds`, one `scripts/claim.lua` per attempt).
    /// One entry per wish: the driver it holds, if any.
    pub async fn claim_first(
        &self,
        redis: &mut RedisConn,
        wishes: &[ClaimWish],
        ttl_secs: u64,
    ) -> redis::RedisResult<Vec<Option<Uuid>>> {
        let mut rounds = ClaimRounds::new(wishes.iter().map(|w| w.drivers.clone()).collect());
        // A retried call: a trip keeps a driver it already holds.
        let locks: Vec<redis::Cmd> = wishes
            .iter()
            .flat_map(|w| w.drivers.iter())
            .map(|d| redis::Cmd::get(self.keys.driver_lock(*d)))
            .collect();
        let mut holders = redis.each(locks).await?.into_iter();
        for (trip, wish) in wishes.iter().enumerate() {
            let trip_id = wish.trip_id.to_string();
            for driver in &wish.drivers {
                let holder: Option<String> = holders
                    .next()
                    .and_then(|v| redis::from_redis_value(v).ok())
                    .flatten();
                if holder.as_deref() == Some(trip_id.as_str()) {
                    rounds.already_held(trip, *driver);
                }
            }
        }
        loop {
            let round = rounds.next_round();
            if round.is_empty() {
                return Ok(rounds.into_won());
            }
            let outcomes = join_all(round.iter().map(|&(trip, driver)| {
                let mut redis = redis.clone();
                async move {
                    self.claim(&mut redis, driver, &wishes[trip], ttl_secs)
                        .await
                }
            }))
            .await;
            for (&(trip, driver), won) in round.iter().zip(outcomes) {
                rounds.record(trip, driver, won?);
            }
        }
    }

    /// One attempt: claims `driver_id` for the wish's trip, and takes it
    /// out of its city's index.
    async fn claim(
        &self,
        redis: &mut RedisConn,
        driver_id: Uuid,
        wish: &ClaimWish,
        ttl_secs: u64,
    ) -> redis::RedisResult<bool> {
        let mut invocation = self.on_driver(&self.scripts.claim, driver_id);
        invocation
            .arg(wish.trip_id.to_string())
            .arg(wish.city.as_str())
            .arg(ttl_secs.max(1));
        // On a single Redis the city's index is in reach of the same script,
        // as for a ping: one round trip per claim instead of two.
        if !redis.is_cluster() {
            invocation
                .key(self.keys.driver_locations(&wish.city))
                .key(self.keys.drivers_seen(&wish.city))
                .arg(driver_id.to_string());
        }
        let answer: Vec<String> = invocation.invoke_async(redis).await?;
        let won = answer.first().is_some_and(|won| won == "1");
        let (answer, indexed) = match answer.split_last() {
            Some((indexed, stamp)) if won => (stamp, indexed == "1"),
            _ => (answer.as_slice(), false),
        };
        // The claim stands once its script ran: the index step only takes
        // the driver out of searches that would pass it over anyway (its
        // lock is checked), so a failure there is not the claim's.
        if !indexed {
            if let Err(err) = self.sync_answer(redis, driver_id, answer).await {
                tracing::warn!(%driver_id, error = %err, "claimed driver left in its city's index until its next ping");
            }
        }
        Ok(won)
    }

    /// Shows `trip_id`'s offer to the driver while the trip holds its claim.
    pub async fn show_offer(
        &self,
        redis: &mut RedisConn,
        driver_id: Uuid,
        trip_id: Uuid,
        offer: &Offer,
        ttl_secs: u64,
    ) -> redis::RedisResult<bool> {
        let offer = serde_json::to_string(offer).unwrap_or_default();
        let shown: i64 = self
            .scripts
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

    /// Drops `trip_id`'s claim (and its offer); someone else's stays. A
    /// driver still ONLINE is back in its city's index at once.
    pub async fn release(
        &self,
        redis: &mut RedisConn,
        driver_id: Uuid,
        trip_id: Uuid,
        leave: Leave,
    ) -> redis::RedisResult<()> {
        let k = &self.keys;
        let answer: Vec<String> = self
            .scripts
            .release
            .key(k.driver_lock(driver_id))
            .key(k.driver_offer(driver_id))
            .key(k.driver_ride(driver_id))
            .key(k.driver_status(driver_id))
            .key(k.driver_presence(driver_id))
            .key(k.driver_position(driver_id))
            .arg(trip_id.to_string())
            .arg(if leave == Leave::Unreachable {
                "1"
            } else {
                "0"
            })
            .invoke_async(redis)
            .await?;
        self.sync_answer(redis, driver_id, &answer).await
    }

    /// The driver is on `trip_id` now: its offer leaves its view, and its
    /// pings go to the trip's rider (`scripts/end_offer.lua`). `false` when
    /// the driver is not BUSY or another trip holds it.
    pub async fn start_ride(
        &self,
        redis: &mut RedisConn,
        driver_id: Uuid,
        trip_id: Uuid,
        pickup: Option<LatLng>,
    ) -> redis::RedisResult<bool> {
        let k = &self.keys;
        let pickup = pickup
            .map(|p| format!("{trip_id} {} {}", p.lat, p.lng))
            .unwrap_or_default();
        let started: i64 = self
            .scripts
            .end_offer
            .key(k.driver_offer(driver_id))
            .key(k.driver_lock(driver_id))
            .key(k.driver_status(driver_id))
            .key(k.driver_ride(driver_id))
            .key(k.driver_pickup(driver_id))
            .arg(trip_id.to_string())
            .arg(pickup)
            .arg(PICKUP_TTL_SECS)
            .invoke_async(redis)
            .await?;
        Ok(started == 1)
    }

    /// The driver arrived at `trip_id`'s pickup, or started it: its pings
    /// stop carrying a pickup ETA. Another trip's pickup is left alone.
    pub async fn end_pickup(
        &self,
        redis: &mut RedisConn,
        driver_id: Uuid,
        trip_id: Uuid,
    ) -> redis::RedisResult<()> {
        let key = self.keys.driver_pickup(driver_id);
        let current: Option<String> = redis.get(&key).await?;
        if current.is_some_and(|raw| read_pickup(&raw, trip_id).is_some()) {
            // A new ride's pickup can only replace this one after this trip
            // released the driver, which is not before this call: the trip
            // service makes it for a trip the driver is still on.
            let _: () = redis.del(&key).await?;
        }
        Ok(())
    }

    /// Extends a live presence (an open socket between pings); its city's
    /// index hears of the driver as after a ping. An expired presence stays
    /// expired until the next ping (`scripts/refresh_presence.lua`).
    pub async fn refresh_presence(
        &self,
        redis: &mut RedisConn,
        driver_id: Uuid,
    ) -> redis::RedisResult<bool> {
        let answer: Vec<String> = self
            .on_driver(&self.scripts.refresh_presence, driver_id)
            .arg(PRESENCE_TTL_SECS)
            .invoke_async(redis)
            .await?;
        self.sync_answer(redis, driver_id, &answer).await?;
        Ok(answer.first().is_some_and(|live| live == "1"))
    }

    /// The last reported position, if any.
    pub async fn position(
        &self,
        redis: &mut RedisConn,
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
        redis: &mut RedisConn,
        driver_id: Uuid,
    ) -> redis::RedisResult<Option<Offer>> {
        let raw: Option<String> = redis.get(self.keys.driver_offer(driver_id)).await?;
        Ok(raw.and_then(|s| serde_json::from_str(&s).ok()))
    }
}

/// How a released driver leaves its trip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leave {
    /// Back in the index at once, at its last position.
    Matchable,
    /// Its phone did not confirm an offer: out of the index (its presence
    /// ends) until its next ping.
    Unreachable,
}

/// A script answered something it never answers: a bug, or a script of
/// another version on this Redis.
fn unexpected(script: &str, answer: &str) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::Client,
        "unexpected script answer",
        format!("{script} answered {answer:?}"),
    ))
}

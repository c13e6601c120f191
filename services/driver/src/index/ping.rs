//! A location ping, in two steps: the driver's own slot first (`ping.lua`:
//! presence, position and the driver's stamp), then what follows from it:
//! its city's index (on a cluster, another slot: [`Index::sync`]), the old
//! city's when the ping left it, and the rider's channel for a driver on a
//! ride.
//!
//! One ping takes both steps in turn ([`Index::ping`]). A gateway's batch
//! takes the first step for every ping side by side, then writes each
//! city's index once for the whole batch ([`Index::sync_pings`]): on a
//! cluster every ping's second script lands on the one node holding its
//! city's index, so one script a batch there instead of one a ping. The
//! rule per driver is the same either way (a stamp older than the last the
//! city heard is skipped), and a batch whose city write failed falls back
//! to writing each of its pings' stamps alone.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures::future::join_all;
use hail_shared::{
    api::{drivers::LocationUpdate, geo::LatLng},
    events::TripLocation,
    redis_conn::RedisConn,
};
use uuid::Uuid;

use super::{read_pickup, unexpected, Index, Stamp, PRESENCE_TTL_SECS};

/// What a ping found.
pub enum PingOutcome {
    /// Recorded; `ride` is the point to keep when the driver is on a trip.
    Recorded {
        ride: Option<RidePoint>,
    },
    Offline,
    /// Redis has no status for this driver (it restarted, or the driver is
    /// new): load it from Postgres, mirror it, and ping again.
    StatusUnknown,
}

/// A ping of a driver on a trip: kept in Postgres so the trip can be priced
/// by the distance driven (`crate::rides`).
#[derive(Clone, Copy, Debug)]
pub struct RidePoint {
    pub trip_id: Uuid,
    pub at: DateTime<Utc>,
    pub point: LatLng,
}

/// A ping recorded on the driver's own slot, what follows still to do
/// ([`Index::finish_ping`]).
pub struct Pinged {
    driver_id: Uuid,
    update: LocationUpdate,
    at: DateTime<Utc>,
    stamp: Stamp,
    /// The city's index already says what the stamp says: written by the
    /// same script (single Redis) or by the batch's [`Index::sync_pings`].
    indexed: bool,
    /// The city the driver's previous ping lay in, when this one left it.
    left: Option<String>,
    /// The trip whose rider watches ('' for none), and its pickup.
    ride: String,
    pickup: String,
}

/// The first step's answer. Moved once, straight to the second step: not
/// boxed, as that would cost an allocation on every ping.
#[allow(clippy::large_enum_variant)]
pub enum PingStep {
    Pinged(Pinged),
    /// Not recorded: the driver is OFFLINE.
    Offline,
    /// Redis has no status for this driver: load it, and ping again.
    StatusUnknown,
}

impl Index {
    /// Records one ping, both steps.
    pub async fn ping(
        &self,
        redis: &mut RedisConn,
        driver_id: Uuid,
        update: &LocationUpdate,
    ) -> redis::RedisResult<PingOutcome> {
        match self.record_ping(redis, driver_id, update).await? {
            PingStep::Pinged(pinged) => Ok(PingOutcome::Recorded {
                ride: self.finish_ping(redis, pinged).await?,
            }),
            PingStep::Offline => Ok(PingOutcome::Offline),
            PingStep::StatusUnknown => Ok(PingOutcome::StatusUnknown),
        }
    }

    /// The first step: `ping.lua` on the driver's slot.
    pub async fn record_ping(
        &self,
        redis: &mut RedisConn,
        driver_id: Uuid,
        update: &LocationUpdate,
    ) -> redis::RedisResult<PingStep> {
        let at = Utc::now();
        let k = &self.keys;
        let city = self.cities.at(LatLng::new(update.lat, update.lng));
        let mut invocation = self.on_driver(&self.scripts.ping, driver_id);
        invocation
            .key(k.driver_ride(driver_id))
            .key(k.driver_pickup(driver_id))
            .arg(update.lng)
            .arg(update.lat)
            .arg(PRESENCE_TTL_SECS)
            .arg(update.heading.map(|h| h.to_string()).unwrap_or_default())
            .arg(at.to_rfc3339())
            .arg(city.map_or("", |c| c.id.as_str()));
        // On a single Redis the city's index is in reach of the same script:
        // one script per ping instead of two (on a cluster it is another
        // slot, and `sync` writes it).
        if let (Some(city), false) = (city, redis.is_cluster()) {
            let mut member = Uuid::encode_buffer();
            invocation
                .key(k.driver_locations(&city.id))
                .key(k.drivers_seen(&city.id))
                .arg(&*driver_id.as_hyphenated().encode_lower(&mut member));
        }
        let answer: Vec<String> = invocation.invoke_async(redis).await?;
        let (status, before, ride, pickup, indexed, stamp) = match answer.as_slice() {
            [status, before, ride, pickup, indexed, stamp @ ..] => (
                status,
                before,
                ride,
                pickup,
                indexed == "1",
                Stamp::read(stamp),
            ),
            [status, ..] if status == "OFFLINE" => return Ok(PingStep::Offline),
            _ => return Ok(PingStep::StatusUnknown),
        };
        let Some(stamp) = stamp else {
            return Err(unexpected("ping.lua", status));
        };
        // A driver is matchable only in the city its last ping lies in:
        // leaving a city (for another, or for none) takes it out of the old
        // city's index.
        let left =
            (!before.is_empty() && Some(before) != stamp.city.as_ref()).then(|| before.clone());
        Ok(PingStep::Pinged(Pinged {
            driver_id,
            update: *update,
            at,
            stamp,
            indexed,
            left,
            ride: ride.clone(),
            pickup: pickup.clone(),
        }))
    }

    /// Writes the city indexes of a batch's first steps, one script per
    /// city. A city whose write failed is left to [`Index::finish_ping`],
    /// which writes each of its pings alone (and answers that ping's
    /// error, if it fails again).
    pub async fn sync_pings(&self, redis: &RedisConn, pinged: Vec<&mut Pinged>) {
        let mut by_city: HashMap<String, Vec<&mut Pinged>> = HashMap::new();
        for p in pinged {
            if let (false, Some(city)) = (p.indexed, p.stamp.city.clone()) {
                by_city.entry(city).or_default().push(p);
            }
        }
        join_all(by_city.into_iter().map(|(city, mut pings)| async move {
            let stamps: Vec<(Uuid, Stamp, bool)> = pings
                .iter()
                .map(|p| (p.driver_id, p.stamp.clone(), p.stamp.matchable))
                .collect();
            let written = self.write_index(&mut redis.clone(), &city, stamps).await;
            match written {
                Ok(_) => pings.iter_mut().for_each(|p| p.indexed = true),
                Err(err) => {
                    tracing::warn!(%city, pings = pings.len(), error = %err, "a batch's index write failed; writing its pings one by one");
                }
            }
        }))
        .await;
    }

    /// The second step: the city's index unless already written, the old
    /// city's when the ping left it, and the rider's channel. Returns the
    /// point to keep when the driver is on a ride.
    pub async fn finish_ping(
        &self,
        redis: &mut RedisConn,
        pinged: Pinged,
    ) -> redis::RedisResult<Option<RidePoint>> {
        let Pinged {
            driver_id,
            update,
            at,
            stamp,
            indexed,
            left,
            ride,
            pickup,
        } = pinged;
        let mut leave = redis.clone();
        let (left, synced) = tokio::join!(
            async {
                match &left {
                    Some(old) => self.leave_city(&mut leave, driver_id, old, &stamp).await,
                    None => Ok(()),
                }
            },
            async {
                if indexed {
                    Ok(())
                } else {
                    self.sync(redis, driver_id, &stamp).await
                }
            }
        );
        left?;
        synced?;
        // Published only while a rider watches (a BUSY driver on a ride), on
        // the trip's own channel: only the gateways holding its sockets hear
        // it, and none looks anything up per ping.
        let Ok(trip_id) = Uuid::parse_str(&ride) else {
            return Ok(None);
        };
        let here = LatLng::new(update.lat, update.lng);
        let pickup_eta_secs = read_pickup(&pickup, trip_id).and_then(|pickup| {
            let city = self.cities.at(pickup)?;
            Some(city.eta_secs(here, pickup))
        });
        let event = TripLocation {
            driver_id,
            trip_id,
            lat: update.lat,
            lng: update.lng,
            heading: update.heading,
            ts: at,
            pickup_eta_secs,
        };
        let payload = serde_json::to_string(&event).unwrap_or_default();
        redis
            .publish(&self.keys.channel_trip_location(trip_id), &payload)
            .await?;
        Ok(Some(RidePoint {
            trip_id,
            at,
            point: here,
        }))
    }
}

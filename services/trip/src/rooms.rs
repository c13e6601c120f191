//! Carpool rooms: every room action is one Lua script over the room's one
//! Redis value (see `scripts/rooms/`), so two drivers selecting the same
//! rider at the same instant cannot both win. Rides, once accepted, are rows
//! in Postgres; the Postgres write and the room change succeed or fail
//! together (the row is written in a transaction that commits only after the
//! script said yes, and a script is undone if the commit fails).
//!
//! A sweeper sends riders whose match was not answered in time back to the
//! front of the queue even when nobody touches the room; rooms drop
//! themselves (a Redis expiry) after their departure plus the grace period.
//!
//! [`Rooms`] owns the room keys, the scripts and the ride rows, as the driver
//! service's `Index` owns its keys: `AppState` holds a `Rooms`, and nothing
//! here knows about `AppState`.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, SecondsFormat, Utc};
use hail_shared::redis_conn::{self, RedisConn};
use hail_shared::{
    api::rooms::RoomState, cities::Cities, config::RoomConfig, keys::Keys, ApiError, ApiResult,
};
use redis::{AsyncCommands, Script};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{domain::rooms::RoomKey, repo};

/// A room script: the prelude, then the action. `PUBLISH` names the
/// command its events go out with (`SPUBLISH` on a cluster, on the city's
/// rooms channel, which lives in the room's slot).
macro_rules! room_script {
    ($publish:expr, $file:literal) => {
        Script::new(&format!(
            "local PUBLISH = '{}'\n{}\n{}",
            $publish,
            include_str!("../scripts/rooms/prelude.lua"),
            include_str!(concat!("../scripts/rooms/", $file))
        ))
    };
}

/// The room scripts, hashed once.
struct Scripts {
    get: Script,
    join_driver: Script,
    leave_driver: Script,
    join_rider: Script,
    leave_rider: Script,
    select: Script,
    respond: Script,
    cancel_ride: Script,
}

impl Scripts {
    fn load(cluster: bool) -> Self {
        let publish = redis_conn::publish_command(cluster);
        Self {
            get: room_script!(publish, "get.lua"),
            join_driver: room_script!(publish, "join_driver.lua"),
            leave_driver: room_script!(publish, "leave_driver.lua"),
            join_rider: room_script!(publish, "join_rider.lua"),
            leave_rider: room_script!(publish, "leave_rider.lua"),
            select: room_script!(publish, "select.lua"),
            respond: room_script!(publish, "respond.lua"),
            cancel_ride: room_script!(publish, "cancel_ride.lua"),
        }
    }
}

/// The carpool rooms: their Redis keys and scripts, and the ride rows.
#[derive(Clone)]
pub struct Rooms {
    redis: RedisConn,
    pool: PgPool,
    keys: Keys,
    config: RoomConfig,
    cities: Arc<Cities>,
    scripts: Arc<Scripts>,
}

/// One room at one departure: what every script call needs.
pub struct Room {
    /// The key's one spelling: `<city>.` first unless it is the default city.
    key: String,
    departs_at: DateTime<Utc>,
    redis_key: String,
    drop_at: DateTime<Utc>,
    /// The city whose rooms' slot it lives in.
    city: String,
}

impl Room {
    pub fn key(&self) -> String {
        self.key.clone()
    }
}

/// What a script answered: the new state, and the script's extra value.
pub struct Changed {
    pub state: RoomState,
    pub extra: String,
}

impl Rooms {
    pub fn new(
        redis: RedisConn,
        pool: PgPool,
        keys: Keys,
        config: RoomConfig,
        cities: Arc<Cities>,
    ) -> Self {
        let scripts = Arc::new(Scripts::load(redis.is_cluster()));
        Self {
            redis,
            pool,
            keys,
            config,
            cities,
            scripts,
        }
    }

    /// The room a key names now, its slot read in its city's time zone;
    /// 422 with the reason for a bad key or an unknown city.
    pub fn open(&self, key: &str) -> ApiResult<Room> {
        let invalid = |why: &str| ApiError::invalid_field("key", why);
        let (city, rest) = self.cities.room_city(key).map_err(|why| invalid(&why))?;
        let slot = RoomKey::parse(rest).map_err(invalid)?;
        let key = match city {
            Some(city) => format!("{}.{slot}", city.id),
            None => slot.to_string(),
        };
        let city = city.unwrap_or(self.cities.default_city());
        let timezone = city.timezone;
        let config = &self.config;
        let departs_at = slot.departure(Utc::now(), timezone, config.grace);
        let local_date = departs_at.with_timezone(&timezone).date_naive();
        let redis_key = self.keys.room(&city.id, &key, local_date);
        let drop_at = departs_at + chrono::Duration::from_std(config.grace).unwrap_or_default();
        Ok(Room {
            key,
            departs_at,
            redis_key,
            drop_at,
            city: city.id.clone(),
        })
    }

    async fn run(&self, room: &Room, script: &Script, args: &[String]) -> ApiResult<Changed> {
        let creation = [
            room.key(),
            rfc3339(room.departs_at),
            room.drop_at.timestamp_millis().to_string(),
        ];
        let mut invocation = self.prepare(script, &room.city, &room.redis_key, creation);
        for arg in args {
            invocation.arg(arg);
        }
        let mut redis = self.redis.clone();
        let answer: Vec<String> = invocation.invoke_async(&mut redis).await?;
        outcome(answer)
    }

    /// The arguments every room script takes first (see `prelude.lua`):
    /// `creation` is what a room that does not exist yet is made from (the
    /// public key, the departure, when to drop it); empty strings mean "only
    /// if it exists".
    fn prepare<'a>(
        &self,
        script: &'a Script,
        city: &str,
        redis_key: &str,
        creation: [String; 3],
    ) -> redis::ScriptInvocation<'a> {
        let mut invocation = script.prepare_invoke();
        invocation
            .key(redis_key)
            .key(self.keys.rooms_pending(city))
            .arg(Utc::now().timestamp_millis())
            .arg(self.keys.channel_room_events(city));
        for arg in creation {
            invocation.arg(arg);
        }
        invocation
    }

    pub async fn get(&self, room: &Room) -> ApiResult<RoomState> {
        Ok(self.run(room, &self.scripts.get, &[]).await?.state)
    }

    pub async fn join_driver(&self, room: &Room, driver: Uuid, seats: u8) -> ApiResult<RoomState> {
        let args = [driver.to_string(), seats.to_string()];
        Ok(self
            .run(room, &self.scripts.join_driver, &args)
            .await?
            .state)
    }

    /// The driver leaves; its confirmed rides are cancelled in Postgres too.
    pub async fn leave_driver(&self, room: &Room, driver: Uuid) -> ApiResult<RoomState> {
        let changed = self
            .run(room, &self.scripts.leave_driver, &[driver.to_string()])
            .await?;
        let cancelled: Vec<Uuid> = changed
            .extra
            .split(',')
            .filter_map(|id| id.parse().ok())
            .collect();
        if !cancelled.is_empty() {
            repo::cancel_rides(&self.pool, &cancelled, driver).await?;
        }
        Ok(changed.state)
    }

    pub async fn join_rider(&self, room: &Room, rider: Uuid) -> ApiResult<RoomState> {
        Ok(self
            .run(room, &self.scripts.join_rider, &[rider.to_string()])
            .await?
            .state)
    }

    pub async fn leave_rider(&self, room: &Room, rider: Uuid) -> ApiResult<RoomState> {
        Ok(self
            .run(room, &self.scripts.leave_rider, &[rider.to_string()])
            .await?
            .state)
    }

    pub async fn select(&self, room: &Room, driver: Uuid, rider: Uuid) -> ApiResult<RoomState> {
        let expires_at =
            Utc::now() + chrono::Duration::from_std(self.config.confirm).unwrap_or_default();
        let args = [
            driver.to_string(),
            rider.to_string(),
            expires_at.timestamp_millis().to_string(),
            rfc3339(expires_at),
        ];
        Ok(self.run(room, &self.scripts.select, &args).await?.state)
    }

    /// The pending rider answers. An accepted ride is written to Postgres in a
    /// transaction that commits only once the room script agreed.
    pub async fn respond(&self, room: &Room, rider: Uuid, accept: bool) -> ApiResult<RoomState> {
        if !accept {
            let args = [rider.to_string(), "0".into(), String::new()];
            return Ok(self.run(room, &self.scripts.respond, &args).await?.state);
        }
        let ride_id = Uuid::new_v4();
        let mut tx = self.pool.begin().await?;
        let args = [rider.to_string(), "1".into(), ride_id.to_string()];
        let changed = self.run(room, &self.scripts.respond, &args).await?;
        let driver: Uuid = changed.extra.parse().map_err(ApiError::internal)?;
        let stored = async {
            repo::insert_ride(
                &mut tx,
                ride_id,
                &room.key(),
                room.departs_at,
                rider,
                driver,
            )
            .await?;
            tx.commit().await
        }
        .await;
        if let Err(err) = stored {
            // The seat was taken in the room but the ride is not on record: give
            // it back as if the driver had cancelled, so the rider is first again.
            tracing::warn!(%ride_id, error = %err, "ride not stored; undoing it in the room");
            let undo = [driver.to_string(), ride_id.to_string()];
            if let Err(undo_err) = self.run(room, &self.scripts.cancel_ride, &undo).await {
                tracing::error!(%ride_id, error = %undo_err, "could not undo an unstored ride");
            }
            return Err(err.into());
        }
        Ok(changed.state)
    }

    /// A ride's driver or rider cancels it. The row is locked first so the
    /// record and the room move together.
    pub async fn cancel_ride(
        &self,
        room: &Room,
        caller: Uuid,
        ride_id: Uuid,
    ) -> ApiResult<RoomState> {
        let mut tx = self.pool.begin().await?;
        repo::lock_ride(&mut tx, ride_id).await?;
        let args = [caller.to_string(), ride_id.to_string()];
        let changed = self.run(room, &self.scripts.cancel_ride, &args).await?;
        repo::cancel_ride(&mut tx, ride_id, caller).await?;
        if let Err(err) = tx.commit().await {
            // The room already gave the seat back; the row says CONFIRMED until
            // fixed by hand, which the log makes findable.
            tracing::error!(%ride_id, error = %err, "ride cancelled in the room but not on record");
            return Err(err.into());
        }
        Ok(changed.state)
    }

    /// Sends riders whose match went unanswered back to the queue, for rooms
    /// nobody is touching. Runs until `stop`.
    pub async fn run_sweeper(self, stop: CancellationToken) {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Err(err) = self.sweep().await {
                tracing::warn!(error = %err, "room sweep failed; retrying");
            }
        }
    }

    async fn sweep(&self) -> Result<(), redis::RedisError> {
        for city in self.cities.all() {
            self.sweep_city(&city.id).await?;
        }
        Ok(())
    }

    async fn sweep_city(&self, city: &str) -> Result<(), redis::RedisError> {
        let mut redis = self.redis.clone();
        let pending = self.keys.rooms_pending(city);
        let due: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(&pending)
            .arg("-inf")
            .arg(Utc::now().timestamp_millis())
            .arg("LIMIT")
            .arg(0)
            .arg(100)
            .query_async(&mut redis)
            .await?;
        for redis_key in due {
            let answer: Vec<String> = self
                .prepare(&self.scripts.get, city, &redis_key, Default::default())
                .invoke_async(&mut redis)
                .await?;
            if answer.first().map(String::as_str) != Some("ok") {
                // The room expired away: forget it.
                redis.zrem::<_, _, ()>(&pending, &redis_key).await?;
            }
        }
        Ok(())
    }
}

fn outcome(answer: Vec<String>) -> ApiResult<Changed> {
    let mut parts = answer.into_iter();
    let (code, body, extra) = (parts.next(), parts.next(), parts.next());
    match (code.as_deref(), body) {
        (Some("ok"), Some(body)) => Ok(Changed {
            state: serde_json::from_str(&body).map_err(ApiError::internal)?,
            extra: extra.unwrap_or_default(),
        }),
        (Some("conflict"), Some(message)) => Err(ApiError::conflict("conflict", message)),
        (Some("not_found"), Some(message)) => Err(ApiError::NotFound(message)),
        (Some("forbidden"), Some(message)) => Err(ApiError::Forbidden(message)),
        _ => Err(ApiError::internal(
            "a room script answered in an unknown shape",
        )),
    }
}

pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

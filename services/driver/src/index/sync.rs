//! Keeping a city's index in step with its drivers, one slot at a time.
//!
//! A driver's keys and its city's index live in different slots of a Redis
//! Cluster, so no script writes both. A driver script (a ping, a status
//! change, a claim, a release, a presence refresh) stamps the driver and
//! returns a [`Stamp`]: what the index of the city its last ping lay in
//! should now hold. [`Index::sync`] applies it there (`index_sync.lua`),
//! unless a newer stamp of the same driver got there first.
//!
//! Atomic: each driver step; each city step. Not atomic: the pair. Between
//! the two, the index may hold a driver that was just claimed, went BUSY or
//! OFFLINE; searches check every member's own keys before it becomes a
//! candidate, and claims check them again, so such a member is never
//! offered. The other way round (a freed driver not yet back in the index)
//! lasts one round trip. Stamps make the order of two steps of one driver
//! irrelevant, so a late step never leaves a free driver out, or a claimed
//! one in, for longer than that.

use uuid::Uuid;

use hail_shared::redis_conn::RedisConn;

use super::{Index, PRESENCE_TTL_SECS};

/// What a driver step says its city's index should hold.
#[derive(Clone, Debug, PartialEq)]
pub struct Stamp {
    /// The driver's sequence (microseconds), newer for every step.
    pub seq: String,
    /// Where its last ping lay; `None` outside every city.
    pub city: Option<String>,
    /// ONLINE, present, unclaimed, with a position: in the index.
    pub matchable: bool,
    pub lng: String,
    pub lat: String,
}

impl Stamp {
    /// Reads `{seq, city, intent, lng, lat}` from a script's answer.
    pub(super) fn read(fields: &[String]) -> Option<Self> {
        let [seq, city, intent, lng, lat] = fields else {
            return None;
        };
        Some(Self {
            seq: seq.clone(),
            city: (!city.is_empty()).then(|| city.clone()),
            matchable: intent == "add",
            lng: lng.clone(),
            lat: lat.clone(),
        })
    }
}

impl Index {
    /// Applies a driver step's stamp to the index of the stamp's city.
    pub async fn sync(
        &self,
        redis: &mut RedisConn,
        driver_id: Uuid,
        stamp: &Stamp,
    ) -> redis::RedisResult<()> {
        if let Some(city) = &stamp.city {
            self.sync_city(redis, driver_id, city, stamp, stamp.matchable)
                .await?;
        }
        Ok(())
    }

    /// Takes the driver out of `city`'s index (it pinged from elsewhere),
    /// stamped as the step that moved it.
    pub async fn leave_city(
        &self,
        redis: &mut RedisConn,
        driver_id: Uuid,
        city: &str,
        stamp: &Stamp,
    ) -> redis::RedisResult<()> {
        self.sync_city(redis, driver_id, city, stamp, false).await
    }

    async fn sync_city(
        &self,
        redis: &mut RedisConn,
        driver_id: Uuid,
        city: &str,
        stamp: &Stamp,
        matchable: bool,
    ) -> redis::RedisResult<()> {
        self.sync_many(redis, city, &[(driver_id, stamp, matchable)])
            .await
            .map(|_| ())
    }

    /// Applies many drivers' stamps to `city`'s index in one script, each
    /// by [`Index::sync`]'s rule (`(driver, stamp, matchable)`; a stamp
    /// older than the last one the city heard for its driver is skipped).
    /// A gateway's batch of pings writes its city's index this way: one
    /// script on the city's node for the batch, not one per ping. Returns
    /// how many were applied.
    pub async fn sync_many(
        &self,
        redis: &mut RedisConn,
        city: &str,
        stamps: &[(Uuid, &Stamp, bool)],
    ) -> redis::RedisResult<usize> {
        if stamps.is_empty() {
            return Ok(0);
        }
        let k = &self.keys;
        let mut invocation = self.scripts.index_sync.prepare_invoke();
        invocation
            .key(k.driver_locations(city))
            .key(k.drivers_seen(city))
            .arg(PRESENCE_TTL_SECS * 1_000_000);
        let mut member = Uuid::encode_buffer();
        for (driver_id, stamp, matchable) in stamps {
            invocation
                .arg(&*driver_id.as_hyphenated().encode_lower(&mut member))
                .arg(&stamp.seq)
                .arg(if *matchable { "add" } else { "drop" })
                .arg(&stamp.lng)
                .arg(&stamp.lat);
        }
        invocation.invoke_async(redis).await
    }

    /// One sweep of every city: removes from its index the drivers it heard
    /// nothing of for longer than a presence lasts (`scripts/sweep.lua`).
    /// Returns how many. It reads only those (the last-seen set's oldest),
    /// so a pass costs what went quiet, not the fleet.
    pub async fn sweep(&self, redis: &mut RedisConn) -> redis::RedisResult<usize> {
        const BATCH: usize = 500;
        let mut removed = 0;
        for city in self.cities.all() {
            loop {
                let swept: usize = self
                    .scripts
                    .sweep
                    .key(self.keys.driver_locations(&city.id))
                    .key(self.keys.drivers_seen(&city.id))
                    .arg(PRESENCE_TTL_SECS * 1_000_000)
                    .arg(BATCH)
                    .invoke_async(redis)
                    .await?;
                removed += swept;
                if swept < BATCH {
                    break;
                }
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_reads_its_five_fields() {
        let fields: Vec<String> = ["1764571234567890", "sg", "add", "103.8", "1.3"]
            .map(String::from)
            .to_vec();
        let stamp = Stamp::read(&fields).expect("five fields");
        assert_eq!(stamp.city.as_deref(), Some("sg"));
        assert!(stamp.matchable);
        let outside: Vec<String> = ["1", "", "drop", "", ""].map(String::from).to_vec();
        let stamp = Stamp::read(&outside).expect("five fields");
        assert_eq!(stamp.city, None);
        assert!(!stamp.matchable);
        assert_eq!(Stamp::read(&fields[..4]), None);
    }
}

//! Every Redis key and channel name Hail uses, with the optional prefix
//! (`HAIL_REDIS_PREFIX`) so cities and tests can share one Redis.
//! Only the owner service writes its keys (see DESIGN.md).
//!
//! The key map for a Redis Cluster: the part in braces is the hash tag, and
//! keys with one tag live in one slot, so a script may touch them together.
//! - `driver:{<id>}:*`: one driver's status mirror, presence, last position,
//!   claim lock, open offer and ride. Every per-driver step (a ping, a
//!   claim, a release, a status change) is one script in this slot.
//! - `drivers:{<city>}:*`: one city's GEO index and last-seen set, written
//!   together by one script (`index_sync.lua`), searched together.
//! - `rooms:{<city>}:*`: a city's carpool rooms, their pending index and
//!   their events channel (room scripts publish with `SPUBLISH` on a
//!   cluster, which must be in the script's slot).
//! - `trip:{<id>}:location`: the channel of one trip's positions, in the
//!   trip's own slot, so positions spread over the shards and reach only
//!   the gateways that subscribed (those whose sockets watch the trip).
//! - Everything else is one key per script.
//!
//! No script spans a driver and its city: a driver step returns what the
//! city's index should say about the driver, stamped with a per-driver
//! sequence, and a second step applies it only if it is newer than what the
//! index last heard (see `services/driver/src/index.rs`).

use std::sync::Arc;

use uuid::Uuid;

/// Cloned with every service's state, so once per request: the prefix is
/// shared, not copied.
#[derive(Clone, Debug, Default)]
pub struct Keys {
    prefix: Arc<str>,
}

impl Keys {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: Arc::from(prefix.into()),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, name: impl std::fmt::Display) -> String {
        format!("{}{}", self.prefix, name)
    }

    /// The prefix and `parts`, in one allocation of the exact size. The
    /// per-driver and per-city keys are built for every ping (five to seven
    /// of them), and `format!` grew each a few bytes at a time: its
    /// reallocations were a tenth of the driver service's CPU in the socket
    /// ingest (BENCHMARKS.md, session 23).
    fn join(&self, parts: &[&str]) -> String {
        let len = self.prefix.len() + parts.iter().map(|p| p.len()).sum::<usize>();
        let mut key = String::with_capacity(len);
        key.push_str(&self.prefix);
        for part in parts {
            key.push_str(part);
        }
        key
    }

    /// `driver:{<id>}:<field>`: one driver's keys share the tag.
    fn of_driver(&self, driver_id: Uuid, field: &str) -> String {
        let mut id = Uuid::encode_buffer();
        let id = driver_id.as_hyphenated().encode_lower(&mut id);
        self.join(&["driver:{", id, "}:", field])
    }

    /// `drivers:{<city>}:<field>`: one city's index keys share the tag.
    fn of_city(&self, city: &str, field: &str) -> String {
        self.join(&["drivers:{", city, "}:", field])
    }

    /// GEO set of one city's matchable (ONLINE, present, unclaimed) drivers,
    /// so a search never walks another city's fleet. Owner: driver.
    pub fn driver_locations(&self, city: &str) -> String {
        self.of_city(city, "locations")
    }

    /// One city's drivers by the time of their last ping (ms), so the
    /// sweeper reads only those silent past their presence. Owner: driver.
    pub fn drivers_seen(&self, city: &str) -> String {
        self.of_city(city, "seen")
    }

    /// Presence key with a TTL, refreshed by every ping. Owner: driver.
    pub fn driver_presence(&self, driver_id: Uuid) -> String {
        self.of_driver(driver_id, "presence")
    }

    /// Claim lock holding the claiming trip's id. Owner: driver.
    pub fn driver_lock(&self, driver_id: Uuid) -> String {
        self.of_driver(driver_id, "lock")
    }

    /// Cached `"<STATUS>:<version>"` mirror of Postgres, so a ping needs no
    /// Postgres round trip. Owner: driver.
    pub fn driver_status(&self, driver_id: Uuid) -> String {
        self.of_driver(driver_id, "status")
    }

    /// Last reported position (hash: lat, lng, heading, at). Owner: driver.
    pub fn driver_position(&self, driver_id: Uuid) -> String {
        self.of_driver(driver_id, "pos")
    }

    /// The open offer shown to the driver while a claim holds. Owner: driver.
    pub fn driver_offer(&self, driver_id: Uuid) -> String {
        self.of_driver(driver_id, "offer")
    }

    /// A carpool room's whole state (JSON), one key per departure: `slot` is
    /// the room key and `date` the departure's local date. A city's rooms,
    /// their pending index and their events channel share a slot, so a room
    /// script updates the index and publishes in the same atomic step.
    /// Owner: trip.
    pub fn room(&self, city: &str, slot: &str, date: impl std::fmt::Display) -> String {
        self.key(format_args!("rooms:{{{city}}}:{slot}:{date}"))
    }

    /// Sorted set of a city's rooms with pending matches, scored by the
    /// earliest expiry, so the sweeper finds them without scanning. Owner:
    /// trip.
    pub fn rooms_pending(&self, city: &str) -> String {
        self.key(format_args!("rooms:{{{city}}}:pending"))
    }

    /// Drivers just freed, with where (list of `"<driver>,<lat>,<lng>"`,
    /// oldest at the right), for the matcher to wake the waiting trips near
    /// them. Owner: trip.
    pub fn drivers_freed(&self) -> String {
        self.key("dispatch:freed")
    }

    /// The trip a driver is on, from its assignment until its part ends:
    /// its pings are published to that trip's rider, and only then. Owner:
    /// driver.
    pub fn driver_ride(&self, driver_id: Uuid) -> String {
        self.of_driver(driver_id, "ride")
    }

    /// Where the driver's ride picks its rider up (`"<trip> <lat> <lng>"`),
    /// from assignment until the driver arrives or starts: while it is
    /// there, the driver's pings carry the pickup ETA. Owner: driver.
    pub fn driver_pickup(&self, driver_id: Uuid) -> String {
        self.of_driver(driver_id, "pickup")
    }

    /// A user's open sockets across gateways (sorted set, score: connect
    /// time in ms). Owner: gateway.
    pub fn user_sockets(&self, user_id: Uuid) -> String {
        self.key(format_args!("user:sockets:{user_id}"))
    }

    pub fn channel_trip_events(&self) -> String {
        self.key("trip:events")
    }

    /// The positions of a trip's driver, published only while the trip is
    /// under way, heard only by the gateways whose sockets watch the trip
    /// (each subscribes while it has one). Its own slot on a cluster, so
    /// positions spread over the shards.
    pub fn channel_trip_location(&self, trip_id: Uuid) -> String {
        self.key(format_args!("trip:{{{trip_id}}}:location"))
    }

    /// The trip a [`Keys::channel_trip_location`] names, if `channel` is one.
    pub fn trip_of_location_channel(&self, channel: &str) -> Option<Uuid> {
        let id = channel
            .strip_prefix(&*self.prefix)?
            .strip_prefix("trip:{")?
            .strip_suffix("}:location")?;
        Uuid::parse_str(id).ok()
    }

    pub fn channel_driver_offers(&self) -> String {
        self.key("driver:offers")
    }

    /// A city's room events (in its rooms' slot: see [`Keys::room`]).
    pub fn channel_room_events(&self, city: &str) -> String {
        self.key(format_args!("rooms:{{{city}}}:events"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_channel_names_its_trip_and_nothing_else_does() {
        let keys = Keys::new("t:1:");
        let trip = Uuid::new_v4();
        let channel = keys.channel_trip_location(trip);
        assert_eq!(keys.trip_of_location_channel(&channel), Some(trip));
        for other in [
            keys.channel_trip_events(),
            keys.channel_driver_offers(),
            keys.channel_room_events("sg"),
            Keys::new("t:2:").channel_trip_location(trip),
            format!("t:1:trip:{{{trip}x}}:location"),
        ] {
            assert_eq!(keys.trip_of_location_channel(&other), None, "{other}");
        }
    }

    #[test]
    fn the_prefix_goes_on_every_key_and_channel() {
        let keys = Keys::new("test:42:");
        let id = Uuid::nil();
        for name in [
            keys.driver_locations("sg"),
            keys.drivers_seen("sg"),
            keys.driver_presence(id),
            keys.driver_lock(id),
            keys.driver_ride(id),
            keys.driver_pickup(id),
            keys.driver_status(id),
            keys.driver_position(id),
            keys.driver_offer(id),
            keys.channel_trip_events(),
            keys.channel_trip_location(id),
            keys.channel_driver_offers(),
            keys.channel_room_events("sg"),
            keys.room("sg", "Westie:mon:08:00", "2026-12-07"),
            keys.rooms_pending("sg"),
        ] {
            assert!(name.starts_with("test:42:"), "{name}");
        }
        assert_eq!(
            Keys::default().driver_presence(id),
            format!("driver:{{{id}}}:presence")
        );
    }

    #[test]
    fn driver_and_city_keys_are_spelled_with_their_tags() {
        for prefix in ["", "t:9:"] {
            let keys = Keys::new(prefix);
            for id in [Uuid::nil(), Uuid::max(), Uuid::new_v4(), Uuid::new_v4()] {
                let spelled = |field: &str| format!("{prefix}driver:{{{id}}}:{field}");
                assert_eq!(keys.driver_presence(id), spelled("presence"));
                assert_eq!(keys.driver_lock(id), spelled("lock"));
                assert_eq!(keys.driver_status(id), spelled("status"));
                assert_eq!(keys.driver_position(id), spelled("pos"));
                assert_eq!(keys.driver_offer(id), spelled("offer"));
                assert_eq!(keys.driver_ride(id), spelled("ride"));
                assert_eq!(keys.driver_pickup(id), spelled("pickup"));
            }
            for city in ["sg", "hcmc", ""] {
                assert_eq!(
                    keys.driver_locations(city),
                    format!("{prefix}drivers:{{{city}}}:locations")
                );
                assert_eq!(
                    keys.drivers_seen(city),
                    format!("{prefix}drivers:{{{city}}}:seen")
                );
            }
        }
    }

    #[test]
    fn a_drivers_keys_share_a_slot_and_so_do_a_citys() {
        use redis::cluster_routing::Slot;
        let keys = Keys::new("test:7:");
        for id in [Uuid::nil(), Uuid::new_v4(), Uuid::new_v4()] {
            let slot = Slot::for_key(keys.driver_status(id));
            for key in [
                keys.driver_presence(id),
                keys.driver_position(id),
                keys.driver_lock(id),
                keys.driver_offer(id),
                keys.driver_ride(id),
                keys.driver_pickup(id),
            ] {
                assert_eq!(Slot::for_key(&key), slot, "{key}");
            }
        }
        for city in ["sg", "hcmc", "jakarta"] {
            assert_eq!(
                Slot::for_key(keys.driver_locations(city)),
                Slot::for_key(keys.drivers_seen(city)),
                "{city}"
            );
            let room = Slot::for_key(keys.room(city, "Westie:mon:08:00", "2026-12-07"));
            assert_eq!(Slot::for_key(keys.rooms_pending(city)), room, "{city}");
            assert_eq!(
                Slot::for_key(keys.channel_room_events(city)),
                room,
                "{city}"
            );
        }
        // Different drivers spread over the cluster instead of one slot.
        let slots: std::collections::HashSet<Slot> = (0..64)
            .map(|_| Slot::for_key(keys.driver_status(Uuid::new_v4())))
            .collect();
        assert!(slots.len() > 32, "{} slots for 64 drivers", slots.len());
    }
}

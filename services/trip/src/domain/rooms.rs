//! Carpool room rules that need no I/O: what a room key may look like, and
//! which departure a key names right now.
//!
//! A key `<origin>:<day>:<HH:MM>` names a weekly slot. The room it opens is
//! the next departure of that slot in the configured time zone; a room stays
//! the current one until its departure plus the grace period has passed, so
//! riders who are a little late still find their ride.

use std::{fmt, time::Duration};

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomKey {
    pub origin: String,
    pub day: Weekday,
    pub time: NaiveTime,
}

const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];

impl RoomKey {
    /// Parses `<origin>:<day>:<HH:MM>`; the error says what is wrong.
    pub fn parse(key: &str) -> Result<Self, &'static str> {
        let mut parts = key.splitn(3, ':');
        let (Some(origin), Some(day), Some(time)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err("must look like <origin>:<day>:<HH:MM>, e.g. Westie:mon:08:00");
        };
        if origin.is_empty() || origin.len() > 32 {
            return Err("origin must be 1 to 32 characters");
        }
        if !origin
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err("origin may only use letters, digits, '_' and '-'");
        }
        let day = DAYS
            .iter()
            .find(|(name, _)| *name == day)
            .map(|(_, d)| *d)
            .ok_or("day must be one of mon, tue, wed, thu, fri, sat, sun")?;
        let time = parse_time(time).ok_or("time must be 24-hour HH:MM, 00:00 to 23:59")?;
        Ok(Self {
            origin: origin.to_string(),
            day,
            time,
        })
    }

    /// The departure this key names at `now`: the earliest occurrence of the
    /// slot whose departure plus `grace` has not passed yet.
    pub fn departure(&self, now: DateTime<Utc>, tz: Tz, grace: Duration) -> DateTime<Utc> {
        let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
        let today = now.with_timezone(&tz).date_naive();
        // Start a week back so a departure within its grace period is found.
        let start = today - Days::new(7);
        (0..=14u64)
            .map(|d| start + Days::new(d))
            .filter(|date| date.weekday() == self.day)
            .filter_map(|date| local_instant(tz, date, self.time))
            .find(|departure| *departure + grace > now)
            // 15 consecutive days always hold two of this weekday, one of
            // which is in the future; this is only reached on a gap in the
            // calendar no time zone has.
            .unwrap_or(now)
    }
}

impl fmt::Display for RoomKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let day = DAYS
            .iter()
            .find(|(_, d)| *d == self.day)
            .map_or("mon", |(name, _)| name);
        write!(f, "{}:{}:{}", self.origin, day, self.time.format("%H:%M"))
    }
}

fn parse_time(text: &str) -> Option<NaiveTime> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)
}

/// The instant a local date and time name. A time skipped by a daylight
/// saving jump moves to the first instant after the gap; a repeated time
/// takes its first occurrence.
fn local_instant(tz: Tz, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    let local = date.and_time(time);
    tz.from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(local + chrono::Duration::hours(1)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn good_keys_parse_and_print_back() {
        for key in ["Westie:mon:08:00", "a:sun:23:59", "North_Gate-2:wed:00:00"] {
            assert_eq!(RoomKey::parse(key).unwrap().to_string(), key);
        }
    }

    #[test]
    fn bad_keys_say_why() {
        let cases = [
            ("", "must look like"),
            ("Westie:mon", "must look like"),
            (":mon:08:00", "origin must be 1 to 32"),
            (
                &format!("{}:mon:08:00", "x".repeat(33)),
                "origin must be 1 to 32",
            ),
            ("West ie:mon:08:00", "origin may only use"),
            ("Westie:monday:08:00", "day must be one of"),
            ("Westie:Mon:08:00", "day must be one of"),
            ("Westie:mon:24:00", "time must be"),
            ("Westie:mon:8:00", "time must be"),
            ("Westie:mon:08:60", "time must be"),
            ("Westie:mon:08:00:00", "time must be"),
            ("Westie:mon:+8:00", "time must be"),
        ];
        for (key, why) in cases {
            let err = RoomKey::parse(key).unwrap_err();
            assert!(err.contains(why), "{key:?}: {err}");
        }
    }

    #[test]
    fn departure_is_the_next_occurrence_of_the_slot() {
        // 2026-11-23 is a Monday.
        let key = RoomKey::parse("Westie:mon:08:00").unwrap();
        let grace = Duration::from_secs(30 * 60);
        let tz = chrono_tz::UTC;
        assert_eq!(
            key.departure(at("2026-11-23T07:00:00Z"), tz, grace),
            at("2026-11-23T08:00:00Z")
        );
        // Within the grace period the room is still today's.
        assert_eq!(
            key.departure(at("2026-11-23T08:29:00Z"), tz, grace),
            at("2026-11-23T08:00:00Z")
        );
        // After it, next week's.
        assert_eq!(
            key.departure(at("2026-11-23T08:31:00Z"), tz, grace),
            at("2026-11-30T08:00:00Z")
        );
        assert_eq!(
            key.departure(at("2026-11-25T12:00:00Z"), tz, grace),
            at("2026-11-30T08:00:00Z")
        );
    }

    #[test]
    fn departure_follows_the_time_zone() {
        let key = RoomKey::parse("Westie:mon:08:00").unwrap();
        let sg = chrono_tz::Asia::Singapore; // UTC+8
        assert_eq!(
            key.departure(at("2026-11-22T12:00:00Z"), sg, Duration::ZERO),
            at("2026-11-23T00:00:00Z")
        );
        // A time skipped by daylight saving still names a departure.
        let key = RoomKey::parse("X:sun:02:30").unwrap();
        let ny = chrono_tz::America::New_York; // 2027-03-14 02:30 does not exist
        let d = key.departure(at("2027-03-13T12:00:00Z"), ny, Duration::ZERO);
        assert_eq!(d, at("2027-03-14T07:30:00Z"));
    }

    proptest! {
        #[test]
        fn departure_is_on_the_slot_and_never_past_its_grace(
            secs in 0i64..(400 * 86_400),
            day in 0usize..7,
            h in 0u32..24,
            m in 0u32..60,
            grace_mins in 0u64..600,
        ) {
            let now = at("2026-01-01T00:00:00Z") + chrono::Duration::seconds(secs);
            let key = RoomKey { origin: "o".into(), day: DAYS[day].1, time: NaiveTime::from_hms_opt(h, m, 0).unwrap() };
            let grace = Duration::from_secs(grace_mins * 60);
            for tz in [chrono_tz::UTC, chrono_tz::Asia::Singapore, chrono_tz::Europe::London] {
                let d = key.departure(now, tz, grace);
                let local = d.with_timezone(&tz);
                prop_assert_eq!(local.weekday(), key.day);
                prop_assert!(d + chrono::Duration::from_std(grace).unwrap() > now);
                // And it is the first such: a week earlier was already over.
                prop_assert!(d - chrono::Duration::days(7) + chrono::Duration::from_std(grace).unwrap() <= now + chrono::Duration::hours(1));
            }
        }
    }
}

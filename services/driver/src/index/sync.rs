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
//!
//! Writes to one city's index are coalesced ([`CityWrites`]): while one
//! script is writing a city's index, the stamps that arrive meanwhile wait
//! and go together in the next one, as a database groups commits. Every
//! caller still returns only once its own stamps are written. Under load
//! this turns one index script per ping batch, claim and release into one
//! per round trip to the city's node (a cluster spent more on those
//! scripts than on the drivers' own: session 25).

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex, PoisonError},
};

use tokio::sync::oneshot;
use uuid::Uuid;

use hail_shared::redis_conn::RedisConn;

use super::{Index, PRESENCE_TTL_SECS};

/// One stamp as `index_sync.lua` takes it: driver, stamp, matchable.
type Entry = (Uuid, Stamp, bool);

/// The index writes of this process, per city, waiting for their script.
#[derive(Default)]
pub(super) struct CityWrites {
    cities: Mutex<HashMap<String, Arc<Coalesced<Entry>>>>,
}

impl CityWrites {
    fn of(&self, city: &str) -> Arc<Coalesced<Entry>> {
        let mut cities = self.cities.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(cities.entry(city.to_owned()).or_default())
    }
}

/// Writes that share one writer: while a write is under way, what arrives
/// waits, and the next write takes all of it.
///
/// Whoever takes the writer writes everything waiting and answers each
/// waiter before letting go, so a caller that gets the writer finds its own
/// entries either answered or still waiting. A writer dropped mid-write
/// (its request cancelled) drops its waiters' answers: they queue their
/// entries again and write them themselves.
struct Coalesced<T> {
    waiting: Mutex<Vec<Waiter<T>>>,
    writer: tokio::sync::Mutex<()>,
}

impl<T> Default for Coalesced<T> {
    fn default() -> Self {
        Self {
            waiting: Mutex::new(Vec::new()),
            writer: tokio::sync::Mutex::new(()),
        }
    }
}

struct Waiter<T> {
    entries: Arc<Vec<T>>,
    written: oneshot::Sender<redis::RedisResult<()>>,
}

impl<T> Coalesced<T> {
    /// Returns once `entries` are written, by `write` (given every waiting
    /// caller's entries) or by another caller's write, with that write's
    /// result. Shared, not copied: a retry after a cancelled writer queues
    /// the same entries again.
    async fn write<F, Fut>(&self, entries: Vec<T>, write: F) -> redis::RedisResult<()>
    where
        F: FnOnce(Vec<Arc<Vec<T>>>) -> Fut,
        Fut: Future<Output = redis::RedisResult<()>>,
    {
        let entries = Arc::new(entries);
        loop {
            let (written, mut answer) = oneshot::channel();
            self.lock_waiting().push(Waiter {
                entries: Arc::clone(&entries),
                written,
            });
            let _writer = self.writer.lock().await;
            match answer.try_recv() {
                Ok(result) => return result,
                Err(oneshot::error::TryRecvError::Closed) => continue,
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            let batch = std::mem::take(&mut *self.lock_waiting());
            let (all, answers): (Vec<_>, Vec<_>) =
                batch.into_iter().map(|w| (w.entries, w.written)).unzip();
            let result = write(all).await;
            for answer in answers {
                // A waiter that is gone (its request cancelled) needs none.
                let _ = answer.send(result.clone());
            }
            // Ours was among them: it was waiting when this caller took the
            // writer.
            return result;
        }
    }

    fn lock_waiting(&self) -> std::sync::MutexGuard<'_, Vec<Waiter<T>>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

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
        self.write_index(redis, city, vec![(driver_id, stamp.clone(), matchable)])
            .await
    }

    /// Writes these stamps to `city`'s index, in the same script as every
    /// other stamp of this process waiting for that city meanwhile
    /// ([`CityWrites`]); returns once they are written, with that script's
    /// error if it failed.
    pub(super) async fn write_index(
        &self,
        redis: &mut RedisConn,
        city: &str,
        entries: Vec<Entry>,
    ) -> redis::RedisResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.writes
            .of(city)
            .write(entries, |all| async move {
                let stamps: Vec<(Uuid, &Stamp, bool)> = all
                    .iter()
                    .flat_map(|entries| entries.iter())
                    .map(|(driver, stamp, matchable)| (*driver, stamp, *matchable))
                    .collect();
                self.sync_many(redis, city, &stamps).await.map(|_| ())
            })
            .await
    }

    /// Applies many drivers' stamps to `city`'s index in one script, now,
    /// each by [`Index::sync`]'s rule (`(driver, stamp, matchable)`; a stamp
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

    /// What a test's writes did: each write's entries, in order.
    type Log = Arc<Mutex<Vec<Vec<u32>>>>;

    async fn logged(log: Log, all: Vec<Arc<Vec<u32>>>) -> redis::RedisResult<()> {
        // A round trip: the callers behind it queue meanwhile.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        log.lock()
            .unwrap()
            .push(all.iter().flat_map(|e| e.iter().copied()).collect());
        Ok(())
    }

    #[tokio::test]
    async fn writes_that_arrive_during_a_write_share_the_next_and_each_returns_once_written() {
        let queue = Coalesced::<u32>::default();
        let log: Log = Arc::default();
        let callers = (0..50).map(|i| {
            let (queue, log) = (&queue, log.clone());
            async move {
                queue
                    .write(vec![i], |all| logged(log.clone(), all))
                    .await
                    .unwrap();
                let written = log.lock().unwrap().iter().flatten().any(|&e| e == i);
                assert!(written, "caller {i} returned before its entry was written");
            }
        });
        futures::future::join_all(callers).await;
        let log = log.lock().unwrap();
        assert_eq!(
            *log,
            vec![vec![0], (1..50).collect::<Vec<_>>()],
            "the first writes alone, the 49 that queued behind it together"
        );
    }

    #[tokio::test]
    async fn a_failed_write_answers_its_error_to_every_caller_in_it() {
        let queue = Coalesced::<u32>::default();
        let results = futures::future::join_all((0..5).map(|i| {
            queue.write(vec![i], move |all| async move {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                if all.iter().any(|e| e.contains(&0)) {
                    Ok(())
                } else {
                    Err(redis::RedisError::from((
                        redis::ErrorKind::Io,
                        "the city's node went away",
                    )))
                }
            })
        }))
        .await;
        assert!(results[0].is_ok());
        assert!(results[1..].iter().all(|r| r.is_err()), "{results:?}");
    }

    #[tokio::test]
    async fn a_writer_cancelled_mid_write_loses_nobody_elses_entries() {
        let queue = Arc::new(Coalesced::<u32>::default());
        let log: Log = Arc::default();
        // Both callers queue behind a held writer, so the first to get it
        // takes both entries.
        let held = queue.writer.lock().await;
        let caller = |entry: u32| {
            let (queue, log) = (queue.clone(), log.clone());
            tokio::spawn(async move {
                queue
                    .write(vec![entry], |all| async move {
                        if all.iter().any(|e| e.contains(&1)) {
                            // The first caller's write never ends: it is cancelled.
                            std::future::pending::<()>().await;
                        }
                        logged(log, all).await
                    })
                    .await
            })
        };
        let waiting = |n: usize| {
            let queue = queue.clone();
            async move {
                while queue.lock_waiting().len() != n {
                    tokio::task::yield_now().await;
                }
            }
        };
        let first = caller(1);
        waiting(1).await;
        let second = caller(2);
        waiting(2).await;
        drop(held);
        // The first took both and hangs in its write.
        waiting(0).await;
        first.abort();
        assert!(first.await.unwrap_err().is_cancelled());
        second.await.unwrap().unwrap();
        assert_eq!(*log.lock().unwrap(), vec![vec![2]]);
    }

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

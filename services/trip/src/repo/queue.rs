//! The dispatch queue: due REQUESTED trips, leased in queue order, and
//! which candidates a waiting trip ahead in the queue wants.

use chrono::{DateTime, Utc};
use hail_shared::api::trips::{Tier, TripStatus};
use sqlx::{PgConnection, PgPool, Postgres};
use uuid::Uuid;

use crate::domain::dispatch::{FreedDriver, MAX_RETRY_STEPS, RETRY_EMPTY_SEARCH};

use super::TripRow;

/// Takes the due REQUESTED trips of the next pass and leases them for
/// `lease`: other workers skip them meanwhile, and if this worker dies the
/// lease runs out and they are picked again. Three lanes, each in queue
/// order (premium first, then oldest): up to `lanes.fresh` trips never
/// searched yet (index `trips_fresh`: only they are read), up to `lanes.due`
/// trips due again for a reason (a freed driver, a yield, an answered or
/// expired offer, or a wait past `deadline`, to be given up), and up to
/// `lanes.slow` trips searching again on their timer after finding nobody
/// (`idle_retry`). The batch is returned in queue order, the order its
/// claims take. Trips of the `batched` cities are left to their batches
/// ([`pick_batch`]).
pub async fn pick_due_trips(
    pool: &PgPool,
    lease: std::time::Duration,
    deadline: std::time::Duration,
    lanes: Lanes,
    batched: &[String],
) -> Result<Vec<TripRow>, sqlx::Error> {
    let mut picked = sqlx::query_as!(
        TripRow,
        r#"UPDATE trips SET leased_until = now() + make_interval(secs => $1)
         WHERE id = ANY(ARRAY(
             SELECT id FROM trips
              WHERE status = 'REQUESTED' AND NOT searched AND next_attempt_at <= now()
                AND city <> ALL($6)
                AND (leased_until IS NULL OR leased_until <= now())
              ORDER BY (tier = 'premium') DESC, created_at
              LIMIT $5
              FOR UPDATE SKIP LOCKED
           ) || ARRAY(
             SELECT id FROM trips
              WHERE status = 'REQUESTED' AND searched AND next_attempt_at <= now()
                AND city <> ALL($6)
                AND (leased_until IS NULL OR leased_until <= now())
                AND NOT (idle_retry AND created_at > now() - make_interval(secs => $2))
              ORDER BY (tier = 'premium') DESC, created_at
              LIMIT $3
              FOR UPDATE SKIP LOCKED
           ) || ARRAY(
             SELECT id FROM trips
              WHERE status = 'REQUESTED' AND next_attempt_at <= now() AND city <> ALL($6)
                AND (leased_until IS NULL OR leased_until <= now())
                AND searched AND idle_retry AND created_at > now() - make_interval(secs => $2)
              ORDER BY (tier = 'premium') DESC, created_at
              LIMIT $4
              FOR UPDATE SKIP LOCKED
         ))
         RETURNING id, rider_id, driver_id, status AS "status: TripStatus", tier AS "tier: Tier", pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                   created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                   search_radius_km, city, rating_stars, rating_comment,
                   arrived_at, driver_name, driver_vehicle, driver_rating_sum, driver_rating_count,
                   currency, fare_estimate, estimate_distance_km, estimate_duration_secs,
                   fare_final, distance_km, duration_secs, pickup_pin, pin_attempts"#,
        lease.as_secs_f64(),
        deadline.as_secs_f64(),
        i64::try_from(lanes.due).unwrap_or(i64::MAX),
        i64::try_from(lanes.slow).unwrap_or(i64::MAX),
        i64::try_from(lanes.fresh).unwrap_or(i64::MAX),
        batched
    )
    .fetch_all(pool)
    .await?;
    picked.sort_by_key(|t| (t.tier != Tier::Premium, t.created_at));
    Ok(picked)
}

/// Takes the due REQUESTED trips of one batched city, premium first then
/// oldest, up to `limit`, and leases them for `lease` (as
/// [`pick_due_trips`]): one batch. Instances that pick at the same moment
/// split the due trips (`SKIP LOCKED`); the first usually takes them all.
pub async fn pick_batch(
    pool: &PgPool,
    lease: std::time::Duration,
    city: &str,
    limit: usize,
) -> Result<Vec<TripRow>, sqlx::Error> {
    let mut picked = sqlx::query_as!(
        TripRow,
        r#"UPDATE trips SET leased_until = now() + make_interval(secs => $1)
         WHERE id = ANY(ARRAY(
             SELECT id FROM trips
              WHERE status = 'REQUESTED' AND city = $2 AND next_attempt_at <= now()
                AND (leased_until IS NULL OR leased_until <= now())
              ORDER BY (tier = 'premium') DESC, first_in_line DESC, created_at
              LIMIT $3
              FOR UPDATE SKIP LOCKED
         ))
         RETURNING id, rider_id, driver_id, status AS "status: TripStatus", tier AS "tier: Tier", pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                   created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                   search_radius_km, city, rating_stars, rating_comment,
                   arrived_at, driver_name, driver_vehicle, driver_rating_sum, driver_rating_count,
                   currency, fare_estimate, estimate_distance_km, estimate_duration_secs,
                   fare_final, distance_km, duration_secs, pickup_pin, pin_attempts"#,
        lease.as_secs_f64(),
        city,
        i64::try_from(limit).unwrap_or(i64::MAX)
    )
    .fetch_all(pool)
    .await?;
    picked.sort_by_key(|t| (t.tier != Tier::Premium, t.created_at));
    Ok(picked)
}

/// Which of these trips are first in line (a batch's claim for them failed).
pub async fn first_in_line(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM trips WHERE id = ANY($1) AND first_in_line",
        ids
    )
    .fetch_all(pool)
    .await
}

/// How many trips of each lane one pass takes at most.
#[derive(Clone, Copy, Debug)]
pub struct Lanes {
    pub fresh: usize,
    pub due: usize,
    pub slow: usize,
}

/// When a REQUESTED trip is next looked at (for a reason: its offer runs
/// out then), and how far it will search. Ends the pass's lease. It got a
/// driver (an offer), so it is not starved.
pub async fn schedule(
    conn: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    at: DateTime<Utc>,
    radius_km: f64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE trips SET next_attempt_at = $2, search_radius_km = $3, leased_until = NULL,
                          idle_retry = false, searched = true, starved = false,
                          first_in_line = false
         WHERE id = $1 AND status = 'REQUESTED'",
        id,
        at,
        radius_km
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The trips whose offers a pass opened wait for the answers: each is due
/// again when its offer expires, as [`schedule`] does for one. Rows are
/// locked in id order, as every multi-row writer of trips here takes them,
/// so two such statements never deadlock. The ids still REQUESTED.
pub async fn schedule_offered(
    conn: &mut PgConnection,
    ids: &[Uuid],
    at: &[DateTime<Utc>],
    radius_km: &[f64],
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE trips t SET next_attempt_at = s.at, search_radius_km = s.radius_km,
                            leased_until = NULL, idle_retry = false, searched = true,
                            starved = false, first_in_line = false
         FROM unnest($1::uuid[], $2::timestamptz[], $3::float8[]) AS s(id, at, radius_km)
         WHERE t.id = s.id
           AND t.id IN (SELECT id FROM trips WHERE id = ANY($1) AND status = 'REQUESTED'
                         ORDER BY id FOR UPDATE)
         RETURNING t.id",
        ids,
        at,
        radius_km
    )
    .fetch_all(conn)
    .await
}

/// When the trips of a pass that got nobody search again. One statement for
/// the pass, whatever its size; ends their leases. They are starved until
/// they get an offer: younger trips yield to them the drivers they can use
/// (see [`wanted_by_queue_ahead`]).
pub async fn schedule_misses(pool: &PgPool, misses: &[NextSearch]) -> Result<(), sqlx::Error> {
    let id: Vec<Uuid> = misses.iter().map(|m| m.trip_id).collect();
    let at: Vec<DateTime<Utc>> = misses.iter().map(|m| m.at).collect();
    let radius_km: Vec<f64> = misses.iter().map(|m| m.radius_km).collect();
    let idle_retry: Vec<bool> = misses.iter().map(|m| m.idle_retry).collect();
    let first_in_line: Vec<bool> = misses.iter().map(|m| m.first_in_line).collect();
    sqlx::query!(
        "UPDATE trips t SET next_attempt_at = s.at, search_radius_km = s.radius_km,
                            idle_retry = s.idle_retry, leased_until = NULL,
                            searched = true, starved = true,
                            first_in_line = s.first_in_line
         FROM unnest($1::uuid[], $2::timestamptz[], $3::float8[], $4::bool[], $5::bool[])
              AS s(id, at, radius_km, idle_retry, first_in_line)
         WHERE t.id = s.id AND t.status = 'REQUESTED'",
        &id,
        &at,
        &radius_km,
        &idle_retry,
        &first_in_line
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// A trip's next search after a pass found it nobody.
pub struct NextSearch {
    pub trip_id: Uuid,
    pub at: DateTime<Utc>,
    pub radius_km: f64,
    /// It searches again on its timer (the slow lane: it found nobody, or
    /// yielded to trips ahead), as opposed to at once because trips earlier
    /// in its pass took the drivers it found.
    pub idle_retry: bool,
    /// Batched: its claim failed because its driver went away; the next
    /// batch serves it first (after premium trips).
    pub first_in_line: bool,
}

/// A declined trip is due at once: the next driver is searched for now.
pub async fn due_now(conn: impl sqlx::PgExecutor<'_>, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE trips SET next_attempt_at = now(), leased_until = NULL, idle_retry = false
         WHERE id = $1 AND status = 'REQUESTED'",
        id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Makes the trip due by `at` at the latest (an earlier time stands).
pub async fn due_by(pool: &PgPool, id: Uuid, at: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE trips SET next_attempt_at = least(next_attempt_at, $2)
         WHERE id = $1 AND status = 'REQUESTED'",
        id,
        at
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// How many starved trips nearest a point (index `trips_starved_pickup`,
/// nearest first) a probe reads at most. It bounds the cost of waking trips
/// near a freed driver and of asking whether a trip ahead wants a
/// candidate, however dense the queue: queue order holds among these
/// nearest trips, which in a crowd are all within a few hundred metres.
/// Both probes also read only inside `reach_km` (the widest search radius
/// of any city) of the driver, as a box the index answers: no trip farther
/// away can have the driver in its radius, and a driver with no starved
/// trip near it costs an index descent and nothing more.
///
/// Only starved trips (waiting, their last search found nobody) are in that
/// index, because only they can use a driver the probes ask about: a trip
/// with a live offer is busy, one never searched or whose offer just ended
/// is due and searches in the next pass anyway.
const NEAREST_PROBED: i64 = 64;

/// A transaction for one neighbourhood probe ([`wake_near`],
/// [`wanted_by_queue_ahead`]), planned so that its cost stays bounded.
///
/// Each probe's inner search is "the [`NEAREST_PROBED`] starved trips
/// nearest this driver, inside the box": bounded only if Postgres walks
/// `trips_starved_pickup` nearest first and stops after that many entries.
/// Left alone, the planner rarely does, because every other plan looks
/// cheap to it at rush hour: it prices a box at a constant handful of
/// rows, so it reads every starved trip in the box with a bitmap scan and
/// sorts them by distance; and with statistics taken in a quieter hour
/// (few trips waiting; autovacuum analyzes a busy database once a minute
/// at best) it walks every waiting trip in queue order and sorts those.
/// Either reads the whole crowd for every driver asked about. Measured
/// (session 16, 100 drivers probed, 1,400-2,200 starved trips in a 2.5 km
/// disc): 126 ms (bitmap) and 208 ms (stale statistics) against 14-23 ms
/// walking the index.
///
/// So, for this transaction only: no bitmap scans, and sorts priced out,
/// which leaves the nearest-first walk as the only plan that needs no
/// sort before its limit (the probe's one real sort, of at most
/// [`NEAREST_PROBED`] rows into queue order, still runs). JIT is off
/// because those prices would otherwise make every probe pay for
/// compiling itself (0.4 s).
///
/// Sequential scans are priced out too: the `offers` lookups run once per
/// trip looked at, and on a table the planner has no statistics for yet
/// (a new database, its first minute of traffic) it read the whole of
/// `offers` for each of them instead of one index entry. Caught with
/// `auto_explain` in session 18: a probe of 178 drivers took 419 ms and
/// 32,944 buffers, 17,305 of them re-reading a 3,000-row `offers` 96
/// times; the same probe with the indexes reads a few hundred.
///
/// And the plan is made once per connection, not per call: with the costs
/// above the plan has one shape whatever the arguments, yet Postgres's
/// default (`plan_cache_mode = auto`) planned the two probes afresh on
/// every call, 0.35 ms each, more than their 0.3-0.4 ms of execution
/// (session 21, `pg_stat_statements` with `track_planning`: 3.6 s of
/// planning in one rush run). A generic plan cannot freeze on a sequential
/// scan made while the tables were small, because those are priced out.
async fn begin_probe(pool: &PgPool) -> Result<sqlx::Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "SELECT set_config('enable_bitmapscan', 'off', true),
                set_config('enable_sort', 'off', true),
                set_config('enable_seqscan', 'off', true),
                set_config('jit', 'off', true),
                set_config('plan_cache_mode', 'force_generic_plan', true)",
    )
    .execute(&mut *tx)
    .await?;
    Ok(tx)
}

/// Makes due, for each freed driver, the `per_driver` first waiting trips in
/// queue order (premium first, then oldest) among the starved trips
/// nearest it that could use it: not due yet (or due only in the slow
/// lane, see [`pick_due_trips`]), no live offer, never offered
/// this driver, and the driver inside the trip's current search radius.
/// Each driver reads at most [`NEAREST_PROBED`] index entries, never the
/// whole queue, and asks `offers` only about those, in queue order, until
/// `per_driver` pass ([`wanted_by_queue_ahead`] says how). Returns the trips
/// made due.
pub async fn wake_near(
    pool: &PgPool,
    freed: &[FreedDriver],
    per_driver: i64,
    reach_km: f64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    let driver_id: Vec<Uuid> = freed.iter().map(|f| f.driver_id).collect();
    let lat: Vec<f64> = freed.iter().map(|f| f.at.lat).collect();
    let lng: Vec<f64> = freed.iter().map(|f| f.at.lng).collect();
    // Read in the probe's transaction, then written by id: the planner
    // settings that keep the probe bounded would make the probe as a
    // subquery of the UPDATE read every active trip to join them up.
    let mut tx = begin_probe(pool).await?;
    let mut wanted = sqlx::query_scalar!(
        r#"SELECT woken.id AS "id!"
             FROM unnest($1::uuid[], $2::float8[], $3::float8[]) AS f(driver_id, lat, lng)
             CROSS JOIN LATERAL (
               SELECT q.id FROM (
                 SELECT n.id FROM (
                   SELECT t.id, t.tier, t.created_at, t.pickup_lat, t.pickup_lng,
                          t.search_radius_km, t.next_attempt_at, t.idle_retry
                   FROM trips t
                   WHERE t.status = 'REQUESTED' AND t.starved
                     AND point(t.pickup_lng, t.pickup_lat) <@ box(
                           point(f.lng - $6 / (111.0 * cos(radians(f.lat))), f.lat - $6 / 111.0),
                           point(f.lng + $6 / (111.0 * cos(radians(f.lat))), f.lat + $6 / 111.0))
                   ORDER BY point(t.pickup_lng, t.pickup_lat) <-> point(f.lng, f.lat)
                   LIMIT $4
                 ) n
                 WHERE (n.next_attempt_at > now() OR n.idle_retry)
                   AND 2 * 6372.797560856 * asin(sqrt(
                         power(sin(radians(f.lat - n.pickup_lat) / 2), 2)
                         + cos(radians(n.pickup_lat)) * cos(radians(f.lat))
                           * power(sin(radians(f.lng - n.pickup_lng) / 2), 2)
                       )) <= n.search_radius_km
                 ORDER BY (n.tier = 'premium') DESC, n.created_at
                 OFFSET 0
               ) q
               WHERE NOT EXISTS (SELECT 1 FROM offers o
                                 WHERE o.trip_id = q.id AND o.status IN ('CLAIMING', 'OPEN'))
                 AND NOT EXISTS (SELECT 1 FROM offers o
                                 WHERE o.trip_id = q.id AND o.driver_id = f.driver_id)
               LIMIT $5
             ) woken"#,
        &driver_id,
        &lat,
        &lng,
        NEAREST_PROBED,
        per_driver,
        reach_km
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    wanted.sort_unstable();
    wanted.dedup();
    sqlx::query_scalar!(
        "UPDATE trips SET next_attempt_at = now(), idle_retry = false
         WHERE id = ANY($1) AND status = 'REQUESTED'
         RETURNING id",
        &wanted
    )
    .fetch_all(pool)
    .await
}

/// A waiting trip (no offer, not mid-pass) is always due within this: it was
/// scheduled at most the longest back-off ahead, or made due at once.
const WAITING_DUE_WITHIN_SECS: f64 =
    RETRY_EMPTY_SEARCH.as_secs_f64() * (MAX_RETRY_STEPS as f64 + 1.0);

/// A candidate driver one trip of a batch found, for [`wanted_by_queue_ahead`].
pub struct CandidatePair {
    pub premium: bool,
    pub created_at: DateTime<Utc>,
    pub driver_id: Uuid,
    pub lat: f64,
    pub lng: f64,
}

/// Which of `pairs` (by index) a trip ahead in the queue (premium first,
/// then oldest) also wants, and the first such trip: one outside `batch`,
/// starved (its last search got it no driver), waiting (no offer, not
/// mid-pass), that never tried the driver and has it inside its own search
/// radius. A trip that has not searched since it was requested or since its
/// last offer ended is not yet known to need this driver: it searches in
/// the next pass (fresh and answered-offer trips are picked first) and
/// claims in queue order there, so nobody waits for it meanwhile.
///
/// One probe per distinct driver, however many trips of the batch found it
/// (in a crowd they all find the same few): it reads at most the
/// [`NEAREST_PROBED`] requested trips nearest the driver and keeps the first
/// in queue order that could take it; a pair is wanted when that trip is
/// ahead of the pair's own. Its cost is bounded whatever the length of the
/// queue.
///
/// The `offers` lookups (a live offer, this driver tried) are the dear
/// part: they run on the nearest trips already sorted in queue order, one
/// trip after the other until one passes, so at rush hour a probe asks
/// about one or two trips instead of all 64 (session 14: 25 ms a call
/// before, with 1,400 trips waiting). `OFFSET 0` keeps the planner from
/// moving them below the sort; each is one small index lookup (the live
/// offer by `offers_one_live_per_trip`, the pair by
/// `offers_by_trip_driver`).
pub async fn wanted_by_queue_ahead(
    pool: &PgPool,
    pairs: &[CandidatePair],
    batch: &[Uuid],
    reach_km: f64,
) -> Result<Vec<(usize, Uuid)>, sqlx::Error> {
    let mut drivers: Vec<&CandidatePair> = Vec::new();
    for pair in pairs {
        if !drivers.iter().any(|d| d.driver_id == pair.driver_id) {
            drivers.push(pair);
        }
    }
    if drivers.is_empty() {
        return Ok(Vec::new());
    }
    let driver_id: Vec<Uuid> = drivers.iter().map(|p| p.driver_id).collect();
    let lat: Vec<f64> = drivers.iter().map(|p| p.lat).collect();
    let lng: Vec<f64> = drivers.iter().map(|p| p.lng).collect();
    let mut tx = begin_probe(pool).await?;
    let first_waiting = sqlx::query!(
        r#"SELECT c.driver_id AS "driver_id!", ahead.id AS "trip_id!",
                  ahead.premium AS "premium!", ahead.created_at AS "created_at!"
           FROM unnest($1::uuid[], $2::float8[], $3::float8[]) AS c(driver_id, lat, lng)
           CROSS JOIN LATERAL (
             SELECT q.id, q.premium, q.created_at FROM (
               SELECT n.id, n.tier = 'premium' AS premium, n.created_at FROM (
                 SELECT w.id, w.tier, w.created_at, w.pickup_lat, w.pickup_lng,
                        w.search_radius_km, w.next_attempt_at, w.leased_until, w.starved
                 FROM trips w
                 WHERE w.status = 'REQUESTED' AND w.starved
                   AND point(w.pickup_lng, w.pickup_lat) <@ box(
                         point(c.lng - $7 / (111.0 * cos(radians(c.lat))), c.lat - $7 / 111.0),
                         point(c.lng + $7 / (111.0 * cos(radians(c.lat))), c.lat + $7 / 111.0))
                 ORDER BY point(w.pickup_lng, w.pickup_lat) <-> point(c.lng, c.lat)
                 LIMIT $6
               ) n
               WHERE n.id <> ALL($4::uuid[])
                 AND n.next_attempt_at <= now() + make_interval(secs => $5)
                 AND (n.leased_until IS NULL OR n.leased_until <= now())
                 AND 2 * 6372.797560856 * asin(sqrt(
                       power(sin(radians(c.lat - n.pickup_lat) / 2), 2)
                       + cos(radians(n.pickup_lat)) * cos(radians(c.lat))
                         * power(sin(radians(c.lng - n.pickup_lng) / 2), 2)
                     )) <= n.search_radius_km
               ORDER BY (n.tier = 'premium') DESC, n.created_at
               OFFSET 0
             ) q
             WHERE NOT EXISTS (SELECT 1 FROM offers o
                               WHERE o.trip_id = q.id AND o.status IN ('CLAIMING', 'OPEN'))
               AND NOT EXISTS (SELECT 1 FROM offers o
                               WHERE o.trip_id = q.id AND o.driver_id = c.driver_id)
             LIMIT 1
           ) ahead"#,
        &driver_id,
        &lat,
        &lng,
        batch,
        WAITING_DUE_WITHIN_SECS,
        NEAREST_PROBED,
        reach_km
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(pairs
        .iter()
        .enumerate()
        .filter_map(|(k, pair)| {
            let first = first_waiting
                .iter()
                .find(|w| w.driver_id == pair.driver_id)?;
            // Queue order: premium first, then oldest.
            let ahead = (first.premium, std::cmp::Reverse(first.created_at))
                > (pair.premium, std::cmp::Reverse(pair.created_at));
            ahead.then_some((k, first.trip_id))
        })
        .collect())
}

/// Makes these waiting trips due now (a trip of a pass yielded its driver to
/// them).
pub async fn make_due(pool: &PgPool, ids: &[Uuid]) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE trips SET next_attempt_at = now(), idle_retry = false
         WHERE id = ANY($1) AND status = 'REQUESTED'
           AND (next_attempt_at > now() OR idle_retry)",
        ids
    )
    .execute(pool)
    .await?;
    Ok(())
}

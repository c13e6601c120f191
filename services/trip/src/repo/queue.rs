//! The dispatch queue: due REQUESTED trips, leased in queue order, and
//! which candidates a waiting trip ahead in the queue wants.

use chrono::{DateTime, Utc};
use hail_shared::api::trips::{Tier, TripStatus};
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::dispatch::{FreedDriver, MAX_RETRY_STEPS, RETRY_EMPTY_SEARCH};

use super::TripRow;

/// Takes up to `limit` due REQUESTED trips, in queue order (premium first,
/// then oldest), and leases them for `lease`: other workers skip them
/// meanwhile, and if this worker dies the lease runs out and they are picked
/// again.
pub async fn pick_due_trips(
    pool: &PgPool,
    lease: std::time::Duration,
    limit: usize,
) -> Result<Vec<TripRow>, sqlx::Error> {
    let mut picked = sqlx::query_as!(
        TripRow,
        r#"UPDATE trips SET leased_until = now() + make_interval(secs => $1)
         WHERE id = ANY(ARRAY(
             SELECT id FROM trips
             WHERE status = 'REQUESTED' AND next_attempt_at <= now()
               AND (leased_until IS NULL OR leased_until <= now())
             ORDER BY (tier = 'premium') DESC, created_at
             LIMIT $2
             FOR UPDATE SKIP LOCKED
         ))
         RETURNING id, rider_id, driver_id, status AS "status: TripStatus", tier AS "tier: Tier", pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                   created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                   search_radius_km"#,
        lease.as_secs_f64(),
        i64::try_from(limit).unwrap_or(i64::MAX)
    )
    .fetch_all(pool)
    .await?;
    picked.sort_by_key(|t| (t.tier != Tier::Premium, t.created_at));
    Ok(picked)
}

/// When a REQUESTED trip is next looked at, and how far it will search. Ends
/// the pass's lease.
pub async fn schedule(
    conn: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    at: DateTime<Utc>,
    radius_km: f64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE trips SET next_attempt_at = $2, search_radius_km = $3, leased_until = NULL
         WHERE id = $1 AND status = 'REQUESTED'",
        id,
        at,
        radius_km
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A declined trip is due at once: the next driver is searched for now.
pub async fn due_now(conn: impl sqlx::PgExecutor<'_>, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE trips SET next_attempt_at = now(), leased_until = NULL
         WHERE id = $1 AND status = 'REQUESTED'",
        id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// How many REQUESTED trips nearest a point (index `trips_waiting_pickup`,
/// nearest first) a probe reads at most. It bounds the cost of waking trips
/// near a freed driver and of asking whether a trip ahead wants a
/// candidate, however dense the queue: queue order holds among these
/// nearest trips, which in a crowd are all within a few hundred metres.
const NEAREST_PROBED: i64 = 64;

/// Makes due, for each freed driver, the `per_driver` first waiting trips in
/// queue order (premium first, then oldest) among the requested trips
/// nearest it that could use it: not due yet, no live offer, never offered
/// this driver, and the driver inside the trip's current search radius.
/// Each driver reads at most [`NEAREST_PROBED`] index entries, never the
/// whole queue. Returns the trips made due.
pub async fn wake_near(
    pool: &PgPool,
    freed: &[FreedDriver],
    per_driver: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    let driver_id: Vec<Uuid> = freed.iter().map(|f| f.driver_id).collect();
    let lat: Vec<f64> = freed.iter().map(|f| f.at.lat).collect();
    let lng: Vec<f64> = freed.iter().map(|f| f.at.lng).collect();
    sqlx::query_scalar!(
        r#"UPDATE trips SET next_attempt_at = now()
           WHERE id IN (
             SELECT w.id
             FROM unnest($1::uuid[], $2::float8[], $3::float8[]) AS f(driver_id, lat, lng)
             CROSS JOIN LATERAL (
               SELECT n.id FROM (
                 SELECT t.id, t.tier, t.created_at, t.pickup_lat, t.pickup_lng,
                        t.search_radius_km, t.next_attempt_at
                 FROM trips t
                 WHERE t.status = 'REQUESTED'
                 ORDER BY point(t.pickup_lng, t.pickup_lat) <-> point(f.lng, f.lat)
                 LIMIT $4
               ) n
               WHERE n.next_attempt_at > now()
                 AND NOT EXISTS (SELECT 1 FROM offers o
                                 WHERE o.trip_id = n.id
                                   AND (o.status IN ('CLAIMING', 'OPEN') OR o.driver_id = f.driver_id))
                 AND 2 * 6372.797560856 * asin(sqrt(
                       power(sin(radians(f.lat - n.pickup_lat) / 2), 2)
                       + cos(radians(n.pickup_lat)) * cos(radians(f.lat))
                         * power(sin(radians(f.lng - n.pickup_lng) / 2), 2)
                     )) <= n.search_radius_km
               ORDER BY (n.tier = 'premium') DESC, n.created_at
               LIMIT $5
             ) w
           )
           RETURNING id"#,
        &driver_id,
        &lat,
        &lng,
        NEAREST_PROBED,
        per_driver
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
/// waiting (no offer, not mid-pass), that never tried the driver and has it
/// inside its own search radius. Each pair reads at most the
/// [`NEAREST_PROBED`] requested trips nearest the candidate and stops at the
/// first such trip, so its cost is bounded whatever the length of the queue.
pub async fn wanted_by_queue_ahead(
    pool: &PgPool,
    pairs: &[CandidatePair],
    batch: &[Uuid],
) -> Result<Vec<(usize, Uuid)>, sqlx::Error> {
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let index: Vec<i32> = (0..pairs.len())
        .map(|i| i32::try_from(i).unwrap_or(i32::MAX))
        .collect();
    let premium: Vec<bool> = pairs.iter().map(|p| p.premium).collect();
    let created_at: Vec<DateTime<Utc>> = pairs.iter().map(|p| p.created_at).collect();
    let driver_id: Vec<Uuid> = pairs.iter().map(|p| p.driver_id).collect();
    let lat: Vec<f64> = pairs.iter().map(|p| p.lat).collect();
    let lng: Vec<f64> = pairs.iter().map(|p| p.lng).collect();
    let wanted = sqlx::query!(
        r#"SELECT c.pair AS "pair!", ahead.id AS "trip_id!"
           FROM unnest($1::int4[], $2::bool[], $3::timestamptz[], $4::uuid[], $5::float8[], $6::float8[])
                AS c(pair, premium, created_at, driver_id, lat, lng)
           CROSS JOIN LATERAL (
             SELECT n.id FROM (
               SELECT w.id, w.tier, w.created_at, w.pickup_lat, w.pickup_lng,
                      w.search_radius_km, w.next_attempt_at, w.leased_until
               FROM trips w
               WHERE w.status = 'REQUESTED'
               ORDER BY point(w.pickup_lng, w.pickup_lat) <-> point(c.lng, c.lat)
               LIMIT $9
             ) n
             WHERE n.id <> ALL($7::uuid[])
               AND n.next_attempt_at <= now() + make_interval(secs => $8)
               AND (n.leased_until IS NULL OR n.leased_until <= now())
               AND ((n.tier = 'premium') > c.premium
                    OR ((n.tier = 'premium') = c.premium AND n.created_at < c.created_at))
               AND 2 * 6372.797560856 * asin(sqrt(
                     power(sin(radians(c.lat - n.pickup_lat) / 2), 2)
                     + cos(radians(n.pickup_lat)) * cos(radians(c.lat))
                       * power(sin(radians(c.lng - n.pickup_lng) / 2), 2)
                   )) <= n.search_radius_km
               AND NOT EXISTS (SELECT 1 FROM offers o
                               WHERE o.trip_id = n.id
                                 AND (o.status IN ('CLAIMING', 'OPEN') OR o.driver_id = c.driver_id))
             LIMIT 1
           ) ahead"#,
        &index,
        &premium,
        &created_at,
        &driver_id,
        &lat,
        &lng,
        batch,
        WAITING_DUE_WITHIN_SECS,
        NEAREST_PROBED
    )
    .fetch_all(pool)
    .await?;
    Ok(wanted
        .into_iter()
        .filter_map(|row| Some((usize::try_from(row.pair).ok()?, row.trip_id)))
        .collect())
}

/// Makes these waiting trips due now (a trip of a pass yielded its driver to
/// them).
pub async fn make_due(pool: &PgPool, ids: &[Uuid]) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE trips SET next_attempt_at = now()
         WHERE id = ANY($1) AND status = 'REQUESTED' AND next_attempt_at > now()",
        ids
    )
    .execute(pool)
    .await?;
    Ok(())
}

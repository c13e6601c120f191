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

/// Kilometres per degree of latitude (and of longitude at the equator), for
/// the bounding boxes the waiting-trip index is probed with; a box is a
/// little larger than the circle it stands for, and the exact distance is
/// checked after.
const KM_PER_DEGREE: f64 = 111.0;

/// Makes due, for each freed driver, the `per_driver` first waiting trips in
/// queue order (premium first, then oldest) that could use it: REQUESTED,
/// not due yet, no live offer, never offered this driver, and the driver
/// inside the trip's current search radius. Each driver reads only its own
/// neighbourhood (index `trips_waiting_pickup`, a box of `max_radius_km`),
/// never the whole queue. Returns the trips made due.
pub async fn wake_near(
    pool: &PgPool,
    freed: &[FreedDriver],
    max_radius_km: f64,
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
               SELECT t.id FROM trips t
               WHERE t.status = 'REQUESTED'
                 AND point(t.pickup_lng, t.pickup_lat) <@ box(
                       point(f.lng - $4 / ($6 * greatest(cos(radians(f.lat)), 0.01)), f.lat - $4 / $6),
                       point(f.lng + $4 / ($6 * greatest(cos(radians(f.lat)), 0.01)), f.lat + $4 / $6))
                 AND t.next_attempt_at > now()
                 AND NOT EXISTS (SELECT 1 FROM offers o
                                 WHERE o.trip_id = t.id
                                   AND (o.status IN ('CLAIMING', 'OPEN') OR o.driver_id = f.driver_id))
                 AND 2 * 6372.797560856 * asin(sqrt(
                       power(sin(radians(f.lat - t.pickup_lat) / 2), 2)
                       + cos(radians(t.pickup_lat)) * cos(radians(f.lat))
                         * power(sin(radians(f.lng - t.pickup_lng) / 2), 2)
                     )) <= t.search_radius_km
               ORDER BY (t.tier = 'premium') DESC, t.created_at
               LIMIT $5
             ) w
           )
           RETURNING id"#,
        &driver_id,
        &lat,
        &lng,
        max_radius_km,
        per_driver,
        KM_PER_DEGREE
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
/// inside its own search radius. Each pair probes only its neighbourhood
/// (index `trips_waiting_pickup`, a box of `max_radius_km`) and stops at the
/// first such trip, so the cost follows the waiting trips near the
/// candidates, not the length of the whole queue.
pub async fn wanted_by_queue_ahead(
    pool: &PgPool,
    pairs: &[CandidatePair],
    batch: &[Uuid],
    max_radius_km: f64,
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
             SELECT w.id FROM trips w
             WHERE w.status = 'REQUESTED'
               AND point(w.pickup_lng, w.pickup_lat) <@ box(
                     point(c.lng - $9 / ($10 * greatest(cos(radians(c.lat)), 0.01)), c.lat - $9 / $10),
                     point(c.lng + $9 / ($10 * greatest(cos(radians(c.lat)), 0.01)), c.lat + $9 / $10))
               AND w.id <> ALL($7::uuid[])
               AND w.next_attempt_at <= now() + make_interval(secs => $8)
               AND (w.leased_until IS NULL OR w.leased_until <= now())
               AND ((w.tier = 'premium') > c.premium
                    OR ((w.tier = 'premium') = c.premium AND w.created_at < c.created_at))
               AND 2 * 6372.797560856 * asin(sqrt(
                     power(sin(radians(c.lat - w.pickup_lat) / 2), 2)
                     + cos(radians(w.pickup_lat)) * cos(radians(c.lat))
                       * power(sin(radians(c.lng - w.pickup_lng) / 2), 2)
                   )) <= w.search_radius_km
               AND NOT EXISTS (SELECT 1 FROM offers o
                               WHERE o.trip_id = w.id
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
        max_radius_km,
        KM_PER_DEGREE
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

//! The dispatch queue: due REQUESTED trips, leased in queue order, and
//! which candidates a waiting trip ahead in the queue wants.

use chrono::{DateTime, Utc};
use hail_shared::api::trips::{Tier, TripStatus};
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::dispatch::RETRY_EMPTY_SEARCH;

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

/// A driver became free: every waiting trip without a live offer is due now,
/// so the workers try them in queue order (premium first, then oldest).
pub async fn wake_waiting_trips(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE trips t SET next_attempt_at = now()
         WHERE t.status = 'REQUESTED' AND t.next_attempt_at > now()
           AND NOT EXISTS (SELECT 1 FROM offers o
                           WHERE o.trip_id = t.id AND o.status IN ('CLAIMING', 'OPEN'))"
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// A waiting trip (no offer, not mid-pass) is always due within this: it was
/// scheduled at most a retry step and a half ahead, or made due at once.
/// Reading only trips due this soon (index `trips_due`) skips every trip
/// whose offer is still open.
const WAITING_DUE_WITHIN_SECS: f64 = RETRY_EMPTY_SEARCH.as_secs_f64() * 2.0;

/// A candidate driver one trip of a batch found, for [`wanted_by_queue_ahead`].
pub struct CandidatePair {
    pub premium: bool,
    pub created_at: DateTime<Utc>,
    pub driver_id: Uuid,
    pub lat: f64,
    pub lng: f64,
}

/// Which of `pairs` (by index) a trip ahead in the queue (premium first,
/// then oldest) also wants: one outside `batch`, waiting (no offer, not mid-pass),
/// that never tried the driver and has it inside its own search radius.
pub async fn wanted_by_queue_ahead(
    pool: &PgPool,
    pairs: &[CandidatePair],
    batch: &[Uuid],
) -> Result<Vec<usize>, sqlx::Error> {
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
    let wanted = sqlx::query_scalar!(
        r#"WITH waiting AS MATERIALIZED (
             SELECT t.id, (t.tier = 'premium') AS premium, t.created_at,
                    t.pickup_lat, t.pickup_lng, t.search_radius_km
             FROM trips t
             WHERE t.status = 'REQUESTED' AND t.id <> ALL($7::uuid[])
               AND t.next_attempt_at <= now() + make_interval(secs => $8)
               AND (t.leased_until IS NULL OR t.leased_until <= now())
               AND NOT EXISTS (SELECT 1 FROM offers o
                               WHERE o.trip_id = t.id AND o.status IN ('CLAIMING', 'OPEN'))
           )
           SELECT DISTINCT c.pair AS "pair!"
           FROM unnest($1::int4[], $2::bool[], $3::timestamptz[], $4::uuid[], $5::float8[], $6::float8[])
                AS c(pair, premium, created_at, driver_id, lat, lng)
           JOIN waiting w
             ON (w.premium > c.premium OR (w.premium = c.premium AND w.created_at < c.created_at))
            AND 2 * 6372.797560856 * asin(sqrt(
                  power(sin(radians(c.lat - w.pickup_lat) / 2), 2)
                  + cos(radians(w.pickup_lat)) * cos(radians(c.lat))
                    * power(sin(radians(c.lng - w.pickup_lng) / 2), 2)
                )) <= w.search_radius_km
           WHERE NOT EXISTS (SELECT 1 FROM offers o
                             WHERE o.trip_id = w.id AND o.driver_id = c.driver_id)"#,
        &index,
        &premium,
        &created_at,
        &driver_id,
        &lat,
        &lng,
        batch,
        WAITING_DUE_WITHIN_SECS
    )
    .fetch_all(pool)
    .await?;
    Ok(wanted
        .into_iter()
        .filter_map(|i| usize::try_from(i).ok())
        .collect())
}

//! SQL for the `trip` schema. Every state move is one conditional
//! `UPDATE ... WHERE status = ANY(<the move's legal starting statuses>)`:
//! the database, not a read-then-write in Rust, decides races.

use chrono::{DateTime, Utc};
use hail_shared::{
    api::{
        geo::LatLng,
        trips::{DispatchEvent, Tier, Trip, TripStatus},
    },
    ApiError,
};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::{dispatch::RETRY_EMPTY_SEARCH, lifecycle::Move};

pub struct TripRow {
    pub id: Uuid,
    pub rider_id: Uuid,
    pub driver_id: Option<Uuid>,
    pub status: String,
    pub tier: String,
    pub pickup_lat: f64,
    pub pickup_lng: f64,
    pub dropoff_lat: f64,
    pub dropoff_lng: f64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    pub search_radius_km: f64,
}

impl TripRow {
    pub fn status(&self) -> Result<TripStatus, ApiError> {
        self.status.parse().map_err(|_| {
            ApiError::internal(format!("trip {} has status {:?}", self.id, self.status))
        })
    }

    pub fn pickup(&self) -> LatLng {
        LatLng::new(self.pickup_lat, self.pickup_lng)
    }

    pub fn to_trip(&self) -> Result<Trip, ApiError> {
        Ok(Trip {
            id: self.id,
            rider_id: self.rider_id,
            driver_id: self.driver_id,
            status: self.status()?,
            tier: self.tier.parse().map_err(|_| {
                ApiError::internal(format!("trip {} has tier {:?}", self.id, self.tier))
            })?,
            pickup: self.pickup(),
            dropoff: LatLng::new(self.dropoff_lat, self.dropoff_lng),
            created_at: self.created_at,
            updated_at: self.updated_at,
            assigned_at: self.assigned_at,
            started_at: self.started_at,
            completed_at: self.completed_at,
            cancelled_at: self.cancelled_at,
            cancel_reason: self.cancel_reason.clone(),
        })
    }
}

pub struct NewTrip {
    pub id: Uuid,
    pub rider_id: Uuid,
    pub tier: Tier,
    pub pickup: LatLng,
    pub dropoff: LatLng,
    pub search_radius_km: f64,
}

/// Inserts a REQUESTED trip; `None` when the rider already has an active one
/// (the partial unique index decides, also under concurrent requests).
pub async fn insert_trip(
    conn: &mut PgConnection,
    new: &NewTrip,
) -> Result<Option<TripRow>, sqlx::Error> {
    let inserted = sqlx::query_as!(
        TripRow,
        "INSERT INTO trips (id, rider_id, tier, pickup_lat, pickup_lng, dropoff_lat, dropoff_lng, search_radius_km)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         RETURNING id, rider_id, driver_id, status, tier, pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                   created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                   search_radius_km",
        new.id,
        new.rider_id,
        new.tier.as_str(),
        new.pickup.lat,
        new.pickup.lng,
        new.dropoff.lat,
        new.dropoff.lng,
        new.search_radius_km,
    )
    .fetch_one(conn)
    .await;
    match inserted {
        Ok(row) => Ok(Some(row)),
        Err(err)
            if err
                .as_database_error()
                .is_some_and(|e| e.is_unique_violation()) =>
        {
            Ok(None)
        }
        Err(err) => Err(err),
    }
}

/// Records `key` for this rider and trip. `false` when the rider already used
/// the key (a concurrent first use blocks here until it commits or aborts).
pub async fn claim_idempotency_key(
    conn: &mut PgConnection,
    rider_id: Uuid,
    key: &str,
    body_hash: &str,
    trip_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query!(
        "INSERT INTO idempotency_keys (rider_id, key, body_hash, trip_id) VALUES ($1, $2, $3, $4)
         ON CONFLICT (rider_id, key) DO NOTHING",
        rider_id,
        key,
        body_hash,
        trip_id
    )
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// The body hash and trip of an earlier use of `key`.
pub async fn find_idempotency_key(
    conn: &mut PgConnection,
    rider_id: Uuid,
    key: &str,
) -> Result<Option<(String, Uuid)>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT body_hash, trip_id FROM idempotency_keys WHERE rider_id = $1 AND key = $2",
        rider_id,
        key
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.body_hash, r.trip_id)))
}

pub async fn find_trip(
    conn: impl sqlx::PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<TripRow>, sqlx::Error> {
    sqlx::query_as!(
        TripRow,
        "SELECT id, rider_id, driver_id, status, tier, pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                search_radius_km
         FROM trips WHERE id = $1",
        id
    )
    .fetch_optional(conn)
    .await
}

/// The caller's trips, newest first: as rider, or as the trip's driver.
pub async fn list_trips(
    pool: &PgPool,
    user_id: Uuid,
    limit: i64,
) -> Result<Vec<TripRow>, sqlx::Error> {
    sqlx::query_as!(
        TripRow,
        "SELECT id, rider_id, driver_id, status, tier, pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                search_radius_km
         FROM trips WHERE rider_id = $1 OR driver_id = $1
         ORDER BY created_at DESC LIMIT $2",
        user_id,
        limit
    )
    .fetch_all(pool)
    .await
}

/// REQUESTED -> ASSIGNED to `driver_id`.
pub async fn assign(
    conn: &mut PgConnection,
    id: Uuid,
    driver_id: Uuid,
) -> Result<Option<TripRow>, sqlx::Error> {
    sqlx::query_as!(
        TripRow,
        "UPDATE trips SET status = 'ASSIGNED', driver_id = $2, assigned_at = now(), updated_at = now()
         WHERE id = $1 AND status = ANY($3)
         RETURNING id, rider_id, driver_id, status, tier, pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                   created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                   search_radius_km",
        id,
        driver_id,
        &Move::Assign.legal_from()
    )
    .fetch_optional(conn)
    .await
}

/// ASSIGNED -> ONGOING, by the assigned driver.
pub async fn start(
    conn: &mut PgConnection,
    id: Uuid,
    driver_id: Uuid,
) -> Result<Option<TripRow>, sqlx::Error> {
    sqlx::query_as!(
        TripRow,
        "UPDATE trips SET status = 'ONGOING', started_at = now(), updated_at = now()
         WHERE id = $1 AND driver_id = $2 AND status = ANY($3)
         RETURNING id, rider_id, driver_id, status, tier, pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                   created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                   search_radius_km",
        id,
        driver_id,
        &Move::Start.legal_from()
    )
    .fetch_optional(conn)
    .await
}

/// ONGOING -> COMPLETED, by the assigned driver.
pub async fn complete(
    conn: &mut PgConnection,
    id: Uuid,
    driver_id: Uuid,
) -> Result<Option<TripRow>, sqlx::Error> {
    sqlx::query_as!(
        TripRow,
        "UPDATE trips SET status = 'COMPLETED', completed_at = now(), updated_at = now()
         WHERE id = $1 AND driver_id = $2 AND status = ANY($3)
         RETURNING id, rider_id, driver_id, status, tier, pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                   created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                   search_radius_km",
        id,
        driver_id,
        &Move::Complete.legal_from()
    )
    .fetch_optional(conn)
    .await
}

/// REQUESTED | ASSIGNED | ONGOING -> CANCELLED, by the rider.
pub async fn rider_cancel(
    conn: &mut PgConnection,
    id: Uuid,
    rider_id: Uuid,
    reason: Option<&str>,
) -> Result<Option<TripRow>, sqlx::Error> {
    sqlx::query_as!(
        TripRow,
        "UPDATE trips SET status = 'CANCELLED', cancelled_at = now(), updated_at = now(),
                          cancel_reason = COALESCE($3, 'rider cancelled'), cancelled_by = 'rider'
         WHERE id = $1 AND rider_id = $2 AND status = ANY($4)
         RETURNING id, rider_id, driver_id, status, tier, pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                   created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                   search_radius_km",
        id,
        rider_id,
        reason,
        &Move::RiderCancel.legal_from()
    )
    .fetch_optional(conn)
    .await
}

/// When the rider's own cancels of the last `window` happened, oldest first.
pub async fn recent_rider_cancels(
    conn: &mut PgConnection,
    rider_id: Uuid,
    window: std::time::Duration,
) -> Result<Vec<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT cancelled_at AS "cancelled_at!" FROM trips
           WHERE rider_id = $1 AND cancelled_by = 'rider'
             AND cancelled_at > now() - make_interval(secs => $2)
           ORDER BY cancelled_at"#,
        rider_id,
        window.as_secs_f64()
    )
    .fetch_all(conn)
    .await
}

/// ASSIGNED -> REQUESTED (back in the queue, at once) or ONGOING ->
/// CANCELLED, by the assigned driver. One statement, so the status read and
/// the move cannot be split by a concurrent change.
pub async fn driver_cancel(
    conn: &mut PgConnection,
    id: Uuid,
    driver_id: Uuid,
    reason: Option<&str>,
) -> Result<Option<TripRow>, sqlx::Error> {
    sqlx::query_as!(
        TripRow,
        "UPDATE trips SET
             status = CASE status WHEN 'ASSIGNED' THEN 'REQUESTED' ELSE 'CANCELLED' END,
             driver_id = CASE status WHEN 'ASSIGNED' THEN NULL ELSE driver_id END,
             assigned_at = CASE status WHEN 'ASSIGNED' THEN NULL ELSE assigned_at END,
             cancelled_at = CASE status WHEN 'ASSIGNED' THEN NULL ELSE now() END,
             cancel_reason = CASE status WHEN 'ASSIGNED' THEN NULL
                                 ELSE COALESCE($3, 'driver cancelled') END,
             cancelled_by = CASE status WHEN 'ASSIGNED' THEN NULL ELSE 'driver' END,
             next_attempt_at = now(),
             leased_until = NULL,
             updated_at = now()
         WHERE id = $1 AND driver_id = $2 AND status = ANY($4)
         RETURNING id, rider_id, driver_id, status, tier, pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                   created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                   search_radius_km",
        id,
        driver_id,
        reason,
        &Move::DriverCancel.legal_from()
    )
    .fetch_optional(conn)
    .await
}

/// REQUESTED -> NO_DRIVER.
pub async fn give_up(conn: &mut PgConnection, id: Uuid) -> Result<Option<TripRow>, sqlx::Error> {
    sqlx::query_as!(
        TripRow,
        "UPDATE trips SET status = 'NO_DRIVER', updated_at = now()
         WHERE id = $1 AND status = ANY($2)
         RETURNING id, rider_id, driver_id, status, tier, pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                   created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                   search_radius_km",
        id,
        &Move::SearchExpired.legal_from()
    )
    .fetch_optional(conn)
    .await
}

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
        "UPDATE trips SET leased_until = now() + make_interval(secs => $1)
         WHERE id = ANY(ARRAY(
             SELECT id FROM trips
             WHERE status = 'REQUESTED' AND next_attempt_at <= now()
               AND (leased_until IS NULL OR leased_until <= now())
             ORDER BY (tier = 'premium') DESC, created_at
             LIMIT $2
             FOR UPDATE SKIP LOCKED
         ))
         RETURNING id, rider_id, driver_id, status, tier, pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                   created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                   search_radius_km",
        lease.as_secs_f64(),
        i64::try_from(limit).unwrap_or(i64::MAX)
    )
    .fetch_all(pool)
    .await?;
    picked.sort_by_key(|t| (t.tier != "premium", t.created_at));
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

pub struct OfferRow {
    pub id: Uuid,
    pub trip_id: Uuid,
    pub driver_id: Uuid,
    pub status: String,
    pub expires_at: Option<DateTime<Utc>>,
}

impl OfferRow {
    /// CLAIMING or OPEN: the trip's one live offer.
    pub fn is_live(&self) -> bool {
        matches!(self.status.as_str(), "CLAIMING" | "OPEN")
    }
}

/// Every offer row of these trips.
pub async fn offers_of(pool: &PgPool, trip_ids: &[Uuid]) -> Result<Vec<OfferRow>, sqlx::Error> {
    sqlx::query_as!(
        OfferRow,
        "SELECT id, trip_id, driver_id, status, expires_at FROM offers
         WHERE trip_id = ANY($1)",
        trip_ids
    )
    .fetch_all(pool)
    .await
}

pub async fn was_offered(
    pool: &PgPool,
    trip_id: Uuid,
    driver_id: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM offers WHERE trip_id = $1 AND driver_id = $2) AS "exists!""#,
        trip_id,
        driver_id
    )
    .fetch_one(pool)
    .await
}

/// A claim about to be made, noted first as a CLAIMING offer row.
#[derive(Clone)]
pub struct Intent {
    pub offer_id: Uuid,
    pub trip_id: Uuid,
    pub driver_id: Uuid,
    pub distance_km: f64,
}

/// Notes the intents before claiming, so a worker that dies mid-claim leaves
/// a trace the next one cleans up. Returns the trips noted: a trip missing
/// already has a live offer (another worker got there).
pub async fn insert_claimings(pool: &PgPool, intents: &[Intent]) -> Result<Vec<Uuid>, sqlx::Error> {
    let ids: Vec<Uuid> = intents.iter().map(|i| i.offer_id).collect();
    let trips: Vec<Uuid> = intents.iter().map(|i| i.trip_id).collect();
    let drivers: Vec<Uuid> = intents.iter().map(|i| i.driver_id).collect();
    let distances: Vec<f64> = intents.iter().map(|i| i.distance_km).collect();
    sqlx::query_scalar!(
        "INSERT INTO offers (id, trip_id, driver_id, status, distance_km)
         SELECT id, trip_id, driver_id, 'CLAIMING', distance_km
         FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::float8[])
              AS c(id, trip_id, driver_id, distance_km)
         ON CONFLICT DO NOTHING
         RETURNING trip_id",
        &ids,
        &trips,
        &drivers,
        &distances
    )
    .fetch_all(pool)
    .await
}

/// The claim went to another of the trip's drivers than noted.
pub async fn renote_claiming(pool: &PgPool, intent: &Intent) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE offers SET driver_id = $2, distance_km = $3
         WHERE id = $1 AND status = 'CLAIMING'",
        intent.offer_id,
        intent.driver_id,
        intent.distance_km
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Forgets CLAIMING rows whose claims failed.
pub async fn drop_claimings(pool: &PgPool, ids: &[Uuid]) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "DELETE FROM offers WHERE id = ANY($1) AND status = 'CLAIMING'",
        ids
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Forgets a CLAIMING row whose claim failed or was given back.
pub async fn drop_claiming(pool: &PgPool, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM offers WHERE id = $1 AND status = 'CLAIMING'",
        id
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// CLAIMING -> `status` (OPEN with its expiry, or ACCEPTED in auto mode).
pub async fn settle_claiming(
    conn: &mut PgConnection,
    id: Uuid,
    status: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE offers SET status = $2, expires_at = $3,
                           answered_at = CASE WHEN $2 = 'ACCEPTED' THEN now() END
         WHERE id = $1 AND status = 'CLAIMING'",
        id,
        status,
        expires_at
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// OPEN -> `to` for this trip and driver: ACCEPTED or DECLINED only while
/// the offer has not expired; EXPIRED only once it has. Whichever runs first
/// wins; the other finds nothing.
pub async fn answer_offer(
    conn: &mut PgConnection,
    trip_id: Uuid,
    driver_id: Uuid,
    to: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE offers SET status = $3, answered_at = now()
         WHERE trip_id = $1 AND driver_id = $2 AND status = 'OPEN'
           AND CASE WHEN $3 = 'EXPIRED' THEN expires_at <= now() ELSE expires_at > now() END
         RETURNING id",
        trip_id,
        driver_id,
        to
    )
    .fetch_optional(conn)
    .await
}

/// Revokes the trip's live offer (rider cancel). Returns its driver.
pub async fn revoke_live_offer(
    conn: &mut PgConnection,
    trip_id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE offers SET status = 'REVOKED', answered_at = now()
         WHERE trip_id = $1 AND status IN ('CLAIMING', 'OPEN')
         RETURNING driver_id",
        trip_id
    )
    .fetch_optional(conn)
    .await
}

/// One audit row.
pub async fn audit(
    conn: &mut PgConnection,
    trip_id: Uuid,
    kind: &str,
    driver_id: Option<Uuid>,
    detail: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO dispatch_events (trip_id, type, driver_id, detail) VALUES ($1, $2, $3, $4)",
        trip_id,
        kind,
        driver_id,
        detail
    )
    .execute(conn)
    .await?;
    // Counted when written: a step whose transaction then rolls back (a
    // retried deadlock) is counted too, which is rare enough for alerting.
    metrics::counter!("dispatch_events_total", "type" => kind.to_string()).increment(1);
    Ok(())
}

pub async fn events(pool: &PgPool, trip_id: Uuid) -> Result<Vec<DispatchEvent>, sqlx::Error> {
    sqlx::query_as!(
        DispatchEvent,
        r#"SELECT seq, at, type AS kind, driver_id, detail FROM dispatch_events
           WHERE trip_id = $1 ORDER BY seq"#,
        trip_id
    )
    .fetch_all(pool)
    .await
}

/// Queues an event in the same transaction as the change it describes.
pub async fn push_outbox(
    conn: &mut PgConnection,
    channel: &str,
    payload: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO outbox (channel, payload) VALUES ($1, $2)",
        channel,
        payload
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub struct OutboxRow {
    pub id: i64,
    pub channel: String,
    pub payload: serde_json::Value,
}

/// The oldest unsent events, locked for this relay until its transaction ends.
pub async fn unsent_events(
    conn: &mut PgConnection,
    limit: i64,
) -> Result<Vec<OutboxRow>, sqlx::Error> {
    sqlx::query_as!(
        OutboxRow,
        "SELECT id, channel, payload FROM outbox WHERE published_at IS NULL
         ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        limit
    )
    .fetch_all(conn)
    .await
}

pub async fn mark_sent(conn: &mut PgConnection, ids: &[i64]) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE outbox SET published_at = now() WHERE id = ANY($1)",
        ids
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Sent events older than an hour are history nobody reads.
pub async fn prune_sent(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!("DELETE FROM outbox WHERE published_at < now() - interval '1 hour'")
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

/// Every trip with a driver on it: (trip id, driver id).
pub async fn active_assignments(pool: &PgPool) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT id, driver_id AS "driver_id!" FROM trips
           WHERE status IN ('ASSIGNED', 'ONGOING') AND driver_id IS NOT NULL"#
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.driver_id)).collect())
}

// ---- carpool rides ----

pub async fn insert_ride(
    conn: &mut PgConnection,
    id: Uuid,
    room_key: &str,
    departs_at: DateTime<Utc>,
    rider_id: Uuid,
    driver_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO rides (id, room_key, departs_at, rider_id, driver_id, status)
         VALUES ($1, $2, $3, $4, $5, 'CONFIRMED')",
        id,
        room_key,
        departs_at,
        rider_id,
        driver_id,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Holds the ride's row until the caller's transaction ends.
pub async fn lock_ride(conn: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!("SELECT id FROM rides WHERE id = $1 FOR UPDATE", id)
        .fetch_optional(conn)
        .await?;
    Ok(())
}

pub async fn cancel_ride(conn: &mut PgConnection, id: Uuid, by: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE rides SET status = 'CANCELLED', cancelled_at = now(), cancelled_by = $2
         WHERE id = $1 AND status = 'CONFIRMED'",
        id,
        by,
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn cancel_rides(pool: &PgPool, ids: &[Uuid], by: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE rides SET status = 'CANCELLED', cancelled_at = now(), cancelled_by = $2
         WHERE id = ANY($1) AND status = 'CONFIRMED'",
        ids,
        by,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Per hold, whether its trip still holds its driver: on the trip
/// (ASSIGNED, ARRIVED, ONGOING), still deciding (a live offer or claim for
/// that driver), or not at all (an unknown trip included). In order.
pub async fn hold_states(
    pool: &PgPool,
    holds: &[hail_shared::api::drivers::Hold],
) -> Result<Vec<hail_shared::api::drivers::HoldState>, sqlx::Error> {
    use hail_shared::api::drivers::HoldState;
    let drivers: Vec<Uuid> = holds.iter().map(|h| h.driver_id).collect();
    let trips: Vec<Uuid> = holds.iter().map(|h| h.trip_id).collect();
    let rows = sqlx::query!(
        r#"SELECT h.n AS "n!",
                  CASE
                    WHEN t.driver_id = h.driver_id AND t.status IN ('ASSIGNED', 'ARRIVED', 'ONGOING')
                      THEN 'assigned'
                    WHEN t.status = 'REQUESTED' AND EXISTS (
                      SELECT 1 FROM offers o
                      WHERE o.trip_id = t.id AND o.driver_id = h.driver_id
                        AND o.status IN ('CLAIMING', 'OPEN'))
                      THEN 'offered'
                    ELSE 'released'
                  END AS "state!"
           FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS h(driver_id, trip_id, n)
           LEFT JOIN trips t ON t.id = h.trip_id
           ORDER BY h.n"#,
        &drivers,
        &trips
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| match row.state.as_str() {
            "assigned" => HoldState::Assigned,
            "offered" => HoldState::Offered,
            _ => HoldState::Released,
        })
        .collect())
}

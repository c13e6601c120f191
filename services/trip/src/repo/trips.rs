//! Trips: the row, its reads, and every state move (one conditional
//! `UPDATE` each, the database deciding races).

use chrono::{DateTime, Utc};
use hail_shared::api::{
    geo::LatLng,
    trips::{Tier, Trip, TripRating, TripStatus},
};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::lifecycle::Move;

#[derive(Clone)]
pub struct TripRow {
    pub id: Uuid,
    pub rider_id: Uuid,
    pub driver_id: Option<Uuid>,
    pub status: TripStatus,
    pub tier: Tier,
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
    pub city: String,
    pub rating_stars: Option<i16>,
    pub rating_comment: Option<String>,
}

impl TripRow {
    pub fn pickup(&self) -> LatLng {
        LatLng::new(self.pickup_lat, self.pickup_lng)
    }

    pub fn to_trip(&self) -> Trip {
        Trip {
            id: self.id,
            rider_id: self.rider_id,
            driver_id: self.driver_id,
            status: self.status,
            tier: self.tier,
            pickup: self.pickup(),
            dropoff: LatLng::new(self.dropoff_lat, self.dropoff_lng),
            created_at: self.created_at,
            updated_at: self.updated_at,
            assigned_at: self.assigned_at,
            started_at: self.started_at,
            completed_at: self.completed_at,
            cancelled_at: self.cancelled_at,
            cancel_reason: self.cancel_reason.clone(),
            city: self.city.clone(),
            rating: self.rating_stars.map(|stars| TripRating {
                stars: u8::try_from(stars).unwrap_or_default(),
                comment: self.rating_comment.clone(),
            }),
        }
    }
}

pub struct NewTrip {
    pub id: Uuid,
    pub rider_id: Uuid,
    pub tier: Tier,
    pub pickup: LatLng,
    pub dropoff: LatLng,
    pub search_radius_km: f64,
    /// The city the pickup lies in.
    pub city: String,
}

/// Inserts a REQUESTED trip; `None` when the rider already has an active one
/// (the partial unique index decides, also under concurrent requests).
pub async fn insert_trip(
    conn: &mut PgConnection,
    new: &NewTrip,
) -> Result<Option<TripRow>, sqlx::Error> {
    let inserted = sqlx::query_as!(
        TripRow,
        r#"INSERT INTO trips (id, rider_id, tier, pickup_lat, pickup_lng, dropoff_lat, dropoff_lng, search_radius_km, city)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         RETURNING id, rider_id, driver_id, status AS "status: TripStatus", tier AS "tier: Tier", pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                   created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                   search_radius_km, city, rating_stars, rating_comment"#,
        new.id,
        new.rider_id,
        new.tier.as_str(),
        new.pickup.lat,
        new.pickup.lng,
        new.dropoff.lat,
        new.dropoff.lng,
        new.search_radius_km,
        new.city,
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

pub async fn find_trip(
    conn: impl sqlx::PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<TripRow>, sqlx::Error> {
    sqlx::query_as!(
        TripRow,
        r#"SELECT id, rider_id, driver_id, status AS "status: TripStatus", tier AS "tier: Tier", pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                search_radius_km, city, rating_stars, rating_comment
         FROM trips WHERE id = $1"#,
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
        r#"SELECT id, rider_id, driver_id, status AS "status: TripStatus", tier AS "tier: Tier", pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                search_radius_km, city, rating_stars, rating_comment
         FROM trips WHERE rider_id = $1 OR driver_id = $1
         ORDER BY created_at DESC LIMIT $2"#,
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
        r#"UPDATE trips SET status = 'ASSIGNED', driver_id = $2, assigned_at = now(), updated_at = now()
         WHERE id = $1 AND status = ANY($3)
         RETURNING id, rider_id, driver_id, status AS "status: TripStatus", tier AS "tier: Tier", pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                   created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                   search_radius_km, city, rating_stars, rating_comment"#,
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
        r#"UPDATE trips SET status = 'ONGOING', started_at = now(), updated_at = now()
         WHERE id = $1 AND driver_id = $2 AND status = ANY($3)
         RETURNING id, rider_id, driver_id, status AS "status: TripStatus", tier AS "tier: Tier", pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                   created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                   search_radius_km, city, rating_stars, rating_comment"#,
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
        r#"UPDATE trips SET status = 'COMPLETED', completed_at = now(), updated_at = now()
         WHERE id = $1 AND driver_id = $2 AND status = ANY($3)
         RETURNING id, rider_id, driver_id, status AS "status: TripStatus", tier AS "tier: Tier", pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                   created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                   search_radius_km, city, rating_stars, rating_comment"#,
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
        r#"UPDATE trips SET status = 'CANCELLED', cancelled_at = now(), updated_at = now(),
                          cancel_reason = COALESCE($3, 'rider cancelled'), cancelled_by = 'rider'
         WHERE id = $1 AND rider_id = $2 AND status = ANY($4)
         RETURNING id, rider_id, driver_id, status AS "status: TripStatus", tier AS "tier: Tier", pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                   created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                   search_radius_km, city, rating_stars, rating_comment"#,
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
        r#"UPDATE trips SET
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
         RETURNING id, rider_id, driver_id, status AS "status: TripStatus", tier AS "tier: Tier", pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                   created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                   search_radius_km, city, rating_stars, rating_comment"#,
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
        r#"UPDATE trips SET status = 'NO_DRIVER', updated_at = now()
         WHERE id = $1 AND status = ANY($2)
         RETURNING id, rider_id, driver_id, status AS "status: TripStatus", tier AS "tier: Tier", pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                   created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                   search_radius_km, city, rating_stars, rating_comment"#,
        id,
        &Move::SearchExpired.legal_from()
    )
    .fetch_optional(conn)
    .await
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

/// The rider rates the trip: only its rider, only once it is COMPLETED,
/// only once (one conditional `UPDATE`; `None` when any of it fails).
pub async fn rate_trip(
    pool: &PgPool,
    trip_id: Uuid,
    rider_id: Uuid,
    stars: i16,
    comment: Option<&str>,
) -> Result<Option<TripRow>, sqlx::Error> {
    sqlx::query_as!(
        TripRow,
        r#"UPDATE trips SET rating_stars = $3, rating_comment = $4, rated_at = now()
         WHERE id = $1 AND rider_id = $2 AND status = 'COMPLETED' AND rating_stars IS NULL
         RETURNING id, rider_id, driver_id, status AS "status: TripStatus", tier AS "tier: Tier", pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                   created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                   search_radius_km, city, rating_stars, rating_comment"#,
        trip_id,
        rider_id,
        stars,
        comment
    )
    .fetch_optional(pool)
    .await
}

//! Trips: the row, its reads, and every state move (one conditional
//! `UPDATE` each, the database deciding races).

use chrono::{DateTime, Utc};
use hail_shared::api::{
    drivers::DriverRating,
    fares::{round_km, Money, TripFare},
    geo::LatLng,
    trips::{Tier, Trip, TripDriver, TripRating, TripStatus},
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
    pub arrived_at: Option<DateTime<Utc>>,
    /// The driver's card as it was at assignment.
    pub driver_name: Option<String>,
    pub driver_vehicle: Option<serde_json::Value>,
    pub driver_rating_sum: Option<i64>,
    pub driver_rating_count: Option<i64>,
    /// Money in hundredths of the currency's major unit.
    pub currency: String,
    pub fare_estimate: i64,
    pub estimate_distance_km: f64,
    pub estimate_duration_secs: i64,
    pub fare_final: Option<i64>,
    pub distance_km: Option<f64>,
    pub duration_secs: Option<i64>,
    pub pickup_pin: Option<String>,
    /// Wrong pickup PINs tried so far.
    pub pin_attempts: i16,
}

impl TripRow {
    pub fn pickup(&self) -> LatLng {
        LatLng::new(self.pickup_lat, self.pickup_lng)
    }

    /// The trip as `viewer` may see it: the pickup PIN only for its rider.
    pub fn to_trip_for(&self, viewer: Uuid) -> Trip {
        let mut trip = self.to_trip();
        if viewer == self.rider_id {
            trip.pickup_pin = self.pickup_pin.clone();
        }
        trip
    }

    /// The trip as anyone but its rider may see it: never the pickup PIN
    /// (events carry the rider's copy apart, `TripEvent::rider_pin`).
    pub fn to_trip(&self) -> Trip {
        let finished = self.fare_final.is_some();
        let driver = self.driver_id.map(|id| TripDriver {
            id,
            name: self
                .driver_name
                .clone()
                .unwrap_or_else(|| "Your driver".into()),
            vehicle: self
                .driver_vehicle
                .clone()
                .and_then(|v| serde_json::from_value(v).ok()),
            rating: DriverRating::from_sum(
                self.driver_rating_sum.unwrap_or_default(),
                self.driver_rating_count.unwrap_or_default(),
            ),
        });
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
            arrived_at: self.arrived_at,
            driver,
            fare: TripFare {
                currency: self.currency.clone(),
                estimate: Money(self.fare_estimate),
                final_amount: self.fare_final.map(Money),
                distance_km: round_km(match (finished, self.distance_km) {
                    (true, Some(km)) => km,
                    _ => self.estimate_distance_km,
                }),
                duration_secs: u64::try_from(match (finished, self.duration_secs) {
                    (true, Some(secs)) => secs,
                    _ => self.estimate_duration_secs,
                })
                .unwrap_or_default(),
            },
            pickup_pin: None,
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
    pub currency: String,
    pub fare_estimate: Money,
    pub estimate_distance_km: f64,
    pub estimate_duration_secs: u64,
    /// Set when the city asks for a pickup PIN.
    pub pickup_pin: Option<String>,
}

/// Inserts a REQUESTED trip; `None` when the rider already has an active one
/// (the partial unique index decides, also under concurrent requests).
pub async fn insert_trip(
    conn: &mut PgConnection,
    new: &NewTrip,
) -> Result<Option<TripRow>, sqlx::Error> {
    let inserted = sqlx::query_as!(
        TripRow,
        r#"INSERT INTO trips (id, rider_id, tier, pickup_lat, pickup_lng, dropoff_lat, dropoff_lng, search_radius_km, city,
                           currency, fare_estimate, estimate_distance_km, estimate_duration_secs, pickup_pin)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         RETURNING id, rider_id, driver_id, status AS "status: TripStatus", tier AS "tier: Tier", pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                   created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                   search_radius_km, city, rating_stars, rating_comment,
                   arrived_at, driver_name, driver_vehicle, driver_rating_sum, driver_rating_count,
                   currency, fare_estimate, estimate_distance_km, estimate_duration_secs,
                   fare_final, distance_km, duration_secs, pickup_pin, pin_attempts"#,
        new.id,
        new.rider_id,
        new.tier.as_str(),
        new.pickup.lat,
        new.pickup.lng,
        new.dropoff.lat,
        new.dropoff.lng,
        new.search_radius_km,
        new.city,
        new.currency,
        new.fare_estimate.hundredths(),
        new.estimate_distance_km,
        i64::try_from(new.estimate_duration_secs).unwrap_or(i64::MAX),
        new.pickup_pin,
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
                search_radius_km, city, rating_stars, rating_comment,
                arrived_at, driver_name, driver_vehicle, driver_rating_sum, driver_rating_count,
                currency, fare_estimate, estimate_distance_km, estimate_duration_secs,
                fare_final, distance_km, duration_secs, pickup_pin, pin_attempts
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
                search_radius_km, city, rating_stars, rating_comment,
                arrived_at, driver_name, driver_vehicle, driver_rating_sum, driver_rating_count,
                currency, fare_estimate, estimate_distance_km, estimate_duration_secs,
                fare_final, distance_km, duration_secs, pickup_pin, pin_attempts
         FROM trips WHERE rider_id = $1 OR driver_id = $1
         ORDER BY created_at DESC LIMIT $2"#,
        user_id,
        limit
    )
    .fetch_all(pool)
    .await
}

/// What the rider sees of the assigned driver, from the driver service.
pub struct DriverCard {
    pub name: String,
    pub vehicle: Option<serde_json::Value>,
}

/// REQUESTED -> ASSIGNED to `driver_id`, with the driver's card and its
/// ratings so far as the rider will see them.
pub async fn assign(
    conn: &mut PgConnection,
    id: Uuid,
    driver_id: Uuid,
    card: &DriverCard,
) -> Result<Option<TripRow>, sqlx::Error> {
    sqlx::query_as!(
        TripRow,
        r#"UPDATE trips SET status = 'ASSIGNED', driver_id = $2, assigned_at = now(), updated_at = now(),
                          driver_name = $4, driver_vehicle = $5,
                          driver_rating_sum = (SELECT stars_sum FROM driver_ratings WHERE driver_id = $2),
                          driver_rating_count = (SELECT count FROM driver_ratings WHERE driver_id = $2)
         WHERE id = $1 AND status = ANY($3)
         RETURNING id, rider_id, driver_id, status AS "status: TripStatus", tier AS "tier: Tier", pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                   created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                   search_radius_km, city, rating_stars, rating_comment,
                   arrived_at, driver_name, driver_vehicle, driver_rating_sum, driver_rating_count,
                   currency, fare_estimate, estimate_distance_km, estimate_duration_secs,
                   fare_final, distance_km, duration_secs, pickup_pin, pin_attempts"#,
        id,
        driver_id,
        &Move::Assign.legal_from(),
        card.name,
        card.vehicle
    )
    .fetch_optional(conn)
    .await
}

/// ASSIGNED -> ARRIVED, by the assigned driver.
pub async fn arrive(
    conn: &mut PgConnection,
    id: Uuid,
    driver_id: Uuid,
) -> Result<Option<TripRow>, sqlx::Error> {
    sqlx::query_as!(
        TripRow,
        r#"UPDATE trips SET status = 'ARRIVED', arrived_at = now(), updated_at = now()
         WHERE id = $1 AND driver_id = $2 AND status = ANY($3)
         RETURNING id, rider_id, driver_id, status AS "status: TripStatus", tier AS "tier: Tier", pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                   created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                   search_radius_km, city, rating_stars, rating_comment,
                   arrived_at, driver_name, driver_vehicle, driver_rating_sum, driver_rating_count,
                   currency, fare_estimate, estimate_distance_km, estimate_duration_secs,
                   fare_final, distance_km, duration_secs, pickup_pin, pin_attempts"#,
        id,
        driver_id,
        &Move::Arrive.legal_from()
    )
    .fetch_optional(conn)
    .await
}

/// ASSIGNED | ARRIVED -> ONGOING, by the assigned driver, with the trip's
/// pickup PIN when it has one.
pub async fn start(
    conn: &mut PgConnection,
    id: Uuid,
    driver_id: Uuid,
    pin: Option<&str>,
) -> Result<Option<TripRow>, sqlx::Error> {
    sqlx::query_as!(
        TripRow,
        r#"UPDATE trips SET status = 'ONGOING', started_at = now(), updated_at = now()
         WHERE id = $1 AND driver_id = $2 AND status = ANY($3)
           AND (pickup_pin IS NULL OR pickup_pin = $4)
         RETURNING id, rider_id, driver_id, status AS "status: TripStatus", tier AS "tier: Tier", pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                   created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                   search_radius_km, city, rating_stars, rating_comment,
                   arrived_at, driver_name, driver_vehicle, driver_rating_sum, driver_rating_count,
                   currency, fare_estimate, estimate_distance_km, estimate_duration_secs,
                   fare_final, distance_km, duration_secs, pickup_pin, pin_attempts"#,
        id,
        driver_id,
        &Move::Start.legal_from(),
        pin
    )
    .fetch_optional(conn)
    .await
}

/// How a trip ended: when, how far, how long, and what it costs.
pub struct Completion {
    pub at: DateTime<Utc>,
    pub fare: Money,
    pub distance_km: f64,
    pub duration_secs: u64,
}

/// ONGOING -> COMPLETED, by the assigned driver, with the final fare.
pub async fn complete(
    conn: &mut PgConnection,
    id: Uuid,
    driver_id: Uuid,
    done: &Completion,
) -> Result<Option<TripRow>, sqlx::Error> {
    sqlx::query_as!(
        TripRow,
        r#"UPDATE trips SET status = 'COMPLETED', completed_at = $4, updated_at = now(),
                          fare_final = $5, distance_km = $6, duration_secs = $7
         WHERE id = $1 AND driver_id = $2 AND status = ANY($3)
         RETURNING id, rider_id, driver_id, status AS "status: TripStatus", tier AS "tier: Tier", pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                   created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                   search_radius_km, city, rating_stars, rating_comment,
                   arrived_at, driver_name, driver_vehicle, driver_rating_sum, driver_rating_count,
                   currency, fare_estimate, estimate_distance_km, estimate_duration_secs,
                   fare_final, distance_km, duration_secs, pickup_pin, pin_attempts"#,
        id,
        driver_id,
        &Move::Complete.legal_from(),
        done.at,
        done.fare.hundredths(),
        done.distance_km,
        i64::try_from(done.duration_secs).unwrap_or(i64::MAX)
    )
    .fetch_optional(conn)
    .await
}

/// REQUESTED | ASSIGNED | ARRIVED | ONGOING -> CANCELLED, by the rider.
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
                   search_radius_km, city, rating_stars, rating_comment,
                   arrived_at, driver_name, driver_vehicle, driver_rating_sum, driver_rating_count,
                   currency, fare_estimate, estimate_distance_km, estimate_duration_secs,
                   fare_final, distance_km, duration_secs, pickup_pin, pin_attempts"#,
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

/// ASSIGNED | ARRIVED -> REQUESTED (back in the queue, at once) or ONGOING ->
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
             status = CASE WHEN status = 'ONGOING' THEN 'CANCELLED' ELSE 'REQUESTED' END,
             driver_id = CASE WHEN status = 'ONGOING' THEN driver_id END,
             assigned_at = CASE WHEN status = 'ONGOING' THEN assigned_at END,
             arrived_at = CASE WHEN status = 'ONGOING' THEN arrived_at END,
             driver_name = CASE WHEN status = 'ONGOING' THEN driver_name END,
             driver_vehicle = CASE WHEN status = 'ONGOING' THEN driver_vehicle END,
             driver_rating_sum = CASE WHEN status = 'ONGOING' THEN driver_rating_sum END,
             driver_rating_count = CASE WHEN status = 'ONGOING' THEN driver_rating_count END,
             cancelled_at = CASE WHEN status = 'ONGOING' THEN now() END,
             cancel_reason = CASE WHEN status = 'ONGOING' THEN COALESCE($3, 'driver cancelled') END,
             cancelled_by = CASE WHEN status = 'ONGOING' THEN 'driver' END,
             -- The next driver gets all five tries: the one who cancelled
             -- is never offered this trip again, so it cannot resume guessing.
             pin_attempts = CASE WHEN status = 'ONGOING' THEN pin_attempts ELSE 0 END,
             next_attempt_at = now(),
             leased_until = NULL,
             updated_at = now()
         WHERE id = $1 AND driver_id = $2 AND status = ANY($4)
         RETURNING id, rider_id, driver_id, status AS "status: TripStatus", tier AS "tier: Tier", pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                   created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                   search_radius_km, city, rating_stars, rating_comment,
                   arrived_at, driver_name, driver_vehicle, driver_rating_sum, driver_rating_count,
                   currency, fare_estimate, estimate_distance_km, estimate_duration_secs,
                   fare_final, distance_km, duration_secs, pickup_pin, pin_attempts"#,
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
                   search_radius_km, city, rating_stars, rating_comment,
                   arrived_at, driver_name, driver_vehicle, driver_rating_sum, driver_rating_count,
                   currency, fare_estimate, estimate_distance_km, estimate_duration_secs,
                   fare_final, distance_km, duration_secs, pickup_pin, pin_attempts"#,
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
    conn: &mut PgConnection,
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
                   search_radius_km, city, rating_stars, rating_comment,
                   arrived_at, driver_name, driver_vehicle, driver_rating_sum, driver_rating_count,
                   currency, fare_estimate, estimate_distance_km, estimate_duration_secs,
                   fare_final, distance_km, duration_secs, pickup_pin, pin_attempts"#,
        trip_id,
        rider_id,
        stars,
        comment
    )
    .fetch_optional(conn)
    .await
}

/// Adds a rating to the driver's sum (in the rating's transaction).
pub async fn add_driver_rating(
    conn: &mut PgConnection,
    driver_id: Uuid,
    stars: i16,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO driver_ratings (driver_id, stars_sum, count) VALUES ($1, $2, 1)
         ON CONFLICT (driver_id) DO UPDATE
         SET stars_sum = driver_ratings.stars_sum + EXCLUDED.stars_sum, count = driver_ratings.count + 1",
        driver_id,
        i64::from(stars)
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The driver's ratings so far (`None` before the first).
pub async fn driver_rating(
    pool: &PgPool,
    driver_id: Uuid,
) -> Result<Option<DriverRating>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT stars_sum, count FROM driver_ratings WHERE driver_id = $1",
        driver_id
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|r| DriverRating::from_sum(r.stars_sum, r.count)))
}

/// A wrong pickup PIN for a trip that has one: counts the try and answers
/// how many were made (`None`: the trip has no PIN, or is no longer this
/// driver's to start).
pub async fn count_wrong_pin(
    conn: &mut PgConnection,
    id: Uuid,
    driver_id: Uuid,
) -> Result<Option<i16>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE trips SET pin_attempts = pin_attempts + 1
         WHERE id = $1 AND driver_id = $2 AND status = ANY($3) AND pickup_pin IS NOT NULL
         RETURNING pin_attempts",
        id,
        driver_id,
        &Move::Start.legal_from()
    )
    .fetch_optional(conn)
    .await
}

/// Whether the trip needs a PIN to start (`None`: no such trip).
pub async fn needs_pin(pool: &PgPool, id: Uuid) -> Result<Option<bool>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT pickup_pin IS NOT NULL AS "needs!" FROM trips WHERE id = $1"#,
        id
    )
    .fetch_optional(pool)
    .await
}

/// ASSIGNED | ARRIVED -> CANCELLED after the last wrong PIN.
pub async fn pin_lockout(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<TripRow>, sqlx::Error> {
    sqlx::query_as!(
        TripRow,
        r#"UPDATE trips SET status = 'CANCELLED', cancelled_at = now(), updated_at = now(),
                          cancel_reason = 'pin_attempts'
         WHERE id = $1 AND status = ANY($2)
         RETURNING id, rider_id, driver_id, status AS "status: TripStatus", tier AS "tier: Tier", pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                   created_at, updated_at, assigned_at, started_at, completed_at, cancelled_at, cancel_reason,
                   search_radius_km, city, rating_stars, rating_comment,
                   arrived_at, driver_name, driver_vehicle, driver_rating_sum, driver_rating_count,
                   currency, fare_estimate, estimate_distance_km, estimate_duration_secs,
                   fare_final, distance_km, duration_secs, pickup_pin, pin_attempts"#,
        id,
        &Move::PinLockout.legal_from()
    )
    .fetch_optional(conn)
    .await
}

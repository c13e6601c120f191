//! SQL for the `driver` schema. Every status change is one conditional
//! `UPDATE ... RETURNING version`: Postgres decides races, and the version
//! lets the Redis mirror converge on the newest change.

use hail_shared::{api::drivers::DriverStatus, ApiError};
use sqlx::PgPool;
use uuid::Uuid;

pub struct DriverRow {
    pub id: Uuid,
    pub name: Option<String>,
    pub vehicle: Option<serde_json::Value>,
    pub status: String,
    pub current_trip_id: Option<Uuid>,
    pub version: i64,
    /// BUSY with the trip's hold confirmed: the driver is on that trip.
    pub on_trip: bool,
}

impl DriverRow {
    /// The vehicle as riders see it (`None` before the driver set one).
    pub fn vehicle(&self) -> Option<hail_shared::api::drivers::Vehicle> {
        self.vehicle
            .clone()
            .and_then(|v| serde_json::from_value(v).ok())
    }

    /// The name riders see; profiles from before names were kept have none.
    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| "Your driver".into())
    }

    pub fn status(&self) -> Result<DriverStatus, ApiError> {
        self.status.parse().map_err(|_| {
            ApiError::internal(format!("driver {} has status {:?}", self.id, self.status))
        })
    }
}

/// Creates an OFFLINE profile; a second call for the same id changes
/// nothing but a missing name.
pub async fn create(pool: &PgPool, driver_id: Uuid, name: Option<&str>) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO drivers (id, name) VALUES ($1, $2)
         ON CONFLICT (id) DO UPDATE SET name = COALESCE(drivers.name, EXCLUDED.name)",
        driver_id,
        name
    )
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn find(pool: &PgPool, driver_id: Uuid) -> Result<Option<DriverRow>, sqlx::Error> {
    sqlx::query_as!(
        DriverRow,
        r#"SELECT id, name, vehicle, status, current_trip_id, version,
                  (status = 'BUSY' AND claim_expires_at IS NULL) AS "on_trip!"
           FROM drivers WHERE id = $1"#,
        driver_id
    )
    .fetch_optional(pool)
    .await
}

/// Sets the driver's vehicle; `false` when there is no such driver.
pub async fn set_vehicle(
    pool: &PgPool,
    driver_id: Uuid,
    vehicle: &serde_json::Value,
) -> Result<bool, sqlx::Error> {
    let set = sqlx::query!(
        "UPDATE drivers SET vehicle = $2, updated_at = now() WHERE id = $1",
        driver_id,
        vehicle
    )
    .execute(pool)
    .await?;
    Ok(set.rows_affected() == 1)
}

/// OFFLINE or ONLINE -> `status` (ONLINE or OFFLINE). `None` when the driver
/// is BUSY (or unknown): a driver on a trip never changes its own status.
pub async fn set_own_status(
    pool: &PgPool,
    driver_id: Uuid,
    status: DriverStatus,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE drivers SET status = $2, version = version + 1, updated_at = now()
         WHERE id = $1 AND status IN ('OFFLINE', 'ONLINE')
         RETURNING version",
        driver_id,
        status.as_str()
    )
    .fetch_optional(pool)
    .await
}

/// ONLINE -> BUSY for `trip_id`, held for `ttl_secs` unless the trip
/// confirms it. `None` when the driver is no longer ONLINE.
pub async fn mark_busy(
    pool: &PgPool,
    driver_id: Uuid,
    trip_id: Uuid,
    ttl_secs: u64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE drivers
         SET status = 'BUSY', current_trip_id = $2, version = version + 1, updated_at = now(),
             claim_expires_at = now() + make_interval(secs => $3)
         WHERE id = $1 AND status = 'ONLINE'
         RETURNING version",
        driver_id,
        trip_id,
        ttl_secs as f64
    )
    .fetch_optional(pool)
    .await
}

/// Which holds a release may end ([`mark_available`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Releasable {
    /// Only a claim its trip never confirmed (an offer declined, expired or
    /// revoked).
    Unconfirmed,
    /// Any: also a ride the trip confirmed.
    Any,
}

/// BUSY for `trip_id` -> ONLINE, if the driver is held as `releasable` says.
/// `None` when it is not (already released: releases are idempotent).
pub async fn mark_available(
    pool: &PgPool,
    driver_id: Uuid,
    trip_id: Uuid,
    releasable: Releasable,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE drivers
         SET status = 'ONLINE', current_trip_id = NULL, version = version + 1, updated_at = now(),
             claim_expires_at = NULL
         WHERE id = $1 AND status = 'BUSY' AND current_trip_id = $2
           AND ($3 OR claim_expires_at IS NOT NULL)
         RETURNING version",
        driver_id,
        trip_id,
        releasable == Releasable::Any
    )
    .fetch_optional(pool)
    .await
}

/// The trip confirmed its hold on the driver (accepted, or auto-assigned):
/// it no longer runs out. `false` when the driver is not on that trip.
pub async fn confirm_hold(
    pool: &PgPool,
    driver_id: Uuid,
    trip_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let confirmed = sqlx::query!(
        "UPDATE drivers SET claim_expires_at = NULL
         WHERE id = $1 AND status = 'BUSY' AND current_trip_id = $2",
        driver_id,
        trip_id
    )
    .execute(pool)
    .await?;
    Ok(confirmed.rows_affected() == 1)
}

/// BUSY drivers whose claim ran out unconfirmed, with the trip it named:
/// at most `limit`, the longest overdue first.
pub async fn overdue_claims(pool: &PgPool, limit: i64) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT id, current_trip_id AS "trip_id!" FROM drivers
           WHERE status = 'BUSY' AND claim_expires_at < now() AND current_trip_id IS NOT NULL
           ORDER BY claim_expires_at
           LIMIT $1"#,
        limit
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.trip_id)).collect())
}

/// Asks again about the driver's claim for `trip_id` in `secs`.
pub async fn recheck_claim_in(
    pool: &PgPool,
    driver_id: Uuid,
    trip_id: Uuid,
    secs: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE drivers SET claim_expires_at = now() + make_interval(secs => $3)
         WHERE id = $1 AND status = 'BUSY' AND current_trip_id = $2",
        driver_id,
        trip_id,
        secs as f64
    )
    .execute(pool)
    .await?;
    Ok(())
}

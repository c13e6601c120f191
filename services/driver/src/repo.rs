//! SQL for the `driver` schema. Every status change is one conditional
//! `UPDATE ... RETURNING version`: Postgres decides races, and the version
//! lets the Redis mirror converge on the newest change.

use hail_shared::{api::drivers::DriverStatus, ApiError};
use sqlx::PgPool;
use uuid::Uuid;

pub struct DriverRow {
    pub id: Uuid,
    pub status: String,
    pub current_trip_id: Option<Uuid>,
    pub version: i64,
}

impl DriverRow {
    pub fn status(&self) -> Result<DriverStatus, ApiError> {
        self.status.parse().map_err(|_| {
            ApiError::internal(format!("driver {} has status {:?}", self.id, self.status))
        })
    }
}

/// Creates an OFFLINE profile; a second call for the same id changes nothing.
pub async fn create(pool: &PgPool, driver_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO drivers (id) VALUES ($1) ON CONFLICT (id) DO NOTHING",
        driver_id
    )
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn find(pool: &PgPool, driver_id: Uuid) -> Result<Option<DriverRow>, sqlx::Error> {
    sqlx::query_as!(
        DriverRow,
        "SELECT id, status, current_trip_id, version FROM drivers WHERE id = $1",
        driver_id
    )
    .fetch_optional(pool)
    .await
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

/// ONLINE -> BUSY for `trip_id`. `None` when the driver is no longer ONLINE.
pub async fn mark_busy(
    pool: &PgPool,
    driver_id: Uuid,
    trip_id: Uuid,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE drivers
         SET status = 'BUSY', current_trip_id = $2, version = version + 1, updated_at = now()
         WHERE id = $1 AND status = 'ONLINE'
         RETURNING version",
        driver_id,
        trip_id
    )
    .fetch_optional(pool)
    .await
}

/// BUSY for `trip_id` -> ONLINE. `None` when the driver is not on that trip
/// (already released: releases are idempotent).
pub async fn mark_available(
    pool: &PgPool,
    driver_id: Uuid,
    trip_id: Uuid,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE drivers
         SET status = 'ONLINE', current_trip_id = NULL, version = version + 1, updated_at = now()
         WHERE id = $1 AND status = 'BUSY' AND current_trip_id = $2
         RETURNING version",
        driver_id,
        trip_id
    )
    .fetch_optional(pool)
    .await
}

//! SQL for the `driver` schema.

use hail_shared::{api::drivers::DriverStatus, ApiError};
use sqlx::PgPool;
use uuid::Uuid;

pub struct DriverRow {
    pub id: Uuid,
    pub status: String,
    pub current_trip_id: Option<Uuid>,
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
        "SELECT id, status, current_trip_id FROM drivers WHERE id = $1",
        driver_id
    )
    .fetch_optional(pool)
    .await
}

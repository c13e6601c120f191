//! Carpool rides: the record of each accepted seat.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

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

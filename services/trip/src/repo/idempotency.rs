//! `Idempotency-Key`s: a rider's key, the hash of its first body, its trip.

use sqlx::PgConnection;
use uuid::Uuid;

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

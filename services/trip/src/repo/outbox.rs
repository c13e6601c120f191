//! The outbox: events written with the change they describe, relayed to
//! Redis and then deleted.

use sqlx::PgConnection;

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

/// Queues several events on one channel, in order, in one statement.
pub async fn push_outbox_many(
    conn: &mut PgConnection,
    channel: &str,
    payloads: &[serde_json::Value],
) -> Result<(), sqlx::Error> {
    if payloads.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "INSERT INTO outbox (channel, payload)
         SELECT $1, payload FROM unnest($2::jsonb[]) WITH ORDINALITY AS p(payload, n) ORDER BY n",
        channel,
        payloads
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

/// Takes the oldest unsent events (at most `limit`), in order: deleted in
/// the caller's transaction, so they come back if it rolls back (the
/// publish failed) and no other relay sees them meanwhile (`SKIP LOCKED`).
/// One statement where a select and a delete by id were two: the relay
/// runs a few times per trip, and the delete by id was planned afresh on
/// every call (session 21: 1.6 s of planning per two rush runs, twice its
/// execution).
pub async fn take_unsent_events(
    conn: &mut PgConnection,
    limit: i64,
) -> Result<Vec<OutboxRow>, sqlx::Error> {
    let mut rows = sqlx::query_as!(
        OutboxRow,
        "DELETE FROM outbox WHERE id IN (
           SELECT id FROM outbox WHERE published_at IS NULL
            ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING id, channel, payload",
        limit
    )
    .fetch_all(conn)
    .await?;
    // RETURNING follows the delete's plan, not the subquery's order.
    rows.sort_unstable_by_key(|row| row.id);
    Ok(rows)
}

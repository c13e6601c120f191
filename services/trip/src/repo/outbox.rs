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

/// Published events go: the outbox holds only what is still to send (the
/// audit trail, `dispatch_events`, is the history).
pub async fn delete_sent(conn: &mut PgConnection, ids: &[i64]) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM outbox WHERE id = ANY($1)", ids)
        .execute(conn)
        .await?;
    Ok(())
}

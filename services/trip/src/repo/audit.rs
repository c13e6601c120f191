//! The dispatch audit trail (`dispatch_events`).

use hail_shared::api::trips::DispatchEvent;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

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

/// One audit row and the event that tells of the same change, in one
/// statement (a state move writes both; one round trip, not two).
pub async fn audit_with_event(
    conn: &mut PgConnection,
    (trip_id, kind, driver_id, detail): (Uuid, &str, Option<Uuid>, serde_json::Value),
    (channel, payload): (&str, serde_json::Value),
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "WITH audit AS (
             INSERT INTO dispatch_events (trip_id, type, driver_id, detail) VALUES ($1, $2, $3, $4)
         )
         INSERT INTO outbox (channel, payload) VALUES ($5, $6)",
        trip_id,
        kind,
        driver_id,
        detail,
        channel,
        payload
    )
    .execute(conn)
    .await?;
    metrics::counter!("dispatch_events_total", "type" => kind.to_string()).increment(1);
    Ok(())
}

/// Audit rows of one kind for many trips, in one statement (a matcher
/// pass's `OFFER_SENT`s).
pub async fn audit_many(
    conn: &mut PgConnection,
    kind: &str,
    rows: &[(Uuid, Option<Uuid>, serde_json::Value)],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let trip_ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    let driver_ids: Vec<Option<Uuid>> = rows.iter().map(|r| r.1).collect();
    let details: Vec<serde_json::Value> = rows.iter().map(|r| r.2.clone()).collect();
    sqlx::query!(
        "INSERT INTO dispatch_events (trip_id, type, driver_id, detail)
         SELECT trip_id, $2, driver_id, detail
         FROM unnest($1::uuid[], $3::uuid[], $4::jsonb[]) AS r(trip_id, driver_id, detail)",
        &trip_ids,
        kind,
        &driver_ids as &[Option<Uuid>],
        &details
    )
    .execute(conn)
    .await?;
    metrics::counter!("dispatch_events_total", "type" => kind.to_string())
        .increment(rows.len() as u64);
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

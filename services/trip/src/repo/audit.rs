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

//! Offers: one row per driver a trip was offered to (or claimed for),
//! from CLAIMING through OPEN to its answer.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use hail_shared::api::UnknownValue;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Where an offer row stands. CLAIMING: a worker noted its claim and has not
/// opened the offer yet; OPEN: the driver may answer until `expires_at`;
/// the rest are final.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OfferStatus {
    Claiming,
    Open,
    Accepted,
    Declined,
    Expired,
    Revoked,
    /// The driver's phone never confirmed it (no ack in time, or its socket
    /// dropped and did not come back within the grace).
    Unreachable,
}

impl OfferStatus {
    pub const ALL: [OfferStatus; 7] = [
        Self::Claiming,
        Self::Open,
        Self::Accepted,
        Self::Declined,
        Self::Expired,
        Self::Revoked,
        Self::Unreachable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Claiming => "CLAIMING",
            Self::Open => "OPEN",
            Self::Accepted => "ACCEPTED",
            Self::Declined => "DECLINED",
            Self::Expired => "EXPIRED",
            Self::Revoked => "REVOKED",
            Self::Unreachable => "UNREACHABLE",
        }
    }
}

impl FromStr for OfferStatus {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownValue(s.to_string()))
    }
}

hail_shared::text_column!(OfferStatus);

pub struct OfferRow {
    pub id: Uuid,
    pub trip_id: Uuid,
    pub driver_id: Uuid,
    pub status: OfferStatus,
    pub expires_at: Option<DateTime<Utc>>,
    /// The driver's last socket dropped then (and has not come back).
    pub socket_lost_at: Option<DateTime<Utc>>,
}

impl OfferRow {
    /// CLAIMING or OPEN: the trip's one live offer.
    pub fn is_live(&self) -> bool {
        matches!(self.status, OfferStatus::Claiming | OfferStatus::Open)
    }
}

/// Every offer row of these trips.
pub async fn offers_of(pool: &PgPool, trip_ids: &[Uuid]) -> Result<Vec<OfferRow>, sqlx::Error> {
    sqlx::query_as!(
        OfferRow,
        r#"SELECT id, trip_id, driver_id, status AS "status: OfferStatus", expires_at, socket_lost_at
         FROM offers WHERE trip_id = ANY($1)"#,
        trip_ids
    )
    .fetch_all(pool)
    .await
}

pub async fn was_offered(
    conn: impl sqlx::PgExecutor<'_>,
    trip_id: Uuid,
    driver_id: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM offers WHERE trip_id = $1 AND driver_id = $2) AS "exists!""#,
        trip_id,
        driver_id
    )
    .fetch_one(conn)
    .await
}

/// A claim about to be made, noted first as a CLAIMING offer row.
#[derive(Clone)]
pub struct Intent {
    pub offer_id: Uuid,
    pub trip_id: Uuid,
    pub driver_id: Uuid,
    pub distance_km: f64,
    /// Every driver the claim may take (the trip's wish), so a dead
    /// worker's claim can be given back whichever it took.
    pub candidates: Vec<Uuid>,
}

/// Notes the intents before claiming, so a worker that dies mid-claim leaves
/// a trace the next one cleans up. Returns the trips noted: a trip missing
/// already has a live offer (another worker got there).
pub async fn insert_claimings(pool: &PgPool, intents: &[Intent]) -> Result<Vec<Uuid>, sqlx::Error> {
    let ids: Vec<Uuid> = intents.iter().map(|i| i.offer_id).collect();
    let trips: Vec<Uuid> = intents.iter().map(|i| i.trip_id).collect();
    let drivers: Vec<Uuid> = intents.iter().map(|i| i.driver_id).collect();
    let distances: Vec<f64> = intents.iter().map(|i| i.distance_km).collect();
    // One text per row (unnest flattens a two-dimensional array).
    let candidates: Vec<String> = intents
        .iter()
        .map(|i| {
            i.candidates
                .iter()
                .map(Uuid::to_string)
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    sqlx::query_scalar!(
        "INSERT INTO offers (id, trip_id, driver_id, status, distance_km, claim_candidates)
         SELECT id, trip_id, driver_id, 'CLAIMING', distance_km,
                coalesce(string_to_array(nullif(candidates, ''), ',')::uuid[], '{}')
         FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::float8[], $5::text[])
              AS c(id, trip_id, driver_id, distance_km, candidates)
         ON CONFLICT DO NOTHING
         RETURNING trip_id",
        &ids,
        &trips,
        &drivers,
        &distances,
        &candidates
    )
    .fetch_all(pool)
    .await
}

/// Every driver a CLAIMING row's claim may have taken (its noted driver
/// among them).
pub async fn claim_candidates(pool: &PgPool, offer_id: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT driver_id, claim_candidates FROM offers WHERE id = $1",
        offer_id
    )
    .fetch_optional(pool)
    .await?;
    Ok(row
        .map(|r| {
            let mut all = r.claim_candidates;
            all.push(r.driver_id);
            all.sort_unstable();
            all.dedup();
            all
        })
        .unwrap_or_default())
}

/// The claim went to another of the trip's drivers than noted.
pub async fn renote_claiming(pool: &PgPool, intent: &Intent) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE offers SET driver_id = $2, distance_km = $3
         WHERE id = $1 AND status = 'CLAIMING'",
        intent.offer_id,
        intent.driver_id,
        intent.distance_km
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Forgets CLAIMING rows whose claims failed.
pub async fn drop_claimings(pool: &PgPool, ids: &[Uuid]) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "DELETE FROM offers WHERE id = ANY($1) AND status = 'CLAIMING'",
        ids
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Forgets a CLAIMING row whose claim failed or was given back.
pub async fn drop_claiming(pool: &PgPool, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM offers WHERE id = $1 AND status = 'CLAIMING'",
        id
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// CLAIMING -> `status` (OPEN with its expiry, or ACCEPTED in auto mode).
pub async fn settle_claiming(
    conn: &mut PgConnection,
    id: Uuid,
    status: OfferStatus,
    expires_at: Option<DateTime<Utc>>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE offers SET status = $2, expires_at = $3,
                           sent_at = CASE WHEN $2 = 'OPEN' THEN now() END,
                           answered_at = CASE WHEN $2 = 'ACCEPTED' THEN now() END
         WHERE id = $1 AND status = 'CLAIMING'",
        id,
        status.as_str(),
        expires_at
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// CLAIMING -> OPEN, with their expiries, for the offers of one matcher
/// pass in one statement; the ids that were still CLAIMING (a rider's
/// cancel may have revoked one in between).
pub async fn open_claimings(
    conn: &mut PgConnection,
    ids: &[Uuid],
    expires_at: &[DateTime<Utc>],
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE offers o SET status = 'OPEN', expires_at = s.expires_at, sent_at = now(),
                             answered_at = NULL
         FROM unnest($1::uuid[], $2::timestamptz[]) AS s(id, expires_at)
         WHERE o.id = s.id AND o.status = 'CLAIMING'
         RETURNING o.id",
        ids,
        expires_at
    )
    .fetch_all(conn)
    .await
}

/// Forgets CLAIMING or just-opened rows inside the transaction that opened
/// them: their trips moved on, so the offers never were.
pub async fn forget_offers(conn: &mut PgConnection, ids: &[Uuid]) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query!("DELETE FROM offers WHERE id = ANY($1)", ids)
        .execute(conn)
        .await?;
    Ok(())
}

/// OPEN -> `to` for this trip and driver: ACCEPTED or DECLINED only while
/// the offer has not expired; EXPIRED only once it has. Whichever runs first
/// wins; the other finds nothing.
pub async fn answer_offer(
    conn: &mut PgConnection,
    trip_id: Uuid,
    driver_id: Uuid,
    to: OfferStatus,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE offers SET status = $3, answered_at = now()
         WHERE trip_id = $1 AND driver_id = $2 AND status = 'OPEN'
           AND CASE WHEN $3 = 'EXPIRED' THEN expires_at <= now() ELSE expires_at > now() END
         RETURNING id",
        trip_id,
        driver_id,
        to.as_str()
    )
    .fetch_optional(conn)
    .await
}

/// Revokes the trip's live offer (rider cancel). Returns its driver.
pub async fn revoke_live_offer(
    conn: &mut PgConnection,
    trip_id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE offers SET status = 'REVOKED', answered_at = now()
         WHERE trip_id = $1 AND status IN ('CLAIMING', 'OPEN')
         RETURNING driver_id",
        trip_id
    )
    .fetch_optional(conn)
    .await
}

/// How an offer reached the driver's phone.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Delivery {
    pub offer_id: Uuid,
    /// From the offer opening to the receipt.
    pub latency_ms: f64,
}

/// Records the first receipt of the driver's open offer on this trip
/// (`via`: `socket` or `rest`) and its `OFFER_DELIVERED` audit row, in one
/// statement (no transaction: both rows or neither). `None`: not open, or
/// already delivered.
pub async fn record_delivery(
    conn: impl sqlx::PgExecutor<'_>,
    trip_id: Uuid,
    driver_id: Uuid,
    via: &str,
) -> Result<Option<Delivery>, sqlx::Error> {
    let row = sqlx::query!(
        r#"WITH delivered AS (
               UPDATE offers SET delivered_at = clock_timestamp(), delivered_via = $3
                WHERE trip_id = $1 AND driver_id = $2 AND status = 'OPEN' AND delivered_at IS NULL
               RETURNING id,
                         greatest(extract(epoch FROM delivered_at - coalesce(sent_at, created_at)) * 1000, 0)::float8
                             AS latency_ms
           ), audit AS (
               INSERT INTO dispatch_events (trip_id, type, driver_id, detail)
               SELECT $1, 'OFFER_DELIVERED', $2,
                      jsonb_build_object('via', $3::text, 'latency_ms', round(latency_ms)::bigint)
                 FROM delivered
           )
           SELECT id AS "id!", latency_ms AS "latency_ms!" FROM delivered"#,
        trip_id,
        driver_id,
        via
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| Delivery {
        offer_id: r.id,
        latency_ms: r.latency_ms,
    }))
}

/// Why an open offer is given up on as unreachable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unreachable {
    /// Every socket the driver had did not acknowledge it in time (and
    /// nothing else delivered it).
    NoAck,
    /// The driver's last socket dropped and was not back within the grace.
    SocketLost { grace: std::time::Duration },
}

impl Unreachable {
    pub fn name(self) -> &'static str {
        match self {
            Self::NoAck => "no_ack",
            Self::SocketLost { .. } => "socket_lost",
        }
    }
}

/// OPEN -> UNREACHABLE, only while what `why` says still holds (an ack or
/// a reconnect that came first wins). The offer's id when it moved.
pub async fn mark_unreachable(
    conn: &mut PgConnection,
    trip_id: Uuid,
    driver_id: Uuid,
    why: Unreachable,
) -> Result<Option<Uuid>, sqlx::Error> {
    let grace_secs = match why {
        Unreachable::NoAck => None,
        Unreachable::SocketLost { grace } => Some(grace.as_secs_f64()),
    };
    sqlx::query_scalar!(
        "UPDATE offers SET status = 'UNREACHABLE', answered_at = now()
         WHERE trip_id = $1 AND driver_id = $2 AND status = 'OPEN' AND expires_at > now()
           AND CASE WHEN $3::float8 IS NULL THEN delivered_at IS NULL
                    ELSE socket_lost_at <= now() - make_interval(secs => $3::float8) END
         RETURNING id",
        trip_id,
        driver_id,
        grace_secs
    )
    .fetch_optional(conn)
    .await
}

/// The driver's last socket dropped at `at`: its open offer (if any) notes
/// it, unless a reconnect newer than `at` was heard already. The trip whose
/// offer it is.
pub async fn note_socket_lost(
    pool: &PgPool,
    driver_id: Uuid,
    at: DateTime<Utc>,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE offers SET socket_lost_at = $2
         WHERE driver_id = $1 AND status = 'OPEN' AND socket_lost_at IS NULL
           AND (socket_back_at IS NULL OR socket_back_at < $2)
         RETURNING trip_id",
        driver_id,
        at
    )
    .fetch_optional(pool)
    .await
}

/// A socket of the driver connected at `at`: its open offer stands again.
/// The open offer's trip and distance, to send it again on that socket.
pub async fn note_socket_back(
    pool: &PgPool,
    driver_id: Uuid,
    at: DateTime<Utc>,
) -> Result<Option<(Uuid, f64, Option<DateTime<Utc>>)>, sqlx::Error> {
    let row = sqlx::query!(
        "UPDATE offers SET socket_back_at = greatest(socket_back_at, $2),
                           socket_lost_at = CASE WHEN socket_lost_at <= $2 THEN NULL
                                                 ELSE socket_lost_at END
         WHERE driver_id = $1 AND status = 'OPEN'
         RETURNING trip_id, distance_km, expires_at",
        driver_id,
        at
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.trip_id, r.distance_km, r.expires_at)))
}

/// One offer made to a driver, as support sees it.
pub struct DispatchRow {
    pub trip_id: Uuid,
    pub offer_id: Uuid,
    pub sent_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub delivered_via: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
    pub status: OfferStatus,
}

/// Every offer made to `driver_id` in `[from, to)`, oldest first: one range
/// scan of `offers_by_driver_time`, however many offers the table holds.
/// Claims never opened (CLAIMING) are not offers yet.
pub async fn dispatches_of(
    pool: &PgPool,
    driver_id: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<DispatchRow>, sqlx::Error> {
    sqlx::query_as!(
        DispatchRow,
        r#"SELECT trip_id, id AS offer_id, coalesce(sent_at, created_at) AS "sent_at!",
                  delivered_at, delivered_via, answered_at, status AS "status: OfferStatus"
         FROM offers
         WHERE driver_id = $1 AND created_at >= $2 AND created_at < $3 AND status <> 'CLAIMING'
         ORDER BY created_at, id"#,
        driver_id,
        from,
        to
    )
    .fetch_all(pool)
    .await
}

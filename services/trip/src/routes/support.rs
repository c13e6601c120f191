//! Support staff's views: a driver's offers, day by day (a trip's own
//! audit trail is `GET /api/v1/trips/{id}/events`, which support may read).

use axum::{extract::State, Json};
use chrono::{DateTime, NaiveDate, Utc};
use hail_shared::{
    api::delivery::{DeliveredVia, DispatchRecord, DispatchesQuery, OfferOutcome},
    error::ErrorBody,
    extract::{Caller, PathId, ValidatedQuery},
    ApiError, ApiResult,
};

use crate::{
    repo::{self, OfferStatus},
    state::AppState,
};

/// Every offer made to a driver on one day (UTC), oldest first.
#[utoipa::path(get, path = "/api/v1/support/drivers/{driver_id}/dispatches", tag = "support",
    operation_id = "support_driver_dispatches",
    security(("bearer" = ["support"])),
    params(("driver_id" = uuid::Uuid, Path, description = "Driver id"), DispatchesQuery),
    responses(
        (status = 200, description = "The day's offers, oldest first", body = Vec<DispatchRecord>),
        (status = 403, description = "`forbidden`: only support staff", body = ErrorBody),
        (status = 404, description = "`not_found`: no such driver", body = ErrorBody),
        (status = 422, description = "`validation_failed`: `date` missing or not `YYYY-MM-DD`", body = ErrorBody),
    ))]
pub async fn dispatches(
    State(state): State<AppState>,
    caller: Caller,
    PathId(driver_id): PathId,
    ValidatedQuery(query): ValidatedQuery<DispatchesQuery>,
) -> ApiResult<Json<Vec<DispatchRecord>>> {
    caller.support()?;
    let (from, to) = day_bounds(query.date.as_deref())?;
    if !state.drivers.exists(driver_id).await? {
        return Err(ApiError::NotFound("no driver has this id".into()));
    }
    let rows = repo::dispatches_of(&state.pool, driver_id, from, to).await?;
    Ok(Json(
        rows.into_iter()
            .map(|row| DispatchRecord {
                trip_id: row.trip_id,
                offer_id: row.offer_id,
                sent_at: row.sent_at,
                delivered_at: row.delivered_at,
                delivered_via: row.delivered_via.as_deref().and_then(DeliveredVia::parse),
                answered_at: row.answered_at,
                outcome: outcome(row.status),
            })
            .collect(),
    ))
}

/// `[start, end)` of a `YYYY-MM-DD` day in UTC.
fn day_bounds(date: Option<&str>) -> ApiResult<(DateTime<Utc>, DateTime<Utc>)> {
    let date = date.ok_or_else(|| {
        ApiError::invalid_field("date", "is required: the day as YYYY-MM-DD (UTC)")
    })?;
    let strict = date.len() == 10
        && date.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    let day = strict
        .then(|| NaiveDate::parse_from_str(date, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| {
            ApiError::invalid_field("date", "must be a real day as YYYY-MM-DD, e.g. 2026-12-01")
        })?;
    let start = day
        .and_hms_opt(0, 0, 0)
        .ok_or_else(|| ApiError::invalid_field("date", "is out of range"))?
        .and_utc();
    Ok((start, start + chrono::Duration::days(1)))
}

fn outcome(status: OfferStatus) -> OfferOutcome {
    match status {
        OfferStatus::Accepted => OfferOutcome::Accepted,
        OfferStatus::Declined => OfferOutcome::Declined,
        OfferStatus::Expired => OfferOutcome::Expired,
        OfferStatus::Unreachable => OfferOutcome::Unreachable,
        OfferStatus::Revoked => OfferOutcome::Revoked,
        // A CLAIMING row is never listed; were one read, it is not answered.
        OfferStatus::Open | OfferStatus::Claiming => OfferOutcome::Open,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_its_utc_midnights() {
        let (from, to) = day_bounds(Some("2026-12-01")).expect("a real day");
        assert_eq!(from.to_rfc3339(), "2026-12-01T00:00:00+00:00");
        assert_eq!(to.to_rfc3339(), "2026-12-02T00:00:00+00:00");
    }

    #[test]
    fn only_real_days_in_the_one_format() {
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "2026-1-05",
            "01-12-2026",
            "2026/12/01",
            "2026-12-01T00:00:00Z",
            "",
            "today",
        ] {
            assert!(day_bounds(Some(bad)).is_err(), "{bad:?} must be refused");
        }
        assert!(day_bounds(None).is_err(), "the day is required");
        assert!(day_bounds(Some("2024-02-29")).is_ok(), "a leap day is real");
    }
}

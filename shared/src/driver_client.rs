//! `DriverClient`: the typed client for the driver service's internal routes,
//! the one place where the transport between services shows. Connection
//! failures and timeouts become 503 `unavailable`; an error the driver service
//! answered keeps its status and code. It lives in hail-shared so that the
//! user and trip services depend on this interface, not on the driver
//! service's crate (its migrations, scripts and routes).

use std::{sync::Arc, time::Duration};

use crate::{
    api::{
        drivers::{
            CandidateSearch, CandidatesRequest, CandidatesResponse, ClaimWish, ClaimsRequest,
            ClaimsResponse, CreateDriverProfile, DriverRecord, NearbyDriver, OfferToShow,
            OffersShown, ReleaseRequest, Released, RouteDriven, RouteQuery, ShowOffers, StartRide,
            TripRef,
        },
        geo::LatLng,
    },
    error::ErrorBody,
    extract::INTERNAL_TOKEN_HEADER,
    startup::StartError,
    ApiError,
};
use reqwest::{Method, StatusCode};
use serde::{de::DeserializeOwned, Serialize};

use crate::upstream::Instances;
use uuid::Uuid;

#[derive(Clone)]
pub struct DriverClient {
    http: reqwest::Client,
    driver: Instances,
    token: Arc<str>,
}

impl DriverClient {
    pub fn new(
        // One base URL, or several instances' (`crate::upstream`).
        base_url: &str,
        // The caller's own token (`hail_shared::internal::peer_token`).
        internal_token: &str,
        timeout: Duration,
    ) -> Result<Self, StartError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(timeout)
            .build()
            .map_err(|e| StartError::Http(e.to_string()))?;
        Ok(Self {
            http,
            driver: Instances::new(base_url),
            token: internal_token.into(),
        })
    }

    /// Creates the OFFLINE profile of a newly registered driver (idempotent).
    pub async fn create_profile(&self, driver_id: Uuid, name: &str) -> Result<(), ApiError> {
        self.send::<_, serde_json::Value>(
            Method::POST,
            "/internal/drivers",
            Some(&CreateDriverProfile {
                driver_id,
                name: Some(name.to_string()),
            }),
        )
        .await
        .map(|_| ())
    }

    /// Each search's matchable drivers, nearest first, minus its
    /// `exclude`, in the order asked: one call for a whole matcher pass.
    pub async fn candidates(
        &self,
        searches: Vec<CandidateSearch>,
    ) -> Result<Vec<Vec<NearbyDriver>>, ApiError> {
        let asked = searches.len();
        let answer: Option<CandidatesResponse> = self
            .send(
                Method::POST,
                "/internal/drivers/candidates",
                Some(&CandidatesRequest { searches }),
            )
            .await?;
        match answer {
            Some(answer) if answer.found.len() == asked => Ok(answer.found),
            _ => Err(ApiError::internal(
                "driver service answered a candidates call with the wrong number of results",
            )),
        }
    }

    /// Claims for a batch of trips in queue order (see `ClaimsRequest`):
    /// per wish, the driver it now holds, if any.
    pub async fn claim_first(
        &self,
        claims: Vec<ClaimWish>,
        ttl: Duration,
    ) -> Result<Vec<Option<Uuid>>, ApiError> {
        let wishes = claims.len();
        let body = ClaimsRequest {
            ttl_secs: ttl.as_secs().max(1),
            claims,
        };
        let answer: Option<ClaimsResponse> = self
            .send(Method::POST, "/internal/drivers/claims", Some(&body))
            .await?;
        match answer {
            Some(answer) if answer.claimed.len() == wishes => Ok(answer.claimed),
            _ => Err(ApiError::internal(
                "driver service answered a claims call with the wrong number of results",
            )),
        }
    }

    /// Lets `driver_id` go from `trip_id` (idempotent): ONLINE and matchable
    /// again. `Some(position)` when this call freed the driver.
    pub async fn release(
        &self,
        driver_id: Uuid,
        trip_id: Uuid,
    ) -> Result<Option<LatLng>, ApiError> {
        let released = self
            .send::<_, Released>(
                Method::POST,
                &format!("/internal/drivers/{driver_id}/release"),
                Some(&ReleaseRequest {
                    trip_id,
                    unreachable: false,
                }),
            )
            .await?;
        Ok(released.and_then(|r| r.freed_at))
    }

    /// Lets `driver_id` go from `trip_id` after its phone proved
    /// unreachable: ONLINE, but out of the index until its next ping.
    pub async fn release_unreachable(
        &self,
        driver_id: Uuid,
        trip_id: Uuid,
    ) -> Result<(), ApiError> {
        self.send::<_, Released>(
            Method::POST,
            &format!("/internal/drivers/{driver_id}/release"),
            Some(&ReleaseRequest {
                trip_id,
                unreachable: true,
            }),
        )
        .await
        .map(|_| ())
    }

    /// Whether a driver profile with this id exists.
    pub async fn exists(&self, driver_id: Uuid) -> Result<bool, ApiError> {
        Ok(self.record(driver_id).await?.exists)
    }

    /// The driver's card (name, vehicle) and last position.
    pub async fn record(&self, driver_id: Uuid) -> Result<DriverRecord, ApiError> {
        let found = self
            .send::<(), DriverRecord>(Method::GET, &format!("/internal/drivers/{driver_id}"), None)
            .await?;
        Ok(found.unwrap_or_default())
    }

    /// The driver arrived or started: its pings stop carrying a pickup ETA.
    pub async fn end_pickup(&self, driver_id: Uuid, trip_id: Uuid) -> Result<(), ApiError> {
        self.send::<_, serde_json::Value>(
            Method::POST,
            &format!("/internal/drivers/{driver_id}/pickup/end"),
            Some(&TripRef { trip_id }),
        )
        .await
        .map(|_| ())
    }

    /// How far the trip's driver drove between `from` and `to`, by its
    /// pings (`None` when too few were recorded).
    pub async fn route_driven(
        &self,
        trip_id: Uuid,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<f64>, ApiError> {
        let driven = self
            .send::<_, RouteDriven>(
                Method::POST,
                &format!("/internal/rides/{trip_id}/route"),
                Some(&RouteQuery { from, to }),
            )
            .await?;
        Ok(driven.and_then(|d| d.distance_km))
    }

    /// Shows the offers a matcher pass opened, in one call: per offer,
    /// whether it is shown (`false`: the trip no longer holds that driver).
    pub async fn show_offers(&self, offers: Vec<OfferToShow>) -> Result<Vec<bool>, ApiError> {
        let asked = offers.len();
        if asked == 0 {
            return Ok(Vec::new());
        }
        let answer: Option<OffersShown> = self
            .send(
                Method::POST,
                "/internal/drivers/offers",
                Some(&ShowOffers { offers }),
            )
            .await?;
        match answer {
            Some(answer) if answer.shown.len() == asked => Ok(answer.shown),
            _ => Err(ApiError::internal(
                "driver service answered a show-offers call with the wrong number of results",
            )),
        }
    }

    /// Clears `trip_id`'s offer from the driver's view; the claim stays,
    /// and the driver's pings go to the trip's rider with the ETA to
    /// `pickup`.
    pub async fn end_offer(
        &self,
        driver_id: Uuid,
        trip_id: Uuid,
        pickup: LatLng,
    ) -> Result<(), ApiError> {
        self.send::<_, serde_json::Value>(
            Method::POST,
            &format!("/internal/drivers/{driver_id}/offer/end"),
            Some(&StartRide {
                trip_id,
                pickup: Some(pickup),
            }),
        )
        .await
        .map(|_| ())
    }

    async fn send<B: Serialize, R: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Option<R>, ApiError> {
        let response = self
            .driver
            .send(|base| {
                let request = self
                    .http
                    .request(method.clone(), format!("{base}{path}"))
                    .header(INTERNAL_TOKEN_HEADER, &*self.token);
                match body {
                    Some(body) => request.json(body),
                    None => request,
                }
            })
            .await
            .map_err(unavailable)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(unavailable)?;
        if status.is_success() {
            if bytes.is_empty() {
                return Ok(None);
            }
            return serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                ApiError::internal(format!(
                    "driver service answered {path} with an unexpected body: {e}"
                ))
            });
        }
        Err(answered_error(status, &bytes))
    }
}

fn unavailable(err: reqwest::Error) -> ApiError {
    ApiError::Unavailable(format!("the driver service is unavailable: {err}"))
}

/// Rebuilds the driver service's error so the caller answers with the same code.
fn answered_error(status: StatusCode, bytes: &[u8]) -> ApiError {
    let Ok(body) = serde_json::from_slice::<ErrorBody>(bytes) else {
        return ApiError::internal(format!(
            "driver service answered {status} without an error body"
        ));
    };
    let message = body.error.message;
    match status.as_u16() {
        404 => ApiError::NotFound(message),
        403 => ApiError::Forbidden(message),
        409 => ApiError::conflict(conflict_code(&body.error.code), message),
        503 => ApiError::Unavailable(message),
        _ => ApiError::internal(format!(
            "driver service: {status} {}: {message}",
            body.error.code
        )),
    }
}

/// The contract's conflict codes as static strings.
fn conflict_code(code: &str) -> &'static str {
    match code {
        "driver_offline" => "driver_offline",
        "invalid_transition" => "invalid_transition",
        "offer_expired" => "offer_expired",
        _ => "conflict",
    }
}

//! What a test does through the gateway, as a client would: register,
//! go online, request trips, act on them, wait for offers and states; and
//! the assertion every error answer gets.

use std::time::Duration;

use hail::stack::Service;
use hail_shared::{
    api::{
        auth::AuthResponse,
        drivers::{DriverProfile, NearbyDriver},
        geo::LatLng,
        trips::{Offer, Trip, TripStatus},
        Role,
    },
    auth::Claims,
    error::ErrorBody,
    extract::{INTERNAL_TOKEN_HEADER, USER_ID_HEADER, USER_ROLE_HEADER},
    internal::Peer,
};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{Account, TestApp};

impl TestApp {
    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request(reqwest::Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.request(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("the gateway answers")
    }

    /// A request straight to `service`, around the gateway: presenting
    /// `peer`'s internal token (`None`: no token at all) and, for `caller`,
    /// the `x-user-*` headers the gateway adds once it has checked a JWT. This
    /// is how a service's own tests reach its routes as its callers do.
    pub async fn direct(
        &self,
        service: Service,
        method: reqwest::Method,
        path: &str,
        peer: Option<Peer>,
        caller: Option<&Account>,
        body: Option<&Value>,
    ) -> Response {
        let mut request = self.client.request(method, self.service_url(service, path));
        if let Some(peer) = peer {
            request = request.header(INTERNAL_TOKEN_HEADER, self.peer_token(peer));
        }
        if let Some(caller) = caller {
            request = request
                .header(USER_ID_HEADER, caller.id.to_string())
                .header(USER_ROLE_HEADER, caller.role.as_str());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request
            .send()
            .await
            .unwrap_or_else(|e| panic!("the {service} service answers: {e}"))
    }

    pub async fn register(&self, role: Role) -> Account {
        let email = format!("{}-{}@example.com", role, Uuid::new_v4().simple());
        let password = "correct horse battery".to_string();
        let response = self
            .post(
                "/api/v1/auth/register",
                None,
                &json!({"email": email, "password": password, "name": "Test Person", "role": role}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "register {email}");
        let body: AuthResponse = response.json().await.unwrap();
        Account {
            id: body.user.id,
            email,
            password,
            role,
            token: body.access_token,
        }
    }

    /// A support account, made as an operator makes one
    /// (`hail users add-support` runs the same code), then signed in.
    pub async fn register_support(&self) -> Account {
        let email = format!("support-{}@example.com", Uuid::new_v4().simple());
        let password = "correct horse battery".to_string();
        let user = hail_user::operators::add_support(
            &self.config,
            &email,
            "Sam Support",
            password.clone(),
        )
        .await
        .expect("add a support account");
        let response = self
            .post(
                "/api/v1/auth/login",
                None,
                &json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK, "support login");
        let body: AuthResponse = response.json().await.expect("login answer");
        assert_eq!(body.user.role, Role::Support);
        Account {
            id: user.id,
            email,
            password,
            role: Role::Support,
            token: body.access_token,
        }
    }

    pub async fn register_rider(&self) -> Account {
        self.register(Role::Rider).await
    }

    pub async fn register_driver(&self) -> Account {
        self.register(Role::Driver).await
    }

    /// A driver account that is ONLINE and present at `at`.
    pub async fn driver_online_at(&self, at: LatLng) -> Account {
        let driver = self.register_driver().await;
        self.go_online(&driver).await;
        assert_eq!(self.ping(&driver, at).await, StatusCode::NO_CONTENT);
        driver
    }

    pub async fn go_online(&self, driver: &Account) {
        let response = self
            .post("/api/v1/drivers/me/online", Some(&driver.token), &json!({}))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "go online");
    }

    pub async fn ping(&self, driver: &Account, at: LatLng) -> StatusCode {
        self.post(
            "/api/v1/drivers/me/location",
            Some(&driver.token),
            &json!({"lat": at.lat, "lng": at.lng}),
        )
        .await
        .status()
    }

    pub async fn driver_profile(&self, driver: &Account) -> DriverProfile {
        let response = self.get("/api/v1/drivers/me", Some(&driver.token)).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "drivers/me: {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// `GET /drivers/nearby` around `at` as `who` (`extra`: more of the
    /// query, e.g. `&radius_km=1&limit=100`); checks the 200.
    pub async fn nearby(&self, who: &Account, at: LatLng, extra: &str) -> Vec<NearbyDriver> {
        let path = format!(
            "/api/v1/drivers/nearby?lat={}&lng={}{extra}",
            at.lat, at.lng
        );
        let response = self.get(&path, Some(&who.token)).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{path}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// Requests a trip and checks it was taken (202, REQUESTED).
    pub async fn request_trip(&self, rider: &Account, pickup: LatLng, dropoff: LatLng) -> Trip {
        self.request_trip_with(rider, json!({"pickup": pickup, "dropoff": dropoff}))
            .await
    }

    pub async fn request_trip_with(&self, rider: &Account, body: Value) -> Trip {
        let response = self.post("/api/v1/trips", Some(&rider.token), &body).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, StatusCode::ACCEPTED, "request trip: {text}");
        serde_json::from_str(&text).unwrap()
    }

    pub async fn trip(&self, account: &Account, trip_id: Uuid) -> Trip {
        let response = self
            .get(&format!("/api/v1/trips/{trip_id}"), Some(&account.token))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "get trip");
        response.json().await.unwrap()
    }

    /// `GET /api/v1/trips`: the caller's trips, newest first.
    pub async fn trips(&self, account: &Account) -> Vec<Trip> {
        let response = self.get("/api/v1/trips", Some(&account.token)).await;
        assert_eq!(response.status(), StatusCode::OK, "list trips");
        response.json().await.unwrap()
    }

    /// `POST /api/v1/trips/{id}/{action}` with no body.
    pub async fn trip_action(&self, account: &Account, trip_id: Uuid, action: &str) -> Response {
        self.client
            .post(self.url(&format!("/api/v1/trips/{trip_id}/{action}")))
            .bearer_auth(&account.token)
            .send()
            .await
            .expect("the gateway answers")
    }

    /// A trip's audit trail as `account` (its rider, a driver it was
    /// offered to, or support) reads it.
    pub async fn trip_events(
        &self,
        account: &Account,
        trip_id: Uuid,
    ) -> Vec<hail_shared::api::trips::DispatchEvent> {
        let response = self
            .get(
                &format!("/api/v1/trips/{trip_id}/events"),
                Some(&account.token),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK, "events of {trip_id}");
        response.json().await.expect("the audit trail")
    }

    /// Polls a trip's audit trail until it holds an event of `kind`; the
    /// trail then (panics after `within`).
    pub async fn wait_for_event(
        &self,
        account: &Account,
        trip_id: Uuid,
        kind: &str,
        within: Duration,
    ) -> Vec<hail_shared::api::trips::DispatchEvent> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let events = self.trip_events(account, trip_id).await;
            if events.iter().any(|e| e.kind == kind) {
                return events;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {kind} on trip {trip_id} after {within:?}: {:?}",
                events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Polls the driver's `current_offer` until one shows up (or `within` passes).
    pub async fn wait_for_offer(&self, driver: &Account, within: Duration) -> Option<Offer> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let offer = self.driver_profile(driver).await.current_offer;
            if offer.is_some() {
                return offer;
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Requests a trip that `driver` (the only one near) is offered and
    /// accepts: the trip, ASSIGNED to `driver`.
    pub async fn assigned_trip(
        &self,
        rider: &Account,
        driver: &Account,
        pickup: LatLng,
        dropoff: LatLng,
    ) -> Trip {
        let trip = self.request_trip(rider, pickup, dropoff).await;
        let offer = self.wait_for_offer(driver, Duration::from_secs(5)).await;
        assert_eq!(
            offer.map(|o| o.trip_id),
            Some(trip.id),
            "the driver is offered the trip"
        );
        let accepted = self.trip_action(driver, trip.id, "accept").await;
        assert_eq!(accepted.status(), StatusCode::OK, "the driver accepts");
        accepted.json().await.unwrap()
    }

    /// Polls a trip until it reaches `status` (panics after `within`).
    pub async fn wait_for_status(
        &self,
        account: &Account,
        trip_id: Uuid,
        status: TripStatus,
        within: Duration,
    ) -> Trip {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let trip = self.trip(account, trip_id).await;
            if trip.status == status {
                return trip;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "trip {trip_id} still {} after {within:?}, wanted {status}",
                trip.status
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Asserts an error answer: status, contract shape and code. Returns the body.
pub async fn assert_error(response: Response, status: StatusCode, code: &str) -> ErrorBody {
    let actual = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "status; body: {text}");
    let body: ErrorBody = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("error body is not the contract shape ({e}): {text}"));
    assert_eq!(body.error.code, code, "code; body: {text}");
    assert!(!body.error.message.is_empty(), "message; body: {text}");
    body
}

/// An expired token for `user_id`.
pub fn expired_claims(user_id: Uuid, role: Role) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        sub: user_id,
        role,
        iat: now - 7200,
        exp: now - 3600,
        iss: "hail".into(),
    }
}

//! The `support` role (API.md): made only by an operator, reads any trip
//! and its audit trail, and a driver's offers day by day; nobody else may.

use std::time::Duration;

use hail_shared::api::delivery::{DeliveredVia, DispatchRecord, OfferOutcome};
use hail_testkit::spawn_app_with;

use crate::helpers::*;

fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

#[tokio::test]
async fn nobody_registers_as_support() {
    let app = spawn_app().await;
    let response = app
        .post(
            "/api/v1/auth/register",
            None,
            &registration(json!({"role": "support"})),
        )
        .await;
    let body = assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let details = body.error.details.expect("field details");
    assert!(details.get("role").is_some(), "{details:?}");
}

#[tokio::test]
async fn support_reads_any_trip_its_trail_and_a_drivers_day() {
    let app = spawn_app_with(|c| {
        c.dispatch.offer_timeout = Duration::from_secs(1);
    })
    .await;
    let support = app.register_support().await;
    let declining = app.driver_online_at(PICKUP.north(0.2)).await;
    let ignoring = app.driver_online_at(PICKUP.north(0.5)).await;
    let rider = app.register_rider().await;
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;

    // The first driver reads the offer (a delivery over REST) and declines;
    // the second never reads it and lets it expire.
    app.wait_for_offer(&declining, SOON).await.expect("offer 1");
    assert_eq!(
        app.trip_action(&declining, trip.id, "decline")
            .await
            .status(),
        StatusCode::OK
    );
    app.wait_for_event(&rider, trip.id, "OFFER_EXPIRED", SOON)
        .await;

    let seen = app.trip(&support, trip.id).await;
    assert_eq!(seen.id, trip.id);
    let trail = app.trip_events(&support, trip.id).await;
    let kinds: Vec<&str> = trail.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds[..5],
        [
            "REQUESTED",
            "OFFER_SENT",
            "OFFER_DELIVERED",
            "OFFER_DECLINED",
            "OFFER_SENT"
        ],
        "{kinds:?}"
    );

    let day = |driver: uuid::Uuid| {
        let app = &app;
        let token = support.token.clone();
        async move {
            let response = app
                .get(
                    &format!(
                        "/api/v1/support/drivers/{driver}/dispatches?date={}",
                        today()
                    ),
                    Some(&token),
                )
                .await;
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Vec<DispatchRecord>>().await.unwrap()
        }
    };
    let first = day(declining.id).await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0].trip_id, trip.id);
    assert_eq!(first[0].outcome, OfferOutcome::Declined);
    assert_eq!(first[0].delivered_via, Some(DeliveredVia::Rest));
    let delivered = first[0].delivered_at.expect("delivered");
    let answered = first[0].answered_at.expect("answered");
    assert!(first[0].sent_at <= delivered && delivered <= answered);
    let second = day(ignoring.id).await;
    assert_eq!(second.len(), 1, "{second:?}");
    assert_eq!(second[0].outcome, OfferOutcome::Expired);
    assert_eq!(second[0].delivered_at, None);
    assert_eq!(second[0].delivered_via, None);

    // Another day is empty; a driver with no offers too.
    let response = app
        .get(
            &format!(
                "/api/v1/support/drivers/{}/dispatches?date=2020-01-01",
                declining.id
            ),
            Some(&support.token),
        )
        .await;
    assert_eq!(
        response.json::<Vec<DispatchRecord>>().await.unwrap(),
        vec![]
    );
    let idle = app.register_driver().await;
    assert!(day(idle.id).await.is_empty());
}

#[tokio::test]
async fn the_support_routes_refuse_everyone_else_and_every_bad_input() {
    let app = spawn_app().await;
    let support = app.register_support().await;
    let rider = app.register_rider().await;
    let driver = app.register_driver().await;
    let path =
        |driver: &str, query: &str| format!("/api/v1/support/drivers/{driver}/dispatches{query}");
    let good = path(&driver.id.to_string(), &format!("?date={}", today()));
    for who in [&rider, &driver] {
        let response = app.get(&good, Some(&who.token)).await;
        assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    }
    assert_error(
        app.get(&good, None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;

    for query in [
        "",
        "?date=",
        "?date=2026-02-30",
        "?date=yesterday",
        "?date=2026-1-5",
    ] {
        let response = app
            .get(&path(&driver.id.to_string(), query), Some(&support.token))
            .await;
        assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    let unknown = path(
        &uuid::Uuid::new_v4().to_string(),
        &format!("?date={}", today()),
    );
    assert_error(
        app.get(&unknown, Some(&support.token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // A rider is not a driver either.
    let not_a_driver = path(&rider.id.to_string(), &format!("?date={}", today()));
    assert_error(
        app.get(&not_a_driver, Some(&support.token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let malformed = app
        .get(
            &path("not-a-uuid", &format!("?date={}", today())),
            Some(&support.token),
        )
        .await;
    assert!(
        malformed.status().is_client_error(),
        "{}",
        malformed.status()
    );
    let body: Value = malformed.json().await.unwrap();
    assert!(body["error"]["code"].is_string(), "{body}");

    // Support reads, and moves nothing: a rider's trip cannot be cancelled
    // or accepted by support, and support cannot ask for a trip.
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    for action in ["cancel", "accept"] {
        let response = app.trip_action(&support, trip.id, action).await;
        assert!(
            matches!(
                response.status(),
                StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
            ),
            "{action}: {}",
            response.status()
        );
    }
    let response = app
        .post(
            "/api/v1/trips",
            Some(&support.token),
            &json!({"pickup": PICKUP, "dropoff": DROPOFF}),
        )
        .await;
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(
        app.trip(&rider, trip.id).await.status.to_string(),
        "REQUESTED"
    );
}

//! Online and offline: idempotent, and refused while BUSY.

use crate::helpers::*;

#[tokio::test]
async fn online_and_offline_are_idempotent() {
    let app = spawn_app().await;
    let driver = app.register_driver().await;
    assert_eq!(status_of(&app, &driver).await, DriverStatus::Offline);
    for wanted in ["online", "online", "offline", "offline", "online"] {
        let response = set_status(&app, &driver, wanted).await;
        assert_eq!(response.status(), StatusCode::OK, "{wanted}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({"status": wanted.to_uppercase()}));
        let expected = if wanted == "online" {
            DriverStatus::Online
        } else {
            DriverStatus::Offline
        };
        assert_eq!(status_of(&app, &driver).await, expected);
    }
}

#[tokio::test]
async fn a_busy_driver_can_neither_go_online_nor_offline() {
    let app = spawn_app().await;
    let driver = online_at(&app, PICKUP.north(0.2)).await;
    let rider = app.register_rider().await;
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    app.wait_for_offer(&driver, SOON).await.expect("an offer");
    assert_eq!(status_of(&app, &driver).await, DriverStatus::Busy);

    for wanted in ["online", "offline"] {
        let response = set_status(&app, &driver, wanted).await;
        assert_error(response, StatusCode::CONFLICT, "conflict").await;
        assert_eq!(
            status_of(&app, &driver).await,
            DriverStatus::Busy,
            "{wanted}"
        );
    }
    // Still BUSY once assigned; free again once the trip is done.
    for action in ["accept", "start", "complete"] {
        assert_eq!(
            app.trip_action(&driver, trip.id, action).await.status(),
            StatusCode::OK,
            "{action}"
        );
        if action != "complete" {
            let response = set_status(&app, &driver, "offline").await;
            assert_error(response, StatusCode::CONFLICT, "conflict").await;
        }
    }
    assert_eq!(
        set_status(&app, &driver, "offline").await.status(),
        StatusCode::OK
    );
}

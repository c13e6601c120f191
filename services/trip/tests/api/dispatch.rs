//! Offers, answers, timeouts, re-dispatch, cancels, crashes.

use std::time::{Duration, Instant};

use crate::helpers::*;

#[tokio::test]
async fn a_whole_trip_from_request_to_complete() {
    let app = spawn_app().await;
    let driver = app.driver_online_at(PICKUP.north(0.3)).await;
    let rider = app.register_rider().await;
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    assert_eq!(trip.status, TripStatus::Requested);
    assert_eq!(trip.driver_id, None);

    let offer = app.wait_for_offer(&driver, SOON).await.expect("an offer");
    assert_eq!(offer.trip_id, trip.id);
    assert!((offer.distance_km - 0.3).abs() < 0.01);
    assert_eq!(app.driver_profile(&driver).await.status, DriverStatus::Busy);

    let accepted: Trip = app
        .trip_action(&driver, trip.id, "accept")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(accepted.status, TripStatus::Assigned);
    assert_eq!(accepted.driver_id, Some(driver.id));
    assert!(accepted.assigned_at.is_some());
    let profile = app.driver_profile(&driver).await;
    assert_eq!(profile.current_trip_id, Some(trip.id));
    assert_eq!(profile.current_offer, None);
    // The driver sees the trip too.
    assert_eq!(
        app.trip(&driver, trip.id).await.status,
        TripStatus::Assigned
    );

    let started: Trip = app
        .trip_action(&driver, trip.id, "start")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(started.status, TripStatus::Ongoing);
    let completed: Trip = app
        .trip_action(&driver, trip.id, "complete")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(completed.status, TripStatus::Completed);
    assert!(completed.completed_at.is_some());

    let profile = app.driver_profile(&driver).await;
    assert_eq!(profile.status, DriverStatus::Online);
    assert_eq!(profile.current_trip_id, None);
    assert_eq!(
        kinds(&events(&app, &rider, trip.id).await),
        [
            "REQUESTED",
            "OFFER_SENT",
            // The driver read it as `current_offer`: delivered over REST.
            "OFFER_DELIVERED",
            "OFFER_ACCEPTED",
            "ASSIGNED",
            "STARTED",
            "COMPLETED"
        ]
    );
    // Both see it in their history.
    for account in [&rider, &driver] {
        let list: Vec<Trip> = app
            .get("/api/v1/trips?limit=5", Some(&account.token))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(list.iter().map(|t| t.id).collect::<Vec<_>>(), vec![trip.id]);
    }
}

#[tokio::test]
async fn a_decline_offers_the_next_driver_at_once_and_never_the_decliner_again() {
    let app = spawn_app().await;
    let first = app.driver_online_at(PICKUP.north(0.2)).await;
    let second = app.driver_online_at(PICKUP.north(0.8)).await;
    let rider = app.register_rider().await;
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;

    assert_eq!(
        app.wait_for_offer(&first, SOON).await.map(|o| o.trip_id),
        Some(trip.id)
    );
    let response = app.trip_action(&first, trip.id, "decline").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"status": "declined"}));

    // How fast is `hail bench redispatch`'s to say; here, that it happens.
    let offer = app
        .wait_for_offer(&second, SOON)
        .await
        .expect("the next driver is offered the trip");
    assert_eq!(offer.trip_id, trip.id);
    assert_eq!(
        app.driver_profile(&first).await.status,
        DriverStatus::Online
    );

    // The second declines too: nobody is left, and the first is not asked
    // again. The sentinel is the search after that decline: it found nobody
    // (the trip's radius widened), so had it offered the first driver again,
    // that offer would be open now.
    app.trip_action(&second, trip.id, "decline").await;
    searched_and_found_nobody(&app, trip.id).await;
    assert_eq!(app.driver_profile(&first).await.current_offer, None);
    assert_eq!(
        app.driver_profile(&first).await.status,
        DriverStatus::Online
    );
    assert_eq!(
        app.trip(&rider, trip.id).await.status,
        TripStatus::Requested
    );
}

#[tokio::test]
async fn an_unanswered_offer_expires_moves_on_and_cannot_be_accepted() {
    let app = fast_app().await;
    let first = app.driver_online_at(PICKUP.north(0.2)).await;
    let second = app.driver_online_at(PICKUP.north(0.8)).await;
    let rider = app.register_rider().await;
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;

    let offer = app.wait_for_offer(&first, SOON).await.expect("first offer");
    let expires_at = offer.expires_at;
    let next = app
        .wait_for_offer(&second, SOON)
        .await
        .expect("second offer");
    assert_eq!(next.trip_id, trip.id);
    // Made only once the first had expired (an offer's expiry is when it
    // was made plus the timeout); order, not speed: speed is the bench's.
    let timeout = chrono::Duration::from_std(app.config.dispatch.offer_timeout).unwrap();
    let tolerance = chrono::Duration::milliseconds(50);
    assert!(
        next.expires_at - timeout + tolerance >= expires_at,
        "the next offer was made before the first expired"
    );

    let response = app.trip_action(&first, trip.id, "accept").await;
    assert_error(response, StatusCode::CONFLICT, "offer_expired").await;
    let profile = app.driver_profile(&first).await;
    assert_eq!(profile.status, DriverStatus::Online);
    assert_eq!(profile.current_offer, None);
    assert!(kinds(&events(&app, &rider, trip.id).await).contains(&"OFFER_EXPIRED"));
}

#[tokio::test]
async fn a_rider_cancel_revokes_the_open_offer_and_frees_the_driver() {
    let app = spawn_app().await;
    let driver = app.driver_online_at(PICKUP.north(0.2)).await;
    let rider = app.register_rider().await;
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    app.wait_for_offer(&driver, SOON).await.expect("offer");

    let response = app
        .post(
            &format!("/api/v1/trips/{}/cancel", trip.id),
            Some(&rider.token),
            &json!({"reason": "plans changed"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let cancelled: Trip = response.json().await.unwrap();
    assert_eq!(cancelled.status, TripStatus::Cancelled);
    assert_eq!(cancelled.cancel_reason.as_deref(), Some("plans changed"));

    let profile = app.driver_profile(&driver).await;
    assert_eq!(profile.status, DriverStatus::Online);
    assert_eq!(profile.current_offer, None);
    let response = app.trip_action(&driver, trip.id, "accept").await;
    assert_error(response, StatusCode::CONFLICT, "offer_expired").await;
}

#[tokio::test]
async fn a_driver_cancel_after_accept_redispatches_to_someone_else() {
    let app = spawn_app().await;
    let first = app.driver_online_at(PICKUP.north(0.2)).await;
    let second = app.driver_online_at(PICKUP.north(0.9)).await;
    let rider = app.register_rider().await;
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    app.wait_for_offer(&first, SOON).await.expect("offer");
    assert_eq!(
        app.trip_action(&first, trip.id, "accept").await.status(),
        StatusCode::OK
    );

    let back: Trip = app
        .trip_action(&first, trip.id, "cancel")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(back.status, TripStatus::Requested);
    assert_eq!(back.driver_id, None);
    assert_eq!(
        app.driver_profile(&first).await.status,
        DriverStatus::Online
    );

    let offer = app
        .wait_for_offer(&second, SOON)
        .await
        .expect("re-dispatched");
    assert_eq!(offer.trip_id, trip.id);
    app.trip_action(&second, trip.id, "accept").await;
    let assigned = app.trip(&rider, trip.id).await;
    assert_eq!(assigned.driver_id, Some(second.id));
    assert!(kinds(&events(&app, &rider, trip.id).await).contains(&"DRIVER_CANCELLED"));
    // The first driver can no longer see the trip.
    let response = app
        .get(&format!("/api/v1/trips/{}", trip.id), Some(&first.token))
        .await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn completing_makes_the_driver_matchable_again() {
    let app = spawn_app().await;
    let driver = app.driver_online_at(PICKUP.north(0.2)).await;
    for _ in 0..2 {
        let rider = app.register_rider().await;
        let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
        let offer = app.wait_for_offer(&driver, SOON).await.expect("offer");
        assert_eq!(offer.trip_id, trip.id);
        for action in ["accept", "start", "complete"] {
            assert_eq!(
                app.trip_action(&driver, trip.id, action).await.status(),
                StatusCode::OK
            );
        }
    }
}

#[tokio::test]
async fn auto_mode_assigns_the_nearest_driver_directly() {
    let app = spawn_app_with(|c| c.dispatch.mode = hail_shared::config::MatchMode::Auto).await;
    let far = app.driver_online_at(PICKUP.north(1.0)).await;
    let near = app.driver_online_at(PICKUP.north(0.1)).await;
    let rider = app.register_rider().await;
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    let assigned = app
        .wait_for_status(&rider, trip.id, TripStatus::Assigned, SOON)
        .await;
    assert_eq!(assigned.driver_id, Some(near.id));
    assert_eq!(
        app.driver_profile(&near).await.current_trip_id,
        Some(trip.id)
    );
    assert_eq!(app.driver_profile(&far).await.status, DriverStatus::Online);
}

#[tokio::test]
async fn with_nobody_in_reach_the_trip_ends_no_driver_at_the_deadline() {
    let app = spawn_app_with(|c| c.dispatch.match_deadline = Duration::from_secs(4)).await;
    // 30 km away: beyond the widest search.
    let _far = app.driver_online_at(PICKUP.north(30.0)).await;
    let rider = app.register_rider().await;
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    app.wait_for_status(&rider, trip.id, TripStatus::NoDriver, SOON)
        .await;
    let kinds_seen = events(&app, &rider, trip.id).await;
    assert_eq!(kinds(&kinds_seen), ["REQUESTED", "NO_DRIVER"]);
    // The radius was widened up to the maximum before giving up.
    assert_eq!(kinds_seen[1].detail["searched_km"], json!(10.0));
    // The rider may ask again.
    app.request_trip(&rider, PICKUP, DROPOFF).await;
}

#[tokio::test]
async fn a_premium_trip_beats_an_earlier_standard_one_to_a_new_driver() {
    let app = spawn_app().await;
    let standard_rider = app.register_rider().await;
    let premium_rider = app.register_rider().await;
    let standard = app.request_trip(&standard_rider, PICKUP, DROPOFF).await;
    let premium = app
        .request_trip_with(
            &premium_rider,
            json!({"pickup": PICKUP, "dropoff": DROPOFF, "tier": "premium"}),
        )
        .await;
    // Both have searched and found nobody (their radius widened); then one
    // driver appears.
    searched_and_found_nobody(&app, standard.id).await;
    searched_and_found_nobody(&app, premium.id).await;
    let driver = app.driver_online_at(PICKUP.north(0.2)).await;
    let offer = app.wait_for_offer(&driver, SOON).await.expect("offer");
    assert_eq!(
        offer.trip_id, premium.id,
        "standard trip was {}",
        standard.id
    );
}

#[tokio::test]
async fn a_trip_waiting_for_a_driver_gets_the_new_one_before_a_younger_trip() {
    let app = spawn_app().await;
    let waiting_rider = app.register_rider().await;
    let younger_rider = app.register_rider().await;
    // Searched and found nobody: waiting for its next search.
    let waiting = app.request_trip(&waiting_rider, PICKUP, DROPOFF).await;
    searched_and_found_nobody(&app, waiting.id).await;
    // A driver appears, and a younger trip is requested even closer to it,
    // before the waiting trip's next search comes round.
    let driver = app.driver_online_at(PICKUP.north(1.0)).await;
    let younger = app
        .request_trip(&younger_rider, PICKUP.north(1.1), DROPOFF)
        .await;
    let offer = app.wait_for_offer(&driver, SOON).await.expect("offer");
    assert_eq!(
        offer.trip_id, waiting.id,
        "the younger trip {} took the driver",
        younger.id
    );
}

#[tokio::test]
async fn a_matcher_that_dies_between_claim_and_offer_loses_nothing() {
    let mut app = spawn_app_with(|c| {
        c.dispatch.crash_after_claim = true;
        c.dispatch.step_lease = Duration::from_secs(1);
    })
    .await;
    let driver = app.driver_online_at(PICKUP.north(0.2)).await;
    let rider = app.register_rider().await;
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;

    // The claim happened (the driver is held), then the matcher died.
    let deadline = Instant::now() + SOON;
    while app.driver_profile(&driver).await.status != DriverStatus::Busy {
        assert!(Instant::now() < deadline, "the driver was never claimed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // This sleep stays: the failpoint stops this service's matcher dead, so
    // nothing on it can happen later to mark "settled"; the positive half
    // (the restarted service offers the trip) follows.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!kinds(&events(&app, &rider, trip.id).await).contains(&"OFFER_SENT"));

    // A new trip service (as after a restart) picks the trip up again.
    app.stop(Service::Trip).await;
    app.config.dispatch.crash_after_claim = false;
    app.start(Service::Trip).await;
    let deadline = Instant::now() + SOON;
    loop {
        if kinds(&events(&app, &rider, trip.id).await).contains(&"OFFER_SENT") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the trip was never dispatched again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.trip_action(&driver, trip.id, "accept").await;
    let trip = app.trip(&rider, trip.id).await;
    assert_eq!(trip.status, TripStatus::Assigned);
    let profile = app.driver_profile(&driver).await;
    assert_eq!(profile.status, DriverStatus::Busy);
    assert_eq!(profile.current_trip_id, Some(trip.id));
}

/// Waits until `trip` has searched and found nobody: an empty search widens
/// its radius past the first one (`HAIL_SEARCH_RADIUS_KM`).
async fn searched_and_found_nobody(app: &TestApp, trip: uuid::Uuid) {
    let pool = sqlx::PgPool::connect(&app.config.database_url)
        .await
        .unwrap();
    let first = app.config.dispatch.search_radius_km;
    let deadline = tokio::time::Instant::now() + SOON;
    loop {
        let radius: f64 =
            sqlx::query_scalar("SELECT search_radius_km FROM trip.trips WHERE id = $1")
                .bind(trip)
                .fetch_one(&pool)
                .await
                .unwrap();
        if radius > first {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "trip {trip} never searched and found nobody"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A matcher pass opens its offers together (one transaction for all of
/// them): riders who cancel while their trips are in that pass leave no
/// offer open and no driver held, and every other trip of the pass gets
/// its own driver's offer, audited once.
#[tokio::test]
async fn trips_offered_together_keep_each_offer_to_its_own_trip_when_some_riders_cancel() {
    let app = spawn_app().await;
    let db = sqlx::PgPool::connect(&app.config.database_url)
        .await
        .unwrap();
    let mut drivers = Vec::new();
    let mut riders = Vec::new();
    // 3 km apart along a line through the city, each at its rider's pickup.
    let spot = |i: usize| PICKUP.north(3.0 * i as f64 - 13.5);
    for i in 0..10 {
        drivers.push(app.driver_online_at(spot(i)).await);
        riders.push(app.register_rider().await);
    }
    // All at once, and the first four cancel as soon as they hear 202.
    let trips = futures::future::join_all(riders.iter().enumerate().map(|(i, rider)| {
        let app = &app;
        async move {
            let trip = app.request_trip(rider, spot(i), DROPOFF).await;
            if i < 4 {
                let response = app
                    .post(
                        &format!("/api/v1/trips/{}/cancel", trip.id),
                        Some(&rider.token),
                        &json!({}),
                    )
                    .await;
                assert_eq!(response.status(), StatusCode::OK);
            }
            trip
        }
    }))
    .await;

    for (driver, trip) in drivers.iter().zip(&trips).skip(4) {
        let offer = app.wait_for_offer(driver, SOON).await.expect("an offer");
        assert_eq!(offer.trip_id, trip.id);
    }
    for (i, trip) in trips.iter().enumerate() {
        let (sent, live): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM trip.dispatch_events WHERE trip_id = $1 AND type = 'OFFER_SENT'),
                    (SELECT count(*) FROM trip.offers WHERE trip_id = $1 AND status IN ('CLAIMING', 'OPEN'))",
        )
        .bind(trip.id)
        .fetch_one(&db)
        .await
        .unwrap();
        if i < 4 {
            assert_eq!(live, 0, "cancelled trip {i} still holds an offer");
            assert!(sent <= 1, "cancelled trip {i}: {sent} offers sent");
        } else {
            assert_eq!((sent, live), (1, 1), "trip {i}");
        }
    }
    // The cancelled trips' drivers are free again, offered nothing.
    for driver in &drivers[..4] {
        let deadline = Instant::now() + SOON;
        loop {
            let profile = app.driver_profile(driver).await;
            if profile.status == DriverStatus::Online && profile.current_offer.is_none() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "a cancelled trip's driver is still held: {:?}",
                profile.status
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A change wakes the matchers of other instances through Postgres, on its
/// lane's channel only: a new trip the fresh lane's, a declined offer the
/// queue's. Each notification names the instance that sent it (which woke
/// its own matcher already and ignores it); opening an offer wakes nobody.
#[tokio::test]
async fn a_change_wakes_only_its_lanes_matchers_in_other_instances() {
    let app = spawn_app().await;
    let mut heard = sqlx::postgres::PgListener::connect(&app.config.database_url)
        .await
        .unwrap();
    heard
        .listen_all(["hail_dispatch_fresh", "hail_dispatch_queue"])
        .await
        .unwrap();
    let driver = app.driver_online_at(PICKUP.north(0.3)).await;
    let rider = app.register_rider().await;

    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    let request = tokio::time::timeout(SOON, heard.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(request.channel(), "hail_dispatch_fresh");
    let sender = request.payload().to_string();
    assert!(uuid::Uuid::parse_str(&sender).is_ok(), "sender {sender:?}");

    app.wait_for_offer(&driver, SOON).await.expect("an offer");
    let quiet = tokio::time::timeout(Duration::from_millis(300), heard.recv()).await;
    assert!(quiet.is_err(), "the offer woke someone: {quiet:?}");

    let response = app.trip_action(&driver, trip.id, "decline").await;
    assert_eq!(response.status(), StatusCode::OK);
    let decline = tokio::time::timeout(SOON, heard.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(decline.channel(), "hail_dispatch_queue");
    assert_eq!(decline.payload(), sender);
}

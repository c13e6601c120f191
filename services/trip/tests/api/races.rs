//! Real concurrency: many riders, few drivers, everyone at once.

use std::{collections::HashSet, sync::Arc, time::Duration};

use uuid::Uuid;

use tokio::task::JoinSet;

use hail_shared::{internal::Peer, keys::Keys};
use redis::AsyncCommands;

use crate::helpers::*;

/// Drivers who accept any offer at once, as fast as they can, for `run`.
async fn eager_driver(app: Arc<TestApp>, driver: Account, run: Duration, toggle: bool) {
    let until = tokio::time::Instant::now() + run;
    let mut flip = false;
    while tokio::time::Instant::now() < until {
        if let Some(offer) = app.wait_for_offer(&driver, Duration::from_millis(50)).await {
            app.trip_action(&driver, offer.trip_id, "accept").await;
        }
        if toggle {
            // Going offline is refused while BUSY; either way the storm goes on.
            flip = !flip;
            let path = if flip { "offline" } else { "online" };
            app.post(
                &format!("/api/v1/drivers/me/{path}"),
                Some(&driver.token),
                &json!({}),
            )
            .await;
            if !flip {
                app.ping(&driver, PICKUP.north(0.5)).await;
            }
        }
    }
}

async fn storm(toggle: bool) {
    let app = Arc::new(fast_app().await);
    let mut drivers = Vec::new();
    for i in 0..10 {
        drivers.push(app.driver_online_at(PICKUP.north(0.1 * i as f64)).await);
    }
    let mut riders = Vec::new();
    for _ in 0..30 {
        riders.push(app.register_rider().await);
    }
    assert_eq!(riders.len(), 30);

    let mut tasks = JoinSet::new();
    for driver in drivers.clone() {
        tasks.spawn(eager_driver(
            app.clone(),
            driver,
            Duration::from_secs(8),
            toggle,
        ));
    }
    let mut requests = JoinSet::new();
    for rider in riders.clone() {
        let app = app.clone();
        requests.spawn(async move {
            let trip_id = app.request_trip(&rider, PICKUP, DROPOFF).await.id;
            (rider, trip_id)
        });
    }
    let requested: Vec<(Account, uuid::Uuid)> = requests.join_all().await;
    tasks.join_all().await;

    // Every driver answered at once; now look at what happened.
    let mut assigned = Vec::new();
    for (rider, trip_id) in &requested {
        let trip = app.trip(rider, *trip_id).await;
        if trip.status == TripStatus::Assigned {
            assigned.push(trip);
        } else {
            assert_eq!(trip.status, TripStatus::Requested, "{trip:?}");
            assert_eq!(trip.driver_id, None);
        }
    }
    let distinct: HashSet<_> = assigned.iter().map(|t| t.driver_id).collect();
    assert_eq!(distinct.len(), assigned.len(), "a driver holds two trips");
    if !toggle {
        assert_eq!(assigned.len(), 10, "every driver should be on a trip");
    } else {
        assert!(!assigned.is_empty());
    }
    for driver in &drivers {
        let profile = app.driver_profile(driver).await;
        let mine: Vec<&Trip> = assigned
            .iter()
            .filter(|t| t.driver_id == Some(driver.id))
            .collect();
        match mine.as_slice() {
            [trip] => {
                assert_eq!(profile.status, DriverStatus::Busy);
                assert_eq!(profile.current_trip_id, Some(trip.id));
            }
            [] => {
                // Not on a trip: free, or held by an offer still open.
                if profile.status == DriverStatus::Busy {
                    let offer = profile
                        .current_offer
                        .expect("BUSY without a trip needs an open offer");
                    assert_eq!(Some(offer.trip_id), profile.current_trip_id);
                } else {
                    // Every claim on a driver who is not busy was released.
                    let lock = Keys::new(app.config.redis_prefix.clone()).driver_lock(driver.id);
                    let held: bool = app.redis().await.exists(&lock).await.unwrap();
                    assert!(
                        !held,
                        "driver {} is {:?} but still claimed",
                        driver.id, profile.status
                    );
                }
            }
            more => panic!("driver {} on {} trips", driver.id, more.len()),
        }
    }

    // Every rider cancels: every claim the storm made is given back (a pass
    // still in flight may hold one for a moment, never for good).
    for (rider, trip_id) in &requested {
        let response = app.trip_action(rider, *trip_id, "cancel").await;
        if response.status() != StatusCode::OK {
            // Only a trip that already ended may refuse.
            let trip = app.trip(rider, *trip_id).await;
            assert_eq!(
                trip.status,
                TripStatus::NoDriver,
                "cancel refused: {trip:?}"
            );
        }
    }
    let keys = Keys::new(app.config.redis_prefix.clone());
    let mut redis = app.redis().await;
    let deadline = tokio::time::Instant::now() + SOON;
    for driver in &drivers {
        while redis
            .exists::<_, bool>(keys.driver_lock(driver.id))
            .await
            .unwrap()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "driver {} is still claimed after every trip was cancelled",
                driver.id
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_riders_ten_eager_drivers_make_ten_distinct_assignments() {
    storm(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_storm_holds_its_invariants_while_drivers_toggle_online_and_offline() {
    storm(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_drivers_answering_one_offer_at_once_cannot_both_win() {
    let app = Arc::new(spawn_app().await);
    let driver = app.driver_online_at(PICKUP.north(0.2)).await;
    let rider = app.register_rider().await;
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    app.wait_for_offer(&driver, SOON).await.expect("offer");
    // Accept, decline and a rider cancel race on one offer.
    let (accept, decline, cancel) = tokio::join!(
        app.trip_action(&driver, trip.id, "accept"),
        app.trip_action(&driver, trip.id, "decline"),
        app.trip_action(&rider, trip.id, "cancel"),
    );
    let winners = [accept.status(), decline.status()]
        .iter()
        .filter(|s| s.is_success())
        .count();
    assert!(
        winners <= 1,
        "accept {} decline {}",
        accept.status(),
        decline.status()
    );
    assert_eq!(cancel.status(), StatusCode::OK);
    // Whatever won, the trip ended cancelled and the driver is free.
    assert_eq!(
        app.trip(&rider, trip.id).await.status,
        TripStatus::Cancelled
    );
    let profile = app.driver_profile(&driver).await;
    assert_eq!(profile.status, DriverStatus::Online);
    assert_eq!(profile.current_trip_id, None);
    // And on no ride: however the accept and the cancel interleaved, the
    // driver's pings reach nobody, even once it is BUSY again with the
    // next trip's offer (a ride left over would send them to the first
    // trip's rider).
    let next_rider = app.register_rider().await;
    let next_trip = app.request_trip(&next_rider, PICKUP, DROPOFF).await;
    let both = [trip.id, next_trip.id];
    let mut pubsub = subscribe(
        &app,
        &[&location_channel(trip.id), &location_channel(next_trip.id)],
    )
    .await;
    assert_eq!(app.ping(&driver, PICKUP).await, StatusCode::NO_CONTENT);
    nothing_published_before(&app, &mut pubsub, &both).await;
    app.wait_for_offer(&driver, SOON)
        .await
        .expect("the next offer");
    assert_eq!(app.driver_profile(&driver).await.status, DriverStatus::Busy);
    assert_eq!(app.ping(&driver, PICKUP).await, StatusCode::NO_CONTENT);
    nothing_published_before(&app, &mut pubsub, &both).await;
}

/// One `POST /internal/drivers/claims` straight to the driver service, as
/// the matcher makes it: per trip, its drivers nearest first.
async fn claims(app: &TestApp, wishes: &[(Uuid, Vec<Uuid>)]) -> Vec<Option<Uuid>> {
    let body = json!({
        "ttl_secs": 30,
        "claims": wishes
            .iter()
            .map(|(trip, drivers)| json!({"trip_id": trip, "city": "sg", "drivers": drivers}))
            .collect::<Vec<_>>(),
    });
    let response = hail_testkit::reqwest::Client::new()
        .post(app.service_url(Service::Driver, "/internal/drivers/claims"))
        .header("x-internal-token", app.peer_token(Peer::Trip))
        .json(&body)
        .send()
        .await
        .expect("the driver service answers");
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.expect("a JSON answer");
    serde_json::from_value(answer["claimed"].clone()).expect("one entry per trip")
}

#[tokio::test]
async fn one_claims_call_gives_each_driver_to_the_first_trip_that_wants_it() {
    let app = spawn_app().await;
    let mut d = Vec::new();
    for i in 0..3 {
        d.push(app.driver_online_at(PICKUP.north(0.1 * i as f64)).await.id);
    }
    let trips: Vec<Uuid> = (0..4).map(|_| Uuid::new_v4()).collect();
    let batch = [
        (trips[0], vec![d[0], d[1]]),
        (trips[1], vec![d[0], d[2]]),
        (trips[2], vec![d[0]]),
    ];
    // Everyone wants d0 most: the first trip gets it, the second its next
    // nearest, the third nobody.
    assert_eq!(
        claims(&app, &batch).await,
        vec![Some(d[0]), Some(d[2]), None]
    );
    // A retried call: each trip keeps what it holds and takes nothing more.
    assert_eq!(
        claims(&app, &batch).await,
        vec![Some(d[0]), Some(d[2]), None]
    );
    let nearby = |driver: Uuid| {
        let app = &app;
        async move {
            let mut redis = app.redis().await;
            let score: Option<f64> = redis::cmd("ZSCORE")
                .arg(app.city_index(None))
                .arg(driver.to_string())
                .query_async(&mut redis)
                .await
                .unwrap();
            score.is_some()
        }
    };
    assert!(!nearby(d[0]).await && !nearby(d[2]).await && nearby(d[1]).await);
    // Another caller cannot take a held driver.
    assert_eq!(
        claims(&app, &[(trips[3], vec![d[0], d[2]])]).await,
        vec![None]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_matchers_claiming_the_same_drivers_at_once_never_share_one() {
    let app = Arc::new(spawn_app().await);
    let mut drivers = Vec::new();
    for i in 0..5 {
        drivers.push(app.driver_online_at(PICKUP.north(0.1 * i as f64)).await.id);
    }
    for round in 0..5 {
        // Two batches of four trips each, all wanting the same five drivers.
        let batches: Vec<Vec<(Uuid, Vec<Uuid>)>> = (0..2)
            .map(|_| (0..4).map(|_| (Uuid::new_v4(), drivers.clone())).collect())
            .collect();
        let (a, b) = tokio::join!(claims(&app, &batches[0]), claims(&app, &batches[1]));
        let won: Vec<(Uuid, Uuid)> = batches
            .iter()
            .flatten()
            .zip(a.iter().chain(&b))
            .filter_map(|((trip, _), got)| got.map(|d| (d, *trip)))
            .collect();
        let distinct: HashSet<Uuid> = won.iter().map(|(d, _)| *d).collect();
        assert_eq!(
            won.len(),
            5,
            "round {round}: every driver goes to some trip"
        );
        assert_eq!(
            distinct.len(),
            5,
            "round {round}: a driver went to two trips"
        );
        // Within each batch, earlier trips got nearer drivers.
        for got in [&a, &b] {
            let ranks: Vec<usize> = got
                .iter()
                .flatten()
                .map(|d| drivers.iter().position(|x| x == d).unwrap())
                .collect();
            assert!(
                ranks.windows(2).all(|w| w[0] < w[1]),
                "round {round}: {ranks:?}"
            );
        }
        for (driver, trip) in won {
            let released = hail_testkit::reqwest::Client::new()
                .post(app.service_url(
                    Service::Driver,
                    &format!("/internal/drivers/{driver}/release"),
                ))
                .header("x-internal-token", app.peer_token(Peer::Trip))
                .json(&json!({"trip_id": trip}))
                .send()
                .await
                .expect("the driver service answers");
            assert_eq!(released.status(), StatusCode::OK);
        }
    }
}

//! Batched matching (`HAIL_MATCH_STRATEGY=batched`) against the real stack:
//! the two riders with one driver between them, premium first,
//! two trip services batching at once, a driver gone before its claim.

use std::{collections::HashSet, time::Duration};

use chrono::{DateTime, Utc};
use futures::future::join_all;
use hail_shared::config::{Config, MatchMode, MatchStrategy};
use tokio::time::Instant;

use super::helpers::*;

const WINDOW: Duration = Duration::from_millis(1500);

async fn batched_app(customize: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_with(|c| {
        c.dispatch.strategy = MatchStrategy::Batched;
        c.dispatch.batch_window = WINDOW;
        customize(c);
    })
    .await
}

/// The next boundary of a `window` grid after `at` (when a batch runs).
fn boundary_after(at: DateTime<Utc>, window: Duration) -> DateTime<Utc> {
    let w = window.as_millis() as i64;
    DateTime::from_timestamp_millis((at.timestamp_millis() / w + 1) * w).unwrap()
}

/// Sleeps until just past a batch boundary: what is requested in the next
/// moments lands in one batch, a whole window away.
async fn just_after_a_boundary(window: Duration) {
    let now = Utc::now();
    let wait = (boundary_after(now, window) - now).to_std().unwrap();
    tokio::time::sleep(wait + Duration::from_millis(50)).await;
}

/// The case on a north-south line: rider A at the pickup, rider B
/// 900 m north; driver M 300 m north (between them), driver F 400 m south
/// (beyond A). Nearest-first gives A the driver between them and B the far
/// one, 1.6 km of pickups; swapped, 1.0 km.
struct TwoRiders {
    a: LatLng,
    b: LatLng,
    m: LatLng,
    f: LatLng,
}

const LINE: TwoRiders = TwoRiders {
    a: PICKUP,
    b: LatLng {
        lat: PICKUP.lat + 0.9 / 6372.797560856 * 57.29577951308232,
        lng: PICKUP.lng,
    },
    m: LatLng {
        lat: PICKUP.lat + 0.3 / 6372.797560856 * 57.29577951308232,
        lng: PICKUP.lng,
    },
    f: LatLng {
        lat: PICKUP.lat - 0.4 / 6372.797560856 * 57.29577951308232,
        lng: PICKUP.lng,
    },
};

/// Drivers M and F online at their places, and riders for A and B.
async fn on_the_line(app: &TestApp) -> (Account, Account, Account, Account) {
    let m = app.driver_online_at(LINE.m).await;
    let f = app.driver_online_at(LINE.f).await;
    (m, f, app.register_rider().await, app.register_rider().await)
}

/// `OFFER_SENT`'s detail in the trip's audit (the first one).
async fn offer_sent(app: &TestApp, rider: &Account, trip: uuid::Uuid) -> DispatchEvent {
    events(app, rider, trip)
        .await
        .into_iter()
        .find(|e| e.kind == "OFFER_SENT")
        .expect("an OFFER_SENT")
}

#[tokio::test]
async fn two_riders_with_a_driver_between_them_get_the_swapped_drivers_in_one_batch() {
    let app = batched_app(|_| {}).await;
    let (m, f, rider_a, rider_b) = on_the_line(&app).await;

    just_after_a_boundary(WINDOW).await;
    let trip_a = app.request_trip(&rider_a, LINE.a, DROPOFF).await;
    let trip_b = app.request_trip(&rider_b, LINE.b, DROPOFF).await;

    let within = WINDOW * 2 + SOON;
    let to_m = app
        .wait_for_offer(&m, within)
        .await
        .expect("M gets an offer");
    let to_f = app
        .wait_for_offer(&f, within)
        .await
        .expect("F gets an offer");
    assert_eq!(to_m.trip_id, trip_b.id, "the driver between them goes to B");
    assert_eq!(to_f.trip_id, trip_a.id, "the driver beyond A goes to A");

    // One batch, named in the audit, and it waited for its window.
    let (sent_a, sent_b) = (
        offer_sent(&app, &rider_a, trip_a.id).await,
        offer_sent(&app, &rider_b, trip_b.id).await,
    );
    for sent in [&sent_a, &sent_b] {
        assert_eq!(sent.detail["strategy"], "batched", "{:?}", sent.detail);
        assert_eq!(sent.detail["batch_size"], 2, "{:?}", sent.detail);
        assert!(sent.at >= boundary_after(trip_b.created_at, WINDOW));
    }
    assert_eq!(sent_a.detail["batch_id"], sent_b.detail["batch_id"]);
}

#[tokio::test]
async fn under_greedy_the_first_rider_takes_the_driver_between_them() {
    let app = spawn_app().await;
    let (m, f, rider_a, rider_b) = on_the_line(&app).await;

    let trip_a = app.request_trip(&rider_a, LINE.a, DROPOFF).await;
    let trip_b = app.request_trip(&rider_b, LINE.b, DROPOFF).await;

    let to_m = app.wait_for_offer(&m, SOON).await.expect("M gets an offer");
    let to_f = app.wait_for_offer(&f, SOON).await.expect("F gets an offer");
    assert_eq!(to_m.trip_id, trip_a.id);
    assert_eq!(to_f.trip_id, trip_b.id);
    let sent = offer_sent(&app, &rider_a, trip_a.id).await;
    assert_eq!(sent.detail["strategy"], "greedy", "{:?}", sent.detail);
    assert!(sent.detail.get("batch_id").is_none(), "{:?}", sent.detail);
}

#[tokio::test]
async fn a_premium_trip_in_a_batch_still_gets_its_nearest_driver() {
    let app = batched_app(|_| {}).await;
    let (m, f, rider_a, rider_b) = on_the_line(&app).await;

    just_after_a_boundary(WINDOW).await;
    // B first, so that A is not first by age either.
    let trip_b = app.request_trip(&rider_b, LINE.b, DROPOFF).await;
    let trip_a = app
        .request_trip_with(
            &rider_a,
            json!({"pickup": LINE.a, "dropoff": DROPOFF, "tier": "premium"}),
        )
        .await;

    let within = WINDOW * 2 + SOON;
    let to_m = app
        .wait_for_offer(&m, within)
        .await
        .expect("M gets an offer");
    let to_f = app
        .wait_for_offer(&f, within)
        .await
        .expect("F gets an offer");
    assert_eq!(
        to_m.trip_id, trip_a.id,
        "the premium trip keeps its nearest"
    );
    assert_eq!(to_f.trip_id, trip_b.id);
}

#[tokio::test]
async fn two_trip_services_batching_at_once_never_share_a_driver() {
    const DRIVERS: usize = 12;
    const RIDERS: usize = 20;
    let mut app = batched_app(|c| c.dispatch.mode = MatchMode::Auto).await;
    app.start_second_trip_service().await;
    let drivers =
        join_all((0..DRIVERS).map(|k| app.driver_online_at(PICKUP.north(0.1 * k as f64 - 0.6))))
            .await;
    let riders = join_all((0..RIDERS).map(|_| app.register_rider())).await;
    let trips =
        join_all(riders.iter().enumerate().map(|(k, rider)| {
            app.request_trip(rider, PICKUP.north(0.05 * k as f64 - 0.5), DROPOFF)
        }))
        .await;

    // Every driver ends up with one trip; the other trips wait.
    let deadline = Instant::now() + WINDOW * 4 + SOON;
    let assigned = loop {
        let now: Vec<Trip> = join_all(
            riders
                .iter()
                .zip(&trips)
                .map(|(rider, trip)| app.trip(rider, trip.id)),
        )
        .await;
        let assigned: Vec<Trip> = now
            .into_iter()
            .filter(|t| t.status == TripStatus::Assigned)
            .collect();
        if assigned.len() >= DRIVERS || Instant::now() > deadline {
            break assigned;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let distinct: HashSet<uuid::Uuid> = assigned.iter().filter_map(|t| t.driver_id).collect();
    assert_eq!(assigned.len(), DRIVERS, "every driver got a trip");
    assert_eq!(distinct.len(), DRIVERS, "no driver has two trips");
    for driver in &drivers {
        let profile = app.driver_profile(driver).await;
        let mine: Vec<&Trip> = assigned
            .iter()
            .filter(|t| t.driver_id == Some(driver.id))
            .collect();
        assert_eq!(mine.len(), 1);
        assert_eq!(profile.current_trip_id, Some(mine[0].id));
    }
}

#[tokio::test]
async fn a_trip_whose_driver_went_away_before_the_claim_is_first_in_the_next_batch() {
    let window = Duration::from_millis(1000);
    let app = batched_app(|c| {
        c.dispatch.batch_window = window;
        c.dispatch.pause_before_batch_claim = Some(Duration::from_millis(2000));
    })
    .await;
    let pool = sqlx::PgPool::connect(&app.config.database_url)
        .await
        .unwrap();
    // T's driver D is 100 m away; E is 1 km from T, 200 m from U's pickup.
    let d = app.driver_online_at(PICKUP.north(0.1)).await;
    let e = app.driver_online_at(PICKUP.north(1.0)).await;
    let (rider_t, rider_u) = (app.register_rider().await, app.register_rider().await);

    just_after_a_boundary(window).await;
    let trip_t = app.request_trip(&rider_t, PICKUP, DROPOFF).await;
    // Its batch has picked it (leased) and solved it (D): D goes away
    // while the batch waits to claim (the failpoint).
    let deadline = Instant::now() + window * 2 + SOON;
    loop {
        let leased: bool =
            sqlx::query_scalar("SELECT leased_until IS NOT NULL FROM trip.trips WHERE id = $1")
                .bind(trip_t.id)
                .fetch_one(&pool)
                .await
                .unwrap();
        if leased {
            break;
        }
        assert!(Instant::now() < deadline, "the batch never picked the trip");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The pick is seen; the search and the solve follow within moments,
    // and the claim waits 2 s after them.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let offline = app
        .post("/api/v1/drivers/me/offline", Some(&d.token), &json!({}))
        .await;
    assert_eq!(offline.status(), StatusCode::OK);
    // A younger trip for which E is much nearer joins the next batch.
    let trip_u = app.request_trip(&rider_u, PICKUP.north(1.2), DROPOFF).await;

    let offer = app
        .wait_for_offer(&e, window * 4 + SOON)
        .await
        .expect("E gets an offer");
    assert_eq!(
        offer.trip_id, trip_t.id,
        "the trip whose driver went away is served first (U {} is nearer E)",
        trip_u.id
    );
    assert_eq!(app.driver_profile(&d).await.current_offer, None);
    let sent = offer_sent(&app, &rider_t, trip_t.id).await;
    assert_eq!(sent.driver_id, Some(e.id));
    assert_eq!(sent.detail["batch_size"], 2, "{:?}", sent.detail);
}

#[tokio::test]
async fn a_cities_file_batches_one_city_and_leaves_the_other_greedy() {
    // cities.example.toml: Jakarta batches (2 s), Singapore takes the
    // global strategy (greedy).
    let example = include_str!("../../../../cities.example.toml");
    let app = spawn_app_with(|c| {
        c.cities = std::sync::Arc::new(
            hail_shared::cities::Cities::from_toml(example, "cities.example.toml").unwrap(),
        );
    })
    .await;
    let monas = LatLng::new(-6.1754, 106.8272);
    let in_singapore = app.driver_online_at(PICKUP.north(0.2)).await;
    let in_jakarta = app.driver_online_at(monas.north(0.2)).await;
    let (rider_sg, rider_jkt) = (app.register_rider().await, app.register_rider().await);
    let trip_sg = app.request_trip(&rider_sg, PICKUP, DROPOFF).await;
    let trip_jkt = app
        .request_trip(&rider_jkt, monas, LatLng::new(-6.2, 106.85))
        .await;

    let within = Duration::from_secs(4) + SOON;
    let offer = app.wait_for_offer(&in_singapore, within).await.unwrap();
    assert_eq!(offer.trip_id, trip_sg.id);
    let offer = app.wait_for_offer(&in_jakarta, within).await.unwrap();
    assert_eq!(offer.trip_id, trip_jkt.id);
    let sg = offer_sent(&app, &rider_sg, trip_sg.id).await;
    let jkt = offer_sent(&app, &rider_jkt, trip_jkt.id).await;
    assert_eq!(sg.detail["strategy"], "greedy", "{:?}", sg.detail);
    assert_eq!(jkt.detail["strategy"], "batched", "{:?}", jkt.detail);
    assert!(jkt.at >= boundary_after(trip_jkt.created_at, Duration::from_secs(2)));
}

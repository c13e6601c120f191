//! Hail past one machine: every service as two `hail serve` processes (two
//! gateways, two user, two driver, two trip services, each knowing every
//! instance of the others) on a private Redis Cluster of three masters and
//! three replicas. REST calls take the gateways in turn; sockets are put on
//! one gateway or the other on purpose.
//!
//! The guarantees of one Redis must hold: a driver is held by at most one
//! trip, no trip is lost, every event reaches its client once and in order,
//! a master that dies is replaced without a 500 or a hang, and a trip
//! service instance that dies leaves its trips to the other.
//!
//! The tests run one at a time (`SERIAL`): each starts six Redis nodes and
//! eight Hail processes, which is all two cores can take at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{collections::HashSet, path::Path, time::Duration};

use futures::future::join_all;
use hail::stack::Service;
use hail_shared::{
    api::{
        geo::LatLng,
        trips::{Trip, TripStatus},
    },
    keys::Keys,
};
use hail_testkit::{
    cluster::PrivateCluster, json, reqwest::StatusCode, socket::TestSocket, spawn_fleet, Account,
    Servers, TestApp,
};
use serde_json::Value;
use uuid::Uuid;

const HAIL: &str = env!("CARGO_BIN_EXE_hail");
const PICKUP: LatLng = LatLng {
    lat: 1.3521,
    lng: 103.8198,
};
const DROPOFF: LatLng = LatLng {
    lat: 1.3000,
    lng: 103.8500,
};
const SOON: Duration = Duration::from_secs(10);

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Two of every service on `cluster`, ready behind both gateways; a trip
/// nobody takes ends NO_DRIVER after `deadline`.
async fn fleet(cluster: &PrivateCluster, deadline: Duration) -> TestApp {
    let servers = Servers {
        redis_url: Some(cluster.url()),
        redis_cluster: true,
        ..Default::default()
    };
    let app = spawn_fleet(Path::new(HAIL), servers, 2, |c| {
        c.dispatch.offer_timeout = Duration::from_secs(4);
        c.dispatch.match_deadline = deadline;
    })
    .await;
    for gateway in 0..2 {
        let url = format!("{}/readyz", app.gateway(gateway));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let ready = app.client.get(&url).send().await;
            if ready.is_ok_and(|r| r.status() == StatusCode::OK) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "gateway {gateway} never ready"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    app
}

/// The driver accepts the first offer it can, and says which trip it got.
/// While Redis fails over, its app may hear 503 (and retries); never a 500.
async fn accept_first_offer(app: &TestApp, driver: &Account, within: Duration) -> Option<Uuid> {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        let answer = app.get("/api/v1/drivers/me", Some(&driver.token)).await;
        let status = answer.status();
        assert!(
            status == StatusCode::OK || status == StatusCode::SERVICE_UNAVAILABLE,
            "drivers/me answered {status}"
        );
        let offer = if status == StatusCode::OK {
            let profile: Value = answer.json().await.unwrap();
            profile["current_offer"]["trip_id"]
                .as_str()
                .and_then(|id| Uuid::parse_str(id).ok())
        } else {
            None
        };
        if let Some(trip_id) = offer {
            let answer = app.trip_action(driver, trip_id, "accept").await;
            if answer.status() == StatusCode::OK {
                return Some(trip_id);
            }
            assert_ne!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// Polls until no trip is REQUESTED any more; their last states.
async fn settled(app: &TestApp, riders: &[Account], trips: &[Trip], within: Duration) -> Vec<Trip> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let now: Vec<Trip> =
            join_all(riders.iter().zip(trips).map(|(r, t)| app.trip(r, t.id))).await;
        if now.iter().all(|t| t.status != TripStatus::Requested) {
            return now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "trips still REQUESTED: {:?}",
            now.iter()
                .filter(|t| t.status == TripStatus::Requested)
                .count()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn thirty_riders_and_ten_drivers_at_once_give_ten_distinct_assignments_five_times() {
    let _serial = SERIAL.lock().await;
    let cluster = PrivateCluster::start().await;
    let app = fleet(&cluster, Duration::from_secs(10)).await;
    for round in 0..5 {
        // Fresh drivers each round: the last round's are on their trips.
        let drivers: Vec<Account> =
            join_all((0..10).map(|i| app.driver_online_at(PICKUP.north(0.02 * f64::from(i)))))
                .await;
        let riders: Vec<Account> = join_all((0..30).map(|_| app.register_rider())).await;
        let (trips, accepted) = tokio::join!(
            join_all(riders.iter().map(|r| app.request_trip(r, PICKUP, DROPOFF))),
            join_all(
                drivers
                    .iter()
                    .map(|d| accept_first_offer(&app, d, Duration::from_secs(30)))
            ),
        );
        let accepted: Vec<Uuid> = accepted.into_iter().flatten().collect();
        assert_eq!(accepted.len(), 10, "round {round}: every driver got a trip");
        let end = settled(&app, &riders, &trips, Duration::from_secs(60)).await;
        let assigned: Vec<&Trip> = end
            .iter()
            .filter(|t| t.status == TripStatus::Assigned)
            .collect();
        assert_eq!(assigned.len(), 10, "round {round}: {end:?}");
        let drivers_of: HashSet<Uuid> = assigned.iter().filter_map(|t| t.driver_id).collect();
        let ours: HashSet<Uuid> = drivers.iter().map(|d| d.id).collect();
        assert_eq!(
            drivers_of, ours,
            "round {round}: ten distinct drivers, ours"
        );
        let ids: HashSet<Uuid> = assigned.iter().map(|t| t.id).collect();
        assert_eq!(ids, accepted.iter().copied().collect(), "round {round}");
        assert!(
            end.iter()
                .all(|t| matches!(t.status, TripStatus::Assigned | TripStatus::NoDriver)),
            "round {round}: {end:?}"
        );
    }
}

#[tokio::test]
async fn a_trip_with_rider_and_driver_on_different_gateways_hears_every_event_once_in_order() {
    let _serial = SERIAL.lock().await;
    let cluster = PrivateCluster::start().await;
    let app = fleet(&cluster, Duration::from_secs(10)).await;
    let driver = app.driver_online_at(PICKUP.north(0.1)).await;
    let rider = app.register_rider().await;
    let mut rider_socket =
        TestSocket::connect(app.gateway(0), Some(json!({"token": rider.token}))).await;
    let mut driver_socket =
        TestSocket::connect(app.gateway(1), Some(json!({"token": driver.token}))).await;
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;

    let offer = driver_socket.next("offer", SOON).await.expect("the offer");
    assert_eq!(offer["trip_id"], json!(trip.id));
    let answer = driver_socket
        .call("offer:accept", json!({"trip_id": trip.id}))
        .await;
    assert_eq!(answer["ok"], true, "{answer}");
    rider_socket
        .next("trip:update", SOON)
        .await
        .expect("the rider hears of the trip");
    // Positions through both gateways' REST, heard on the rider's socket.
    let path: Vec<LatLng> = (1..=6)
        .map(|i| PICKUP.north(0.1 - 0.015 * f64::from(i)))
        .collect();
    for at in &path {
        assert_eq!(app.ping(&driver, *at).await, StatusCode::NO_CONTENT);
        rider_socket
            .next("driver:location", SOON)
            .await
            .expect("each position reaches the rider");
    }
    for action in ["start", "complete"] {
        let answer = app.trip_action(&driver, trip.id, action).await;
        assert_eq!(answer.status(), StatusCode::OK, "{action}");
    }
    let done = app
        .wait_for_status(&rider, trip.id, TripStatus::Completed, SOON)
        .await;
    assert_eq!(done.driver_id, Some(driver.id));
    // Whatever is still on its way arrives before these answers.
    rider_socket.round_trip().await;
    driver_socket.round_trip().await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut heard = vec![];
    // `next` consumed the first trip:update and the positions in order;
    // what follows must be the rest of the trip, each step once.
    for (event, body) in rider_socket.drain() {
        if event == "trip:update" {
            heard.push(body["status"].as_str().unwrap_or_default().to_string());
        }
        assert_ne!(event, "driver:location", "a position twice or late: {body}");
    }
    let unique: HashSet<&String> = heard.iter().collect();
    assert_eq!(unique.len(), heard.len(), "a trip update twice: {heard:?}");
    assert_eq!(
        heard.last().map(String::as_str),
        Some("COMPLETED"),
        "{heard:?}"
    );
    let order = ["REQUESTED", "ASSIGNED", "ONGOING", "COMPLETED"];
    let ranks: Vec<usize> = heard
        .iter()
        .map(|s| order.iter().position(|o| o == s).expect("a known status"))
        .collect();
    assert!(
        ranks.windows(2).all(|w| w[0] < w[1]),
        "out of order: {heard:?}"
    );
    let offers = driver_socket
        .drain()
        .into_iter()
        .filter(|(event, _)| event == "offer")
        .count();
    assert_eq!(offers, 0, "the offer came twice");
}

#[tokio::test]
async fn a_master_killed_mid_run_is_replaced_with_no_500_no_hang_and_nothing_lost() {
    let _serial = SERIAL.lock().await;
    let mut cluster = PrivateCluster::start().await;
    let app = fleet(&cluster, Duration::from_secs(60)).await;
    let drivers: Vec<Account> =
        join_all((0..12).map(|i| app.driver_online_at(PICKUP.north(0.02 * f64::from(i))))).await;
    let riders: Vec<Account> = join_all((0..12).map(|_| app.register_rider())).await;
    // The drivers' apps ping every second, as real ones do every few: a
    // failover may lose the dead master's last writes (replication is
    // asynchronous), and the next ping puts them back.
    let pinging = {
        let client = app.client.clone();
        let gateways = [app.gateway(0).to_string(), app.gateway(1).to_string()];
        let drivers: Vec<(String, LatLng)> = drivers
            .iter()
            .enumerate()
            .map(|(i, d)| (d.token.clone(), PICKUP.north(0.02 * i as f64)))
            .collect();
        tokio::spawn(async move {
            let mut answers = vec![];
            for round in 0..40 {
                for (i, (token, at)) in drivers.iter().enumerate() {
                    let url = format!("{}/api/v1/drivers/me/location", gateways[(round + i) % 2]);
                    let body = json!({"lat": at.lat, "lng": at.lng});
                    let answer = client.post(url).bearer_auth(token).json(&body).send().await;
                    answers.push(answer.map(|r| r.status().as_u16()).unwrap_or(0));
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            answers
        })
    };

    // Something that needs Redis, asked every 100 ms through the whole run.
    let probe = {
        let url = app.url(&format!(
            "/api/v1/drivers/nearby?lat={}&lng={}&radius_km=3",
            PICKUP.lat, PICKUP.lng
        ));
        let token = riders[0].token.clone();
        let client = app.client.clone();
        tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            let mut heard = vec![];
            while started.elapsed() < Duration::from_secs(25) {
                let call = client.get(&url).bearer_auth(&token).send();
                let status = tokio::time::timeout(Duration::from_secs(10), call)
                    .await
                    .expect("an answer, not a hang")
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                heard.push((started.elapsed(), status));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            heard
        })
    };
    // The master holding the city's index: matching cannot go on without it.
    let index = Keys::new(app.config.redis_prefix.clone()).driver_locations("sg");
    let victim = cluster
        .master_of(&index)
        .await
        .expect("a master for the index");
    let mut statuses = vec![];
    let mut trips = vec![];
    let started = tokio::time::Instant::now();
    let mut killed_at = None;
    let mut first_ok_after_kill = None;
    // A request every half second, so that dispatch runs through the
    // failover.
    for (i, rider) in riders.iter().enumerate() {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if i == 4 {
            cluster.kill(victim);
            killed_at = Some(started.elapsed());
        }
        let body = json!({"pickup": PICKUP, "dropoff": DROPOFF});
        let answer = tokio::time::timeout(
            Duration::from_secs(20),
            app.post("/api/v1/trips", Some(&rider.token), &body),
        )
        .await
        .expect("an answer, not a hang");
        let status = answer.status();
        statuses.push(status);
        if status.is_success() {
            trips.push((rider.clone(), answer.json::<Trip>().await.unwrap()));
            if killed_at.is_some() && first_ok_after_kill.is_none() {
                first_ok_after_kill = Some(started.elapsed());
            }
        } else {
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{statuses:?}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    // Matching resumes: every trip that was taken ends ASSIGNED or
    // NO_DRIVER, and the drivers accept what they are offered.
    let (riders_of, taken): (Vec<Account>, Vec<Trip>) = trips.into_iter().unzip();
    assert!(!taken.is_empty(), "no trip was taken at all: {statuses:?}");
    let accepting = join_all(
        drivers
            .iter()
            .map(|d| accept_first_offer(&app, d, Duration::from_secs(60))),
    );
    let (_, end, healthy) = tokio::join!(
        accepting,
        settled(&app, &riders_of, &taken, Duration::from_secs(90)),
        cluster.wait_healthy(Duration::from_secs(30)),
    );
    assert!(healthy, "the replica took over");
    eprintln!(
        "failover: killed at {killed_at:?}, first trip after at {first_ok_after_kill:?}, answers {statuses:?}"
    );
    let heard = probe.await.unwrap();
    assert!(
        heard.iter().all(|(_, s)| *s == 200 || *s == 503),
        "only 200 or a fast 503 while a master fails over: {heard:?}"
    );
    let unavailable: Vec<Duration> = heard
        .iter()
        .filter(|(_, s)| *s == 503)
        .map(|(t, _)| *t)
        .collect();
    eprintln!(
        "failover: {} of {} probes 503, from {:?} to {:?}; last probe {:?}",
        unavailable.len(),
        heard.len(),
        unavailable.first(),
        unavailable.last(),
        heard.last()
    );
    assert_eq!(
        heard.last().map(|(_, s)| *s),
        Some(200),
        "Hail answers again"
    );
    let pings = pinging.await.unwrap();
    assert!(
        pings.iter().all(|s| *s == 204 || *s == 503),
        "pings answer 204, or 503 while a master fails over: {pings:?}"
    );
    let assigned: Vec<&Trip> = end
        .iter()
        .filter(|t| t.status == TripStatus::Assigned)
        .collect();
    let distinct: HashSet<Uuid> = assigned.iter().filter_map(|t| t.driver_id).collect();
    assert_eq!(
        distinct.len(),
        assigned.len(),
        "a driver on two trips: {end:?}"
    );
    let mut profiles = vec![];
    for driver in &drivers {
        let profile = app.driver_profile(driver).await;
        profiles.push((driver.id, profile.status, profile.current_trip_id));
    }
    let statuses: Vec<(Uuid, TripStatus, Option<Uuid>)> =
        end.iter().map(|t| (t.id, t.status, t.driver_id)).collect();
    eprintln!("drivers: {profiles:?}\ntrips: {statuses:?}");
    assert_eq!(
        assigned.len(),
        taken.len(),
        "twelve drivers for at most twelve trips: every trip assigned: {end:?}"
    );
    // No driver stays held without a trip: the others are free and matchable.
    let busy: HashSet<Uuid> = distinct;
    for driver in &drivers {
        let profile = app.driver_profile(driver).await;
        let want = if busy.contains(&driver.id) {
            "BUSY"
        } else {
            "ONLINE"
        };
        assert_eq!(profile.status.as_str(), want, "driver {}", driver.id);
    }
}

#[tokio::test]
async fn a_trip_service_instance_killed_mid_dispatch_leaves_its_trips_to_the_other() {
    let _serial = SERIAL.lock().await;
    let cluster = PrivateCluster::start().await;
    // Long enough for a trip the dead instance was dispatching to be picked
    // again once its lease runs out, and for a claim it made to run out.
    let mut app = fleet(&cluster, Duration::from_secs(60)).await;
    let drivers: Vec<Account> =
        join_all((0..8).map(|i| app.driver_online_at(PICKUP.north(0.02 * f64::from(i))))).await;
    let riders: Vec<Account> = join_all((0..8).map(|_| app.register_rider())).await;
    let trips: Vec<Trip> =
        join_all(riders.iter().map(|r| app.request_trip(r, PICKUP, DROPOFF))).await;
    app.kill_instance(Service::Trip, 0);
    let accepted = join_all(
        drivers
            .iter()
            .map(|d| accept_first_offer(&app, d, Duration::from_secs(40))),
    )
    .await;
    let end = settled(&app, &riders, &trips, Duration::from_secs(60)).await;
    let assigned: HashSet<Uuid> = end
        .iter()
        .filter(|t| t.status == TripStatus::Assigned)
        .filter_map(|t| t.driver_id)
        .collect();
    assert_eq!(
        assigned.len(),
        trips.len(),
        "every trip assigned once: {end:?}"
    );
    assert_eq!(accepted.iter().flatten().count(), trips.len());
}

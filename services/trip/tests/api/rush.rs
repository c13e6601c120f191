//! Rush hour: a freed driver wakes only the waiting trips near it, a new
//! trip at a free driver waits behind no backlog elsewhere, and a storm of
//! cancels does not stop dispatch or event delivery.

use std::time::Duration;

use futures::future::join_all;
use hail_shared::{api::Role, auth::Claims};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::*;

/// A waiting trip written straight into Postgres: REQUESTED, older than
/// anything the test requests (but well inside the match deadline), its
/// last search found nobody (starved, in the slow lane), and not due for an
/// hour, so only a wake makes the matcher look at it.
struct Waiting {
    id: Uuid,
    rider_id: Uuid,
    pickup: LatLng,
}

async fn pool(app: &TestApp) -> PgPool {
    PgPool::connect(&app.config.database_url).await.unwrap()
}

/// `n` waiting trips on a grid over the city (about 25 x 35 km), the first
/// the oldest.
async fn insert_waiting(pool: &PgPool, n: usize) -> Vec<Waiting> {
    let side = (n as f64).sqrt().ceil() as usize;
    let pickups = (0..n).map(|i| {
        LatLng::new(
            1.24 + 0.22 * (i / side) as f64 / side as f64,
            103.62 + 0.32 * (i % side) as f64 / side as f64,
        )
    });
    let trips = insert_waiting_at(pool, pickups.collect()).await;
    // As autovacuum would soon after such a burst: with the table's real
    // statistics, the planner's choices are the ones production gets.
    sqlx::query("ANALYZE trip.trips")
        .execute(pool)
        .await
        .unwrap();
    trips
}

/// A waiting trip at each pickup: REQUESTED, starved, in the slow lane, not
/// due for an hour; the first the oldest (20 s), each next a millisecond
/// younger.
async fn insert_waiting_at(pool: &PgPool, pickups: Vec<LatLng>) -> Vec<Waiting> {
    let trips: Vec<Waiting> = pickups
        .into_iter()
        .map(|pickup| Waiting {
            id: Uuid::new_v4(),
            rider_id: Uuid::new_v4(),
            pickup,
        })
        .collect();
    let ids: Vec<Uuid> = trips.iter().map(|t| t.id).collect();
    let riders: Vec<Uuid> = trips.iter().map(|t| t.rider_id).collect();
    let lats: Vec<f64> = trips.iter().map(|t| t.pickup.lat).collect();
    let lngs: Vec<f64> = trips.iter().map(|t| t.pickup.lng).collect();
    let ages_ms: Vec<i32> = (0..trips.len()).map(|i| 20_000 - i as i32).collect();
    sqlx::query(
        "INSERT INTO trip.trips (id, rider_id, pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                                 search_radius_km, next_attempt_at, created_at,
                                 searched, starved, idle_retry, city,
                                 currency, fare_estimate, estimate_distance_km, estimate_duration_secs)
         SELECT id, rider_id, lat, lng, lat, lng, 3, now() + interval '1 hour',
                now() - make_interval(secs => age_ms / 1000.0), true, true, true, 'sg',
                'SGD', 600, 0, 0
         FROM unnest($1::uuid[], $2::uuid[], $3::float8[], $4::float8[], $5::int4[])
              AS t(id, rider_id, lat, lng, age_ms)",
    )
    .bind(&ids)
    .bind(&riders)
    .bind(&lats)
    .bind(&lngs)
    .bind(&ages_ms)
    .execute(pool)
    .await
    .unwrap();
    trips
}

/// The trips of `among` whose next search is no longer an hour away: the
/// ones the matcher was made to look at.
async fn touched(pool: &PgPool, among: &[Waiting]) -> Vec<Uuid> {
    let ids: Vec<Uuid> = among.iter().map(|t| t.id).collect();
    sqlx::query_scalar(
        "SELECT id FROM trip.trips
         WHERE id = ANY($1) AND next_attempt_at < now() + interval '30 minutes'",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_release_wakes_only_the_waiting_trips_near_the_driver() {
    let app = spawn_app().await;
    let db = pool(&app).await;
    let waiting = insert_waiting(&db, 2_000).await;
    let here = LatLng::new(1.3521, 103.8198);
    let driver = app.driver_online_at(here).await;

    // A fresh request gets the driver: the waiting trips are not due, so
    // nothing ahead of it wants the driver yet.
    let rider = app.register_rider().await;
    let fresh = app.request_trip(&rider, here, DROPOFF).await;
    let offer = app.wait_for_offer(&driver, SOON).await.expect("an offer");
    assert_eq!(offer.trip_id, fresh.id);
    assert!(touched(&db, &waiting).await.is_empty(), "nothing woken yet");

    // The decline frees the driver where it stands.
    let declined = app.trip_action(&driver, fresh.id, "decline").await;
    assert_eq!(declined.status(), StatusCode::OK);

    // The oldest waiting trip that has the driver inside its radius gets it.
    let in_reach: Vec<&Waiting> = waiting
        .iter()
        .filter(|t| t.pickup.distance_km(&here) <= 3.0)
        .collect();
    assert!(in_reach.len() >= 5, "the grid puts a few trips in reach");
    let oldest_in_reach = in_reach[0].id;
    let offered = next_offer_besides(&app, &driver, fresh.id).await;
    assert_eq!(offered.trip_id, oldest_in_reach);

    // Only trips near the driver were woken, and only a few of them; the
    // rest of the 2,000 were never looked at.
    let woken = touched(&db, &waiting).await;
    assert!(
        !woken.is_empty() && woken.len() <= 2,
        "woke {} trips",
        woken.len()
    );
    for id in &woken {
        let trip = waiting.iter().find(|t| t.id == *id).unwrap();
        assert!(
            trip.pickup.distance_km(&here) <= 3.0,
            "woke a trip {:.1} km away",
            trip.pickup.distance_km(&here)
        );
    }

    // What it cost: the probes (who else wants this driver, for the fresh
    // trip and for the woken one; which trips its release wakes) read the
    // starved trips nearest the driver, not the ~900 inside their box.
    let (probes, read) = starved_index_reads(&db).await;
    assert!(probes >= 2, "{probes} probes counted");
    assert!(
        read <= probes * NEAREST_PROBED,
        "{probes} probes read {read} index entries"
    );
}

/// A crowd that has tried this driver already: the freed driver's probe
/// walks past every trip that tried it (the oldest untried one gets the
/// driver), one `offers` lookup each, by index, never by reading the whole
/// table. (The plan that did read it per trip, 96 times in one probe in
/// session 18's bench, was a plan cached while `offers` was nearly empty;
/// this test's first plans see the full table, so it guards the rule, and
/// the probe's planner settings rule that plan out whatever was cached.)
#[tokio::test]
async fn a_release_past_trips_that_tried_the_driver_reads_offers_by_index() {
    let app = spawn_app().await;
    let db = pool(&app).await;
    let here = LatLng::new(1.3521, 103.8198);
    let driver = app.driver_online_at(here).await;
    // 200 waiting trips within about a kilometre, oldest first; the 100
    // oldest offered this driver before (it declined), and 2,900 more
    // declined offers from other drivers fill the table.
    let waiting = insert_waiting_near(&db, here, 200).await;
    let tried: Vec<Uuid> = waiting[..100].iter().map(|t| t.id).collect();
    let filler: Vec<Uuid> = (0..2_900).map(|i| waiting[i % 200].id).collect();
    sqlx::query(
        "INSERT INTO trip.offers (id, trip_id, driver_id, status, distance_km)
         SELECT gen_random_uuid(), trip_id, driver_id, 'DECLINED', 0.5
         FROM (SELECT unnest($1::uuid[]) AS trip_id, $2::uuid AS driver_id
               UNION ALL
               SELECT unnest($3::uuid[]), gen_random_uuid()) o",
    )
    .bind(&tried)
    .bind(driver.id)
    .bind(&filler)
    .execute(&db)
    .await
    .unwrap();

    let rider = app.register_rider().await;
    let fresh = app.request_trip(&rider, here, DROPOFF).await;
    let offer = app.wait_for_offer(&driver, SOON).await.expect("an offer");
    assert_eq!(offer.trip_id, fresh.id);
    let before = offers_read_whole(&db).await;
    let declined = app.trip_action(&driver, fresh.id, "decline").await;
    assert_eq!(declined.status(), StatusCode::OK);

    // The oldest waiting trip that never tried the driver gets it.
    let offered = next_offer_besides(&app, &driver, fresh.id).await;
    assert_eq!(offered.trip_id, waiting[100].id);

    // Rows of `offers` read by sequential scans meanwhile: fewer than one
    // read of the table, where a scan per trip passed would be 100 reads.
    let read = offers_read_whole(&db).await - before;
    assert!(read < 3_000, "{read} offers rows read by sequential scans");
}

/// `n` waiting trips (starved, not due for an hour) on a grid within about
/// a kilometre of `at`, the first the oldest.
async fn insert_waiting_near(pool: &PgPool, at: LatLng, n: usize) -> Vec<Waiting> {
    let side = (n as f64).sqrt().ceil() as usize;
    let step = 0.012 / side as f64;
    let pickups = (0..n).map(|i| {
        LatLng::new(
            at.lat - 0.006 + step * (i / side) as f64,
            at.lng - 0.006 + step * (i % side) as f64,
        )
    });
    insert_waiting_at(pool, pickups.collect()).await
}

/// Rows of `trip.offers` read by sequential scans so far, once the servers'
/// counters have reached the statistics (within a second or so of a
/// backend going idle).
async fn offers_read_whole(db: &PgPool) -> i64 {
    let read = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT seq_tup_read FROM pg_stat_user_tables
             WHERE schemaname = 'trip' AND relname = 'offers'",
        )
        .fetch_one(db)
        .await
        .unwrap()
    };
    let mut last = read().await;
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let now = read().await;
        if now == last {
            return now;
        }
        last = now;
    }
    last
}

/// The driver's open offer (read over REST) once it is for a trip other
/// than `besides`; fails after [`SOON`].
async fn next_offer_besides(
    app: &TestApp,
    driver: &Account,
    besides: Uuid,
) -> hail_shared::api::trips::Offer {
    let deadline = tokio::time::Instant::now() + SOON;
    loop {
        let offer = app.driver_profile(driver).await.current_offer;
        if let Some(offer) = offer.filter(|o| o.trip_id != besides) {
            return offer;
        }
        assert!(tokio::time::Instant::now() < deadline, "no second offer");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How many starved trips a neighbourhood probe reads at most.
const NEAREST_PROBED: i64 = 64;

/// Scans of the starved trips' index so far, and entries they read, once
/// the servers' counters have reached the statistics (a backend reports
/// them within a second or so of going idle).
async fn starved_index_reads(db: &PgPool) -> (i64, i64) {
    let read = || async {
        sqlx::query_as::<_, (i64, i64)>(
            "SELECT idx_scan, idx_tup_read FROM pg_stat_user_indexes
             WHERE indexrelname = 'trips_starved_pickup'",
        )
        .fetch_one(db)
        .await
        .unwrap()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut last = read().await;
    loop {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let now = read().await;
        if (now == last && now.0 >= 2) || tokio::time::Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}

/// A new trip at a free driver, while 2,000 older trips in the far west of
/// the city are all due now: waiting for their timer after a search that
/// found nobody (`idle`, the slow lane), or due again for a reason (their
/// offers ran out, say). Oldest first, the new trip would be picked after
/// every one of them. It is offered within its first pass or two instead.
async fn a_new_trip_is_offered_ahead_of_a_backlog(idle: bool) {
    let app = spawn_app().await;
    let db = pool(&app).await;
    let here = LatLng::new(1.35, 103.94);
    let driver = app.driver_online_at(here).await;
    let rider = app.register_rider().await;
    let behind: Vec<Uuid> = (0..2_000).map(|_| Uuid::new_v4()).collect();
    insert_due_far_west(&db, &behind, idle).await;

    let fresh = app.request_trip(&rider, here, DROPOFF).await;
    let offer = app.wait_for_offer(&driver, SOON).await.expect("an offer");
    assert_eq!(offer.trip_id, fresh.id);

    // Within the first pass or two of the new trip, only a few dozen of the
    // 2,000 can have been searched; behind them all, every one would have
    // been.
    let searched = searched_count(&db, &behind).await;
    assert!(
        searched < 1_000,
        "the new trip was offered only after {searched} older trips (idle: {idle})"
    );
}

#[tokio::test]
async fn a_new_trip_at_a_free_driver_does_not_wait_behind_trips_searching_again() {
    a_new_trip_is_offered_ahead_of_a_backlog(true).await;
}

#[tokio::test]
async fn a_new_trip_at_a_free_driver_does_not_wait_behind_trips_due_again() {
    a_new_trip_is_offered_ahead_of_a_backlog(false).await;
}

/// Trips `ids`, older than anything the test requests, in the far west of
/// the city where no driver is, all due now after a search: either waiting
/// for their timer after finding nobody (`idle`: the slow lane) or due again
/// for a reason (an offer that ran out, a freed driver nearby).
async fn insert_due_far_west(db: &PgPool, ids: &[Uuid], idle: bool) {
    sqlx::query(
        "INSERT INTO trip.trips (id, rider_id, pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                                 search_radius_km, next_attempt_at, idle_retry, searched, starved,
                                 created_at, city,
                                 currency, fare_estimate, estimate_distance_km, estimate_duration_secs)
         SELECT id, gen_random_uuid(), 1.30 + (k % 40) * 0.002, 103.69 + (k / 40) * 0.001,
                1.30, 103.69, 3, now(), $2, true, $2,
                now() - interval '10 seconds' - make_interval(secs => k / 1000.0), 'sg',
                'SGD', 600, 0, 0
         FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, k)",
    )
    .bind(ids)
    .bind(idle)
    .execute(db)
    .await
    .unwrap();
}

/// How many of `ids` the matcher has searched for (an empty search widens
/// the radius past the first 3 km).
async fn searched_count(db: &PgPool, ids: &[Uuid]) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM trip.trips WHERE id = ANY($1) AND search_radius_km > 3",
    )
    .bind(ids)
    .fetch_one(db)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_new_trip_does_not_wait_for_an_older_one_that_has_not_missed_a_search() {
    let app = spawn_app().await;
    let db = pool(&app).await;
    let here = LatLng::new(1.35, 103.94);
    // An older trip 300 m away whose last search got it an offer, which has
    // just run out; the matcher takes it up again in two seconds (it stands
    // behind a backlog). It has not been shown to lack a driver yet.
    let older = Uuid::new_v4();
    let older_at = here.north(0.3);
    sqlx::query(
        "INSERT INTO trip.trips (id, rider_id, pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
                                 search_radius_km, next_attempt_at, searched, starved, created_at,
                                 city, currency, fare_estimate, estimate_distance_km,
                                 estimate_duration_secs)
         VALUES ($1, gen_random_uuid(), $2, $3, $2, $3, 3, now() + interval '2 seconds',
                 true, false, now() - interval '10 seconds', 'sg', 'SGD', 600, 0, 0)",
    )
    .bind(older)
    .bind(older_at.lat)
    .bind(older_at.lng)
    .execute(&db)
    .await
    .unwrap();

    // A new request stands at a free driver, who is inside the older
    // trip's radius too. It does not hold its driver back for the older
    // trip (which will search in its own pass and claim there in queue
    // order): its offer comes now, not after the older trip's search.
    let driver = app.driver_online_at(here).await;
    let rider = app.register_rider().await;
    let fresh = app.request_trip(&rider, here, DROPOFF).await;
    let offer = app.wait_for_offer(&driver, SOON).await.expect("an offer");
    assert_eq!(
        offer.trip_id, fresh.id,
        "the new trip yielded its driver to {older}"
    );
}

fn token_of(app: &TestApp, rider_id: Uuid) -> String {
    let now = chrono::Utc::now().timestamp();
    app.sign(&Claims {
        sub: rider_id,
        role: Role::Rider,
        iat: now,
        exp: now + 3_600,
        iss: "hail".into(),
    })
}

/// Cancels `trip` for its rider; a fast 503 is retried after its
/// `Retry-After`, as a client would. Returns how many 503s it took.
async fn cancel(app: &TestApp, token: &str, trip: Uuid) -> u32 {
    let mut refusals = 0;
    loop {
        let response = app
            .post(
                &format!("/api/v1/trips/{trip}/cancel"),
                Some(token),
                &json!({"reason": "storm"}),
            )
            .await;
        match response.status() {
            StatusCode::OK => return refusals,
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(
                    response.headers().contains_key("retry-after"),
                    "a 503 says when to retry"
                );
                refusals += 1;
                assert!(refusals < 20, "cancel of {trip} refused 20 times");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => panic!("cancel of {trip}: {other}"),
        }
    }
}

/// Requests a trip as a client would under load: a fast 503 is retried
/// after a moment, anything else but 202 fails the test.
async fn request_retrying(app: &TestApp, rider: &Account, at: LatLng) -> Trip {
    let body = json!({"pickup": at, "dropoff": DROPOFF});
    for _ in 0..20 {
        let response = app.post("/api/v1/trips", Some(&rider.token), &body).await;
        match response.status() {
            StatusCode::ACCEPTED => return response.json().await.unwrap(),
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(response.headers().contains_key("retry-after"));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => panic!("request trip: {other} {}", response.text().await.unwrap()),
        }
    }
    panic!("a trip request was refused 20 times during the storm");
}

#[tokio::test]
async fn a_cancel_storm_leaves_dispatch_and_delivery_working() {
    let app = spawn_app().await;
    let db = pool(&app).await;
    let storm = insert_waiting(&db, 500).await;
    let tokens: Vec<String> = storm.iter().map(|t| token_of(&app, t.rider_id)).collect();

    // Drivers and riders whose trips are requested while the storm blows,
    // each driver a few km from the others.
    let mut pairs = Vec::new();
    for i in 0..4 {
        let at = PICKUP.north(3.0 * f64::from(i));
        let driver = app.driver_online_at(at).await;
        let rider = app.register_rider().await;
        pairs.push((driver, rider, at));
    }

    let storm_cancels = join_all(
        storm
            .iter()
            .zip(&tokens)
            .map(|(trip, token)| cancel(&app, token, trip.id)),
    );
    let dispatch_during_storm = async {
        let mut requested = Vec::new();
        for (_, rider, at) in &pairs {
            requested.push(request_retrying(&app, rider, *at).await);
        }
        // Dispatch kept going: every trip requested during the storm is
        // offered to the driver at its pickup.
        for ((driver, _, _), trip) in pairs.iter().zip(&requested) {
            let offer = app
                .wait_for_offer(driver, Duration::from_secs(15))
                .await
                .expect("an offer during the storm");
            assert_eq!(offer.trip_id, trip.id);
        }
    };
    // Every cancel is answered (a refusal, if any, is fast and retried).
    let (refusals, ()) = tokio::join!(storm_cancels, dispatch_during_storm);
    assert_eq!(refusals.len(), 500);
    let cancelled: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM trip.trips WHERE id = ANY($1) AND status = 'CANCELLED'",
    )
    .bind(storm.iter().map(|t| t.id).collect::<Vec<_>>())
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(cancelled, 500);
    // Delivery kept going: the relay publishes every queued event (and
    // deletes it), so the outbox drains.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM trip.outbox")
            .fetch_one(&db)
            .await
            .unwrap();
        if left == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{left} events never left the outbox"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Background work's pool commits without waiting for the disk; requests'
/// pool waits for it (`hail_shared::db::Commits`).
#[tokio::test]
async fn background_commits_skip_the_flush_and_requests_do_not() {
    let app = spawn_app().await;
    let url = &app.config.database_url;
    let wait = Duration::from_secs(3);
    let requests = hail_shared::db::connect(url, "trip", 1, wait)
        .await
        .unwrap();
    let background =
        hail_shared::db::connect_with(url, "trip", 1, wait, hail_shared::db::Commits::Relaxed)
            .await
            .unwrap();
    let setting = |pool: PgPool| async move {
        sqlx::query_scalar::<_, String>("SHOW synchronous_commit")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(setting(requests).await, "on");
    assert_eq!(setting(background).await, "off");
}

/// A burst of refused moves (here: cancels of a trip already cancelled)
/// never exhausts the request pool. Each is answered from its own
/// transaction's connection: a refused move that asked the pool for a
/// second connection while holding one would wait for the others, which
/// wait for it, until the acquire timeout turned them all into 503s (the
/// end-of-run cancel bursts of `hail bench dispatch` did exactly that).
#[tokio::test]
async fn a_burst_of_refused_moves_is_answered_without_a_second_connection() {
    let app = spawn_app_with(|c| {
        c.database_pool_size = 2;
        c.database_acquire_timeout = Duration::from_millis(300);
    })
    .await;
    let rider = app.register_rider().await;
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    let path = format!("/api/v1/trips/{}/cancel", trip.id);
    let first = app.post(&path, Some(&rider.token), &json!({})).await;
    assert_eq!(first.status(), StatusCode::OK);

    let body = json!({});
    let answers = join_all((0..24).map(|_| app.post(&path, Some(&rider.token), &body))).await;
    for answer in answers {
        let status = answer.status();
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["error"]["code"], "invalid_transition");
    }
}

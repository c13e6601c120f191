//! Cities and the ring search: a driver is matchable only in the city of its
//! last ping, each city has its own index, and no ghost, claimed or offline
//! member nearer to a point ever hides a live driver, at any ring.

use std::sync::Arc;

use hail_shared::{cities::Cities, keys::Keys};
use uuid::Uuid;

use crate::helpers::*;

/// Two cities side by side, the border at longitude 103.5.
const WEST_EAST: &str = r#"
[[city]]
id = "west"
name = "West"
bbox = [1.0, 103.0, 1.5, 103.5]

[[city]]
id = "east"
name = "East"
bbox = [1.0, 103.5, 1.5, 104.0]
"#;

const NONE: [Uuid; 0] = [];

/// 1.1 km either side of the border.
const WEST: LatLng = LatLng {
    lat: 1.3,
    lng: 103.49,
};
const EAST: LatLng = LatLng {
    lat: 1.3,
    lng: 103.51,
};
/// Kuala Lumpur: in neither city.
const NOWHERE: LatLng = LatLng {
    lat: 3.139,
    lng: 101.6869,
};

async fn two_cities() -> TestApp {
    spawn_app_with(|c| {
        c.cities = Arc::new(Cities::from_toml(WEST_EAST, "test").unwrap());
    })
    .await
}

async fn members(app: &TestApp, city: &str) -> Vec<Uuid> {
    let mut redis = app.redis().await;
    let members: Vec<String> = redis::cmd("ZRANGE")
        .arg(app.city_index(Some(city)))
        .arg(0)
        .arg(-1)
        .query_async(&mut redis)
        .await
        .unwrap();
    members.iter().map(|m| m.parse().unwrap()).collect()
}

#[tokio::test]
async fn a_driver_is_matchable_only_in_the_city_of_its_last_ping() {
    let app = two_cities().await;
    let rider = app.register_rider().await;
    let driver = online_at(&app, WEST).await;
    let ping = |at: LatLng| json!({"lat": at.lat, "lng": at.lng});
    // 2.2 km apart, within the 3 km radius, but the border lies between.
    assert_eq!(nearby(&app, &rider, WEST).await, [driver.id]);
    assert_eq!(nearby(&app, &rider, EAST).await, NONE);
    assert_eq!(members(&app, "west").await, [driver.id]);

    // It drives east: it moves with its ping, out of the west's index.
    let response = locate(&app, &driver, ping(EAST)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(nearby(&app, &rider, EAST).await, [driver.id]);
    assert_eq!(nearby(&app, &rider, WEST).await, NONE);
    assert_eq!(members(&app, "west").await, NONE);
    assert_eq!(members(&app, "east").await, [driver.id]);

    // Offline then online again: back in the city it last pinged from.
    set_status(&app, &driver, "offline").await;
    assert_eq!(members(&app, "east").await, NONE);
    set_status(&app, &driver, "online").await;
    locate(&app, &driver, ping(EAST)).await;
    assert_eq!(members(&app, "east").await, [driver.id]);

    // Out of every city: the ping is kept, the driver matchable nowhere.
    let response = locate(&app, &driver, ping(NOWHERE)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(members(&app, "east").await, NONE);
    assert_eq!(members(&app, "west").await, NONE);
    assert_eq!(nearby(&app, &rider, NOWHERE).await, NONE);
    let profile = app.driver_profile(&driver).await;
    assert_eq!(profile.status, DriverStatus::Online);
    assert_eq!(profile.location.map(|l| l.lat), Some(NOWHERE.lat));
    // A status change while in no city indexes it nowhere either.
    set_status(&app, &driver, "offline").await;
    set_status(&app, &driver, "online").await;
    assert_eq!(members(&app, "east").await, NONE);
    assert_eq!(members(&app, "west").await, NONE);

    // Back in the west.
    locate(&app, &driver, ping(WEST)).await;
    assert_eq!(nearby(&app, &rider, WEST).await, [driver.id]);
}

#[tokio::test]
async fn a_claim_for_a_trip_in_another_city_takes_nobody() {
    let app = two_cities().await;
    let driver = online_at(&app, WEST).await;
    let claim = |city: &str| {
        json!({"ttl_secs": 10, "claims": [
            {"trip_id": Uuid::new_v4(), "city": city, "drivers": [driver.id]}
        ]})
    };
    let claims = |body: Value| {
        let app = &app;
        async move {
            let response = internal(app, "/internal/drivers/claims", Peer::Trip, &body).await;
            assert_eq!(response.status(), StatusCode::OK);
            let answer: Value = response.json().await.unwrap();
            answer["claimed"][0].clone()
        }
    };
    // Listed by a search moments ago, the driver is now in the west: a trip
    // in the east does not get it.
    assert_eq!(claims(claim("east")).await, Value::Null);
    assert_eq!(members(&app, "west").await, [driver.id]);
    assert_eq!(claims(claim("west")).await, json!(driver.id));
    assert_eq!(members(&app, "west").await, NONE);
}

#[tokio::test]
async fn no_ghost_claimed_or_offline_member_hides_a_live_driver_at_any_ring() {
    // A COUNT of 3 x 2 = 6 per ring, so each ring's dead members below are
    // more than one GEOSEARCH returns.
    let app = spawn_app_with(|c| c.dispatch.candidate_overfetch = 2).await;
    let rider = app.register_rider().await;
    let index = app.city_index(None);
    let keys = Keys::new(app.config.redis_prefix.clone());
    let mut redis = app.redis().await;
    for ring_km in [0.2, 0.45, 0.9, 1.9] {
        // Ghosts: indexed, but their app died (no presence key).
        for i in 0..8 {
            let at = PICKUP.north(ring_km + 0.001 * f64::from(i));
            let _: i64 = redis::cmd("GEOADD")
                .arg(&index)
                .arg(at.lng)
                .arg(at.lat)
                .arg(Uuid::new_v4().to_string())
                .query_async(&mut redis)
                .await
                .unwrap();
        }
        // Claimed by a trip (their lock held), still indexed for a moment.
        for _ in 0..4 {
            let driver = online_at(&app, PICKUP.north(ring_km + 0.02)).await;
            let _: () = redis::cmd("SET")
                .arg(keys.driver_lock(driver.id))
                .arg(Uuid::new_v4().to_string())
                .query_async(&mut redis)
                .await
                .unwrap();
        }
        // Offline in Postgres and the status mirror, still indexed.
        for _ in 0..4 {
            let at = PICKUP.north(ring_km + 0.03);
            let driver = online_at(&app, at).await;
            set_status(&app, &driver, "offline").await;
            let _: i64 = redis::cmd("GEOADD")
                .arg(&index)
                .arg(at.lng)
                .arg(at.lat)
                .arg(driver.id.to_string())
                .query_async(&mut redis)
                .await
                .unwrap();
        }
    }
    let live = online_at(&app, PICKUP.north(2.5)).await;
    let path = |limit: usize| {
        format!(
            "/api/v1/drivers/nearby?lat={}&lng={}&radius_km=3&limit={limit}",
            PICKUP.lat, PICKUP.lng
        )
    };
    for limit in [1, 3] {
        let response = call(&app, Method::GET, &path(limit), &rider, None).await;
        assert_eq!(response.status(), StatusCode::OK);
        let found: Vec<NearbyDriver> = response.json().await.unwrap();
        let ids: Vec<Uuid> = found.iter().map(|d| d.driver_id).collect();
        assert_eq!(ids, [live.id], "limit {limit}");
        assert!((found[0].distance_km - 2.5).abs() < 0.01, "{found:?}");
    }
    // Two more live drivers, nearer than the first: nearest first, and a
    // limit of 2 stops before the farthest.
    let nearer = online_at(&app, PICKUP.north(0.1)).await;
    let middle = online_at(&app, PICKUP.north(1.0)).await;
    let response = call(&app, Method::GET, &path(2), &rider, None).await;
    let found: Vec<NearbyDriver> = response.json().await.unwrap();
    let ids: Vec<Uuid> = found.iter().map(|d| d.driver_id).collect();
    assert_eq!(ids, [nearer.id, middle.id]);
    // And the trip service's search, with the nearest excluded, skips it.
    let search = json!({"searches": [{
        "lat": PICKUP.lat, "lng": PICKUP.lng, "radius_km": 3.0, "limit": 5,
        "exclude": [nearer.id],
    }]});
    let response = internal(&app, "/internal/drivers/candidates", Peer::Trip, &search).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    let ids: Vec<&str> = answer["found"][0]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["driver_id"].as_str())
        .collect();
    assert_eq!(ids, [middle.id.to_string(), live.id.to_string()]);
}

//! Cities: a trip belongs to the city its pickup lies in; a pickup in no
//! city is refused and stores nothing; `GET /api/v1/cities` lists them.

use std::sync::Arc;

use hail_shared::cities::Cities;

use crate::helpers::*;

const EXAMPLE: &str = include_str!("../../../../cities.example.toml");

#[tokio::test]
async fn a_pickup_in_no_city_is_refused_and_stores_nothing() {
    let app = spawn_app().await;
    let rider = app.register_rider().await;
    // Kuala Lumpur: a valid point, in no city of the built-in configuration.
    let outside = json!({"pickup": {"lat": 3.139, "lng": 101.6869}, "dropoff": PICKUP});
    let response = app
        .post("/api/v1/trips", Some(&rider.token), &outside)
        .await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "outside_service_area",
    )
    .await;
    let list = app.trips(&rider).await;
    assert!(list.is_empty(), "{list:?}");

    // Nothing was held either: the same rider's trip in Singapore goes
    // ahead, and carries its city.
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    assert_eq!(trip.city, "sg");
    assert_eq!(app.trip(&rider, trip.id).await.city, "sg");
}

#[tokio::test]
async fn with_a_cities_file_a_trip_takes_the_city_of_its_pickup() {
    let app = spawn_app_with(|c| {
        c.cities = Arc::new(Cities::from_toml(EXAMPLE, "cities.example.toml").unwrap());
    })
    .await;
    let rider = app.register_rider().await;
    let monas = LatLng::new(-6.1754, 106.8272);
    let trip = app
        .request_trip(&rider, monas, LatLng::new(-6.2, 106.85))
        .await;
    assert_eq!(trip.city, "jakarta");

    // Anyone may list the cities, in lookup order.
    let response = app.get("/api/v1/cities", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cities: Vec<Value> = response.json().await.unwrap();
    let ids: Vec<&str> = cities.iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(ids, ["sg", "jakarta", "hcmc"]);
    assert_eq!(
        cities[1],
        json!({
            "id": "jakarta",
            "name": "Jakarta",
            "bbox": [-6.45, 106.65, -6.05, 107.05],
            "timezone": "Asia/Jakarta",
            "currency": "IDR",
        })
    );
}

#[tokio::test]
async fn without_a_cities_file_singapore_is_the_one_city() {
    let app = spawn_app().await;
    let cities: Vec<Value> = app.get("/api/v1/cities", None).await.json().await.unwrap();
    assert_eq!(
        cities,
        vec![json!({
            "id": "sg",
            "name": "Singapore",
            "bbox": [1.2172, 103.6849, 1.487, 103.9547],
            "timezone": "Asia/Singapore",
            "currency": "SGD",
        })]
    );
}

/// Two cities side by side, the border at longitude 103.5; `west` and
/// `east` add their own settings.
async fn west_and_east(west: &str, east: &str) -> TestApp {
    let file = format!(
        "[[city]]\nid = \"west\"\nname = \"West\"\nbbox = [1.0, 103.0, 1.5, 103.5]\n{west}\n\
         [[city]]\nid = \"east\"\nname = \"East\"\nbbox = [1.0, 103.5, 1.5, 104.0]\n{east}\n"
    );
    spawn_app_with(|c| {
        c.cities = Arc::new(Cities::from_toml(&file, "test").unwrap());
    })
    .await
}

#[tokio::test]
async fn a_trip_is_offered_only_to_drivers_in_its_city() {
    let app = west_and_east("", "").await;
    // The pickup is 100 m into the east; a west driver 200 m from it, an
    // east driver 2 km from it. Nearest first would take the west one.
    let pickup = LatLng::new(1.3, 103.501);
    let west = app.driver_online_at(LatLng::new(1.3, 103.499)).await;
    let east = app.driver_online_at(LatLng::new(1.3, 103.519)).await;
    let rider = app.register_rider().await;
    let trip = app
        .request_trip(&rider, pickup, LatLng::new(1.31, 103.52))
        .await;
    assert_eq!(trip.city, "east");
    let offer = app.wait_for_offer(&east, SOON).await;
    assert_eq!(offer.map(|o| o.trip_id), Some(trip.id));
    let profile = app.driver_profile(&west).await;
    assert!(profile.current_offer.is_none(), "{profile:?}");
    assert_eq!(profile.status, DriverStatus::Online);
}

#[tokio::test]
async fn each_city_dispatches_with_its_own_settings() {
    // The west assigns at once; the east offers, with 40 s to answer (the
    // global default is 15 s).
    let app = west_and_east("match_mode = \"auto\"", "offer_timeout_secs = 40").await;
    let rider_west = app.register_rider().await;
    let rider_east = app.register_rider().await;
    let west_spot = LatLng::new(1.3, 103.4);
    let east_spot = LatLng::new(1.3, 103.6);
    let west = app.driver_online_at(west_spot).await;
    let east = app.driver_online_at(east_spot).await;

    let trip = app
        .request_trip(&rider_west, west_spot, LatLng::new(1.31, 103.41))
        .await;
    let assigned = app
        .wait_for_status(&rider_west, trip.id, TripStatus::Assigned, SOON)
        .await;
    assert_eq!(assigned.driver_id, Some(west.id));

    let requested_at = chrono::Utc::now();
    let trip = app
        .request_trip(&rider_east, east_spot, LatLng::new(1.31, 103.61))
        .await;
    let offer = app.wait_for_offer(&east, SOON).await.expect("an offer");
    assert_eq!(offer.trip_id, trip.id);
    let window = (offer.expires_at - requested_at).num_seconds();
    assert!((35..=45).contains(&window), "the offer runs {window} s");
    assert_eq!(
        app.trip(&rider_east, trip.id).await.status,
        TripStatus::Requested
    );
}

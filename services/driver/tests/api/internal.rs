//! Internal routes answer only the sibling each exists for; public routes
//! only the gateway's proxy.

use crate::helpers::*;

#[tokio::test]
async fn internal_routes_refuse_any_caller_but_their_own() {
    let app = spawn_app().await;
    let driver = online_at(&app, PICKUP).await;
    let id = driver.id;
    let claims = json!({"trip_id": uuid::Uuid::new_v4(), "wishes": []});
    let routes: [(String, Option<Value>, Peer); 7] = [
        (
            "/internal/drivers".into(),
            Some(json!({"driver_id": id})),
            Peer::User,
        ),
        (
            "/internal/drivers/candidates".into(),
            Some(json!({})),
            Peer::Trip,
        ),
        ("/internal/drivers/claims".into(), Some(claims), Peer::Trip),
        (
            "/internal/drivers/offers".into(),
            Some(json!({"offers": []})),
            Peer::Trip,
        ),
        (
            format!("/internal/drivers/{id}/release"),
            Some(json!({})),
            Peer::Trip,
        ),
        (
            format!("/internal/drivers/{id}/presence"),
            None,
            Peer::Realtime,
        ),
        (
            "/internal/drivers/locations".into(),
            Some(json!({"pings": [{"driver_id": id, "update": {"lat": 1.3, "lng": 103.8}}]})),
            Peer::Realtime,
        ),
    ];
    for (path, body, owner) in &routes {
        // No token, the gateway proxy's token (what a client could reach
        // through it), and every sibling's token but the owner's: 401.
        let strangers = [
            None,
            Some(Peer::Gateway),
            Some(Peer::OpenApi),
            Some(Peer::User),
            Some(Peer::Driver),
            Some(Peer::Trip),
            Some(Peer::Realtime),
        ];
        for peer in strangers.into_iter().filter(|p| *p != Some(*owner)) {
            let response = app
                .direct(
                    Service::Driver,
                    Method::POST,
                    path,
                    peer,
                    None,
                    body.as_ref(),
                )
                .await;
            assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
        }
    }
    // The owner gets past the gate (presence for a driver that exists).
    let response = app
        .direct(
            Service::Driver,
            Method::POST,
            &format!("/internal/drivers/{id}/presence"),
            Some(Peer::Realtime),
            None,
            None,
        )
        .await;
    assert!(response.status().is_success(), "{}", response.status());
}

#[tokio::test]
async fn public_routes_answer_only_the_gateways_token_and_refuse_riders() {
    let app = spawn_app().await;
    let driver = app.register_driver().await;
    for peer in [
        None,
        Some(Peer::Realtime),
        Some(Peer::Trip),
        Some(Peer::User),
    ] {
        let response = app
            .direct(
                Service::Driver,
                Method::POST,
                "/api/v1/drivers/me/online",
                peer,
                Some(&driver),
                None,
            )
            .await;
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    let response = call(&app, Method::GET, "/api/v1/drivers/me", &driver, None).await;
    let profile: Value = response.json().await.unwrap();
    assert_eq!(profile["status"], "OFFLINE", "none of them took effect");

    // Through the gateway's token, a rider is forbidden the driver's own routes.
    let rider = app.register_rider().await;
    for (method, path) in [
        (Method::GET, "/api/v1/drivers/me"),
        (Method::POST, "/api/v1/drivers/me/online"),
        (Method::POST, "/api/v1/drivers/me/offline"),
    ] {
        let response = call(&app, method.clone(), path, &rider, None).await;
        assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let response = locate(&app, &rider, json!({"lat": PICKUP.lat, "lng": PICKUP.lng})).await;
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn one_candidates_call_answers_every_search_in_order_and_refuses_too_many() {
    let app = spawn_app().await;
    let near = online_at(&app, PICKUP).await;
    let far = online_at(&app, PICKUP.north(2.0)).await;
    let search = |at: LatLng, exclude: Vec<uuid::Uuid>| json!({"lat": at.lat, "lng": at.lng, "radius_km": 3.0, "limit": 5, "exclude": exclude});
    let body = json!({"searches": [
        search(PICKUP, vec![]),
        search(PICKUP, vec![near.id]),
        search(PICKUP.north(2.0), vec![]),
    ]});
    let response = internal(&app, "/internal/drivers/candidates", Peer::Trip, &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    let ids = |k: usize| -> Vec<String> {
        answer["found"][k]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["driver_id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(0), vec![near.id.to_string(), far.id.to_string()]);
    assert_eq!(
        ids(1),
        vec![far.id.to_string()],
        "the excluded driver is left out"
    );
    assert_eq!(ids(2), vec![far.id.to_string(), near.id.to_string()]);

    let too_many = json!({"searches": vec![search(PICKUP, vec![]); 101]});
    let response = internal(&app, "/internal/drivers/candidates", Peer::Trip, &too_many).await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn a_batch_of_socket_pings_answers_each_in_order_as_rest_would() {
    let app = spawn_app().await;
    let online = online_at(&app, PICKUP).await;
    let offline = app.register_driver().await;
    let stranger = uuid::Uuid::new_v4();
    let at = PICKUP.north(0.5);
    let ping =
        |id: uuid::Uuid, lat: f64| json!({"driver_id": id, "update": {"lat": lat, "lng": at.lng}});
    let batch = json!({"pings": [
        ping(online.id, at.lat),
        ping(offline.id, at.lat),
        ping(online.id, 95.0),
        ping(stranger, at.lat),
    ]});
    let response = internal(&app, "/internal/drivers/locations", Peer::Realtime, &batch).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    // Each refusal carries the status its REST call answers, so a gateway
    // relays it as it is.
    let refusals: Vec<(Value, Value)> = answer["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["status"].clone(), o["error"]["code"].clone()))
        .collect();
    assert_eq!(
        refusals,
        [
            (Value::Null, Value::Null),
            (json!(409), json!("driver_offline")),
            (json!(422), json!("validation_failed")),
            (json!(404), json!("not_found"))
        ]
    );
    // The one recorded ping moved the driver.
    let lat = |profile: hail_shared::api::drivers::DriverProfile| {
        profile.location.map(|l| l.lat).unwrap_or_default()
    };
    assert!((lat(app.driver_profile(&online).await) - at.lat).abs() < 1e-9);

    // More than a batch may carry: refused whole, nothing recorded.
    let too_many: Vec<Value> = (0..401).map(|_| ping(online.id, PICKUP.lat)).collect();
    let response = internal(
        &app,
        "/internal/drivers/locations",
        Peer::Realtime,
        &json!({"pings": too_many}),
    )
    .await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!((lat(app.driver_profile(&online).await) - at.lat).abs() < 1e-9);
}

/// A release frees the driver whichever way its claim ended: an offer left
/// unanswered (the claim never confirmed: committed without waiting for the
/// disk) or a ride it was confirmed for (`offer/end`; committed durably).
/// Either way it is ONLINE and found by `nearby` again, and a second
/// release changes nothing.
#[tokio::test]
async fn a_release_frees_the_driver_after_an_unanswered_offer_and_after_a_ride() {
    let app = spawn_app().await;
    let driver = online_at(&app, PICKUP).await;
    let rider = app.register_rider().await;
    for confirmed in [false, true] {
        let trip_id = uuid::Uuid::new_v4();
        let claim = json!({"claims": [{"trip_id": trip_id, "city": "sg", "drivers": [driver.id]}], "ttl_secs": 30});
        let response = internal(&app, "/internal/drivers/claims", Peer::Trip, &claim).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["claimed"][0],
            json!(driver.id),
            "confirmed={confirmed}"
        );
        assert_eq!(status_of(&app, &driver).await, DriverStatus::Busy);
        if confirmed {
            let path = format!("/internal/drivers/{}/offer/end", driver.id);
            let end = json!({"trip_id": trip_id});
            let response = internal(&app, &path, Peer::Trip, &end).await;
            assert!(response.status().is_success(), "{}", response.status());
        }
        let path = format!("/internal/drivers/{}/release", driver.id);
        let release = json!({"trip_id": trip_id});
        for _ in 0..2 {
            let response = internal(&app, &path, Peer::Trip, &release).await;
            assert_eq!(response.status(), StatusCode::OK, "confirmed={confirmed}");
        }
        assert_eq!(
            status_of(&app, &driver).await,
            DriverStatus::Online,
            "confirmed={confirmed}"
        );
        assert!(
            nearby(&app, &rider, PICKUP).await.contains(&driver.id),
            "confirmed={confirmed}: the released driver is not matchable"
        );
    }
}

/// A matcher pass shows its offers in one call: each driver its trip holds
/// sees its own offer as `current_offer`; a driver held by another trip (or
/// by none) is not shown one, and the answer says which were shown, in
/// order. A call past the cap is refused whole.
#[tokio::test]
async fn a_pass_shows_its_offers_in_one_call_only_to_drivers_their_trips_hold() {
    let app = spawn_app().await;
    let held = [online_at(&app, PICKUP).await, online_at(&app, PICKUP).await];
    let free = online_at(&app, PICKUP).await;
    let trips = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()];
    for (driver, trip_id) in held.iter().zip(trips) {
        let claim = json!({"claims": [{"trip_id": trip_id, "city": "sg", "drivers": [driver.id]}], "ttl_secs": 30});
        let response = internal(&app, "/internal/drivers/claims", Peer::Trip, &claim).await;
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["claimed"][0], json!(driver.id));
    }
    let offer = |trip_id: uuid::Uuid, driver: &Account| {
        json!({
            "driver_id": driver.id,
            "trip_id": trip_id,
            "ttl_secs": 30,
            "offer": {
                "trip_id": trip_id,
                "pickup": {"lat": PICKUP.lat, "lng": PICKUP.lng},
                "dropoff": {"lat": PICKUP.lat + 0.01, "lng": PICKUP.lng},
                "tier": "standard",
                "distance_km": 0.1,
                "expires_at": "2030-01-01T00:00:00Z",
                "fare_estimate": {"currency": "SGD", "amount": 7.5}
            }
        })
    };
    let body = json!({"offers": [
        offer(trips[0], &held[0]),
        offer(trips[1], &free),
        offer(trips[0], &held[1]),
        offer(trips[1], &held[1]),
    ]});
    let response = internal(&app, "/internal/drivers/offers", Peer::Trip, &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["shown"], json!([true, false, false, true]));
    for (driver, trip_id) in held.iter().zip(trips) {
        let shown = app.driver_profile(driver).await.current_offer;
        assert_eq!(shown.map(|o| o.trip_id), Some(trip_id));
    }
    assert!(app.driver_profile(&free).await.current_offer.is_none());

    let too_many: Vec<Value> = (0..101).map(|_| offer(trips[0], &held[0])).collect();
    let response = internal(
        &app,
        "/internal/drivers/offers",
        Peer::Trip,
        &json!({"offers": too_many}),
    )
    .await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

//! `Idempotency-Key`: a retry gets the first answer, never a second trip.

use std::sync::Arc;

use crate::helpers::*;

async fn post_with_key(
    app: &TestApp,
    rider: &Account,
    key: &str,
    body: &Value,
) -> hail_testkit::reqwest::Response {
    app.client
        .post(app.url("/api/v1/trips"))
        .bearer_auth(&rider.token)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_same_request_twice_makes_one_trip() {
    let app = spawn_app().await;
    let rider = app.register_rider().await;
    let body = json!({"pickup": PICKUP, "dropoff": DROPOFF});
    let first = post_with_key(&app, &rider, "k-1", &body).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: Trip = first.json().await.unwrap();
    let again = post_with_key(&app, &rider, "k-1", &body).await;
    assert_eq!(again.status(), StatusCode::OK);
    let again: Trip = again.json().await.unwrap();
    assert_eq!(again.id, first.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_at_once_make_one_trip() {
    let app = Arc::new(spawn_app().await);
    let rider = app.register_rider().await;
    let body = json!({"pickup": PICKUP, "dropoff": DROPOFF, "tier": "premium"});
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (app, rider, body) = (app.clone(), rider.clone(), body.clone());
        tasks.spawn(async move {
            let response = post_with_key(&app, &rider, "same-key", &body).await;
            let status = response.status();
            let trip: Trip = response.json().await.unwrap();
            (status, trip.id)
        });
    }
    let answers = tasks.join_all().await;
    let ids: std::collections::HashSet<_> = answers.iter().map(|(_, id)| *id).collect();
    assert_eq!(ids.len(), 1, "{answers:?}");
    let created = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::ACCEPTED)
        .count();
    assert_eq!(created, 1, "{answers:?}");
    let list = app.trips(&rider).await;
    assert_eq!(list.len(), 1);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_422() {
    let app = spawn_app().await;
    let rider = app.register_rider().await;
    let body = json!({"pickup": PICKUP, "dropoff": DROPOFF});
    assert_eq!(
        post_with_key(&app, &rider, "k-2", &body).await.status(),
        StatusCode::ACCEPTED
    );
    let other = json!({"pickup": PICKUP, "dropoff": PICKUP.north(3.0)});
    let response = post_with_key(&app, &rider, "k-2", &other).await;
    let error = assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(error.error.details.unwrap()["Idempotency-Key"].is_array());
    // Keys are per rider: another rider's same key is a new trip.
    let someone_else = app.register_rider().await;
    assert_eq!(
        post_with_key(&app, &someone_else, "k-2", &body)
            .await
            .status(),
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn bad_keys_are_422() {
    let app = spawn_app().await;
    let rider = app.register_rider().await;
    let body = json!({"pickup": PICKUP, "dropoff": DROPOFF});
    for key in ["x".repeat(65), " ".to_string()] {
        let response = post_with_key(&app, &rider, &key, &body).await;
        assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    let list = app.trips(&rider).await;
    assert!(list.is_empty());
}

//! Register, login and me, straight at the user service.

use crate::helpers::*;

#[tokio::test]
async fn register_login_and_me_answer_the_contracts_shapes() {
    let app = spawn_app().await;
    let body = registration(json!({"name": "  Ada Rider  "}));
    let response = register(&app, &body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let registered: AuthResponse = response.json().await.unwrap();
    assert_eq!(registered.token_type, "Bearer");
    assert_eq!(registered.expires_in, app.config.jwt_ttl.as_secs());
    assert_eq!(registered.user.email, body["email"].as_str().unwrap());
    assert_eq!(registered.user.name, "Ada Rider", "the name is trimmed");
    assert_eq!(registered.user.role, Role::Rider);
    assert!(!registered.access_token.is_empty());

    let response = login(&app, body["email"].as_str().unwrap(), PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let logged_in: AuthResponse = response.json().await.unwrap();
    assert_eq!(logged_in.user, registered.user);
    assert_eq!(logged_in.token_type, "Bearer");

    let me = call(
        &app,
        Method::GET,
        "/api/v1/auth/me",
        Some(&account(&registered)),
        None,
    )
    .await;
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.unwrap();
    let mut keys: Vec<&str> = me.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["created_at", "email", "id", "name", "role"], "{me}");
    assert_eq!(me["id"], json!(registered.user.id));
}

#[tokio::test]
async fn emails_compare_case_insensitively_and_a_second_account_is_409_email_taken() {
    let app = spawn_app().await;
    let email = format!("Ada.{}@Example.COM", uuid::Uuid::new_v4().simple());
    let response = register(&app, &registration(json!({"email": email}))).await;
    assert_eq!(response.status(), StatusCode::CREATED);

    let lower = email.to_lowercase();
    let response = login(&app, &lower, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK, "login in lower case");
    let response = login(&app, &email.to_uppercase(), PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK, "login in upper case");

    for again in [email.clone(), lower, email.to_uppercase()] {
        let response = register(&app, &registration(json!({"email": again}))).await;
        assert_error(response, StatusCode::CONFLICT, "email_taken").await;
    }
    // Taken whatever the role asked for.
    let response = register(
        &app,
        &registration(json!({"email": email, "role": "driver"})),
    )
    .await;
    assert_error(response, StatusCode::CONFLICT, "email_taken").await;
}

#[tokio::test]
async fn invalid_registrations_are_422_naming_each_field() {
    let app = spawn_app().await;
    for (overrides, field) in [
        (json!({"email": "not-an-email"}), "email"),
        (json!({"email": null}), "email"),
        (json!({"password": "short"}), "password"),
        (json!({"password": "p".repeat(129)}), "password"),
        (json!({"name": ""}), "name"),
        (json!({"name": "n".repeat(81)}), "name"),
        (json!({"role": "support"}), "role"),
        (json!({"role": null}), "role"),
    ] {
        let response = register(&app, &registration(overrides.clone())).await;
        let error = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        let details = error.error.details.unwrap_or_default();
        assert!(
            details.get(field).is_some(),
            "{overrides}: details should name {field}: {details}"
        );
    }
}

#[tokio::test]
async fn bad_credentials_and_callers_other_than_the_gateway_are_401() {
    let app = spawn_app().await;
    let body = registration(json!({}));
    assert_eq!(register(&app, &body).await.status(), StatusCode::CREATED);
    let email = body["email"].as_str().unwrap();
    for (email, password) in [
        (email, "not the password"),
        (email, &PASSWORD[1..]),
        ("nobody@example.com", PASSWORD),
    ] {
        let response = login(&app, email, password).await;
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    // An empty password is not a login attempt at all.
    let response = login(&app, email, "").await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    // The routes answer only the gateway's proxy token.
    let other = registration(json!({}));
    for peer in [None, Some(Peer::Realtime), Some(Peer::Trip)] {
        let response = app
            .direct(
                Service::User,
                Method::POST,
                "/api/v1/auth/register",
                peer,
                None,
                Some(&other),
            )
            .await;
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    // None of those created the account.
    assert_eq!(register(&app, &other).await.status(), StatusCode::CREATED);
    // `me` needs the caller the gateway vouches for.
    let response = call(&app, Method::GET, "/api/v1/auth/me", None, None).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

/// A driver's registration asks the driver service for a profile. While
/// that call hangs, the registration must hold no database connection:
/// with a pool of one, a login answers meanwhile. And a registration whose
/// profile could not be made stores no account.
#[tokio::test]
async fn a_driver_registration_waiting_on_the_driver_service_holds_no_database_connection() {
    let mut app = spawn_app_with(|c| {
        c.database_pool_size = 1;
        c.database_acquire_timeout = std::time::Duration::from_millis(500);
        c.request_timeout = std::time::Duration::from_secs(30);
    })
    .await;
    let rider = registration(json!({}));
    assert_eq!(register(&app, &rider).await.status(), StatusCode::CREATED);

    // A driver service that takes the connection and never answers.
    let hung = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    app.stop(Service::User).await;
    app.config.upstreams.driver = format!("http://{}", hung.local_addr().unwrap());
    app.start(Service::User).await;

    let driver = registration(json!({"role": "driver"}));
    let pending = register(&app, &driver);
    tokio::pin!(pending);
    let call = tokio::select! {
        answer = &mut pending => panic!("answered {} without the driver service", answer.status()),
        accepted = hung.accept() => accepted.unwrap().0,
    };

    // The registration now waits on the driver service; a login needs the
    // pool's only connection.
    let response = tokio::select! {
        answer = &mut pending => panic!("the registration answered {} first", answer.status()),
        response = login(&app, rider["email"].as_str().unwrap(), PASSWORD) => response,
    };
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "a login while a registration waits on the driver service"
    );

    drop(call);
    assert_eq!(pending.await.status(), StatusCode::SERVICE_UNAVAILABLE);
    let email = driver["email"].as_str().unwrap();
    assert_error(
        login(&app, email, PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

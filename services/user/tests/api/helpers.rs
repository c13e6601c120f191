pub use hail::stack::Service;
pub use hail_shared::{
    api::{auth::AuthResponse, Role},
    internal::Peer,
};
pub use hail_testkit::{
    assert_error, json,
    reqwest::{Method, Response, StatusCode},
    spawn_app, spawn_app_with, Account, TestApp,
};
pub use serde_json::Value;

pub const PASSWORD: &str = "correct horse battery";

/// A request to the user service as the gateway's proxy makes it.
pub async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    caller: Option<&Account>,
    body: Option<&Value>,
) -> Response {
    app.direct(
        Service::User,
        method,
        path,
        Some(Peer::Gateway),
        caller,
        body,
    )
    .await
}

pub async fn register(app: &TestApp, body: &Value) -> Response {
    call(app, Method::POST, "/api/v1/auth/register", None, Some(body)).await
}

pub async fn login(app: &TestApp, email: &str, password: &str) -> Response {
    let body = json!({"email": email, "password": password});
    call(app, Method::POST, "/api/v1/auth/login", None, Some(&body)).await
}

/// A valid registration body with one field replaced (`null` removes it).
pub fn registration(overrides: Value) -> Value {
    let mut body = json!({
        "email": format!("{}@example.com", uuid::Uuid::new_v4().simple()),
        "password": PASSWORD,
        "name": "Ada Rider",
        "role": "rider",
    });
    if let (Some(body), Some(overrides)) = (body.as_object_mut(), overrides.as_object()) {
        for (k, v) in overrides {
            if v.is_null() {
                body.remove(k);
            } else {
                body.insert(k.clone(), v.clone());
            }
        }
    }
    body
}

/// The account a registration answer describes, to call `me` as.
pub fn account(registered: &AuthResponse) -> Account {
    Account {
        id: registered.user.id,
        email: registered.user.email.clone(),
        password: PASSWORD.into(),
        role: registered.user.role,
        token: registered.access_token.clone(),
    }
}

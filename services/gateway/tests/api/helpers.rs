pub use hail::stack::Service;
pub use hail_shared::api::{
    auth::{AuthResponse, User},
    Role,
};
pub use hail_testkit::{assert_error, expired_claims, json, reqwest::StatusCode, spawn_app};
pub use serde_json::Value;

/// A valid registration body with one field replaced.
pub fn registration(overrides: Value) -> Value {
    let mut body = json!({
        "email": format!("{}@example.com", uuid::Uuid::new_v4().simple()),
        "password": "correct horse battery",
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

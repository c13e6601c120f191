pub use hail::stack::Service;
pub use hail_shared::api::{
    auth::{AuthResponse, User},
    Role,
};
pub use hail_testkit::{assert_error, expired_claims, json, reqwest::StatusCode, spawn_app};
pub use serde_json::Value;

use std::time::Duration;

use hail_shared::api::geo::LatLng;

/// A pickup in central Singapore (the built-in city) and a dropoff 6 km off.
pub const PICKUP: LatLng = LatLng {
    lat: 1.3521,
    lng: 103.8198,
};
pub const DROPOFF: LatLng = LatLng {
    lat: 1.30,
    lng: 103.85,
};
/// How long a test waits for what should come at once.
pub const SOON: Duration = Duration::from_secs(5);

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

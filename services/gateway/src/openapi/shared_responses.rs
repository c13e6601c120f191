//! What every proxied route shares, added to the document from the gateway's
//! routing table ([`match_route`]) rather than written on each handler:
//! bearer security and a 401 where a token is needed, a 403 where a role is,
//! 400 / 413 / 422 where a body is read, and 400 / 429 / 503 on everything
//! the gateway proxies. A response a service already documents is kept.

use axum::http::Method;
use hail_shared::openapi::BEARER;
use serde_json::{json, Map, Value};

use crate::domain::routing::{match_route, Access};

/// The operation keys of an OpenAPI path item.
pub const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

pub fn add_shared_responses(document: &mut Value) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        for method in METHODS {
            let Some(operation) = item.get_mut(method).and_then(Value::as_object_mut) else {
                continue;
            };
            let Ok(policy) = match_route(&http_method(method), &sample_path(path)) else {
                continue;
            };
            let has_body = operation.contains_key("requestBody");
            if policy.access != Access::Public {
                operation.insert("security".into(), json!([{ BEARER: [] }]));
            }
            let Some(responses) = operation
                .entry("responses")
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
            else {
                continue;
            };
            let mut add = |status: &str, description: &str| {
                responses
                    .entry(status)
                    .or_insert_with(|| error_response(description));
            };
            if policy.access != Access::Public {
                add(
                    "401",
                    "`unauthorized`: missing, malformed, expired or forged token",
                );
            }
            if let Access::Role(role) = policy.access {
                add(
                    "403",
                    &format!("`forbidden`: only {role} accounts may call this"),
                );
            }
            if has_body {
                add(
                    "400",
                    "`bad_request`: malformed JSON or wrong content type, or a path with a dot segment, an encoded slash or a control character",
                );
                add("413", "`payload_too_large`: body over 64 KiB");
                add(
                    "422",
                    "`validation_failed`: `details` lists `{field: [messages]}`",
                );
            }
            // Any path the gateway refuses before routing (API.md, "Abuse limits").
            add(
                "400",
                "`bad_request`: a path with a dot segment, an encoded slash or a control character",
            );
            add(
                "429",
                "`rate_limited`: too many requests; the `Retry-After` header says when to retry",
            );
            add(
                "503",
                "`unavailable`: Redis, Postgres or a service is unreachable; retry shortly",
            );
        }
    }
}

/// `method` (an OpenAPI operation key) as HTTP has it.
pub fn http_method(method: &str) -> Method {
    Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap_or(Method::GET)
}

/// A concrete path for a templated one, to look its policy up.
pub fn sample_path(template: &str) -> String {
    template
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "x"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_and_errors_follow_the_routing_table() {
        let mut document = json!({"paths": {
            "/api/v1/auth/login": {"post": {"requestBody": {}, "responses": {
                "401": {"description": "wrong email or password"},
            }}},
            "/api/v1/trips": {"post": {"requestBody": {}, "responses": {}}},
            "/api/v1/trips/{id}": {"get": {
                "security": [{"bearer": ["anything"]}],
                "responses": {},
            }},
            "/healthz": {"get": {"responses": {}}},
        }});
        add_shared_responses(&mut document);
        let paths = &document["paths"];

        let login = &paths["/api/v1/auth/login"]["post"];
        assert!(login.get("security").is_none(), "login needs no token");
        assert_eq!(
            login["responses"]["401"]["description"], "wrong email or password",
            "what a service documents is kept"
        );
        assert!(login["responses"]["413"].is_object());
        assert!(login["responses"]["429"].is_object());

        let create = &paths["/api/v1/trips"]["post"];
        assert_eq!(create["security"], json!([{"bearer": []}]));
        assert_eq!(
            create["responses"]["403"]["description"],
            "`forbidden`: only rider accounts may call this"
        );
        assert_eq!(
            create["responses"]["401"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody"
        );

        let get = &paths["/api/v1/trips/{id}"]["get"];
        assert_eq!(get["security"], json!([{"bearer": []}]));
        assert!(
            get["responses"]["403"].is_null(),
            "any role may read a trip"
        );
        assert!(get["responses"]["413"].is_null(), "no body is read");
        assert!(get["responses"]["400"].is_object());

        assert_eq!(
            paths["/healthz"]["get"]["responses"],
            json!({}),
            "the gateway's own routes are not proxied"
        );
    }

    #[test]
    fn sample_paths_fill_every_parameter() {
        assert_eq!(
            sample_path("/api/v1/rooms/{key}/rides/{ride_id}/cancel"),
            "/api/v1/rooms/x/rides/x/cancel"
        );
        assert_eq!(http_method("delete"), Method::DELETE);
    }
}

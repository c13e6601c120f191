//! The gateway's routing table against the routes the services document.
//!
//! Both ways: every route a service documents must be routed by
//! [`match_route`] to that service, and every route of [`PUBLIC_ROUTES`]
//! must be documented by the service the table names. Access must agree
//! too: a route the table opens to anyone documents no token; any other
//! documents the bearer token; and where the table insists on a role, the
//! service names that role (it checks it again). The table may leave a role
//! check to the service: a driver-only route the table routes for any
//! caller is fine.

use hail_shared::openapi::BEARER;
use serde_json::Value;

use super::{
    shared_responses::{http_method, sample_path, METHODS},
    Parts,
};
use crate::domain::routing::{match_route, Access, Upstream, PUBLIC_ROUTES};

const UPSTREAMS: [Upstream; 3] = [Upstream::User, Upstream::Driver, Upstream::Trip];

/// Each way the table and the parts disagree, in words; empty when they agree.
pub fn disagreements(parts: &Parts) -> Vec<String> {
    let mut found = Vec::new();
    for upstream in UPSTREAMS {
        let service = upstream.name();
        for (method, path, operation) in operations(parts.of(upstream)) {
            let route = format!("{} {path}", method.to_ascii_uppercase());
            let Ok(policy) = match_route(&http_method(method), &sample_path(path)) else {
                found.push(format!(
                    "{route} is documented by the {service} service but the gateway does not route it"
                ));
                continue;
            };
            if policy.upstream != upstream {
                found.push(format!(
                    "{route} is documented by the {service} service but the gateway routes it to the {} service",
                    policy.upstream.name()
                ));
            }
            match (policy.access, bearer_scopes(operation)) {
                (Access::Public, Some(_)) => found.push(format!(
                    "{route}: the {service} service wants a token, the gateway's table lets anyone call it"
                )),
                (Access::Authenticated | Access::Role(_), None) => found.push(format!(
                    "{route}: the gateway's table wants a token, the {service} service documents none"
                )),
                (Access::Role(role), Some(scopes)) if scopes != [role.as_str()] => {
                    found.push(format!(
                        "{route}: the gateway's table wants a {role}, the {service} service names {scopes:?}"
                    ))
                }
                _ => {}
            }
        }
    }
    for route in PUBLIC_ROUTES {
        let part = parts.of(route.upstream);
        let method = route.method.as_str().to_ascii_lowercase();
        if part.pointer(&pointer(route.pattern, &method)).is_none() {
            found.push(format!(
                "{} {} is in the gateway's table but the {} service does not document it",
                route.method,
                route.pattern,
                route.upstream.name()
            ));
        }
    }
    found
}

/// Every (method, path, operation) a part documents.
fn operations(part: &Value) -> Vec<(&'static str, &str, &Value)> {
    let Some(paths) = part.get("paths").and_then(Value::as_object) else {
        return Vec::new();
    };
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .into_iter()
                .filter_map(move |method| Some((method, path.as_str(), item.get(method)?)))
        })
        .collect()
}

/// The roles an operation's bearer requirement names (empty: any caller);
/// `None` when it needs no token.
fn bearer_scopes(operation: &Value) -> Option<Vec<&str>> {
    let requirements = operation.get("security")?.as_array()?;
    let scopes = requirements.iter().find_map(|r| r.get(BEARER))?;
    Some(
        scopes
            .as_array()
            .map(|s| s.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default(),
    )
}

/// The JSON pointer to `method` of `path` in a document.
fn pointer(path: &str, method: &str) -> String {
    format!(
        "/paths/{}/{method}",
        path.replace('~', "~0").replace('/', "~1")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map};

    /// Parts exactly as the routing table describes them.
    fn parts_from_the_table() -> Parts {
        let mut docs: Vec<Map<String, Value>> = vec![Map::new(), Map::new(), Map::new()];
        for route in PUBLIC_ROUTES {
            let index = UPSTREAMS
                .iter()
                .position(|u| *u == route.upstream)
                .unwrap_or(0);
            let security = match route.access {
                Access::Public => Value::Null,
                Access::Authenticated => json!([{"bearer": []}]),
                Access::Role(role) => json!([{"bearer": [role.as_str()]}]),
            };
            let mut operation = json!({"responses": {}});
            if !security.is_null() {
                operation["security"] = security;
            }
            let item = docs[index]
                .entry(route.pattern)
                .or_insert_with(|| json!({}));
            item[route.method.as_str().to_ascii_lowercase()] = operation;
        }
        let mut docs = docs.into_iter().map(|paths| json!({"paths": paths}));
        Parts {
            user: docs.next().unwrap(),
            driver: docs.next().unwrap(),
            trip: docs.next().unwrap(),
        }
    }

    #[test]
    fn parts_made_from_the_table_agree_with_it() {
        assert_eq!(disagreements(&parts_from_the_table()), Vec::<String>::new());
    }

    #[test]
    fn a_route_no_one_routes_is_found() {
        let mut parts = parts_from_the_table();
        parts.trip["paths"]["/api/v1/trips/{id}/teleport"] = json!({"post": {}});
        let found = disagreements(&parts);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("POST /api/v1/trips/{id}/teleport"));
        assert!(found[0].contains("does not route it"));
    }

    #[test]
    fn a_route_documented_by_another_service_is_found_both_ways() {
        let mut parts = parts_from_the_table();
        let nearby = parts.driver["paths"]
            .as_object_mut()
            .unwrap()
            .remove("/api/v1/drivers/nearby")
            .unwrap();
        parts.trip["paths"]["/api/v1/drivers/nearby"] = nearby;
        let found = disagreements(&parts);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("routes it to the driver service"));
        assert!(found[1].contains("the driver service does not document it"));
    }

    #[test]
    fn access_that_differs_is_found() {
        let mut parts = parts_from_the_table();
        let paths = &mut parts.user["paths"];
        paths["/api/v1/auth/login"]["post"]["security"] = json!([{"bearer": []}]);
        paths["/api/v1/auth/me"]["get"]
            .as_object_mut()
            .unwrap()
            .remove("security");
        parts.driver["paths"]["/api/v1/drivers/me"]["get"]["security"] =
            json!([{"bearer": ["rider"]}]);
        let found = disagreements(&parts);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].contains("POST /api/v1/auth/login: the user service wants a token"));
        assert!(found[1].contains("GET /api/v1/auth/me: the gateway's table wants a token"));
        assert!(found[2].contains("GET /api/v1/drivers/me: the gateway's table wants a driver"));
    }

    #[test]
    fn a_service_may_check_a_role_the_table_leaves_to_it() {
        let mut parts = parts_from_the_table();
        parts.trip["paths"]["/api/v1/trips/{id}/accept"]["post"]["security"] =
            json!([{"bearer": ["driver"]}]);
        assert_eq!(disagreements(&parts), Vec::<String>::new());
    }
}

//! Several OpenAPI documents (the services' parts and the gateway's) made
//! into one. Pure JSON work: the parts arrive as JSON, and utoipa's types do
//! not read every schema back as they wrote it.
//!
//! Parts are taken in order and the first wins: a path's method, a component
//! or a tag another part already gave is left as it is (which part should
//! have it is the routing table's to say, see `super::check`).

use serde_json::{Map, Value};

/// The component kinds a part may bring.
const COMPONENT_KINDS: [&str; 3] = ["schemas", "responses", "securitySchemes"];

/// One document: `openapi` and `info` from `head`, then the paths,
/// components and tags of `parts`, in order.
pub fn merge(head: &Value, parts: impl IntoIterator<Item = Value>) -> Value {
    let mut document = Map::new();
    for key in ["openapi", "info"] {
        if let Some(value) = head.get(key) {
            document.insert(key.into(), value.clone());
        }
    }
    let mut paths = Map::new();
    let mut components = Map::new();
    let mut tags: Vec<Value> = Vec::new();
    for part in parts {
        let Value::Object(mut part) = part else {
            continue;
        };
        if let Some(Value::Object(part_paths)) = part.remove("paths") {
            for (path, item) in part_paths {
                add_missing(&mut paths, &path, item);
            }
        }
        if let Some(part_components) = part.remove("components") {
            for kind in COMPONENT_KINDS {
                if let Some(named) = part_components.get(kind) {
                    add_missing(&mut components, kind, named.clone());
                }
            }
        }
        if let Some(Value::Array(part_tags)) = part.remove("tags") {
            for tag in part_tags {
                if !tags
                    .iter()
                    .any(|known| known.get("name") == tag.get("name"))
                {
                    tags.push(tag);
                }
            }
        }
    }
    document.insert("paths".into(), Value::Object(paths));
    document.insert("components".into(), Value::Object(components));
    document.insert("tags".into(), Value::Array(tags));
    Value::Object(document)
}

/// Adds to the object `map[key]` the entries of `from` (an object) it lacks.
fn add_missing(map: &mut Map<String, Value>, key: &str, from: Value) {
    let Value::Object(from) = from else {
        return;
    };
    match map.get_mut(key) {
        Some(Value::Object(into)) => {
            for (name, value) in from {
                into.entry(name).or_insert(value);
            }
        }
        _ => {
            map.insert(key.into(), Value::Object(from));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parts_are_merged_in_order_and_the_first_wins() {
        let head =
            json!({"openapi": "3.1.0", "info": {"title": "Hail"}, "paths": {"/healthz": {}}});
        let user = json!({
            "openapi": "3.1.0",
            "info": {"title": "hail-user"},
            "paths": {"/api/v1/auth/me": {"get": {"operationId": "me"}}},
            "components": {"schemas": {"User": {"type": "object"}, "Role": {"enum": ["rider"]}}},
            "tags": [{"name": "auth"}],
        });
        let trip = json!({
            "paths": {
                "/api/v1/auth/me": {"get": {"operationId": "other"}, "post": {"operationId": "new"}},
                "/api/v1/trips": {"post": {"operationId": "create_trip"}},
            },
            "components": {
                "schemas": {"Role": {"enum": ["other"]}, "Trip": {"type": "object"}},
                "securitySchemes": {"bearer": {"type": "http"}},
            },
            "tags": [{"name": "auth", "description": "again"}, {"name": "trips"}],
        });
        let merged = merge(&head, [user, trip]);
        assert_eq!(merged["openapi"], "3.1.0");
        assert_eq!(merged["info"]["title"], "Hail");
        let me = &merged["paths"]["/api/v1/auth/me"];
        assert_eq!(me["get"]["operationId"], "me");
        assert_eq!(me["post"]["operationId"], "new");
        assert_eq!(
            merged["paths"]["/api/v1/trips"]["post"]["operationId"],
            "create_trip"
        );
        assert!(
            merged["paths"].get("/healthz").is_none(),
            "the head gives no paths"
        );
        let schemas = &merged["components"]["schemas"];
        assert_eq!(schemas["Role"], json!({"enum": ["rider"]}));
        assert!(schemas["User"].is_object() && schemas["Trip"].is_object());
        assert!(merged["components"]["securitySchemes"]["bearer"].is_object());
        assert_eq!(merged["tags"], json!([{"name": "auth"}, {"name": "trips"}]));
    }
}

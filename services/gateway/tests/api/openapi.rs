//! The served OpenAPI document, end to end: assembled from what the running
//! services document, it agrees with the gateway's routing table, carries
//! the contract's details, and waits for every service.

use std::collections::BTreeSet;

use hail_gateway::{
    gateway_part,
    openapi::{check, Parts},
};
use hail_shared::{internal::Peer, openapi::PART_PATH};
use hail_testkit::{reqwest::Method, TestApp};

use crate::helpers::*;

const SERVICES: [Service; 3] = [Service::User, Service::Driver, Service::Trip];

/// `service`'s part of the document, asked for with `peer`'s token.
async fn part(app: &TestApp, service: Service, peer: Peer) -> hail_testkit::reqwest::Response {
    app.client
        .get(app.service_url(service, PART_PATH))
        .header("x-internal-token", app.peer_token(peer))
        .send()
        .await
        .unwrap()
}

async fn parts(app: &TestApp) -> Parts {
    let mut fetched = Vec::new();
    for service in SERVICES {
        let response = part(app, service, Peer::OpenApi).await;
        assert_eq!(response.status(), StatusCode::OK, "{service}'s part");
        fetched.push(response.json::<Value>().await.unwrap());
    }
    let mut fetched = fetched.into_iter();
    Parts {
        user: fetched.next().unwrap(),
        driver: fetched.next().unwrap(),
        trip: fetched.next().unwrap(),
    }
}

/// Every (METHOD, path) a document describes.
fn documented(document: &Value) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_some() {
                found.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    found
}

async fn served_document(app: &TestApp) -> Value {
    let response = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// The gateway's table and what the services serve, compared both ways
/// (`hail_gateway::openapi::check`): every documented route is routed to
/// the service that documents it, with the access it documents, and every
/// route of the table is documented by its service.
#[tokio::test]
async fn the_routing_table_and_the_served_routes_agree() {
    let app = spawn_app().await;
    let parts = parts(&app).await;
    assert_eq!(check::disagreements(&parts), Vec::<String>::new());

    // A part's routes are served by its service: none is an unknown route.
    for (service, part) in SERVICES
        .into_iter()
        .zip([&parts.user, &parts.driver, &parts.trip])
    {
        for (method, path) in documented(part) {
            let sample: Vec<&str> = path
                .split('/')
                .map(|s| if s.starts_with('{') { "x" } else { s })
                .collect();
            let response = app
                .client
                .request(
                    method.parse::<Method>().unwrap(),
                    app.service_url(service, &sample.join("/")),
                )
                .header("x-internal-token", app.peer_token(Peer::Gateway))
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body = response.text().await.unwrap();
            assert!(
                !body.contains("no such route") && status != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is documented by the {service} service, which does not serve it: {status} {body}"
            );
        }
    }

    // The served document is those parts and the gateway's own routes.
    let mut expected = documented(&serde_json::to_value(gateway_part()).unwrap());
    for part in [&parts.user, &parts.driver, &parts.trip] {
        expected.extend(documented(part));
    }
    assert_eq!(documented(&served_document(&app).await), expected);
}

/// A part is for the gateway's collector only: the proxy's token, which
/// a path slipping past the routing table would carry, does not open it.
#[tokio::test]
async fn a_services_part_answers_only_the_collector() {
    let app = spawn_app().await;
    for service in SERVICES {
        for peer in [Peer::Gateway, Peer::Realtime, Peer::User, Peer::Trip] {
            let status = part(&app, service, peer).await.status();
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{peer:?} read {service}'s part"
            );
        }
        let response = app
            .client
            .get(app.service_url(service, PART_PATH))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = app.get(PART_PATH, None).await;
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "not through the gateway"
    );
}

/// Until every service has given its part the document is a 503 in the
/// error shape, and nothing is kept; once assembled, it is kept.
#[tokio::test]
async fn the_document_waits_for_every_service_then_is_kept() {
    let mut app = spawn_app().await;
    app.stop(Service::Trip).await;
    let response = app.get("/api/v1/openapi.json", None).await;
    assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;

    app.start(Service::Trip).await;
    let document = served_document(&app).await;
    assert!(document["paths"]["/api/v1/trips"]["post"].is_object());

    app.stop(Service::Trip).await;
    assert_eq!(served_document(&app).await, document);
}

#[tokio::test]
async fn security_and_shared_errors_follow_the_routing_table() {
    let app = spawn_app().await;
    let spec = served_document(&app).await;
    assert_eq!(spec["openapi"], "3.1.0");
    let login = &spec["paths"]["/api/v1/auth/login"]["post"];
    assert!(login.get("security").is_none(), "login needs no token");
    assert!(login["responses"]["429"].is_object());
    let room = &spec["paths"]["/api/v1/rooms/{key}"]["get"];
    assert!(
        room["responses"]["400"].is_object(),
        "a refused path is a 400 on every route"
    );
    let create = &spec["paths"]["/api/v1/trips"]["post"];
    assert_eq!(create["security"][0]["bearer"], json!([]));
    assert!(create["responses"]["403"].is_object());
    assert_eq!(
        create["responses"]["401"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorBody"
    );
    let links = &create["responses"]["202"]["links"];
    assert_eq!(links["GetTrip"]["operationId"], "get_trip");
    assert_eq!(links["GetTrip"]["parameters"]["id"], "$response.body#/id");
    let me = &spec["paths"]["/api/v1/auth/me"]["get"];
    assert!(
        me["responses"]["403"].is_null(),
        "any role may call /auth/me"
    );
}

#[tokio::test]
async fn contract_details_are_in_the_schemas() {
    let app = spawn_app().await;
    let spec = served_document(&app).await;
    let schemas = &spec["components"]["schemas"];
    let statuses = &schemas["TripStatus"]["enum"];
    assert!(statuses.as_array().unwrap().contains(&json!("NO_DRIVER")));
    assert_eq!(
        schemas["Role"]["enum"],
        json!(["rider", "driver", "support"])
    );
    assert_eq!(
        schemas["Trip"]["properties"]["created_at"]["format"],
        "date-time"
    );
    let driver_id = serde_json::to_string(&schemas["Trip"]["properties"]["driver_id"]).unwrap();
    assert!(
        driver_id.contains("null"),
        "driver_id is nullable: {driver_id}"
    );
    let create = &spec["paths"]["/api/v1/trips"]["post"];
    let header = create["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Idempotency-Key")
        .unwrap();
    assert_eq!(header["in"], "header");
    let nearby = &spec["paths"]["/api/v1/drivers/nearby"]["get"]["parameters"];
    assert_eq!(nearby.as_array().unwrap().len(), 4);
}

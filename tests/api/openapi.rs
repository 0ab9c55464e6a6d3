//! The OpenAPI document: served, committed, and in step with the code.

use gradest::estimation::distributions::FAMILIES;
use serde_json::Value;

use crate::helpers::spawn_app;

const REGENERATE: &str = "cargo run -- openapi > openapi/openapi.json";

fn committed() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {path}: {e}; create it with `{REGENERATE}`"))
}

#[test]
fn the_committed_document_is_what_the_code_generates() {
    assert!(
        committed() == gradest::http::openapi_json(),
        "openapi/openapi.json is out of date with the code; regenerate it with `{REGENERATE}` and commit it"
    );
}

#[tokio::test]
async fn the_served_document_is_the_committed_one() {
    let app = spawn_app().await;
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status(), 200);
    let served: Value = response.json().await.unwrap();
    let committed: Value = serde_json::from_str(&committed()).unwrap();
    assert!(
        served == committed,
        "GET /openapi.json differs from openapi/openapi.json; regenerate it with `{REGENERATE}`"
    );
    assert!(served["openapi"].as_str().unwrap().starts_with("3.1"));
}

#[test]
fn the_distribution_schema_has_one_branch_per_family() {
    let doc: Value = serde_json::from_str(&gradest::http::openapi_json()).unwrap();
    let schemas = &doc["components"]["schemas"];
    let one_of = schemas["Distribution"]["oneOf"]
        .as_array()
        .expect("a oneOf");
    assert_eq!(one_of.len(), FAMILIES.len());
    assert_eq!(
        schemas["Distribution"]["discriminator"]["propertyName"],
        "family"
    );
    for family in FAMILIES {
        let branch = &schemas[format!("Distribution_{}", family.name)];
        assert_eq!(branch["properties"]["family"]["enum"][0], family.name);
        for p in family.params {
            assert!(
                branch["properties"][p.name].is_object(),
                "{} lacks {}",
                family.name,
                p.name
            );
        }
    }
}

#[tokio::test]
async fn swagger_ui_is_served_without_the_network() {
    let app = spawn_app().await;
    let response = app.get("/docs").await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = response.text().await.unwrap();
    assert!(html.to_lowercase().contains("swagger"), "{html}");
}

//! Regressions found by fuzzing the service against its OpenAPI document
//! (`.ci/schemathesis.sh`): what the service sends must be what the document
//! allows.

use serde_json::{Value, json};

use crate::helpers::spawn_app;

fn document() -> Value {
    serde_json::from_str(&gradest::http::openapi_json()).unwrap()
}

/// Whether a property's schema (or its array items' schema) admits `null`.
fn admits_null(schema: &Value) -> bool {
    match &schema["type"] {
        Value::Array(types) => types.iter().any(|t| t == "null"),
        _ => schema["oneOf"]
            .as_array()
            .is_some_and(|branches| branches.iter().any(|b| b["type"] == "null")),
    }
}

/// A figure that overflows is written as `null` (JSON has no ∞), so the
/// document must allow `null` there.
#[tokio::test]
async fn figures_that_overflow_are_null_and_the_document_allows_it() {
    let app = spawn_app().await;
    // x has a standard deviation of 1e200: its variance, 1e400, is not an f64.
    let result = app
        .post_ok(
            "/v1/estimate",
            &json!({
                "distribution": { "family": "normal", "loc": [0.0], "scale": [1e200] },
                "objective": "x[0]",
                "estimator": { "kind": "reparameterization" },
                "samples": 100,
                "seed": 1
            }),
        )
        .await;
    assert!(result["objective"]["variance"].is_null(), "{result}");
    assert!(
        result["diagnostics"]["sample_variance"][0].is_null(),
        "{result}"
    );
    assert!(result["gradient"]["loc"][0].is_number(), "{result}");

    let doc = document();
    let schemas = &doc["components"]["schemas"];
    for field in ["mean", "variance", "std_error"] {
        let schema = &schemas["ObjectiveSummary"]["properties"][field];
        assert!(admits_null(schema), "ObjectiveSummary.{field}: {schema}");
    }
    for field in ["sample_mean", "sample_variance"] {
        let items = &schemas["DiagnosticsOut"]["properties"][field]["items"];
        assert!(admits_null(items), "DiagnosticsOut.{field}[]: {items}");
    }
    let objective = &schemas["ReferenceOut"]["properties"]["objective"];
    assert!(
        admits_null(objective),
        "ReferenceOut.objective: {objective}"
    );
    let wnv = &schemas["CompareRow"]["properties"]["work_normalized_variance"];
    assert!(
        admits_null(wnv),
        "CompareRow.work_normalized_variance: {wnv}"
    );
    // Still required: null says "not finite", absence would say nothing.
    let required = schemas["ObjectiveSummary"]["required"].as_array().unwrap();
    assert_eq!(required.len(), 3, "{required:?}");
}

/// A row whose variance overflows has no work-normalized variance (`null`)
/// and ranks after the rows that have one.
#[tokio::test]
async fn a_compare_row_whose_variance_overflows_is_null_and_ranks_last() {
    let app = spawn_app().await;
    let body = app
        .post_ok(
            "/v1/compare",
            &json!({
                "distribution": { "family": "categorical", "logits": [0.0, 0.5] },
                "objective": "x[0] * 1e300",
                "samples": 100,
                "seed": 1,
                "estimators": [{ "kind": "score_function" }, { "kind": "exact" }]
            }),
        )
        .await;
    let rows = body["rows"].as_array().unwrap();
    assert_eq!(rows[0]["estimator"], "score_function");
    assert!(rows[0]["work_normalized_variance"].is_null(), "{body}");
    assert_eq!(rows[0]["rank"], 2, "{body}");
    assert_eq!(rows[1]["rank"], 1, "{body}");
}

/// The document says what the service enforces: an estimator (and a
/// `{"constant": b}` baseline) with a field it does not know is refused, so
/// their objects are closed.
#[tokio::test]
async fn estimator_objects_are_closed_as_the_service_enforces() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    for name in ["EstimatorSpec", "BaselineSpec"] {
        let branches = schemas[name]["oneOf"].as_array().unwrap();
        let objects: Vec<&Value> = branches.iter().filter(|b| b["type"] == "object").collect();
        assert!(!objects.is_empty(), "{name}");
        for object in objects {
            assert_eq!(object["additionalProperties"], false, "{name}: {object}");
        }
    }

    let app = spawn_app().await;
    for estimator in [
        json!({ "kind": "reparameterization", "extra": 1 }),
        json!({ "kind": "score_function", "baseline": { "constant": 1.0, "extra": 1 } }),
    ] {
        let mut job = crate::helpers::normal_job();
        job["estimator"] = estimator.clone();
        let response = app.post("/v1/estimate", &job).await;
        assert_eq!(response.status(), 422, "{estimator}");
    }
}

/// A job id that is not UTF-8 once percent-decoded names no job: 404, a
/// status the document lists, not an undocumented 400.
#[tokio::test]
async fn a_job_id_that_is_not_text_is_not_found() {
    let app = spawn_app().await;
    for response in [
        app.get("/v1/jobs/%FF").await,
        app.delete("/v1/jobs/%C0%AF").await,
    ] {
        assert_eq!(response.status(), 404);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(content_type, "application/problem+json");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(
            problem["type"], "urn:gradest:problem:not-found",
            "{problem}"
        );
    }
}

/// A body that is JSON but has a value of the wrong form where serde reads an
/// externally tagged enum (a baseline object with no key, or two) is a 422
/// naming the field, not a 400 saying the body is not JSON.
#[tokio::test]
async fn valid_json_of_the_wrong_form_is_a_field_error() {
    let app = spawn_app().await;
    for baseline in [json!({}), json!({ "constant": 1.0, "extra": 1 })] {
        let mut job = crate::helpers::normal_job();
        job["estimator"] = json!({ "kind": "score_function", "baseline": baseline });
        let response = app.post("/v1/estimate", &job).await;
        assert_eq!(response.status(), 422, "{baseline}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["type"], "urn:gradest:problem:invalid-field");
        assert_eq!(problem["pointer"], "/estimator/baseline", "{problem}");
    }
    // Text that is not JSON is still a 400.
    let response = app
        .send_raw(
            reqwest::Method::POST,
            "/v1/estimate",
            br#"{"estimator": {"baseline": {"constant": 1,}}}"#.to_vec(),
            Some("application/json"),
        )
        .await;
    assert_eq!(response.status(), 400);
}

//! `GET /v1/catalog`: generated from the core's registry.

use gradest::estimation::distributions::FAMILIES;
use gradest::estimation::objective::FUNCTION_TABLE;
use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_catalog_lists_every_family_estimator_and_function() {
    let app = spawn_app().await;
    let response = app.get("/v1/catalog").await;
    assert_eq!(response.status(), 200);
    let c: Value = response.json().await.unwrap();
    let families = c["families"].as_array().expect("families");
    assert_eq!(families.len(), FAMILIES.len(), "{c}");
    for (family, info) in families.iter().zip(FAMILIES) {
        assert_eq!(family["name"], info.name);
        let estimators: Vec<&str> = info.estimators.iter().map(|k| k.name()).collect();
        assert_eq!(
            family["estimators"],
            serde_json::json!(estimators),
            "{family}"
        );
        let params = family["params"].as_array().unwrap();
        assert_eq!(params.len(), info.params.len(), "{family}");
        for (p, spec) in params.iter().zip(info.params) {
            assert_eq!(p["name"], spec.name);
            assert!(p["shape"] == "vector" || p["shape"] == "matrix", "{p}");
            assert!(
                p["constraint"]["name"].is_string() && p["constraint"]["description"].is_string(),
                "{p}"
            );
            assert_eq!(p["differentiable"], spec.differentiable);
            assert_eq!(p["required"], spec.required);
        }
    }
    let functions: Vec<&str> = c["objective"]["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = FUNCTION_TABLE.iter().map(|f| f.name).collect();
    assert_eq!(functions, expected);
    assert!(!c["objective"]["operators"].as_array().unwrap().is_empty());
    assert_eq!(c["objective"]["limits"]["max_depth"], 64);
    assert_eq!(c["limits"]["max_samples"], 1_000_000_000u64);
    assert_eq!(c["estimators"].as_array().unwrap().len(), 8);
}

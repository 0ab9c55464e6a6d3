//! `POST /v1/compare`.

use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn compare_all_runs_every_applicable_estimator_and_ranks_them() {
    let app = spawn_app().await;
    let body = json!({
        "distribution": { "family": "normal", "loc": [0.5, -1.0], "scale": [1.0, 2.0] },
        "objective": "sum((x - 3)^2)",
        "samples": 20_000,
        "seed": 3,
        "estimators": "all"
    });
    let r = app.post_ok("/v1/compare", &body).await;
    assert_eq!(r["seed"], 3);
    assert_eq!(r["samples"], 20_000);
    let rows = r["rows"].as_array().expect("rows");
    // score_function with none, mean and optimal baselines and with the delta
    // control variate, reparameterization without and with it, and
    // measure_valued coupled and uncoupled.
    assert_eq!(rows.len(), 8, "{r}");
    let specs: Vec<&Value> = rows.iter().map(|row| &row["spec"]).collect();
    assert_eq!(
        specs[6],
        &json!({ "kind": "measure_valued", "coupling": true })
    );
    assert_eq!(
        specs[7],
        &json!({ "kind": "measure_valued", "coupling": false })
    );
    let mut ranks: Vec<u64> = rows
        .iter()
        .map(|row| row["rank"].as_u64().unwrap())
        .collect();
    ranks.sort_unstable();
    assert_eq!(ranks, [1, 2, 3, 4, 5, 6, 7, 8]);
    for row in rows {
        for key in [
            "estimator",
            "spec",
            "unbiased",
            "gradient",
            "variance",
            "std_error",
            "elapsed_ms",
            "work_normalized_variance",
            "rank",
        ] {
            assert!(row.get(key).is_some(), "missing {key} in {row}");
        }
        assert!(row.get("bias").is_none(), "no reference, so no bias: {row}");
        assert_eq!(row["bias_within_noise"], true);
        assert_eq!(row["spec"]["kind"], row["estimator"]);
    }
    // On a quadratic f the delta control variate is exact (variance 0 up to
    // rounding, ~1e-15 against ≥ 4 for every other row), so its two rows rank
    // first whatever the timings (work-normalised variance multiplies by time).
    for rank in [1, 2] {
        let row = rows.iter().find(|row| row["rank"] == rank).unwrap();
        assert_eq!(row["spec"]["control_variate"], "delta", "{r}");
    }
    assert!(r.get("reference").is_none());
}

#[tokio::test]
async fn compare_a_list_keeps_its_order_and_shares_the_seed() {
    let app = spawn_app().await;
    let body = json!({
        "distribution": { "family": "multivariate_normal", "loc": [0.0, 0.0], "scale_tril": [[1.0, 0.0], [0.3, 1.0]] },
        "objective": "norm(x)",
        "samples": 5_000,
        "estimators": [
            { "kind": "score_function", "baseline": { "constant": 1.0 } },
            { "kind": "reparameterization" }
        ]
    });
    let r = app.post_ok("/v1/compare", &body).await;
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(
        rows[0]["spec"],
        json!({ "kind": "score_function", "baseline": { "constant": 1.0 } })
    );
    assert_eq!(rows[1]["estimator"], "reparameterization");
    assert!(
        r["seed"].as_u64().is_some(),
        "a drawn seed is returned: {r}"
    );
    // Same seed → the same estimate as /v1/estimate gives.
    let single = app
        .post_ok(
            "/v1/estimate",
            &json!({
                "distribution": body["distribution"],
                "objective": "norm(x)",
                "estimator": { "kind": "reparameterization" },
                "samples": 5_000,
                "seed": r["seed"]
            }),
        )
        .await;
    assert_eq!(single["gradient"], rows[1]["gradient"]);
    let _: &Value = &r;
}

#[tokio::test]
async fn compare_on_a_discrete_family_reports_bias_against_the_reference() {
    let app = spawn_app().await;
    let body = json!({
        "distribution": { "family": "categorical", "logits": [0.0, 0.5, -0.5] },
        "objective": "dot(x, [1, 2, 5])",
        "samples": 20_000,
        "seed": 5,
        "estimators": "all"
    });
    let r = app.post_ok("/v1/compare", &body).await;
    assert_eq!(r["reference"]["method"], "enumeration", "{r}");
    let rows = r["rows"].as_array().unwrap();
    let kinds: Vec<&str> = rows
        .iter()
        .map(|row| row["estimator"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "score_function",
            "score_function",
            "score_function",
            "gumbel_softmax",
            "reinmax",
            "gumbel_rao",
            "exact"
        ],
        "{r}"
    );
    for row in rows {
        assert!(
            row["bias"]["logits"].is_array(),
            "every row has a bias: {row}"
        );
    }
    let gumbel = &rows[3];
    assert_eq!(
        gumbel["spec"],
        json!({ "kind": "gumbel_softmax", "temperature": 0.5, "hard": false })
    );
    assert_eq!(gumbel["unbiased"], false);
    assert_eq!(
        rows[4]["spec"],
        json!({ "kind": "reinmax", "temperature": 1.0 })
    );
    assert_eq!(
        rows[5]["spec"],
        json!({ "kind": "gumbel_rao", "temperature": 0.5, "draws": 10 })
    );
    // Exact enumeration has no noise and no bias: it ranks first.
    let exact = &rows[6];
    assert_eq!(exact["bias"]["logits"], json!([0.0, 0.0, 0.0]), "{exact}");
    assert_eq!(exact["rank"], 1, "{r}");
    // Every score-function row is unbiased, so within noise.
    for row in &rows[..3] {
        assert_eq!(row["bias_within_noise"], true, "{row}");
    }
}

//! One job across many machines: ranges of its chunks run apart (`chunks`)
//! and merged by `POST /v1/merge` give the job's own result bit for bit;
//! partials that do not belong together are refused, naming the partial.

use serde_json::{Value, json};

use crate::helpers::*;

fn job() -> Value {
    json!({
        "distribution": {"family": "normal", "loc": [0.5, -1.0], "scale": [1.0, 2.0]},
        "objective": "sum(cos(0.8 * x)) + x[0] * x[1]",
        "estimator": {"kind": "score_function", "baseline": "optimal"},
        "samples": 200000,
        "seed": 7
    })
}

fn with_chunks(job: &Value, start: u64, count: u64) -> Value {
    let mut j = job.clone();
    j["chunks"] = json!({"start": start, "count": count});
    j
}

/// Everything of a result but its timing, which no two runs share.
fn figures(result: &Value) -> Value {
    let mut r = result.clone();
    let d = r["diagnostics"].as_object_mut().unwrap();
    d.remove("elapsed_ms");
    d.remove("samples_per_second");
    r
}

/// The partials of `job` in four uneven ranges, run in reverse order.
async fn fan_out(app: &TestApp, job: &Value) -> (u64, Vec<Value>) {
    let first = app.post_ok("/v1/estimate", &with_chunks(job, 0, 1)).await;
    assert_eq!(first["kind"], "partial", "{first}");
    let total = first["chunks"]["total"].as_u64().unwrap();
    let cuts = [0, 1, total / 3, total - 2, total];
    let mut parts = Vec::new();
    for w in cuts.windows(2).rev() {
        parts.push(
            app.post_ok("/v1/estimate", &with_chunks(job, w[0], w[1] - w[0]))
                .await,
        );
    }
    (total, parts)
}

#[tokio::test]
async fn partials_merge_into_the_jobs_own_result_bit_for_bit() {
    let (a, b) = (spawn_app().await, spawn_app().await);
    let whole = a.post_ok("/v1/estimate", &job()).await;
    let (total, mut parts) = fan_out(&a, &job()).await;
    assert_eq!(total, whole["diagnostics"]["chunks"].as_u64().unwrap());
    // Half the partials from another service: any machine computes the same chunks.
    let (_, others) = fan_out(&b, &job()).await;
    parts[1] = others[1].clone();
    parts[3] = others[3].clone();
    let samples: u64 = parts.iter().map(|p| p["samples"].as_u64().unwrap()).sum();
    assert_eq!(samples, 200_000);
    let merged = b.post_ok("/v1/merge", &json!({"partials": parts})).await;
    assert_eq!(figures(&merged), figures(&whole));
}

async fn refused(app: &TestApp, body: &Value, path: &str) -> Value {
    let response = app.post(path, body).await;
    assert_eq!(response.status(), 422, "{body}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn partials_that_do_not_belong_together_are_refused() {
    let app = spawn_app().await;
    let (total, parts) = fan_out(&app, &job()).await;
    let merge = |parts: Vec<Value>| json!({"partials": parts});
    // Missing: the last range left out.
    let p = refused(&app, &merge(parts[1..].to_vec()), "/v1/merge").await;
    assert_eq!(p["pointer"], "/partials", "{p}");
    assert!(p["detail"].as_str().unwrap().contains("missing"), "{p}");
    // Overlapping: a range twice.
    let mut twice = parts.clone();
    twice.push(parts[2].clone());
    let p = refused(&app, &merge(twice), "/v1/merge").await;
    assert!(p["detail"].as_str().unwrap().contains("overlaps"), "{p}");
    // Another job: other samples, same ranges.
    let mut other = job();
    other["seed"] = json!(8);
    let (_, foreign) = fan_out(&app, &other).await;
    let mut mixed = parts.clone();
    mixed[2] = foreign[2].clone();
    let p = refused(&app, &merge(mixed), "/v1/merge").await;
    assert_eq!(p["pointer"], "/partials/2/job", "{p}");
    assert!(p["detail"].as_str().unwrap().contains("'seed'"), "{p}");
    // Tampered summaries; another version; none at all.
    let mut tampered = parts.clone();
    tampered[0]["summaries"] = json!("AAAA");
    let p = refused(&app, &merge(tampered), "/v1/merge").await;
    assert_eq!(p["pointer"], "/partials/0/summaries", "{p}");
    let mut old = parts.clone();
    old[1]["version"] = json!("0.0.1");
    assert_eq!(
        refused(&app, &merge(old), "/v1/merge").await["pointer"],
        "/partials/1/version"
    );
    assert_eq!(
        refused(&app, &merge(vec![]), "/v1/merge").await["pointer"],
        "/partials"
    );
    // The control: the same partials, all of them, merge.
    assert_eq!(app.post("/v1/merge", &merge(parts)).await.status(), 200);
    // Ranges asked for that the job does not have; no seed; the exact estimator.
    let p = refused(&app, &with_chunks(&job(), total - 1, 2), "/v1/estimate").await;
    assert_eq!(p["pointer"], "/chunks", "{p}");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("0..{total}")),
        "{p}"
    );
    let mut unseeded = with_chunks(&job(), 0, 1);
    unseeded.as_object_mut().unwrap().remove("seed");
    assert_eq!(
        refused(&app, &unseeded, "/v1/estimate").await["pointer"],
        "/seed"
    );
    let exact = json!({
        "distribution": {"family": "bernoulli", "probs": [0.3]}, "objective": "x[0]",
        "estimator": {"kind": "exact"}, "samples": 100, "seed": 1, "chunks": {"start": 0, "count": 1}
    });
    assert_eq!(
        refused(&app, &exact, "/v1/estimate").await["pointer"],
        "/chunks"
    );
    let p = refused(&app, &with_chunks(&job(), 0, 0), "/v1/estimate").await;
    assert_eq!(p["pointer"], "/chunks/count", "{p}");
}

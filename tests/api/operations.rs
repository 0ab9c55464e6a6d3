//! Health, metrics, request ids, time budgets, disconnects, shutdown.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{endless_job, normal_job, spawn_app, spawn_app_with};

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let live = app.get("/healthz").await;
    assert_eq!(live.status(), 200);
    assert_eq!(live.json::<Value>().await.unwrap()["status"], "ok");
    assert_eq!(app.get("/readyz").await.status(), 200);
}

#[tokio::test]
async fn metrics_count_requests_latency_jobs_and_samples() {
    let app = spawn_app().await;
    app.get("/healthz").await;
    app.post_ok("/v1/estimate", &normal_job()).await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    for needle in [
        "gradest_http_requests_total{",
        "route=\"/healthz\"",
        "route=\"/v1/estimate\"",
        "status=\"200\"",
        "gradest_http_request_duration_seconds_bucket{",
        "gradest_samples_drawn_total",
        "gradest_jobs{state=\"running\"}",
    ] {
        assert!(text.contains(needle), "/metrics lacks {needle}:\n{text}");
    }
}

#[tokio::test]
async fn request_ids_are_made_or_propagated() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    let made = response.headers()["x-request-id"].to_str().unwrap();
    assert!(!made.is_empty());
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "abc-123");
}

/// A request that cannot finish within its budget is refused once its first
/// chunks show its pace (5% of the budget, at least 50 ms): a 422 naming
/// `samples`, saying how many would fit and pointing at `/v1/jobs` — not a 503
/// after the whole budget, which clients would retry. The same budget runs an
/// ordinary request (negative control).
#[tokio::test]
async fn a_request_too_large_for_its_budget_is_refused_up_front_naming_samples() {
    let app = spawn_app_with(|c| c.limits.time_budget_secs = 2.0).await;
    let started = Instant::now();
    let response = app.post("/v1/estimate", &endless_job()).await;
    assert_eq!(response.status(), 422);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["pointer"], "/samples", "{problem}");
    let detail = problem["detail"].as_str().unwrap();
    for needle in ["1000000000 samples", "send at most", "POST /v1/jobs"] {
        assert!(detail.contains(needle), "{needle:?} not in {detail}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert!(app.healthy().await);
    app.post_ok("/v1/estimate", &normal_job()).await;
}

/// A job refused for its pace fails with advice for jobs (not "use a job").
#[tokio::test]
async fn a_job_too_large_for_its_budget_fails_with_advice_for_jobs() {
    let app = spawn_app_with(|c| c.limits.job_time_budget_secs = 2.0).await;
    let response = app.post("/v1/jobs", &endless_job()).await;
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    let job = loop {
        let job: Value = app.get(&location).await.json().await.unwrap();
        if job["status"] != "queued" && job["status"] != "running" {
            break job;
        }
        assert!(Instant::now() < deadline, "the job still runs: {job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(job["status"], "failed", "{job}");
    let detail = job["error"]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("GRADEST_JOB_TIME_BUDGET_SECS"), "{job}");
    assert!(!detail.contains("POST /v1/jobs"), "{job}");
}

#[tokio::test]
async fn a_client_that_disconnects_frees_its_slot() {
    // One slot: if the abandoned run kept it, the next request could not run.
    let app = spawn_app_with(|c| c.limits.concurrency = 1).await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let abandoned = impatient
        .post(app.url("/v1/estimate"))
        .json(&endless_job())
        .send()
        .await;
    assert!(abandoned.is_err(), "the client gave up");
    let started = Instant::now();
    app.post_ok("/v1/estimate", &normal_job()).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the slot was freed late: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn shutdown_lets_running_requests_finish() {
    // The request runs until its pilot (5% of a 30 s budget: 1.5 s) refuses it
    // with a 422 answer; shutdown starts 0.5 s in, so the request is surely in
    // flight (not yet connected, it would be refused; already answered, the
    // test would prove nothing), and must still get its answer.
    let mut app = spawn_app_with(|c| c.limits.time_budget_secs = 30.0).await;
    let (client, url) = (app.client.clone(), app.url("/v1/estimate"));
    let request = tokio::spawn(async move { client.post(url).json(&endless_job()).send().await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.shutdown.take().unwrap().send(()).unwrap();
    let response = request
        .await
        .unwrap()
        .expect("the running request got its answer");
    assert_eq!(response.status(), 422);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["pointer"], "/samples", "{problem}");
    let served = tokio::time::timeout(Duration::from_secs(30), app.server).await;
    assert!(
        matches!(served, Ok(Ok(Ok(())))),
        "the server stopped cleanly"
    );
}

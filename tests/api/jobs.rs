//! `/v1/jobs`: submit, poll, cancel, remove.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{TestApp, endless_job, normal_job, spawn_app, spawn_app_with};

async fn submit(app: &TestApp, body: &Value) -> (String, Value) {
    let response = app.post("/v1/jobs", body).await;
    assert_eq!(response.status(), 202, "submitting {body}");
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let job: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/v1/jobs/{}", job["id"].as_str().unwrap())
    );
    (location, job)
}

async fn poll_until(app: &TestApp, location: &str, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let job: Value = app.get(location).await.json().await.unwrap();
        if done(&job) {
            return job;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "job never got there: {job}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_job_runs_to_success() {
    let app = spawn_app().await;
    let (location, job) = submit(&app, &normal_job()).await;
    let id = job["id"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 4);
    assert!(
        ["queued", "running", "succeeded"].contains(&job["status"].as_str().unwrap()),
        "{job}"
    );
    let done = poll_until(&app, &location, |j| {
        j["status"] != "queued" && j["status"] != "running"
    })
    .await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        done["progress"],
        json!({ "samples_done": 2000, "samples_total": 2000, "fraction": 1.0 })
    );
    // The same result as waiting for it.
    let direct = app.post_ok("/v1/estimate", &normal_job()).await;
    assert_eq!(done["result"]["gradient"], direct["gradient"]);
    // A finished job is removed by DELETE.
    assert_eq!(app.delete(&location).await.status(), 204);
    assert_eq!(app.get(&location).await.status(), 404);
}

#[tokio::test]
async fn a_running_job_can_be_cancelled_then_removed() {
    let app = spawn_app().await;
    let (location, _) = submit(&app, &endless_job()).await;
    let running = poll_until(&app, &location, |j| {
        j["progress"]["samples_done"].as_u64() > Some(0)
    })
    .await;
    assert_eq!(running["status"], "running", "{running}");
    let fraction = running["progress"]["fraction"].as_f64().unwrap();
    assert!(fraction > 0.0 && fraction < 1.0, "{running}");
    let response = app.delete(&location).await;
    assert_eq!(response.status(), 200);
    let cancelled: Value = response.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(
        app.get(&location).await.json::<Value>().await.unwrap()["status"],
        "cancelled"
    );
    assert_eq!(app.delete(&location).await.status(), 204);
    assert_eq!(app.get(&location).await.status(), 404);
}

#[tokio::test]
async fn jobs_beyond_the_concurrency_bound_queue() {
    let app = spawn_app_with(|c| c.limits.job_concurrency = 1).await;
    let (first, _) = submit(&app, &endless_job()).await;
    poll_until(&app, &first, |j| j["status"] == "running").await;
    let (second, job) = submit(&app, &endless_job()).await;
    assert_eq!(job["status"], "queued");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        app.get(&second).await.json::<Value>().await.unwrap()["status"],
        "queued"
    );
    // Cancelling the queued job is immediate; cancelling the first frees the slot.
    let cancelled: Value = app.delete(&second).await.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["progress"]["samples_done"], 0);
    app.delete(&first).await;
    let (third, _) = submit(&app, &normal_job()).await;
    let done = poll_until(&app, &third, |j| {
        j["status"] == "succeeded" || j["status"] == "failed"
    })
    .await;
    assert_eq!(done["status"], "succeeded", "{done}");
}

#[tokio::test]
async fn too_many_unfinished_jobs_are_answered_429_with_retry_after() {
    let app = spawn_app_with(|c| c.limits.max_jobs = 1).await;
    let (first, _) = submit(&app, &endless_job()).await;
    let response = app.post("/v1/jobs", &normal_job()).await;
    assert_eq!(response.status(), 429);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1, "a Retry-After in seconds");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(
        problem["type"], "urn:gradest:problem:too-many-jobs",
        "{problem}"
    );
    // Cancelled, the first is finished: it no longer counts against the bound.
    app.delete(&first).await;
    let (second, _) = submit(&app, &normal_job()).await;
    assert_eq!(
        app.get(&first).await.status(),
        200,
        "a finished job is kept"
    );
    assert_eq!(app.get(&second).await.status(), 200);
}

#[tokio::test]
async fn a_failing_job_reports_its_problem() {
    let app = spawn_app().await;
    let mut body = normal_job();
    body["objective"] = json!("log(x[0] - 100)");
    let (location, _) = submit(&app, &body).await;
    let done = poll_until(&app, &location, |j| {
        j["status"] == "failed" || j["status"] == "succeeded"
    })
    .await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["error"]["status"], 422, "{done}");
    assert_eq!(done["error"]["pointer"], "/objective", "{done}");
}

#[tokio::test]
async fn a_small_request_is_answered_while_a_large_job_runs() {
    // Ordering, not timing: a job of 1e9 samples runs for many seconds, a request
    // of 2,000 samples for about a millisecond; the small one must be answered
    // while the large one is still running (it does not queue behind its chunks).
    let app = spawn_app_with(|c| c.limits.concurrency = 2).await;
    let (location, _) = submit(&app, &endless_job()).await;
    poll_until(&app, &location, |j| {
        j["status"] == "running" && j["progress"]["samples_done"].as_u64().unwrap_or(0) > 0
    })
    .await;
    let small = app.post_ok("/v1/estimate", &normal_job()).await;
    assert!(small["gradient"]["loc"].is_array(), "{small}");
    let big: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(
        big["status"], "running",
        "the large job finished first: {big}"
    );
    app.delete(&location).await;
}

#[tokio::test]
async fn jobs_are_listed_newest_first_a_page_at_a_time_and_by_status() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for seed in 0..5 {
        let mut body = normal_job();
        body["seed"] = json!(seed);
        let (location, _) = submit(&app, &body).await;
        poll_until(&app, &location, |j| j["status"] == "succeeded").await;
        ids.push(location.trim_start_matches("/v1/jobs/").to_string());
        // Distinct creation times, so "newest first" has one answer.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let (running, _) = submit(&app, &endless_job()).await;
    poll_until(&app, &running, |j| j["status"] == "running").await;
    let page = |query: String| {
        let app = &app;
        async move {
            app.get(&format!("/v1/jobs?{query}"))
                .await
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let first = page("status=succeeded&limit=2".into()).await;
    let listed: Vec<&str> = first["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [ids[4].as_str(), ids[3].as_str()], "{first}");
    assert!(
        first["jobs"][0].get("result").is_none(),
        "a listing carries no results"
    );
    let next = first["next"].as_str().expect("another page");
    let rest = page(format!("status=succeeded&limit=10&after={next}")).await;
    let listed: Vec<&str> = rest["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        [ids[2].as_str(), ids[1].as_str(), ids[0].as_str()],
        "{rest}"
    );
    assert!(rest.get("next").is_none(), "the last page: {rest}");
    let all = page(String::new()).await;
    assert_eq!(all["jobs"].as_array().unwrap().len(), 6);
    assert_eq!(
        all["jobs"][0]["status"], "running",
        "the newest first: {all}"
    );
    assert_eq!(
        page("status=running".into()).await["jobs"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    app.delete(&running).await;
}

#[tokio::test]
async fn a_long_job_keeps_progressing_while_many_short_ones_come_and_go() {
    let app = spawn_app_with(|c| {
        c.limits.concurrency = 1;
        c.limits.job_concurrency = 2;
    })
    .await;
    let (long, _) = submit(&app, &endless_job()).await;
    poll_until(&app, &long, |j| {
        j["progress"]["samples_done"].as_u64() > Some(0)
    })
    .await;
    let done_at = |j: &Value| j["progress"]["samples_done"].as_u64().unwrap();
    let mut last = done_at(&app.get(&long).await.json().await.unwrap());
    let mut advanced = 0;
    for round in 0..5 {
        let mut shorts = Vec::new();
        for k in 0..10 {
            let mut body = normal_job();
            body["samples"] = json!(200_000);
            body["seed"] = json!(100 * round + k);
            shorts.push(submit(&app, &body).await.0);
        }
        for s in &shorts {
            poll_until(&app, s, |j| j["status"] == "succeeded").await;
        }
        let now = done_at(&app.get(&long).await.json().await.unwrap());
        advanced += usize::from(now > last);
        last = now;
    }
    // Each round of ten short jobs ran beside it: the long job took its turns
    // (its chunks alternate with theirs) in every round.
    assert_eq!(advanced, 5, "the long job progressed in every round");
    app.delete(&long).await;
}

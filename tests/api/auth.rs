//! Bearer-token authentication (`GRADEST_API_TOKENS`): the /v1 routes need a
//! known token, everything else stays open, and bad configurations are refused
//! at start-up without echoing a token.

use std::path::PathBuf;
use std::process::Command;

use clap::Parser;
use gradest::config::Cli;
use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::{TestApp, normal_job, spawn_app_with, spawn_app_with_tokens};

const TOKEN: &str = "c2VjcmV0LXRva2VuLW9uZQ-1";
const OTHER: &str = "c2VjcmV0LXRva2VuLXR3bw-2";

/// Sends `method path` with this Authorization header (none if `None`).
async fn send(app: &TestApp, method: Method, path: &str, auth: Option<&str>) -> Response {
    let mut request = app.client.request(method.clone(), app.url(path));
    if method == Method::POST {
        request = request.json(&estimate_job());
    }
    if let Some(value) = auth {
        request = request.header("authorization", value);
    }
    request.send().await.expect("a response")
}

fn estimate_job() -> Value {
    let mut job = normal_job();
    job["samples"] = json!(1000);
    job
}

/// Asserts a 401 problem with the challenge, and returns its detail.
async fn assert_unauthenticated(response: Response, challenge: &str) -> String {
    assert_eq!(response.status(), 401);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(headers["www-authenticate"], challenge);
    let problem: Value = response.json().await.expect("a problem");
    assert_eq!(problem["type"], "urn:gradest:problem:unauthenticated");
    assert_eq!(problem["status"], 401);
    let detail = problem["detail"].as_str().expect("a detail").to_string();
    assert!(
        detail.starts_with("this service requires `Authorization: Bearer <token>`; "),
        "{detail}"
    );
    detail
}

/// Every /v1 operation of the OpenAPI document, as (method, a concrete path).
fn v1_operations() -> Vec<(Method, String)> {
    let doc: Value = serde_json::from_str(&gradest::http::openapi_json()).unwrap();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/v1/") {
            continue;
        }
        let concrete = path.replace("{id}", "00000000-0000-0000-0000-000000000000");
        for method in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            out.push((method, concrete.clone()));
        }
    }
    out
}

#[tokio::test]
async fn every_v1_operation_needs_a_token_and_documents_it() {
    let app = spawn_app_with_tokens(&[TOKEN]).await;
    let operations = v1_operations();
    assert!(operations.len() >= 6, "{operations:?}");
    for (method, path) in operations {
        let response = send(&app, method.clone(), &path, None).await;
        let detail = assert_unauthenticated(response, r#"Bearer realm="gradest""#).await;
        assert!(
            detail.ends_with("the request had no Authorization header"),
            "{method} {path}: {detail}"
        );
    }
    let doc: Value = serde_json::from_str(&gradest::http::openapi_json()).unwrap();
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let secured = operation["security"] == json!([{ "bearer": [] }]);
            let documents_401 = operation["responses"]["401"].is_object();
            let v1 = path.starts_with("/v1/");
            assert_eq!(secured, v1, "{method} {path}: security");
            assert_eq!(documents_401, v1, "{method} {path}: 401");
        }
    }
}

#[tokio::test]
async fn a_wrong_token_is_refused() {
    let app = spawn_app_with_tokens(&[TOKEN]).await;
    let challenge = r#"Bearer realm="gradest", error="invalid_token""#;
    for wrong in [OTHER, &TOKEN[1..], &format!("{TOKEN}x")] {
        let auth = format!("Bearer {wrong}");
        let response = send(&app, Method::POST, "/v1/estimate", Some(&auth)).await;
        let detail = assert_unauthenticated(response, challenge).await;
        assert!(
            detail.ends_with("the token is not one this service accepts"),
            "{detail}"
        );
        assert!(
            !detail.contains(wrong),
            "the detail echoes the token: {detail}"
        );
    }
}

#[tokio::test]
async fn a_malformed_header_is_refused_and_named() {
    let app = spawn_app_with_tokens(&[TOKEN]).await;
    let challenge = r#"Bearer realm="gradest", error="invalid_request""#;
    for (auth, says) in [
        ("Basic dXNlcjpwYXNzd29yZA==", "is not of the Bearer scheme"),
        (TOKEN, "is not of the Bearer scheme"),
        ("Bearer", "has no token after `Bearer`"),
        ("Bearer   ", "has no token after `Bearer`"),
    ] {
        let response = send(&app, Method::GET, "/v1/catalog", Some(auth)).await;
        let detail = assert_unauthenticated(response, challenge).await;
        assert!(detail.contains("Authorization header"), "{auth}: {detail}");
        assert!(detail.ends_with(says), "{auth}: {detail}");
    }
}

#[tokio::test]
async fn a_right_token_is_served() {
    let app = spawn_app_with_tokens(&[OTHER, TOKEN]).await;
    for token in [TOKEN, OTHER] {
        let auth = format!("Bearer {token}");
        let response = send(&app, Method::POST, "/v1/estimate", Some(&auth)).await;
        assert_eq!(response.status(), 200);
        let result: Value = response.json().await.unwrap();
        assert_eq!(result["diagnostics"]["samples"], 1000, "{result}");
    }
    // The scheme is case-insensitive.
    let response = send(
        &app,
        Method::GET,
        "/v1/catalog",
        Some(&format!("bearer {TOKEN}")),
    )
    .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn health_metrics_and_the_document_stay_open() {
    let app = spawn_app_with_tokens(&[TOKEN]).await;
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"] {
        assert_eq!(app.get(path).await.status(), 200, "{path}");
    }
    // Negative control: the same client without a token is refused on /v1.
    assert_eq!(app.get("/v1/catalog").await.status(), 401);
}

#[tokio::test]
async fn without_tokens_nothing_is_required() {
    let app = spawn_app_with(|_| {}).await;
    let response = send(&app, Method::POST, "/v1/estimate", None).await;
    assert_eq!(response.status(), 200);
    let response = send(&app, Method::GET, "/v1/catalog", Some("Basic abc")).await;
    assert_eq!(response.status(), 200);
}

/// A fresh file under the temporary directory with this text.
fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gradest-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn tokens_come_from_a_file() {
    let text = format!("# the service's tokens\n\n  {TOKEN}  \n# {OTHER} is retired\n");
    let path = temp_file("tokens", &text);
    let arg = format!("@{}", path.display());
    let config = Cli::try_parse_from(["gradest", "--api-tokens", &arg])
        .expect("a valid token file")
        .config;
    let debug = format!("{config:?}");
    assert!(!debug.contains(TOKEN), "Debug shows a token: {debug}");
    let app = spawn_app_with(|c| *c = config).await;
    let ok = send(
        &app,
        Method::GET,
        "/v1/catalog",
        Some(&format!("Bearer {TOKEN}")),
    )
    .await;
    assert_eq!(ok.status(), 200);
    // A commented-out token is not accepted.
    let retired = send(
        &app,
        Method::GET,
        "/v1/catalog",
        Some(&format!("Bearer {OTHER}")),
    )
    .await;
    assert_eq!(retired.status(), 401);
}

/// The start-up error of these flags.
fn refusal(args: &[&str]) -> String {
    let argv = std::iter::once("gradest").chain(args.iter().copied());
    Cli::try_parse_from(argv)
        .map(|_| ())
        .expect_err("the configuration is refused")
        .to_string()
}

#[test]
fn bad_token_configurations_are_refused_without_echoing_a_token() {
    let e = refusal(&["--api-tokens", &format!("{TOKEN},tooshort")]);
    assert!(
        e.contains("token 2 of the list is 8 characters long"),
        "{e}"
    );
    assert!(e.contains("at least 16"), "{e}");
    assert!(!e.contains("tooshort") && !e.contains(TOKEN), "{e}");
    let e = refusal(&["--api-tokens", "has whitespace inside it"]);
    assert!(e.contains("contains whitespace"), "{e}");
    let missing = std::env::temp_dir().join("gradest-no-such-dir/tokens");
    let e = refusal(&["--api-tokens", &format!("@{}", missing.display())]);
    assert!(e.contains("cannot read the token file"), "{e}");
    let path = temp_file("short", &format!("{TOKEN}\nshort-token\n"));
    let e = refusal(&["--api-tokens", &format!("@{}", path.display())]);
    assert!(e.contains("line 2"), "{e}");
    let path = temp_file("empty", "# nothing yet\n\n");
    let e = refusal(&["--api-tokens", &format!("@{}", path.display())]);
    assert!(e.contains("holds no token"), "{e}");
}

#[test]
fn the_binary_refuses_to_start_with_a_short_token() {
    let output = Command::new(env!("CARGO_BIN_EXE_gradest"))
        .env("GRADEST_API_TOKENS", "tiny-secret")
        .env("GRADEST_ADDR", "127.0.0.1:0")
        .output()
        .expect("run gradest");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("GRADEST_API_TOKENS"), "{stderr}");
    assert!(stderr.contains("at least 16"), "{stderr}");
    assert!(!stderr.contains("tiny-secret"), "{stderr}");
}

#[test]
fn help_does_not_show_the_tokens() {
    let output = Command::new(env!("CARGO_BIN_EXE_gradest"))
        .arg("--help")
        .env("GRADEST_API_TOKENS", TOKEN)
        .output()
        .expect("run gradest --help");
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("GRADEST_API_TOKENS"), "{help}");
    assert!(!help.contains(TOKEN), "{help}");
}

#[tokio::test]
async fn a_job_is_visible_only_to_the_token_that_submitted_it() {
    let app = spawn_app_with_tokens(&[TOKEN, OTHER]).await;
    let bearer = |t: &str| format!("Bearer {t}");
    let call = |method: Method, path: String, token: &str| {
        let request = app.client.request(method.clone(), app.url(&path));
        let request = if method == Method::POST {
            request.json(&estimate_job())
        } else {
            request
        };
        request.header("authorization", bearer(token)).send()
    };
    let created = call(Method::POST, "/v1/jobs".into(), TOKEN).await.unwrap();
    assert_eq!(created.status(), 202);
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let job = format!("/v1/jobs/{id}");
    assert_eq!(
        call(Method::GET, job.clone(), TOKEN)
            .await
            .unwrap()
            .status(),
        200
    );
    // Another token: the job does not exist for it, in the listing either.
    assert_eq!(
        call(Method::GET, job.clone(), OTHER)
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        call(Method::DELETE, job.clone(), OTHER)
            .await
            .unwrap()
            .status(),
        404
    );
    let listed = |token: &'static str| {
        let r = call(Method::GET, "/v1/jobs".into(), token);
        async move {
            r.await.unwrap().json::<Value>().await.unwrap()["jobs"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!(listed(OTHER).await, 0);
    assert_eq!(listed(TOKEN).await, 1);
    // The owner can still cancel or remove it.
    let status = call(Method::DELETE, job.clone(), TOKEN)
        .await
        .unwrap()
        .status();
    assert!([200, 204].contains(&status.as_u16()), "{status}");
}

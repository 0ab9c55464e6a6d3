//! `spawn_app()` and small request helpers.

use std::time::Duration;

use gradest::config::{ApiTokens, Config};
use reqwest::{Client, Method, Response};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A running service and a client for it.
pub struct TestApp {
    pub base: String,
    pub client: Client,
    /// Dropping or sending on it starts a graceful shutdown.
    pub shutdown: Option<oneshot::Sender<()>>,
    pub server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// The service with default limits (concurrency 2).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The service requiring one of these bearer tokens on the /v1 routes.
pub async fn spawn_app_with_tokens(tokens: &[&str]) -> TestApp {
    spawn_app_with(|config| config.api_tokens = ApiTokens::accepting(tokens)).await
}

/// The service with adjusted configuration.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = Config::default();
    config.limits.concurrency = 2;
    adjust(&mut config);
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind to port 0");
    let addr = listener.local_addr().expect("a local address");
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(gradest::http::serve(listener, config, async {
        let _ = rx.await;
    }));
    TestApp {
        base: format!("http://{addr}"),
        client: Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("a client"),
        shutdown: Some(tx),
        server,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.client
            .delete(self.url(path))
            .send()
            .await
            .expect("DELETE")
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST")
    }

    /// Sends raw bytes with an optional content type.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        content_type: Option<&str>,
    ) -> Response {
        let mut request = self.client.request(method, self.url(path)).body(body);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        request.send().await.expect("request")
    }

    /// POSTs and expects 200 with a JSON body.
    pub async fn post_ok(&self, path: &str, body: &Value) -> Value {
        let response = self.post(path, body).await;
        let status = response.status();
        let text = response.text().await.expect("a body");
        assert_eq!(status, 200, "POST {path} with {body} gave {status}: {text}");
        serde_json::from_str(&text).expect("a JSON body")
    }

    pub async fn healthy(&self) -> bool {
        self.get("/healthz").await.status() == 200
    }
}

/// A small valid job on a normal, to be changed by tests.
pub fn normal_job() -> Value {
    serde_json::json!({
        "distribution": { "family": "normal", "loc": [0.5, -1.0], "scale": [1.0, 2.0] },
        "objective": "sum((x - 3)^2)",
        "estimator": { "kind": "reparameterization" },
        "samples": 2000,
        "seed": 42
    })
}

/// A job that takes minutes unless stopped: 100 components, 10⁹ samples.
pub fn endless_job() -> Value {
    serde_json::json!({
        "distribution": { "family": "normal", "loc": vec![0.0; 100], "scale": vec![1.0; 100] },
        "objective": "sum(x^2)",
        "estimator": { "kind": "reparameterization" },
        "samples": 1_000_000_000u64,
        "seed": 1
    })
}

/// Flattens a parameter-keyed, parameter-shaped object (`{"loc": [..], "scale_tril": [[..]]}`)
/// into `(name, values)` pairs in key order.
pub fn flatten(v: &Value) -> Vec<(String, Vec<f64>)> {
    fn numbers(v: &Value, out: &mut Vec<f64>) {
        match v {
            Value::Array(items) => items.iter().for_each(|i| numbers(i, out)),
            Value::Number(n) => out.push(n.as_f64().expect("a number")),
            other => panic!("expected numbers, found {other}"),
        }
    }
    v.as_object()
        .expect("an object keyed by parameter")
        .iter()
        .map(|(k, v)| {
            let mut out = Vec::new();
            numbers(v, &mut out);
            (k.clone(), out)
        })
        .collect()
}

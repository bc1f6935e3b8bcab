//! Shared helpers for the simulator tests: start a paused in-process simulator, get tokens
//! the seeds' ways, move its clock, and make JSON requests over real HTTP.
//!
//! Every test drives the simulator's clock itself (`advance`), so nothing here sleeps to
//! wait for the simulator; the only waits are bounded polls for asynchronous webhook
//! deliveries, which travel over real sockets.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use relcon::sim::{self, SimConfig, SimHandle};

/// The API key of the demo world (every scope).
pub const API_KEY: &str = "demo-key";
pub const CLIENT_ID: &str = "demo-client";
pub const CLIENT_SECRET: &str = "demo-secret";

/// A paused demo-world configuration; tests change fields from here.
pub fn paused() -> SimConfig {
    SimConfig {
        port: 0,
        speed: 0.0,
        ..Default::default()
    }
}

/// A test scenario under `tests/scenarios/`.
pub fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("scenarios")
        .join(name)
}

/// A running in-process simulator and an HTTP client for it.
pub struct Sim {
    pub handle: SimHandle,
    pub url: String,
    pub http: reqwest::Client,
}

/// A response, read completely.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    /// The body as JSON (`Null` when it does not parse).
    pub json: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    /// Assert the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(
            self.status, status,
            "expected {status}, got {}: {}",
            self.status, self.text
        );
        &self.json
    }

    /// Assert an RFC 7807 problem with this status; returns the problem.
    #[track_caller]
    pub fn problem(&self, status: u16) -> &Value {
        self.expect(status);
        assert_eq!(
            self.content_type(),
            "application/problem+json",
            "problem content type for {}",
            self.text
        );
        assert_eq!(self.json["status"], json!(status), "{}", self.text);
        for key in ["type", "title", "detail"] {
            assert!(
                self.json[key].as_str().is_some_and(|s| !s.is_empty()),
                "problem lacks {key}: {}",
                self.text
            );
        }
        &self.json
    }

    /// The `field`s of a 422 problem's `errors`.
    pub fn error_fields(&self) -> Vec<String> {
        self.json["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["field"].as_str().map(str::to_string))
            .collect()
    }
}

pub async fn start() -> Sim {
    start_with(paused()).await
}

pub async fn start_with(config: SimConfig) -> Sim {
    let handle = sim::start(config).await.expect("simulator starts");
    let url = handle.url();
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("http client");
    Sim { handle, url, http }
}

impl Sim {
    pub fn u(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.u(path))
    }

    /// Send and read the whole response.
    pub async fn send(&self, rb: RequestBuilder) -> Resp {
        let r = rb.send().await.expect("request is answered");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.expect("response body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            text,
            json,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.send(self.req(Method::GET, path).bearer_auth(token))
            .await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.send(self.req(Method::POST, path).bearer_auth(token).json(body))
            .await
    }

    pub async fn put(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.send(self.req(Method::PUT, path).bearer_auth(token).json(body))
            .await
    }

    /// Seed 000's token request: Basic credentials, a raw form body with `+`-joined scopes.
    pub async fn token_basic(&self, scope: &str) -> String {
        let body = format!("grant_type=client_credentials&scope={scope}");
        let r = self
            .send(
                self.req(Method::POST, "/v1/auth/token")
                    .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body),
            )
            .await;
        token_of(&r)
    }

    /// Seeds 001-003's token request: form credentials on `/oauth/token`.
    pub async fn token_form(&self, scope: &str) -> String {
        let r = self
            .send(self.req(Method::POST, "/oauth/token").form(&[
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
                ("scope", scope),
            ]))
            .await;
        token_of(&r)
    }

    /// Jump the simulator clock forward; returns the new reading in simulator seconds.
    pub async fn advance(&self, secs: f64) -> f64 {
        let r = self
            .send(
                self.req(Method::POST, "/_sim/clock")
                    .json(&json!({ "advanceSeconds": secs })),
            )
            .await;
        r.expect(200)["simSeconds"].as_f64().expect("simSeconds")
    }

    /// The simulator clock's reading.
    pub async fn clock(&self) -> Value {
        self.send(self.req(Method::GET, "/_sim/clock"))
            .await
            .expect(200)
            .clone()
    }

    pub async fn world(&self) -> Value {
        self.send(self.req(Method::GET, "/_sim/world"))
            .await
            .expect(200)
            .clone()
    }

    pub async fn stats(&self) -> Value {
        self.send(self.req(Method::GET, "/_sim/stats"))
            .await
            .expect(200)
            .clone()
    }

    /// Replace the fault switches.
    pub async fn faults(&self, faults: Value) {
        self.send(self.req(Method::PUT, "/_sim/faults").json(&faults))
            .await
            .expect(200);
    }

    pub async fn hooks(&self) -> Vec<Value> {
        self.send(self.req(Method::GET, "/_sim/hooks"))
            .await
            .expect(200)["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Wait (at most ~2 s of real time) for the webhook receiver to have got a request
    /// matching `pred`. Deliveries are asynchronous HTTP calls, so this polls.
    pub async fn wait_hook(&self, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            if let Some(h) = self.hooks().await.into_iter().find(|h| pred(h)) {
                return h;
            }
            assert!(
                Instant::now() < deadline,
                "no matching webhook delivery within 2 s; received: {:?}",
                self.hooks().await
            );
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Status of a `/v1` deployment.
    pub async fn v1_status(&self, token: &str, id: &str) -> Value {
        self.get(&format!("/v1/deployments/{id}/status"), token)
            .await
            .expect(200)
            .clone()
    }

    /// Start a `/v1` deployment of bot-customer-service-v2 to env-prod-green (seed 000's body).
    pub async fn deploy_customer_service(&self, token: &str) -> Resp {
        self.post(
            "/v1/bots/bot-customer-service-v2/deployments",
            token,
            &seed000_deployment(),
        )
        .await
    }

    /// Start a `/v1` deployment (bot-customer-service-v2) and an `/api/v1` rollback job
    /// (bot_12345 to v_67890); their ids.
    pub async fn deployment_and_rollback_job(&self, token: &str) -> (String, String) {
        let dep = self.deploy_customer_service(token).await;
        let dep_id = dep.expect(202)["deploymentId"]
            .as_str()
            .expect("deploymentId")
            .to_string();
        let job = self
            .post(
                "/api/v1/deployments",
                token,
                &serde_json::json!({"botId": "bot_12345", "targetVersionId": "v_67890", "environment": "PRODUCTION"}),
            )
            .await;
        let job_id = job.expect(202)["data"]["jobId"]
            .as_str()
            .expect("jobId")
            .to_string();
        (dep_id, job_id)
    }
}

#[track_caller]
fn token_of(r: &Resp) -> String {
    let body = r.expect(200);
    assert_eq!(body["token_type"], "Bearer", "{}", r.text);
    assert!(body["expires_in"].as_u64().is_some(), "{}", r.text);
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

/// The deployment body seed 000 builds (after its validator).
pub fn seed000_deployment() -> Value {
    json!({
        "botId": "bot-customer-service-v2",
        "targetEnvironmentId": "env-prod-green",
        "nluModelId": "nlu-intent-classifier-v4.1",
        "flowReferences": [
            {"flowId": "flow-order-lookup", "version": "v2.0.3"},
            {"flowId": "flow-refund-request", "version": "v1.5.0"}
        ],
        "deploymentType": "versioned",
        "metadata": {"validatedAt": 1_700_000_000.5}
    })
}

/// A canary payload in seed 001's shape.
pub fn canary_payload(
    bot: &str,
    env: &str,
    version: &str,
    stable: f64,
    canary: f64,
    max: f64,
) -> Value {
    json!({
        "bot_id": bot,
        "environment_id": env,
        "version": version,
        "traffic_matrix": {"stable": stable, "canary": canary},
        "rollback_thresholds": {"error_rate": 0.05, "satisfaction_score": 3.5, "max_latency_ms": 1500.0},
        "max_traffic_percentage": max,
        "enable_metric_aggregation": true
    })
}

/// Start a canary through `/api/v1` with `X-Deployment-Type: canary`.
pub async fn start_canary(sim: &Sim, token: &str, body: &Value) -> Resp {
    let bot = body["bot_id"].as_str().expect("bot_id").to_string();
    sim.send(
        sim.req(Method::POST, &format!("/api/v1/bots/{bot}/deploy"))
            .bearer_auth(token)
            .header("X-Deployment-Type", "canary")
            .header("X-Format-Verification", "strict")
            .json(body),
    )
    .await
}

/// The live version of `bot` in `env` as `/v1` routing shows it.
pub async fn routing_live(sim: &Sim, token: &str, bot: &str, env: &str) -> Value {
    let r = sim
        .get(&format!("/v1/environments/routing?botId={bot}"), token)
        .await;
    let body = r.expect(200);
    body["environments"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["environmentId"] == env)
        .map(|e| e["liveVersion"].clone())
        .unwrap_or_else(|| panic!("{env} not in routing: {}", r.text))
}

/// The environment entry `env` of a BotSummary.
pub fn bot_env<'a>(summary: &'a Value, env: &str) -> &'a Value {
    summary["environments"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["environmentId"] == env)
        .unwrap_or_else(|| panic!("{env} not in {summary}"))
}

//! The job state machines: exact states at each boundary of the scenario's timing (paused
//! clock), the same machine under `--speed`, stalled jobs, a version that fails its deploy,
//! and `/v1` rollback restoring the previous live version and routing.

mod common;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::*;
use relcon::sim::SimConfig;

/// Read `path` at each simulator second of `table` (ascending) and check the state at
/// `pointer`.
async fn walk(sim: &Sim, path: &str, pointer: &str, table: &[(f64, &str)]) {
    let mut t = sim.clock().await["simSeconds"].as_f64().unwrap();
    for (at, want) in table {
        if *at > t {
            t = sim.advance(at - t).await;
        }
        let r = sim.get(path, API_KEY).await;
        assert_eq!(
            r.expect(200).pointer(pointer),
            Some(&json!(want)),
            "at {at}s: {}",
            r.text
        );
    }
}

fn step_states(status: &Value) -> Vec<String> {
    status["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{}:{}",
                s["name"].as_str().unwrap(),
                s["state"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn under_speed_a_deployment_completes_and_the_clock_runs_speed_times_wall_time() {
    const SPEED: f64 = 600.0;
    let sim = start_with(SimConfig {
        speed: SPEED,
        ..paused()
    })
    .await;

    let t0 = Instant::now();
    let c0 = sim.clock().await;
    let t1 = Instant::now();
    assert_eq!(c0["speed"], SPEED);

    let created = sim.deploy_customer_service(API_KEY).await;
    let id = created.expect(202)["deploymentId"]
        .as_str()
        .unwrap()
        .to_string();
    let order = [
        "queued",
        "compiling",
        "deploying",
        "validating",
        "completed",
    ];
    let mut seen: Vec<usize> = Vec::new();
    // 12 simulator seconds are 20 ms here; poll every 20 ms for at most 2 s.
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let s = sim.v1_status(API_KEY, &id).await;
        let state = s["status"].as_str().unwrap();
        let idx = order
            .iter()
            .position(|o| *o == state)
            .unwrap_or_else(|| panic!("unexpected state {state}"));
        seen.push(idx);
        if state == "completed" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not completed within 2 s: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "states go forward only: {seen:?}"
    );

    let t2 = Instant::now();
    let c1 = sim.clock().await;
    let t3 = Instant::now();
    let sim_elapsed = c1["simSeconds"].as_f64().unwrap() - c0["simSeconds"].as_f64().unwrap();
    // The readings were taken somewhere inside [t0, t1] and [t2, t3].
    let least = SPEED * (t2 - t1).as_secs_f64();
    let most = SPEED * (t3 - t0).as_secs_f64();
    assert!(
        sim_elapsed >= 12.0,
        "the deployment needed 12 simulator seconds: {sim_elapsed}"
    );
    assert!(
        sim_elapsed >= least * 0.999 - 0.01 && sim_elapsed <= most * 1.001 + 0.01,
        "{sim_elapsed} simulator seconds, expected between {least} and {most}"
    );

    // Pausing stops the clock; advancing still moves it.
    let paused_at = sim
        .send(
            sim.req(reqwest::Method::POST, "/_sim/clock")
                .json(&json!({"speed": 0})),
        )
        .await
        .expect(200)["simSeconds"]
        .as_f64()
        .unwrap();
    let again = sim.clock().await;
    assert_eq!(again["simSeconds"].as_f64().unwrap(), paused_at);
    assert_eq!(again["speed"], 0.0);
    assert_eq!(sim.advance(30.0).await, paused_at + 30.0);
}

#[tokio::test]
async fn a_deployment_is_in_each_state_exactly_at_the_scenario_boundaries() {
    // demo.toml [timing]: deploy = { queued = 2, compiling = 3, deploying = 4, validating = 3 }
    let sim = start().await;
    let created = sim.deploy_customer_service(API_KEY).await;
    let id = created.expect(202)["deploymentId"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/v1/deployments/{id}/status");
    let table: &[(f64, &str, u64, Option<&str>)] = &[
        // (second, state, estimatedCompletionSeconds, Retry-After)
        (0.0, "queued", 12, Some("2")),
        (1.5, "queued", 11, Some("1")),
        (2.0, "compiling", 10, Some("3")),
        (4.5, "compiling", 8, Some("1")),
        (5.0, "deploying", 7, Some("4")),
        (8.5, "deploying", 4, Some("1")),
        (9.0, "validating", 3, Some("3")),
        (11.5, "validating", 1, Some("1")),
        (12.0, "completed", 0, None),
    ];
    let mut t = 0.0;
    for (at, state, eta, retry) in table {
        if *at > t {
            t = sim.advance(at - t).await;
        }
        let r = sim.get(&path, API_KEY).await;
        let s = r.expect(200);
        assert_eq!(s["status"], *state, "at {at}s");
        assert_eq!(s["estimatedCompletionSeconds"], *eta, "at {at}s");
        assert_eq!(r.header("retry-after"), *retry, "at {at}s");
        // The new version goes live exactly on completion.
        let live = routing_live(&sim, API_KEY, "bot-customer-service-v2", "env-prod-green").await;
        let want = if *state == "completed" {
            "v2.4.0"
        } else {
            "v2.2.0"
        };
        assert_eq!(live, want, "green at {at}s");
        if *at == 5.0 {
            assert_eq!(
                step_states(s),
                [
                    "queued:done",
                    "compiling:done",
                    "deploying:running",
                    "validating:pending"
                ]
            );
        }
        if *state == "completed" {
            assert!(step_states(s).iter().all(|x| x.ends_with(":done")), "{s}");
            let created = s["createdAt"].as_str().unwrap();
            let updated = s["updatedAt"].as_str().unwrap();
            let d = chrono::DateTime::parse_from_rfc3339(updated).unwrap()
                - chrono::DateTime::parse_from_rfc3339(created).unwrap();
            assert_eq!(d.num_seconds(), 12, "updated at completion");
        }
    }
}

#[tokio::test]
async fn rollback_and_environment_jobs_follow_their_timing() {
    // demo.toml: rollback = { queued = 2, running = 6 }, environment = { queued = 3, running = 15 }
    let sim = start().await;
    let job = sim
        .post(
            "/api/v1/deployments",
            API_KEY,
            &json!({"botId": "bot_12345", "targetVersionId": "v_67890", "environment": "PRODUCTION", "action": "ROLLBACK"}),
        )
        .await;
    let job_id = job.expect(202)["data"]["jobId"]
        .as_str()
        .unwrap()
        .to_string();
    walk(
        &sim,
        &format!("/api/v1/deployments/{job_id}/status"),
        "/data/state",
        &[
            (0.0, "QUEUED"),
            (1.9, "QUEUED"),
            (2.0, "RUNNING"),
            (7.9, "RUNNING"),
            (8.0, "COMPLETED"),
        ],
    )
    .await;

    let env = sim
        .post(
            "/api/v2/deployments",
            API_KEY,
            &json!({"environment_id": "env_prod", "configuration_snapshot": {"botVersion": "9"}}),
        )
        .await;
    let env_id = env.expect(202)["jobId"].as_str().unwrap().to_string();
    let start = sim.clock().await["simSeconds"].as_f64().unwrap();
    walk(
        &sim,
        &format!("/api/v2/jobs/{env_id}"),
        "/status",
        &[
            (start, "queued"),
            (start + 2.9, "queued"),
            (start + 3.0, "running"),
            (start + 17.9, "running"),
            (start + 18.0, "completed"),
        ],
    )
    .await;
}

#[tokio::test]
async fn stalled_jobs_end_in_timeout_after_job_timeout() {
    let sim = start().await;
    sim.faults(json!({"stallJobs": true})).await;
    let (dep_id, job_id) = sim.deployment_and_rollback_job(API_KEY).await;

    let dep_path = format!("/v1/deployments/{dep_id}/status");
    let job_path = format!("/api/v1/deployments/{job_id}/status");
    sim.advance(119.5).await;
    assert_eq!(sim.v1_status(API_KEY, &dep_id).await["status"], "queued");
    assert_eq!(
        sim.get(&job_path, API_KEY).await.expect(200)["data"]["state"],
        "QUEUED"
    );
    sim.advance(0.5).await;
    let s = sim.get(&dep_path, API_KEY).await.expect(200).clone();
    assert_eq!(s["status"], "timeout", "job_timeout = 120");
    assert!(
        s["errorMessage"]
            .as_str()
            .unwrap()
            .contains("did not finish"),
        "{s}"
    );
    let j = sim.get(&job_path, API_KEY).await.expect(200).clone();
    assert_eq!(j["data"]["state"], "FAILED");
    assert!(
        j["data"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("timed out"),
        "{j}"
    );
    // Nothing went live.
    assert_eq!(
        routing_live(&sim, API_KEY, "bot-customer-service-v2", "env-prod-green").await,
        "v2.2.0"
    );
    assert_eq!(
        routing_live(&sim, API_KEY, "bot_12345", "env_prod").await,
        "v_80112"
    );

    // Without the fault, new jobs progress again.
    sim.faults(json!({})).await;
    let dep = sim.deploy_customer_service(API_KEY).await;
    let id = dep.expect(202)["deploymentId"]
        .as_str()
        .unwrap()
        .to_string();
    sim.advance(12.0).await;
    assert_eq!(sim.v1_status(API_KEY, &id).await["status"], "completed");
}

#[tokio::test]
async fn a_version_with_fail_deploy_ends_failed_with_its_message() {
    let sim = start_with(SimConfig {
        scenario: Some(scenario("failing.toml")),
        ..paused()
    })
    .await;
    let created = sim
        .post(
            "/v1/bots/bot-fragile/deployments",
            API_KEY,
            &json!({
                "botId": "bot-fragile",
                "targetEnvironmentId": "env-prod-green",
                "nluModelId": "nlu-fragile-v1",
                "versionId": "v1.1.0",
                "deploymentType": "versioned"
            }),
        )
        .await;
    let id = created.expect(202)["deploymentId"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/v1/deployments/{id}/status");
    walk(
        &sim,
        &path,
        "/status",
        &[
            (0.0, "queued"),
            (9.0, "validating"),
            (11.9, "validating"),
            (12.0, "failed"),
        ],
    )
    .await;
    let s = sim.v1_status(API_KEY, &id).await;
    let message = "validation failed: intent 'refund' has no training phrases";
    assert_eq!(s["errorMessage"], message);
    let validating = s["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|st| st["name"] == "validating")
        .unwrap();
    assert_eq!(validating["state"], "failed");
    assert_eq!(validating["detail"], message);

    let bot = sim.get("/api/v1/bots/bot-fragile", API_KEY).await;
    assert_eq!(
        bot_env(bot.expect(200), "env-prod-green")["liveVersion"],
        "v1.0.0",
        "a failed deploy changes nothing"
    );
    let ops = sim
        .get("/api/v1/operations?botId=bot-fragile", API_KEY)
        .await;
    let op = &ops.expect(200)["items"][0];
    assert_eq!(op["id"], id.as_str());
    assert_eq!(op["state"], "failed");
    assert_eq!(op["errorMessage"], message);
}

#[tokio::test]
async fn v1_rollback_restores_the_previous_live_version_and_routing() {
    let sim = start().await;
    let bot = "bot-customer-service-v2";
    let created = sim.deploy_customer_service(API_KEY).await;
    let id = created.expect(202)["deploymentId"]
        .as_str()
        .unwrap()
        .to_string();
    sim.advance(12.0).await;
    assert_eq!(sim.v1_status(API_KEY, &id).await["status"], "completed");

    // Switch all traffic to green, where the new version runs.
    let switched = sim
        .put(
            "/v1/environments/routing",
            API_KEY,
            &json!({
                "botId": bot,
                "environments": [
                    {"environmentId": "env-prod-blue", "trafficWeight": 0},
                    {"environmentId": "env-prod-green", "trafficWeight": 100}
                ],
                "strategy": "blue_green",
                "failoverEnabled": true
            }),
        )
        .await;
    assert_eq!(switched.expect(200)["warnings"], json!([]));
    let weights = |routing: &Value| -> Vec<(String, f64, Value)> {
        routing["environments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["environmentId"].as_str().unwrap().to_string(),
                    e["trafficWeight"].as_f64().unwrap(),
                    e["liveVersion"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(
        weights(&switched.json),
        [
            ("env-prod-blue".to_string(), 0.0, json!("v2.3.0")),
            ("env-prod-green".to_string(), 100.0, json!("v2.4.0"))
        ]
    );

    sim.advance(30.0).await;
    let rolled = sim
        .post(
            &format!("/v1/deployments/{id}/rollback"),
            API_KEY,
            &json!({}),
        )
        .await;
    let r = rolled.expect(200);
    assert_eq!(r["status"], "rolled_back");
    assert!(
        r["errorMessage"].as_str().unwrap().contains("restored"),
        "{r}"
    );

    let routing = sim
        .get(&format!("/v1/environments/routing?botId={bot}"), API_KEY)
        .await;
    assert_eq!(
        weights(routing.expect(200)),
        [
            ("env-prod-blue".to_string(), 100.0, json!("v2.3.0")),
            ("env-prod-green".to_string(), 0.0, json!("v2.2.0"))
        ]
    );
    assert_eq!(sim.v1_status(API_KEY, &id).await["status"], "rolled_back");
    // Rolling back again is harmless.
    let again = sim
        .post(
            &format!("/v1/deployments/{id}/rollback"),
            API_KEY,
            &json!({}),
        )
        .await;
    assert_eq!(again.expect(200)["status"], "rolled_back");
}

#[tokio::test]
async fn rolling_back_an_unfinished_deployment_cancels_it() {
    let sim = start().await;
    let created = sim.deploy_customer_service(API_KEY).await;
    let id = created.expect(202)["deploymentId"]
        .as_str()
        .unwrap()
        .to_string();
    sim.advance(5.0).await;
    let rolled = sim
        .post(
            &format!("/v1/deployments/{id}/rollback"),
            API_KEY,
            &json!({}),
        )
        .await;
    let r = rolled.expect(200);
    assert_eq!(r["status"], "rolled_back");
    assert!(
        r["errorMessage"]
            .as_str()
            .unwrap()
            .contains("cancelled while deploying"),
        "{r}"
    );
    sim.advance(60.0).await;
    assert_eq!(sim.v1_status(API_KEY, &id).await["status"], "rolled_back");
    assert_eq!(
        routing_live(&sim, API_KEY, "bot-customer-service-v2", "env-prod-green").await,
        "v2.2.0",
        "the cancelled version never went live"
    );
    // The bot is free for a new deployment.
    sim.deploy_customer_service(API_KEY).await.expect(202);
}

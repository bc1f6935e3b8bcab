//! One world model across the route families, and a deterministic traffic model: the same
//! seed and the same actions give the same metric series.

mod common;

use serde_json::{Value, json};

use common::*;
use relcon::sim::SimConfig;

#[tokio::test]
async fn a_v1_deployment_is_an_api_v1_operation() {
    let sim = start().await;
    let created = sim.deploy_customer_service(API_KEY).await;
    let id = created.expect(202)["deploymentId"]
        .as_str()
        .unwrap()
        .to_string();
    sim.advance(5.0).await;

    let ops = sim
        .get(
            "/api/v1/operations?botId=bot-customer-service-v2&active=true",
            API_KEY,
        )
        .await;
    let items = ops.expect(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1, "{}", ops.text);
    let op = &items[0];
    assert_eq!(op["id"], id.as_str());
    assert_eq!(op["kind"], "deployment");
    assert_eq!(op["environmentId"], "env-prod-green");
    assert_eq!(op["versionId"], "v2.4.0");
    assert_eq!(op["state"], "deploying");
    assert_eq!(op["active"], true);
    let status = sim.v1_status(API_KEY, &id).await;
    assert_eq!(op["steps"], status["steps"], "the same steps both ways");

    // The bot summary names it as the active operation.
    let bot = sim
        .get("/api/v1/bots/bot-customer-service-v2", API_KEY)
        .await;
    assert_eq!(bot.expect(200)["activeOperation"]["id"], id.as_str());

    sim.advance(7.0).await;
    let ops = sim
        .get("/api/v1/operations?botId=bot-customer-service-v2", API_KEY)
        .await;
    let op = &ops.expect(200)["items"][0];
    assert_eq!(op["state"], "completed");
    assert_eq!(op["active"], false);
    let bot = sim
        .get("/api/v1/bots/bot-customer-service-v2", API_KEY)
        .await;
    assert!(
        bot.expect(200)
            .get("activeOperation")
            .is_none_or(Value::is_null)
    );
    // The version list says where it is live now.
    let versions = sim
        .get("/api/v1/bots/bot-customer-service-v2/versions", API_KEY)
        .await;
    let v = versions.expect(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == "v2.4.0")
        .unwrap()
        .clone();
    let mut live_in: Vec<&str> = v["liveIn"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    live_in.sort();
    assert_eq!(live_in, ["env-prod-green", "env-staging"]);
}

#[tokio::test]
async fn an_api_v1_canary_is_the_bots_active_operation_and_blocks_a_v1_deployment() {
    let sim = start().await;
    let started = start_canary(
        &sim,
        API_KEY,
        &canary_payload(
            "bot-travel-assistant",
            "env-prod-blue",
            "v3.5.0",
            90.0,
            10.0,
            50.0,
        ),
    )
    .await;
    let cid = started.expect(201)["canaryId"]
        .as_str()
        .unwrap()
        .to_string();

    let bot = sim.get("/api/v1/bots/bot-travel-assistant", API_KEY).await;
    let active = &bot.expect(200)["activeOperation"];
    assert_eq!(active["id"], cid.as_str());
    assert_eq!(active["kind"], "canary");
    assert_eq!(active["state"], "running");

    let deploy = json!({
        "botId": "bot-travel-assistant",
        "targetEnvironmentId": "env-prod-green",
        "nluModelId": "nlu-travel-v3",
        "flowReferences": [],
        "deploymentType": "versioned"
    });
    let path = "/v1/bots/bot-travel-assistant/deployments";
    let blocked = sim.post(path, API_KEY, &deploy).await;
    let p = blocked.problem(409);
    assert_eq!(p["conflictsWith"], cid.as_str());
    assert!(p["detail"].as_str().unwrap().contains("canary"));
    let listed = sim
        .get("/v1/deployments?botId=bot-travel-assistant", API_KEY)
        .await;
    assert_eq!(listed.expect(200)["items"], json!([]));

    // Rolling the canary back frees the bot for /v1.
    let rolled = sim
        .post(
            &format!("/api/v1/canaries/{cid}/rollback"),
            API_KEY,
            &json!({"reason": "test"}),
        )
        .await;
    assert_eq!(rolled.expect(200)["state"], "rolled_back");
    sim.post(path, API_KEY, &deploy).await.expect(202);
}

#[tokio::test]
async fn an_api_v1_rollback_job_changes_v1_routing() {
    let sim = start().await;
    assert_eq!(
        routing_live(&sim, API_KEY, "bot_12345", "env_prod").await,
        "v_80112"
    );
    let job = sim
        .post(
            "/api/v1/deployments",
            API_KEY,
            &json!({"botId": "bot_12345", "targetVersionId": "v_stable_fallback", "environment": "PRODUCTION", "action": "ROLLBACK"}),
        )
        .await;
    let job_id = job.expect(202)["data"]["jobId"]
        .as_str()
        .unwrap()
        .to_string();
    sim.advance(7.9).await;
    assert_eq!(
        routing_live(&sim, API_KEY, "bot_12345", "env_prod").await,
        "v_80112",
        "not before the job completes"
    );
    sim.advance(0.1).await;
    assert_eq!(
        routing_live(&sim, API_KEY, "bot_12345", "env_prod").await,
        "v_stable_fallback"
    );
    let ops = sim.get("/api/v1/operations?botId=bot_12345", API_KEY).await;
    let op = &ops.expect(200)["items"][0];
    assert_eq!(op["id"], job_id.as_str());
    assert_eq!(op["kind"], "rollback");
    assert_eq!(op["environmentId"], "env_prod");
}

/// A canary of bot-travel-assistant v3.5.0 at 10% for five minutes; the series without the
/// wall-clock `at` stamps.
async fn canary_series(seed: u64) -> Value {
    let sim = start_with(SimConfig {
        seed: Some(seed),
        ..paused()
    })
    .await;
    start_canary(
        &sim,
        API_KEY,
        &canary_payload(
            "bot-travel-assistant",
            "env-prod-blue",
            "v3.5.0",
            90.0,
            10.0,
            50.0,
        ),
    )
    .await
    .expect(201);
    sim.advance(300.0).await;
    let r = sim
        .get(
            "/api/v1/metrics/timeseries?botId=bot-travel-assistant&window=30m",
            API_KEY,
        )
        .await;
    let mut body = r.expect(200).clone();
    for arm in ["total", "baseline", "canary"] {
        for p in body[arm].as_array_mut().unwrap() {
            assert!(p["at"].as_str().is_some());
            p.as_object_mut().unwrap().remove("at");
        }
    }
    body
}

#[tokio::test]
async fn same_seed_same_series_other_seed_other_series() {
    let a = canary_series(42).await;
    let b = canary_series(42).await;
    let c = canary_series(43).await;
    for arm in ["total", "baseline", "canary"] {
        assert!(!a[arm].as_array().unwrap().is_empty(), "{arm}: {a}");
        assert_eq!(a[arm], b[arm], "{arm} with the same seed");
        assert_ne!(a[arm], c[arm], "{arm} with another seed");
    }
    // The canary arm covers minutes 0..=4: minute 5 starts now and has served nothing yet
    // (the total still has its empty, partial point).
    let minutes: Vec<i64> = a["canary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["minute"].as_i64().unwrap())
        .collect();
    assert_eq!(minutes, [0, 1, 2, 3, 4]);
    let total = a["total"].as_array().unwrap();
    assert_eq!(total.len(), 30, "a 30m window");
    assert_eq!(total[29]["partial"], true);
    assert_eq!(total[29]["conversations"], 0);
}

/// Errors over conversations, mean latency and satisfaction of a slice of points.
fn aggregate(points: &[Value]) -> (f64, f64, f64) {
    let n: f64 = points
        .iter()
        .map(|p| p["conversations"].as_f64().unwrap())
        .sum();
    let e: f64 = points.iter().map(|p| p["errors"].as_f64().unwrap()).sum();
    let mean =
        |k: &str| points.iter().map(|p| p[k].as_f64().unwrap()).sum::<f64>() / points.len() as f64;
    (e / n, mean("avgLatencyMs"), mean("satisfactionScore"))
}

#[tokio::test]
async fn the_travel_canary_regresses_two_minutes_after_its_first_traffic() {
    // Half the traffic, so that a minute has ~150 canary conversations and the error counts
    // (whole numbers) are large enough to show the 2% -> 6% step.
    let sim = start().await;
    start_canary(
        &sim,
        API_KEY,
        &canary_payload(
            "bot-travel-assistant",
            "env-prod-blue",
            "v3.5.0",
            50.0,
            50.0,
            50.0,
        ),
    )
    .await
    .expect(201);
    sim.advance(360.0).await;
    let r = sim
        .get(
            "/api/v1/metrics/timeseries?botId=bot-travel-assistant&window=10m",
            API_KEY,
        )
        .await;
    let canary: Vec<Value> = r.expect(200)["canary"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["conversations"].as_u64().unwrap() > 0)
        .cloned()
        .collect();
    let minutes: Vec<i64> = canary
        .iter()
        .map(|p| p["minute"].as_i64().unwrap())
        .collect();
    assert_eq!(minutes, [0, 1, 2, 3, 4, 5]);
    let (err_before, lat_before, sat_before) = aggregate(&canary[..2]);
    let (err_after, lat_after, sat_after) = aggregate(&canary[2..]);
    let ratio = err_after / err_before;
    assert!(
        (2.2..=4.5).contains(&ratio),
        "error rate {err_before:.4} -> {err_after:.4} (x{ratio:.2}), expected about x3"
    );
    assert!(
        err_before < 0.035,
        "v3.5.0 starts near its 2%: {err_before}"
    );
    assert!(
        (0.045..=0.075).contains(&err_after),
        "then about 6%: {err_after}"
    );
    let lat = lat_after / lat_before;
    assert!(
        (1.25..=1.55).contains(&lat),
        "latency x{lat:.2}, expected about x1.4"
    );
    let sat = sat_after - sat_before;
    assert!(
        (-0.8..=-0.4).contains(&sat),
        "satisfaction {sat:+.2}, expected about -0.6"
    );

    // The stable arm does not regress.
    let baseline: Vec<Value> = r.json["baseline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| (0..=5).contains(&p["minute"].as_i64().unwrap()))
        .cloned()
        .collect();
    let (b_before, _, _) = aggregate(&baseline[..2]);
    let (b_after, _, _) = aggregate(&baseline[2..]);
    assert!(
        b_after < 2.0 * b_before.max(0.005),
        "baseline {b_before} -> {b_after}"
    );
}

//! Fault injection (`/_sim/faults`), request statistics (`/_sim/stats`) and `/_sim/reset`.

mod common;

use reqwest::Method;
use serde_json::json;

use common::*;

#[tokio::test]
async fn error_rate_one_answers_503_problems_before_the_world() {
    let sim = start().await;
    sim.faults(json!({"errorRate": 1.0})).await;
    let r = sim.get("/api/v1/bots", API_KEY).await;
    let p = r.problem(503);
    assert!(p["detail"].as_str().unwrap().contains("injected"));
    let d = sim.deploy_customer_service(API_KEY).await;
    d.problem(503);
    assert_eq!(
        sim.world().await["deployments"],
        json!([]),
        "never reached the world"
    );
    // The control endpoints are not faulted; switching the fault off heals the API.
    assert_eq!(
        sim.send(sim.req(Method::GET, "/_sim/faults"))
            .await
            .expect(200)["errorRate"],
        1.0
    );
    sim.faults(json!({})).await;
    sim.get("/api/v1/bots", API_KEY).await.expect(200);
}

#[tokio::test]
async fn a_lost_response_is_502_but_the_work_is_done_and_an_idempotent_retry_replays_it() {
    let sim = start().await;
    let path = "/v1/bots/bot-customer-service-v2/deployments";
    let post = || {
        sim.req(Method::POST, path)
            .bearer_auth(API_KEY)
            .header("Idempotency-Key", "lost-1")
            .json(&seed000_deployment())
    };
    sim.faults(json!({"lostResponseRate": 1.0})).await;
    let lost = sim.send(post()).await;
    lost.problem(502);
    let deployments = sim.world().await["deployments"].clone();
    assert_eq!(
        deployments.as_array().unwrap().len(),
        1,
        "processed: {deployments}"
    );
    let id = deployments[0]["id"].clone();

    sim.faults(json!({"lostResponseRate": 0.0})).await;
    let retry = sim.send(post()).await;
    let body = retry.expect(202);
    assert_eq!(body["deploymentId"], id);
    assert_eq!(body["status"], "queued");
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        retry.header("location"),
        Some(format!("/v1/deployments/{}/status", id.as_str().unwrap()).as_str())
    );
    assert_eq!(
        sim.world().await["deployments"].as_array().unwrap().len(),
        1,
        "no second deployment"
    );
    // Without a key the same retry would have been a new request: the bot is busy.
    let unkeyed = sim.deploy_customer_service(API_KEY).await;
    assert_eq!(unkeyed.problem(409)["conflictsWith"], id);
}

#[tokio::test]
async fn malformed_rate_one_truncates_ok_bodies_into_invalid_json() {
    let sim = start().await;
    sim.faults(json!({"malformedRate": 1.0})).await;
    let bad = sim.get("/api/v1/bots", API_KEY).await;
    assert_eq!(bad.status, 200);
    assert!(!bad.text.is_empty());
    assert!(
        serde_json::from_str::<serde_json::Value>(&bad.text).is_err(),
        "{}",
        bad.text
    );
    // Errors are not truncated.
    let missing = sim.get("/api/v1/bots/bot_nobody", API_KEY).await;
    missing.problem(404);

    sim.faults(json!({})).await;
    let good = sim.get("/api/v1/bots", API_KEY).await;
    good.expect(200);
    assert!(
        good.text.starts_with(&bad.text) && good.text.len() > bad.text.len(),
        "the malformed body is a cut of the real one"
    );
}

#[tokio::test]
async fn reset_rate_one_drops_the_connection_mid_response() {
    let sim = start().await;
    sim.faults(json!({"resetRate": 1.0})).await;
    let outcome = async {
        let r = sim
            .req(Method::GET, "/api/v1/bots")
            .bearer_auth(API_KEY)
            .send()
            .await?;
        r.bytes().await
    }
    .await;
    assert!(outcome.is_err(), "the client sees a failure: {outcome:?}");
    sim.faults(json!({})).await;
    sim.get("/api/v1/bots", API_KEY).await.expect(200);
}

#[tokio::test]
async fn rate_limit_storm_answers_429_with_retry_after() {
    let sim = start().await;
    sim.faults(json!({"rateLimitStorm": 1.0})).await;
    let r = sim.get("/api/v1/bots", API_KEY).await;
    r.problem(429);
    assert!(r.header("retry-after").is_some());
}

#[tokio::test]
async fn stats_count_requests_per_route_and_status() {
    let sim = start().await;
    let created = sim.deploy_customer_service(API_KEY).await;
    let id = created.expect(202)["deploymentId"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..12 {
        sim.v1_status(API_KEY, &id).await;
    }
    sim.get(&format!("/v1/deployments/{id}/status"), API_KEY)
        .await
        .problem(429);
    sim.get("/v1/nowhere", API_KEY).await.problem(404);
    sim.faults(json!({"errorRate": 1.0})).await;
    sim.get("/api/v1/bots", API_KEY).await.problem(503);

    let stats = sim.stats().await;
    let routes = &stats["routes"];
    assert_eq!(
        routes["GET /v1/deployments/{id}/status"],
        json!({"200": 12, "429": 1})
    );
    assert_eq!(routes["POST /v1/bots/{bot}/deployments"], json!({"202": 1}));
    assert_eq!(routes["GET /api/v1/bots"], json!({"503": 1}));
    assert_eq!(routes["GET (no route)"], json!({"404": 1}));
    let sum: u64 = routes
        .as_object()
        .unwrap()
        .values()
        .flat_map(|m| m.as_object().unwrap().values())
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(stats["total"], sum);
    assert_eq!(sum, 16);
}

#[tokio::test]
async fn reset_restores_the_scenario() {
    let sim = start().await;
    let tok = sim.token_form("").await;
    let created = sim.deploy_customer_service(&tok).await;
    created.expect(202);
    sim.advance(12.0).await;
    sim.put(
        "/v1/environments/routing",
        &tok,
        &json!({"botId": "bot-customer-service-v2", "environments": [
            {"environmentId": "env-prod-blue", "trafficWeight": 0},
            {"environmentId": "env-prod-green", "trafficWeight": 100}
        ]}),
    )
    .await
    .expect(200);
    sim.send(
        sim.req(Method::POST, "/hooks/anything")
            .json(&json!({"x": 1})),
    )
    .await
    .expect(200);
    sim.faults(json!({"latencyMs": 1})).await;
    let bot = sim.get("/api/v1/bots/bot-customer-service-v2", &tok).await;
    assert_eq!(
        bot_env(bot.expect(200), "env-prod-green")["liveVersion"],
        "v2.4.0"
    );
    assert_eq!(bot_env(&bot.json, "env-prod-green")["trafficWeight"], 100.0);

    let reset = sim.send(sim.req(Method::POST, "/_sim/reset")).await;
    assert_eq!(reset.expect(200)["reset"], true);
    assert_eq!(reset.json["clock"]["simSeconds"], 0.0);

    let world = sim.world().await;
    assert_eq!(world["deployments"], json!([]));
    assert_eq!(world["simSeconds"], 0.0);
    assert_eq!(sim.hooks().await, Vec::<serde_json::Value>::new());
    assert_eq!(
        sim.send(sim.req(Method::GET, "/_sim/faults"))
            .await
            .expect(200)["latencyMs"],
        0
    );
    // Issued tokens survive a reset.
    let bot = sim.get("/api/v1/bots/bot-customer-service-v2", &tok).await;
    let green = bot_env(bot.expect(200), "env-prod-green");
    assert_eq!(green["liveVersion"], "v2.2.0");
    assert_eq!(green["trafficWeight"], 0.0);
    assert_eq!(bot_env(&bot.json, "env-prod-blue")["trafficWeight"], 100.0);
    // Statistics start again from this request on.
    let stats = sim.stats().await;
    assert_eq!(stats["total"], 1, "{stats}");
    // And the bot can be deployed again, with the same first id as before.
    let again = sim.deploy_customer_service(&tok).await;
    assert_eq!(
        again.expect(202)["deploymentId"],
        created.json["deploymentId"]
    );
}

//! The Release API's rules (docs/api.md, "Auth" and "Rules"): 401, 403, 404, 400, 409, 422,
//! 429 and Idempotency-Key, each as the problem document the contract describes.

mod common;

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use common::*;
use relcon::sim::SimConfig;

#[track_caller]
fn assert_unauthorized(r: &Resp) {
    r.problem(401);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\""),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn missing_unknown_and_revoked_tokens_are_401_with_www_authenticate() {
    let sim = start().await;

    let missing = sim.send(sim.req(Method::GET, "/api/v1/bots")).await;
    assert_unauthorized(&missing);
    assert!(
        missing.json["detail"]
            .as_str()
            .unwrap()
            .contains("missing Authorization")
    );

    let unknown = sim.get("/api/v1/bots", "sim_at_not_a_token").await;
    assert_unauthorized(&unknown);
    assert!(
        unknown.json["detail"]
            .as_str()
            .unwrap()
            .contains("unknown token")
    );

    let tok = sim.token_form("bot:read").await;
    sim.get("/api/v1/bots", &tok).await.expect(200);
    let revoked = sim
        .send(sim.req(Method::POST, "/_sim/faults/expire-tokens"))
        .await;
    assert!(revoked.expect(200)["expired"].as_u64().unwrap() >= 1);
    let expired = sim.get("/api/v1/bots", &tok).await;
    assert_unauthorized(&expired);
    assert!(expired.json["detail"].as_str().unwrap().contains("expired"));
    // API keys are not tokens: they keep working.
    sim.get("/api/v1/bots", API_KEY).await.expect(200);
    // A new token works again.
    let fresh = sim.token_form("bot:read").await;
    sim.get("/api/v1/bots", &fresh).await.expect(200);
}

#[tokio::test]
async fn tokens_die_after_token_ttl() {
    // A zero lifetime: every token is expired the moment it is used, no waiting needed.
    let sim = start_with(SimConfig {
        token_ttl: Duration::ZERO,
        ..paused()
    })
    .await;
    let tok = sim.token_basic("bot:read+deployment:read").await;
    let r = sim.get("/api/v1/bots", &tok).await;
    assert_unauthorized(&r);
    assert!(
        r.json["detail"].as_str().unwrap().contains("expired"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn token_endpoint_errors_use_the_oauth_shape() {
    let sim = start().await;
    let form = |secret: &str, grant: &str, scope: &str| {
        sim.req(Method::POST, "/oauth/token").form(&[
            ("grant_type", grant.to_string()),
            ("client_id", CLIENT_ID.to_string()),
            ("client_secret", secret.to_string()),
            ("scope", scope.to_string()),
        ])
    };
    let bad_secret = sim
        .send(form("wrong", "client_credentials", "bot:read"))
        .await;
    assert_eq!(bad_secret.expect(401)["error"], "invalid_client");
    let bad_grant = sim.send(form(CLIENT_SECRET, "password", "bot:read")).await;
    assert_eq!(bad_grant.expect(400)["error"], "unsupported_grant_type");
    let bad_scope = sim
        .send(form(CLIENT_SECRET, "client_credentials", "root:all"))
        .await;
    assert_eq!(bad_scope.expect(400)["error"], "invalid_scope");
    // Granted scopes are echoed, space separated.
    let ok = sim
        .send(form(
            CLIENT_SECRET,
            "client_credentials",
            "bot:read metrics:read",
        ))
        .await;
    assert_eq!(ok.expect(200)["scope"], "bot:read metrics:read");
}

#[tokio::test]
async fn a_narrow_token_is_403_naming_the_missing_scope() {
    let sim = start().await;
    let tok = sim.token_basic("bot:read").await;
    let r = sim.deploy_customer_service(&tok).await;
    let p = r.problem(403);
    assert_eq!(p["missingScope"], "deployment:write");
    assert!(p["detail"].as_str().unwrap().contains("deployment:write"));
    // Nothing was created.
    assert_eq!(sim.world().await["deployments"], json!([]));

    let metrics_only = sim.token_form("metrics:read").await;
    let r = sim.get("/api/v1/bots", &metrics_only).await;
    assert_eq!(r.problem(403)["missingScope"], "bot:read");
    // Where several scopes are accepted, any one suffices and all are named.
    let r = sim.get("/api/v1/operations", &metrics_only).await;
    let p = r.problem(403);
    assert_eq!(p["requiredScopes"], json!(["bot:read", "deployment:read"]));
    let deploy_read = sim.token_form("deployment:read").await;
    sim.get("/api/v1/operations", &deploy_read)
        .await
        .expect(200);
}

#[tokio::test]
async fn unknown_ids_and_routes_are_404_problems() {
    let sim = start().await;
    for (path, id) in [
        ("/v1/deployments/dep_999999/status", "dep_999999"),
        ("/api/v1/bots/bot_nobody", "bot_nobody"),
        ("/api/v2/flows/flow_nothing", "flow_nothing"),
        ("/api/v2/jobs/job_424242", "job_424242"),
        ("/v1/nlu/models/nlu-none", "nlu-none"),
    ] {
        let r = sim.get(path, API_KEY).await;
        let p = r.problem(404);
        assert!(
            p["detail"].as_str().unwrap().contains(id),
            "{path}: {}",
            r.text
        );
    }
    let r = sim.get("/v1/no/such/route", API_KEY).await;
    let p = r.problem(404);
    assert!(p["detail"].as_str().unwrap().contains("/v1/no/such/route"));
    assert_eq!(p["instance"], "/v1/no/such/route");
}

#[tokio::test]
async fn malformed_json_is_400_saying_where() {
    let sim = start().await;
    let r = sim
        .send(
            sim.req(Method::POST, "/v1/bots/bot-customer-service-v2/deployments")
                .bearer_auth(API_KEY)
                .header("content-type", "application/json")
                .body(r#"{"botId": "#),
        )
        .await;
    let p = r.problem(400);
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("line 1, column 10"), "{detail}");
    assert_eq!(sim.world().await["deployments"], json!([]));
}

#[tokio::test]
async fn a_busy_bot_is_409_naming_what_it_is_busy_with() {
    let sim = start().await;
    let first = sim.deploy_customer_service(API_KEY).await;
    let id = first.expect(202)["deploymentId"]
        .as_str()
        .unwrap()
        .to_string();
    let second = sim.deploy_customer_service(API_KEY).await;
    let p = second.problem(409);
    assert_eq!(p["conflictsWith"], id.as_str());
    assert!(p["detail"].as_str().unwrap().contains(&id));
    // A rollback job on the same bot is blocked by the deployment too.
    let rb = sim
        .post(
            "/api/v1/deployments",
            API_KEY,
            &json!({"botId": "bot-customer-service-v2", "targetVersionId": "v2.2.0", "environment": "PRODUCTION"}),
        )
        .await;
    assert_eq!(rb.problem(409)["conflictsWith"], id.as_str());
    // Once it completes the bot is free again.
    sim.advance(12.0).await;
    sim.deploy_customer_service(API_KEY).await.expect(202);
}

#[tokio::test]
async fn reference_mismatches_are_409() {
    let sim = start().await;
    let path = "/v1/bots/bot-customer-service-v2/deployments";

    // The version is built on another NLU model than the one named.
    let mut body = seed000_deployment();
    body["versionId"] = json!("v2.3.0");
    let r = sim.post(path, API_KEY, &body).await;
    assert!(
        r.problem(409)["detail"]
            .as_str()
            .unwrap()
            .contains("NLU mismatch")
    );

    // The NLU model belongs to another bot.
    let mut body = seed000_deployment();
    body["nluModelId"] = json!("nlu-orders-v2");
    let r = sim.post(path, API_KEY, &body).await;
    assert!(
        r.problem(409)["detail"]
            .as_str()
            .unwrap()
            .contains("bot_abc123")
    );

    // A flow version that does not exist.
    let mut body = seed000_deployment();
    body["flowReferences"][0]["version"] = json!("v9.9.9");
    let r = sim.post(path, API_KEY, &body).await;
    let detail = r.problem(409)["detail"].as_str().unwrap().to_string();
    assert!(
        detail.contains("9.9.9") && detail.contains("flow-order-lookup"),
        "{detail}"
    );

    // A rollback target whose dependencies are missing.
    let r = sim
        .post(
            "/api/v1/deployments",
            API_KEY,
            &json!({"botId": "bot_12345", "targetVersionId": "v_70001", "environment": "PRODUCTION", "action": "ROLLBACK", "validateDependencies": true, "force": false}),
        )
        .await;
    let detail = r.problem(409)["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("skill:refund-calculator@2"), "{detail}");

    let w = sim.world().await;
    assert_eq!(w["deployments"], json!([]));
    assert_eq!(w["rollbackJobs"], json!([]));
}

#[tokio::test]
async fn invalid_canary_payloads_are_422_listing_every_violation() {
    let sim = start().await;

    // Seed 001's own example: fractions instead of percentages.
    let seed = canary_payload(
        "bot_abc123",
        "env_prod_456",
        "2.1.0-canary",
        0.95,
        0.05,
        10.0,
    );
    let r = start_canary(&sim, API_KEY, &seed).await;
    r.problem(422);
    assert_eq!(r.error_fields(), ["traffic_matrix"]);
    assert!(r.text.contains("sum to 100"), "{}", r.text);

    // A canary share above max_traffic_percentage.
    let over = canary_payload(
        "bot_abc123",
        "env_prod_456",
        "2.1.0-canary",
        70.0,
        30.0,
        10.0,
    );
    let r = start_canary(&sim, API_KEY, &over).await;
    r.problem(422);
    assert_eq!(r.error_fields(), ["traffic_matrix.canary"]);

    // Everything wrong at once: all violations are listed.
    let mut all = canary_payload(
        "bot_abc123",
        "env_prod_456",
        "2.1.0-canary",
        0.95,
        25.0,
        10.0,
    );
    all["rollback_thresholds"]["error_rate"] = json!(1.5);
    let r = start_canary(&sim, API_KEY, &all).await;
    r.problem(422);
    let mut fields = r.error_fields();
    fields.sort();
    assert_eq!(
        fields,
        [
            "rollback_thresholds.error_rate",
            "traffic_matrix",
            "traffic_matrix.canary"
        ],
        "{}",
        r.text
    );
    assert_eq!(sim.world().await["canaries"], json!([]));
}

#[tokio::test]
async fn invalid_rollback_targets_are_422() {
    let sim = start().await;
    let rollback = |version: &str, env: &str| json!({"botId": "bot_12345", "targetVersionId": version, "environment": env, "action": "ROLLBACK", "validateDependencies": true, "force": false});
    let draft = sim
        .post(
            "/api/v1/deployments",
            API_KEY,
            &rollback("v_90000", "PRODUCTION"),
        )
        .await;
    draft.problem(422);
    assert_eq!(draft.error_fields(), ["targetVersionId"]);
    assert!(draft.text.contains("DRAFT"), "{}", draft.text);

    let wrong_env = sim
        .post(
            "/api/v1/deployments",
            API_KEY,
            &rollback("v_67890", "STAGING"),
        )
        .await;
    wrong_env.problem(422);
    assert_eq!(wrong_env.error_fields(), ["environment"]);

    let both = sim
        .post(
            "/api/v1/deployments",
            API_KEY,
            &rollback("v_90000", "STAGING"),
        )
        .await;
    both.problem(422);
    assert_eq!(both.error_fields(), ["targetVersionId", "environment"]);

    let unknown = sim
        .post(
            "/api/v1/deployments",
            API_KEY,
            &rollback("v_00000", "PRODUCTION"),
        )
        .await;
    unknown.problem(404);
    assert_eq!(sim.world().await["rollbackJobs"], json!([]));
}

#[tokio::test]
async fn the_13th_status_read_in_a_minute_is_429_until_the_clock_moves() {
    let sim = start().await;
    let (dep_id, job_id) = sim.deployment_and_rollback_job(API_KEY).await;
    let env_job = sim
        .post(
            "/api/v2/deployments",
            API_KEY,
            &json!({"environment_id": "env_prod", "configuration_snapshot": {"botVersion": "1"}}),
        )
        .await;
    let env_job_id = env_job.expect(202)["jobId"].as_str().unwrap().to_string();

    for path in [
        format!("/v1/deployments/{dep_id}/status"),
        format!("/api/v1/deployments/{job_id}/status"),
        format!("/api/v2/jobs/{env_job_id}"),
    ] {
        for i in 0..12 {
            assert_eq!(
                sim.get(&path, API_KEY).await.status,
                200,
                "read {i} of {path}"
            );
        }
        let limited = sim.get(&path, API_KEY).await;
        let p = limited.problem(429);
        let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        assert_eq!(p["retryAfterSeconds"], retry);
        // Nothing has moved the clock: still limited.
        assert_eq!(sim.get(&path, API_KEY).await.status, 429);
        sim.advance(retry as f64).await;
        assert_eq!(
            sim.get(&path, API_KEY).await.status,
            200,
            "{path} after {retry}s"
        );
    }
}

#[tokio::test]
async fn the_client_budget_is_per_client_per_simulator_minute() {
    let sim = start_with(SimConfig {
        client_budget: 5,
        ..paused()
    })
    .await;
    for _ in 0..5 {
        sim.get("/api/v1/bots", API_KEY).await.expect(200);
    }
    let over = sim.get("/api/v1/environments", API_KEY).await;
    let p = over.problem(429);
    assert!(p["detail"].as_str().unwrap().contains("budget"));
    let retry: f64 = over.header("retry-after").unwrap().parse().unwrap();
    assert_eq!(retry, 60.0, "all five requests were at second 0");
    // Another client has its own budget.
    let tok = sim.token_form("bot:read").await;
    sim.get("/api/v1/bots", &tok).await.expect(200);
    sim.advance(retry).await;
    sim.get("/api/v1/bots", API_KEY).await.expect(200);
}

#[tokio::test]
async fn idempotency_key_replays_the_same_request_and_refuses_a_different_one() {
    let sim = start().await;
    let path = "/v1/bots/bot-customer-service-v2/deployments";
    let post = |token: &str, key: &str, body: &serde_json::Value| {
        sim.req(Method::POST, path)
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(body)
    };
    let body = seed000_deployment();
    let first = sim.send(post(API_KEY, "deploy-42", &body)).await;
    let id = first.expect(202)["deploymentId"].clone();
    assert!(first.header("idempotent-replayed").is_none());

    let again = sim.send(post(API_KEY, "deploy-42", &body)).await;
    assert_eq!(again.expect(202)["deploymentId"], id);
    assert_eq!(again.text, first.text, "the original body");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(
        sim.world().await["deployments"].as_array().unwrap().len(),
        1,
        "only one deployment"
    );

    let mut other = body.clone();
    other["metadata"]["validatedAt"] = json!(1);
    let changed = sim.send(post(API_KEY, "deploy-42", &other)).await;
    changed.problem(422);
    assert_eq!(changed.error_fields(), ["Idempotency-Key"]);

    // Keys are per client: another client's same key is a new request (here: bot busy).
    let tok = sim.token_form("deployment:write").await;
    let theirs = sim.send(post(&tok, "deploy-42", &body)).await;
    assert_eq!(theirs.problem(409)["conflictsWith"], id);
    assert_eq!(
        sim.world().await["deployments"].as_array().unwrap().len(),
        1
    );
}

//! Each seed's workflow on its happy path, following the seed clients' requests in order
//! (shared/seed-clients/seed00N.py): their bodies, headers and auth styles, with the
//! simulator's clock moved by the test instead of the seeds' sleeps.

mod common;

use base64::Engine;
use hmac::{KeyInit, Mac};
use reqwest::Method;
use serde_json::{Value, json};

use common::*;

const SEED000_SCOPE: &str = "bot:read+bot:write+environment:read+environment:write+deployment:read+deployment:write+nlu:read+webhook:read";

#[tokio::test]
async fn seed000_versioned_deploy_then_blue_green_switch_and_sync() {
    let sim = start().await;
    let tok = sim.token_basic(SEED000_SCOPE).await;

    // Step 1: the NLU model is published, the webhook URLs answer HEAD with 200.
    let model = sim
        .get("/v1/nlu/models/nlu-intent-classifier-v4.1", &tok)
        .await;
    assert_eq!(model.expect(200)["status"], "published");
    assert_eq!(model.json["botId"], "bot-customer-service-v2");
    for path in ["/hooks/cognigy/intent-callback", "/hooks/cognigy/analytics"] {
        let r = sim.http.head(sim.u(path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "HEAD {path}");
    }

    // Step 2: 202 with a Location to poll and an estimate.
    let created = sim.deploy_customer_service(&tok).await;
    let body = created.expect(202).clone();
    let id = body["deploymentId"]
        .as_str()
        .expect("deploymentId")
        .to_string();
    assert_eq!(body["status"], "queued");
    assert_eq!(
        created.header("location"),
        Some(format!("/v1/deployments/{id}/status").as_str())
    );
    assert_eq!(
        body["estimatedCompletionSeconds"], 12,
        "demo timing 2+3+4+3"
    );
    assert!(body["createdAt"].as_str().is_some_and(|s| s.ends_with('Z')));

    // Step 3: poll, advancing the clock by each answer's Retry-After.
    let mut seen: Vec<String> = Vec::new();
    let status = loop {
        let r = sim.get(&format!("/v1/deployments/{id}/status"), &tok).await;
        let s = r.expect(200).clone();
        seen.push(s["status"].as_str().unwrap().to_string());
        if s["status"] == "completed" {
            assert!(
                r.header("retry-after").is_none(),
                "no Retry-After when done"
            );
            break s;
        }
        assert!(seen.len() < 10, "never completed: {seen:?}");
        let wait: f64 = r
            .header("retry-after")
            .expect("Retry-After while running")
            .parse()
            .unwrap();
        sim.advance(wait).await;
    };
    assert_eq!(
        seen,
        [
            "queued",
            "compiling",
            "deploying",
            "validating",
            "completed"
        ]
    );
    let version = status["versionId"].as_str().unwrap().to_string();
    assert_eq!(
        version, "v2.4.0",
        "newest PUBLISHED version built on nlu-intent-classifier-v4.1"
    );
    assert_eq!(status["targetEnvironmentId"], "env-prod-green");
    assert!(
        status["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] == "done"),
        "{status}"
    );

    // Step 4: the seed sends trafficWeight 100 for both environments; accepted, normalised.
    let routing = sim
        .put(
            "/v1/environments/routing",
            &tok,
            &json!({
                "environments": [
                    {"environmentId": "env-prod-blue", "trafficWeight": 100.0},
                    {"environmentId": "env-prod-green", "trafficWeight": 100.0}
                ],
                "strategy": "blue_green",
                "failoverEnabled": true
            }),
        )
        .await;
    let rbody = routing.expect(200);
    let envs = rbody["environments"].as_array().unwrap();
    assert_eq!(envs.len(), 2, "{rbody}");
    for e in envs {
        assert_eq!(e["trafficWeight"], 50.0, "{rbody}");
    }
    let warnings = rbody["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("normalised")),
        "{rbody}"
    );

    // Step 5: sync the completed deployment to another region.
    let sync = sim
        .post(
            "/v1/sync/jobs",
            &tok,
            &json!({
                "sourceDeploymentId": id,
                "targetRegion": "eu-west-1",
                "syncType": "full_configuration",
                "includeNluModels": true,
                "includeWebhooks": true
            }),
        )
        .await;
    let sync_id = sync.expect(202)["syncJobId"].as_str().unwrap().to_string();
    assert_eq!(sync.json["status"], "queued");
    sim.advance(10.0).await;
    let job = sim.get(&format!("/v1/sync/jobs/{sync_id}"), &tok).await;
    assert_eq!(job.expect(200)["status"], "completed");

    // The deployed version is live in green, which now carries half the traffic.
    let bot = sim.get("/api/v1/bots/bot-customer-service-v2", &tok).await;
    let green = bot_env(bot.expect(200), "env-prod-green");
    assert_eq!(green["liveVersion"], version.as_str());
    assert_eq!(green["trafficWeight"], 50.0);
    assert_eq!(
        bot_env(&bot.json, "env-prod-blue")["liveVersion"],
        "v2.3.0",
        "blue keeps its version"
    );
}

/// Verify a Standard Webhooks signature over the delivered body.
fn verify_signature(hook: &Value, secret: &str) {
    let h = &hook["headers"];
    let id = h["webhook-id"].as_str().expect("webhook-id");
    let ts = h["webhook-timestamp"].as_str().expect("webhook-timestamp");
    let sig = h["webhook-signature"].as_str().expect("webhook-signature");
    assert!(ts.parse::<i64>().is_ok(), "timestamp is unix seconds: {ts}");
    let body = serde_json::to_vec(&hook["body"]).unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(&body);
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    assert_eq!(sig, expected, "signature over {id}.{ts}.<body>");
}

#[tokio::test]
async fn seed001_canary_with_metrics_webhook_and_audit() {
    let sim = start().await;
    let tok = sim
        .token_form("bot:deploy metrics:read webhook:manage audit:write")
        .await;

    // The seed's payload with its traffic split as percentages (95/5), max 10.
    let started = start_canary(
        &sim,
        &tok,
        &canary_payload(
            "bot_abc123",
            "env_prod_456",
            "2.1.0-canary",
            95.0,
            5.0,
            10.0,
        ),
    )
    .await;
    let canary = started.expect(201).clone();
    let cid = canary["canaryId"].as_str().unwrap().to_string();
    assert_eq!(canary["deploymentId"], cid.as_str());
    assert_eq!(canary["status"], "running");
    assert_eq!(canary["canaryWeight"], 5.0);
    assert_eq!(canary["stableVersion"], "2.0.4");
    assert_eq!(canary["version"], "2.1.0-canary");
    assert_eq!(canary["rollbackThresholds"]["error_rate"], 0.05);

    // Completion webhook pointed at the simulator's own receiver.
    let secret = "cognigy_canary_secret_key_rotation_required";
    let hook = sim
        .post(
            "/api/v1/webhooks",
            &tok,
            &json!({
                "name": "canary_completion_bot_abc123",
                "url": sim.u("/hooks/cognigy-canary"),
                "events": ["deployment.canary.completed", "deployment.canary.rolled_back"],
                "secret": secret,
                "active": true
            }),
        )
        .await;
    let hbody = hook.expect(201);
    assert!(hbody["id"].as_str().is_some());
    assert!(hbody.get("secret").is_none(), "the secret is never echoed");

    let audit = sim
        .post(
            "/api/v1/audit/logs",
            &tok,
            &json!({
                "timestamp": "2025-01-01T00:00:00+00:00",
                "bot_id": "bot_abc123",
                "action": "canary_initiated",
                "status": "success",
                "metrics": {"deploy_id": cid},
                "source": "cognigy_canary_executor_v1"
            }),
        )
        .await;
    assert!(audit.expect(201)["id"].as_str().is_some());
    assert!(audit.json["receivedAt"].as_str().is_some());

    // A few minutes of canary traffic, within the thresholds.
    sim.advance(240.0).await;
    let m = sim
        .get(
            "/api/v1/metrics/conversations?botId=bot_abc123&window=15m&metricType=canary",
            &tok,
        )
        .await;
    let metrics = m.expect(200).clone();
    let n = metrics["conversation_count"].as_u64().unwrap();
    assert!(n >= 20, "about 12 canary conversations a minute: {metrics}");
    assert!(metrics["error_rate"].as_f64().unwrap() <= 0.05, "{metrics}");
    assert!(
        metrics["satisfaction_score"].as_f64().unwrap() >= 3.5,
        "{metrics}"
    );
    assert!(
        metrics["avg_latency_ms"].as_f64().unwrap() <= 1500.0,
        "{metrics}"
    );
    let baseline = sim
        .get(
            "/api/v1/metrics/conversations?botId=bot_abc123&window=15m&metricType=baseline",
            &tok,
        )
        .await;
    let nb = baseline.expect(200)["conversation_count"].as_u64().unwrap();
    assert!(
        nb > 10 * n,
        "the canary gets 5% of the traffic: canary {n}, baseline {nb}"
    );

    // Promote: the version goes live and the registered webhook gets the signed event.
    let promoted = sim
        .post(&format!("/api/v1/canaries/{cid}/promote"), &tok, &json!({}))
        .await;
    assert_eq!(promoted.expect(200)["state"], "promoted");
    let delivered = sim
        .wait_hook(|h| {
            h["path"] == "/hooks/cognigy-canary"
                && h["body"]["type"] == "deployment.canary.completed"
        })
        .await;
    assert_eq!(delivered["body"]["data"]["canaryId"], cid.as_str());
    assert_eq!(delivered["body"]["data"]["botId"], "bot_abc123");
    assert_eq!(delivered["headers"]["content-type"], "application/json");
    verify_signature(&delivered, secret);

    let bot = sim.get("/api/v1/bots/bot_abc123", API_KEY).await;
    assert_eq!(
        bot_env(bot.expect(200), "env_prod_456")["liveVersion"],
        "2.1.0-canary"
    );
}

#[tokio::test]
async fn seed002_export_push_verify_and_rollback_flows() {
    let sim = start().await;
    let tok = sim
        .token_form("flows:read flows:write environments:read deployments:manage")
        .await;

    // Paginated export, two at a time, until offset reaches total.
    let mut flows: Vec<Value> = Vec::new();
    let mut offset = 0;
    let mut pages = 0;
    let total = loop {
        let r = sim
            .send(
                sim.req(Method::GET, "/api/v2/flows")
                    .bearer_auth(&tok)
                    .query(&[("limit", 2), ("offset", offset)]),
            )
            .await;
        let page = r.expect(200).clone();
        pages += 1;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2, "{page}");
        assert_eq!(page["offset"], offset);
        flows.extend(items.iter().cloned());
        offset += 2;
        let total = page["total"].as_u64().unwrap();
        if items.is_empty() || offset as u64 >= total {
            break total;
        }
        assert!(pages < 10);
    };
    assert_eq!(total, 6, "the demo world's flows");
    assert_eq!(flows.len() as u64, total);
    assert_eq!(pages, 3);
    let mut ids: Vec<&str> = flows.iter().map(|f| f["id"].as_str().unwrap()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 6, "no flow twice: {ids:?}");

    // The seed keeps the flows whose id matches ^flow_[a-zA-Z0-9]+$ and pushes them.
    let valid: Vec<&Value> = flows
        .iter()
        .filter(|f| {
            let id = f["id"].as_str().unwrap();
            id.strip_prefix("flow_")
                .is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric()))
        })
        .collect();
    assert_eq!(valid.len(), 4);
    for flow in &valid {
        let id = flow["id"].as_str().unwrap();
        let pushed = sim
            .post(
                "/api/v2/flows/import",
                &tok,
                &json!({"flow": flow, "environmentId": "env_prod"}),
            )
            .await;
        let p = pushed.expect(201);
        assert_eq!(p["status"], "deployed");
        assert_eq!(p["flowId"], id);
        assert_eq!(p["version"], flow["version"]);
        let status = sim
            .send(
                sim.req(Method::GET, &format!("/api/v2/flows/{id}/status"))
                    .bearer_auth(&tok)
                    .query(&[("environmentId", "env_prod")]),
            )
            .await;
        assert_eq!(status.expect(200)["status"], "deployed");
        assert_eq!(status.json["version"], flow["version"]);
    }

    // flow_greeting went from 1.0.0 to 1.1.0; rolling back restores 1.0.0.
    let rolled = sim
        .post(
            "/api/v2/flows/flow_greeting/rollback",
            &tok,
            &json!({"environmentId": "env_prod"}),
        )
        .await;
    let r = rolled.expect(200);
    assert_eq!(r["version"], "1.0.0");
    assert_eq!(r["previousVersion"], "1.1.0");
    let status = sim
        .get(
            "/api/v2/flows/flow_greeting/status?environmentId=env_prod",
            &tok,
        )
        .await;
    assert_eq!(status.expect(200)["version"], "1.0.0");
}

#[tokio::test]
async fn seed003_environment_deploy_with_validation_trace_job_and_health() {
    let sim = start().await;
    let tok = sim
        .token_form(
            "deployments:write environments:read jobs:read validations:execute webhooks:write",
        )
        .await;
    let snapshot = json!({
        "botVersion": "2.4.1",
        "nlpEngine": "v3.2",
        "dialogFlow": "production_v8",
        "integrations": ["salesforce_crm", "sap_erp"]
    });
    let capacity = json!({"max_concurrent_sessions": 500, "memory_limit_mb": 4096});

    let v = sim
        .post(
            "/api/v2/environments/env_prod_us_01/validate",
            &tok,
            &json!({
                "environmentId": "env_prod_us_01",
                "configurationSnapshot": snapshot,
                "capacityConstraints": capacity,
                "isolationRules": {
                    "tenantBoundary": "strict",
                    "networkSegment": "production-us-east-1",
                    "resourceQuotaCheck": true
                }
            }),
        )
        .await;
    let valid = v.expect(200);
    assert_eq!(valid["valid"], true, "{valid}");
    assert_eq!(valid["validationErrors"], json!([]));
    assert_eq!(valid["capacityUtilization"], 0.5, "4096 of 8192 MB");

    let t = sim
        .post(
            "/api/v2/validations/synthetic-trace",
            &tok,
            &json!({
                "environmentId": "env_prod_us_01",
                "configurationSnapshot": snapshot,
                "traceOptions": {"simulationDepth": 5, "includeDependencyGraph": true, "detectVersionConflicts": true}
            }),
        )
        .await;
    let trace = t.expect(200);
    assert_eq!(trace["status"], "passed");
    assert_eq!(trace["dependencyConflicts"], json!([]));
    assert!(trace["traceId"].as_str().is_some());
    assert!(
        trace["executionPath"]
            .as_array()
            .unwrap()
            .contains(&json!("dialog:production_v8")),
        "{trace}"
    );

    let callback = sim.u("/hooks/ci-cd/environment-deploy");
    let d = sim
        .post(
            "/api/v2/deployments",
            &tok,
            &json!({
                "environment_id": "env_prod_us_01",
                "configuration_snapshot": snapshot,
                "dependency_locks": [
                    {"package_name": "cognigy-nlp-core", "version": "3.2.0", "pinned": true},
                    {"package_name": "dialog-runtime", "version": "2.1.4", "pinned": true}
                ],
                "rollback_policy": {"auto_trigger": true, "health_threshold": 3, "timeout_seconds": 300, "revert_snapshot_id": "snap_prev_stable"},
                "capacity_constraints": capacity,
                "webhookCallbackUrl": callback
            }),
        )
        .await;
    let job_id = d.expect(202)["jobId"].as_str().unwrap().to_string();
    assert_eq!(d.json["status"], "queued");

    let path = format!("/api/v2/jobs/{job_id}");
    assert_eq!(sim.get(&path, &tok).await.expect(200)["status"], "queued");
    sim.advance(3.0).await;
    assert_eq!(sim.get(&path, &tok).await.expect(200)["status"], "running");
    sim.advance(15.0).await;
    let done = sim.get(&path, &tok).await;
    assert_eq!(done.expect(200)["status"], "completed");

    let h = sim
        .get("/api/v2/environments/env_prod_us_01/health", &tok)
        .await;
    let health = h.expect(200);
    assert_eq!(health["status"], "healthy");
    assert!(health["errorRate"].as_f64().unwrap() < 0.05);

    // The callback URL got the completion.
    let got = sim
        .wait_hook(|h| h["path"] == "/hooks/ci-cd/environment-deploy")
        .await;
    assert_eq!(
        got["body"]["event"], "environment.deployment.completed",
        "{got}"
    );
    assert_eq!(got["body"]["jobId"], job_id.as_str());
    assert_eq!(got["body"]["status"], "completed");

    // The environment now runs the snapshot.
    let envs = sim.get("/api/v1/environments", &tok).await;
    let env = envs.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "env_prod_us_01")
        .cloned()
        .unwrap();
    assert_eq!(env["configuration"], snapshot);

    // Audit: a JSON body back (the seed parses every response as JSON).
    let a = sim
        .post(
            "/api/v2/audit/logs",
            &tok,
            &json!({
                "timestamp": "2025-01-01T00:00:00+00:00",
                "jobId": job_id,
                "deploymentSuccess": true,
                "durationSeconds": 18.0,
                "auditCategory": "environment_deployment",
                "complianceFlags": {"governanceApproved": true, "dataResidencyCheck": true}
            }),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert!(a.content_type().starts_with("application/json"));
    assert!(a.json["id"].as_str().is_some(), "{}", a.text);
}

#[tokio::test]
async fn seed004_rollback_to_a_chosen_version_with_api_key() {
    let sim = start().await;
    let key = API_KEY;

    let versions = sim
        .get("/api/v1/bots/bot_12345/versions?page=1&size=50", key)
        .await;
    let vbody = versions.expect(200);
    assert_eq!(vbody["success"], true);
    let target = vbody["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == "v_67890")
        .expect("v_67890 listed");
    assert_eq!(target["status"], "PUBLISHED");
    assert_eq!(target["environment"], "PRODUCTION");

    let sessions = sim
        .get("/api/v1/sessions?status=active&botId=bot_12345", key)
        .await;
    assert_eq!(sessions.expect(200)["data"], json!([]), "no active session");

    // Before: the live v_80112 answers with too little confidence.
    let probe = json!({"message": "I need help with my order"});
    let before = sim.post("/api/v1/bots/bot_12345/test", key, &probe).await;
    assert_eq!(before.expect(200)["data"]["versionId"], "v_80112");
    assert!(
        before.json["data"]["intent"]["confidence"]
            .as_f64()
            .unwrap()
            < 0.85
    );

    let job = sim
        .post(
            "/api/v1/deployments",
            key,
            &json!({
                "botId": "bot_12345",
                "targetVersionId": "v_67890",
                "environment": "PRODUCTION",
                "action": "ROLLBACK",
                "validateDependencies": true,
                "force": false
            }),
        )
        .await;
    let jbody = job.expect(202);
    assert_eq!(jbody["success"], true);
    assert_eq!(jbody["data"]["state"], "QUEUED");
    let job_id = jbody["data"]["jobId"].as_str().unwrap().to_string();

    let path = format!("/api/v1/deployments/{job_id}/status");
    let mut states = Vec::new();
    for step in [2.0, 6.0, 0.0] {
        let s = sim.get(&path, key).await;
        assert_eq!(s.expect(200)["success"], true);
        states.push(s.json["data"]["state"].as_str().unwrap().to_string());
        sim.advance(step).await;
    }
    assert_eq!(states, ["QUEUED", "RUNNING", "COMPLETED"]);

    let after = sim.post("/api/v1/bots/bot_12345/test", key, &probe).await;
    let data = &after.expect(200)["data"];
    assert_eq!(data["intent"]["name"], "order_support");
    assert!(
        data["intent"]["confidence"].as_f64().unwrap() >= 0.85,
        "{data}"
    );
    assert_eq!(data["versionId"], "v_67890");

    // The rollback through /api/v1 is what /v1 routing shows.
    assert_eq!(
        routing_live(&sim, key, "bot_12345", "env_prod").await,
        "v_67890"
    );

    // The seed's own event post to its CI webhook.
    let posted = sim
        .send(
            sim.req(Method::POST, "/hooks/ci-cd/cognigy-events")
                .json(&json!({"eventType": "BOT_VERSION_ROLLBACK", "jobId": job_id})),
        )
        .await;
    posted.expect(200);
    assert!(sim.hooks().await.iter().any(
        |h| h["path"] == "/hooks/ci-cd/cognigy-events" && h["body"]["jobId"] == job_id.as_str()
    ));
}

//! Secrets stay secret: with client-credentials auth and a webhook signing secret, neither
//! the client secret (nor its encodings), nor the webhook secret, nor an issued access
//! token appears in the tracing output, the progress events, the reports, the audit log or
//! what the webhook receiver got — whether the workflows succeed, fail to deliver a
//! webhook, or are refused by the token endpoint for a wrong secret.

mod engine_common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use engine_common::{Finished, HOOK_PATH, Harness, Hook, Setup};
use relcon::backend::{Auth, TokenStyle};
use relcon::domain::Stage;
use relcon::engine::canary;
use relcon::engine::deploy::{self, DeployPlan};
use relcon::engine::environment::{self, EnvPlan, Snapshot};
use relcon::engine::events::Outcome;
use relcon::engine::flows::{self, FlowsPlan};
use relcon::engine::rollback::{self, RollbackPlan};
use secrecy::SecretString;
use serde_json::json;

const CLIENT_ID: &str = "relcon-ci";
const CLIENT_SECRET: &str = "cs-Quokka7f3e9d1b-never-log-me";
const WRONG_SECRET: &str = "cs-Wombat55aa01c3-never-log-me-either";
const WEBHOOK_SECRET: &str = "wh-Narwhal4c2a88e1-signing-key";

/// Everything every test in this file traced, at every level.
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .init();
        buf
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The forms a secret could leak in: as is, percent-encoded in a form body, and inside a
/// Basic credential.
fn forms_of(secret: &str) -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    vec![
        secret.to_string(),
        secret.replace('-', "%2D"),
        b64.encode(format!("{CLIENT_ID}:{secret}")),
    ]
}

fn assert_clean(what: &str, text: &str, tokens: &[String]) {
    for secret in [CLIENT_SECRET, WRONG_SECRET, WEBHOOK_SECRET] {
        for form in forms_of(secret) {
            assert!(!text.contains(&form), "{what} contains a secret ({form})");
        }
    }
    // The webhook secret's signing key shows as its raw bytes base64-encoded, too.
    let key = base64::engine::general_purpose::STANDARD.encode(WEBHOOK_SECRET);
    assert!(!text.contains(&key), "{what} contains the webhook key");
    for t in tokens {
        assert!(
            !text.contains(t.as_str()),
            "{what} contains an access token"
        );
    }
}

async fn harness(secret: &str, style: TokenStyle, hook: Hook) -> Harness {
    logs();
    Harness::start(Setup {
        register_client: Some((CLIENT_ID.into(), CLIENT_SECRET.into())),
        auth: Some(Auth::ClientCredentials {
            client_id: CLIENT_ID.into(),
            client_secret: SecretString::from(secret.to_string()),
            style,
            token_url: "/oauth/token".into(),
            scopes: vec![],
        }),
        hook,
        webhook_secret: WEBHOOK_SECRET.into(),
        ..Setup::default()
    })
    .await
}

/// The access tokens the simulator issued (they are secrets too).
fn tokens(h: &Harness) -> Vec<String> {
    h.sim.app.lock().auth.tokens.keys().cloned().collect()
}

/// Every place a run leaves text: its events, its report, the audit log, the receiver.
fn assert_run_clean(h: &Harness, done: &Finished, tokens: &[String]) {
    for e in &done.events {
        assert_clean(
            "a progress event",
            &serde_json::to_string(e).unwrap(),
            tokens,
        );
    }
    assert_clean(
        "the report",
        &serde_json::to_string(&done.report).unwrap(),
        tokens,
    );
    assert_clean("the report's summary", &done.report.summary, tokens);
    assert_clean("the audit log", &h.audit_text(), tokens);
    for hook in h.received_hooks() {
        assert_clean(
            "a received webhook",
            &serde_json::to_string(&hook).unwrap(),
            tokens,
        );
    }
}

fn deploy_plan() -> DeployPlan {
    DeployPlan {
        bot: "bot-customer-service-v2".into(),
        version: "v2.4.0".into(),
        target: None,
        regions: vec![],
        timeout: Duration::from_secs(3600),
    }
}

fn rollback_plan() -> RollbackPlan {
    RollbackPlan {
        bot: "bot_12345".into(),
        target: Some("v_67890".into()),
        environment: Stage::Production,
        max_active_sessions: 10,
        wait_drain: Duration::ZERO,
        fallback: None,
        test_message: "where is my order".into(),
        expected_intent: "order_support".into(),
        min_confidence: 0.85,
        timeout: Duration::from_secs(3600),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_deploy_with_client_credentials_leaks_nothing() {
    let h = harness(CLIENT_SECRET, TokenStyle::Basic, Hook::Sim).await;
    let done = h.run(move |ctx| deploy::run(ctx, deploy_plan())).await;
    assert_eq!(
        done.report.outcome,
        Outcome::Succeeded,
        "{}",
        done.report.summary
    );
    // The webhook really was signed with the secret that must not show.
    assert!(
        h.received_hooks()
            .iter()
            .any(|x| x.path == HOOK_PATH && x.headers.contains_key("webhook-signature"))
    );
    let tokens = tokens(&h);
    assert!(!tokens.is_empty());
    assert_run_clean(&h, &done, &tokens);
    let text = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
    assert!(
        text.contains("fetched an access token"),
        "the tracing output was not captured"
    );
    assert_clean("the tracing output", &text, &tokens);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_fails_to_deliver_leaks_nothing() {
    // Form-style credentials; the receiver answers 503 to every delivery.
    let h = harness(
        CLIENT_SECRET,
        TokenStyle::Form,
        Hook::SimPath("/hooks/status/503/relcon"),
    )
    .await;
    let done = h.run(move |ctx| rollback::run(ctx, rollback_plan())).await;
    assert_eq!(
        done.report.outcome,
        Outcome::Succeeded,
        "{}",
        done.report.summary
    );
    assert!(
        done.details().iter().any(|d| d.contains("not delivered")),
        "{:?}",
        done.details()
    );
    assert!(
        h.audit_records()
            .iter()
            .any(|r| r.event == "webhook_delivery" && r.outcome.as_deref() == Some("failed"))
    );
    let tokens = tokens(&h);
    assert_run_clean(&h, &done, &tokens);
    let text = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
    assert_clean("the tracing output", &text, &tokens);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_client_secret_fails_every_workflow_without_showing_it() {
    for style in [TokenStyle::Basic, TokenStyle::Form] {
        let h = harness(WRONG_SECRET, style, Hook::None).await;
        let manifest = h.dir.path().join("flows.json");
        let runs = vec![
            h.run(move |ctx| deploy::run(ctx, deploy_plan())).await,
            h.run(move |ctx| {
                canary::run(
                    ctx,
                    engine_common::canary_plan("bot_abc123", "2.1.0-canary", &[10.0, 100.0]),
                )
            })
            .await,
            h.run(move |ctx| rollback::run(ctx, rollback_plan())).await,
            h.run(move |ctx| {
                flows::run(
                    ctx,
                    FlowsPlan {
                        environment: "env_prod".into(),
                        bot: None,
                        manifest_path: manifest,
                    },
                )
            })
            .await,
            h.run(move |ctx| {
                environment::run(
                    ctx,
                    EnvPlan {
                        environment: "env_prod_us_01".into(),
                        snapshot: Snapshot {
                            configuration_snapshot: json!({"nlpEngine": "v3.2"}),
                            dependency_locks: vec![],
                            rollback_policy: Default::default(),
                            capacity_constraints: json!({"max_concurrent_sessions": 500}),
                            isolation_rules: None,
                            callback_url: None,
                        },
                        health_interval: Duration::from_secs(30),
                    },
                )
            })
            .await,
        ];
        for done in &runs {
            let r = &done.report;
            assert_eq!(
                r.outcome,
                Outcome::Failed,
                "{:?}: {}",
                r.workflow,
                r.summary
            );
            assert!(
                r.summary.contains("rejected the credentials")
                    && r.summary.contains("refused the client"),
                "{:?}: {}",
                r.workflow,
                r.summary
            );
            assert_run_clean(&h, done, &[]);
        }
        assert!(tokens(&h).is_empty(), "no token for a wrong secret");
    }
    let text = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
    assert_clean("the tracing output", &text, &[]);
}

//! The audit log and webhooks through their public API only: a deploy's events are sent to
//! a local receiver that checks signatures the way a CI system would, every delivery is
//! audited, and the log verifies and reads back.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use relcon::audit::{self, AuditEntry, AuditLog, Filter};
use relcon::webhook::{
    self, DeliveryPolicy, RetryPolicy, SignedHeaders, WebhookSender, WebhookTarget,
};
use secrecy::SecretString;
use serde_json::json;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A receiver that accepts only correctly signed messages and keeps their event types.
async fn receiver(
    State(accepted): State<Arc<Mutex<Vec<String>>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let signed = SignedHeaders {
        id: get("webhook-id"),
        timestamp: get("webhook-timestamp"),
        signature: get("webhook-signature"),
    };
    let now = chrono::Utc::now().timestamp();
    if webhook::verify(&webhook::secret_bytes(SECRET), &signed, &body, now, 300).is_err() {
        return StatusCode::UNAUTHORIZED;
    }
    let envelope: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    accepted
        .lock()
        .unwrap()
        .push(envelope["type"].as_str().unwrap_or("").to_string());
    StatusCode::OK
}

#[tokio::test]
async fn a_deploy_is_announced_signed_and_audited() {
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ci", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/ci", post(receiver))
        .with_state(accepted.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let client = reqwest::Client::builder().build().unwrap();
    assert_eq!(webhook::check_reachable(&client, &url).await, Ok(405));
    let target = WebhookTarget::new(&url, SecretString::from(SECRET), vec![]).unwrap();
    let sender = WebhookSender::new(
        client,
        vec![target],
        DeliveryPolicy {
            retry: RetryPolicy {
                base_delay: Duration::from_millis(1),
                ..DeliveryPolicy::default().retry
            },
            ..DeliveryPolicy::default()
        },
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit/audit.jsonl");
    let log = AuditLog::open_anchored(&path, Some(path.with_extension("head"))).unwrap();

    for event in ["started", "completed"] {
        let mut entry = AuditEntry::new("ci-bot", "deploy", event);
        entry.bot = Some("support-bot".into());
        entry.from_version = Some("v12".into());
        entry.to_version = Some("v13".into());
        log.append(entry).await.unwrap();
        for delivery in sender
            .deliver(&format!("deploy.{event}"), json!({"bot": "support-bot"}))
            .await
        {
            assert!(delivery.delivered, "{delivery:?}");
            log.append(delivery.audit_entry("ci-bot", "deploy"))
                .await
                .unwrap();
        }
    }

    assert_eq!(
        *accepted.lock().unwrap(),
        vec!["deploy.started", "deploy.completed"]
    );
    let report = audit::verify_anchored(&path, Some(&path.with_extension("head"))).unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.records, 4);

    let records = audit::read_records(&path).unwrap();
    let filter = Filter {
        bot: Some("support-bot".into()),
        ..Filter::default()
    };
    let shown: Vec<String> = records
        .iter()
        .filter(|r| filter.matches(r))
        .map(audit::format_human)
        .collect();
    assert_eq!(shown.len(), 2);
    assert!(shown[1].contains("deploy/completed"), "{}", shown[1]);
    assert!(shown[1].contains("v12 → v13"), "{}", shown[1]);
    let delivery = audit::format_human(&records[1]);
    assert!(delivery.contains("outcome=delivered"), "{delivery}");
    assert!(!std::fs::read_to_string(&path).unwrap().contains("MfKQ9r8"));
}

//! Outbound CI/CD webhooks, signed per the [Standard Webhooks] specification and retried.
//!
//! Every message is a JSON envelope `{"type": …, "timestamp": RFC 3339, "data": …}` sent
//! with the headers
//!
//! * `webhook-id`: `msg_` + a UUID v4; the same on every retry, so receivers can de-duplicate;
//! * `webhook-timestamp`: Unix seconds of the attempt;
//! * `webhook-signature`: `v1,` + base64 of HMAC-SHA256(secret, `"{id}.{timestamp}.{body}"`).
//!
//! Secrets written `whsec_<base64>` are decoded (the spec's format); any other string is used
//! as raw bytes. Receivers can check messages with [`verify`].
//!
//! Delivery never fails the caller: [`WebhookSender::deliver`] returns one
//! [`DeliveryRecord`] per target saying what happened, for the audit log
//! ([`DeliveryRecord::audit_entry`]).
//!
//! [Standard Webhooks]: https://www.standardwebhooks.com/

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backon::Retryable;

pub use crate::retry::RetryPolicy;
use base64::prelude::{BASE64_STANDARD, Engine as _};
use chrono::{SecondsFormat, Utc};
use reqwest::header::CONTENT_TYPE;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::audit::AuditEntry;
use crate::sanitize::clean;

pub use crate::signing::{SECRET_PREFIX, SignedHeaders, VerifyError, secret_bytes, sign, verify};

/// Where to send events, and how to sign them.
#[derive(Clone)]
pub struct WebhookTarget {
    /// `http` or `https` URL. Some services put credentials in the URL, so logs and audit
    /// records show only its origin (see [`redacted_url`]).
    pub url: String,
    /// The signing secret, `whsec_<base64>` or raw.
    pub secret: SecretString,
    /// Event types to send (exact match); empty means all.
    pub events: Vec<String>,
}

/// Why a webhook target was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("webhook URL {url:?} is not valid: {reason}; use an absolute http:// or https:// URL")]
    BadUrl { url: String, reason: String },
    #[error("the webhook secret for {url} is empty; set a secret so receivers can verify messages")]
    EmptySecret { url: String },
    #[error(
        "the webhook secret for {url} starts with whsec_ but the rest is not valid base64; copy the secret again"
    )]
    BadSecret { url: String },
}

impl WebhookTarget {
    /// A checked target: the URL must be absolute http(s), the secret non-empty and, if it
    /// starts with `whsec_`, valid base64 after it.
    pub fn new(
        url: impl Into<String>,
        secret: SecretString,
        events: Vec<String>,
    ) -> Result<WebhookTarget, TargetError> {
        let url = url.into();
        match reqwest::Url::parse(&url) {
            Err(e) => {
                return Err(TargetError::BadUrl {
                    url: clean(&url),
                    reason: e.to_string(),
                });
            }
            Ok(u) if !matches!(u.scheme(), "http" | "https") => {
                return Err(TargetError::BadUrl {
                    url: redacted_url(&url),
                    reason: format!("scheme {:?} is not http or https", u.scheme()),
                });
            }
            Ok(_) => {}
        }
        let s = secret.expose_secret();
        if s.is_empty() {
            return Err(TargetError::EmptySecret {
                url: redacted_url(&url),
            });
        }
        if let Some(b64) = s.strip_prefix(SECRET_PREFIX)
            && (b64.is_empty() || BASE64_STANDARD.decode(b64).is_err())
        {
            return Err(TargetError::BadSecret {
                url: redacted_url(&url),
            });
        }
        Ok(WebhookTarget {
            url,
            secret,
            events,
        })
    }

    /// True if this target wants events of `event_type`.
    pub fn wants(&self, event_type: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == event_type)
    }
}

impl fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("url", &redacted_url(&self.url))
            .field("secret", &"[redacted]")
            .field("events", &self.events)
            .finish()
    }
}

/// The origin of a URL (`scheme://host[:port]`), which is what logs and audit records show:
/// paths and queries of webhook URLs can carry credentials.
pub fn redacted_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => u.origin().ascii_serialization(),
        Err(_) => "[invalid url]".to_string(),
    }
}

/// How hard to try: the code base's one retry policy, and a limit per attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// Attempts, backoff (full jitter) and the cap on a target's Retry-After.
    pub retry: RetryPolicy,
    /// Limit for one attempt, connecting to reading the answer.
    pub per_attempt_timeout: Duration,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        DeliveryPolicy {
            retry: RetryPolicy {
                attempts: 4,
                base_delay: Duration::from_millis(500),
                max_delay: Duration::from_secs(30),
            },
            per_attempt_timeout: Duration::from_secs(10),
        }
    }
}

/// What happened to one event at one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// The target's configured URL (may carry credentials; show [`redacted_url`] of it).
    pub url: String,
    pub event_type: String,
    /// The `webhook-id` sent on every attempt.
    pub msg_id: String,
    /// Attempts made (at least 1).
    pub attempts: u32,
    /// True if the target answered 2xx.
    pub delivered: bool,
    /// HTTP status of the last answer, if any came.
    pub status: Option<u16>,
    /// Why the last attempt failed; sanitised, never contains the secret.
    pub error: Option<String>,
}

impl DeliveryRecord {
    /// An audit entry (event `webhook_delivery`) for this delivery. Shows the URL's origin
    /// only.
    pub fn audit_entry(&self, operator: &str, operation: &str) -> AuditEntry {
        AuditEntry {
            outcome: Some(
                if self.delivered {
                    "delivered"
                } else {
                    "failed"
                }
                .to_string(),
            ),
            detail: self.error.clone(),
            metrics: Some(json!({
                "target": redacted_url(&self.url),
                "event_type": self.event_type,
                "msg_id": self.msg_id,
                "attempts": self.attempts,
                "status": self.status,
            })),
            ..AuditEntry::new(operator, operation, "webhook_delivery")
        }
    }
}

/// The message body.
#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    timestamp: String,
    data: &'a Value,
}

/// Why one attempt failed.
#[derive(Debug)]
struct AttemptError {
    status: Option<u16>,
    retry_after: Option<Duration>,
    retryable: bool,
    message: String,
}

/// Sends signed events to the configured targets.
#[derive(Clone, Debug)]
pub struct WebhookSender {
    client: reqwest::Client,
    targets: Vec<WebhookTarget>,
    policy: DeliveryPolicy,
}

impl WebhookSender {
    /// A sender using the process's shared `client`.
    pub fn new(
        client: reqwest::Client,
        targets: Vec<WebhookTarget>,
        policy: DeliveryPolicy,
    ) -> WebhookSender {
        WebhookSender {
            client,
            targets,
            policy,
        }
    }

    /// The configured targets, e.g. to [`check_reachable`] them before a deploy.
    pub fn targets(&self) -> &[WebhookTarget] {
        &self.targets
    }

    /// Send `data` as an event of `event_type` to every target that wants it, concurrently,
    /// retrying network errors, 429 and 5xx. Never fails: each target yields a record, in
    /// the order of the targets; targets that do not want the event yield none.
    pub async fn deliver(&self, event_type: &str, data: Value) -> Vec<DeliveryRecord> {
        let msg_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        let envelope = Envelope {
            kind: event_type,
            timestamp: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
            data: &data,
        };
        let wanted = self.targets.iter().filter(|t| t.wants(event_type));
        let body = match serde_json::to_vec(&envelope) {
            Ok(body) => body,
            Err(e) => {
                return wanted
                    .map(|t| DeliveryRecord {
                        url: t.url.clone(),
                        event_type: event_type.to_string(),
                        msg_id: msg_id.clone(),
                        attempts: 0,
                        delivered: false,
                        status: None,
                        error: Some(format!(
                            "could not encode the event: {}",
                            clean(&e.to_string())
                        )),
                    })
                    .collect();
            }
        };
        let deliveries = wanted.map(|t| self.deliver_one(t, event_type, &msg_id, &body));
        futures::future::join_all(deliveries).await
    }

    async fn deliver_one(
        &self,
        target: &WebhookTarget,
        event_type: &str,
        msg_id: &str,
        body: &[u8],
    ) -> DeliveryRecord {
        let secret = secret_bytes(target.secret.expose_secret());
        let retry = self.policy.retry;
        let max_delay = retry.max_delay;
        let backoff = retry.waits().take(retry.tries() as usize - 1);
        let attempts = AtomicU32::new(0);
        let (attempts_ref, secret_ref, url) = (&attempts, secret.as_slice(), target.url.as_str());
        let shown_url = redacted_url(url);
        let result = (|| async move {
            attempts_ref.fetch_add(1, Ordering::Relaxed);
            self.attempt(url, msg_id, secret_ref, body).await
        })
        .retry(backoff)
        .when(|e: &AttemptError| e.retryable)
        .adjust(move |e: &AttemptError, delay: Option<Duration>| {
            delay.map(|d| e.retry_after.map_or(d, |ra| ra.min(max_delay)))
        })
        .notify(|e: &AttemptError, delay: Duration| {
            tracing::warn!(
                target = %shown_url,
                msg_id,
                error = %redact(&e.message, target.secret.expose_secret()),
                delay_ms = delay.as_millis() as u64,
                "webhook delivery failed; retrying"
            );
        })
        .await;

        let (delivered, status, error) = match result {
            Ok(status) => (true, Some(status), None),
            Err(e) => (
                false,
                e.status,
                Some(redact(&e.message, target.secret.expose_secret())),
            ),
        };
        DeliveryRecord {
            url: target.url.clone(),
            event_type: event_type.to_string(),
            msg_id: msg_id.to_string(),
            attempts: attempts.load(Ordering::Relaxed),
            delivered,
            status,
            error,
        }
    }

    /// One signed POST. Ok(status) on 2xx.
    async fn attempt(
        &self,
        url: &str,
        msg_id: &str,
        secret: &[u8],
        body: &[u8],
    ) -> Result<u16, AttemptError> {
        let timestamp = Utc::now().timestamp();
        let response = self
            .client
            .post(url)
            .header("webhook-id", msg_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", sign(secret, msg_id, timestamp, body))
            .header(CONTENT_TYPE, "application/json")
            .timeout(self.policy.per_attempt_timeout)
            .body(body.to_vec())
            .send()
            .await;
        let mut response = match response {
            Ok(r) => r,
            Err(e) => {
                return Err(AttemptError {
                    status: None,
                    retry_after: None,
                    retryable: !e.is_builder(),
                    message: describe(e, self.policy.per_attempt_timeout),
                });
            }
        };
        let status = response.status();
        if status.is_success() {
            return Ok(status.as_u16());
        }
        let retryable = status.as_u16() == 429 || status.is_server_error();
        let retry_after = if retryable {
            crate::retry::retry_after(response.headers())
        } else {
            None
        };
        // The start of the answer, for the operator; one chunk is plenty.
        let said = match response.chunk().await {
            Ok(Some(chunk)) => {
                let text = String::from_utf8_lossy(&chunk[..chunk.len().min(512)]).into_owned();
                let text: String = text.chars().take(200).collect();
                let text = text.trim().to_string();
                if text.is_empty() {
                    String::new()
                } else {
                    format!(": {text}")
                }
            }
            _ => String::new(),
        };
        Err(AttemptError {
            status: Some(status.as_u16()),
            retry_after,
            retryable,
            message: format!("target answered {status}{said}"),
        })
    }
}

/// A reqwest error as one line, without the URL (which can carry credentials).
fn describe(e: reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("no answer within {} ms", timeout.as_millis());
    }
    let lead = if e.is_connect() {
        "could not connect"
    } else if e.is_builder() {
        "could not build the request"
    } else {
        "request failed"
    };
    let e = e.without_url();
    let mut parts = vec![e.to_string()];
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let text = s.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    format!("{lead}: {}", parts.join(": "))
}

/// Sanitise `message` and blank out the secret, whole or its base64 part.
fn redact(message: &str, secret: &str) -> String {
    let mut out = clean(message);
    let mut needles = vec![secret];
    if let Some(rest) = secret.strip_prefix(SECRET_PREFIX) {
        needles.push(rest);
    }
    for needle in needles {
        if needle.len() >= 4 {
            out = out.replace(needle, "[redacted]");
        }
    }
    out
}

/// Whether `url` answers at all: a HEAD request with a 5 s timeout. Ok(status) for any
/// answer (200 means reachable; a 405 still proves the host is there), Err(reason) if no
/// answer came.
pub async fn check_reachable(client: &reqwest::Client, url: &str) -> Result<u16, String> {
    const TIMEOUT: Duration = Duration::from_secs(5);
    match client.head(url).timeout(TIMEOUT).send().await {
        Ok(response) => Ok(response.status().as_u16()),
        Err(e) => Err(format!(
            "{} is not reachable: {}",
            redacted_url(url),
            clean(&describe(e, TIMEOUT))
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap as AxumHeaders, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::{get, post};
    use std::sync::{Arc, Mutex};

    /// The Standard Webhooks specification's example secret.
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn targets_are_checked_and_never_show_their_secret() {
        let t = WebhookTarget::new(
            "https://hooks.example.com/services/T0/B0/XYZ?token=abc",
            SecretString::from(SPEC_SECRET),
            vec!["deploy.completed".into()],
        )
        .unwrap();
        let debug = format!("{t:?}");
        assert!(!debug.contains("MfKQ9r8GKYqr"), "{debug}");
        assert!(!debug.contains("XYZ") && !debug.contains("abc"), "{debug}");
        assert!(debug.contains("https://hooks.example.com"), "{debug}");
        assert!(t.wants("deploy.completed") && !t.wants("canary.started"));

        let bad = |url: &str, secret: &str| {
            WebhookTarget::new(url, SecretString::from(secret), vec![]).unwrap_err()
        };
        assert!(matches!(
            bad("not a url", "s3cret"),
            TargetError::BadUrl { .. }
        ));
        assert!(matches!(
            bad("ftp://x.example/", "s3cret"),
            TargetError::BadUrl { .. }
        ));
        assert!(matches!(
            bad("https://x.example/", ""),
            TargetError::EmptySecret { .. }
        ));
        assert!(matches!(
            bad("https://x.example/", "whsec_!!"),
            TargetError::BadSecret { .. }
        ));
    }

    #[test]
    fn delivery_records_become_audit_entries_without_url_paths() {
        let record = DeliveryRecord {
            url: "https://hooks.example.com/services/SECRETPATH".into(),
            event_type: "deploy.completed".into(),
            msg_id: "msg_1".into(),
            attempts: 2,
            delivered: false,
            status: Some(503),
            error: Some("target answered 503".into()),
        };
        let entry = record.audit_entry("ci", "deploy");
        assert_eq!(entry.event, "webhook_delivery");
        assert_eq!(entry.outcome.as_deref(), Some("failed"));
        let metrics = entry.metrics.unwrap();
        assert_eq!(metrics["target"], "https://hooks.example.com");
        assert_eq!(metrics["status"], 503);
        assert!(!metrics.to_string().contains("SECRETPATH"));
    }

    // ---- against a local server ----

    #[derive(Default)]
    struct Seen {
        requests: Mutex<Vec<(AxumHeaders, Bytes)>>,
    }

    impl Seen {
        fn record(&self, headers: AxumHeaders, body: Bytes) -> usize {
            let mut r = self.requests.lock().unwrap();
            r.push((headers, body));
            r.len()
        }
        fn all(&self) -> Vec<(AxumHeaders, Bytes)> {
            self.requests.lock().unwrap().clone()
        }
    }

    async fn serve(app: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }

    fn client() -> reqwest::Client {
        reqwest::Client::builder().build().unwrap()
    }

    fn fast(attempts: u32) -> DeliveryPolicy {
        DeliveryPolicy {
            retry: RetryPolicy {
                attempts,
                base_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(5),
            },
            per_attempt_timeout: Duration::from_secs(5),
        }
    }

    fn target(url: &str, events: &[&str]) -> WebhookTarget {
        WebhookTarget::new(
            url,
            SecretString::from(SPEC_SECRET),
            events.iter().map(|e| e.to_string()).collect(),
        )
        .unwrap()
    }

    fn header<'a>(h: &'a AxumHeaders, name: &str) -> &'a str {
        h.get(name).unwrap().to_str().unwrap()
    }

    #[tokio::test]
    async fn retries_5xx_with_the_same_id_and_a_valid_signature_each_time() {
        async fn flaky(State(seen): State<Arc<Seen>>, h: AxumHeaders, body: Bytes) -> StatusCode {
            if seen.record(h, body) <= 2 {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::OK
            }
        }
        let seen = Arc::new(Seen::default());
        let base = serve(
            Router::new()
                .route("/hook", post(flaky))
                .with_state(seen.clone()),
        )
        .await;
        let url = format!("{base}/hook");
        let sender = WebhookSender::new(client(), vec![target(&url, &[])], fast(4));
        let records = sender
            .deliver(
                "deploy.completed",
                json!({"bot": "support-bot", "version": "v13"}),
            )
            .await;

        assert_eq!(records.len(), 1);
        let r = &records[0];
        assert!(r.delivered, "{r:?}");
        assert_eq!(
            (r.attempts, r.status, r.error.as_deref()),
            (3, Some(200), None)
        );
        assert_eq!(r.event_type, "deploy.completed");
        assert!(r.msg_id.starts_with("msg_"));

        let requests = seen.all();
        assert_eq!(requests.len(), 3);
        let key = secret_bytes(SPEC_SECRET);
        for (h, body) in &requests {
            assert_eq!(header(h, "webhook-id"), r.msg_id);
            assert_eq!(header(h, "content-type"), "application/json");
            let signed = SignedHeaders {
                id: header(h, "webhook-id"),
                timestamp: header(h, "webhook-timestamp"),
                signature: header(h, "webhook-signature"),
            };
            assert_eq!(
                verify(&key, &signed, body, Utc::now().timestamp(), 300),
                Ok(())
            );
            let envelope: Value = serde_json::from_slice(body).unwrap();
            assert_eq!(envelope["type"], "deploy.completed");
            assert_eq!(envelope["data"]["version"], "v13");
            assert!(
                chrono::DateTime::parse_from_rfc3339(envelope["timestamp"].as_str().unwrap())
                    .is_ok()
            );
        }
    }

    #[tokio::test]
    async fn honours_retry_after_clamped_to_the_max_delay() {
        async fn busy(
            State(seen): State<Arc<Seen>>,
            h: AxumHeaders,
            body: Bytes,
        ) -> axum::response::Response {
            if seen.record(h, body) == 1 {
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", "3600")],
                    "slow down",
                )
                    .into_response()
            } else {
                StatusCode::NO_CONTENT.into_response()
            }
        }
        let seen = Arc::new(Seen::default());
        let base = serve(
            Router::new()
                .route("/", post(busy))
                .with_state(seen.clone()),
        )
        .await;
        let sender = WebhookSender::new(client(), vec![target(&base, &[])], fast(3));
        let started = std::time::Instant::now();
        let records = sender.deliver("canary.started", json!({})).await;
        assert!(records[0].delivered, "{:?}", records[0]);
        assert_eq!((records[0].attempts, records[0].status), (2, Some(204)));
        // An hour's Retry-After was cut to max_delay (5 ms); generous bound for slow CI.
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn client_errors_are_not_retried() {
        async fn reject(
            State(seen): State<Arc<Seen>>,
            h: AxumHeaders,
            body: Bytes,
        ) -> (StatusCode, &'static str) {
            seen.record(h, body);
            (StatusCode::BAD_REQUEST, "unknown event \u{1b}[31mtype")
        }
        let seen = Arc::new(Seen::default());
        let base = serve(
            Router::new()
                .route("/", post(reject))
                .with_state(seen.clone()),
        )
        .await;
        let sender = WebhookSender::new(client(), vec![target(&base, &[])], fast(4));
        let r = &sender.deliver("deploy.failed", json!({})).await[0];
        assert!(!r.delivered);
        assert_eq!((r.attempts, r.status), (1, Some(400)));
        let error = r.error.as_deref().unwrap();
        assert!(
            error.contains("400") && error.contains("unknown event type"),
            "{error}"
        );
        assert_eq!(seen.all().len(), 1);
    }

    #[tokio::test]
    async fn a_dead_url_gives_a_failed_record_not_a_panic() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = format!("http://127.0.0.1:{port}/hook");
        let sender = WebhookSender::new(client(), vec![target(&url, &[])], fast(3));
        let records = sender.deliver("deploy.completed", json!({"x": 1})).await;
        let r = &records[0];
        assert!(!r.delivered);
        assert_eq!((r.attempts, r.status), (3, None));
        let error = r.error.as_deref().unwrap();
        assert!(error.starts_with("could not connect"), "{error}");
        assert!(!error.contains("MfKQ9r8GKYqr"), "{error}");
        assert!(check_reachable(&client(), &url).await.is_err());
    }

    #[tokio::test]
    async fn a_silent_target_times_out_per_attempt() {
        async fn silent() -> StatusCode {
            std::future::pending::<()>().await;
            StatusCode::OK
        }
        let base = serve(Router::new().route("/", post(silent))).await;
        let policy = DeliveryPolicy {
            per_attempt_timeout: Duration::from_millis(50),
            ..fast(2)
        };
        let sender = WebhookSender::new(client(), vec![target(&base, &[])], policy);
        let r = &sender.deliver("deploy.completed", json!({})).await[0];
        assert!(!r.delivered);
        assert_eq!(r.attempts, 2);
        assert_eq!(r.error.as_deref(), Some("no answer within 50 ms"));
    }

    #[tokio::test]
    async fn only_targets_that_want_the_event_get_it() {
        async fn ok(State(seen): State<Arc<Seen>>, h: AxumHeaders, body: Bytes) -> StatusCode {
            seen.record(h, body);
            StatusCode::OK
        }
        let seen = Arc::new(Seen::default());
        let base = serve(
            Router::new()
                .route("/a", post(ok))
                .route("/b", post(ok))
                .with_state(seen.clone()),
        )
        .await;
        let (a, b) = (format!("{base}/a"), format!("{base}/b"));
        let sender = WebhookSender::new(
            client(),
            vec![target(&a, &["deploy.completed"]), target(&b, &[])],
            fast(2),
        );
        let records = sender.deliver("canary.started", json!({})).await;
        assert_eq!(
            records.iter().map(|r| r.url.as_str()).collect::<Vec<_>>(),
            vec![b.as_str()]
        );
        let records = sender.deliver("deploy.completed", json!({})).await;
        assert_eq!(
            records.iter().map(|r| r.url.as_str()).collect::<Vec<_>>(),
            vec![a.as_str(), b.as_str()]
        );
        assert!(records.iter().all(|r| r.delivered));
        assert_eq!(records[0].msg_id, records[1].msg_id);
        assert_eq!(seen.all().len(), 3);
    }

    #[tokio::test]
    async fn reachability_is_any_answer() {
        let base = serve(
            Router::new()
                .route("/health", get(|| async { "ok" }))
                .route("/post-only", post(|| async { "ok" })),
        )
        .await;
        assert_eq!(
            check_reachable(&client(), &format!("{base}/health")).await,
            Ok(200)
        );
        assert_eq!(
            check_reachable(&client(), &format!("{base}/post-only")).await,
            Ok(405)
        );
    }

    #[test]
    fn secrets_are_blanked_from_messages() {
        let msg = format!("bad key {SPEC_SECRET} or MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\u{1b}[0m");
        assert_eq!(
            redact(&msg, SPEC_SECRET),
            "bad key [redacted] or [redacted]"
        );
    }
}

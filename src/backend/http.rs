//! The one shared HTTP client: timeouts, retries with `Retry-After` and full jitter, the
//! request's [`Credentials`] (a bearer token refreshed once on a 401, or a fixed key header),
//! idempotency keys on every write, and the mapping of failed responses to
//! [`BackendError`]s a person can act on.
//!
//! Every wait goes through [`Clock::sleep`], so against `relcon sim --speed X` a
//! `Retry-After: 6` lasts six simulator seconds.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::BackendError;
use super::meter::RequestMeter;
use crate::clock::Clock;
use crate::domain::FieldError;
use crate::sanitize::clean;

/// What a request carries to say who sends it, for one attempt.
#[derive(Clone)]
pub struct Presented {
    /// The header it goes in (`authorization`, `x-api-key`).
    pub header: HeaderName,
    /// Before the secret in that header: `Bearer ` for a token, nothing for a key.
    pub scheme: &'static str,
    pub secret: SecretString,
    /// Which token it is, for [`Credentials::invalidate`] after a 401.
    pub generation: u64,
}

pub type CredentialsFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, BackendError>> + Send + 'a>>;

/// How requests prove who sends them: a bearer token fetched and renewed, or a fixed key.
/// The client asks before every attempt and, after a 401, lets refreshable credentials
/// drop the refused token and asks once more.
pub trait Credentials: Send + Sync {
    /// What to send now; fetching a token may itself go through `http`.
    fn present<'a>(&'a self, http: &'a HttpClient) -> CredentialsFuture<'a, Presented>;
    /// Whether a 401 can be cured by fetching a new token.
    fn refreshable(&self) -> bool;
    /// Forget the token of `generation` (the server refused it).
    fn invalidate<'a>(&'a self, generation: u64) -> CredentialsFuture<'a, ()>;
    /// The long-lived secrets (kept out of every error message).
    fn static_secrets(&self) -> Vec<&SecretString>;
}

/// The header every write carries so a retried request is not applied twice.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

pub use crate::retry::RetryPolicy;
use crate::retry::{Deadline, retry_after};

/// Everything the client needs to know about the server it talks to.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSettings {
    /// Where the Release API lives, e.g. `http://127.0.0.1:8080` (a path prefix is kept).
    pub base_url: String,
    /// Wall time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Wall time allowed between two reads of a response.
    pub read_timeout: Duration,
    /// Wall time allowed for one attempt, from connecting to the end of the body.
    pub total_timeout: Duration,
    /// Wall time allowed for one call, every attempt and wait included: a hung server
    /// fails the call within it, whatever the retry policy.
    pub deadline: Duration,
    pub retry: RetryPolicy,
    /// The server's clock: every backoff and `Retry-After` wait is slept on it.
    pub clock: Clock,
    pub user_agent: String,
    /// Counts every request sent (shared by the process's clients, read by the scheduler).
    pub meter: RequestMeter,
}

impl HttpSettings {
    /// Settings with sensible defaults for `base_url`.
    pub fn new(base_url: impl Into<String>) -> HttpSettings {
        HttpSettings {
            base_url: base_url.into(),
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(30),
            total_timeout: Duration::from_secs(60),
            deadline: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            clock: Clock::real(),
            user_agent: format!("relcon/{}", env!("CARGO_PKG_VERSION")),
            meter: RequestMeter::default(),
        }
    }

    /// Build the process's `reqwest::Client` from these settings (clone it to share it).
    pub fn build_client(&self) -> Result<reqwest::Client, BackendError> {
        reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .read_timeout(self.read_timeout)
            .timeout(self.total_timeout)
            .user_agent(self.user_agent.clone())
            .build()
            .map_err(|e| BackendError::Config {
                detail: format!("cannot build the HTTP client: {}", error_chain(&e)),
            })
    }
}

/// A request body.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    None,
    Json(Value),
    Form(Vec<(String, String)>),
}

/// One logical call; the retry loop may send it several times.
pub(crate) struct ApiRequest {
    pub method: Method,
    /// A path below the base URL (segments already encoded), or an absolute URL.
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Body,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Strings that must never appear in an error built from this call's responses
    /// (the bearer token in use is added automatically).
    pub secrets: Vec<SecretString>,
    /// The server honours no idempotency key: the write goes without one and is never
    /// resent after it may have arrived (only a 429, which the server did not act on, is
    /// retried).
    pub once: bool,
}

impl ApiRequest {
    pub fn new(method: Method, path: impl Into<String>) -> ApiRequest {
        ApiRequest {
            method,
            path: path.into(),
            query: Vec::new(),
            body: Body::None,
            headers: Vec::new(),
            secrets: Vec::new(),
            once: false,
        }
    }

    /// See [`ApiRequest::once`].
    pub fn once(mut self) -> ApiRequest {
        self.once = true;
        self
    }

    pub fn get(path: impl Into<String>) -> ApiRequest {
        ApiRequest::new(Method::GET, path)
    }

    pub fn query(mut self, key: &'static str, value: impl Into<String>) -> ApiRequest {
        self.query.push((key, value.into()));
        self
    }

    pub fn query_opt(self, key: &'static str, value: Option<&str>) -> ApiRequest {
        match value {
            Some(v) => self.query(key, v),
            None => self,
        }
    }

    pub fn json(mut self, body: Value) -> ApiRequest {
        self.body = Body::Json(body);
        self
    }

    pub fn form(mut self, fields: Vec<(String, String)>) -> ApiRequest {
        self.body = Body::Form(fields);
        self
    }

    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> ApiRequest {
        self.headers.push((name, value));
        self
    }

    pub fn secret(mut self, secret: SecretString) -> ApiRequest {
        self.secrets.push(secret);
        self
    }

    /// How the endpoint is named in messages: `GET /v1/deployments/d-1/status`.
    pub fn what(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// A successful response: status, headers and the body as (raw, unsanitised) JSON;
/// an empty body is `Value::Null`.
#[derive(Debug)]
pub(crate) struct Reply {
    #[allow(dead_code)]
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The `Retry-After` hint of this response, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        retry_after(&self.headers)
    }

    pub fn header_str(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(clean)
    }
}

/// The shared client plus what every call needs: where, how patiently, on which clock.
pub(crate) struct HttpClient {
    client: reqwest::Client,
    base: String,
    retry: RetryPolicy,
    clock: Clock,
    connect_timeout: Duration,
    read_timeout: Duration,
    deadline: Duration,
    meter: RequestMeter,
}

enum Outcome {
    Transport(reqwest::Error),
    Response(StatusCode, HeaderMap, Vec<u8>),
}

impl HttpClient {
    pub fn new(
        client: reqwest::Client,
        settings: &HttpSettings,
    ) -> Result<HttpClient, BackendError> {
        let base = settings.base_url.trim().trim_end_matches('/').to_string();
        let parsed = Url::parse(&base).map_err(|e| BackendError::Config {
            detail: format!("the server URL {:?} is not a valid URL: {e}", clean(&base)),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(BackendError::Config {
                detail: format!(
                    "the server URL {:?} must start with http:// or https://",
                    clean(&base)
                ),
            });
        }
        Ok(HttpClient {
            client,
            base,
            retry: RetryPolicy {
                attempts: settings.retry.attempts.max(1),
                ..settings.retry
            },
            clock: settings.clock,
            connect_timeout: settings.connect_timeout,
            read_timeout: settings.read_timeout,
            deadline: settings.deadline,
            meter: settings.meter.clone(),
        })
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The absolute URL of `path` (absolute URLs are taken as they are).
    pub fn url(&self, path: &str) -> Result<Url, BackendError> {
        let full = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else if path.starts_with('/') {
            format!("{}{}", self.base, path)
        } else {
            format!("{}/{}", self.base, path)
        };
        Url::parse(&full).map_err(|e| BackendError::Config {
            detail: format!("cannot build a URL from {:?}: {e}", clean(&full)),
        })
    }

    /// Send `req`, retrying what is safe to retry, and return the decoded body of the
    /// first successful response. With `auth`, every attempt carries its bearer token and
    /// a 401 drops the token and tries once more with a fresh one.
    pub async fn execute(
        &self,
        req: &ApiRequest,
        auth: Option<&dyn Credentials>,
    ) -> Result<Reply, BackendError> {
        let url = self.url(&req.path)?;
        let what = req.what();
        let key = (needs_idempotency_key(&req.method) && !req.once).then(|| {
            crate::journal::take_idempotency_key()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
        });
        // Writes carry an idempotency key, so every method this client sends is safe to
        // resend; the check stays so a future unkeyed write is not retried by accident.
        let retry_safe = (is_idempotent(&req.method) && !req.once) || key.is_some();
        let max_attempts = self.retry.tries();
        let mut backoff = self.retry.waits();
        let deadline = Deadline::after(self.deadline);
        let clock = self.clock;
        // Another try only if its wait (on the server's clock) ends inside the deadline.
        let fits = |wait: Duration| deadline.allows(clock.to_wall(wait));
        let mut attempt: u32 = 0;
        let mut refreshed = false;

        loop {
            attempt += 1;
            let bearer = match auth {
                Some(creds) => Some(creds.present(self).await?),
                None => None,
            };
            let mut secrets: Vec<&SecretString> = req.secrets.iter().collect();
            if let Some(creds) = auth {
                secrets.extend(creds.static_secrets());
            }
            if let Some(p) = &bearer {
                secrets.push(&p.secret);
            }

            let mut rb = self
                .client
                .request(req.method.clone(), url.clone())
                .header(reqwest::header::ACCEPT, "application/json");
            if !req.query.is_empty() {
                rb = rb.query(&req.query);
            }
            for (name, value) in &req.headers {
                rb = rb.header(name.clone(), value.clone());
            }
            if let Some(key) = &key {
                rb = rb.header(IDEMPOTENCY_KEY, key.as_str());
            }
            if let Some(p) = &bearer {
                let mut value =
                    HeaderValue::from_str(&format!("{}{}", p.scheme, p.secret.expose_secret()))
                        .map_err(|_| BackendError::Config {
                            detail: "the credentials hold a character a header cannot carry; check the API key or token".into(),
                        })?;
                value.set_sensitive(true);
                rb = rb.header(p.header.clone(), value);
            }
            rb = match &req.body {
                Body::None => rb,
                Body::Json(v) => rb.json(v),
                Body::Form(fields) => rb.form(fields),
            };

            self.meter.sent();
            let meter = &self.meter;
            let exchange = async {
                match rb.send().await {
                    Ok(resp) => {
                        let status = resp.status();
                        meter.answered(status.as_u16());
                        let headers = resp.headers().clone();
                        match resp.bytes().await {
                            Ok(b) => Outcome::Response(status, headers, b.to_vec()),
                            Err(e) => Outcome::Transport(e),
                        }
                    }
                    Err(e) => Outcome::Transport(e),
                }
            };
            let Ok(outcome) = tokio::time::timeout(deadline.remaining(), exchange).await else {
                tracing::warn!(
                    method = %req.method,
                    path = %req.path,
                    attempt,
                    deadline_ms = deadline.limit().as_millis() as u64,
                    "no answer within the call's deadline"
                );
                return Err(BackendError::Timeout {
                    what: what.clone(),
                    after: deadline.limit(),
                    attempts: attempt,
                });
            };

            match outcome {
                Outcome::Transport(e) => {
                    let wait = self.retry.wait(None, &mut backoff);
                    if retry_safe && attempt < max_attempts && fits(wait) {
                        tracing::warn!(
                            method = %req.method,
                            path = %req.path,
                            attempt,
                            wait_ms = wait.as_millis() as u64,
                            error = %scrub(&error_chain(&e), &secrets),
                            "request failed in transit; retrying"
                        );
                        self.clock.sleep(wait).await;
                        continue;
                    }
                    return Err(self.transport_error(&e, &url, &what, attempt, &secrets));
                }
                // A conditional read of something unchanged: no body to parse.
                Outcome::Response(StatusCode::NOT_MODIFIED, headers, _) => {
                    return Ok(Reply {
                        status: StatusCode::NOT_MODIFIED,
                        headers,
                        body: Value::Null,
                    });
                }
                Outcome::Response(status, headers, bytes) if status.is_success() => {
                    match parse_json(&bytes) {
                        Ok(body) => {
                            return Ok(Reply {
                                status,
                                headers,
                                body,
                            });
                        }
                        Err(detail) => {
                            let wait = self.retry.wait(None, &mut backoff);
                            if retry_safe && attempt < max_attempts && fits(wait) {
                                tracing::warn!(
                                    method = %req.method,
                                    path = %req.path,
                                    status = status.as_u16(),
                                    attempt,
                                    wait_ms = wait.as_millis() as u64,
                                    "malformed JSON body; retrying"
                                );
                                self.clock.sleep(wait).await;
                                continue;
                            }
                            return Err(BackendError::Decode {
                                what: what.clone(),
                                detail: format!(
                                    "{} (after {attempt} attempt{})",
                                    scrub(&detail, &secrets),
                                    if attempt == 1 { "" } else { "s" }
                                ),
                            });
                        }
                    }
                }
                Outcome::Response(status, headers, bytes) => {
                    if status == StatusCode::UNAUTHORIZED
                        && !refreshed
                        && let (Some(creds), Some(p)) = (auth, &bearer)
                        && creds.refreshable()
                    {
                        refreshed = true;
                        tracing::info!(
                            method = %req.method,
                            path = %req.path,
                            attempt,
                            "token refused; fetching a new one and retrying once"
                        );
                        creds.invalidate(p.generation).await?;
                        continue;
                    }
                    let transient = matches!(status.as_u16(), 429 | 502 | 503 | 504)
                        || (status == StatusCode::INTERNAL_SERVER_ERROR
                            && matches!(req.method, Method::GET | Method::HEAD));
                    let hint = retry_after(&headers).or_else(|| problem_retry_after(&bytes));
                    let wait = self.retry.wait(hint, &mut backoff);
                    // A 429 was not acted on: it is safe to send again whatever the method.
                    let resendable = retry_safe || status == StatusCode::TOO_MANY_REQUESTS;
                    if transient && resendable && attempt < max_attempts && fits(wait) {
                        tracing::warn!(
                            method = %req.method,
                            path = %req.path,
                            status = status.as_u16(),
                            attempt,
                            wait_ms = wait.as_millis() as u64,
                            "transient server answer; retrying"
                        );
                        self.clock.sleep(wait).await;
                        continue;
                    }
                    return Err(error_from_response(
                        status, &headers, &bytes, &what, attempt, &secrets,
                    ));
                }
            }
        }
    }

    /// `HEAD url` without credentials (the URL may belong to anyone): the status code.
    /// Only failures in transit are retried; any status is an answer.
    pub async fn head_status(&self, url: &str) -> Result<u16, BackendError> {
        let parsed = Url::parse(url).map_err(|e| BackendError::Config {
            detail: format!("{:?} is not a valid URL: {e}", clean(url)),
        })?;
        // Webhook URLs can carry credentials in their path or query (and userinfo): what
        // is logged or put in an error is the origin only.
        let mut shown = parsed.clone();
        shown.set_path("/");
        shown.set_query(None);
        shown.set_fragment(None);
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        let mut backoff = self.retry.waits();
        let deadline = Deadline::after(self.deadline);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let Ok(sent) = tokio::time::timeout(
                deadline.remaining(),
                self.client.head(parsed.clone()).send(),
            )
            .await
            else {
                return Err(BackendError::Timeout {
                    what: format!("HEAD {}", shown.as_str()),
                    after: deadline.limit(),
                    attempts: attempt,
                });
            };
            let wait = self.retry.wait(None, &mut backoff);
            match sent {
                Ok(resp) => return Ok(resp.status().as_u16()),
                Err(e)
                    if attempt < self.retry.tries()
                        && deadline.allows(self.clock.to_wall(wait)) =>
                {
                    tracing::warn!(
                        url = %shown.as_str(),
                        attempt,
                        error = %error_chain(&e),
                        "HEAD failed in transit; retrying"
                    );
                    self.clock.sleep(wait).await;
                }
                Err(e) => {
                    return Err(self.transport_error(
                        &e,
                        &shown,
                        &format!("HEAD {}", shown.as_str()),
                        attempt,
                        &[],
                    ));
                }
            }
        }
    }

    fn transport_error(
        &self,
        e: &reqwest::Error,
        url: &Url,
        what: &str,
        attempts: u32,
        secrets: &[&SecretString],
    ) -> BackendError {
        if e.is_timeout() {
            return BackendError::Timeout {
                what: what.to_string(),
                after: if e.is_connect() {
                    self.connect_timeout
                } else {
                    self.read_timeout
                },
                attempts,
            };
        }
        let mut shown = url.clone();
        shown.set_query(None);
        let _ = shown.set_password(None);
        BackendError::Network {
            url: clean(shown.as_str()),
            detail: scrub(&error_chain(e), secrets),
            attempts,
        }
    }
}

fn is_idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
    )
}

fn needs_idempotency_key(m: &Method) -> bool {
    matches!(
        *m,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// A uniformly random wait between zero and `ceiling` ("full jitter").
/// Parse a body as JSON; empty bodies are `Null`.
fn parse_json(bytes: &[u8]) -> Result<Value, String> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}

fn problem_retry_after(bytes: &[u8]) -> Option<Duration> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    v.get("retryAfterSeconds")
        .and_then(Value::as_f64)
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// The most specific message of an error chain ("Connection refused (os error 111)"),
/// without reqwest's generic wrapper text and URL.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut innermost = String::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let mut msg = err.to_string();
        if let Some(i) = msg.find(" for url (") {
            msg.truncate(i);
        }
        let msg = msg.trim();
        if !msg.is_empty() {
            innermost = msg.to_string();
        }
        cur = err.source();
    }
    if innermost.is_empty() {
        innermost = "unknown transport error".into();
    }
    clean(&innermost)
}

/// Percent-encode everything but unreserved characters (a path segment, or a form value
/// as a server might echo it).
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Sanitise every string (and key) of a JSON value.
pub(crate) fn clean_value(v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(clean(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(clean_value).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (clean(&k), clean_value(v)))
                .collect(),
        ),
        other => other,
    }
}

pub(crate) fn decode<T: DeserializeOwned>(what: &str, v: Value) -> Result<T, BackendError> {
    serde_json::from_value(clean_value(v)).map_err(|e| BackendError::Decode {
        what: what.to_string(),
        detail: clean(&e.to_string()),
    })
}

/// Remove every secret from `s` (after sanitising it).
pub(crate) fn scrub(s: &str, secrets: &[&SecretString]) -> String {
    let mut out = clean(s);
    for secret in secrets {
        let raw = secret.expose_secret();
        if raw.len() >= 4 && out.contains(raw) {
            out = out.replace(raw, "[redacted]");
        }
    }
    out
}

/// What a problem document (or another error body) says, sanitised.
pub(crate) struct ProblemText {
    pub detail: String,
    pub missing_scope: Option<String>,
    pub conflicts_with: Option<String>,
    pub errors: Vec<FieldError>,
    pub retry_after: Option<Duration>,
    /// A lease conflict's holder, host, age and expiry, sanitised.
    pub lease: Option<crate::domain::LeaseConflict>,
}

pub(crate) fn read_problem(
    status: StatusCode,
    bytes: &[u8],
    secrets: &[&SecretString],
) -> ProblemText {
    let s = |v: &str| scrub(v, secrets);
    let parsed: Option<Value> = serde_json::from_slice(bytes).ok();
    let obj = parsed.as_ref().and_then(Value::as_object);
    let field = |name: &str| -> Option<String> {
        obj.and_then(|o| o.get(name))
            .and_then(|v| match v {
                Value::String(t) => Some(t.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            })
            .map(|t| s(&t))
            .filter(|t| !t.is_empty())
    };
    let oauth_error = field("error");
    let detail = field("detail")
        .or_else(|| {
            oauth_error
                .as_ref()
                .map(|code| match field("error_description") {
                    Some(desc) => format!("{code}: {desc}"),
                    None => code.clone(),
                })
        })
        .or_else(|| field("message"))
        .or_else(|| field("title"))
        .or_else(|| {
            if obj.is_some() {
                return None;
            }
            let text = String::from_utf8_lossy(bytes);
            let text = text.trim();
            (!text.is_empty()).then(|| {
                let cut: String = text.chars().take(300).collect();
                s(&cut)
            })
        })
        .unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("no details given")
                .to_string()
        });
    let errors = obj
        .and_then(|o| o.get("errors"))
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|item| match item {
                    Value::Object(m) => FieldError {
                        field: s(m
                            .get("field")
                            .or_else(|| m.get("path"))
                            .and_then(Value::as_str)
                            .unwrap_or("(request)")),
                        message: s(&m
                            .get("message")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                            .unwrap_or_else(|| item.to_string())),
                    },
                    Value::String(t) => FieldError {
                        field: "(request)".into(),
                        message: s(t),
                    },
                    other => FieldError {
                        field: "(request)".into(),
                        message: s(&other.to_string()),
                    },
                })
                .collect()
        })
        .unwrap_or_default();
    let retry_after = obj
        .and_then(|o| o.get("retryAfterSeconds"))
        .and_then(Value::as_f64)
        .filter(|x| x.is_finite() && *x >= 0.0)
        .map(Duration::from_secs_f64);
    let lease = obj
        .and_then(|o| o.get("lease"))
        .cloned()
        .and_then(|v| serde_json::from_value::<crate::domain::LeaseConflict>(v).ok())
        .map(|l| crate::domain::LeaseConflict {
            holder: s(&l.holder),
            host: s(&l.host),
            acquired_at: s(&l.acquired_at),
            expires_at: s(&l.expires_at),
            ..l
        });
    ProblemText {
        detail,
        missing_scope: field("missingScope"),
        conflicts_with: field("conflictsWith"),
        errors,
        retry_after,
        lease,
    }
}

/// Map a failed response to the error a person can act on.
pub(crate) fn error_from_response(
    status: StatusCode,
    headers: &HeaderMap,
    bytes: &[u8],
    what: &str,
    attempts: u32,
    secrets: &[&SecretString],
) -> BackendError {
    let p = read_problem(status, bytes, secrets);
    match status.as_u16() {
        401 => BackendError::Unauthorized { detail: p.detail },
        403 => BackendError::Forbidden {
            missing_scope: p.missing_scope,
            detail: p.detail,
        },
        404 => BackendError::NotFound {
            what: what.to_string(),
            detail: p.detail,
        },
        409 => match p.lease {
            // Someone else drives the operation: say who, where, since when, until when.
            Some(l) => BackendError::Conflict {
                detail: format!(
                    "the operation is driven by {} on {}: lease held for {}s, expires in {}s \
                     (at {}) unless renewed",
                    l.holder, l.host, l.age_seconds, l.expires_in_seconds, l.expires_at
                ),
                conflicts_with: Some(format!("{}@{}", l.holder, l.host)),
            },
            None => BackendError::Conflict {
                detail: p.detail,
                conflicts_with: p.conflicts_with,
            },
        },
        400 | 422 => BackendError::Invalid {
            detail: p.detail,
            errors: p.errors,
        },
        429 => BackendError::RateLimited {
            retry_after: retry_after(headers).or(p.retry_after),
            attempts,
        },
        s if s >= 500 => BackendError::Server {
            status: s,
            attempts,
            detail: p.detail,
        },
        s => BackendError::Rejected {
            status: s,
            detail: p.detail,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_sanitised_and_scrubbed() {
        let secret = SecretString::from("s3cr3t-value");
        let body = br#"{"type":"about:blank","status":422,"detail":"bad \u001b[31mthing\u001b[0m s3cr3t-value","errors":[{"field":"a","message":"x"},"loose"]}"#;
        let p = read_problem(StatusCode::UNPROCESSABLE_ENTITY, body, &[&secret]);
        assert_eq!(p.detail, "bad thing [redacted]");
        assert_eq!(p.errors.len(), 2);
        assert_eq!(p.errors[1].message, "loose");
    }

    #[test]
    fn oauth_errors_become_details() {
        let p = read_problem(
            StatusCode::BAD_REQUEST,
            br#"{"error":"invalid_scope","error_description":"no such scope"}"#,
            &[],
        );
        assert_eq!(p.detail, "invalid_scope: no such scope");
        let p = read_problem(StatusCode::BAD_GATEWAY, b"", &[]);
        assert_eq!(p.detail, "Bad Gateway");
    }

    #[test]
    fn status_maps_to_variant() {
        let h = HeaderMap::new();
        let e = error_from_response(
            StatusCode::FORBIDDEN,
            &h,
            br#"{"detail":"needs bot:deploy","missingScope":"bot:deploy"}"#,
            "POST /x",
            1,
            &[],
        );
        assert_eq!(
            e,
            BackendError::Forbidden {
                missing_scope: Some("bot:deploy".into()),
                detail: "needs bot:deploy".into()
            }
        );
        let e = error_from_response(StatusCode::GONE, &h, b"", "GET /x", 1, &[]);
        assert_eq!(e.status(), Some(410));
    }
}

//! The Release API (`docs/api.md`), as `relcon sim` serves it, behind [`ReleaseBackend`].
//! Each method is one endpoint (or one paginated walk); the shared client in `http.rs` does
//! the retrying, authenticating and error mapping.

use std::time::Duration;

use reqwest::header::{ETAG, HeaderName, HeaderValue, IF_NONE_MATCH};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::auth::{Auth, TokenCache};
use super::error::BackendError;
use super::http::{
    ApiRequest, HttpClient, HttpSettings, Reply, clean_value, decode, percent_encode,
};
use super::{
    BoxFut, CanaryRequest, DeploymentAccepted, DeploymentRequest, EnvValidation, FlowImport,
    FlowStatus, Fresh, LeaseRequest, MetricsQuery, NamedRef, NluModel, Polled, ReleaseBackend,
    RollbackRequest, RoutingRequest, SessionQuery, TraceResult, VERSION_PAGE, VersionsPage,
    format_window,
};
use crate::domain::{
    BotDetail, BotRouting, BotSummary, Canary, CanaryMetrics, CommandState, ControlCommand,
    DeploymentStatus, EnvHealth, EnvJob, Environment, Lease, MetricSummary, MetricsSeries,
    Operation, OperationCommand, OperationDetail, OperationEvent, OperationEventKind, RollbackJob,
    Session, TestResult, Version, WebhookRegistration,
};
use crate::sanitize::clean;

/// Flows are exported this many to a page.
const FLOW_PAGE: usize = 100;
/// A server that never stops paging is cut off here.
const MAX_PAGES: usize = 10_000;

/// The Release API client.
pub struct ReleaseApi {
    http: HttpClient,
    tokens: TokenCache,
    /// The entity tag of the last body read from each conditionally read URL.
    etags: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

impl std::fmt::Debug for ReleaseApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReleaseApi").finish_non_exhaustive()
    }
}

impl ReleaseApi {
    /// A client for the server in `settings`, with its own `reqwest::Client`.
    pub fn new(settings: HttpSettings, auth: Auth) -> Result<ReleaseApi, BackendError> {
        let client = settings.build_client()?;
        ReleaseApi::with_client(client, &settings, auth)
    }

    /// A client sharing an existing `reqwest::Client` (one per process).
    pub fn with_client(
        client: reqwest::Client,
        settings: &HttpSettings,
        auth: Auth,
    ) -> Result<ReleaseApi, BackendError> {
        Ok(ReleaseApi {
            http: HttpClient::new(client, settings)?,
            tokens: TokenCache::new(auth),
            etags: Default::default(),
        })
    }

    /// The shared `reqwest::Client`, for other outbound HTTP of the process (webhooks).
    pub fn http_client(&self) -> &reqwest::Client {
        self.http.client()
    }

    async fn call(&self, req: ApiRequest) -> Result<Reply, BackendError> {
        self.http.execute(&req, Some(&self.tokens)).await
    }

    /// A conditional GET: with the entity tag of the last body read from this URL (when
    /// `use_tag`), an unchanged resource answers 304 and `Unchanged` comes back (nothing to
    /// parse). `decode`
    /// turns a changed body into the value; its tag is remembered only once it decoded, so
    /// a body that failed to decode is read in full next time.
    async fn conditional<T>(
        &self,
        req: ApiRequest,
        use_tag: bool,
        decode: impl FnOnce(&str, Value) -> Result<T, BackendError>,
    ) -> Result<Fresh<T>, BackendError> {
        let key = format!("{} {:?}", req.path, req.query);
        let tag = if use_tag {
            self.etag_lock().get(&key).cloned()
        } else {
            None
        };
        let req = match tag.as_deref().and_then(|t| HeaderValue::from_str(t).ok()) {
            Some(v) => req.header(IF_NONE_MATCH, v),
            None => req,
        };
        let what = req.what();
        let reply = self.call(req).await?;
        if reply.status == StatusCode::NOT_MODIFIED {
            return Ok(Fresh::Unchanged);
        }
        let tag = reply
            .headers
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let value = decode(&what, reply.body)?;
        let mut tags = self.etag_lock();
        match tag {
            Some(t) => tags.insert(key, t),
            None => tags.remove(&key),
        };
        Ok(Fresh::Changed(value))
    }

    /// One page of versions; `conditional` sends the page's last entity tag.
    async fn read_versions_page(
        &self,
        bot: &str,
        page: u32,
        size: u32,
        conditional: Option<bool>,
    ) -> Result<Fresh<VersionsPage>, BackendError> {
        let page = page.max(1);
        let size = size.clamp(1, 200);
        let req = ApiRequest::get(format!("/api/v1/bots/{}/versions", seg(bot)))
            .query("page", page.to_string())
            .query("size", size.to_string());
        let read = |what: &str, mut body: Value| {
            let total = body.get("total").and_then(Value::as_u64);
            let versions: Vec<Version> = decode(what, take_list(what, body.take(), "data")?)?;
            Ok(VersionsPage {
                page,
                size,
                versions,
                total,
            })
        };
        if let Some(use_tag) = conditional {
            return self.conditional(req, use_tag, read).await;
        }
        let what = req.what();
        let reply = self.call(req).await?;
        read(&what, reply.body).map(Fresh::Changed)
    }

    fn etag_lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, String>> {
        self.etags.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// GET and decode the whole body, sanitised.
    async fn get<T: DeserializeOwned>(&self, req: ApiRequest) -> Result<T, BackendError> {
        let what = req.what();
        let reply = self.call(req).await?;
        decode(&what, reply.body)
    }

    /// Send and decode the `items` array of the body, sanitised.
    async fn items<T: DeserializeOwned>(&self, req: ApiRequest) -> Result<Vec<T>, BackendError> {
        let what = req.what();
        let reply = self.call(req).await?;
        decode(&what, take_list(&what, reply.body, "items")?)
    }

    /// Canary actions answer with the canary; when a server answers with something else,
    /// read the canary back.
    async fn canary_reply(&self, id: &str, req: ApiRequest) -> Result<Canary, BackendError> {
        let what = req.what();
        let reply = self.call(req).await?;
        match canary_value(reply.body) {
            Some(v) => decode(&what, v),
            None => self.fetch_canary(id).await,
        }
    }

    async fn fetch_canary(&self, id: &str) -> Result<Canary, BackendError> {
        let req = ApiRequest::get(format!("/api/v1/canaries/{}", seg(id)));
        let what = req.what();
        let reply = self.call(req).await?;
        match canary_value(reply.body) {
            Some(v) => decode(&what, v),
            None => Err(BackendError::Decode {
                what,
                detail: "the answer is not a canary".into(),
            }),
        }
    }
}

// --- decoding helpers -------------------------------------------------------------------

/// Percent-encode one path segment.
fn seg(s: &str) -> String {
    percent_encode(s)
}

/// `body[key]` as an array (or the body itself when it is one).
fn take_list(what: &str, body: Value, key: &str) -> Result<Value, BackendError> {
    match body {
        Value::Array(_) => Ok(body),
        Value::Object(mut m) => match m.remove(key) {
            Some(v @ Value::Array(_)) => Ok(v),
            Some(Value::Null) | None => Err(BackendError::Decode {
                what: what.to_string(),
                detail: format!("the answer has no `{key}` list"),
            }),
            Some(_) => Err(BackendError::Decode {
                what: what.to_string(),
                detail: format!("`{key}` is not a list"),
            }),
        },
        _ => Err(BackendError::Decode {
            what: what.to_string(),
            detail: "the answer is not a JSON object".into(),
        }),
    }
}

/// The canaries of a list body.
fn canaries(what: &str, body: Value) -> Result<Vec<Canary>, BackendError> {
    let Value::Array(items) = take_list(what, body, "items")? else {
        return Ok(Vec::new());
    };
    items
        .into_iter()
        .map(|item| match canary_value(item) {
            Some(v) => decode(what, v),
            None => Err(BackendError::Decode {
                what: what.to_string(),
                detail: "an item is not a canary".into(),
            }),
        })
        .collect()
}

/// The `data` envelope of the `/api/v1` rollback family, or the body itself.
fn unwrap_data(body: Value) -> Value {
    match body {
        Value::Object(mut m) if m.contains_key("data") => m.remove("data").unwrap_or(Value::Null),
        other => other,
    }
}

/// A string field of the body (numbers accepted), sanitised.
fn string_field(what: &str, body: &Value, key: &str) -> Result<String, BackendError> {
    match body.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(clean(s)),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(BackendError::Decode {
            what: what.to_string(),
            detail: format!("the answer has no `{key}`"),
        }),
    }
}

/// Turn numeric fields into strings (versions are sometimes numbers).
fn stringify_fields(v: &mut Value, keys: &[&str]) {
    if let Value::Object(m) = v {
        for key in keys {
            if let Some(slot) = m.get_mut(*key)
                && let Value::Number(n) = slot
            {
                *slot = Value::String(n.to_string());
            }
        }
    }
}

/// Fill in a field a lenient server left out.
fn default_field(v: &mut Value, key: &str, value: Value) {
    if let Value::Object(m) = v
        && m.get(key).is_none_or(Value::is_null)
    {
        m.insert(key.to_string(), value);
    }
}

/// One line of text for a warning or error that may be a string or an object.
fn line(v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Object(m) => {
            let message = ["message", "detail", "description", "reason"]
                .iter()
                .find_map(|k| m.get(*k).and_then(Value::as_str));
            let label = ["field", "code", "name", "step", "rule"]
                .iter()
                .find_map(|k| m.get(*k).and_then(Value::as_str));
            match (label, message) {
                (Some(l), Some(msg)) => format!("{l}: {msg}"),
                (None, Some(msg)) => msg.to_string(),
                (Some(l), None) if m.len() == 1 => l.to_string(),
                _ => v.to_string(),
            }
        }
        other => other.to_string(),
    };
    clean(&text)
}

fn lines(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items.iter().map(line).collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![line(other)],
    }
}

/// The canary inside an answer: the body itself, or its `data` / `canary` member; `id` is
/// filled from `canaryId` and `state` from `status` where a server only sends those.
fn canary_value(body: Value) -> Option<Value> {
    let mut v = match body {
        Value::Object(mut m) => {
            if let Some(inner @ Value::Object(_)) = m.remove("canary") {
                inner
            } else if let Some(inner @ Value::Object(_)) = m.remove("data") {
                inner
            } else {
                Value::Object(m)
            }
        }
        _ => return None,
    };
    let m = v.as_object_mut()?;
    if m.get("id").is_none_or(Value::is_null)
        && let Some(id) = m.get("canaryId").cloned()
    {
        m.insert("id".into(), id);
    }
    if m.get("state").is_none_or(Value::is_null)
        && let Some(status) = m.get("status").cloned()
    {
        m.insert("state".into(), status);
    }
    (m.contains_key("id") && m.contains_key("botId")).then_some(v)
}

fn hint_secs(body: &Value, key: &str) -> Option<Duration> {
    body.get(key)
        .and_then(Value::as_f64)
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64)
}

// --- the endpoints ----------------------------------------------------------------------

impl ReleaseBackend for ReleaseApi {
    fn list_bots(&self) -> BoxFut<'_, Vec<BotSummary>> {
        Box::pin(self.items(ApiRequest::get("/api/v1/bots")))
    }

    fn get_bot<'a>(&'a self, bot: &'a str) -> BoxFut<'a, BotSummary> {
        Box::pin(self.get(ApiRequest::get(format!("/api/v1/bots/{}", seg(bot)))))
    }

    fn list_versions<'a>(&'a self, bot: &'a str) -> BoxFut<'a, Vec<Version>> {
        Box::pin(async move {
            let mut all: Vec<Version> = Vec::new();
            for page in 1..=MAX_PAGES as u32 {
                let p = self
                    .read_versions_page(bot, page, VERSION_PAGE, None)
                    .await?;
                let Fresh::Changed(p) = p else { break };
                let n = p.versions.len();
                all.extend(p.versions);
                let done = n == 0
                    || n < VERSION_PAGE as usize
                    || p.total.is_some_and(|t| all.len() as u64 >= t);
                if done {
                    break;
                }
            }
            Ok(all)
        })
    }

    fn versions_page<'a>(
        &'a self,
        bot: &'a str,
        page: u32,
        size: u32,
        conditional: bool,
    ) -> BoxFut<'a, Fresh<VersionsPage>> {
        Box::pin(self.read_versions_page(bot, page, size, Some(conditional)))
    }

    fn poll_bots(&self, conditional: bool) -> BoxFut<'_, Fresh<Vec<BotSummary>>> {
        Box::pin(self.conditional(
            ApiRequest::get("/api/v1/bots"),
            conditional,
            |what, body| decode(what, take_list(what, body, "items")?),
        ))
    }

    fn poll_operations(&self, conditional: bool) -> BoxFut<'_, Fresh<Vec<Operation>>> {
        Box::pin(self.conditional(
            ApiRequest::get("/api/v1/operations"),
            conditional,
            |what, body| decode(what, take_list(what, body, "items")?),
        ))
    }

    fn poll_canaries(&self, conditional: bool) -> BoxFut<'_, Fresh<Vec<Canary>>> {
        Box::pin(self.conditional(ApiRequest::get("/api/v1/canaries"), conditional, canaries))
    }

    fn list_environments(&self) -> BoxFut<'_, Vec<Environment>> {
        Box::pin(self.items(ApiRequest::get("/api/v1/environments")))
    }

    fn list_operations<'a>(
        &'a self,
        bot: Option<&'a str>,
        active_only: bool,
    ) -> BoxFut<'a, Vec<Operation>> {
        let mut req = ApiRequest::get("/api/v1/operations").query_opt("botId", bot);
        if active_only {
            req = req.query("active", "true");
        }
        Box::pin(self.items(req))
    }

    fn get_routing<'a>(&'a self, bot: &'a str) -> BoxFut<'a, BotRouting> {
        Box::pin(async move {
            let req = ApiRequest::get("/v1/environments/routing").query("botId", bot);
            let what = req.what();
            let mut body = self.call(req).await?.body;
            let bots: Vec<BotRouting> = match body.get_mut("bots").map(Value::take) {
                Some(v @ Value::Array(_)) => decode(&what, v)?,
                _ => Vec::new(),
            };
            if let Some(found) = bots.into_iter().find(|b| b.bot_id == bot) {
                return Ok(found);
            }
            // A single-bot answer without `bots`: the top-level `environments`.
            let environments = match body.get_mut("environments").map(Value::take) {
                Some(v @ Value::Array(_)) => decode(&what, v)?,
                _ => Vec::new(),
            };
            Ok(BotRouting {
                bot_id: bot.to_string(),
                environments,
            })
        })
    }

    fn list_canaries<'a>(
        &'a self,
        bot: Option<&'a str>,
        active_only: bool,
    ) -> BoxFut<'a, Vec<Canary>> {
        Box::pin(async move {
            let mut req = ApiRequest::get("/api/v1/canaries").query_opt("botId", bot);
            if active_only {
                req = req.query("active", "true");
            }
            let what = req.what();
            let reply = self.call(req).await?;
            canaries(&what, reply.body)
        })
    }

    fn get_canary<'a>(&'a self, canary: &'a str) -> BoxFut<'a, Canary> {
        Box::pin(self.fetch_canary(canary))
    }

    fn metrics_summary<'a>(&'a self, query: &'a MetricsQuery) -> BoxFut<'a, MetricSummary> {
        let req = ApiRequest::get("/api/v1/metrics/conversations")
            .query("botId", query.bot.as_str())
            .query("window", format_window(query.window))
            .query("metricType", query.metric_type.as_str())
            .query_opt("environmentId", query.environment.as_deref())
            .query_opt("version", query.version.as_deref());
        Box::pin(self.get(req))
    }

    fn metrics_series<'a>(
        &'a self,
        bot: &'a str,
        environment: Option<&'a str>,
        window: Duration,
    ) -> BoxFut<'a, MetricsSeries> {
        Box::pin(async move {
            let req = ApiRequest::get("/api/v1/metrics/timeseries")
                .query("botId", bot)
                .query_opt("environmentId", environment)
                .query("window", format_window(window));
            let what = req.what();
            let mut body = self.call(req).await?.body;
            default_field(&mut body, "botId", json!(bot));
            default_field(&mut body, "stepSeconds", json!(60));
            default_field(&mut body, "total", json!([]));
            decode(&what, body)
        })
    }

    fn canary_metrics<'a>(
        &'a self,
        canary: &'a str,
        since: Option<&'a str>,
        step: Duration,
    ) -> BoxFut<'a, CanaryMetrics> {
        Box::pin(async move {
            let req = ApiRequest::get(format!("/api/v1/canaries/{}/metrics", seg(canary)))
                .query_opt("since", since)
                .query("step", format_window(step));
            let what = req.what();
            let mut body = self.call(req).await?.body;
            default_field(&mut body, "canaryId", json!(canary));
            default_field(&mut body, "stepSeconds", json!(step.as_secs().max(1)));
            default_field(&mut body, "baseline", json!([]));
            default_field(&mut body, "canary", json!([]));
            decode(&what, body)
        })
    }

    fn active_sessions<'a>(&'a self, bot: &'a str) -> BoxFut<'a, Vec<Session>> {
        Box::pin(async move {
            let req = ApiRequest::get("/api/v1/sessions")
                .query("status", "active")
                .query("botId", bot);
            let what = req.what();
            let reply = self.call(req).await?;
            decode(&what, take_list(&what, reply.body, "data")?)
        })
    }

    fn get_bot_detail<'a>(&'a self, bot: &'a str) -> BoxFut<'a, BotDetail> {
        Box::pin(self.get(ApiRequest::get(format!("/api/v1/bots/{}", seg(bot)))))
    }

    fn count_sessions<'a>(&'a self, query: &'a SessionQuery) -> BoxFut<'a, u64> {
        Box::pin(async move {
            let mut req = ApiRequest::get("/api/v1/sessions")
                .query("status", "active")
                .query("botId", query.bot.as_str())
                .query_opt("environmentId", query.environment.as_deref())
                .query_opt("versionId", query.version.as_deref())
                .query("limit", "0");
            if let Some(d) = query.expires_after {
                req = req.query("expiresAfterSeconds", d.as_secs().to_string());
            }
            let what = req.what();
            let reply = self.call(req).await?;
            match reply.body.get("total").and_then(Value::as_u64) {
                Some(n) => Ok(n),
                // A server without `total`: count what it listed.
                None => match take_list(&what, reply.body, "data")? {
                    Value::Array(items) => Ok(items.len() as u64),
                    _ => Ok(0),
                },
            }
        })
    }

    fn nlu_model<'a>(&'a self, model: &'a str) -> BoxFut<'a, NluModel> {
        Box::pin(async move {
            let req = ApiRequest::get(format!("/v1/nlu/models/{}", seg(model)));
            let what = req.what();
            let mut body = self.call(req).await?.body;
            stringify_fields(&mut body, &["version"]);
            decode(&what, body)
        })
    }

    fn flow_versions<'a>(&'a self, bot: &'a str, flow: &'a str) -> BoxFut<'a, Vec<String>> {
        Box::pin(async move {
            let req = ApiRequest::get(format!(
                "/v1/bots/{}/flows/{}/versions",
                seg(bot),
                seg(flow)
            ));
            let what = req.what();
            let reply = self.call(req).await?;
            let Value::Array(items) = take_list(&what, reply.body, "versions")? else {
                return Ok(Vec::new());
            };
            items
                .iter()
                .map(|item| match item {
                    Value::Object(_) => string_field(&what, item, "version"),
                    Value::String(s) => Ok(clean(s)),
                    Value::Number(n) => Ok(n.to_string()),
                    _ => Err(BackendError::Decode {
                        what: what.clone(),
                        detail: "a flow version is neither an object nor a string".into(),
                    }),
                })
                .collect()
        })
    }

    fn env_health<'a>(&'a self, environment: &'a str) -> BoxFut<'a, EnvHealth> {
        Box::pin(self.get(ApiRequest::get(format!(
            "/api/v2/environments/{}/health",
            seg(environment)
        ))))
    }

    fn list_flows<'a>(&'a self, bot: Option<&'a str>) -> BoxFut<'a, Vec<Value>> {
        Box::pin(async move {
            let mut all: Vec<Value> = Vec::new();
            for _ in 0..MAX_PAGES {
                let req = ApiRequest::get("/api/v2/flows")
                    .query("limit", FLOW_PAGE.to_string())
                    .query("offset", all.len().to_string())
                    .query_opt("botId", bot);
                let what = req.what();
                let reply = self.call(req).await?;
                let total = reply.body.get("total").and_then(Value::as_u64);
                // Verbatim: flow definitions are data that is re-imported.
                let Value::Array(items) = take_list(&what, reply.body, "items")? else {
                    break;
                };
                let n = items.len();
                all.extend(items);
                let done = n == 0
                    || match total {
                        Some(t) => all.len() as u64 >= t,
                        None => n < FLOW_PAGE,
                    };
                if done {
                    break;
                }
            }
            Ok(all)
        })
    }

    fn list_intents<'a>(&'a self, environment: &'a str) -> BoxFut<'a, Vec<NamedRef>> {
        Box::pin(self.items(ApiRequest::get("/api/v2/intents").query("environmentId", environment)))
    }

    fn list_entities<'a>(&'a self, environment: &'a str) -> BoxFut<'a, Vec<NamedRef>> {
        Box::pin(
            self.items(ApiRequest::get("/api/v2/entities").query("environmentId", environment)),
        )
    }

    fn check_webhook<'a>(&'a self, url: &'a str) -> BoxFut<'a, u16> {
        Box::pin(self.http.head_status(url))
    }

    // --- /v1 --------------------------------------------------------------------------

    fn create_deployment<'a>(
        &'a self,
        request: &'a DeploymentRequest,
    ) -> BoxFut<'a, DeploymentAccepted> {
        Box::pin(async move {
            let mut body = json!({
                "botId": request.bot_id,
                "targetEnvironmentId": request.target_environment_id,
                "nluModelId": request.nlu_model_id,
                "flowReferences": request.flow_references,
                "deploymentType": "versioned",
                "metadata": request.metadata,
            });
            if let (Some(version), Value::Object(m)) = (&request.version_id, &mut body) {
                m.insert("versionId".into(), json!(version));
            }
            let req = ApiRequest::new(
                Method::POST,
                format!("/v1/bots/{}/deployments", seg(&request.bot_id)),
            )
            .json(body);
            let what = req.what();
            let reply = self.call(req).await?;
            Ok(DeploymentAccepted {
                deployment_id: string_field(&what, &reply.body, "deploymentId")?,
                status_url: reply.header_str("location"),
                estimated_completion: hint_secs(&reply.body, "estimatedCompletionSeconds"),
            })
        })
    }

    fn deployment_status<'a>(
        &'a self,
        deployment: &'a str,
    ) -> BoxFut<'a, Polled<DeploymentStatus>> {
        Box::pin(async move {
            let req = ApiRequest::get(format!("/v1/deployments/{}/status", seg(deployment)));
            let what = req.what();
            let reply = self.call(req).await?;
            // Retry-After says when the next phase is due; a poller waiting for the end
            // waits for the expected completion when that is later.
            let retry_after = match (
                reply.retry_after(),
                hint_secs(&reply.body, "estimatedCompletionSeconds"),
            ) {
                (Some(next), Some(end)) => Some(next.max(end)),
                (next, end) => next.or(end),
            };
            let mut body = reply.body;
            default_field(&mut body, "estimatedCompletionSeconds", json!(0));
            stringify_fields(&mut body, &["versionId"]);
            Ok(Polled {
                value: decode(&what, body)?,
                retry_after,
            })
        })
    }

    fn rollback_deployment<'a>(&'a self, deployment: &'a str) -> BoxFut<'a, Value> {
        Box::pin(async move {
            let req = ApiRequest::new(
                Method::POST,
                format!("/v1/deployments/{}/rollback", seg(deployment)),
            )
            .json(json!({}));
            Ok(clean_value(self.call(req).await?.body))
        })
    }

    fn set_routing<'a>(&'a self, request: &'a RoutingRequest) -> BoxFut<'a, Vec<BotRouting>> {
        Box::pin(async move {
            let environments: Vec<Value> = request
                .weights
                .iter()
                .map(|(env, w)| json!({"environmentId": env, "trafficWeight": w}))
                .collect();
            let mut body = json!({
                "environments": environments,
                "strategy": request.strategy,
                "failoverEnabled": request.failover_enabled,
            });
            if let Value::Object(m) = &mut body {
                if let Some(bot) = &request.bot_id {
                    m.insert("botId".into(), json!(bot));
                }
                if let Some(d) = request.drain {
                    m.insert("drainSeconds".into(), json!(d.as_secs_f64()));
                }
                if let Some(dep) = &request.deployment_id {
                    m.insert("deploymentId".into(), json!(dep));
                }
            }
            let req = ApiRequest::new(Method::PUT, "/v1/environments/routing").json(body);
            let what = req.what();
            let mut body = self.call(req).await?.body;
            if let Some(warnings) = body.get("warnings") {
                for w in lines(Some(warnings)) {
                    tracing::info!(warning = %w, "routing change");
                }
            }
            match body.get_mut("bots").map(Value::take) {
                Some(v @ Value::Array(_)) => decode(&what, v),
                _ => {
                    let environments = match body.get_mut("environments").map(Value::take) {
                        Some(v @ Value::Array(_)) => decode(&what, v)?,
                        _ => Vec::new(),
                    };
                    Ok(request
                        .bot_id
                        .iter()
                        .map(|bot| BotRouting {
                            bot_id: bot.clone(),
                            environments: environments.clone(),
                        })
                        .collect())
                }
            }
        })
    }

    fn create_sync_job<'a>(&'a self, deployment: &'a str, region: &'a str) -> BoxFut<'a, String> {
        Box::pin(async move {
            let req = ApiRequest::new(Method::POST, "/v1/sync/jobs").json(json!({
                "sourceDeploymentId": deployment,
                "targetRegion": region,
                "syncType": "full_configuration",
                "includeNluModels": true,
                "includeWebhooks": true,
            }));
            let what = req.what();
            let reply = self.call(req).await?;
            string_field(&what, &reply.body, "syncJobId")
        })
    }

    // --- canary -----------------------------------------------------------------------

    fn start_canary<'a>(&'a self, request: &'a CanaryRequest) -> BoxFut<'a, Canary> {
        Box::pin(async move {
            let body = json!({
                "bot_id": request.bot_id,
                "environment_id": request.environment_id,
                "version": request.version,
                "traffic_matrix": {"stable": request.stable_pct, "canary": request.canary_pct},
                "rollback_thresholds": {
                    "error_rate": request.thresholds.error_rate,
                    "satisfaction_score": request.thresholds.satisfaction_score,
                    "max_latency_ms": request.thresholds.max_latency_ms,
                },
                "max_traffic_percentage": request.max_traffic_percentage,
                "enable_metric_aggregation": true,
            });
            let req = ApiRequest::new(
                Method::POST,
                format!("/api/v1/bots/{}/deploy", seg(&request.bot_id)),
            )
            .header(
                HeaderName::from_static("x-deployment-type"),
                HeaderValue::from_static("canary"),
            )
            .header(
                HeaderName::from_static("x-format-verification"),
                HeaderValue::from_static("strict"),
            )
            .json(body);
            let what = req.what();
            let reply = self.call(req).await?;
            let id = reply
                .body
                .get("canaryId")
                .or_else(|| reply.body.get("id"))
                .and_then(Value::as_str)
                .map(clean);
            match (canary_value(reply.body), id) {
                (Some(v), _) => decode(&what, v),
                (None, Some(id)) => self.fetch_canary(&id).await,
                (None, None) => Err(BackendError::Decode {
                    what,
                    detail: "the answer names no canary".into(),
                }),
            }
        })
    }

    fn set_canary_weight<'a>(&'a self, canary: &'a str, canary_pct: f64) -> BoxFut<'a, Canary> {
        let req = ApiRequest::new(
            Method::PUT,
            format!("/api/v1/canaries/{}/traffic", seg(canary)),
        )
        .json(json!({ "canary": canary_pct }));
        Box::pin(self.canary_reply(canary, req))
    }

    fn pause_canary<'a>(&'a self, canary: &'a str) -> BoxFut<'a, Canary> {
        let req = ApiRequest::new(
            Method::POST,
            format!("/api/v1/canaries/{}/pause", seg(canary)),
        )
        .json(json!({}));
        Box::pin(self.canary_reply(canary, req))
    }

    fn resume_canary<'a>(&'a self, canary: &'a str) -> BoxFut<'a, Canary> {
        let req = ApiRequest::new(
            Method::POST,
            format!("/api/v1/canaries/{}/resume", seg(canary)),
        )
        .json(json!({}));
        Box::pin(self.canary_reply(canary, req))
    }

    fn promote_canary<'a>(&'a self, canary: &'a str) -> BoxFut<'a, Canary> {
        let req = ApiRequest::new(
            Method::POST,
            format!("/api/v1/canaries/{}/promote", seg(canary)),
        )
        .json(json!({}));
        Box::pin(self.canary_reply(canary, req))
    }

    fn rollback_canary<'a>(&'a self, canary: &'a str, reason: &'a str) -> BoxFut<'a, Canary> {
        let req = ApiRequest::new(
            Method::POST,
            format!("/api/v1/canaries/{}/rollback", seg(canary)),
        )
        .json(json!({ "reason": reason }));
        Box::pin(self.canary_reply(canary, req))
    }

    // --- rollback ---------------------------------------------------------------------

    fn create_rollback_job<'a>(&'a self, request: &'a RollbackRequest) -> BoxFut<'a, String> {
        self.create_rollback_job_drained(request, None)
    }

    fn create_rollback_job_drained<'a>(
        &'a self,
        request: &'a RollbackRequest,
        drain: Option<Duration>,
    ) -> BoxFut<'a, String> {
        Box::pin(async move {
            let mut body = json!({
                "botId": request.bot_id,
                "targetVersionId": request.target_version_id,
                "environment": request.environment,
                "action": "ROLLBACK",
                "validateDependencies": request.validate_dependencies,
                "force": request.force,
            });
            if let (Some(d), Value::Object(m)) = (drain, &mut body) {
                m.insert("drainSeconds".into(), json!(d.as_secs_f64()));
            }
            let req = ApiRequest::new(Method::POST, "/api/v1/deployments").json(body);
            let what = req.what();
            let reply = self.call(req).await?;
            string_field(&what, &unwrap_data(reply.body), "jobId")
        })
    }

    fn rollback_job_status<'a>(&'a self, job: &'a str) -> BoxFut<'a, Polled<RollbackJob>> {
        Box::pin(async move {
            let req = ApiRequest::get(format!("/api/v1/deployments/{}/status", seg(job)));
            let what = req.what();
            let reply = self.call(req).await?;
            let retry_after = reply.retry_after();
            let mut body = unwrap_data(reply.body);
            stringify_fields(&mut body, &["targetVersionId"]);
            Ok(Polled {
                value: decode(&what, body)?,
                retry_after,
            })
        })
    }

    fn send_test_message<'a>(&'a self, bot: &'a str, message: &'a str) -> BoxFut<'a, TestResult> {
        Box::pin(async move {
            let req = ApiRequest::new(Method::POST, format!("/api/v1/bots/{}/test", seg(bot)))
                .json(json!({ "message": message }));
            let what = req.what();
            let reply = self.call(req).await?;
            decode(&what, unwrap_data(reply.body))
        })
    }

    // --- flows ------------------------------------------------------------------------

    fn import_flow<'a>(&'a self, flow: &'a Value, environment: &'a str) -> BoxFut<'a, FlowImport> {
        Box::pin(async move {
            let req = ApiRequest::new(Method::POST, "/api/v2/flows/import")
                .json(json!({ "flow": flow, "environmentId": environment }));
            let what = req.what();
            let mut body = self.call(req).await?.body;
            stringify_fields(&mut body, &["version", "previousVersion"]);
            decode(&what, body)
        })
    }

    fn flow_status<'a>(&'a self, flow: &'a str, environment: &'a str) -> BoxFut<'a, FlowStatus> {
        Box::pin(async move {
            let req = ApiRequest::get(format!("/api/v2/flows/{}/status", seg(flow)))
                .query("environmentId", environment);
            let what = req.what();
            let mut body = self.call(req).await?.body;
            stringify_fields(&mut body, &["version"]);
            decode(&what, body)
        })
    }

    fn rollback_flow<'a>(
        &'a self,
        flow: &'a str,
        target_version: Option<&'a str>,
        environment: Option<&'a str>,
    ) -> BoxFut<'a, Value> {
        Box::pin(async move {
            let mut body = Map::new();
            if let Some(v) = target_version {
                body.insert("targetVersion".into(), json!(v));
            }
            if let Some(env) = environment {
                body.insert("environmentId".into(), json!(env));
            }
            let req = ApiRequest::new(
                Method::POST,
                format!("/api/v2/flows/{}/rollback", seg(flow)),
            )
            .json(Value::Object(body));
            Ok(clean_value(self.call(req).await?.body))
        })
    }

    // --- environment ------------------------------------------------------------------

    fn validate_environment<'a>(
        &'a self,
        environment: &'a str,
        body: &'a Value,
    ) -> BoxFut<'a, EnvValidation> {
        Box::pin(async move {
            let req = ApiRequest::new(
                Method::POST,
                format!("/api/v2/environments/{}/validate", seg(environment)),
            )
            .json(body.clone());
            let reply = self.call(req).await?;
            let b = &reply.body;
            let validation_errors = lines(b.get("validationErrors"));
            Ok(EnvValidation {
                valid: b
                    .get("valid")
                    .and_then(Value::as_bool)
                    .unwrap_or(validation_errors.is_empty()),
                warnings: lines(b.get("warnings")),
                capacity_utilization: b.get("capacityUtilization").and_then(Value::as_f64),
                validation_errors,
            })
        })
    }

    fn synthetic_trace<'a>(&'a self, body: &'a Value) -> BoxFut<'a, TraceResult> {
        Box::pin(async move {
            let req = ApiRequest::new(Method::POST, "/api/v2/validations/synthetic-trace")
                .json(body.clone());
            let what = req.what();
            let reply = self.call(req).await?;
            let b = &reply.body;
            Ok(TraceResult {
                trace_id: string_field(&what, b, "traceId")?,
                status: string_field(&what, b, "status")?,
                dependency_conflicts: lines(b.get("dependencyConflicts")),
                execution_path: lines(b.get("executionPath")),
            })
        })
    }

    fn create_env_deployment<'a>(&'a self, body: &'a Value) -> BoxFut<'a, String> {
        Box::pin(async move {
            let req = ApiRequest::new(Method::POST, "/api/v2/deployments").json(body.clone());
            let what = req.what();
            let reply = self.call(req).await?;
            string_field(&what, &reply.body, "jobId")
        })
    }

    fn env_job<'a>(&'a self, job: &'a str) -> BoxFut<'a, Polled<EnvJob>> {
        Box::pin(async move {
            let req = ApiRequest::get(format!("/api/v2/jobs/{}", seg(job)));
            let what = req.what();
            let reply = self.call(req).await?;
            let retry_after = reply.retry_after();
            Ok(Polled {
                value: decode(&what, reply.body)?,
                retry_after,
            })
        })
    }

    fn rollback_env_job<'a>(&'a self, job: &'a str, reason: &'a str) -> BoxFut<'a, Value> {
        Box::pin(async move {
            let req = ApiRequest::new(
                Method::POST,
                format!("/api/v2/deployments/{}/rollback", seg(job)),
            )
            .json(json!({ "reason": reason }));
            Ok(clean_value(self.call(req).await?.body))
        })
    }

    // --- operation control ------------------------------------------------------------

    fn get_operation<'a>(&'a self, operation: &'a str) -> BoxFut<'a, OperationDetail> {
        Box::pin(self.get(ApiRequest::get(format!(
            "/api/v1/operations/{}",
            seg(operation)
        ))))
    }

    fn list_operation_details<'a>(
        &'a self,
        bot: Option<&'a str>,
        active_only: bool,
    ) -> BoxFut<'a, Vec<OperationDetail>> {
        let mut req = ApiRequest::get("/api/v1/operations").query_opt("botId", bot);
        if active_only {
            req = req.query("active", "true");
        }
        Box::pin(self.items(req))
    }

    fn acquire_lease<'a>(
        &'a self,
        operation: &'a str,
        request: &'a LeaseRequest,
    ) -> BoxFut<'a, Lease> {
        let req = ApiRequest::new(
            Method::PUT,
            format!("/api/v1/operations/{}/lease", seg(operation)),
        )
        .json(json!({
            "holder": request.holder,
            "host": request.host,
            "operationKey": request.operation_key,
            "ttlSeconds": request.ttl.as_secs_f64().max(1.0),
        }));
        Box::pin(self.get(req))
    }

    fn release_lease<'a>(&'a self, operation: &'a str, operation_key: &'a str) -> BoxFut<'a, bool> {
        Box::pin(async move {
            let req = ApiRequest::new(
                Method::DELETE,
                format!("/api/v1/operations/{}/lease", seg(operation)),
            )
            .json(json!({ "operationKey": operation_key }));
            let reply = self.call(req).await?;
            Ok(reply
                .body
                .get("released")
                .and_then(Value::as_bool)
                .unwrap_or(true))
        })
    }

    fn post_command<'a>(
        &'a self,
        operation: &'a str,
        command: ControlCommand,
        operator: &'a str,
        reason: Option<&'a str>,
    ) -> BoxFut<'a, OperationCommand> {
        let mut body = json!({ "command": command.as_str(), "operator": operator });
        if let (Some(r), Value::Object(m)) = (reason, &mut body) {
            m.insert("reason".into(), json!(r));
        }
        let req = ApiRequest::new(
            Method::POST,
            format!("/api/v1/operations/{}/commands", seg(operation)),
        )
        .json(body);
        Box::pin(self.get(req))
    }

    fn list_commands<'a>(&'a self, operation: &'a str) -> BoxFut<'a, Vec<OperationCommand>> {
        let req = ApiRequest::get(format!("/api/v1/operations/{}/commands", seg(operation)))
            .query("state", "all");
        Box::pin(self.items(req))
    }

    fn pending_commands<'a>(&'a self, operation: &'a str) -> BoxFut<'a, Vec<OperationCommand>> {
        let req = ApiRequest::get(format!("/api/v1/operations/{}/commands", seg(operation)))
            .query("state", "pending");
        Box::pin(self.items(req))
    }

    fn ack_command<'a>(
        &'a self,
        operation: &'a str,
        command: &'a str,
        state: CommandState,
        detail: &'a str,
    ) -> BoxFut<'a, OperationCommand> {
        let req = ApiRequest::new(
            Method::POST,
            format!(
                "/api/v1/operations/{}/commands/{}/ack",
                seg(operation),
                seg(command)
            ),
        )
        .json(json!({ "state": state.as_str(), "detail": detail }));
        Box::pin(self.get(req))
    }

    fn post_event<'a>(
        &'a self,
        operation: &'a str,
        kind: OperationEventKind,
        message: &'a str,
    ) -> BoxFut<'a, OperationEvent> {
        let req = ApiRequest::new(
            Method::POST,
            format!("/api/v1/operations/{}/events", seg(operation)),
        )
        .json(json!({ "kind": kind.as_str(), "message": message }));
        Box::pin(self.get(req))
    }

    fn operation_events<'a>(
        &'a self,
        operation: &'a str,
        after: Option<u64>,
    ) -> BoxFut<'a, Vec<OperationEvent>> {
        let req = ApiRequest::get(format!("/api/v1/operations/{}/events", seg(operation)))
            .query_opt("after", after.map(|a| a.to_string()).as_deref());
        Box::pin(self.items(req))
    }

    // --- misc -------------------------------------------------------------------------

    fn register_webhook<'a>(
        &'a self,
        name: &'a str,
        url: &'a str,
        events: &'a [String],
        secret: &'a SecretString,
    ) -> BoxFut<'a, WebhookRegistration> {
        Box::pin(async move {
            use secrecy::ExposeSecret as _;
            let req = ApiRequest::new(Method::POST, "/api/v1/webhooks")
                .json(json!({
                    "name": name,
                    "url": url,
                    "events": events,
                    "secret": secret.expose_secret(),
                    "active": true,
                }))
                .secret(secret.clone());
            self.get(req).await
        })
    }

    fn post_audit_log<'a>(&'a self, record: &'a Value) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let req = ApiRequest::new(Method::POST, "/api/v1/audit/logs").json(record.clone());
            self.call(req).await.map(|_| ())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded() {
        assert_eq!(seg("bot-1"), "bot-1");
        assert_eq!(seg("a/b c"), "a%2Fb%20c");
        assert_eq!(seg("ü"), "%C3%BC");
    }

    #[test]
    fn values_are_cleaned_deeply() {
        let v = json!({"name": "a\u{1b}[2Jb", "list": ["x\ny", 1], "k\u{202e}": true});
        assert_eq!(
            clean_value(v),
            json!({"name": "ab", "list": ["x y", 1], "k": true})
        );
    }

    #[test]
    fn lines_stringify_objects() {
        let v = json!(["plain", {"field": "cpu", "message": "over 90%"}, {"x": 1}, 3]);
        assert_eq!(
            lines(Some(&v)),
            vec!["plain", "cpu: over 90%", "{\"x\":1}", "3"]
        );
        assert!(lines(None).is_empty());
    }

    #[test]
    fn canary_values_accept_envelopes() {
        let v = json!({"deploymentId": "d", "canaryId": "c-1", "botId": "b", "status": "running"});
        let c = canary_value(v).unwrap();
        assert_eq!(c["id"], "c-1");
        assert_eq!(c["state"], "running");
        assert!(canary_value(json!({"ok": true})).is_none());
        let wrapped = json!({"data": {"id": "c", "botId": "b"}});
        assert!(canary_value(wrapped).is_some());
    }
}

//! NICE Cognigy.AI behind [`ReleaseBackend`]: REST API v2.0 for projects, snapshots, tasks
//! and endpoints, the endpoints' own REST channel for synthetic conversations, and OData v2.4
//! for who carried the traffic (docs/cognigy-api.md has every path and field).
//!
//! The mapping (README, "Using relcon with Cognigy.AI"):
//!
//! - a **bot** is a project (addressed by its `_id` or its name);
//! - a **version** is a snapshot (always `PUBLISHED`: a snapshot is a frozen, trained copy);
//! - an **environment** is an endpoint. Its live version is the snapshot its `entrypoint`
//!   names; its traffic weight is the share of the project's conversations it carried over the
//!   last hour (OData `Analytics`), since the platform has no weighted split: traffic follows
//!   channels, not weights. An endpoint whose name says staging, test, dev, QA or sandbox is a
//!   staging environment; every other one is production.
//! - a **deployment** points the idle endpoint at the snapshot and runs a synthetic
//!   conversation through it; the **switch** then re-points every production endpoint that
//!   carries traffic to that snapshot. A **rollback** re-points them to an earlier one. Both
//!   put every endpoint they touched back where it was when one re-point fails.
//!
//! Jobs relcon runs on the platform's behalf (a deployment, a rollback) have ids that spell
//! out what they did (`cgdeploy.<snapshot>.<endpoint>`, `cgrollback.<snapshot>.<endpoints>`),
//! so their status is read back from the endpoints themselves by any relcon process: the
//! platform keeps no record of them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use reqwest::header::HeaderName;
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::error::BackendError;
use super::http::{
    ApiRequest, Credentials, CredentialsFuture, HttpClient, HttpSettings, Presented, Reply, decode,
    percent_encode,
};
use super::{
    BoxFut, CanaryRequest, DeploymentAccepted, DeploymentRequest, EnvValidation, FlowImport,
    FlowStatus, LeaseRequest, MetricsQuery, NamedRef, NluModel, Polled, ReleaseBackend,
    RollbackRequest, RoutingRequest, SessionQuery, TraceResult, VersionJob, VersionJobState,
};
use crate::cognigy::{
    CreateSnapshot, CreatedTask, Endpoint, EndpointIndexItem, EndpointPatch, List, Project,
    Snapshot, Task, TaskStatus,
};
use crate::domain::{
    BotDetail, BotEnvironment, BotRouting, BotSummary, Canary, CanaryMetrics, Capacity,
    CommandState, ControlCommand, DeploymentState, DeploymentStatus, EnvHealth, EnvJob,
    Environment, Health, IntentMatch, JobState, Lease, MetricSummary, MetricsSeries, Operation,
    OperationCommand, OperationDetail, OperationEvent, OperationEventKind, RollbackJob,
    RouteWeight, Session, Stage, Step, StepState, TestResult, Version, VersionStatus,
    WebhookRegistration,
};
use crate::sanitize::clean;

mod canary;

const PREFIX: &str = "/new/v2.0";
/// The platform's largest page.
const PAGE: usize = 100;
/// A server that never stops paging is cut off here.
const MAX_PAGES: usize = 1000;
/// The window an endpoint's share of the traffic is measured over.
pub const SHARE_WINDOW: Duration = Duration::from_secs(3600);
/// How long (server time) a reading of the shares is reused: OData is served from a cache
/// anyway, and each reading costs one request per endpoint.
const SHARE_TTL: Duration = Duration::from_secs(60);
const PLATFORM: &str = "Cognigy.AI";
/// The most snapshots a project keeps.
pub const SNAPSHOT_LIMIT: usize = 10;
/// How long (server time) the project list is reused.
const PROJECTS_TTL: Duration = Duration::from_secs(60);

/// The API key, sent as `X-API-Key` (the REST API) or `apikey=` (OData).
struct ApiKey(SecretString);

impl Credentials for ApiKey {
    fn present<'a>(&'a self, _http: &'a HttpClient) -> CredentialsFuture<'a, Presented> {
        Box::pin(async move {
            Ok(Presented {
                header: HeaderName::from_static("x-api-key"),
                scheme: "",
                secret: self.0.clone(),
                generation: 0,
            })
        })
    }

    fn refreshable(&self) -> bool {
        false
    }

    fn invalidate<'a>(&'a self, _generation: u64) -> CredentialsFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }

    fn static_secrets(&self) -> Vec<&SecretString> {
        vec![&self.0]
    }
}

/// Where one installation answers.
#[derive(Debug, Clone)]
pub struct CognigyHosts {
    /// The REST API (`/new/v2.0/...` is under it).
    pub api_url: String,
    /// OData (`/v2.4/<Collection>`).
    pub odata_url: String,
    /// REST endpoints (`/<URLToken>`).
    pub endpoint_url: String,
    /// The one project the profile works on (id or name); all of them when `None`.
    pub project: Option<String>,
    /// What the synthetic conversation of a deployment says.
    pub test_message: String,
}

/// One reading of a project's endpoints' traffic shares.
#[derive(Debug, Clone)]
struct Shares {
    at: Instant,
    /// Conversations per endpoint id over the window.
    counts: HashMap<String, u64>,
}

#[derive(Default)]
struct Cache {
    /// The project list and when it was read: projects come and go rarely, and every call
    /// naming a bot needs it.
    projects: Option<(Instant, Vec<Project>)>,
    /// Endpoint details by id, with the `lastChanged` they were read at.
    endpoints: HashMap<String, Endpoint>,
    shares: HashMap<String, Shares>,
    /// The canaries this process runs.
    canaries: HashMap<String, canary::CanaryRec>,
}

/// The Cognigy.AI client.
pub struct CognigyApi {
    api: HttpClient,
    odata: HttpClient,
    channel: HttpClient,
    key: ApiKey,
    hosts: CognigyHosts,
    speed: f64,
    cache: Mutex<Cache>,
    /// The server's clock as the last answer's `Date` header gave it, and when.
    seen: Mutex<Option<(DateTime<Utc>, Instant)>>,
}

impl std::fmt::Debug for CognigyApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CognigyApi")
            .field("api_url", &self.hosts.api_url)
            .finish_non_exhaustive()
    }
}

/// A project's endpoints as relcon sees them: the platform's endpoint with its share.
#[derive(Debug, Clone)]
struct Ep {
    endpoint: Endpoint,
    stage: Stage,
    share: f64,
}

impl Ep {
    fn serves(&self) -> Option<&str> {
        self.endpoint
            .entrypoint
            .as_deref()
            .filter(|_| self.endpoint.active)
    }
}

/// Staging, test, dev, QA and sandbox endpoints take no production traffic.
pub fn stage_of(name: &str) -> Stage {
    let lower = name.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if words.iter().any(|w| {
        matches!(
            *w,
            "staging" | "stage" | "test" | "testing" | "dev" | "development" | "qa" | "sandbox"
        )
    }) {
        Stage::Staging
    } else {
        Stage::Production
    }
}

fn unsupported(what: &str, detail: &str) -> BackendError {
    BackendError::Unsupported {
        what: what.into(),
        platform: PLATFORM,
        detail: detail.into(),
    }
}

fn iso(unix: i64) -> String {
    DateTime::<Utc>::from_timestamp(unix, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn odata_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The server's clock: the `Date` header of an answer.
fn server_date(reply: &Reply) -> Option<DateTime<Utc>> {
    let d = reply.header_str("date")?;
    DateTime::parse_from_rfc2822(&d)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// An OData string literal (`'` doubled).
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A job id spelling out what it did: `kind.snapshot.endpoint+endpoint`.
fn job_id(kind: &str, snapshot: &str, endpoints: &[String]) -> String {
    format!("{kind}.{snapshot}.{}", endpoints.join("+"))
}

fn parse_job<'a>(kind: &str, id: &'a str) -> Option<(&'a str, Vec<&'a str>)> {
    let rest = id.strip_prefix(kind)?.strip_prefix('.')?;
    let (snapshot, eps) = rest.split_once('.')?;
    let eps: Vec<&str> = eps.split('+').filter(|e| !e.is_empty()).collect();
    (!snapshot.is_empty() && !eps.is_empty()).then_some((snapshot, eps))
}

impl CognigyApi {
    /// A client for one installation; every host shares one `reqwest::Client`.
    pub fn new(
        settings: HttpSettings,
        hosts: CognigyHosts,
        key: SecretString,
    ) -> Result<CognigyApi, BackendError> {
        let client = settings.build_client()?;
        let at = |base: &str| HttpSettings {
            base_url: base.to_string(),
            ..settings.clone()
        };
        Ok(CognigyApi {
            api: HttpClient::new(client.clone(), &at(&hosts.api_url))?,
            odata: HttpClient::new(client.clone(), &at(&hosts.odata_url))?,
            channel: HttpClient::new(client, &at(&hosts.endpoint_url))?,
            key: ApiKey(key),
            speed: settings.clock.speed(),
            hosts,
            cache: Mutex::new(Cache::default()),
            seen: Mutex::new(None),
        })
    }

    /// The shared `reqwest::Client`, for other outbound HTTP of the process (webhooks).
    pub fn http_client(&self) -> &reqwest::Client {
        self.api.client()
    }

    async fn call(&self, req: ApiRequest) -> Result<Reply, BackendError> {
        let reply = self.api.execute(&req, Some(&self.key)).await?;
        self.saw(&reply);
        Ok(reply)
    }

    fn saw(&self, reply: &Reply) {
        if let Some(d) = server_date(reply) {
            *self.seen.lock().expect("clock") = Some((d, Instant::now()));
        }
    }

    /// The server's time now: its last `Date` plus the (scaled) time since; the local clock
    /// before any answer.
    fn server_now(&self) -> DateTime<Utc> {
        match *self.seen.lock().expect("clock") {
            Some((d, at)) => {
                let since = at.elapsed().mul_f64(self.speed);
                d + chrono::Duration::from_std(since).unwrap_or_default()
            }
            None => Utc::now(),
        }
    }

    async fn get<T: DeserializeOwned>(&self, path: String) -> Result<T, BackendError> {
        let req = ApiRequest::get(path);
        let what = req.what();
        decode(&what, self.call(req).await?.body)
    }

    /// Every item of a list, following `nextCursor`.
    async fn all<T: DeserializeOwned>(
        &self,
        path: &str,
        project: Option<&str>,
    ) -> Result<Vec<T>, BackendError> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let req = ApiRequest::get(format!("{PREFIX}{path}"))
                .query("limit", PAGE.to_string())
                .query_opt("projectId", project)
                .query_opt("next", cursor.as_deref());
            let what = req.what();
            let page: List<T> = decode(&what, self.call(req).await?.body)?;
            let n = page.items.len();
            out.extend(page.items);
            match page.next_cursor {
                Some(c) if n > 0 && cursor.as_deref() != Some(c.as_str()) => cursor = Some(c),
                _ => return Ok(out),
            }
        }
        Ok(out)
    }

    /// Wall time a reading of `server` seconds of server time lasts.
    fn wall(&self, server: Duration) -> Duration {
        Duration::from_secs_f64(server.as_secs_f64() / self.speed.max(1e-9))
    }

    /// The projects the profile works on (the list re-read at most every [`PROJECTS_TTL`]).
    async fn projects(&self) -> Result<Vec<Project>, BackendError> {
        let cached = self
            .cache
            .lock()
            .expect("cache")
            .projects
            .as_ref()
            .filter(|(at, _)| at.elapsed() < self.wall(PROJECTS_TTL))
            .map(|(_, p)| p.clone());
        let all: Vec<Project> = match cached {
            Some(p) => p,
            None => {
                let p: Vec<Project> = self.all("/projects", None).await?;
                self.cache.lock().expect("cache").projects = Some((Instant::now(), p.clone()));
                p
            }
        };
        Ok(match &self.hosts.project {
            Some(p) => all
                .into_iter()
                .filter(|x| &x.id == p || &x.name == p)
                .collect(),
            None => all,
        })
    }

    /// The project a bot reference (an `_id` or a name) names.
    async fn project(&self, bot: &str) -> Result<Project, BackendError> {
        let projects = self.projects().await?;
        if let Some(p) = projects.iter().find(|p| p.id == bot) {
            return Ok(p.clone());
        }
        let named: Vec<&Project> = projects.iter().filter(|p| p.name == bot).collect();
        match named.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(BackendError::NotFound {
                what: format!("project {bot}"),
                detail: match &self.hosts.project {
                    Some(scope) => format!(
                        "the profile works on project {scope} only (profile key `project`)"
                    ),
                    None => "no project the API key can see has this id or name; `relcon status` lists them".into(),
                },
            }),
            many => Err(BackendError::Invalid {
                detail: format!(
                    "{} projects are named {bot}; name one by its id ({})",
                    many.len(),
                    many.iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join(", ")
                ),
                errors: Vec::new(),
            }),
        }
    }

    /// One endpoint in full (the list lacks `entrypoint` and `active`), from the cache when
    /// its `lastChanged` has not moved.
    async fn endpoint_detail(&self, item: &EndpointIndexItem) -> Result<Endpoint, BackendError> {
        if let Some(e) = self.cache.lock().expect("cache").endpoints.get(&item.id)
            && e.last_changed == item.last_changed
        {
            return Ok(e.clone());
        }
        self.read_endpoint(&item.id).await
    }

    async fn read_endpoint(&self, id: &str) -> Result<Endpoint, BackendError> {
        let e: Endpoint = self
            .get(format!("{PREFIX}/endpoints/{}", percent_encode(id)))
            .await?;
        self.cache
            .lock()
            .expect("cache")
            .endpoints
            .insert(e.id.clone(), e.clone());
        Ok(e)
    }

    /// A project's endpoints with their stage and share of the traffic.
    async fn endpoints(&self, project: &str) -> Result<Vec<Ep>, BackendError> {
        let items: Vec<EndpointIndexItem> = self.all("/endpoints", Some(project)).await?;
        let mut full = Vec::with_capacity(items.len());
        for item in &items {
            full.push(self.endpoint_detail(item).await?);
        }
        let counts = self.shares(project, &full).await?;
        let total: u64 = counts.values().sum();
        Ok(full
            .into_iter()
            .map(|endpoint| {
                let n = counts.get(&endpoint.id).copied().unwrap_or(0);
                Ep {
                    stage: stage_of(&endpoint.name),
                    share: if total == 0 {
                        0.0
                    } else {
                        (n as f64 * 1000.0 / total as f64).round() / 10.0
                    },
                    endpoint,
                }
            })
            .collect())
    }

    /// Conversations per endpoint over the last hour, from OData `Analytics` (one `$count`
    /// per endpoint), reused for a minute.
    async fn shares(
        &self,
        project: &str,
        endpoints: &[Endpoint],
    ) -> Result<HashMap<String, u64>, BackendError> {
        let ttl = self.wall(SHARE_TTL);
        if let Some(s) = self.cache.lock().expect("cache").shares.get(project)
            && s.at.elapsed() < ttl
            && endpoints.iter().all(|e| s.counts.contains_key(&e.id))
        {
            return Ok(s.counts.clone());
        }
        let since =
            self.server_now() - chrono::Duration::from_std(SHARE_WINDOW).unwrap_or_default();
        let mut counts = HashMap::new();
        for e in endpoints {
            let filter = format!(
                "projectId eq {} and endpointUrlToken eq {} and timestamp gt {}",
                lit(project),
                lit(&e.url_token),
                lit(&odata_time(since))
            );
            counts.insert(e.id.clone(), self.odata_count("Analytics", &filter).await?);
        }
        self.cache.lock().expect("cache").shares.insert(
            project.to_string(),
            Shares {
                at: Instant::now(),
                counts: counts.clone(),
            },
        );
        Ok(counts)
    }

    /// `GET /v2.4/<collection>?$filter=…&$count=true&$top=0`: how many records match.
    async fn odata_count(&self, collection: &str, filter: &str) -> Result<u64, BackendError> {
        let req = ApiRequest::get(format!("/v2.4/{collection}"))
            .query("$filter", filter)
            .query("$count", "true")
            .query("$top", "0")
            .query("apikey", self.key_text())
            .secret(self.key.0.clone());
        let what = format!("GET /v2.4/{collection}");
        let reply = self.odata.execute(&req, None).await?;
        self.saw(&reply);
        reply
            .body
            .get("@odata.count")
            .and_then(Value::as_u64)
            .ok_or_else(|| BackendError::Decode {
                what,
                detail: "the page has no @odata.count".into(),
            })
    }

    fn key_text(&self) -> String {
        use secrecy::ExposeSecret;
        self.key.0.expose_secret().to_string()
    }

    async fn snapshots(&self, project: &str) -> Result<Vec<Snapshot>, BackendError> {
        let mut s: Vec<Snapshot> = self.all("/snapshots", Some(project)).await?;
        s.sort_by_key(|x| std::cmp::Reverse(x.created_at));
        Ok(s)
    }

    fn summary(project: &Project, eps: &[Ep]) -> BotSummary {
        BotSummary {
            id: project.id.clone(),
            name: clean(&project.name),
            description: String::new(),
            environments: eps
                .iter()
                .map(|e| BotEnvironment {
                    environment_id: e.endpoint.id.clone(),
                    name: clean(&e.endpoint.name),
                    stage: e.stage,
                    colour: None,
                    live_version: e.serves().map(str::to_string),
                    traffic_weight: e.share,
                })
                .collect(),
            active_operation: None,
            active_sessions: 0,
            health: Health::Healthy,
            error_rate: None,
        }
    }

    /// Point `endpoint` at `snapshot` (`PATCH`, `active: true`).
    async fn point(&self, endpoint: &str, snapshot: &str) -> Result<(), BackendError> {
        let patch = EndpointPatch {
            entrypoint: Some(snapshot.to_string()),
            flow_id: None,
            locale_id: None,
            active: Some(true),
        };
        let body = serde_json::to_value(&patch).unwrap_or_default();
        let req = ApiRequest::new(
            Method::PATCH,
            format!("{PREFIX}/endpoints/{}", percent_encode(endpoint)),
        )
        .json(body);
        self.call(req).await?;
        self.cache.lock().expect("cache").endpoints.remove(endpoint);
        Ok(())
    }

    /// Re-point every endpoint in `targets` to `snapshot`. When one fails, every endpoint
    /// already re-pointed goes back to what it served, and the error names them.
    async fn repoint(&self, targets: &[&Ep], snapshot: &str) -> Result<Vec<String>, BackendError> {
        let changes: Vec<(&Ep, &str)> = targets.iter().map(|t| (*t, snapshot)).collect();
        self.apply(&changes).await
    }

    /// Point each endpoint at its snapshot, in order; see [`CognigyApi::repoint`].
    async fn apply(&self, changes: &[(&Ep, &str)]) -> Result<Vec<String>, BackendError> {
        let mut touched: Vec<&Ep> = Vec::new();
        for (ep, snapshot) in changes {
            let (ep, snapshot) = (*ep, *snapshot);
            if ep.serves() == Some(snapshot) {
                continue;
            }
            match self.point(&ep.endpoint.id, snapshot).await {
                Ok(()) => touched.push(ep),
                Err(e) => {
                    let mut restored = Vec::new();
                    let mut stuck = Vec::new();
                    for t in touched.iter().rev() {
                        let back = match t.endpoint.entrypoint.as_deref() {
                            Some(prev) => self.point(&t.endpoint.id, prev).await,
                            None => Ok(()),
                        };
                        match back {
                            Ok(()) => restored.push(t.endpoint.id.clone()),
                            Err(err) => stuck.push(format!("{} ({err})", t.endpoint.id)),
                        }
                    }
                    let mut detail = format!("re-pointing {} failed: {e}", ep.endpoint.id);
                    if !restored.is_empty() {
                        detail.push_str(&format!(
                            "; put back where they were: {}",
                            restored.join(", ")
                        ));
                    }
                    if !stuck.is_empty() {
                        detail.push_str(&format!(
                            "; COULD NOT PUT BACK (fix by hand): {}",
                            stuck.join(", ")
                        ));
                    }
                    return Err(match e {
                        BackendError::Conflict { conflicts_with, .. } => BackendError::Conflict {
                            detail,
                            conflicts_with,
                        },
                        BackendError::Invalid { errors, .. } => {
                            BackendError::Invalid { detail, errors }
                        }
                        other => BackendError::Server {
                            status: other.status().unwrap_or(0),
                            attempts: 1,
                            detail: format!("{detail} (first error: {other})"),
                        },
                    });
                }
            }
        }
        Ok(touched.iter().map(|t| t.endpoint.id.clone()).collect())
    }

    /// One conversation turn through an endpoint's REST channel (no API key: the URL token
    /// is the endpoint's address).
    async fn converse(&self, endpoint: &Endpoint, text: &str) -> Result<Value, BackendError> {
        if endpoint.channel != "rest" {
            return Err(BackendError::Invalid {
                detail: format!(
                    "endpoint {} is a {} channel; synthetic conversations need a REST endpoint",
                    endpoint.id, endpoint.channel
                ),
                errors: Vec::new(),
            });
        }
        let session = uuid::Uuid::new_v4().to_string();
        let req = ApiRequest::new(
            Method::POST,
            format!("/{}", percent_encode(&endpoint.url_token)),
        )
        .json(json!({
            "userId": "relcon-synthetic",
            "sessionId": format!("relcon-{session}"),
            "text": text,
            "data": {"relcon": {"synthetic": true}},
        }))
        .secret(SecretString::from(endpoint.url_token.clone()));
        Ok(self.channel.execute(&req, None).await?.body)
    }

    /// `POST /snapshots/{id}/<action>` (package, restore): the task it starts, sent once.
    async fn snapshot_task(&self, snapshot: &str, action: &str) -> Result<String, BackendError> {
        let req = ApiRequest::new(
            Method::POST,
            format!("{PREFIX}/snapshots/{}/{action}", percent_encode(snapshot)),
        )
        .json(json!({}))
        .once();
        let what = req.what();
        let task: CreatedTask = decode(&what, self.call(req).await?.body)?;
        Ok(task.id)
    }

    fn test_message(&self) -> &str {
        if self.hosts.test_message.trim().is_empty() {
            "Hello"
        } else {
            &self.hosts.test_message
        }
    }

    /// The snapshot a job id names, and whether every endpoint it names serves it now.
    async fn job_state(
        &self,
        snapshot: &str,
        endpoints: &[&str],
    ) -> Result<Option<String>, BackendError> {
        for id in endpoints {
            let e = self.read_endpoint(id).await?;
            if e.entrypoint.as_deref() != Some(snapshot) || !e.active {
                return Ok(Some(format!(
                    "endpoint {} serves {}, not {snapshot}",
                    e.id,
                    e.entrypoint.as_deref().unwrap_or("nothing")
                )));
            }
        }
        Ok(None)
    }
}

fn step(name: &str, done: bool, detail: Option<String>) -> Step {
    Step {
        name: name.into(),
        state: if done {
            StepState::Done
        } else {
            StepState::Failed
        },
        started_at: None,
        finished_at: None,
        detail,
    }
}

/// What a REST endpoint answered: its text, and the intent when the flow reports one.
fn reply_intent(body: &Value) -> (String, Option<(String, f64)>) {
    let text = body
        .get("text")
        .and_then(Value::as_str)
        .map(clean)
        .filter(|t| !t.is_empty())
        .or_else(|| {
            body.get("outputStack")
                .and_then(Value::as_array)
                .and_then(|o| o.iter().find_map(|x| x.get("text")?.as_str().map(clean)))
        })
        .unwrap_or_default();
    let data = body.get("data");
    let intent = data
        .and_then(|d| d.get("intent"))
        .and_then(Value::as_str)
        .map(|i| {
            let score = data
                .and_then(|d| d.get("intentScore"))
                .and_then(Value::as_f64)
                .unwrap_or(0.0);
            (clean(i), score)
        });
    (text, intent)
}

impl ReleaseBackend for CognigyApi {
    fn list_bots(&self) -> BoxFut<'_, Vec<BotSummary>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for p in self.projects().await? {
                match self.endpoints(&p.id).await {
                    Ok(eps) => out.push(CognigyApi::summary(&p, &eps)),
                    // One project the key may not read does not hide the others: it is
                    // listed with what it answered, and no environments.
                    Err(BackendError::Forbidden { detail, .. }) => {
                        let mut s = CognigyApi::summary(&p, &[]);
                        s.description = format!("no access: {detail}");
                        s.health = Health::Degraded;
                        out.push(s);
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(out)
        })
    }

    fn get_bot<'a>(&'a self, bot: &'a str) -> BoxFut<'a, BotSummary> {
        Box::pin(async move {
            let p = self.project(bot).await?;
            let eps = self.endpoints(&p.id).await?;
            Ok(CognigyApi::summary(&p, &eps))
        })
    }

    fn list_versions<'a>(&'a self, bot: &'a str) -> BoxFut<'a, Vec<Version>> {
        Box::pin(async move {
            let p = self.project(bot).await?;
            let items: Vec<EndpointIndexItem> = self.all("/endpoints", Some(&p.id)).await?;
            let mut live: HashMap<String, Vec<String>> = HashMap::new();
            for item in &items {
                let e = self.endpoint_detail(item).await?;
                if let Some(s) = e.entrypoint.clone().filter(|_| e.active) {
                    live.entry(s).or_default().push(e.id.clone());
                }
            }
            Ok(self
                .snapshots(&p.id)
                .await?
                .into_iter()
                .map(|s| Version {
                    live_in: live.remove(&s.id).unwrap_or_default(),
                    id: s.id,
                    label: clean(&s.name),
                    status: VersionStatus::Published,
                    environment: Stage::Production,
                    created_at: iso(s.created_at),
                    nlu_model_id: String::new(),
                    flow_references: Vec::new(),
                    last_canary_verdict: None,
                })
                .collect())
        })
    }

    fn list_environments(&self) -> BoxFut<'_, Vec<Environment>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for p in self.projects().await? {
                let items: Vec<EndpointIndexItem> = self.all("/endpoints", Some(&p.id)).await?;
                out.extend(items.into_iter().map(|e| Environment {
                    stage: stage_of(&e.name),
                    name: clean(&e.name),
                    id: e.id,
                    colour: None,
                    region: String::new(),
                    capacity: Capacity {
                        max_concurrent_sessions: 0,
                        memory_limit_mb: 0,
                    },
                    network_segment: clean(&e.channel),
                    configuration: Some(json!({"project": p.id, "urlToken": "…"})),
                }));
            }
            Ok(out)
        })
    }

    fn list_operations<'a>(
        &'a self,
        _bot: Option<&'a str>,
        _active_only: bool,
    ) -> BoxFut<'a, Vec<Operation>> {
        // The platform keeps no operations; relcon's journal and audit log do.
        Box::pin(async { Ok(Vec::new()) })
    }

    fn get_routing<'a>(&'a self, bot: &'a str) -> BoxFut<'a, BotRouting> {
        Box::pin(async move {
            let p = self.project(bot).await?;
            let eps = self.endpoints(&p.id).await?;
            Ok(routing_of(&p.id, &eps))
        })
    }

    fn list_canaries<'a>(
        &'a self,
        bot: Option<&'a str>,
        active_only: bool,
    ) -> BoxFut<'a, Vec<Canary>> {
        // The platform keeps no canaries: these are the ones this relcon runs.
        Box::pin(async move {
            let ids: Vec<String> = {
                let c = self.cache.lock().expect("cache");
                let mut v: Vec<&canary::CanaryRec> = c
                    .canaries
                    .values()
                    .filter(|r| !active_only || r.canary.state.is_active())
                    .collect();
                v.sort_by_key(|r| std::cmp::Reverse(r.started));
                v.into_iter().map(|r| r.canary.id.clone()).collect()
            };
            let bot = match bot {
                Some(b) => Some(self.project(b).await?.id),
                None => None,
            };
            let mut out = Vec::new();
            for id in ids {
                let c = self.read(&id).await?;
                if bot.as_deref().is_none_or(|b| b == c.bot_id) {
                    out.push(c);
                }
            }
            Ok(out)
        })
    }

    fn get_canary<'a>(&'a self, canary: &'a str) -> BoxFut<'a, Canary> {
        Box::pin(self.read(canary))
    }

    fn metrics_summary<'a>(&'a self, _query: &'a MetricsQuery) -> BoxFut<'a, MetricSummary> {
        Box::pin(async {
            Err(unsupported(
                "a metrics summary",
                "OData answers in records, not aggregates; the canary reads its arms itself",
            ))
        })
    }

    fn metrics_series<'a>(
        &'a self,
        bot: &'a str,
        environment: Option<&'a str>,
        _window: Duration,
    ) -> BoxFut<'a, MetricsSeries> {
        // OData answers in records, not aggregates: a per-minute chart would cost a request
        // per point on every refresh, against the platform's rate limit. The canary's own
        // evidence (canary_metrics) is read instead; the chart stays empty.
        Box::pin(async move {
            Ok(MetricsSeries {
                bot_id: bot.to_string(),
                environment_id: environment.map(str::to_string),
                step_seconds: 60,
                total: Vec::new(),
                baseline: Vec::new(),
                canary: Vec::new(),
            })
        })
    }

    fn canary_metrics<'a>(
        &'a self,
        canary: &'a str,
        since: Option<&'a str>,
        step: Duration,
    ) -> BoxFut<'a, CanaryMetrics> {
        Box::pin(self.metrics(canary, since, step))
    }

    fn active_sessions<'a>(&'a self, _bot: &'a str) -> BoxFut<'a, Vec<Session>> {
        Box::pin(async {
            Err(unsupported(
                "a list of active sessions",
                "the platform reports sessions only through OData, after the fact",
            ))
        })
    }

    fn get_bot_detail<'a>(&'a self, bot: &'a str) -> BoxFut<'a, BotDetail> {
        Box::pin(async move {
            Ok(BotDetail {
                summary: self.get_bot(bot).await?,
                test_conversation: None,
                sessions: Vec::new(),
                session_timeout_seconds: None,
            })
        })
    }

    fn count_sessions<'a>(&'a self, query: &'a SessionQuery) -> BoxFut<'a, u64> {
        Box::pin(async move {
            // A re-pointed endpoint answers every session's next input from the new
            // snapshot: no session is cut off, so none outlives a drain.
            if query.expires_after.is_some() {
                return Ok(0);
            }
            let p = self.project(&query.bot).await?;
            let eps = self.endpoints(&p.id).await?;
            let mut filter = format!("projectId eq {}", lit(&p.id));
            if let Some(env) = &query.environment {
                let e = eps.iter().find(|e| &e.endpoint.id == env).ok_or_else(|| {
                    BackendError::NotFound {
                        what: format!("endpoint {env}"),
                        detail: format!("project {} has no such endpoint", p.id),
                    }
                })?;
                filter.push_str(&format!(
                    " and endpointUrlToken eq {}",
                    lit(&e.endpoint.url_token)
                ));
            }
            if let Some(v) = &query.version {
                filter.push_str(&format!(" and snapshotId eq {}", lit(v)));
            }
            // Sessions that started in the last ten minutes: the ones that may be open.
            let since = self.server_now() - chrono::Duration::minutes(10);
            let f = format!("{filter} and startedAt gt {}", lit(&odata_time(since)));
            self.odata_count("Sessions", &f).await
        })
    }

    fn nlu_model<'a>(&'a self, model: &'a str) -> BoxFut<'a, NluModel> {
        // A snapshot carries its trained NLU: there is nothing separate to publish.
        Box::pin(async move {
            Ok(NluModel {
                id: model.to_string(),
                bot_id: String::new(),
                version: String::new(),
                status: "published".into(),
            })
        })
    }

    fn flow_versions<'a>(&'a self, _bot: &'a str, _flow: &'a str) -> BoxFut<'a, Vec<String>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn env_health<'a>(&'a self, _environment: &'a str) -> BoxFut<'a, EnvHealth> {
        Box::pin(async { Err(unsupported("environment health", ENV_DEPLOY)) })
    }

    fn list_flows<'a>(&'a self, _bot: Option<&'a str>) -> BoxFut<'a, Vec<Value>> {
        Box::pin(async { Err(unsupported("a flow export", FLOWS)) })
    }

    fn list_intents<'a>(&'a self, _environment: &'a str) -> BoxFut<'a, Vec<NamedRef>> {
        Box::pin(async { Err(unsupported("an intent list", FLOWS)) })
    }

    fn list_entities<'a>(&'a self, _environment: &'a str) -> BoxFut<'a, Vec<NamedRef>> {
        Box::pin(async { Err(unsupported("an entity list", FLOWS)) })
    }

    fn check_webhook<'a>(&'a self, url: &'a str) -> BoxFut<'a, u16> {
        Box::pin(async move { self.api.head_status(url).await })
    }

    fn create_deployment<'a>(
        &'a self,
        request: &'a DeploymentRequest,
    ) -> BoxFut<'a, DeploymentAccepted> {
        Box::pin(async move {
            let snapshot = request
                .version_id
                .as_deref()
                .ok_or_else(|| BackendError::Invalid {
                    detail: "name the snapshot to deploy".into(),
                    errors: Vec::new(),
                })?;
            let p = self.project(&request.bot_id).await?;
            let eps = self.endpoints(&p.id).await?;
            let target = eps
                .iter()
                .find(|e| e.endpoint.id == request.target_environment_id)
                .ok_or_else(|| BackendError::NotFound {
                    what: format!("endpoint {}", request.target_environment_id),
                    detail: format!("project {} has no such endpoint", p.id),
                })?;
            self.repoint(&[target], snapshot).await?;
            let answer = self.converse(&target.endpoint, self.test_message()).await;
            let (text, _) = match &answer {
                Ok(body) => reply_intent(body),
                Err(_) => (String::new(), None),
            };
            if answer.is_err() || text.is_empty() {
                // The check failed: the idle endpoint goes back to what it served.
                let why = match answer {
                    Err(e) => e.to_string(),
                    Ok(_) => "the endpoint answered with no output".into(),
                };
                if let Some(prev) = target.endpoint.entrypoint.as_deref() {
                    let _ = self.point(&target.endpoint.id, prev).await;
                }
                return Err(BackendError::Invalid {
                    detail: format!(
                        "the synthetic conversation through {} failed on snapshot {snapshot}: {why}; the endpoint is back on {}",
                        target.endpoint.id,
                        target.endpoint.entrypoint.as_deref().unwrap_or("nothing")
                    ),
                    errors: Vec::new(),
                });
            }
            Ok(DeploymentAccepted {
                deployment_id: job_id(
                    "cgdeploy",
                    snapshot,
                    std::slice::from_ref(&target.endpoint.id),
                ),
                status_url: None,
                estimated_completion: Some(Duration::ZERO),
            })
        })
    }

    fn deployment_status<'a>(
        &'a self,
        deployment: &'a str,
    ) -> BoxFut<'a, Polled<DeploymentStatus>> {
        Box::pin(async move {
            let (snapshot, eps) =
                parse_job("cgdeploy", deployment).ok_or_else(|| BackendError::NotFound {
                    what: format!("deployment {deployment}"),
                    detail: "not a deployment the cognigy backend made".into(),
                })?;
            let wrong = self.job_state(snapshot, &eps).await?;
            Ok(Polled {
                value: DeploymentStatus {
                    deployment_id: deployment.to_string(),
                    bot_id: String::new(),
                    version_id: snapshot.to_string(),
                    target_environment_id: eps[0].to_string(),
                    status: if wrong.is_none() {
                        DeploymentState::Completed
                    } else {
                        DeploymentState::Failed
                    },
                    created_at: String::new(),
                    updated_at: String::new(),
                    estimated_completion_seconds: 0,
                    steps: vec![
                        step("point endpoint", wrong.is_none(), wrong.clone()),
                        step("synthetic conversation", wrong.is_none(), None),
                    ],
                    error_message: wrong,
                    drain: None,
                },
                retry_after: None,
            })
        })
    }

    fn rollback_deployment<'a>(&'a self, deployment: &'a str) -> BoxFut<'a, Value> {
        Box::pin(async move {
            Err(unsupported(
                &format!("undoing deployment {deployment}"),
                "re-point the endpoints with `relcon rollback BOT --to SNAPSHOT`",
            ))
        })
    }

    fn set_routing<'a>(&'a self, request: &'a RoutingRequest) -> BoxFut<'a, Vec<BotRouting>> {
        Box::pin(async move {
            let bot = request
                .bot_id
                .as_deref()
                .ok_or_else(|| BackendError::Invalid {
                    detail: "the cognigy backend switches one project at a time".into(),
                    errors: Vec::new(),
                })?;
            let p = self.project(bot).await?;
            let eps = self.endpoints(&p.id).await?;
            // The version the endpoints given traffic serve is what the production
            // endpoints take: traffic cannot move between channels, the version can.
            let winners: Vec<&Ep> = request
                .weights
                .iter()
                .filter(|(_, w)| *w > 0.0)
                .filter_map(|(id, _)| eps.iter().find(|e| &e.endpoint.id == id))
                .collect();
            let mut versions: Vec<&str> = winners.iter().filter_map(|e| e.serves()).collect();
            versions.dedup();
            let [snapshot] = versions.as_slice() else {
                return Err(BackendError::Invalid {
                    detail: format!(
                        "the endpoints to switch to serve {} snapshots; the switch needs exactly one",
                        versions.len()
                    ),
                    errors: Vec::new(),
                });
            };
            let snapshot = snapshot.to_string();
            let production: Vec<&Ep> = eps
                .iter()
                .filter(|e| e.stage == Stage::Production && e.share > 0.0)
                .collect();
            self.repoint(&production, &snapshot).await?;
            let eps = self.endpoints(&p.id).await?;
            Ok(vec![routing_of(&p.id, &eps)])
        })
    }

    fn create_sync_job<'a>(&'a self, _deployment: &'a str, region: &'a str) -> BoxFut<'a, String> {
        Box::pin(async move {
            Err(unsupported(
                &format!("a region sync to {region}"),
                "promote between installations with profiles instead",
            ))
        })
    }

    fn start_canary<'a>(&'a self, request: &'a CanaryRequest) -> BoxFut<'a, Canary> {
        Box::pin(self.start(request))
    }

    fn set_canary_weight<'a>(&'a self, canary: &'a str, pct: f64) -> BoxFut<'a, Canary> {
        Box::pin(self.weight(canary, pct))
    }

    fn pause_canary<'a>(&'a self, canary: &'a str) -> BoxFut<'a, Canary> {
        Box::pin(self.hold(canary, true))
    }

    fn resume_canary<'a>(&'a self, canary: &'a str) -> BoxFut<'a, Canary> {
        Box::pin(self.hold(canary, false))
    }

    fn promote_canary<'a>(&'a self, canary: &'a str) -> BoxFut<'a, Canary> {
        Box::pin(self.promote(canary))
    }

    fn rollback_canary<'a>(&'a self, canary: &'a str, _reason: &'a str) -> BoxFut<'a, Canary> {
        Box::pin(self.abandon(canary))
    }

    fn create_rollback_job<'a>(&'a self, request: &'a RollbackRequest) -> BoxFut<'a, String> {
        self.create_rollback_job_drained(request, None)
    }

    fn create_rollback_job_drained<'a>(
        &'a self,
        request: &'a RollbackRequest,
        _drain: Option<Duration>,
    ) -> BoxFut<'a, String> {
        Box::pin(async move {
            let p = self.project(&request.bot_id).await?;
            let stage = if request.environment.eq_ignore_ascii_case("staging") {
                Stage::Staging
            } else {
                Stage::Production
            };
            let eps = self.endpoints(&p.id).await?;
            let of_stage: Vec<&Ep> = eps.iter().filter(|e| e.stage == stage).collect();
            // The endpoints carrying the traffic; without any, every active one.
            let mut targets: Vec<&Ep> =
                of_stage.iter().copied().filter(|e| e.share > 0.0).collect();
            if targets.is_empty() {
                targets = of_stage
                    .iter()
                    .copied()
                    .filter(|e| e.serves().is_some())
                    .collect();
            }
            if targets.is_empty() {
                return Err(BackendError::Invalid {
                    detail: format!(
                        "project {} has no {} endpoint serving a snapshot to roll back",
                        p.id,
                        stage.as_str()
                    ),
                    errors: Vec::new(),
                });
            }
            self.repoint(&targets, &request.target_version_id).await?;
            let ids: Vec<String> = targets.iter().map(|e| e.endpoint.id.clone()).collect();
            Ok(job_id("cgrollback", &request.target_version_id, &ids))
        })
    }

    fn rollback_job_status<'a>(&'a self, job: &'a str) -> BoxFut<'a, Polled<RollbackJob>> {
        Box::pin(async move {
            let (snapshot, eps) =
                parse_job("cgrollback", job).ok_or_else(|| BackendError::NotFound {
                    what: format!("rollback job {job}"),
                    detail: "not a rollback the cognigy backend made".into(),
                })?;
            let wrong = self.job_state(snapshot, &eps).await?;
            Ok(Polled {
                value: RollbackJob {
                    job_id: job.to_string(),
                    bot_id: String::new(),
                    target_version_id: snapshot.to_string(),
                    state: if wrong.is_none() {
                        JobState::Completed
                    } else {
                        JobState::Failed
                    },
                    error_message: wrong,
                    steps: Vec::new(),
                    environment_id: Some(eps[0].to_string()),
                    drain: None,
                },
                retry_after: None,
            })
        })
    }

    fn send_test_message<'a>(&'a self, bot: &'a str, message: &'a str) -> BoxFut<'a, TestResult> {
        Box::pin(async move {
            let p = self.project(bot).await?;
            let eps = self.endpoints(&p.id).await?;
            let ep = eps
                .iter()
                .filter(|e| e.stage == Stage::Production && e.serves().is_some())
                .max_by(|a, b| a.share.total_cmp(&b.share))
                .ok_or_else(|| BackendError::Invalid {
                    detail: format!(
                        "project {} has no production endpoint serving a snapshot",
                        p.id
                    ),
                    errors: Vec::new(),
                })?;
            let body = self.converse(&ep.endpoint, message).await?;
            let (_, intent) = reply_intent(&body);
            let (name, confidence) = intent.unwrap_or_default();
            Ok(TestResult {
                intent: IntentMatch { name, confidence },
                version_id: ep.serves().map(str::to_string),
                environment_id: Some(ep.endpoint.id.clone()),
            })
        })
    }

    fn import_flow<'a>(&'a self, _flow: &'a Value, _env: &'a str) -> BoxFut<'a, FlowImport> {
        Box::pin(async { Err(unsupported("a flow import", FLOWS)) })
    }

    fn flow_status<'a>(&'a self, _flow: &'a str, _env: &'a str) -> BoxFut<'a, FlowStatus> {
        Box::pin(async { Err(unsupported("a flow's status", FLOWS)) })
    }

    fn rollback_flow<'a>(
        &'a self,
        _flow: &'a str,
        _target_version: Option<&'a str>,
        _environment: Option<&'a str>,
    ) -> BoxFut<'a, Value> {
        Box::pin(async { Err(unsupported("a flow rollback", FLOWS)) })
    }

    fn validate_environment<'a>(
        &'a self,
        _environment: &'a str,
        _body: &'a Value,
    ) -> BoxFut<'a, EnvValidation> {
        Box::pin(async { Err(unsupported("an environment validation", ENV_DEPLOY)) })
    }

    fn synthetic_trace<'a>(&'a self, _body: &'a Value) -> BoxFut<'a, TraceResult> {
        Box::pin(async { Err(unsupported("a synthetic trace", ENV_DEPLOY)) })
    }

    fn create_env_deployment<'a>(&'a self, _body: &'a Value) -> BoxFut<'a, String> {
        Box::pin(async { Err(unsupported("an environment deployment", ENV_DEPLOY)) })
    }

    fn env_job<'a>(&'a self, _job: &'a str) -> BoxFut<'a, Polled<EnvJob>> {
        Box::pin(async { Err(unsupported("an environment job", ENV_DEPLOY)) })
    }

    fn rollback_env_job<'a>(&'a self, _job: &'a str, _reason: &'a str) -> BoxFut<'a, Value> {
        Box::pin(async { Err(unsupported("an environment job", ENV_DEPLOY)) })
    }

    fn get_operation<'a>(&'a self, operation: &'a str) -> BoxFut<'a, OperationDetail> {
        Box::pin(async move {
            Err(BackendError::NotFound {
                what: format!("operation {operation}"),
                detail: CONTROL.into(),
            })
        })
    }

    fn list_operation_details<'a>(
        &'a self,
        _bot: Option<&'a str>,
        _active_only: bool,
    ) -> BoxFut<'a, Vec<OperationDetail>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn acquire_lease<'a>(&'a self, _op: &'a str, _req: &'a LeaseRequest) -> BoxFut<'a, Lease> {
        Box::pin(async { Err(unsupported("an operation lease", CONTROL)) })
    }

    fn release_lease<'a>(&'a self, _op: &'a str, _key: &'a str) -> BoxFut<'a, bool> {
        Box::pin(async { Ok(false) })
    }

    fn post_command<'a>(
        &'a self,
        _operation: &'a str,
        _command: ControlCommand,
        _operator: &'a str,
        _reason: Option<&'a str>,
    ) -> BoxFut<'a, OperationCommand> {
        Box::pin(async { Err(unsupported("an operation command", CONTROL)) })
    }

    fn list_commands<'a>(&'a self, _op: &'a str) -> BoxFut<'a, Vec<OperationCommand>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn pending_commands<'a>(&'a self, _op: &'a str) -> BoxFut<'a, Vec<OperationCommand>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn ack_command<'a>(
        &'a self,
        _operation: &'a str,
        _command: &'a str,
        _state: CommandState,
        _detail: &'a str,
    ) -> BoxFut<'a, OperationCommand> {
        Box::pin(async { Err(unsupported("an operation command", CONTROL)) })
    }

    fn post_event<'a>(
        &'a self,
        _operation: &'a str,
        _kind: OperationEventKind,
        _message: &'a str,
    ) -> BoxFut<'a, OperationEvent> {
        Box::pin(async { Err(unsupported("an operation event", CONTROL)) })
    }

    fn operation_events<'a>(
        &'a self,
        _operation: &'a str,
        _after: Option<u64>,
    ) -> BoxFut<'a, Vec<OperationEvent>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn register_webhook<'a>(
        &'a self,
        name: &'a str,
        _url: &'a str,
        _events: &'a [String],
        _secret: &'a SecretString,
    ) -> BoxFut<'a, WebhookRegistration> {
        Box::pin(async move {
            Err(unsupported(
                &format!("registering webhook {name} on the server"),
                "relcon signs and sends its webhooks itself (the profile's [[webhooks]])",
            ))
        })
    }

    fn version_limit(&self) -> Option<usize> {
        Some(SNAPSHOT_LIMIT)
    }

    fn create_version<'a>(
        &'a self,
        bot: &'a str,
        name: &'a str,
        description: &'a str,
    ) -> BoxFut<'a, String> {
        Box::pin(async move {
            let p = self.project(bot).await?;
            let body = serde_json::to_value(CreateSnapshot {
                project_id: p.id.clone(),
                name: name.to_string(),
                description: description.to_string(),
            })
            .unwrap_or_default();
            // The platform takes no idempotency key: a resent POST could take two.
            let req = ApiRequest::new(Method::POST, format!("{PREFIX}/snapshots"))
                .json(body)
                .once();
            let what = req.what();
            let task: CreatedTask = decode(&what, self.call(req).await?.body)?;
            Ok(task.id)
        })
    }

    fn delete_version<'a>(&'a self, bot: &'a str, version: &'a str) -> BoxFut<'a, String> {
        Box::pin(async move {
            let p = self.project(bot).await?;
            // Never a snapshot an endpoint serves, whatever the platform would allow.
            for item in self
                .all::<EndpointIndexItem>("/endpoints", Some(&p.id))
                .await?
            {
                let e = self.endpoint_detail(&item).await?;
                if e.entrypoint.as_deref() == Some(version) {
                    return Err(BackendError::Conflict {
                        detail: format!(
                            "snapshot {version} is served by endpoint {} ({}); re-point it first",
                            e.id,
                            clean(&e.name)
                        ),
                        conflicts_with: Some(e.id),
                    });
                }
            }
            let req = ApiRequest::new(
                Method::DELETE,
                format!("{PREFIX}/snapshots/{}", percent_encode(version)),
            )
            .once();
            let what = req.what();
            let task: CreatedTask = decode(&what, self.call(req).await?.body)?;
            Ok(task.id)
        })
    }

    fn package_version<'a>(&'a self, _bot: &'a str, version: &'a str) -> BoxFut<'a, String> {
        Box::pin(self.snapshot_task(version, "package"))
    }

    fn download_version<'a>(&'a self, _bot: &'a str, version: &'a str) -> BoxFut<'a, Vec<u8>> {
        Box::pin(async move {
            let req = ApiRequest::new(
                Method::POST,
                format!(
                    "{PREFIX}/snapshots/{}/downloadlink",
                    percent_encode(version)
                ),
            );
            let what = req.what();
            let body = self.call(req).await?.body;
            let link = body
                .get("downloadLink")
                .and_then(Value::as_str)
                .ok_or_else(|| BackendError::Decode {
                    what: what.clone(),
                    detail: "the answer has no downloadLink".into(),
                })?
                .to_string();
            // The link is its own credential: no API key goes with it.
            let resp =
                self.api
                    .client()
                    .get(&link)
                    .send()
                    .await
                    .map_err(|e| BackendError::Network {
                        url: "the snapshot's download link".into(),
                        detail: super::http::error_chain(&e),
                        attempts: 1,
                    })?;
            let status = resp.status();
            let bytes = resp.bytes().await.map_err(|e| BackendError::Network {
                url: "the snapshot's download link".into(),
                detail: super::http::error_chain(&e),
                attempts: 1,
            })?;
            if !status.is_success() {
                return Err(super::http::error_from_response(
                    status,
                    &Default::default(),
                    &bytes,
                    "the snapshot package download",
                    1,
                    &[],
                ));
            }
            Ok(bytes.to_vec())
        })
    }

    fn upload_version<'a>(&'a self, bot: &'a str, package: &'a [u8]) -> BoxFut<'a, String> {
        Box::pin(async move {
            let p = self.project(bot).await?;
            let form = reqwest::multipart::Form::new()
                .text("projectId", p.id.clone())
                .part(
                    "file",
                    reqwest::multipart::Part::bytes(package.to_vec()).file_name("snapshot.csnap"),
                );
            let url = format!("{}{PREFIX}/snapshots/upload", self.hosts.api_url);
            use secrecy::ExposeSecret;
            let mut key = reqwest::header::HeaderValue::from_str(self.key.0.expose_secret())
                .map_err(|_| BackendError::Config {
                    detail: "the API key holds a character a header cannot carry".into(),
                })?;
            key.set_sensitive(true);
            // Sent once: the platform takes no idempotency key for an upload.
            let resp = self
                .api
                .client()
                .post(&url)
                .header("x-api-key", key)
                .multipart(form)
                .send()
                .await
                .map_err(|e| BackendError::Network {
                    url: url.clone(),
                    detail: super::http::error_chain(&e),
                    attempts: 1,
                })?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let bytes = resp.bytes().await.unwrap_or_default();
            if !status.is_success() {
                return Err(super::http::error_from_response(
                    status,
                    &headers,
                    &bytes,
                    "POST /new/v2.0/snapshots/upload",
                    1,
                    &[&self.key.0],
                ));
            }
            let v: Value = serde_json::from_slice(&bytes).map_err(|e| BackendError::Decode {
                what: "POST /new/v2.0/snapshots/upload".into(),
                detail: e.to_string(),
            })?;
            let task: CreatedTask = decode("POST /new/v2.0/snapshots/upload", v)?;
            Ok(task.id)
        })
    }

    fn restore_version<'a>(&'a self, _bot: &'a str, version: &'a str) -> BoxFut<'a, String> {
        Box::pin(self.snapshot_task(version, "restore"))
    }

    fn version_job<'a>(&'a self, job: &'a str) -> BoxFut<'a, Polled<VersionJob>> {
        Box::pin(async move {
            let t: Task = self
                .get(format!("{PREFIX}/tasks/{}", percent_encode(job)))
                .await?;
            let state = match t.status {
                TaskStatus::Queued => VersionJobState::Queued,
                TaskStatus::Active | TaskStatus::Cancelling => VersionJobState::Active,
                TaskStatus::Done => VersionJobState::Done,
                TaskStatus::Error => VersionJobState::Failed,
                TaskStatus::Cancelled => VersionJobState::Cancelled,
            };
            Ok(Polled {
                value: VersionJob {
                    job_id: t.id,
                    state,
                    step: t.current_step,
                    total: t.total_step,
                    fail_reason: Some(clean(&t.fail_reason)).filter(|r| !r.is_empty()),
                },
                retry_after: None,
            })
        })
    }

    fn post_audit_log<'a>(&'a self, _record: &'a Value) -> BoxFut<'a, ()> {
        // The platform keeps no audit copy; the local audit log is the record.
        Box::pin(async { Ok(()) })
    }
}

fn routing_of(project: &str, eps: &[Ep]) -> BotRouting {
    BotRouting {
        bot_id: project.to_string(),
        environments: eps
            .iter()
            .map(|e| RouteWeight {
                environment_id: e.endpoint.id.clone(),
                traffic_weight: e.share,
                live_version: e.serves().map(str::to_string),
                active_sessions: None,
                drain: None,
            })
            .collect(),
    }
}

const FLOWS: &str =
    "flows deploy inside a snapshot on Cognigy.AI: take a snapshot of the project and deploy that";
const ENV_DEPLOY: &str =
    "Cognigy.AI has no environment deployment; endpoints and profiles stand for environments";
const CONTROL: &str = "Cognigy.AI keeps no record of relcon's operations, so other relcons cannot send this one commands";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_names_say_their_stage() {
        for n in [
            "Shop REST – Staging",
            "test endpoint",
            "QA",
            "bot-dev",
            "Sandbox 2",
        ] {
            assert_eq!(stage_of(n), Stage::Staging, "{n}");
        }
        for n in [
            "Shop REST – Production (blue)",
            "Webchat",
            "contest",
            "latest",
            "devops",
        ] {
            assert_eq!(stage_of(n), Stage::Production, "{n}");
        }
    }

    #[test]
    fn job_ids_round_trip() {
        let id = job_id("cgrollback", "s1", &["e1".into(), "e2".into()]);
        assert_eq!(parse_job("cgrollback", &id), Some(("s1", vec!["e1", "e2"])));
        assert_eq!(parse_job("cgdeploy", &id), None);
        assert_eq!(parse_job("cgrollback", "cgrollback.s1."), None);
    }

    #[test]
    fn odata_literals_double_their_quotes() {
        assert_eq!(lit("O'Brien"), "'O''Brien'");
    }

    #[test]
    fn replies_give_text_and_intent() {
        let body = json!({"text": "", "outputStack": [{"text": "Hi \u{1b}[31mthere"}], "data": {"intent": "greet", "intentScore": 0.9}});
        let (text, intent) = reply_intent(&body);
        assert_eq!(text, "Hi there");
        assert_eq!(intent, Some(("greet".into(), 0.9)));
    }
}

//! The Release API client against small scripted servers on 127.0.0.1: token handling,
//! retries, idempotency keys, error mapping and secrecy. Waits run on `Clock::scaled(1000)`,
//! so a `Retry-After: 1` costs a millisecond; nothing sleeps to synchronise.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use relcon::backend::{
    Auth, BackendError, CanaryRequest, DeploymentRequest, HttpSettings, MetricType, MetricsQuery,
    ReleaseApi, ReleaseBackend, RollbackRequest, TokenStyle,
};
use relcon::clock::Clock;
use relcon::domain::{FlowRef, Thresholds};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore};

// --- a scripted server ------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Hit {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Hit {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
    fn bearer(&self) -> Option<String> {
        self.header("authorization")
            .and_then(|v| v.strip_prefix("Bearer ").map(str::to_string))
    }
    fn form(&self) -> HashMap<String, String> {
        url_decode_form(&String::from_utf8_lossy(&self.body))
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    fn is_token(&self) -> bool {
        self.path.ends_with("/token")
    }
}

struct Resp {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

fn ok(body: Value) -> Resp {
    Resp {
        status: 200,
        headers: vec![("content-type", "application/json".into())],
        body: body.to_string(),
    }
}

fn status(code: u16, body: Value) -> Resp {
    let ct = if code >= 400 {
        "application/problem+json"
    } else {
        "application/json"
    };
    Resp {
        status: code,
        headers: vec![("content-type", ct.into())],
        body: body.to_string(),
    }
}

fn problem(code: u16, detail: &str, extra: Value) -> Resp {
    let mut body =
        json!({"type": "about:blank", "title": "problem", "status": code, "detail": detail});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    status(code, body)
}

fn with_header(mut r: Resp, name: &'static str, value: &str) -> Resp {
    r.headers.push((name, value.to_string()));
    r
}

/// Issues `tok-N` (N = how many tokens were issued before) living `ttl` seconds.
fn token(n: usize, ttl: u64) -> Resp {
    ok(
        json!({"access_token": format!("tok-{n}"), "token_type": "Bearer", "expires_in": ttl, "scope": "all"}),
    )
}

type Script = dyn Fn(&Hit, usize) -> Resp + Send + Sync;

struct Gate {
    arrived: Arc<Notify>,
    release: Arc<Semaphore>,
}

struct ServerState {
    hits: Mutex<Vec<Hit>>,
    script: Box<Script>,
    token_gate: Option<Gate>,
}

struct Server {
    base: String,
    state: Arc<ServerState>,
}

impl Server {
    fn hits(&self) -> Vec<Hit> {
        self.state.hits.lock().unwrap().clone()
    }
    fn count(&self, f: impl Fn(&Hit) -> bool) -> usize {
        self.hits().iter().filter(|h| f(h)).count()
    }
    fn token_requests(&self) -> usize {
        self.count(Hit::is_token)
    }
}

async fn handle(State(st): State<Arc<ServerState>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let hit = Hit {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts.headers,
        body,
    };
    let nth = {
        let mut hits = st.hits.lock().unwrap();
        let nth = hits
            .iter()
            .filter(|h| h.method == hit.method && h.path == hit.path)
            .count();
        hits.push(hit.clone());
        nth
    };
    if hit.is_token()
        && let Some(gate) = &st.token_gate
    {
        gate.arrived.notify_one();
        let permit = gate.release.acquire().await.unwrap();
        permit.forget();
    }
    let r = (st.script)(&hit, nth);
    let mut builder = Response::builder().status(StatusCode::from_u16(r.status).unwrap());
    for (k, v) in r.headers {
        builder = builder.header(k, v);
    }
    builder.body(Body::from(r.body)).unwrap()
}

async fn serve_with(
    script: impl Fn(&Hit, usize) -> Resp + Send + Sync + 'static,
    token_gate: Option<Gate>,
) -> Server {
    let state = Arc::new(ServerState {
        hits: Mutex::new(Vec::new()),
        script: Box::new(script),
        token_gate,
    });
    let app = Router::new().fallback(handle).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Server {
        base: format!("http://{addr}"),
        state,
    }
}

async fn serve(script: impl Fn(&Hit, usize) -> Resp + Send + Sync + 'static) -> Server {
    serve_with(script, None).await
}

fn url_decode_form(s: &str) -> HashMap<String, String> {
    fn dec(s: &str) -> String {
        let bytes = s.replace('+', " ").into_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }
    s.split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (dec(k), dec(v)))
        .collect()
}

// --- clients ----------------------------------------------------------------------------

const CLIENT_ID: &str = "relcon-ci";
const CLIENT_SECRET: &str = "CLIENTSECRET-7f3a9c1e";

fn settings(base: &str) -> HttpSettings {
    let mut s = HttpSettings::new(base);
    s.clock = Clock::scaled(1000.0);
    s
}

fn basic_auth() -> Auth {
    Auth::ClientCredentials {
        client_id: CLIENT_ID.into(),
        client_secret: SecretString::from(CLIENT_SECRET),
        style: TokenStyle::Basic,
        token_url: "/v1/auth/token".into(),
        scopes: vec!["bot:read".into(), "bot:deploy".into()],
    }
}

fn api(server: &Server, auth: Auth) -> ReleaseApi {
    ReleaseApi::new(settings(&server.base), auth).unwrap()
}

fn bot(id: &str, name: &str) -> Value {
    json!({"id": id, "name": name, "environments": [], "activeSessions": 0, "health": "healthy"})
}

/// Serves tokens (`ttl` seconds) and `{items:[bot]}` to holders of any `tok-*`.
fn bots_script(ttl: u64) -> impl Fn(&Hit, usize) -> Resp + Send + Sync + 'static {
    move |hit, nth| {
        if hit.is_token() {
            return token(nth, ttl);
        }
        match hit.bearer() {
            Some(t) if t.starts_with("tok-") => ok(json!({"items": [bot("b1", "Support bot")]})),
            _ => problem(401, "missing or unknown token", json!({})),
        }
    }
}

// --- tokens -----------------------------------------------------------------------------

#[tokio::test]
async fn one_token_serves_many_calls() {
    let server = serve(bots_script(3600)).await;
    let api = api(&server, basic_auth());
    for _ in 0..5 {
        assert_eq!(api.list_bots().await.unwrap()[0].id, "b1");
    }
    assert_eq!(server.token_requests(), 1);

    let token_hit = server.hits().into_iter().find(Hit::is_token).unwrap();
    assert_eq!(token_hit.method, "POST");
    let expected =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    assert_eq!(
        token_hit.header("authorization"),
        Some(format!("Basic {expected}"))
    );
    let form = token_hit.form();
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["scope"], "bot:read bot:deploy");
    assert!(!form.contains_key("client_secret"));
    assert!(
        server
            .hits()
            .iter()
            .filter(|h| !h.is_token())
            .all(|h| h.bearer().as_deref() == Some("tok-0"))
    );
}

#[tokio::test]
async fn form_style_sends_the_credentials_as_fields() {
    let server = serve(bots_script(3600)).await;
    let auth = Auth::ClientCredentials {
        client_id: CLIENT_ID.into(),
        client_secret: SecretString::from(CLIENT_SECRET),
        style: TokenStyle::Form,
        token_url: "/oauth/token".into(),
        scopes: vec![],
    };
    api(&server, auth).list_bots().await.unwrap();
    let hit = server.hits().into_iter().find(Hit::is_token).unwrap();
    assert_eq!(hit.path, "/oauth/token");
    assert!(hit.header("authorization").is_none());
    let form = hit.form();
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_id"], CLIENT_ID);
    assert_eq!(form["client_secret"], CLIENT_SECRET);
    assert!(
        !form.contains_key("scope"),
        "no scopes asks for all of them"
    );
}

#[tokio::test]
async fn tokens_are_refreshed_when_less_than_a_minute_remains() {
    // 59 s of life is inside the 60 s margin: every call needs a fresh token.
    let server = serve(bots_script(59)).await;
    let api = api(&server, basic_auth());
    for _ in 0..3 {
        api.list_bots().await.unwrap();
    }
    assert_eq!(server.token_requests(), 3);

    // 120 s of life leaves a minute of reuse.
    let server = serve(bots_script(120)).await;
    let api2 = ReleaseApi::new(settings(&server.base), basic_auth()).unwrap();
    for _ in 0..3 {
        api2.list_bots().await.unwrap();
    }
    assert_eq!(server.token_requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_share_one_refresh() {
    let arrived = Arc::new(Notify::new());
    let release = Arc::new(Semaphore::new(0));
    let gate = Gate {
        arrived: arrived.clone(),
        release: release.clone(),
    };
    let server = serve_with(bots_script(3600), Some(gate)).await;
    let api: Arc<dyn ReleaseBackend> = Arc::new(api(&server, basic_auth()));

    let started = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let api = api.clone();
        let started = started.clone();
        tasks.push(tokio::spawn(async move {
            started.fetch_add(1, Ordering::SeqCst);
            api.list_bots().await
        }));
    }
    // Hold the token endpoint until the first refresh is in flight.
    arrived.notified().await;
    while started.load(Ordering::SeqCst) < 10 {
        tokio::task::yield_now().await;
    }
    release.add_permits(100);
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().len(), 1);
    }
    assert_eq!(server.token_requests(), 1);
    assert_eq!(server.count(|h| h.path == "/api/v1/bots"), 10);
}

#[tokio::test]
async fn a_refused_token_is_replaced_once() {
    // The first token is revoked server-side; the second works.
    let server = serve(|hit, nth| {
        if hit.is_token() {
            return token(nth, 3600);
        }
        match hit.bearer().as_deref() {
            Some("tok-1") => ok(json!({"items": []})),
            _ => with_header(
                problem(401, "token expired", json!({})),
                "www-authenticate",
                "Bearer error=\"invalid_token\"",
            ),
        }
    })
    .await;
    let api = api(&server, basic_auth());
    assert!(api.list_bots().await.unwrap().is_empty());
    assert_eq!(server.token_requests(), 2);
    assert_eq!(server.count(|h| h.path == "/api/v1/bots"), 2);

    // A server that refuses every token: one refresh, then a clear error.
    let server = serve(|hit, nth| {
        if hit.is_token() {
            return token(nth, 3600);
        }
        problem(401, "token revoked", json!({}))
    })
    .await;
    let err = api_for(&server).list_bots().await.unwrap_err();
    assert!(matches!(err, BackendError::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().contains("COGNIGY_CLIENT_ID"));
    assert_eq!(server.token_requests(), 2);
    assert_eq!(server.count(|h| h.path == "/api/v1/bots"), 2);
}

fn api_for(server: &Server) -> ReleaseApi {
    api(server, basic_auth())
}

#[tokio::test]
async fn token_endpoint_refusals_are_explained() {
    let server = serve(|hit, _| {
        if hit.is_token() {
            return status(
                400,
                json!({"error": "invalid_scope", "error_description": "nobody has scope x:y"}),
            );
        }
        ok(json!({"items": []}))
    })
    .await;
    let err = api_for(&server).list_bots().await.unwrap_err();
    assert!(matches!(err, BackendError::Config { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("invalid_scope") && text.contains("scopes"),
        "{text}"
    );

    let server = serve(|hit, _| {
        if hit.is_token() {
            return status(401, json!({"error": "invalid_client"}));
        }
        ok(json!({"items": []}))
    })
    .await;
    let err = api_for(&server).list_bots().await.unwrap_err();
    assert!(matches!(err, BackendError::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().contains("invalid_client"));
}

// --- problems ---------------------------------------------------------------------------

fn key_auth() -> Auth {
    Auth::ApiKey(SecretString::from("APIKEY-5d1e0b7a"))
}

#[tokio::test]
async fn problems_map_to_actionable_errors() {
    let server = serve(|hit, _| match hit.path.as_str() {
        "/api/v1/canaries/c-1/promote" => problem(
            403,
            "token lacks scope bot:deploy",
            json!({"missingScope": "bot:deploy", "requiredScopes": ["bot:deploy"]}),
        ),
        "/api/v1/deployments" => problem(
            409,
            "bot b1 already has a rollback job in progress",
            json!({"conflictsWith": "job-7"}),
        ),
        "/api/v1/bots/b1/deploy" => problem(
            422,
            "2 violations",
            json!({"errors": [
                {"field": "traffic_matrix", "message": "stable + canary must be 100"},
                {"field": "rollback_thresholds.error_rate", "message": "must be within 0..1"}
            ]}),
        ),
        "/api/v1/canaries/nope" => problem(404, "canary nope does not exist", json!({})),
        _ => problem(418, "\u{1b}[31mteapot\u{1b}[0m", json!({})),
    })
    .await;
    let api = api(&server, key_auth());

    let err = api.promote_canary("c-1").await.unwrap_err();
    assert_eq!(
        err,
        BackendError::Forbidden {
            missing_scope: Some("bot:deploy".into()),
            detail: "token lacks scope bot:deploy".into()
        }
    );
    assert!(err.to_string().contains("add it to the client's scopes"));

    let req = RollbackRequest {
        bot_id: "b1".into(),
        target_version_id: "v3".into(),
        environment: "PRODUCTION".into(),
        validate_dependencies: true,
        force: false,
    };
    let err = api.create_rollback_job(&req).await.unwrap_err();
    match &err {
        BackendError::Conflict {
            conflicts_with,
            detail,
        } => {
            assert_eq!(conflicts_with.as_deref(), Some("job-7"));
            assert!(detail.contains("in progress"));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }

    let err = api.start_canary(&canary_request()).await.unwrap_err();
    match &err {
        BackendError::Invalid { errors, .. } => {
            assert_eq!(errors.len(), 2);
            assert_eq!(errors[0].field, "traffic_matrix");
        }
        other => panic!("expected invalid, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("traffic_matrix: stable + canary must be 100"),
        "{text}"
    );
    assert!(text.contains("rollback_thresholds.error_rate: must be within 0..1"));

    let err = api.get_canary("nope").await.unwrap_err();
    assert!(matches!(err, BackendError::NotFound { .. }));
    assert!(err.to_string().contains("canary nope does not exist"));

    // Server text is sanitised before it reaches an error.
    let err = api.get_bot("b1").await.unwrap_err();
    assert_eq!(
        err,
        BackendError::Rejected {
            status: 418,
            detail: "teapot".into()
        }
    );
    // Client errors are final: one request each.
    assert_eq!(server.count(|h| h.path == "/api/v1/deployments"), 1);
}

fn canary_request() -> CanaryRequest {
    CanaryRequest {
        bot_id: "b1".into(),
        environment_id: "prod-blue".into(),
        version: "v4".into(),
        stable_pct: 90.0,
        canary_pct: 10.0,
        thresholds: Thresholds::default(),
        max_traffic_percentage: 50.0,
    }
}

// --- retries ----------------------------------------------------------------------------

#[tokio::test]
async fn rate_limits_are_waited_out_on_the_server_clock() {
    let server = serve(|_, nth| {
        if nth == 0 {
            with_header(
                problem(429, "slow down", json!({"retryAfterSeconds": 1})),
                "retry-after",
                "1",
            )
        } else {
            ok(json!({"items": []}))
        }
    })
    .await;
    let api = api(&server, key_auth());
    let started = std::time::Instant::now();
    api.list_environments().await.unwrap();
    assert_eq!(server.hits().len(), 2);
    // One server second on a 1000x clock; generous bound, never a pass condition on speed.
    assert!(started.elapsed() < Duration::from_secs(5));

    // A server that never relents: the error says so and carries its hint.
    let server = serve(|_, _| {
        with_header(
            problem(429, "budget exhausted", json!({})),
            "retry-after",
            "7",
        )
    })
    .await;
    let err = api_with_key(&server).list_environments().await.unwrap_err();
    assert_eq!(
        err,
        BackendError::RateLimited {
            retry_after: Some(Duration::from_secs(7)),
            attempts: 4
        }
    );
    assert_eq!(server.hits().len(), 4);
}

fn api_with_key(server: &Server) -> ReleaseApi {
    api(server, key_auth())
}

#[tokio::test]
async fn unavailable_reads_are_retried_with_backoff() {
    let server = serve(|_, nth| {
        if nth < 2 {
            problem(503, "warming up", json!({}))
        } else {
            ok(json!({"items": [bot("b1", "Support bot")]}))
        }
    })
    .await;
    let bots = api_with_key(&server).list_bots().await.unwrap();
    assert_eq!(bots.len(), 1);
    assert_eq!(server.hits().len(), 3);

    // Always down: the error counts the attempts.
    let server = serve(|_, _| problem(503, "maintenance", json!({}))).await;
    let err = api_with_key(&server).list_bots().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "server error 503 after 4 attempts (retried with backoff): maintenance"
    );
    assert_eq!(server.hits().len(), 4);
}

#[tokio::test]
async fn a_500_is_retried_for_reads_but_not_for_writes() {
    let server = serve(|hit, nth| {
        if nth == 0 {
            return problem(500, "oops", json!({}));
        }
        if hit.method == "GET" {
            ok(json!({"items": []}))
        } else {
            status(
                201,
                json!({"id": "a1", "receivedAt": "2024-01-01T00:00:00Z"}),
            )
        }
    })
    .await;
    let api = api_with_key(&server);
    api.list_operations(Some("b1"), true).await.unwrap();
    let err = api
        .post_audit_log(&json!({"event": "x"}))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            BackendError::Server {
                status: 500,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(server.count(|h| h.method == "POST"), 1);
    let get = server
        .hits()
        .into_iter()
        .find(|h| h.method == "GET")
        .unwrap();
    assert!(get.query.contains("botId=b1") && get.query.contains("active=true"));
}

#[tokio::test]
async fn a_retried_post_reuses_its_idempotency_key() {
    // Lost responses: the server did the work but the client saw 502 twice.
    let server = serve(|_, nth| {
        if nth < 2 {
            problem(502, "bad gateway", json!({}))
        } else {
            status(
                202,
                json!({"jobId": format!("job-{nth}"), "status": "queued"}),
            )
        }
    })
    .await;
    let api = api_with_key(&server);
    let body = json!({"environment_id": "prod-blue"});
    assert_eq!(api.create_env_deployment(&body).await.unwrap(), "job-2");
    let keys: Vec<String> = server
        .hits()
        .iter()
        .map(|h| h.header("idempotency-key").unwrap_or_default())
        .collect();
    assert_eq!(keys.len(), 3);
    assert!(!keys[0].is_empty());
    assert!(keys.iter().all(|k| k == &keys[0]), "{keys:?}");
    assert!(uuid::Uuid::parse_str(&keys[0]).is_ok());

    // The next logical call gets a key of its own.
    api.create_env_deployment(&body).await.unwrap();
    let last = server
        .hits()
        .last()
        .unwrap()
        .header("idempotency-key")
        .unwrap();
    assert_ne!(last, keys[0]);
}

#[tokio::test]
async fn every_write_carries_an_idempotency_key() {
    // Answers every call with something plausible; only the requests matter here.
    let server = serve(|hit, nth| {
        if hit.is_token() {
            return token(nth, 3600);
        }
        status(
            if hit.method == "POST" { 201 } else { 200 },
            json!({
                "deploymentId": "d1", "jobId": "j1", "syncJobId": "s1",
                "traceId": "t1", "status": "running", "valid": true,
                "flowId": "f1", "version": "2", "id": "c1", "botId": "b1",
                "environmentId": "prod-blue", "stableVersion": "v3", "state": "running",
                "canaryWeight": 10.0, "maxTrafficPercentage": 50.0,
                "rollbackThresholds": {"error_rate": 0.05, "satisfaction_score": 3.5, "max_latency_ms": 1500.0},
                "startedAt": "t", "updatedAt": "t", "name": "n", "url": "u", "events": [],
                "active": true, "createdAt": "t",
                "data": {"jobId": "j1", "intent": {"name": "greet", "confidence": 0.9}},
                "bots": []
            }),
        )
    })
    .await;
    let api = api(&server, basic_auth());
    let secret = SecretString::from("WEBHOOKSECRET-31c2");
    let flow = json!({"id": "f1"});
    let _ = api
        .create_deployment(&DeploymentRequest {
            bot_id: "b1".into(),
            version_id: None,
            target_environment_id: "prod-green".into(),
            nlu_model_id: "nlu-1".into(),
            flow_references: vec![FlowRef {
                flow_id: "f1".into(),
                version: "3".into(),
            }],
            metadata: json!({}),
        })
        .await;
    let _ = api.rollback_deployment("d1").await;
    let _ = api.create_sync_job("d1", "eu-west").await;
    let _ = api.start_canary(&canary_request()).await;
    let _ = api.set_canary_weight("c1", 25.0).await;
    let _ = api.pause_canary("c1").await;
    let _ = api.rollback_canary("c1", "error rate").await;
    let _ = api.send_test_message("b1", "hello").await;
    let _ = api.import_flow(&flow, "prod-blue").await;
    let _ = api.rollback_flow("f1", None, Some("prod-blue")).await;
    let _ = api.synthetic_trace(&json!({})).await;
    let _ = api.rollback_env_job("j1", "unhealthy").await;
    let _ = api
        .register_webhook(
            "ci",
            "http://127.0.0.1:1/hook",
            &["deployment.canary.completed".into()],
            &secret,
        )
        .await;
    let _ = api.post_audit_log(&json!({"event": "x"})).await;

    let hits = server.hits();
    let writes: Vec<&Hit> = hits
        .iter()
        .filter(|h| matches!(h.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE"))
        .collect();
    assert!(writes.len() >= 15, "{}", writes.len());
    for h in &writes {
        assert!(
            h.header("idempotency-key").is_some_and(|k| !k.is_empty()),
            "{} {} has no idempotency key",
            h.method,
            h.path
        );
    }
    let canary = hits
        .iter()
        .find(|h| h.path == "/api/v1/bots/b1/deploy")
        .unwrap();
    assert_eq!(
        canary.header("x-deployment-type").as_deref(),
        Some("canary")
    );
    assert_eq!(
        canary.header("x-format-verification").as_deref(),
        Some("strict")
    );
    let body = canary.json();
    assert_eq!(
        body["traffic_matrix"],
        json!({"stable": 90.0, "canary": 10.0})
    );
    assert_eq!(body["rollback_thresholds"]["max_latency_ms"], json!(1500.0));
    assert_eq!(body["max_traffic_percentage"], json!(50.0));
    let deploy = hits
        .iter()
        .find(|h| h.path == "/v1/bots/b1/deployments")
        .unwrap();
    let body = deploy.json();
    assert_eq!(body["deploymentType"], "versioned");
    assert_eq!(
        body["flowReferences"],
        json!([{"flowId": "f1", "version": "3"}])
    );
    assert!(body.get("versionId").is_none());
}

#[tokio::test]
async fn malformed_bodies_are_retried_then_reported() {
    let server = serve(|_, _| ok_raw("{\"items\": [{\"id\": \"b1\", \"na")).await;
    let err = api_with_key(&server).list_bots().await.unwrap_err();
    match &err {
        BackendError::Decode { what, .. } => assert_eq!(what, "GET /api/v1/bots"),
        other => panic!("expected a decode error, got {other:?}"),
    }
    assert!(
        err.to_string()
            .contains("malformed JSON body for GET /api/v1/bots")
    );
    assert_eq!(server.hits().len(), 4);

    // A transient truncation heals on retry.
    let server = serve(|_, nth| {
        if nth == 0 {
            ok_raw("{\"items\": [")
        } else {
            ok(json!({"items": []}))
        }
    })
    .await;
    assert!(api_with_key(&server).list_bots().await.unwrap().is_empty());
}

fn ok_raw(body: &str) -> Resp {
    Resp {
        status: 200,
        headers: vec![("content-type", "application/json".into())],
        body: body.to_string(),
    }
}

#[tokio::test]
async fn an_unreachable_server_says_how_to_start_one() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let api = ReleaseApi::new(settings(&format!("http://{addr}")), key_auth()).unwrap();
    let err = api.list_bots().await.unwrap_err();
    match &err {
        BackendError::Network { url, attempts, .. } => {
            assert_eq!(url, &format!("http://{addr}/api/v1/bots"));
            assert_eq!(*attempts, 4);
        }
        other => panic!("expected a network error, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("relcon sim"), "{text}");
    assert!(text.contains(&addr.to_string()), "{text}");
}

// --- secrecy ----------------------------------------------------------------------------

/// Every credential a test uses, and the Basic header made from them.
fn all_secrets() -> Vec<String> {
    vec![
        CLIENT_SECRET.to_string(),
        "APIKEY-5d1e0b7a".to_string(),
        "TOKEN-9b8a7c6d".to_string(),
        "WEBHOOKSECRET-31c2".to_string(),
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")),
    ]
}

fn assert_no_secret(err: &BackendError) {
    let shown = format!("{err} / {err:?}");
    for s in all_secrets() {
        assert!(!shown.contains(&s), "{s} leaked in: {shown}");
    }
}

#[tokio::test]
async fn no_error_ever_shows_a_secret() {
    // A hostile server echoes whatever credentials it got into its error texts.
    let server = serve(|hit, _| {
        let echo = format!(
            "auth={:?} body={}",
            hit.header("authorization"),
            String::from_utf8_lossy(&hit.body)
        );
        if hit.is_token() {
            if hit.path == "/bad/token" {
                return status(
                    401,
                    json!({"error": "invalid_client", "error_description": echo}),
                );
            }
            return ok(json!({"access_token": "TOKEN-9b8a7c6d", "expires_in": 3600}));
        }
        match hit.path.as_str() {
            "/api/v1/bots" => problem(403, &echo, json!({"missingScope": echo.clone()})),
            "/api/v1/environments" => problem(500, &echo, json!({})),
            "/api/v1/webhooks" => problem(
                422,
                &echo,
                json!({"errors": [{"field": "secret", "message": echo}]}),
            ),
            "/api/v1/operations" => problem(409, &echo, json!({"conflictsWith": echo})),
            _ => ok_raw(&format!("{{\"broken\": \"{echo}")),
        }
    })
    .await;

    let mut errors = Vec::new();
    let cc = api(&server, basic_auth());
    errors.push(cc.list_bots().await.unwrap_err());
    errors.push(cc.list_environments().await.unwrap_err());
    errors.push(cc.list_operations(None, false).await.unwrap_err());
    errors.push(cc.get_bot("b1").await.unwrap_err());
    let secret = SecretString::from("WEBHOOKSECRET-31c2");
    errors.push(
        cc.register_webhook("ci", "http://x/y", &[], &secret)
            .await
            .unwrap_err(),
    );

    let form = Auth::ClientCredentials {
        client_id: CLIENT_ID.into(),
        client_secret: SecretString::from(CLIENT_SECRET),
        style: TokenStyle::Form,
        token_url: "/bad/token".into(),
        scopes: vec![],
    };
    errors.push(api(&server, form).list_bots().await.unwrap_err());
    let basic = Auth::ClientCredentials {
        client_id: CLIENT_ID.into(),
        client_secret: SecretString::from(CLIENT_SECRET),
        style: TokenStyle::Basic,
        token_url: "/bad/token".into(),
        scopes: vec![],
    };
    errors.push(api(&server, basic).list_bots().await.unwrap_err());

    let key = api(&server, key_auth());
    errors.push(key.list_bots().await.unwrap_err());
    errors.push(key.list_environments().await.unwrap_err());

    for e in &errors {
        assert_no_secret(e);
    }
    // The servers really did echo them: the scrubbing is what kept them out.
    assert!(errors.iter().any(|e| e.to_string().contains("[redacted]")));
    assert!(
        server
            .hits()
            .iter()
            .any(|h| h.bearer().as_deref() == Some("TOKEN-9b8a7c6d"))
    );

    // Debug of the client and its credentials shows nothing either.
    let shown = format!("{cc:?} {:?}", basic_auth());
    for s in all_secrets() {
        assert!(!shown.contains(&s));
    }
}

// --- shapes -----------------------------------------------------------------------------

#[tokio::test]
async fn server_strings_are_sanitised_and_pages_followed() {
    let server = serve(|hit, _| match hit.path.as_str() {
        "/api/v1/bots" => ok(json!({"items": [bot("b1", "Evil\u{1b}]0;pwned\u{7} bot\u{202e}")]})),
        "/api/v1/bots/b1/versions" => {
            let q = url_decode_form(&hit.query);
            let page: usize = q["page"].parse().unwrap();
            let size: usize = q["size"].parse().unwrap();
            assert_eq!(size, 50);
            let total = 120;
            let data: Vec<Value> = ((page - 1) * size..(page * size).min(total))
                .map(|i| {
                    json!({"id": format!("v{i}"), "label": format!("1.{i}"), "status": "PUBLISHED",
                           "environment": "PRODUCTION", "createdAt": "t", "nluModelId": "n"})
                })
                .collect();
            ok(json!({"success": true, "data": data, "page": page, "size": size, "total": total}))
        }
        "/api/v2/flows" => {
            let q = url_decode_form(&hit.query);
            let offset: usize = q["offset"].parse().unwrap();
            assert_eq!(q["limit"], "100");
            let total = 130;
            let items: Vec<Value> = (offset..(offset + 100).min(total))
                .map(|i| json!({"id": format!("f{i}"), "say": "line one\nline two"}))
                .collect();
            ok(json!({"items": items, "total": total, "limit": 100, "offset": offset}))
        }
        "/v1/deployments/d1/status" => with_header(
            ok(
                json!({"deploymentId": "d1", "botId": "b1", "versionId": "v2",
                      "targetEnvironmentId": "prod-green", "status": "deploying",
                      "createdAt": "t", "updatedAt": "t", "estimatedCompletionSeconds": 30,
                      "steps": [{"name": "compile", "state": "done", "detail": "ok\u{1b}[2J"}]}),
            ),
            "retry-after",
            "5",
        ),
        "/api/v2/environments/prod-blue/validate" => ok(json!({
            "valid": false,
            "warnings": ["memory at 85%", {"code": "isolation", "message": "shared segment"}],
            "capacityUtilization": 0.85,
            "validationErrors": [{"field": "capacity", "message": "over limit"}]
        })),
        "/api/v1/metrics/conversations" => {
            let q = url_decode_form(&hit.query);
            assert_eq!(q["window"], "15m");
            assert_eq!(q["metricType"], "canary");
            ok(
                json!({"botId": "b1", "window": "15m", "metricType": "canary",
                      "conversation_count": 0, "error_count": 0}),
            )
        }
        other => problem(404, &format!("no route {other}"), json!({})),
    })
    .await;
    let api = api_with_key(&server);

    let bots = api.list_bots().await.unwrap();
    assert_eq!(bots[0].name, "Evil bot");

    let versions = api.list_versions("b1").await.unwrap();
    assert_eq!(versions.len(), 120);
    assert_eq!(server.count(|h| h.path == "/api/v1/bots/b1/versions"), 3);

    let flows = api.list_flows(None).await.unwrap();
    assert_eq!(flows.len(), 130);
    assert_eq!(
        flows[0]["say"], "line one\nline two",
        "flows come back verbatim"
    );

    // Retry-After 5 says when the next phase is due; the expected end (30 s) is later, and
    // a poller waiting for the end waits for that.
    let polled = api.deployment_status("d1").await.unwrap();
    assert_eq!(polled.retry_after, Some(Duration::from_secs(30)));
    assert_eq!(polled.value.steps[0].detail.as_deref(), Some("ok"));

    let v = api
        .validate_environment("prod-blue", &json!({}))
        .await
        .unwrap();
    assert!(!v.valid);
    assert_eq!(
        v.warnings,
        vec!["memory at 85%", "isolation: shared segment"]
    );
    assert_eq!(v.validation_errors, vec!["capacity: over limit"]);
    assert_eq!(v.capacity_utilization, Some(0.85));

    let m = api
        .metrics_summary(&MetricsQuery {
            bot: "b1".into(),
            environment: None,
            version: None,
            metric_type: MetricType::Canary,
            window: Duration::from_secs(900),
        })
        .await
        .unwrap();
    assert_eq!(m.conversation_count, 0);
    assert!(m.error_rate.is_none());
}

#[tokio::test]
async fn a_silent_server_times_out() {
    // Accepts connections, reads nothing, answers nothing.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let mut s = settings(&format!("http://{addr}"));
    s.read_timeout = Duration::from_millis(200);
    s.total_timeout = Duration::from_millis(300);
    s.retry.attempts = 2;
    let err = ReleaseApi::new(s, key_auth())
        .unwrap()
        .list_bots()
        .await
        .unwrap_err();
    match &err {
        BackendError::Timeout { what, attempts, .. } => {
            assert_eq!(what, "GET /api/v1/bots");
            assert_eq!(*attempts, 2);
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(err.to_string().contains("no answer from GET /api/v1/bots"));
}

/// A server that answers headers at once and then drips its body a byte every 50 ms, for
/// as long as anyone listens.
async fn dripping_server() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                // The request first (a GET has no body: its head is all there is).
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n[";
                if sock.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                loop {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    if sock.write_all(b" ").await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_dripping_body_fails_the_call_at_its_deadline_not_per_attempt() {
    let mut s = settings(&dripping_server().await);
    // Each byte arrives well inside the read timeout; only the call's deadline ends it.
    s.read_timeout = Duration::from_secs(30);
    s.total_timeout = Duration::from_secs(60);
    s.deadline = Duration::from_millis(400);
    s.retry.attempts = 4;
    let err = ReleaseApi::new(s, key_auth())
        .unwrap()
        .list_bots()
        .await
        .unwrap_err();
    match &err {
        BackendError::Timeout {
            after, attempts, ..
        } => {
            assert_eq!(*after, Duration::from_millis(400));
            assert_eq!(*attempts, 1, "no retry can start after the deadline");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(err.to_string().contains("within 0.4 s"), "{err}");
}

#[tokio::test]
async fn retries_and_their_waits_stay_inside_the_deadline() {
    // 503 with a long Retry-After, on a real clock: the wait would outlast the deadline,
    // so the call reports the server's answer at once instead of sleeping past it.
    let server =
        serve(|_, _| with_header(problem(503, "maintenance", json!({})), "retry-after", "30"))
            .await;
    let mut s = HttpSettings::new(&server.base);
    s.deadline = Duration::from_secs(2);
    s.retry.attempts = 4;
    let err = ReleaseApi::new(s, key_auth())
        .unwrap()
        .list_bots()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503), "{err:?}");
    assert_eq!(err.attempts(), Some(1), "{err:?}");
    assert_eq!(server.count(|h| h.path == "/api/v1/bots"), 1);
}

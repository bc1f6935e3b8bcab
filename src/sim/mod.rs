//! `relcon sim`: the Release API simulator. One world model behind the route families of
//! all five seeds, a scalable clock, a seeded traffic model, fault injection and control
//! endpoints under `/_sim`. Startable from the command line or in-process on 127.0.0.1:0.

pub mod auth;
pub mod clock;
mod conditional;
pub mod control;
pub mod faults;
mod limits;
mod pipeline;
pub mod problem;
mod routes;
pub mod scenario;
pub mod sessions;
pub mod traffic;
pub mod views;
pub mod world;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::Utc;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::sim::auth::{AuthStore, Caller};
use crate::sim::clock::SimClock;
use crate::sim::faults::Faults;
use crate::sim::problem::{ApiError, ApiResult};
use crate::sim::scenario::Scenario;
use crate::sim::world::{Outbound, World};

/// Which API the simulator speaks over its one world.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Dialect {
    /// The Release API (docs/api.md): every route family of the seeds.
    #[default]
    Release,
    /// NICE Cognigy.AI's REST API v2.0 shapes (docs/cognigy-api.md): projects, snapshots,
    /// tasks and endpoints under `/new/v2.0`.
    Cognigy,
}

/// How to start a simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub port: u16,
    pub seed: Option<u64>,
    pub speed: f64,
    pub scenario: Option<PathBuf>,
    pub token_ttl: Duration,
    pub client_budget: u32,
    pub faults: Faults,
    pub dialect: Dialect,
    /// Cognigy dialect: requests per API key per five simulator minutes before 429 (the
    /// platform's published limit is about 1,000).
    pub rate_limit: u32,
    /// Release API: requests per caller (token client or API key) per five simulator minutes
    /// before 429 with `Retry-After`; `None` (the default) sets no such limit.
    pub release_rate_limit: Option<u32>,
}

/// The rate limits' window (both dialects), simulator seconds.
pub const RATE_WINDOW: f64 = 300.0;

/// The Cognigy dialect's rate limit when none is given (the platform's published one).
pub const DEFAULT_RATE_LIMIT: u32 = 1000;

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            port: 0,
            seed: None,
            speed: 1.0,
            scenario: None,
            token_ttl: Duration::from_secs(3600),
            client_budget: 1200,
            faults: Faults::default(),
            dialect: Dialect::default(),
            rate_limit: DEFAULT_RATE_LIMIT,
            release_rate_limit: None,
        }
    }
}

/// A webhook the receiver under `/hooks` got.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceivedHook {
    pub method: String,
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: Value,
    pub received_at: String,
}

/// A stored response for an `Idempotency-Key`.
#[derive(Debug, Clone)]
pub struct IdemRecord {
    pub body_hash: [u8; 32],
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Everything mutable, behind one lock (no lock is held across an await).
#[derive(Debug)]
pub struct SimState {
    pub world: World,
    pub auth: AuthStore,
    pub faults: Faults,
    pub fault_rng: ChaCha8Rng,
    pub stats: BTreeMap<String, BTreeMap<u16, u64>>,
    pub budget: HashMap<String, VecDeque<f64>>,
    pub client_budget: u32,
    pub idempotency: HashMap<(String, String), IdemRecord>,
    pub idempotency_order: VecDeque<(String, String)>,
    pub hooks: Vec<ReceivedHook>,
}

pub struct Shared {
    pub clock: SimClock,
    pub state: Mutex<SimState>,
    pub scenario: Scenario,
    pub seed: u64,
    pub config: SimConfig,
    pub outbound: mpsc::UnboundedSender<Outbound>,
}

pub type App = Arc<Shared>;

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lock the state with the world advanced to now; flush the world's outbox.
    pub fn world(&self) -> (MutexGuard<'_, SimState>, f64) {
        let now = self.clock.now();
        let mut g = self.lock();
        g.world.advance(now);
        for o in g.world.outbox.drain(..) {
            let _ = self.outbound.send(o);
        }
        (g, now)
    }

    pub fn stamp(&self, t: f64) -> String {
        self.clock.stamp(t)
    }

    /// Authenticate, check scopes and the client's request budget.
    pub fn authorize(&self, headers: &axum::http::HeaderMap, scopes: &[&str]) -> ApiResult<Caller> {
        let now = self.clock.now();
        let mut g = self.lock();
        let caller = g.auth.caller(headers)?;
        auth::require(&caller, scopes)?;
        let limit = g.client_budget as usize;
        let q = g.budget.entry(caller.client.clone()).or_default();
        if let Err(wait) = limits::take(q, now, 60.0, limit) {
            return Err(ApiError::too_many(
                format!(
                    "client {} is over its budget of {limit} requests per minute; retry after {wait}s",
                    caller.client
                ),
                wait,
            ));
        }
        Ok(caller)
    }

    fn fresh_state(scenario: &Scenario, seed: u64, config: &SimConfig) -> SimState {
        SimState {
            world: World::from_scenario(scenario, seed),
            auth: AuthStore::new(config.token_ttl),
            faults: config.faults.clone(),
            fault_rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_fa17),
            stats: BTreeMap::new(),
            budget: HashMap::new(),
            client_budget: config.client_budget.max(1),
            idempotency: HashMap::new(),
            idempotency_order: VecDeque::new(),
            hooks: Vec::new(),
        }
    }

    /// Restore the scenario: world, clock, faults, stats and received hooks. Issued tokens
    /// survive so connected clients keep working.
    pub fn reset(&self) {
        let mut fresh = Shared::fresh_state(&self.scenario, self.seed, &self.config);
        let mut g = self.lock();
        std::mem::swap(&mut fresh.auth, &mut g.auth);
        *g = fresh;
        drop(g);
        self.clock.reset();
        self.clock.set_speed(self.config.speed);
    }
}

/// A running simulator.
pub struct SimHandle {
    pub addr: SocketAddr,
    pub app: App,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl SimHandle {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop serving and wait for the server to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Start a simulator on 127.0.0.1:`config.port` (0 picks a free port).
pub async fn start(config: SimConfig) -> anyhow::Result<SimHandle> {
    let scenario = match &config.scenario {
        Some(p) => Scenario::load(p).map_err(anyhow::Error::msg)?,
        None => Scenario::demo().map_err(anyhow::Error::msg)?,
    };
    config.faults.check().map_err(anyhow::Error::msg)?;
    let seed = config.seed.unwrap_or(scenario.seed);
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let state = Shared::fresh_state(&scenario, seed, &config);
    let app: App = Arc::new(Shared {
        clock: SimClock::new(config.speed, Utc::now()),
        state: Mutex::new(state),
        scenario,
        seed,
        config: config.clone(),
        outbound: out_tx,
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port))
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on 127.0.0.1:{}: {e}", config.port))?;
    let addr = listener.local_addr()?;
    let router = routes::router(app.clone());
    let (tx, rx) = oneshot::channel::<()>();
    let ticker_app = app.clone();
    let ticker = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        loop {
            tick.tick().await;
            let (mut g, _) = ticker_app.world();
            g.auth.sweep();
        }
    });
    let sender = tokio::spawn(deliver_outbound(out_rx));
    let task = tokio::spawn(async move {
        let server = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = rx.await;
        });
        if let Err(e) = server.await {
            tracing::error!("simulator server stopped: {e}");
        }
        ticker.abort();
        sender.abort();
    });
    tracing::info!(%addr, seed, speed = config.speed, dialect = ?config.dialect, "simulator listening");
    Ok(SimHandle {
        addr,
        app,
        shutdown: Some(tx),
        task: Some(task),
    })
}

/// Deliver the world's webhook events and job callbacks, signed when the registration has
/// a secret (Standard Webhooks).
async fn deliver_outbound(mut rx: mpsc::UnboundedReceiver<Outbound>) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("cannot build the webhook client: {e}");
            return;
        }
    };
    let mut n: u64 = 0;
    while let Some(o) = rx.recv().await {
        n += 1;
        // Registered webhooks (which always carry a secret) get the Standard Webhooks envelope;
        // a job's `webhookCallbackUrl` gets the documented body as it is.
        let body = if o.secret.is_some() {
            serde_json::json!({"type": o.event, "timestamp": Utc::now().to_rfc3339(), "data": o.body})
        } else {
            o.body.clone()
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let id = format!("msg_sim_{n:06}");
        let ts = Utc::now().timestamp();
        let mut req = client
            .post(&o.url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", ts.to_string());
        if let Some(secret) = &o.secret {
            req = req.header(
                "webhook-signature",
                crate::signing::sign(&crate::signing::secret_bytes(secret), &id, ts, &bytes),
            );
        }
        let client_task = req.body(bytes);
        tokio::spawn(async move {
            if let Err(e) = client_task.send().await {
                tracing::warn!(event = %o.event, "webhook delivery failed: {e}");
            }
        });
    }
}

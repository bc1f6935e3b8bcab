//! What every engine test needs: an in-process simulator on a fast clock, a Release API
//! client and an engine on the same (scaled) clock, an audit log in a temporary directory,
//! optional signed webhooks, the run's progress events, and a look at the simulator's world.
//!
//! Nothing here sleeps to synchronise: a run is awaited through its `OpHandle` (behind a
//! timeout, so a hang fails the test), and live events are read from the run's channel.
//! Every finished run checks that the audit log verifies.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use relcon::audit::{self, AuditLog, AuditRecord};
use relcon::backend::{
    Auth, CognigyApi, CognigyHosts, HttpSettings, ReleaseApi, ReleaseBackend, RetryPolicy,
};
use relcon::clock::Clock;
use relcon::engine::events::{EventKind, OpCommand, ProgressEvent};
use relcon::engine::{Ctx, Engine, OpHandle, Report};
use relcon::sim::faults::Faults;
use relcon::sim::{self, Dialect, SimConfig, SimHandle};
use relcon::webhook::{self, WebhookSender, WebhookTarget};
use secrecy::SecretString;
use serde_json::Value;
use tokio::sync::mpsc;

/// Simulator seconds per wall second: a 60 s canary step lasts 0.1 s.
pub const SPEED: f64 = 600.0;
/// A run that has not reported after this long (wall time) is a hang.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(30);
/// The demo world's API key.
pub const API_KEY: &str = "demo-key";
/// The signing secret of the webhooks the tests configure (`whsec_` + base64).
pub const WEBHOOK_SECRET: &str = "whsec_cmVsY29uLWVuZ2luZS10ZXN0cy13ZWJob29rLWtleQ==";
/// Where the simulator's webhook receiver records what it gets.
pub const HOOK_PATH: &str = "/hooks/relcon-engine-tests";

/// Where the workflow's webhooks go.
#[derive(Debug, Clone, PartialEq)]
pub enum Hook {
    None,
    /// The simulator's own receiver under `/hooks`.
    Sim,
    /// A port on 127.0.0.1 nobody listens on.
    ClosedPort,
    /// A path on the simulator, e.g. `/hooks/status/503/ci` (a receiver that answers 503).
    SimPath(&'static str),
}

/// How to set up one test's world.
#[derive(Debug, Clone)]
pub struct Setup {
    pub speed: f64,
    pub seed: Option<u64>,
    /// A file under `tests/scenarios/` (default: the built-in demo world).
    pub scenario: Option<&'static str>,
    pub faults: Faults,
    /// Default: the demo API key.
    pub auth: Option<Auth>,
    /// A client to register in the simulator before the first request: (id, secret).
    pub register_client: Option<(String, String)>,
    pub hook: Hook,
    pub webhook_secret: String,
    pub retry_attempts: u32,
    /// The API the simulator speaks, and so the backend the engine drives.
    pub dialect: Dialect,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            speed: SPEED,
            seed: Some(7),
            scenario: None,
            faults: Faults::default(),
            auth: None,
            register_client: None,
            hook: Hook::None,
            webhook_secret: WEBHOOK_SECRET.to_string(),
            retry_attempts: 6,
            dialect: Dialect::Release,
        }
    }
}

impl Setup {
    pub fn scenario(name: &'static str) -> Setup {
        Setup {
            scenario: Some(name),
            ..Setup::default()
        }
    }
}

pub fn scenario_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(name)
}

/// A simulator, and an engine pointed at it.
pub struct Harness {
    pub sim: SimHandle,
    pub engine: Engine,
    pub audit_path: PathBuf,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
    pub speed: f64,
}

/// The HTTP settings of a client of `url` on a clock of `speed`: short timeouts, six
/// attempts, backoff slept on the scaled clock.
pub fn http_settings(url: &str, speed: f64, attempts: u32) -> HttpSettings {
    let mut s = HttpSettings::new(url);
    s.connect_timeout = Duration::from_secs(2);
    s.read_timeout = Duration::from_secs(5);
    s.total_timeout = Duration::from_secs(10);
    s.retry = RetryPolicy {
        attempts,
        base_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(30),
    };
    s.clock = Clock::scaled(speed);
    s
}

/// A 127.0.0.1 URL whose port refuses connections.
pub async fn closed_port_url() -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}/ci/relcon")
}

impl Harness {
    pub async fn start(setup: Setup) -> Harness {
        let config = SimConfig {
            port: 0,
            seed: setup.seed,
            speed: setup.speed,
            scenario: setup.scenario.map(scenario_path),
            faults: setup.faults.clone(),
            dialect: setup.dialect,
            ..SimConfig::default()
        };
        let sim = sim::start(config).await.expect("the simulator starts");
        if let Some((id, secret)) = &setup.register_client {
            let scopes = sim::auth::ALL_SCOPES
                .iter()
                .map(|s| s.to_string())
                .collect();
            sim.app.lock().auth.clients.insert(
                id.clone(),
                sim::auth::Client {
                    secret: secret.clone(),
                    scopes,
                },
            );
        }
        let auth = setup
            .auth
            .clone()
            .unwrap_or_else(|| Auth::ApiKey(SecretString::from(API_KEY)));
        let settings = http_settings(&sim.url(), setup.speed, setup.retry_attempts);
        let (api, http): (Arc<dyn ReleaseBackend>, reqwest::Client) = match setup.dialect {
            Dialect::Release => {
                let api = ReleaseApi::new(settings, auth).expect("the client builds");
                let http = api.http_client().clone();
                (Arc::new(api), http)
            }
            Dialect::Cognigy => {
                let hosts = CognigyHosts {
                    api_url: sim.url(),
                    odata_url: sim.url(),
                    endpoint_url: sim.url(),
                    project: None,
                    test_message: String::new(),
                };
                let api = CognigyApi::new(settings, hosts, SecretString::from(API_KEY))
                    .expect("the client builds");
                let http = api.http_client().clone();
                (Arc::new(api), http)
            }
        };
        let webhooks = match &setup.hook {
            Hook::None => None,
            Hook::Sim => Some(format!("{}{HOOK_PATH}", sim.url())),
            Hook::ClosedPort => Some(closed_port_url().await),
            Hook::SimPath(path) => Some(format!("{}{path}", sim.url())),
        }
        .map(|url| {
            let target = WebhookTarget::new(
                url,
                SecretString::from(setup.webhook_secret.clone()),
                vec![],
            )
            .expect("a valid webhook target");
            WebhookSender::new(
                http.clone(),
                vec![target],
                webhook::DeliveryPolicy {
                    retry: webhook::RetryPolicy {
                        attempts: 2,
                        base_delay: Duration::from_millis(1),
                        max_delay: Duration::from_millis(10),
                    },
                    per_attempt_timeout: Duration::from_secs(2),
                },
            )
        });
        let webhooks = webhooks.map(|w| Arc::new(w) as Arc<dyn relcon::engine::notify::Notifier>);
        let dir = tempfile::tempdir().unwrap();
        let audit_path = dir.path().join("audit/audit.jsonl");
        // The chain's head is kept in the test's own directory, not the user's state dir.
        let log =
            AuditLog::open_anchored(&audit_path, Some(dir.path().join("audit-head.json"))).unwrap();
        let engine = Engine::new(
            api,
            log,
            webhooks,
            Clock::scaled(setup.speed),
            "engine-tests",
        );
        Harness {
            sim,
            engine,
            audit_path,
            dir,
            http,
            speed: setup.speed,
        }
    }

    /// Start a workflow; read its events live with [`Running::wait_for`].
    pub fn start_op<F, Fut>(&self, run: F) -> Running
    where
        F: FnOnce(Ctx) -> Fut + Send + 'static,
        Fut: Future<Output = Report> + Send + 'static,
    {
        let (tx, rx) = mpsc::unbounded_channel();
        let handle = self.engine.spawn(tx, run);
        Running {
            handle,
            rx,
            events: Vec::new(),
        }
    }

    /// Run a workflow to its report.
    pub async fn run<F, Fut>(&self, run: F) -> Finished
    where
        F: FnOnce(Ctx) -> Fut + Send + 'static,
        Fut: Future<Output = Report> + Send + 'static,
    {
        self.finish(self.start_op(run)).await
    }

    /// Await the report (a hang or a panic fails the test), collect every event and check
    /// that the audit log verifies.
    pub async fn finish(&self, mut running: Running) -> Finished {
        let report = tokio::time::timeout(JOIN_TIMEOUT, &mut running.handle.join)
            .await
            .expect("the workflow reports within the time limit")
            .expect("the workflow task does not panic");
        while let Ok(e) = running.rx.try_recv() {
            running.events.push(e);
        }
        self.assert_audit_ok();
        Finished {
            report,
            events: running.events,
        }
    }

    pub fn assert_audit_ok(&self) {
        let v = audit::verify(&self.audit_path).expect("the audit log is readable");
        assert!(v.is_ok(), "{v}");
        assert!(v.records > 0, "the run wrote no audit record");
    }

    pub fn audit_records(&self) -> Vec<AuditRecord> {
        audit::read_records(&self.audit_path).unwrap()
    }

    /// The audit events of one operation (e.g. `deploy`), in order.
    pub fn audit_events(&self, operation: &str) -> Vec<String> {
        self.audit_records()
            .into_iter()
            .filter(|r| r.operation == operation)
            .map(|r| r.event)
            .collect()
    }

    pub fn audit_text(&self) -> String {
        std::fs::read_to_string(&self.audit_path).unwrap()
    }

    /// `GET /_sim/world`.
    pub async fn world(&self) -> World {
        let v: Value = self
            .http
            .get(format!("{}/_sim/world", self.sim.url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        World(v)
    }

    /// The bot's current routing weights, from the simulator's state.
    pub fn routing(&self, bot: &str) -> BTreeMap<String, f64> {
        let g = self.sim.app.lock();
        g.world.bots[bot].routing.current().clone()
    }

    /// Webhooks the simulator's receiver got.
    pub fn received_hooks(&self) -> Vec<sim::ReceivedHook> {
        self.sim.app.lock().hooks.clone()
    }
}

/// A workflow in progress.
pub struct Running {
    pub handle: OpHandle,
    rx: mpsc::UnboundedReceiver<ProgressEvent>,
    pub events: Vec<ProgressEvent>,
}

impl Running {
    /// Read events until one matches (it is returned and kept with the others).
    pub async fn wait_for(&mut self, what: &str, pred: impl Fn(&EventKind) -> bool) -> EventKind {
        let found = tokio::time::timeout(JOIN_TIMEOUT, async {
            while let Some(e) = self.rx.recv().await {
                let hit = pred(&e.kind);
                let kind = e.kind.clone();
                self.events.push(e);
                if hit {
                    return Some(kind);
                }
            }
            None
        })
        .await
        .unwrap_or_else(|_| panic!("no {what} event within the time limit"));
        found.unwrap_or_else(|| panic!("the run ended without a {what} event"))
    }

    pub fn send(&self, cmd: OpCommand) {
        self.handle
            .commands
            .send(cmd)
            .expect("the workflow still listens for commands");
    }
}

/// A finished run: its report and every event it emitted.
pub struct Finished {
    pub report: Report,
    pub events: Vec<ProgressEvent>,
}

impl Finished {
    pub fn kinds(&self) -> impl Iterator<Item = &EventKind> {
        self.events.iter().map(|e| &e.kind)
    }

    pub fn steps_started(&self) -> Vec<String> {
        self.kinds()
            .filter_map(|k| match k {
                EventKind::StepStarted { step } => Some(step.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn steps_finished(&self) -> Vec<String> {
        self.kinds()
            .filter_map(|k| match k {
                EventKind::StepFinished { step, .. } => Some(step.clone()),
                _ => None,
            })
            .collect()
    }

    /// The reason a step failed, if it did.
    pub fn step_failed(&self, name: &str) -> Option<String> {
        self.kinds().find_map(|k| match k {
            EventKind::StepFailed { step, reason } if step == name => Some(reason.clone()),
            _ => None,
        })
    }

    pub fn details(&self) -> Vec<String> {
        self.kinds()
            .filter_map(|k| match k {
                EventKind::Detail { message } => Some(message.clone()),
                _ => None,
            })
            .collect()
    }

    /// The last event must be `Finished`, with the report's outcome and summary.
    pub fn assert_finished_event(&self) {
        match self.events.last().map(|e| &e.kind) {
            Some(EventKind::Finished { outcome, summary }) => {
                assert_eq!(*outcome, self.report.outcome);
                assert_eq!(*summary, self.report.summary);
            }
            other => panic!("the last event is not Finished: {other:?}"),
        }
    }
}

/// The simulator's `GET /_sim/world` document.
#[derive(Debug, Clone)]
pub struct World(pub Value);

impl World {
    fn list(&self, key: &str) -> Vec<Value> {
        self.0[key].as_array().cloned().unwrap_or_default()
    }

    fn of(&self, key: &str, field: &str, value: &str) -> Vec<Value> {
        self.list(key)
            .into_iter()
            .filter(|v| v[field].as_str() == Some(value))
            .collect()
    }

    pub fn deployments(&self, bot: &str) -> Vec<Value> {
        self.of("deployments", "botId", bot)
    }

    pub fn canaries(&self, bot: &str) -> Vec<Value> {
        self.of("canaries", "botId", bot)
    }

    pub fn rollback_jobs(&self, bot: &str) -> Vec<Value> {
        self.of("rollbackJobs", "botId", bot)
    }

    pub fn environment_jobs(&self, env: &str) -> Vec<Value> {
        self.of("environmentJobs", "environmentId", env)
    }

    pub fn flow_pushes(&self) -> Vec<Value> {
        self.list("flowPushes")
    }

    pub fn sync_jobs(&self) -> u64 {
        self.0["syncJobs"].as_u64().unwrap_or(0)
    }

    pub fn sim_seconds(&self) -> f64 {
        self.0["simSeconds"].as_f64().unwrap_or(0.0)
    }

    pub fn live(&self, bot: &str, env: &str) -> Option<String> {
        self.list("live")
            .into_iter()
            .find(|v| v["botId"].as_str() == Some(bot) && v["environmentId"].as_str() == Some(env))
            .and_then(|v| v["liveVersion"].as_str().map(str::to_string))
    }
}

/// A canary plan built the way the console and the CLI build one (the default profile), with
/// these steps and a 60 s interval.
#[allow(dead_code)]
pub fn canary_plan(bot: &str, version: &str, steps: &[f64]) -> relcon::engine::canary::CanaryPlan {
    let ask = relcon::plans::CanaryAsk {
        bot: bot.into(),
        version: version.into(),
        steps: Some(steps.to_vec()),
        interval: Some(Duration::from_secs(60)),
        ..relcon::plans::CanaryAsk::default()
    };
    relcon::plans::canary(&relcon::config::CanarySettings::default(), &ask)
        .unwrap_or_else(|e| panic!("{e}"))
}

//! The fault suite of the intent journal: a headless relcon is SIGKILLed at points of a
//! deploy, a canary and a rollback — chosen by what its journal says, never by a sleep —
//! and the same command is run again against the same simulator. Properties:
//!
//! - exactly one server object per intent (no second deployment, canary or rollback job);
//! - a canary ends promoted or rolled back, never left running alone at its first step;
//! - a rollback to the last known good keeps the target its first run resolved;
//! - `relcon audit verify` passes and the audit says the operation was interrupted and
//!   resumed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use relcon::exit;
use relcon::sim::world::CanaryPhase;
use relcon::sim::{self, SimConfig, SimHandle};
use serde_json::Value;

/// Simulator seconds per wall second.
const SPEED: f64 = 600.0;
/// A journal record that has not appeared after this long (wall time) is a hang.
const DEADLINE: Duration = Duration::from_secs(30);

/// When to kill: the first journal record it holds.
type KillPoint = fn(&Value) -> bool;

async fn sim() -> SimHandle {
    sim::start(SimConfig {
        port: 0,
        speed: SPEED,
        ..SimConfig::default()
    })
    .await
    .expect("the simulator starts")
}

/// `relcon ARGS` with no config file, pointed at `url`, its state under `dir`.
fn relcon(dir: &Path, url: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_relcon"));
    c.args(args)
        .env_remove("RELCON_CONFIG")
        .env_remove("COGNIGY_CLIENT_ID")
        .env_remove("COGNIGY_CLIENT_SECRET")
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("RELCON_CLOCK_SPEED", SPEED.to_string())
        .env("COGNIGY_API_URL", url)
        .env("COGNIGY_API_KEY", "demo-key");
    c
}

fn journal_dir(dir: &Path) -> PathBuf {
    dir.join("state").join("relcon").join("journal")
}

/// Every journal record written so far under `dir`.
fn records(dir: &Path) -> Vec<Value> {
    let Ok(entries) = std::fs::read_dir(journal_dir(dir)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        out.extend(
            text.lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok()),
        );
    }
    out
}

/// Start `args` and SIGKILL it as soon as its journal holds a record for which `at` is
/// true. Returns what the journal held when it died.
async fn kill_when(dir: &Path, url: &str, args: &[&str], at: KillPoint) -> Vec<Value> {
    kill_once(dir, url, args, |held| held.iter().any(at)).await
}

/// Start `args` and SIGKILL it as soon as `ready` holds of its journal (and whatever else
/// the closure looks at). Returns what the journal held when it died.
async fn kill_once(
    dir: &Path,
    url: &str,
    args: &[&str],
    ready: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let mut child = relcon(dir, url, args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("relcon starts");
    let started = Instant::now();
    loop {
        if ready(&records(dir)) {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{args:?} ended ({status}) before the kill point");
        }
        assert!(
            started.elapsed() < DEADLINE,
            "{args:?}: the kill point never came"
        );
        // Yield between looks at the journal; the state decides, not the time.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("reaped");
    assert!(!status.success(), "{args:?} was killed, not finished");
    let held = records(dir);
    assert!(
        !held.iter().any(|r| r["record"] == "finished"),
        "{args:?} finished before it was killed: {held:?}"
    );
    held
}

async fn run(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().expect("relcon runs"))
        .await
        .expect("join")
}

fn says(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn code(o: &Output) -> u8 {
    o.status.code().expect("an exit code") as u8
}

/// The audit verifies and says the operation was interrupted and resumed.
async fn audit_records_the_interruption(dir: &Path, url: &str, workflow: &str) {
    let o = run(relcon(dir, url, &["audit", "verify"])).await;
    assert_eq!(code(&o), exit::OK, "{}", says(&o));
    let o = run(relcon(dir, url, &["audit", "show", "--output", "json"])).await;
    assert_eq!(code(&o), exit::OK, "{}", says(&o));
    let shown: Vec<Value> = serde_json::from_slice(&o.stdout).expect("audit JSON");
    let resumed: Vec<&Value> = shown
        .iter()
        .filter(|r| r["operation"] == workflow && r["event"] == "resumed")
        .collect();
    assert_eq!(resumed.len(), 1, "one resumed record: {shown:#?}");
    let detail = resumed[0]["detail"].as_str().unwrap_or_default();
    assert!(detail.starts_with("interrupted"), "{detail}");
    // The first run's records and the resumed run's share one operation id.
    let id = &resumed[0]["operation_id"];
    assert!(id.is_string(), "{shown:#?}");
    let first = shown
        .iter()
        .position(|r| r["operation_id"] == *id)
        .expect("the first run's records");
    assert_ne!(shown[first]["event"], "resumed", "{shown:#?}");
    // And nothing is left unfinished.
    let o = run(relcon(dir, url, &["recover", "--output", "json"])).await;
    let left: Value = serde_json::from_slice(&o.stdout).expect("recover JSON");
    assert_eq!(left["unfinished"], serde_json::json!([]), "{left}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_killed_around_its_create_attaches_to_the_one_deployment() {
    let s = sim().await;
    let url = s.url();
    // Killed between journaling the create's key and its answer; then once it is known.
    let cases: [(&str, &str, KillPoint); 2] = [
        ("bot-customer-service-v2", "v2.4.0", |r| {
            r["record"] == "create"
        }),
        ("bot-travel-assistant", "v3.5.0", |r| {
            r["record"] == "created"
        }),
    ];
    for (bot, version, at) in cases {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let args = ["deploy", bot, version, "--yes"];
        kill_when(d, &url, &args, at).await;
        let o = run(relcon(d, &url, &args)).await;
        assert_eq!(code(&o), exit::OK, "{bot}: {}", says(&o));
        assert!(says(&o).contains("re-attaching"), "{}", says(&o));
        let deployments: Vec<String> = {
            let g = s.app.lock();
            g.world
                .deployments
                .values()
                .filter(|x| x.bot == bot)
                .map(|x| x.id.clone())
                .collect()
        };
        assert_eq!(deployments.len(), 1, "{bot}: {deployments:?}");
        audit_records_the_interruption(d, &url, "deploy").await;
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_killed_at_its_first_step_is_adopted_and_driven_to_its_end() {
    let s = sim().await;
    let url = s.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bot = "bot_abc123";
    let args = ["canary", bot, "2.1.0-canary", "--steps", "5,50", "--yes"];
    kill_when(d, &url, &args, |r| r["record"] == "created").await;
    {
        // Left alone at 5%: what the rerun must pick up.
        let g = s.app.lock();
        let c: Vec<_> = g.world.canaries.values().filter(|c| c.bot == bot).collect();
        assert_eq!(c.len(), 1);
        assert!(c[0].active(), "the canary runs after its driver died");
    }
    let o = run(relcon(d, &url, &args)).await;
    assert!(
        [exit::OK, exit::ROLLED_BACK].contains(&code(&o)),
        "{}",
        says(&o)
    );
    {
        let g = s.app.lock();
        let c: Vec<_> = g.world.canaries.values().filter(|c| c.bot == bot).collect();
        assert_eq!(c.len(), 1, "one canary, adopted, not a second one");
        assert!(
            matches!(c[0].phase, CanaryPhase::Promoted | CanaryPhase::RolledBack),
            "the canary ended: {:?}",
            c[0].phase
        );
    }
    audit_records_the_interruption(d, &url, "canary").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_to_the_last_known_good_killed_keeps_its_target() {
    let s = sim().await;
    let url = s.url();
    let bot = "bot_12345";
    let cases: [KillPoint; 2] = [|r| r["record"] == "create", |r| r["record"] == "created"];
    let mut target: Option<String> = None;
    for (i, at) in cases.into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let args = ["rollback", bot, "--yes"];
        if i > 0 {
            // Put the bot back where it was, so "last known good" means the same again.
            s.app.reset();
        }
        let held = kill_when(d, &url, &args, at).await;
        let journaled = held
            .iter()
            .find(|r| r["record"] == "intent")
            .and_then(|r| r["plan"]["resolved"]["target"].as_str())
            .map(str::to_string)
            .expect("the intent names the target");
        if let Some(t) = &target {
            assert_eq!(&journaled, t, "the same world resolves the same target");
        }
        target = Some(journaled.clone());
        let o = run(relcon(d, &url, &args)).await;
        assert_eq!(code(&o), exit::OK, "{}", says(&o));
        let jobs: Vec<String> = {
            let g = s.app.lock();
            g.world
                .rollback_jobs
                .values()
                .filter(|j| j.bot == bot)
                .map(|j| j.target.clone())
                .collect()
        };
        assert_eq!(
            jobs,
            vec![journaled.clone()],
            "one job, to the journaled target"
        );
        assert!(
            says(&o).contains(&format!("rolled back to {journaled}")),
            "{}",
            says(&o)
        );
        audit_records_the_interruption(d, &url, "rollback").await;
    }
    s.stop().await;
}

/// Poll `relcon get BOT` from the relcon in `dir` until it reports the bot's operation
/// orphaned (its driver's lease expired); the orphan it reports.
async fn until_orphaned(dir: &Path, url: &str, bot: &str) -> Value {
    let started = Instant::now();
    loop {
        let o = run(with_limit(
            relcon(dir, url, &["get", bot, "--output", "json"]),
            "off",
        ))
        .await;
        let v: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
        if v["orphan"].is_object() {
            return v;
        }
        assert!(started.elapsed() < DEADLINE, "never orphaned: {}", says(&o));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A canary whose relcon was killed at its first step, for a relcon on another machine
/// (its own state dir, no journal of the first) to find.
async fn orphaned_canary(s: &SimHandle, bot: &str) -> tempfile::TempDir {
    let first = tempfile::tempdir().unwrap();
    let args = ["canary", bot, "2.1.0-canary", "--steps", "5,50", "--yes"];
    // Killed once it drives the canary: the server holds its lease.
    kill_once(first.path(), &s.url(), &args, |_| {
        let g = s.app.lock();
        g.world.canaries.values().any(|c| {
            c.bot == bot
                && g.world
                    .controls
                    .get(&c.id)
                    .is_some_and(|x| x.lease.is_some())
        })
    })
    .await;
    first
}

/// An orphaned canary (see [`orphaned_canary`]) as a relcon on another machine sees it:
/// the first machine's dir, the other's, and the other's `get` of it.
async fn orphan_seen_elsewhere(
    s: &SimHandle,
    bot: &str,
) -> (tempfile::TempDir, tempfile::TempDir, Value) {
    let first = orphaned_canary(s, bot).await;
    let other = tempfile::tempdir().unwrap();
    let seen = until_orphaned(other.path(), &s.url(), bot).await;
    (first, other, seen)
}

/// `c` with the orphan limit set (`off`, or a duration of server time).
fn with_limit(mut c: Command, limit: &str) -> Command {
    c.env("RELCON_ORPHAN_LIMIT", limit);
    c
}

fn canary_phases(s: &SimHandle, bot: &str) -> Vec<CanaryPhase> {
    let g = s.app.lock();
    g.world
        .canaries
        .values()
        .filter(|c| c.bot == bot)
        .map(|c| c.phase)
        .collect()
}

async fn audit_shown(dir: &Path, url: &str) -> Vec<Value> {
    let o = run(relcon(dir, url, &["audit", "verify"])).await;
    assert_eq!(code(&o), exit::OK, "{}", says(&o));
    let o = run(relcon(dir, url, &["audit", "show", "--output", "json"])).await;
    serde_json::from_slice(&o.stdout).expect("audit JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_relcon_adopts_an_orphaned_canary_and_drives_it_to_its_end() {
    let s = sim().await;
    let url = s.url();
    let bot = "bot_abc123";
    let (_first, other, seen) = orphan_seen_elsewhere(&s, bot).await;
    let b = other.path();
    assert_eq!(seen["orphan"]["leaseExpired"], true, "{seen}");
    assert!(seen["orphan"]["holder"].is_string(), "{seen}");

    let o = run(with_limit(relcon(b, &url, &["adopt", bot]), "off")).await;
    assert!(
        [exit::OK, exit::ROLLED_BACK].contains(&code(&o)),
        "{}",
        says(&o)
    );
    assert!(says(&o).contains("adopted from"), "{}", says(&o));
    let phases = canary_phases(&s, bot);
    assert_eq!(phases.len(), 1, "adopted, not a second canary: {phases:?}");
    assert!(
        matches!(phases[0], CanaryPhase::Promoted | CanaryPhase::RolledBack),
        "{phases:?}"
    );
    let shown = audit_shown(b, &url).await;
    let adopted: Vec<&Value> = shown
        .iter()
        .filter(|r| r["operation"] == "canary" && r["event"] == "adopted")
        .collect();
    assert_eq!(adopted.len(), 1, "{shown:#?}");
    assert!(
        adopted[0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("lease expired")),
        "{shown:#?}"
    );
    // Nothing is left for anyone: the bot's operation has ended.
    let o = run(relcon(b, &url, &["adopt", bot])).await;
    assert_eq!(code(&o), exit::REFUSED, "{}", says(&o));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_an_orphaned_canary_rolls_it_back_and_says_why() {
    let s = sim().await;
    let url = s.url();
    let bot = "bot_abc123";
    let (_first, other, _) = orphan_seen_elsewhere(&s, bot).await;
    let b = other.path();
    let o = run(with_limit(
        relcon(b, &url, &["end", bot, "--reason", "its owner left"]),
        "off",
    ))
    .await;
    assert_eq!(code(&o), exit::OK, "{}", says(&o));
    assert_eq!(canary_phases(&s, bot), vec![CanaryPhase::RolledBack]);
    let shown = audit_shown(b, &url).await;
    let ended = shown
        .iter()
        .find(|r| r["event"] == "ended")
        .unwrap_or_else(|| panic!("{shown:#?}"));
    let detail = ended["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("orphaned canary"), "{detail}");
    assert!(detail.contains("its owner left"), "{detail}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_alone_past_the_limit_is_rolled_back_by_the_next_relcon_that_looks() {
    let s = sim().await;
    let url = s.url();
    let bot = "bot_abc123";
    let (_first, other, _) = orphan_seen_elsewhere(&s, bot).await;
    let b = other.path();
    // Its lease has expired; a minute of server time later (0.1 s here) it is overdue.
    let started = Instant::now();
    loop {
        let o = run(with_limit(relcon(b, &url, &["status", bot]), "1m")).await;
        assert_eq!(code(&o), exit::OK, "{}", says(&o));
        if canary_phases(&s, bot) == vec![CanaryPhase::RolledBack] {
            assert!(says(&o).contains("rolled back"), "{}", says(&o));
            break;
        }
        assert!(started.elapsed() < DEADLINE, "never rolled back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let shown = audit_shown(b, &url).await;
    let r = shown
        .iter()
        .find(|r| r["event"] == "orphan_rolled_back")
        .unwrap_or_else(|| panic!("{shown:#?}"));
    assert!(
        r["detail"].as_str().is_some_and(|d| d.contains("expired")),
        "{r}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_another_tool_runs_without_a_lease_is_never_swept() {
    let s = sim().await;
    let url = s.url();
    let bot = "bot_abc123";
    // A seed-001 script on the Release API: a canary, no lease.
    let r = reqwest::Client::new()
        .post(format!("{url}/api/v1/bots/{bot}/deploy"))
        .bearer_auth("demo-key")
        .header("X-Deployment-Type", "canary")
        .json(&serde_json::json!({
            "bot_id": bot,
            "environment_id": "env_prod_456",
            "version": "2.1.0-canary",
            "traffic_matrix": {"stable": 95, "canary": 5},
            "rollback_thresholds": {"error_rate": 0.05},
            "max_traffic_percentage": 50
        }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let other = tempfile::tempdir().unwrap();
    let b = other.path();
    // Shown as orphaned (nobody holds a lease), left alone longer than the limit...
    let started = Instant::now();
    loop {
        let seen = until_orphaned(b, &url, bot).await;
        assert_eq!(seen["orphan"]["leaseExpired"], false, "{seen}");
        if seen["orphan"]["aloneFor"].as_i64().unwrap_or(0) > 120 {
            break;
        }
        assert!(started.elapsed() < DEADLINE, "{seen}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // ... and still not rolled back behind its owner's back.
    let o = run(with_limit(relcon(b, &url, &["status", bot]), "1m")).await;
    assert_eq!(code(&o), exit::OK, "{}", says(&o));
    let phases = canary_phases(&s, bot);
    assert_eq!(phases.len(), 1);
    assert!(!matches!(phases[0], CanaryPhase::RolledBack), "{phases:?}");
    s.stop().await;
}

/// `relcon` (the console) in a detached tmux session on its own socket, with the same
/// environment as [`relcon`]; the server is killed when dropped.
struct Console {
    socket: String,
}

impl Console {
    fn open(dir: &Path, url: &str) -> Console {
        let socket = format!("relcon-crash-{}", std::process::id());
        let cmd = format!(
            "env -u RELCON_CONFIG XDG_CONFIG_HOME={d}/config XDG_DATA_HOME={d}/data XDG_STATE_HOME={d}/state RELCON_CLOCK_SPEED={SPEED} COGNIGY_API_URL={url} COGNIGY_API_KEY=demo-key {bin}",
            d = dir.display(),
            bin = env!("CARGO_BIN_EXE_relcon"),
        );
        let c = Console { socket };
        c.tmux(&[
            "new-session",
            "-d",
            "-s",
            "c",
            "-x",
            "160",
            "-y",
            "45",
            &cmd,
        ]);
        c
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs (scripts/test.sh installs it)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "c"])
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_picks_up_a_canary_whose_relcon_died_on_this_machine() {
    let s = sim().await;
    let url = s.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bot = "bot_abc123";
    let args = ["canary", bot, "2.1.0-canary", "--steps", "5,50", "--yes"];
    kill_when(d, &url, &args, |r| r["record"] == "created").await;
    let console = Console::open(d, &url);
    // Driven to its end by the console, which nobody asked to: it read the journal.
    let started = Instant::now();
    loop {
        let phases = canary_phases(&s, bot);
        assert_eq!(phases.len(), 1, "re-attached, not a second canary");
        if matches!(phases[0], CanaryPhase::Promoted | CanaryPhase::RolledBack) {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "the console did not pick the canary up; it shows:\n{}",
            console.screen()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let screen = console.screen();
    assert!(screen.contains("canary"), "{screen}");
    drop(console);
    audit_records_the_interruption(d, &url, "canary").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relcons_racing_on_one_bot_make_one_operation_and_the_loser_names_the_winner() {
    let s = sim().await;
    let url = s.url();
    let cases: [(&str, &[&str]); 2] = [
        (
            "bot_abc123",
            &[
                "canary",
                "bot_abc123",
                "2.1.0-canary",
                "--steps",
                "5,50",
                "--yes",
            ],
        ),
        (
            "bot-customer-service-v2",
            &["deploy", "bot-customer-service-v2", "v2.4.0", "--yes"],
        ),
    ];
    for (bot, args) in cases {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut first = relcon(a.path(), &url, args);
        first.env("USER", "alice");
        let mut second = relcon(b.path(), &url, args);
        second.env("USER", "bob");
        let (x, y) = tokio::join!(run(first), run(second));
        let mut codes = [code(&x), code(&y)];
        codes.sort();
        assert!(
            [exit::OK, exit::ROLLED_BACK].contains(&codes[0]) && codes[1] == exit::REFUSED,
            "{bot}: {codes:?}\nalice: {}\nbob: {}",
            says(&x),
            says(&y)
        );
        // The refusal names who holds the bot, not only the server's id for it.
        let (loser, winner) = if code(&x) == exit::REFUSED {
            (&x, "bob")
        } else {
            (&y, "alice")
        };
        // A deploy's relcon ends at the switch while the server's deployment drains on: a
        // loser that looks after the winner finished finds no lease to name (the server
        // keeps none once released), and says so.
        let winner_done =
            says(if code(&x) == exit::REFUSED { &y } else { &x }).contains("succeeded");
        assert!(
            says(loser).contains(&format!("driven by {winner}"))
                || (winner_done && says(loser).contains("driven by nobody")),
            "{bot}: the refusal does not name {winner}: {}",
            says(loser)
        );
        let made = {
            let g = s.app.lock();
            g.world.canaries.values().filter(|c| c.bot == bot).count()
                + g.world
                    .deployments
                    .values()
                    .filter(|d| d.bot == bot)
                    .count()
        };
        assert_eq!(made, 1, "{bot}: one server operation");
        // The two relcons' audits share no operation id.
        let ids = |d: &Path| -> Vec<String> {
            let o = std::process::Command::new(env!("CARGO_BIN_EXE_relcon"))
                .args(["audit", "show", "--output", "json"])
                .env("XDG_DATA_HOME", d.join("data"))
                .env("XDG_STATE_HOME", d.join("state"))
                .env("XDG_CONFIG_HOME", d.join("config"))
                .env("COGNIGY_API_URL", &url)
                .env("COGNIGY_API_KEY", "demo-key")
                .output()
                .unwrap();
            let shown: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap_or_default();
            shown
                .iter()
                .filter_map(|r| r["operation_id"].as_str().map(str::to_string))
                .collect()
        };
        let (ia, ib) = (ids(a.path()), ids(b.path()));
        assert!(!ia.is_empty() && !ib.is_empty(), "{ia:?} {ib:?}");
        assert!(ia.iter().all(|i| !ib.contains(i)), "{ia:?} {ib:?}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_environment_deploy_killed_around_its_create_attaches_to_the_one_rollout() {
    let s = sim().await;
    let url = s.url();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/examples/snapshot.toml");
    let env = "env_prod_us_01";
    let args = ["env", "deploy", env, "--snapshot", example, "--yes"];
    let cases: [KillPoint; 2] = [|r| r["record"] == "create", |r| r["record"] == "created"];
    for (i, at) in cases.into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        kill_when(d, &url, &args, at).await;
        let o = run(relcon(d, &url, &args)).await;
        assert_eq!(code(&o), exit::OK, "case {i}: {}", says(&o));
        assert!(says(&o).contains("re-attaching"), "{}", says(&o));
        let jobs = {
            let g = s.app.lock();
            g.world.env_jobs.values().filter(|j| j.env == env).count()
        };
        assert_eq!(jobs, i + 1, "case {i}: one rollout per intent");
        audit_records_the_interruption(d, &url, "environment").await;
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flows_deploy_killed_part_way_pushes_each_flow_once() {
    let s = sim().await;
    let url = s.url();
    let env = "env_prod";
    let args = ["flows", "deploy", "--env", env, "--yes"];
    let pushes = |s: &SimHandle| {
        let g = s.app.lock();
        let mut per_flow: std::collections::BTreeMap<String, usize> = Default::default();
        for p in g.world.flow_pushes.iter().filter(|p| p.env == env) {
            *per_flow.entry(p.flow.clone()).or_default() += 1;
        }
        per_flow
    };
    let before: usize = pushes(&s).values().sum();
    assert_eq!(before, 0, "a fresh world has pushed nothing");
    // Killed between the first push's key and its answer; then with three flows pushed.
    let points: [fn(&[Value]) -> bool; 2] = [
        |held| held.iter().any(|r| r["record"] == "create"),
        |held| held.iter().filter(|r| r["record"] == "created").count() >= 3,
    ];
    for (i, at) in points.into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        kill_once(d, &url, &args, at).await;
        let o = run(relcon(d, &url, &args)).await;
        assert_eq!(code(&o), exit::OK, "case {i}: {}", says(&o));
        assert!(says(&o).contains("re-attaching"), "{}", says(&o));
        let per_flow = pushes(&s);
        assert_eq!(
            per_flow.len(),
            6,
            "case {i}: every flow pushed: {per_flow:?}"
        );
        assert!(
            per_flow.values().all(|n| *n == i + 1),
            "case {i}: each flow pushed once per deploy: {per_flow:?}"
        );
        audit_records_the_interruption(d, &url, "flows").await;
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_lists_the_interrupted_operations_and_re_attaches_to_one_by_id() {
    let s = sim().await;
    let url = s.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bot = "bot-customer-service-v2";
    kill_when(d, &url, &["deploy", bot, "v2.4.0", "--yes"], |r| {
        r["record"] == "created"
    })
    .await;
    let o = run(relcon(d, &url, &["resume", "--output", "json"])).await;
    assert_eq!(code(&o), exit::OK, "{}", says(&o));
    let listed: Value = serde_json::from_slice(&o.stdout).expect("resume JSON");
    let op = listed["unfinished"][0]["operationId"]
        .as_str()
        .unwrap_or_else(|| panic!("the killed deploy is listed: {listed}"))
        .to_string();
    // A prefix of the id is enough, as listed.
    let o = run(relcon(d, &url, &["resume", &op[..13], "--yes"])).await;
    assert_eq!(code(&o), exit::OK, "{}", says(&o));
    let deployments = {
        let g = s.app.lock();
        g.world
            .deployments
            .values()
            .filter(|x| x.bot == bot)
            .count()
    };
    assert_eq!(deployments, 1, "re-attached, not created again");
    audit_records_the_interruption(d, &url, "deploy").await;
    s.stop().await;
}

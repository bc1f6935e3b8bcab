//! The headless commands on a `backend = "cognigy"` profile, as a shell user meets them,
//! against the simulator's Cognigy dialect: the key from `CAI_APIKEY`, versions with their
//! labels and the snapshot limit, `prune` that never removes a served snapshot, a deploy
//! that takes its snapshot, and what is refused with which exit code.

use std::path::Path;
use std::process::Output;

use relcon::exit;
use relcon::sim::{self, Dialect, SimConfig, SimHandle};
use serde_json::Value;

const SPEED: f64 = 300.0;

async fn cognigy_sim() -> SimHandle {
    sim::start(SimConfig {
        port: 0,
        speed: SPEED,
        seed: Some(7),
        dialect: Dialect::Cognigy,
        ..SimConfig::default()
    })
    .await
    .expect("the simulator starts")
}

fn config(dir: &Path, url: &str) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(
        &path,
        format!(
            "default_profile = \"cg\"\n[profiles.cg]\nbackend = \"cognigy\"\napi_url = \"{url}\"\nclock_speed = {SPEED}\naudit_log = \"{}\"\n",
            dir.join("audit.jsonl").display()
        ),
    )
    .unwrap();
    path
}

async fn relcon(dir: &Path, url: &str, key: Option<&str>, args: &[&str]) -> Output {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_relcon"));
    c.args(args)
        .env("RELCON_CONFIG", config(dir, url))
        .env_remove("COGNIGY_API_KEY")
        .env_remove("COGNIGY_API_URL")
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("XDG_CONFIG_HOME", dir.join("config"));
    match key {
        Some(k) => c.env("CAI_APIKEY", k),
        None => c.env_remove("CAI_APIKEY"),
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), c.output())
        .await
        .expect("relcon ends")
        .expect("relcon runs")
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_show_labels_and_prune_never_removes_a_served_snapshot() {
    let s = cognigy_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let (d, url) = (dir.path(), s.url());
    let key = Some("demo-key");

    let o = relcon(d, &url, key, &["versions", "Travel Assistant"]).await;
    assert_eq!(code(&o), exit::OK, "{}", says(&o));
    let text = says(&o);
    assert!(text.contains("LABEL") && text.contains("3.4.2"), "{text}");
    assert!(
        text.contains("9 of 10 versions"),
        "the limit is said before it bites: {text}"
    );

    let o = relcon(
        d,
        &url,
        key,
        &[
            "prune",
            "Travel Assistant",
            "--keep",
            "0",
            "--dry-run",
            "--output",
            "json",
        ],
    )
    .await;
    assert_eq!(code(&o), exit::OK, "{}", says(&o));
    let plan: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let served = plan["served"].as_u64().unwrap();
    assert!(served > 0);
    assert_eq!(
        plan["plan"].as_array().unwrap().len() as u64,
        plan["versions"].as_u64().unwrap() - served,
        "keep 0 removes every snapshot but the served ones: {plan}"
    );
    assert!(
        plan["removed"].as_array().unwrap().is_empty(),
        "a dry run removes nothing"
    );

    let o = relcon(
        d,
        &url,
        key,
        &["prune", "Travel Assistant", "--keep", "7", "--yes"],
    )
    .await;
    assert_eq!(code(&o), exit::OK, "{}", says(&o));
    let o = relcon(
        d,
        &url,
        key,
        &["versions", "Travel Assistant", "--output", "json"],
    )
    .await;
    let after: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let versions = after["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 7, "{after}");
    let live_now = versions
        .iter()
        .filter(|v| !v["liveIn"].as_array().unwrap().is_empty())
        .count() as u64;
    assert_eq!(live_now, served, "every served snapshot is still there");
    let audit = std::fs::read_to_string(d.join("audit.jsonl")).unwrap();
    assert_eq!(audit.matches("\"removed\"").count(), 2, "{audit}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_that_takes_its_snapshot_runs_headless_and_faults_have_their_exit_codes() {
    let s = cognigy_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let (d, url) = (dir.path(), s.url());
    let key = Some("demo-key");

    let o = relcon(
        d,
        &url,
        key,
        &["deploy", "HR Helpdesk", "2.0.0-rc", "--snapshot", "--yes"],
    )
    .await;
    assert_eq!(code(&o), exit::OK, "{}", says(&o));
    assert!(says(&o).contains("step 10 of 10"), "{}", says(&o));

    // No key: a config error naming both variables; a wrong key: the platform's 401.
    let o = relcon(d, &url, None, &["status"]).await;
    assert_eq!(code(&o), exit::CONFIG, "{}", says(&o));
    assert!(says(&o).contains("CAI_APIKEY"), "{}", says(&o));
    let o = relcon(d, &url, Some("wrong"), &["status"]).await;
    assert_eq!(code(&o), exit::CONFIG, "{}", says(&o));
    assert!(
        !says(&o).contains("wrong"),
        "the key is never shown: {}",
        says(&o)
    );

    // What the platform cannot do is refused, and nothing changes.
    let o = relcon(d, &url, key, &["canary", "HR Helpdesk", "1.9.0", "--yes"]).await;
    assert_eq!(code(&o), exit::REFUSED, "{}", says(&o));
    assert!(says(&o).contains("Cognigy.AI"), "{}", says(&o));
    let o = relcon(d, &url, key, &["versions", "No Such Project"]).await;
    assert_eq!(code(&o), exit::NOT_FOUND, "{}", says(&o));
    s.stop().await;
}

fn two_profiles(dir: &Path, dev: &str, prod: &str) -> std::path::PathBuf {
    let path = dir.join("ship.toml");
    std::fs::write(
        &path,
        format!(
            "default_profile = \"dev\"\n\
             [profiles.dev]\nbackend = \"cognigy\"\napi_url = \"{dev}\"\nclock_speed = {SPEED}\naudit_log = \"{}\"\n\
             [profiles.prod]\nbackend = \"cognigy\"\napi_url = \"{prod}\"\napi_key_env = \"CAI_APIKEY_PROD\"\nclock_speed = {SPEED}\nproduction = true\naudit_log = \"{}\"\n",
            dir.join("dev.jsonl").display(),
            dir.join("prod.jsonl").display()
        ),
    )
    .unwrap();
    path
}

async fn relcon_with(config: &Path, dir: &Path, prod_key: &str, args: &[&str]) -> Output {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_relcon"));
    c.args(args)
        .env("RELCON_CONFIG", config)
        .env_remove("COGNIGY_API_KEY")
        .env_remove("COGNIGY_API_URL")
        .env("CAI_APIKEY", "demo-key")
        .env("CAI_APIKEY_PROD", prod_key)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("XDG_CONFIG_HOME", dir.join("config"));
    tokio::time::timeout(std::time::Duration::from_secs(60), c.output())
        .await
        .expect("relcon ends")
        .expect("relcon runs")
}

/// Promotion between installations: a snapshot taken in dev is packaged, downloaded,
/// uploaded into prod's project of the same name and restored there, with both audit logs
/// saying so; shipping it twice is refused, and a refused key names its profile's variable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_ships_from_one_installation_to_another_as_one_audited_operation() {
    let (dev, prod) = (cognigy_sim().await, cognigy_sim().await);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = two_profiles(d, &dev.url(), &prod.url());

    let o = relcon_with(
        &cfg,
        d,
        "demo-key",
        &["deploy", "HR Helpdesk", "2.0.0", "--snapshot", "--yes"],
    )
    .await;
    assert_eq!(code(&o), exit::OK, "{}", says(&o));
    let o = relcon_with(
        &cfg,
        d,
        "demo-key",
        &[
            "ship",
            "HR Helpdesk",
            "2.0.0",
            "--to",
            "prod",
            "--yes",
            "--output",
            "json",
        ],
    )
    .await;
    assert_eq!(code(&o), exit::OK, "{}", says(&o));
    let shipped: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(shipped["restored"], true);
    // Prod has it now, and its working project was restored from it.
    let o = relcon_with(
        &cfg,
        d,
        "demo-key",
        &[
            "--profile",
            "prod",
            "versions",
            "HR Helpdesk",
            "--output",
            "json",
        ],
    )
    .await;
    let versions: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert!(
        versions["versions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["label"] == "2.0.0"),
        "{versions}"
    );
    assert!(
        prod.app
            .lock()
            .world
            .restored
            .contains_key("bot-hr-helpdesk")
    );
    for log in ["dev.jsonl", "prod.jsonl"] {
        let text = std::fs::read_to_string(d.join(log)).unwrap();
        for e in [
            "\"started\"",
            "\"packaged\"",
            "\"uploaded\"",
            "\"restored\"",
            "\"completed\"",
        ] {
            assert!(text.contains(e), "{log} lacks {e}");
        }
    }

    // Twice is refused before any task; a wrong prod key is prod's problem, said as such.
    let o = relcon_with(
        &cfg,
        d,
        "demo-key",
        &["ship", "HR Helpdesk", "2.0.0", "--to", "prod", "--yes"],
    )
    .await;
    assert_eq!(code(&o), exit::REFUSED, "{}", says(&o));
    assert!(
        says(&o).contains("already has a snapshot named 2.0.0"),
        "{}",
        says(&o)
    );
    let o = relcon_with(
        &cfg,
        d,
        "nope",
        &["ship", "HR Helpdesk", "1.9.0", "--to", "prod", "--yes"],
    )
    .await;
    assert_eq!(code(&o), exit::CONFIG, "{}", says(&o));
    assert!(
        !says(&o).contains("nope"),
        "the key is never shown: {}",
        says(&o)
    );
    dev.stop().await;
    prod.stop().await;
}

/// A key without a role in one project: the others still list, the project says so, and
/// acting on it is a clear 403 with the auth exit code. A rate limit reached gets 429 with
/// no Retry-After; relcon waits and tries again within its deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_project_and_the_rate_limit_are_said_plainly() {
    let s = sim::start(SimConfig {
        port: 0,
        speed: SPEED,
        seed: Some(7),
        dialect: Dialect::Cognigy,
        faults: relcon::sim::faults::Faults {
            forbidden_projects: vec!["bot_12345".into()],
            ..Default::default()
        },
        rate_limit: 40,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (d, url) = (dir.path(), s.url());
    let o = relcon(d, &url, Some("demo-key"), &["status", "--output", "json"]).await;
    assert_eq!(code(&o), exit::OK, "{}", says(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("no access"), "{text}");
    assert!(
        text.contains("Customer Service"),
        "the other projects still list: {text}"
    );
    let o = relcon(
        d,
        &url,
        Some("demo-key"),
        &["versions", "Order & Billing Support"],
    )
    .await;
    assert_eq!(code(&o), exit::CONFIG, "{}", says(&o));
    assert!(says(&o).contains("no access"), "{}", says(&o));

    // 40 requests per 5 simulator minutes: a burst is told to slow down, with no
    // Retry-After, and a status read still ends (retried with backoff, or said plainly).
    let mut limited = false;
    for _ in 0..60 {
        let r = reqwest::Client::new()
            .get(format!("{url}/new/v2.0/projects"))
            .header("X-API-Key", "demo-key")
            .send()
            .await
            .unwrap();
        if r.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
            assert!(r.headers().get("retry-after").is_none());
            limited = true;
            break;
        }
    }
    assert!(limited, "the limit answers 429");
    let o = relcon(d, &url, Some("demo-key"), &["status"]).await;
    assert!(
        code(&o) == exit::OK || says(&o).contains("rate limited"),
        "{}",
        says(&o)
    );
    s.stop().await;
}

//! One test per documented exit code, as a shell user meets them: the binary run against an
//! in-process simulator (or none), its exit status read.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use relcon::exit;
use relcon::sim::{self, SimConfig, SimHandle, faults::Faults};

const SPEED: f64 = 600.0;

async fn sim(faults: &[&str]) -> SimHandle {
    let mut f = Faults::default();
    for spec in faults {
        f.set(spec).expect("a fault");
    }
    sim::start(SimConfig {
        port: 0,
        speed: SPEED,
        faults: f,
        ..SimConfig::default()
    })
    .await
    .expect("the simulator starts")
}

/// `relcon ARGS` with no config file, pointed at `url` through the environment.
fn relcon(dir: &Path, url: Option<&str>, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_relcon"));
    c.args(args)
        .env_remove("RELCON_CONFIG")
        .env_remove("COGNIGY_CLIENT_ID")
        .env_remove("COGNIGY_CLIENT_SECRET")
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("RELCON_CLOCK_SPEED", SPEED.to_string());
    match url {
        Some(u) => {
            c.env("COGNIGY_API_URL", u)
                .env("COGNIGY_API_KEY", "demo-key");
        }
        None => {
            c.env_remove("COGNIGY_API_URL")
                .env_remove("COGNIGY_API_KEY");
        }
    }
    c
}

async fn run(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().expect("relcon runs"))
        .await
        .expect("join")
}

fn code(o: &Output) -> u8 {
    o.status.code().expect("an exit code") as u8
}

fn says(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_exit_code_means_what_the_table_says() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = sim(&[]).await;
    let url = s.url();
    let u = Some(url.as_str());

    // 0: success, and --help prints the table.
    let o = run(relcon(d, None, &["canary", "--help"])).await;
    assert_eq!(code(&o), exit::OK, "{}", says(&o));
    assert!(says(&o).contains("64  usage error"), "{}", says(&o));
    let o = run(relcon(d, u, &["status", "bot_abc123"])).await;
    assert_eq!(code(&o), exit::OK, "{}", says(&o));

    // 64: a command line that does not parse (never 2, which means rolled back).
    for args in [
        &["bogus"][..],
        &["canary"],
        &["canary", "b", "v", "--steps", "x"],
    ] {
        let o = run(relcon(d, u, args)).await;
        assert_eq!(code(&o), exit::USAGE, "{args:?}: {}", says(&o));
    }

    // 8: not found, of any kind: a bot, a version, an environment.
    for args in [
        &["status", "no-such-bot"][..],
        &["versions", "no-such-bot"],
        &["canary", "bot_abc123", "9.9.9", "--yes"],
        &["canary", "no-such-bot", "1.0", "--yes"],
        &[
            "canary",
            "bot_abc123",
            "2.1.0-canary",
            "--env",
            "env-nowhere",
            "--yes",
        ],
    ] {
        let o = run(relcon(d, u, args)).await;
        assert_eq!(code(&o), exit::NOT_FOUND, "{args:?}: {}", says(&o));
    }

    // 3: refused by validation, nothing changed.
    let o = run(relcon(
        d,
        u,
        &[
            "canary",
            "bot_abc123",
            "2.1.0-canary",
            "--steps",
            "50,10",
            "--yes",
        ],
    ))
    .await;
    assert_eq!(code(&o), exit::REFUSED, "{}", says(&o));
    assert!(says(&o).contains("steps must rise"), "{}", says(&o));

    // 4: auth or config: no config and no server named; a wrong key.
    let o = run(relcon(d, None, &["status"])).await;
    assert_eq!(code(&o), exit::CONFIG, "{}", says(&o));
    let mut wrong = relcon(d, u, &["status"]);
    wrong.env("COGNIGY_API_KEY", "not-the-key");
    let o = run(wrong).await;
    assert_eq!(code(&o), exit::CONFIG, "{}", says(&o));
    assert!(!says(&o).contains("not-the-key"), "the key is never shown");

    // 1: failure: a server nobody answers.
    let o = run(relcon(d, Some("http://127.0.0.1:9"), &["status"])).await;
    assert_eq!(code(&o), exit::FAILED, "{}", says(&o));

    // 2: rolled back: the regressing canary.
    let o = run(relcon(
        d,
        u,
        &["canary", "bot-travel-assistant", "v3.5.0", "--yes"],
    ))
    .await;
    assert_eq!(code(&o), exit::ROLLED_BACK, "{}", says(&o));

    // 7: paused for a decision: evidence that cannot settle in a short longest hold.
    let o = run(relcon(
        d,
        u,
        &[
            "canary",
            "bot-hr-helpdesk",
            "v1.10.0",
            "--steps",
            "1,100",
            "--max-hold",
            "3m",
            "--tolerance",
            "error_rate=0.0002",
            "--yes",
        ],
    ))
    .await;
    assert_eq!(code(&o), exit::PAUSED, "{}", says(&o));
    assert!(
        says(&o).contains("paused at 1% for a decision"),
        "{}",
        says(&o)
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_server_times_out_with_exit_5() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = sim(&["latencyMs=20000"]).await;
    // Short timeouts and no retries, from a config file.
    let config = d.join("relcon.toml");
    std::fs::write(
        &config,
        format!(
            "[profiles.t]\napi_url = \"{}\"\n[profiles.t.timeouts]\nconnect_ms = 500\nread_ms = 300\ntotal_ms = 600\n[profiles.t.retry]\nattempts = 1\n",
            s.url()
        ),
    )
    .unwrap();
    let mut c = relcon(d, None, &["status"]);
    c.env("RELCON_CONFIG", &config)
        .env("COGNIGY_API_KEY", "demo-key");
    let o = run(c).await;
    assert_eq!(code(&o), exit::TIMED_OUT, "{}", says(&o));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_cancels_and_restores_with_exit_6() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let s = sim(&[]).await;
    let url = s.url();
    let code = tokio::task::spawn_blocking(move || {
        let mut c = relcon(
            &d,
            Some(&url),
            &[
                "canary",
                "bot_abc123",
                "2.1.0-canary",
                "--interval",
                "1h",
                "--max-hold",
                "2h",
                "--yes",
            ],
        );
        let mut child = c
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        // Wait (on its own progress, not the clock) until the canary is serving.
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        for line in lines.by_ref() {
            if line.expect("a line").contains("✔ start canary") {
                break;
            }
        }
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        // Drain the rest so the child never blocks on a full pipe.
        for _ in lines {}
        child.wait().expect("wait").code().expect("a code") as u8
    })
    .await
    .expect("join");
    assert_eq!(code, exit::CANCELLED);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_snapshot_deploys_to_the_demo_world() {
    let dir = tempfile::tempdir().unwrap();
    let s = sim(&[]).await;
    let url = s.url();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/examples/snapshot.toml");
    let o = run(relcon(
        dir.path(),
        Some(&url),
        &[
            "env",
            "deploy",
            "env_prod_us_01",
            "--snapshot",
            example,
            "--yes",
        ],
    ))
    .await;
    assert_eq!(code(&o), exit::OK, "{}", says(&o));
    s.stop().await;
}

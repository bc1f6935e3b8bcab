//! `relcon versions` as a shell user meets it: the binary against an in-process simulator
//! (the built-in `fleet` world, whose `fleet-10k` has 10,000 versions, and the demo world),
//! reading a page at a time, its requests counted by the simulator's `/_sim/stats`.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use relcon::cli::{Command as Cmd, OutputFormat};
use relcon::domain::{Stage, Version};
use relcon::engine::rollback;
use relcon::exit;
use relcon::sim::{self, SimConfig, SimHandle};

const BIG: &str = "fleet-10k";
const PAGES_ROUTE: &str = "GET /api/v1/bots/{bot}/versions";

/// A paused simulator of the world `scenario` (a built-in name).
async fn sim(scenario: &str) -> SimHandle {
    sim::start(SimConfig {
        port: 0,
        speed: 0.0,
        scenario: Some(PathBuf::from(scenario)),
        ..SimConfig::default()
    })
    .await
    .expect("the simulator starts")
}

/// `relcon ARGS` with no config file, pointed at `url` through the environment.
fn relcon(dir: &Path, url: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_relcon"));
    c.args(args)
        .env_remove("RELCON_CONFIG")
        .env_remove("RELCON_PROFILE")
        .env_remove("COGNIGY_CLIENT_ID")
        .env_remove("COGNIGY_CLIENT_SECRET")
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("COGNIGY_API_URL", url)
        .env("COGNIGY_API_KEY", "demo-key");
    c
}

async fn run(dir: &Path, url: &str, args: &[&str]) -> Output {
    let mut c = relcon(dir, url, args);
    tokio::task::spawn_blocking(move || c.output().expect("relcon runs"))
        .await
        .expect("join")
}

fn code(o: &Output) -> u8 {
    o.status.code().expect("an exit code") as u8
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn says(o: &Output) -> String {
    format!("{}{}", stdout(o), String::from_utf8_lossy(&o.stderr))
}

/// Requests for pages of versions the simulator has answered so far, of any status.
async fn page_requests(url: &str) -> u64 {
    let stats: Value = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .get(format!("{url}/_sim/stats"))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats JSON");
    stats["routes"][PAGES_ROUTE]
        .as_object()
        .map(|by| by.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0)
}

/// The table's rows (the lines after the header that name a version).
fn rows(text: &str) -> Vec<&str> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    assert!(
        header.starts_with("VERSION") && header.contains("LABEL") && header.contains("VERDICT"),
        "{text}"
    );
    lines.filter(|l| l.starts_with('v')).collect()
}

/// fleet-10k's versions are `v1.0.0` ... `v1.9999.0`: the middle number, newest highest.
fn number(id: &str) -> u64 {
    id.split('.').nth(1).and_then(|n| n.parse().ok()).expect(id)
}

/// Strictly newest first, so no id comes twice.
fn assert_newest_first(ids: &[u64]) {
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_listing_reads_one_page_and_says_how_to_see_more() {
    let s = sim("fleet").await;
    let url = s.url();
    let dir = tempfile::tempdir().unwrap();

    let o = run(dir.path(), &url, &["versions", BIG]).await;
    assert_eq!(code(&o), exit::OK, "{}", says(&o));
    let text = stdout(&o);
    let rows = rows(&text);
    assert_eq!(rows.len(), 50, "{text}");
    let ids: Vec<u64> = rows
        .iter()
        .map(|r| number(r.split_whitespace().next().unwrap()))
        .collect();
    assert_eq!(ids[0], 9999, "the newest first: {text}");
    assert_newest_first(&ids);
    assert!(
        text.contains("50 of 10,000 shown; --limit N or --all for more"),
        "{text}"
    );
    assert_eq!(
        text.matches("★ last known good").count(),
        1,
        "marked once, in its row: {text}"
    );
    assert_eq!(page_requests(&url).await, 1, "one page: one request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_reads_only_the_pages_it_needs_newest_first_without_repeats() {
    let s = sim("fleet").await;
    let url = s.url();
    let dir = tempfile::tempdir().unwrap();

    let o = run(dir.path(), &url, &["versions", BIG, "--limit", "120"]).await;
    assert_eq!(code(&o), exit::OK, "{}", says(&o));
    let text = stdout(&o);
    let rows = rows(&text);
    assert_eq!(rows.len(), 120, "{text}");
    let ids: Vec<u64> = rows
        .iter()
        .map(|r| number(r.split_whitespace().next().unwrap()))
        .collect();
    assert_eq!((ids[0], ids[119]), (9999, 9880), "{text}");
    assert_newest_first(&ids);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 120);
    assert!(text.contains("120 of 10,000 shown"), "{text}");
    assert_eq!(
        page_requests(&url).await,
        3,
        "120 versions: three pages of 50"
    );

    // A limit under a page is one request too, and as JSON lines.
    let o = run(
        dir.path(),
        &url,
        &["versions", BIG, "--limit", "7", "--output", "jsonl"],
    )
    .await;
    assert_eq!(code(&o), exit::OK, "{}", says(&o));
    let got: Vec<Version> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect(l))
        .collect();
    assert_eq!(got.len(), 7);
    assert_newest_first(&got.iter().map(|v| number(&v.id)).collect::<Vec<_>>());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("7 of 10,000 shown"),
        "notes go to stderr: {stderr}"
    );
    assert_eq!(page_requests(&url).await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_as_json_lines_is_every_version_once_in_one_request_a_page() {
    let s = sim("fleet").await;
    let url = s.url();
    let dir = tempfile::tempdir().unwrap();

    let o = run(
        dir.path(),
        &url,
        &["versions", BIG, "--limit", "1", "--output", "json"],
    )
    .await;
    assert_eq!(code(&o), exit::OK, "{}", says(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    let total = doc["total"].as_u64().expect("total");
    assert_eq!(total, 10_000, "{doc}");
    let before = page_requests(&url).await;

    let o = run(
        dir.path(),
        &url,
        &["versions", BIG, "--all", "--output", "jsonl"],
    )
    .await;
    assert_eq!(code(&o), exit::OK, "{}", says(&o));
    let text = stdout(&o);
    let got: Vec<Version> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(got.len() as u64, total);
    let ids: Vec<u64> = got.iter().map(|v| number(&v.id)).collect();
    assert_newest_first(&ids);
    assert_eq!((ids[0], ids[ids.len() - 1]), (9999, 0));
    assert!(
        o.stderr.is_empty(),
        "nothing to add when everything was read: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        page_requests(&url).await - before,
        total.div_ceil(50),
        "one request a page of 50"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_lines_are_printed_as_pages_arrive_and_a_closed_reader_ends_the_reading() {
    let s = sim("fleet").await;
    let url = s.url();
    let dir = tempfile::tempdir().unwrap();

    let mut c = relcon(
        dir.path(),
        &url,
        &["versions", BIG, "--all", "--output", "jsonl"],
    );
    let out = tokio::task::spawn_blocking(move || {
        let mut child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("read");
        // The reader is gone now (like `| head -1`).
        (first, child.wait_with_output().expect("wait"))
    })
    .await
    .expect("join");
    let (first, o) = out;
    let v: Version = serde_json::from_str(&first).expect("a version");
    assert_eq!(v.id, "v1.9999.0");
    assert_eq!(code(&o), exit::OK, "{}", says(&o));
    assert!(!says(&o).contains("panicked"), "{}", says(&o));
    // The first line came before the last page was read, and the reading stopped with the
    // reader: a listing built whole first would have read all 200 pages.
    let pages = page_requests(&url).await;
    assert!(pages < 200, "{pages} pages read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_keeps_the_old_document_and_says_what_it_did_not_read() {
    let s = sim("fleet").await;
    let url = s.url();
    let dir = tempfile::tempdir().unwrap();

    let o = run(dir.path(), &url, &["versions", BIG, "--output", "json"]).await;
    assert_eq!(code(&o), exit::OK, "{}", says(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    for key in [
        "bot",
        "live",
        "lastKnownGood",
        "versions",
        "total",
        "truncated",
    ] {
        assert!(doc.get(key).is_some(), "{key} in {doc}");
    }
    assert_eq!(doc["bot"], BIG);
    assert_eq!(doc["versions"].as_array().unwrap().len(), 50);
    assert_eq!(doc["total"], 10_000);
    assert_eq!(doc["truncated"], true);
    let versions: Vec<Version> = serde_json::from_value(doc["versions"].clone()).unwrap();
    let live = doc["live"].as_str().map(str::to_string);
    let good = rollback::last_known_good(&versions, live.as_deref(), Stage::Production);
    assert_eq!(
        doc["lastKnownGood"].as_str(),
        good.map(|v| v.id.as_str()),
        "{doc}"
    );
    assert!(good.is_some(), "fleet-10k's is among its newest: {doc}");
    assert_eq!(doc["lastKnownGoodKnown"], true);

    // Read too few to find it: not claimed absent, said unknown.
    let o = run(
        dir.path(),
        &url,
        &["versions", BIG, "--limit", "1", "--output", "json"],
    )
    .await;
    let doc: Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    assert_eq!(doc["lastKnownGood"], Value::Null, "{doc}");
    assert_eq!(doc["lastKnownGoodKnown"], false, "{doc}");
    let o = run(dir.path(), &url, &["versions", BIG, "--limit", "1"]).await;
    assert!(
        stdout(&o).contains("★ last known good: not among the 1 newest"),
        "{}",
        says(&o)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_version_of_a_demo_bot_matches_the_rule_over_the_whole_list() {
    let s = sim("demo").await;
    let url = s.url();
    let dir = tempfile::tempdir().unwrap();
    let bot = "bot-travel-assistant";

    let o = run(
        dir.path(),
        &url,
        &["versions", bot, "--all", "--output", "json"],
    )
    .await;
    assert_eq!(code(&o), exit::OK, "{}", says(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    let versions: Vec<Version> = serde_json::from_value(doc["versions"].clone()).unwrap();
    assert_eq!(doc["total"].as_u64(), Some(versions.len() as u64), "{doc}");
    assert_eq!(doc["truncated"], false);
    assert_eq!(doc["lastKnownGoodKnown"], true);
    let live = doc["live"].as_str();
    let good = rollback::last_known_good(&versions, live, Stage::Production);
    assert_eq!(doc["lastKnownGood"].as_str(), good.map(|v| v.id.as_str()));

    // Small limits: the newest N, in the same order, the rest announced.
    let n = versions.len();
    assert!(n > 3, "{n}");
    let o = run(dir.path(), &url, &["versions", bot, "--limit", "3"]).await;
    assert_eq!(code(&o), exit::OK, "{}", says(&o));
    let text = stdout(&o);
    let shown: Vec<&str> = rows(&text)
        .iter()
        .map(|r| r.split_whitespace().next().unwrap())
        .collect();
    let newest: Vec<&str> = versions.iter().take(3).map(|v| v.id.as_str()).collect();
    assert_eq!(shown, newest, "{text}");
    assert!(text.contains(&format!("3 of {n} shown")), "{text}");

    // The whole list as a table says nothing is left.
    let o = run(dir.path(), &url, &["versions", bot, "--all"]).await;
    let text = stdout(&o);
    assert_eq!(rows(&text).len(), n, "{text}");
    assert!(!text.contains("shown;"), "{text}");
    if let Some(g) = good {
        let marked: Vec<&str> = rows(&text)
            .into_iter()
            .filter(|r| r.contains("★ last known good"))
            .collect();
        assert_eq!(marked.len(), 1, "{text}");
        assert!(marked[0].starts_with(&g.id), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_limits_and_jsonl_elsewhere_are_usage_errors_and_errors_keep_their_codes() {
    let s = sim("demo").await;
    let url = s.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    for args in [
        &["versions", "bot-travel-assistant", "--limit", "0"][..],
        &["versions", "bot-travel-assistant", "--limit", "-3"],
        &["versions", "bot-travel-assistant", "--limit=-1"],
        &["versions", "bot-travel-assistant", "--limit", "many"],
        &["versions", "bot-travel-assistant", "--limit", "5", "--all"],
        &["status", "--output", "jsonl"],
        &["--output", "jsonl", "audit", "show"],
    ] {
        let o = run(d, &url, args).await;
        assert_eq!(code(&o), exit::USAGE, "{args:?}: {}", says(&o));
        assert!(o.stdout.is_empty(), "{args:?}: {}", says(&o));
    }
    let o = run(d, &url, &["status", "--output", "jsonl"]).await;
    assert!(
        says(&o).contains("--output jsonl is for `relcon versions` only"),
        "{}",
        says(&o)
    );
    assert_eq!(page_requests(&url).await, 0, "nothing was read");

    // Not found is 8 in every format; beside JSON lines, stdout stays empty.
    for format in ["human", "json", "jsonl"] {
        let o = run(d, &url, &["versions", "no-such-bot", "--output", format]).await;
        assert_eq!(code(&o), exit::NOT_FOUND, "{format}: {}", says(&o));
        assert!(says(&o).contains("no-such-bot"), "{format}: {}", says(&o));
        if format == "jsonl" {
            assert!(o.stdout.is_empty(), "{}", says(&o));
        }
    }
}

#[test]
fn jsonl_is_read_wherever_the_global_flag_stands() {
    for args in [
        &["relcon", "versions", "b", "--output", "jsonl"][..],
        &["relcon", "--output", "jsonl", "versions", "b"],
    ] {
        let cli = relcon::cli::parse_from(args).expect("parses");
        assert_eq!(cli.global.format(), OutputFormat::Jsonl, "{args:?}");
        // Commands that know only human and JSON see JSON.
        assert_eq!(cli.global.output, relcon::cli::Output::Json);
        let Some(Cmd::Versions(a)) = cli.command else {
            panic!("versions")
        };
        assert_eq!((a.limit, a.all), (None, false));
    }
    let cli = relcon::cli::parse_from(["relcon", "versions", "b", "--limit", "120"]).unwrap();
    assert_eq!(cli.global.format(), OutputFormat::Human);
    let Some(Cmd::Versions(a)) = cli.command else {
        panic!("versions")
    };
    assert_eq!(a.limit, Some(120));
    let cli = relcon::cli::parse_from(["relcon", "--output", "json", "versions", "b"]).unwrap();
    assert_eq!(cli.global.format(), OutputFormat::Json);
}

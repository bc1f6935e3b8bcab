//! Conditional reads in both dialects (a `200` JSON read carries an `ETag`; `If-None-Match`
//! answers `304`) and the Release API's opt-in per-caller rate limit.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use reqwest::Method;
use serde_json::{Value, json};

use common::*;
use relcon::sim::{Dialect, SimConfig};

const VERSIONS: &str = "/api/v1/bots/bot-customer-service-v2/versions?page=1&size=50";
const OPERATIONS: &str = "/api/v1/operations";

/// A read with `If-None-Match` values (one header line each).
async fn read_if(sim: &Sim, path: &str, tags: &[&str]) -> Resp {
    let mut rb = sim.req(Method::GET, path).bearer_auth(API_KEY);
    for t in tags {
        rb = rb.header("if-none-match", *t);
    }
    sim.send(rb).await
}

/// The `ETag` of a `200`, checked to be a strong quoted tag.
#[track_caller]
fn etag(r: &Resp) -> String {
    r.expect(200);
    let tag = r.header("etag").expect("a 200 JSON read carries an ETag");
    assert!(
        tag.len() > 2 && tag.starts_with('"') && tag.ends_with('"'),
        "a strong entity tag: {tag}"
    );
    tag.to_string()
}

/// A `304` with this `ETag`, no body and none of the JSON's representation headers.
#[track_caller]
fn not_modified(r: &Resp, tag: &str) {
    assert_eq!(r.status, 304, "expected 304, got {}: {}", r.status, r.text);
    assert_eq!(r.header("etag"), Some(tag));
    assert!(r.text.is_empty(), "a 304 has no body: {}", r.text);
    assert_eq!(r.header("content-type"), None);
    assert_eq!(r.header("content-length"), None);
    assert_eq!(r.header("transfer-encoding"), None);
}

#[tokio::test]
async fn an_unchanged_collection_answers_304_to_its_own_etag() {
    let sim = start().await;
    for path in [VERSIONS, OPERATIONS] {
        let first = sim.get(path, API_KEY).await;
        let tag = etag(&first);
        assert_eq!(first.content_type(), "application/json");
        let again = sim.get(path, API_KEY).await;
        assert_eq!(etag(&again), tag, "the same body, the same tag ({path})");
        assert_eq!(again.text, first.text, "the JSON body is unchanged");
        not_modified(&read_if(&sim, path, &[&tag]).await, &tag);
        // HEAD is a read too: its answer carries the tag, and it is conditional.
        let head = sim
            .send(sim.req(Method::HEAD, path).bearer_auth(API_KEY))
            .await;
        assert_eq!(head.status, 200);
        assert_eq!(head.header("etag"), Some(tag.as_str()));
        let head = sim
            .send(
                sim.req(Method::HEAD, path)
                    .bearer_auth(API_KEY)
                    .header("if-none-match", &tag),
            )
            .await;
        not_modified(&head, &tag);
    }
}

#[tokio::test]
async fn a_change_in_the_world_makes_the_old_etag_answer_200_with_a_new_one() {
    let sim = start().await;
    let old = etag(&sim.get(OPERATIONS, API_KEY).await);
    sim.deploy_customer_service(API_KEY).await.expect(202);
    let changed = read_if(&sim, OPERATIONS, &[&old]).await;
    let new = etag(&changed);
    assert_ne!(new, old);
    assert!(
        changed.text.contains("bot-customer-service-v2"),
        "the new body lists the deployment: {}",
        changed.text
    );
    not_modified(&read_if(&sim, OPERATIONS, &[&new]).await, &new);
    // The deployment moves on with the clock: the list changes again.
    sim.advance(5.0).await;
    assert_eq!(read_if(&sim, OPERATIONS, &[&new]).await.status, 200);
}

#[tokio::test]
async fn if_none_match_takes_weak_tags_lists_and_the_wildcard() {
    let sim = start().await;
    let tag = etag(&sim.get(VERSIONS, API_KEY).await);
    let weak = format!("W/{tag}");
    let listed = format!("\"0000000000000000\", W/\"1111\",{tag}");
    for matching in [
        vec![weak.as_str()],
        vec![listed.as_str()],
        vec!["*"],
        vec!["\"elsewhere\"", tag.as_str()],
    ] {
        not_modified(&read_if(&sim, VERSIONS, &matching).await, &tag);
    }
    let lowercase_weak = format!("w/{tag}");
    let unquoted = tag.trim_matches('"').to_string();
    for other in [
        vec!["\"0000000000000000\""],
        vec![lowercase_weak.as_str()],
        vec![unquoted.as_str()],
        vec![""],
    ] {
        let r = read_if(&sim, VERSIONS, &other).await;
        assert_eq!(etag(&r), tag, "{other:?} does not match: a full answer");
    }
}

#[tokio::test]
async fn writes_and_errors_are_never_turned_into_304() {
    let sim = start().await;
    let created = sim
        .send(
            sim.req(Method::POST, "/v1/bots/bot-customer-service-v2/deployments")
                .bearer_auth(API_KEY)
                .header("if-none-match", "*")
                .json(&seed000_deployment()),
        )
        .await;
    created.expect(202);
    assert_eq!(created.header("etag"), None, "only reads carry a tag");
    let missing = read_if(&sim, "/api/v1/bots/no-such-bot", &["*"]).await;
    missing.problem(404);
    assert_eq!(missing.header("etag"), None);
    let unauthorized = sim
        .send(
            sim.req(Method::GET, OPERATIONS)
                .header("if-none-match", "*"),
        )
        .await;
    unauthorized.problem(401);
}

#[tokio::test]
async fn the_statistics_count_304s_under_their_own_status() {
    let sim = start().await;
    let tag = etag(&sim.get(OPERATIONS, API_KEY).await);
    for _ in 0..3 {
        not_modified(&read_if(&sim, OPERATIONS, &[&tag]).await, &tag);
    }
    let stats = sim.stats().await;
    assert_eq!(
        stats["routes"]["GET /api/v1/operations"],
        json!({"200": 1, "304": 3}),
        "{stats}"
    );
}

#[tokio::test]
async fn the_cognigy_dialect_answers_304_and_charges_it_to_the_key() {
    let sim = start_with(SimConfig {
        dialect: Dialect::Cognigy,
        rate_limit: 4,
        ..paused()
    })
    .await;
    let read = |tag: Option<String>| {
        let mut rb = sim
            .req(Method::GET, "/new/v2.0/projects")
            .header("x-api-key", API_KEY);
        if let Some(t) = tag {
            rb = rb.header("if-none-match", t);
        }
        sim.send(rb)
    };
    let tag = etag(&read(None).await);
    not_modified(&read(Some(tag.clone())).await, &tag);
    not_modified(&read(Some(format!("W/{tag}"))).await, &tag);
    not_modified(&read(Some("*".into())).await, &tag);
    // The fifth request in five minutes is over the key's limit, a 304 or not.
    let over = read(Some(tag.clone())).await;
    assert_eq!(over.status, 429, "{}", over.text);
    let stats = sim.stats().await;
    assert_eq!(
        stats["routes"]["GET /new/v2.0/projects"],
        json!({"200": 1, "304": 3, "429": 1}),
        "{stats}"
    );
}

/// A Release API simulator whose callers may send `limit` requests per five minutes.
async fn limited(limit: u32) -> Sim {
    start_with(SimConfig {
        release_rate_limit: Some(limit),
        ..paused()
    })
    .await
}

#[track_caller]
fn over_the_limit(r: &Resp, limit: u32) -> u64 {
    let p = r.problem(429);
    let wait: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("Retry-After in seconds");
    assert_eq!(p["retryAfterSeconds"], json!(wait), "{}", r.text);
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("{limit} requests per 5 simulator minutes")),
        "{detail}"
    );
    wait
}

#[tokio::test]
async fn the_release_rate_limit_refuses_a_caller_over_it_until_the_window_moves() {
    let sim = limited(3).await;
    let tag = etag(&sim.get(VERSIONS, API_KEY).await);
    not_modified(&read_if(&sim, VERSIONS, &[&tag]).await, &tag);
    sim.get(OPERATIONS, API_KEY).await.expect(200);
    // The fourth request, a conditional one included, is over the limit.
    let over = read_if(&sim, VERSIONS, &[&tag]).await;
    assert_eq!(
        over_the_limit(&over, 3),
        300,
        "the whole window on a paused clock"
    );
    // The token endpoint and the control routes are not charged; another caller has its own
    // window.
    let token = sim.token_form("bot:read").await;
    sim.token_form("bot:read").await;
    sim.stats().await;
    sim.get(VERSIONS, &token).await.expect(200);
    sim.get(VERSIONS, &token).await.expect(200);
    sim.get(VERSIONS, &token).await.expect(200);
    over_the_limit(&sim.get(VERSIONS, &token).await, 3);

    sim.advance(100.0).await;
    let still = sim.get(OPERATIONS, API_KEY).await;
    assert_eq!(
        over_the_limit(&still, 3),
        200,
        "seconds until the oldest leaves"
    );
    sim.advance(200.0).await;
    sim.get(OPERATIONS, API_KEY).await.expect(200);
    let stats = sim.stats().await;
    assert_eq!(
        stats["routes"]["GET /api/v1/operations"]["429"],
        json!(1),
        "{stats}"
    );
}

#[tokio::test]
async fn the_release_rate_limit_charges_callers_without_credentials_as_one() {
    let sim = limited(2).await;
    let anonymous = || sim.send(sim.req(Method::GET, OPERATIONS));
    anonymous().await.problem(401);
    let unknown = sim.get(OPERATIONS, "not-a-token").await;
    unknown.problem(401);
    over_the_limit(&anonymous().await, 2);
    // The webhook receiver is not charged.
    let hook = sim
        .send(sim.req(Method::POST, "/hooks/any").json(&json!({"x": 1})))
        .await;
    hook.expect(200);
    sim.get(OPERATIONS, API_KEY).await.expect(200);
}

#[tokio::test]
async fn without_the_flag_the_release_api_has_no_rate_limit() {
    // The Cognigy dialect's limit does not apply to the Release API.
    let sim = start_with(SimConfig {
        rate_limit: 2,
        ..paused()
    })
    .await;
    let tag = etag(&sim.get(OPERATIONS, API_KEY).await);
    for _ in 0..1_100 {
        let r = read_if(&sim, OPERATIONS, &[&tag]).await;
        assert_eq!(r.status, 304, "{}", r.text);
    }
    let stats = sim.stats().await;
    assert_eq!(
        stats["routes"]["GET /api/v1/operations"],
        json!({"200": 1, "304": 1_100}),
        "{stats}"
    );
}

/// Kills the child when the test ends, also when it fails.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `relcon sim` with these arguments on a free port; its address, read from the banner.
async fn relcon_sim(args: &[&str]) -> (KillOnDrop, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_relcon"))
        .args(["sim", "--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("relcon sim starts");
    let stdout = child.stdout.take().unwrap();
    let child = KillOnDrop(child);
    let url = tokio::task::spawn_blocking(move || {
        let first = BufReader::new(stdout)
            .lines()
            .next()
            .expect("a banner")
            .expect("a banner line");
        first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_string()
    })
    .await
    .unwrap();
    (child, url)
}

#[tokio::test]
async fn relcon_sim_rate_limit_turns_the_release_limit_on() {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    for (args, refused) in [(&["--rate-limit", "2"][..], true), (&[][..], false)] {
        let (_child, url) = relcon_sim(args).await;
        let mut statuses = Vec::new();
        for _ in 0..3 {
            let r = http
                .get(format!("{url}{OPERATIONS}"))
                .bearer_auth(API_KEY)
                .send()
                .await
                .expect("an answer");
            statuses.push(r.status().as_u16());
            if r.status() == 429 {
                let wait: u64 = r.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!((1..=300).contains(&wait), "{wait}");
                let body: Value = r.json().await.unwrap();
                assert_eq!(body["status"], json!(429));
            }
        }
        let expected = if refused {
            [200, 200, 429]
        } else {
            [200, 200, 200]
        };
        assert_eq!(statuses, expected, "relcon sim {args:?}");
    }
}

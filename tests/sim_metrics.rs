//! The count-based traffic model over HTTP: a canary's two arms bucket by bucket
//! (`GET /api/v1/canaries/{id}/metrics`), time series at any step, and summaries that say
//! which window they cover. The clock is paused and jumped; nothing sleeps.

mod common;

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};

use common::*;
use relcon::backend::{Auth, HttpSettings, ReleaseApi, ReleaseBackend};
use relcon::domain::CanaryMetrics;

const TRAVEL: &str = "bot-travel-assistant";
const BLUE: &str = "env-prod-blue";

/// Start the travel bot's v3.5.0 canary in blue at `weight` percent; its id.
async fn travel_canary(sim: &Sim, weight: f64) -> String {
    let r = start_canary(
        sim,
        API_KEY,
        &canary_payload(TRAVEL, BLUE, "v3.5.0", 100.0 - weight, weight, 100.0),
    )
    .await;
    r.expect(201)["canaryId"].as_str().unwrap().to_string()
}

/// The RFC 3339 stamp of simulator second `t` (the clock's epoch is its reading at 0).
fn stamp(epoch: &str, t: i64) -> String {
    let e: DateTime<Utc> = epoch.parse().unwrap();
    (e + chrono::Duration::seconds(t)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

async fn epoch(sim: &Sim) -> String {
    let c = sim.clock().await;
    assert_eq!(
        c["simSeconds"], 0.0,
        "read the epoch before moving the clock"
    );
    c["now"].as_str().unwrap().to_string()
}

fn arr<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is not an array: {v}"))
}

fn total(points: &[Value], key: &str) -> u64 {
    points.iter().map(|p| p[key].as_u64().unwrap()).sum()
}

async fn canary_metrics(sim: &Sim, id: &str, query: &str) -> Value {
    sim.get(&format!("/api/v1/canaries/{id}/metrics{query}"), API_KEY)
        .await
        .expect(200)
        .clone()
}

#[tokio::test]
async fn canary_metrics_give_both_arms_aligned_from_the_start_to_now() {
    let sim = start().await;
    let epoch = epoch(&sim).await;
    let id = travel_canary(&sim, 10.0).await;
    sim.advance(1800.0).await;

    let m = canary_metrics(&sim, &id, "?step=10s").await;
    assert_eq!(m["canaryId"], id.as_str());
    assert_eq!(m["stepSeconds"], 10);
    assert_eq!(m["windowStart"], stamp(&epoch, 0).as_str());
    assert_eq!(m["windowEnd"], stamp(&epoch, 1800).as_str());
    let (base, can) = (arr(&m, "baseline"), arr(&m, "canary"));
    assert_eq!(base.len(), 180, "30 minutes of 10 s buckets");
    assert_eq!(can.len(), 180);
    for (i, (b, c)) in base.iter().zip(can).enumerate() {
        let t = i as i64 * 10;
        assert_eq!(b["t"], t);
        assert_eq!(c["t"], t);
        assert_eq!(b["at"], stamp(&epoch, t).as_str());
        assert_eq!(b["minute"], t / 60);
        assert_eq!(b["weight"], 10.0);
        assert_eq!(c["weight"], 10.0);
        assert!(
            b.get("partial").is_none(),
            "complete buckets are not flagged: {b}"
        );
        for p in [b, c] {
            for key in ["conversations", "errors", "fallbacks", "handoffs", "rated"] {
                assert!(p[key].as_u64().is_some(), "{key} in {p}");
            }
        }
    }
    // The canary arm has about 10% of the conversations (3 binomial standard errors).
    let (nb, nc) = (total(base, "conversations"), total(can, "conversations"));
    let n = (nb + nc) as f64;
    let se = (0.1 * 0.9 / n).sqrt();
    let share = nc as f64 / n;
    assert!(
        (share - 0.1).abs() <= 3.0 * se,
        "canary share {share:.4} of {n}"
    );
    // The regressing canary errs more than the stable version once it has set in.
    let rate = |pts: &[Value]| total(pts, "errors") as f64 / total(pts, "conversations") as f64;
    assert!(rate(&can[12..]) > 2.0 * rate(&base[12..]));

    // Five seconds later the last bucket is in progress, counted so far and flagged.
    sim.advance(5.0).await;
    let later = canary_metrics(&sim, &id, "").await;
    assert_eq!(later["stepSeconds"], 10, "10 s is the default step");
    assert_eq!(later["windowEnd"], stamp(&epoch, 1805).as_str());
    let can_later = arr(&later, "canary");
    assert_eq!(can_later.len(), 181);
    assert_eq!(can_later[180]["partial"], true);
    assert_eq!(arr(&later, "baseline")[180]["partial"], true);
    assert_eq!(
        &can_later[..180],
        &can[..],
        "complete buckets do not change"
    );
}

#[tokio::test]
async fn since_and_step_choose_the_buckets() {
    let sim = start().await;
    let epoch = epoch(&sim).await;
    let id = travel_canary(&sim, 25.0).await;
    sim.advance(1800.0).await;
    let all = canary_metrics(&sim, &id, "?step=10s").await;

    let since = stamp(&epoch, 600);
    let q = format!("?since={}&step=10s", since.replace('+', "%2B"));
    let tail = canary_metrics(&sim, &id, &q).await;
    assert_eq!(tail["windowStart"], since.as_str());
    assert_eq!(arr(&tail, "canary").len(), 120);
    assert_eq!(arr(&tail, "canary")[..], arr(&all, "canary")[60..]);
    assert_eq!(arr(&tail, "baseline")[..], arr(&all, "baseline")[60..]);

    // A `since` before the canary started starts at the canary.
    let early = canary_metrics(&sim, &id, "?since=2000-01-01T00:00:00Z").await;
    assert_eq!(early["windowStart"], stamp(&epoch, 0).as_str());
    assert_eq!(arr(&early, "canary").len(), 180);

    // A minute is the sum of its six 10 s buckets.
    let minutes = canary_metrics(&sim, &id, "?step=1m").await;
    assert_eq!(minutes["stepSeconds"], 60);
    for arm in ["baseline", "canary"] {
        let (coarse, fine) = (arr(&minutes, arm), arr(&all, arm));
        assert_eq!(coarse.len(), 30);
        for (i, c) in coarse.iter().enumerate() {
            let parts = &fine[i * 6..i * 6 + 6];
            for key in ["conversations", "errors", "fallbacks", "handoffs", "rated"] {
                assert_eq!(
                    c[key].as_u64().unwrap(),
                    total(parts, key),
                    "{arm} {i} {key}"
                );
            }
            assert_eq!(c["t"], parts[0]["t"]);
        }
    }
}

#[tokio::test]
async fn an_ended_canarys_metrics_stop_at_its_end_and_stay_as_they_were() {
    let sim = start().await;
    let epoch = epoch(&sim).await;
    let id = travel_canary(&sim, 50.0).await;
    sim.advance(900.0).await;
    let before = canary_metrics(&sim, &id, "?step=10s").await;
    let rolled = sim
        .post(
            &format!("/api/v1/canaries/{id}/rollback"),
            API_KEY,
            &json!({"reason": "test"}),
        )
        .await;
    rolled.expect(200);
    sim.advance(600.0).await;
    let after = canary_metrics(&sim, &id, "?step=10s").await;
    assert_eq!(after["windowEnd"], stamp(&epoch, 900).as_str());
    // The rollback restarts the version's regression clock for the future only: the
    // canary's past, regression included, reads the same.
    assert_eq!(after["canary"], before["canary"]);
    assert_eq!(after["baseline"], before["baseline"]);
}

#[tokio::test]
async fn canary_metrics_refuse_unknown_canaries_and_bad_queries() {
    let sim = start().await;
    let r = sim.get("/api/v1/canaries/cnry_nope/metrics", API_KEY).await;
    let p = r.problem(404);
    assert!(p["detail"].as_str().unwrap().contains("cnry_nope"), "{p}");

    let id = travel_canary(&sim, 10.0).await;
    sim.advance(60.0).await;
    for (query, field) in [
        ("?since=yesterday", "since"),
        ("?since=2025-13-01T00:00:00Z", "since"),
        ("?step=15s", "step"),
        ("?step=0s", "step"),
        ("?step=fast", "step"),
    ] {
        let r = sim
            .get(&format!("/api/v1/canaries/{id}/metrics{query}"), API_KEY)
            .await;
        r.problem(422);
        assert_eq!(r.error_fields(), [field], "{query}: {}", r.text);
    }
    // More than 1440 buckets: a coarser step answers.
    sim.advance(4.0 * 3600.0).await;
    let r = sim
        .get(&format!("/api/v1/canaries/{id}/metrics?step=10s"), API_KEY)
        .await;
    r.problem(422);
    assert_eq!(r.error_fields(), ["step"]);
    let m = canary_metrics(&sim, &id, "?step=1m").await;
    assert_eq!(arr(&m, "canary").len(), 241);

    // It reads like GET /api/v1/canaries/{id}: bot:read or metrics:read.
    let deployer = sim.token_form("bot:deploy").await;
    let r = sim
        .get(&format!("/api/v1/canaries/{id}/metrics?step=1m"), &deployer)
        .await;
    r.problem(403);
    let reader = sim.token_form("metrics:read").await;
    sim.get(&format!("/api/v1/canaries/{id}/metrics?step=1m"), &reader)
        .await
        .expect(200);
}

#[tokio::test]
async fn the_client_reads_canary_metrics() {
    let sim = start().await;
    let id = travel_canary(&sim, 10.0).await;
    sim.advance(305.0).await;
    let raw = canary_metrics(&sim, &id, "?step=1m").await;
    let api = ReleaseApi::new(
        HttpSettings::new(&sim.url),
        Auth::ApiKey(SecretString::from(API_KEY)),
    )
    .unwrap();
    let m: CanaryMetrics = api
        .canary_metrics(&id, None, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(m, serde_json::from_value::<CanaryMetrics>(raw).unwrap());
    assert_eq!(m.canary_id, id);
    assert_eq!(m.step_seconds, 60);
    assert_eq!(m.canary.len(), 6);
    assert!(m.canary[5].partial && !m.canary[4].partial);
    assert!(m.canary.iter().all(|p| p.weight == Some(10.0)));
    let since = m.canary[3].at.clone();
    let tail = api
        .canary_metrics(&id, Some(&since), Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(tail.window_start, since);
    assert_eq!(tail.canary.len(), 13);
}

#[tokio::test]
async fn timeseries_take_a_step() {
    let sim = start().await;
    travel_canary(&sim, 10.0).await;
    // At 1799 s the 30 last buckets of 10 s, 1 min and 5 min all start at 0.
    sim.advance(1799.0).await;
    let get = |q: &str| {
        let path = format!("/api/v1/metrics/timeseries?botId={TRAVEL}{q}");
        let sim = &sim;
        async move { sim.get(&path, API_KEY).await }
    };
    let fine = get("&window=30m&step=10s").await;
    let fine = fine.expect(200);
    assert_eq!(fine["stepSeconds"], 10);
    assert_eq!(arr(fine, "total").len(), 180);
    let minutes = get("&window=30m").await;
    let minutes = minutes.expect(200);
    assert_eq!(minutes["stepSeconds"], 60, "60 s by default");
    assert_eq!(arr(minutes, "total").len(), 30);
    assert_eq!(get("&window=30m&step=1m").await.json, minutes.clone());
    let five = get("&window=30m&step=5m").await;
    let five = five.expect(200);
    assert_eq!(five["stepSeconds"], 300);
    assert_eq!(arr(five, "total").len(), 6);
    // Every step counts the same conversations.
    for arm in ["total", "canary"] {
        let n = total(arr(fine, arm), "conversations");
        assert_eq!(total(arr(minutes, arm), "conversations"), n, "{arm}");
        assert_eq!(total(arr(five, arm), "conversations"), n, "{arm}");
    }
    // Points carry the new figures.
    let p = &arr(minutes, "canary")[10];
    for key in [
        "fallbacks",
        "handoffs",
        "rated",
        "latencySdMs",
        "satisfactionSd",
        "intentScore",
        "intentScoreSd",
        "weight",
        "t",
    ] {
        assert!(!p[key].is_null(), "{key} in {p}");
    }
    for q in ["&step=7s", "&step=0s", "&step=soon", "&window=24h&step=10s"] {
        let r = get(q).await;
        r.problem(422);
        assert_eq!(r.error_fields(), ["step"], "{q}: {}", r.text);
    }
    get("&window=24h&step=1m").await.expect(200);
}

#[tokio::test]
async fn a_summary_says_which_window_it_covers() {
    let sim = start().await;
    let epoch = epoch(&sim).await;
    sim.advance(1234.0).await;
    let r = sim
        .get(
            &format!("/api/v1/metrics/conversations?botId={TRAVEL}&window=15m"),
            API_KEY,
        )
        .await;
    let s = r.expect(200);
    // The 10 s buckets that start inside the window, the last one up to now.
    assert_eq!(s["windowStart"], stamp(&epoch, 340).as_str());
    assert_eq!(s["windowEnd"], stamp(&epoch, 1234).as_str());
    let n = s["conversation_count"].as_u64().unwrap() as f64;
    // The travel bot's conversations a minute, for the window's ~14.9 minutes.
    let cpm = relcon::sim::scenario::Scenario::demo()
        .unwrap()
        .bots
        .iter()
        .find(|b| b.id == TRAVEL)
        .unwrap()
        .cpm;
    let expected = cpm * (1234.0 - 340.0) / 60.0;
    assert!(
        (0.8 * expected..=1.2 * expected).contains(&n),
        "{cpm} a minute for ~15 minutes: {n}"
    );
    for key in [
        "error_count",
        "fallback_count",
        "handoff_count",
        "rated_count",
    ] {
        assert!(s[key].as_u64().is_some(), "{key} in {s}");
    }
    for key in [
        "error_rate",
        "fallback_rate",
        "handoff_rate",
        "satisfaction_score",
        "avg_latency_ms",
        "p95_latency_ms",
        "intent_score",
    ] {
        assert!(s[key].as_f64().is_some(), "{key} in {s}");
    }
    let rate = s["fallback_count"].as_f64().unwrap() / n as f64;
    assert_eq!(s["fallback_rate"].as_f64().unwrap(), rate);

    // The same buckets, asked as a 10 s series, add up to the summary.
    let r = sim
        .get(
            &format!("/api/v1/metrics/timeseries?botId={TRAVEL}&window=900s&step=10s"),
            API_KEY,
        )
        .await;
    let pts = arr(r.expect(200), "total");
    assert_eq!(pts[0]["t"], 340);
    assert_eq!(total(pts, "conversations") as f64, n);
    assert_eq!(total(pts, "errors"), s["error_count"].as_u64().unwrap());
}

#[tokio::test]
async fn the_same_actions_give_the_same_canary_metrics() {
    async fn run(seed: u64) -> Value {
        let sim = start_with(relcon::sim::SimConfig {
            seed: Some(seed),
            ..paused()
        })
        .await;
        let id = travel_canary(&sim, 10.0).await;
        sim.advance(200.0).await;
        sim.send(
            sim.req(Method::PUT, &format!("/api/v1/canaries/{id}/traffic"))
                .bearer_auth(API_KEY)
                .json(&json!({"canary": 40.0})),
        )
        .await
        .expect(200);
        sim.advance(400.0).await;
        let mut m = canary_metrics(&sim, &id, "?step=10s").await;
        // Without the wall-clock stamps.
        for arm in ["baseline", "canary"] {
            for p in m[arm].as_array_mut().unwrap() {
                p.as_object_mut().unwrap().remove("at");
            }
        }
        m.as_object_mut().unwrap().remove("windowStart");
        m.as_object_mut().unwrap().remove("windowEnd");
        m
    }
    let (a, b, c) = (run(5).await, run(5).await, run(6).await);
    assert_eq!(a, b);
    assert_ne!(a["canary"], c["canary"]);
    // The weight follows the traffic change at second 200.
    let can = arr(&a, "canary");
    assert_eq!(can[19]["weight"], 10.0);
    assert_eq!(can[20]["weight"], 40.0);
}

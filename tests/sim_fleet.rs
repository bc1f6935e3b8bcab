//! The built-in fleet world (assets/scenarios/fleet.toml): 200 generated bots, one with
//! 10,000 versions, and operations already running at second 0. The simulator runs paused
//! in-process; every wait is a jump of its clock.

mod common;

use std::collections::HashSet;
use std::path::Path;

use serde_json::{Value, json};

use common::*;
use relcon::domain::VersionStatus;
use relcon::sim::SimConfig;
use relcon::sim::scenario::Scenario;

const BIG: &str = "fleet-10k";

async fn fleet() -> Sim {
    start_with(SimConfig {
        scenario: Some("fleet".into()),
        ..paused()
    })
    .await
}

fn items(v: &Value) -> Vec<Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

/// One page of a bot's versions: (total, ids).
async fn page(sim: &Sim, bot: &str, page: usize, size: usize) -> (u64, Vec<Value>) {
    let r = sim
        .get(
            &format!("/api/v1/bots/{bot}/versions?page={page}&size={size}"),
            API_KEY,
        )
        .await;
    let body = r.expect(200);
    assert_eq!(body["page"], json!(page));
    (
        body["total"].as_u64().expect("total"),
        body["data"].as_array().cloned().unwrap_or_default(),
    )
}

#[tokio::test]
async fn the_fleet_world_loads_by_name_with_200_bots() {
    let sim = fleet().await;
    let r = sim.get("/api/v1/bots", API_KEY).await;
    let bots = items(r.expect(200));
    assert_eq!(bots.len(), 200, "200 bots");
    let ids: HashSet<&str> = bots.iter().filter_map(|b| b["id"].as_str()).collect();
    assert_eq!(ids.len(), 200, "unique ids");
    for id in ["fleet-001", "fleet-017", "fleet-121", "fleet-199", BIG] {
        assert!(ids.contains(id), "{id}");
    }
    for b in &bots {
        let id = b["id"].as_str().unwrap();
        assert!(
            b["testConversation"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{id} has a test conversation"
        );
        let envs: Vec<&str> = b["environments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["environmentId"].as_str().unwrap())
            .collect();
        assert_eq!(
            envs,
            ["env-prod-blue", "env-prod-green", "env-staging"],
            "{id}"
        );
        let weights: Vec<f64> = b["environments"]
            .as_array()
            .unwrap()
            .iter()
            .take(2)
            .map(|e| e["trafficWeight"].as_f64().unwrap())
            .collect();
        assert!(
            weights == [100.0, 0.0] || weights == [0.0, 100.0],
            "{id}: blue/green {weights:?}"
        );
    }
    // Some bots are live on blue, others on green.
    let on_blue = bots
        .iter()
        .filter(|b| b["environments"][0]["trafficWeight"] == json!(100.0))
        .count();
    assert!((40..=160).contains(&on_blue), "{on_blue} of 200 on blue");

    // Every bot's newest version is a candidate: PUBLISHED and live nowhere; the two
    // below it are live in production.
    for id in ["fleet-001", "fleet-058", "fleet-199", BIG] {
        let (total, newest) = page(&sim, id, 1, 3).await;
        assert!(total >= 40, "{id}: {total} versions");
        assert_eq!(newest[0]["status"], "PUBLISHED", "{id}");
        assert_eq!(newest[0]["liveIn"], json!([]), "{id}");
        let live: Vec<&Value> = newest[1..]
            .iter()
            .flat_map(|v| v["liveIn"].as_array().unwrap())
            .collect();
        assert_eq!(
            live.len(),
            3,
            "{id}: blue, green and staging serve the two before it"
        );
    }
}

#[test]
fn the_fleet_is_generated_the_same_way_every_time() {
    let a = Scenario::load(Path::new("fleet")).expect("the fleet world parses");
    let b = Scenario::load(Path::new("fleet")).expect("the fleet world parses");
    assert_eq!(a.bots.len(), 200);
    assert_eq!(
        format!("{:?}", a.bots),
        format!("{:?}", b.bots),
        "same seed, same bots"
    );
    let mut cpm: Vec<f64> = a.bots.iter().map(|b| b.cpm).collect();
    cpm.sort_by(f64::total_cmp);
    assert!(cpm[0] >= 20.0 && cpm[199] <= 1500.0, "{cpm:?}");
    assert!(cpm[100] < 400.0, "most bots are small: median {}", cpm[100]);
    assert!(cpm[199] > 1000.0, "and some are busy: {}", cpm[199]);
    for bot in &a.bots {
        let n = bot.history.as_ref().map_or(0, |h| h.count) as usize + bot.versions.len();
        if bot.id == BIG {
            assert_eq!(n, 10_000);
        } else {
            assert!((40..=60).contains(&n), "{}: {n} versions", bot.id);
        }
        assert!(
            a.nlu_models
                .iter()
                .any(|m| m.id == bot.nlu_model && m.bot == bot.id),
            "{}: its NLU model",
            bot.id
        );
        let candidate = bot.versions.last().unwrap();
        assert_eq!(candidate.status, VersionStatus::Published);
        assert_eq!(
            candidate.regression.is_some(),
            bot.id == "fleet-017" || bot.id == "fleet-121",
            "{}: the regressing candidates",
            bot.id
        );
    }
    // Another seed gives another fleet with the same ids.
    let text = relcon::sim::scenario::FLEET_SCENARIO.replace("seed = 2024", "seed = 7");
    let c = Scenario::parse(&text, "fleet, seed 7").unwrap();
    assert_ne!(format!("{:?}", a.bots), format!("{:?}", c.bots));
    let ids = |s: &Scenario| s.bots.iter().map(|b| b.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&a), ids(&c));
}

#[tokio::test]
async fn the_big_bot_pages_its_10000_versions_newest_first() {
    let sim = fleet().await;
    let mut seen = HashSet::new();
    let mut last_created = String::from("9999");
    let mut expected = 9999i64;
    // Every page of 200, then a few pages of other sizes and past the end.
    for p in 1..=50 {
        let (total, data) = page(&sim, BIG, p, 200).await;
        assert_eq!(total, 10_000);
        assert_eq!(data.len(), 200, "page {p}");
        for v in &data {
            let id = v["id"].as_str().unwrap().to_string();
            assert_eq!(
                id,
                format!("v1.{expected}.0"),
                "page {p}: no gap, no repeat"
            );
            expected -= 1;
            let created = v["createdAt"].as_str().unwrap().to_string();
            assert!(created < last_created, "{id}: older than the one before");
            last_created = created;
            assert!(seen.insert(id));
        }
    }
    assert_eq!(seen.len(), 10_000);
    // One version every 2.4 hours: the oldest is about 1,000 days old.
    let date = |s: &str| chrono::DateTime::parse_from_rfc3339(s).expect("an RFC 3339 date");
    let now = date(sim.clock().await["now"].as_str().unwrap());
    let age = (now - date(&last_created)).num_days();
    assert!((990..=1010).contains(&age), "the oldest is {age} days old");
    let (_, first) = page(&sim, BIG, 1, 50).await;
    assert_eq!(first.len(), 50);
    assert_eq!(first[0]["id"], "v1.9999.0");
    assert_eq!(first[49]["id"], "v1.9950.0");
    let (_, second) = page(&sim, BIG, 2, 50).await;
    assert_eq!(second[0]["id"], "v1.9949.0");
    let (_, last) = page(&sim, BIG, 200, 50).await;
    assert_eq!(last.len(), 50);
    assert_eq!(
        last[49]["id"], "v1.0.0",
        "the last page ends with the oldest"
    );
    assert_eq!(last[49]["status"], "ARCHIVED");
    let (_, partial) = page(&sim, BIG, 34, 300).await;
    assert_eq!(partial.len(), 200, "size is capped at 200");
    let (total, past) = page(&sim, BIG, 201, 50).await;
    assert_eq!((total, past.len()), (10_000, 0), "past the end: empty");
}

#[tokio::test]
async fn the_scenarios_operations_are_running_at_start() {
    let sim = fleet().await;
    let r = sim.get("/api/v1/operations?active=true", API_KEY).await;
    let ops = items(r.expect(200));
    let mut running: Vec<(String, String, String)> = ops
        .iter()
        .map(|o| {
            (
                o["kind"].as_str().unwrap().to_string(),
                o["botId"].as_str().unwrap().to_string(),
                o["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    running.sort();
    let want = |k: &str, b: &str, s: &str| (k.to_string(), b.to_string(), s.to_string());
    assert_eq!(
        running,
        [
            want("canary", "fleet-007", "running"),
            want("canary", "fleet-017", "running"),
            want("canary", "fleet-042", "running"),
            want("deployment", "fleet-003", "compiling"),
            want("deployment", BIG, "validating"),
        ],
        "{}",
        r.text
    );
    for o in &ops {
        assert_eq!(o["orphaned"], false, "{o}");
    }
    // Each canary is at its step, its stable version the one live where it runs.
    let r = sim.get("/api/v1/canaries?active=true", API_KEY).await;
    let mut weights: Vec<(String, f64, usize)> = items(r.expect(200))
        .iter()
        .map(|c| {
            (
                c["botId"].as_str().unwrap().to_string(),
                c["canaryWeight"].as_f64().unwrap(),
                c["weightHistory"].as_array().unwrap().len(),
            )
        })
        .collect();
    weights.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        weights,
        [
            ("fleet-007".to_string(), 5.0, 1),
            ("fleet-017".to_string(), 50.0, 2),
            ("fleet-042".to_string(), 25.0, 3),
        ]
    );
    let bot = sim.get("/api/v1/bots/fleet-042", API_KEY).await;
    assert_eq!(bot.expect(200)["activeOperation"]["kind"], "canary");

    // The deployments finish on the scenario's timing; the canaries hold until someone
    // promotes or rolls them back.
    sim.advance(240.0).await;
    let r = sim.get("/api/v1/operations", API_KEY).await;
    let ops = items(r.expect(200));
    let state = |bot: &str, kind: &str| {
        ops.iter()
            .find(|o| o["botId"] == bot && o["kind"] == kind)
            .map(|o| (o["state"].clone(), o["active"].clone()))
            .unwrap()
    };
    assert_eq!(
        state("fleet-003", "deployment"),
        (json!("completed"), json!(false))
    );
    assert_eq!(state(BIG, "deployment"), (json!("completed"), json!(false)));
    for bot in ["fleet-007", "fleet-017", "fleet-042"] {
        assert_eq!(
            state(bot, "canary"),
            (json!("running"), json!(true)),
            "{bot}"
        );
    }
    let (_, newest) = page(&sim, BIG, 1, 1).await;
    assert_eq!(
        newest[0]["liveIn"],
        json!(["env-prod-green"]),
        "the big bot's candidate went live on its idle colour"
    );
}

#[tokio::test]
async fn a_deploy_and_a_canary_start_on_generated_bots() {
    let sim = fleet().await;
    let bot = "fleet-100";
    let detail = sim.get(&format!("/api/v1/bots/{bot}"), API_KEY).await;
    let idle = detail.expect(200)["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["stage"] == "PRODUCTION" && e["trafficWeight"] == json!(0.0))
        .map(|e| e["environmentId"].as_str().unwrap().to_string())
        .expect("an idle colour");
    let (_, newest) = page(&sim, bot, 1, 1).await;
    let (candidate, nlu) = (
        newest[0]["id"].as_str().unwrap().to_string(),
        newest[0]["nluModelId"].as_str().unwrap().to_string(),
    );
    let r = sim
        .post(
            &format!("/v1/bots/{bot}/deployments"),
            API_KEY,
            &json!({"targetEnvironmentId": idle, "nluModelId": nlu, "versionId": candidate}),
        )
        .await;
    let body = r.expect(202);
    assert_eq!(body["versionId"], candidate.as_str());
    assert_eq!(
        body["estimatedCompletionSeconds"], 250,
        "the fleet's deploy timing"
    );
    let id = body["deploymentId"].as_str().unwrap().to_string();
    sim.advance(251.0).await;
    assert_eq!(sim.v1_status(API_KEY, &id).await["status"], "completed");
    let (_, newest) = page(&sim, bot, 1, 1).await;
    assert_eq!(newest[0]["liveIn"], json!([idle]));

    // A canary on another generated bot, and none on a bot whose canary is running.
    let other = "fleet-150";
    let detail = sim.get(&format!("/api/v1/bots/{other}"), API_KEY).await;
    let busiest = detail.expect(200)["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["trafficWeight"] == json!(100.0))
        .map(|e| e["environmentId"].as_str().unwrap().to_string())
        .unwrap();
    let (_, newest) = page(&sim, other, 1, 1).await;
    let version = newest[0]["id"].as_str().unwrap();
    let r = start_canary(
        &sim,
        API_KEY,
        &canary_payload(other, &busiest, version, 90.0, 10.0, 50.0),
    )
    .await;
    assert_eq!(r.expect(201)["state"], "running", "{}", r.text);
    let r = start_canary(
        &sim,
        API_KEY,
        &canary_payload("fleet-007", "env-prod-blue", "v1.0.0", 90.0, 10.0, 50.0),
    )
    .await;
    assert!(r.status == 409 || r.status == 422, "{}", r.text);
    let test = sim
        .post(
            &format!("/api/v1/bots/{other}/test"),
            API_KEY,
            &json!({"message": detail.json["testConversation"]["message"]}),
        )
        .await;
    assert_eq!(
        test.expect(200)["data"]["intent"]["name"],
        detail.json["testConversation"]["expectedIntent"],
        "{}",
        test.text
    );
}

/// A scenario with one fleet of `fleet` (TOML lines) and `extra` after it.
fn with_fleet(fleet: &str, extra: &str) -> String {
    format!(
        "name = \"t\"\nseed = 1\n\
         [[environments]]\nid = \"blue\"\nname = \"Blue\"\nstage = \"PRODUCTION\"\n\
         [[environments]]\nid = \"green\"\nname = \"Green\"\nstage = \"PRODUCTION\"\n\
         [[fleets]]\n{fleet}\n\
         [[fleets.kinds]]\nname = \"Orders\"\ntest_message = \"Where is my order?\"\n\
         expected_intent = \"order\"\nintents = [{{ keyword = \"order\", intent = \"order\", confidence = 0.9 }}]\n\
         {extra}"
    )
}

const GOOD: &str = "count = 5\nid = \"b-{n:02}\"\nname = \"Bot {n}\"\n\
    cpm = { min = 10, max = 100 }\nversions = { min = 5, max = 8 }\n\
    environments = [{ env = \"blue\", live = \"stable\", weight = 100 }, { env = \"green\", live = \"previous\" }]";

#[test]
fn a_bad_fleet_entry_says_what_is_wrong_and_what_to_do() {
    let ok = Scenario::parse(&with_fleet(GOOD, ""), "t.toml").expect("the good fleet parses");
    let ids: Vec<&str> = ok.bots.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(ids, ["b-01", "b-02", "b-03", "b-04", "b-05"]);

    let cases: &[(&str, &str, &[&str])] = &[
        (
            "id = \"b-{n:02}\"",
            "id = \"b\"",
            &["fleets[0]", "has no {n}", "put {n} or {n:03} in it"],
        ),
        (
            "name = \"Bot {n}\"",
            "name = \"Bot {number}\"",
            &[
                "fleets[0]",
                "name",
                "unknown placeholder '{number}'",
                "use {n}, {kind}",
            ],
        ),
        (
            "versions = { min = 5, max = 8 }",
            "versions = { min = 2, max = 8 }",
            &[
                "versions.min 2 is below 3",
                "a previous, a stable and a candidate",
            ],
        ),
        (
            "cpm = { min = 10, max = 100 }",
            "cpm = { min = 100, max = 10 }",
            &["cpm.min 100 is above cpm.max 10", "swap them"],
        ),
        (
            "cpm = { min = 10, max = 100 }",
            "cpm = { min = 10, most = 100 }",
            &["line 15", "unknown field `most`", "expected `min` or `max`"],
        ),
        (
            "count = 5",
            "count = 5\ncolour = \"blue\"",
            &["line 13", "unknown field `colour`"],
        ),
        (
            "live = \"stable\"",
            "live = \"newest\"",
            &[
                "unknown variant `newest`",
                "candidate",
                "stable",
                "previous",
            ],
        ),
        (
            "env = \"green\"",
            "env = \"purple\"",
            &[
                "unknown environment 'purple'",
                "declare it under [[environments]]",
            ],
        ),
        (
            "count = 5",
            "count = 5\nregressing = [9]",
            &["regressing names bot 9", "numbered 1..=5"],
        ),
        (
            "count = 5",
            "count = 5\nregressing = [2]",
            &["regressing names bots but there is no regression"],
        ),
        (
            "versions = { min = 5, max = 8 }",
            "versions = { min = 10000, max = 10000 }",
            &["10000 versions with spacing_days = 7", "lower spacing_days"],
        ),
    ];
    for (from, to, want) in cases {
        let text = with_fleet(&GOOD.replace(from, to), "");
        let err = Scenario::parse(&text, "t.toml").expect_err(to);
        for w in *want {
            assert!(err.contains(w), "{to}: '{w}' not in: {err}");
        }
    }
    let err = Scenario::parse(
        &with_fleet(GOOD, "").replace("[[fleets.kinds]]", "[[bots]]"),
        "t",
    )
    .expect_err("no kinds");
    assert!(
        err.contains("missing field") || err.contains("kinds"),
        "{err}"
    );

    // Operations: named bots, canary steps before the start, one operation per bot.
    let ops: &[(&str, &[&str])] = &[
        (
            "[[operations]]\nkind = \"deploy\"\nbot = \"b-09\"\n",
            &["operations[0] (deploy on b-09)", "there is no bot 'b-09'"],
        ),
        (
            "[[operations]]\nkind = \"canary\"\nbot = \"b-01\"\n",
            &["a canary needs weights = [...]"],
        ),
        (
            "[[operations]]\nkind = \"canary\"\nbot = \"b-01\"\nweights = [5, 10]\n",
            &["last step would come at second 300", "at = -300 or less"],
        ),
        (
            "[[operations]]\nkind = \"canary\"\nbot = \"b-01\"\nweights = [5]\n\
             [[operations]]\nkind = \"deploy\"\nbot = \"b-01\"\nat = -10\n",
            &[
                "operations[1] (deploy on b-01)",
                "already has a canary in progress",
            ],
        ),
        (
            "[[operations]]\nkind = \"deploy\"\nbot = \"b-01\"\nversion = \"v1.0.0\"\nenv = \"blue\"\n",
            &[
                "operations[0]",
                "v1.0.0 is ARCHIVED",
                "only PUBLISHED versions",
            ],
        ),
        (
            "[[operations]]\nkind = \"rollout\"\nbot = \"b-01\"\n",
            &["unknown variant `rollout`", "deploy", "canary"],
        ),
    ];
    for (extra, want) in ops {
        let err = Scenario::parse(&with_fleet(GOOD, extra), "t.toml").expect_err(extra);
        for w in *want {
            assert!(err.contains(w), "{extra}: '{w}' not in: {err}");
        }
    }
    let started = Scenario::parse(
        &with_fleet(
            GOOD,
            "[[operations]]\nkind = \"canary\"\nbot = \"b-02\"\nat = -600\nweights = [5, 20]\n\
             [[operations]]\nkind = \"deploy\"\nbot = \"b-03\"\n",
        ),
        "t.toml",
    );
    assert!(started.is_ok(), "{started:?}");
}

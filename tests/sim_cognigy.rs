//! The simulator's Cognigy.AI dialect (`relcon sim --dialect cognigy`): the platform's REST
//! API v2.0 shapes over the one world, read with relcon's own wire types.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use relcon::cognigy::{
    CreatedTask, Endpoint, EndpointIndexItem, List, Problem, Project, Snapshot, Task, TaskStatus,
    code,
};
use relcon::sim::{self, Dialect, SimConfig, SimHandle};

const KEY: &str = "demo-key";
const BOT: &str = "bot-customer-service-v2";
const BLUE: &str = "env-prod-blue";
/// Simulator seconds per real second: a snapshot task (12 simulator seconds) takes 60 ms.
const FAST: f64 = 200.0;
/// How long a test waits for a task, in real time, before it calls it a hang.
const DEADLINE: Duration = Duration::from_secs(20);

async fn start(speed: f64) -> SimHandle {
    sim::start(SimConfig {
        port: 0,
        speed,
        dialect: Dialect::Cognigy,
        ..SimConfig::default()
    })
    .await
    .expect("the simulator starts")
}

struct Reply {
    status: StatusCode,
    content_type: String,
    body: Value,
}

impl Reply {
    fn ok<T: DeserializeOwned>(&self, status: StatusCode) -> T {
        assert_eq!(self.status, status, "{}", self.body);
        serde_json::from_value(self.body.clone()).expect("the body has the platform's shape")
    }

    /// The platform's problem document, with its status and Cognigy code.
    fn problem(&self, status: StatusCode, cognigy_code: i64) -> Problem {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.content_type, "application/problem+json");
        let p: Problem = serde_json::from_value(self.body.clone()).expect("a problem document");
        assert_eq!(p.kind, "about:blank");
        assert_eq!(p.status, status.as_u16());
        assert_eq!(
            p.code.as_ref().and_then(|c| c.as_number()),
            Some(cognigy_code)
        );
        assert!(
            p.trace_id
                .as_deref()
                .is_some_and(|t| t.starts_with("api--")),
            "{}",
            self.body
        );
        p
    }
}

async fn call(sim: &SimHandle, method: Method, path: &str, body: Option<Value>) -> Reply {
    call_with(sim, method, path, body, Some(KEY)).await
}

async fn call_with(
    sim: &SimHandle,
    method: Method,
    path: &str,
    body: Option<Value>,
    key: Option<&str>,
) -> Reply {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", sim.url()));
    if let Some(k) = key {
        req = req.header("X-API-Key", k);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("the simulator answers");
    let status = resp.status();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        content_type,
        body,
    }
}

async fn project_named(sim: &SimHandle, name: &str) -> Project {
    let l: List<Project> = call(sim, Method::GET, "/new/v2.0/projects?limit=100", None)
        .await
        .ok(StatusCode::OK);
    l.items
        .into_iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no project {name}"))
}

async fn snapshots(sim: &SimHandle, project: &str) -> List<Snapshot> {
    call(
        sim,
        Method::GET,
        &format!("/new/v2.0/snapshots?projectId={project}&limit=100"),
        None,
    )
    .await
    .ok(StatusCode::OK)
}

/// The endpoint of the Customer Service bot's blue production environment.
async fn blue_endpoint(sim: &SimHandle, project: &str) -> Endpoint {
    let l: List<EndpointIndexItem> = call(
        sim,
        Method::GET,
        &format!("/new/v2.0/endpoints?projectId={project}"),
        None,
    )
    .await
    .ok(StatusCode::OK);
    let item = l
        .items
        .iter()
        .find(|e| e.name.contains("Production (blue)"))
        .expect("an endpoint per environment");
    call(
        sim,
        Method::GET,
        &format!("/new/v2.0/endpoints/{}", item.id),
        None,
    )
    .await
    .ok(StatusCode::OK)
}

async fn create_snapshot(sim: &SimHandle, project: &str, name: &str) -> Reply {
    call(
        sim,
        Method::POST,
        "/new/v2.0/snapshots",
        Some(json!({"projectId": project, "name": name, "description": "made by a test"})),
    )
    .await
}

/// Poll a task until it ends (or the deadline passes); every status seen, in order.
async fn poll_task(sim: &SimHandle, id: &str) -> Vec<Task> {
    let started = Instant::now();
    let mut seen: Vec<Task> = Vec::new();
    loop {
        let t: Task = call(sim, Method::GET, &format!("/new/v2.0/tasks/{id}"), None)
            .await
            .ok(StatusCode::OK);
        let end = t.status.is_terminal();
        seen.push(t);
        if end {
            return seen;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "task {id} did not end: {:?}",
            seen.last()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn rank(s: TaskStatus) -> u8 {
    match s {
        TaskStatus::Queued => 0,
        TaskStatus::Active => 1,
        _ => 2,
    }
}

/// The version the bot's environment serves now, as the world itself says.
fn world_live(sim: &SimHandle, bot: &str, env: &str) -> Option<String> {
    let g = sim.app.lock();
    g.world.bots[bot]
        .binding(env)
        .and_then(|b| b.live.current().clone())
}

#[tokio::test]
async fn projects_are_the_worlds_bots_in_pages() {
    let sim = start(FAST).await;
    let bots = sim.app.lock().world.bots.len();
    let all: List<Project> = call(&sim, Method::GET, "/new/v2.0/projects", None)
        .await
        .ok(StatusCode::OK);
    assert_eq!(all.total as usize, bots);
    assert_eq!(all.items.len(), bots);
    assert!(all.items.iter().any(|p| p.name == "Customer Service"));
    assert!(all.items.iter().all(|p| p.id.len() == 24), "ObjectIds");
    assert_eq!(all.next_cursor, None);

    // Two per page: the cursor leads to the next two, and back.
    let first: List<Project> = call(&sim, Method::GET, "/new/v2.0/projects?limit=2", None)
        .await
        .ok(StatusCode::OK);
    assert_eq!(first.items.len(), 2);
    assert_eq!(first.previous_cursor, None);
    let cursor = first.next_cursor.clone().expect("more pages");
    let second: List<Project> = call(
        &sim,
        Method::GET,
        &format!("/new/v2.0/projects?limit=2&next={cursor}"),
        None,
    )
    .await
    .ok(StatusCode::OK);
    assert_eq!(second.items[0].id, all.items[2].id);
    assert_eq!(
        second.previous_cursor.as_deref(),
        Some(all.items[0].id.as_str())
    );
    let skipped: List<Project> = call(&sim, Method::GET, "/new/v2.0/projects?limit=2&skip=2", None)
        .await
        .ok(StatusCode::OK);
    assert_eq!(skipped.items, second.items, "skip and cursor agree");

    // No page is larger than 100.
    let big: List<Project> = call(&sim, Method::GET, "/new/v2.0/projects?limit=1000", None)
        .await
        .ok(StatusCode::OK);
    assert!(big.items.len() <= 100);

    let one: Project = call(
        &sim,
        Method::GET,
        &format!("/new/v2.0/projects/{}", all.items[0].id),
        None,
    )
    .await
    .ok(StatusCode::OK);
    assert_eq!(one, all.items[0]);
}

#[tokio::test]
async fn a_created_snapshot_runs_its_task_to_done_and_is_listed_first() {
    let sim = start(FAST).await;
    let project = project_named(&sim, "Customer Service").await;
    let before = snapshots(&sim, &project.id).await;

    let created: CreatedTask = create_snapshot(&sim, &project.id, "release-test-1")
        .await
        .ok(StatusCode::ACCEPTED);
    assert_eq!(created.status, TaskStatus::Queued);
    assert_eq!(created.kind, "createSnapshot");
    assert_eq!(created.parameters["projectId"], project.id.as_str());

    let seen = poll_task(&sim, &created.id).await;
    let last = seen.last().unwrap();
    assert_eq!(last.status, TaskStatus::Done, "{last:?}");
    assert_eq!(last.current_step, last.total_step);
    assert!(last.last_finished_at.is_some());
    assert!(
        seen.windows(2)
            .all(|w| rank(w[0].status) <= rank(w[1].status)
                && w[0].current_step <= w[1].current_step),
        "status and steps never go back: {seen:?}"
    );

    let after = snapshots(&sim, &project.id).await;
    assert_eq!(after.total, before.total + 1);
    assert_eq!(after.items[0].name, "release-test-1", "newest first");
    assert_eq!(after.items[0].description, "made by a test");
    let one: Snapshot = call(
        &sim,
        Method::GET,
        &format!("/new/v2.0/snapshots/{}", after.items[0].id),
        None,
    )
    .await
    .ok(StatusCode::OK);
    assert_eq!(one.name, "release-test-1");
    // The world has the new version too.
    let g = sim.app.lock();
    assert!(
        g.world.bots[BOT]
            .versions
            .iter()
            .any(|v| v.label == "release-test-1")
    );
}

#[tokio::test]
async fn a_task_advances_with_the_simulator_clock() {
    // Paused: the task moves only when the clock does.
    let sim = start(0.0).await;
    let project = project_named(&sim, "Customer Service").await;
    let created: CreatedTask = create_snapshot(&sim, &project.id, "release-clock")
        .await
        .ok(StatusCode::ACCEPTED);
    let read = |sim: &SimHandle| {
        let path = format!("/new/v2.0/tasks/{}", created.id);
        let sim_url = sim.url();
        async move {
            let r = reqwest::Client::new()
                .get(format!("{sim_url}{path}"))
                .header("X-API-Key", KEY)
                .send()
                .await
                .unwrap();
            r.json::<Task>().await.unwrap()
        }
    };
    assert_eq!(read(&sim).await.status, TaskStatus::Queued);
    sim.app.clock.advance(3.0);
    let t = read(&sim).await;
    assert_eq!(t.status, TaskStatus::Active);
    let early = t.current_step;
    sim.app.clock.advance(5.0);
    let t = read(&sim).await;
    assert_eq!(t.status, TaskStatus::Active);
    assert!(t.current_step > early, "{} after {early}", t.current_step);
    assert!(t.current_step < t.total_step);
    sim.app.clock.advance(10.0);
    assert_eq!(read(&sim).await.status, TaskStatus::Done);
}

#[tokio::test]
async fn the_eleventh_snapshot_is_refused_with_a_problem() {
    let sim = start(FAST).await;
    let project = project_named(&sim, "Customer Service").await;
    let have = snapshots(&sim, &project.id).await.total as usize;
    assert!(have < 10, "the demo bot starts below the limit ({have})");

    let mut tasks = Vec::new();
    for i in have..10 {
        let t: CreatedTask = create_snapshot(&sim, &project.id, &format!("release-fill-{i}"))
            .await
            .ok(StatusCode::ACCEPTED);
        tasks.push(t.id);
    }
    // Tasks still running count: the limit holds before they end ...
    let refused = create_snapshot(&sim, &project.id, "release-one-too-many").await;
    let p = refused.problem(StatusCode::CONFLICT, code::CONFLICT);
    assert_eq!(p.instance.as_deref(), Some("/new/v2.0/snapshots"));
    assert!(p.detail.contains("(10)"), "{}", p.detail);
    for t in &tasks {
        assert_eq!(
            poll_task(&sim, t).await.last().unwrap().status,
            TaskStatus::Done
        );
    }
    assert_eq!(snapshots(&sim, &project.id).await.total, 10);
    // ... and after.
    create_snapshot(&sim, &project.id, "release-one-too-many")
        .await
        .problem(StatusCode::CONFLICT, code::CONFLICT);
    // Another project has its own ten.
    let other = project_named(&sim, "Order Assistant").await;
    let _: CreatedTask = create_snapshot(&sim, &other.id, "release-elsewhere")
        .await
        .ok(StatusCode::ACCEPTED);
}

#[tokio::test]
async fn patching_an_endpoint_to_an_older_snapshot_switches_the_live_version() {
    let sim = start(FAST).await;
    let project = project_named(&sim, "Customer Service").await;
    let endpoint = blue_endpoint(&sim, &project.id).await;
    let list = snapshots(&sim, &project.id).await;
    let served = list
        .items
        .iter()
        .find(|s| Some(&s.id) == endpoint.entrypoint.as_ref())
        .expect("the endpoint serves one of the project's snapshots");
    assert_eq!(served.name, "2.3.0");
    assert!(endpoint.active);
    assert_eq!(world_live(&sim, BOT, BLUE).as_deref(), Some("v2.3.0"));

    let older = list
        .items
        .iter()
        .find(|s| s.name == "2.1.0")
        .expect("an older snapshot");
    let r = call(
        &sim,
        Method::PATCH,
        &format!("/new/v2.0/endpoints/{}", endpoint.id),
        Some(json!({"entrypoint": older.id, "flowId": endpoint.flow_id, "localeId": endpoint.locale_id, "active": true})),
    )
    .await;
    let empty: Value = r.ok(StatusCode::OK);
    assert_eq!(empty, json!({}));

    let now: Endpoint = call(
        &sim,
        Method::GET,
        &format!("/new/v2.0/endpoints/{}", endpoint.id),
        None,
    )
    .await
    .ok(StatusCode::OK);
    assert_eq!(now.entrypoint.as_deref(), Some(older.id.as_str()));
    assert_eq!(world_live(&sim, BOT, BLUE).as_deref(), Some("v2.1.0"));
    {
        // The switch drains the sessions of the version it replaced, as the world's own do.
        let g = sim.app.lock();
        assert!(
            g.world
                .drains
                .iter()
                .any(|d| d.bot == BOT && d.env == BLUE && d.version.as_deref() == Some("v2.3.0")),
            "{:?}",
            g.world.drains
        );
    }

    // A field the platform does not let one patch is refused.
    call(
        &sim,
        Method::PATCH,
        &format!("/new/v2.0/endpoints/{}", endpoint.id),
        Some(json!({"URLToken": "x"})),
    )
    .await
    .problem(StatusCode::BAD_REQUEST, code::INVALID_ARGUMENT);
    // A snapshot of another project is not this endpoint's to serve.
    let other = project_named(&sim, "Order Assistant").await;
    let foreign = snapshots(&sim, &other.id).await.items[0].id.clone();
    call(
        &sim,
        Method::PATCH,
        &format!("/new/v2.0/endpoints/{}", endpoint.id),
        Some(json!({"entrypoint": foreign})),
    )
    .await
    .problem(StatusCode::BAD_REQUEST, code::INVALID_ARGUMENT);
    assert_eq!(world_live(&sim, BOT, BLUE).as_deref(), Some("v2.1.0"));
}

#[tokio::test]
async fn deleting_a_snapshot_an_endpoint_serves_is_refused() {
    let sim = start(FAST).await;
    let project = project_named(&sim, "Customer Service").await;
    let endpoint = blue_endpoint(&sim, &project.id).await;
    let served = endpoint.entrypoint.clone().unwrap();
    let r = call(
        &sim,
        Method::DELETE,
        &format!("/new/v2.0/snapshots/{served}"),
        None,
    )
    .await;
    let p = r.problem(StatusCode::CONFLICT, code::CONFLICT);
    assert!(p.detail.contains(&endpoint.id), "{}", p.detail);
    let list = snapshots(&sim, &project.id).await;
    assert!(list.items.iter().any(|s| s.id == served), "still there");

    // One no endpoint serves goes, once its task is done.
    let unused = list
        .items
        .iter()
        .find(|s| s.name == "2.1.0")
        .unwrap()
        .id
        .clone();
    let t: CreatedTask = call(
        &sim,
        Method::DELETE,
        &format!("/new/v2.0/snapshots/{unused}"),
        None,
    )
    .await
    .ok(StatusCode::ACCEPTED);
    assert_eq!(t.kind, "deleteSnapshot");
    assert_eq!(
        poll_task(&sim, &t.id).await.last().unwrap().status,
        TaskStatus::Done
    );
    let after = snapshots(&sim, &project.id).await;
    assert_eq!(after.total, list.total - 1);
    assert!(after.items.iter().all(|s| s.id != unused));
    call(
        &sim,
        Method::GET,
        &format!("/new/v2.0/snapshots/{unused}"),
        None,
    )
    .await
    .problem(StatusCode::NOT_FOUND, code::RESOURCE_NOT_FOUND);
}

#[tokio::test]
async fn a_wrong_or_missing_key_gets_a_401_problem() {
    let sim = start(FAST).await;
    for key in [None, Some("not-the-key")] {
        call_with(&sim, Method::GET, "/new/v2.0/projects", None, key)
            .await
            .problem(StatusCode::UNAUTHORIZED, code::UNAUTHORIZED);
    }
    call_with(
        &sim,
        Method::GET,
        "/new/v2.0/projects?api_key=not-the-key",
        None,
        None,
    )
    .await
    .problem(StatusCode::UNAUTHORIZED, code::UNAUTHORIZED);
    // The Release API's Bearer header is not how this platform authenticates.
    let r = reqwest::Client::new()
        .get(format!("{}/new/v2.0/projects", sim.url()))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // The key as a query parameter works.
    let _: List<Project> = call_with(
        &sim,
        Method::GET,
        &format!("/new/v2.0/projects?api_key={KEY}"),
        None,
        None,
    )
    .await
    .ok(StatusCode::OK);
}

#[tokio::test]
async fn unknown_ids_get_404_problems() {
    let sim = start(FAST).await;
    let missing = "0123456789abcdef01234567";
    for resource in ["projects", "snapshots", "tasks", "endpoints"] {
        let path = format!("/new/v2.0/{resource}/{missing}");
        let p = call(&sim, Method::GET, &path, None)
            .await
            .problem(StatusCode::NOT_FOUND, code::RESOURCE_NOT_FOUND);
        assert_eq!(p.instance.as_deref(), Some(path.as_str()));
        assert!(p.detail.contains(missing), "{}", p.detail);
    }
    call(
        &sim,
        Method::PATCH,
        &format!("/new/v2.0/endpoints/{missing}"),
        Some(json!({"active": true})),
    )
    .await
    .problem(StatusCode::NOT_FOUND, code::RESOURCE_NOT_FOUND);
    call(
        &sim,
        Method::DELETE,
        &format!("/new/v2.0/snapshots/{missing}"),
        None,
    )
    .await
    .problem(StatusCode::NOT_FOUND, code::RESOURCE_NOT_FOUND);
    create_snapshot(&sim, missing, "x")
        .await
        .problem(StatusCode::NOT_FOUND, code::RESOURCE_NOT_FOUND);
    // The Release API is not served in this dialect.
    call(&sim, Method::GET, "/api/v1/bots", None)
        .await
        .problem(StatusCode::NOT_FOUND, code::RESOURCE_NOT_FOUND);
}

#[tokio::test]
async fn the_default_dialect_is_the_release_api() {
    let sim = sim::start(SimConfig {
        port: 0,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let bots = client
        .get(format!("{}/api/v1/bots", sim.url()))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(bots.status(), StatusCode::OK);
    let cognigy = client
        .get(format!("{}/new/v2.0/projects", sim.url()))
        .header("X-API-Key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(cognigy.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn injected_faults_answer_as_the_platforms_problems() {
    let mut faults = relcon::sim::faults::Faults::default();
    faults.set("errorRate=1").unwrap();
    let sim = sim::start(SimConfig {
        port: 0,
        speed: FAST,
        dialect: Dialect::Cognigy,
        faults,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let p = call(&sim, Method::GET, "/new/v2.0/projects", None)
        .await
        .problem(StatusCode::SERVICE_UNAVAILABLE, 503);
    assert_eq!(p.instance.as_deref(), Some("/new/v2.0/projects"));
    assert!(p.detail.contains("injected fault"), "{}", p.detail);
}

async fn odata(sim: &SimHandle, query: &str) -> (StatusCode, Value, Option<String>) {
    let resp = reqwest::Client::new()
        .get(format!("{}/v2.4/Analytics?{query}", sim.url()))
        .send()
        .await
        .expect("the simulator answers");
    let status = resp.status();
    let date = resp
        .headers()
        .get("date")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (status, resp.json().await.unwrap(), date)
}

fn count(v: &Value) -> u64 {
    v["@odata.count"]
        .as_u64()
        .expect("@odata.count with $count=true")
}

#[tokio::test]
async fn odata_counts_follow_the_filter_and_lag_behind_the_conversations() {
    let sim = start(1.0).await;
    sim.app.clock.set_speed(0.0);
    let project = project_named(&sim, "Customer Service").await;
    let blue = blue_endpoint(&sim, &project.id).await;
    let base = format!("apikey={KEY}&$count=true&$top=0");
    let scoped = |extra: &str| format!("{base}&$filter=projectId eq '{}'{extra}", project.id);
    let (status, all, date) = odata(&sim, &scoped("")).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert!(
        all["value"].as_array().unwrap().is_empty(),
        "$top=0 lists nothing"
    );
    let on_blue = count(
        &odata(
            &sim,
            &scoped(&format!(" and endpointUrlToken eq '{}'", blue.url_token)),
        )
        .await
        .1,
    );
    let on_live = count(
        &odata(
            &sim,
            &scoped(&format!(
                " and entrypoint eq '{}'",
                blue.entrypoint.clone().unwrap()
            )),
        )
        .await
        .1,
    );
    assert!(
        on_blue > 0 && on_blue < count(&all),
        "blue {on_blue} of {}",
        count(&all)
    );
    assert!(on_live > 0 && on_live <= count(&all));

    // The answer's Date is the simulator's clock; the last hour before it holds fewer
    // records than the whole history, and the records of the last minute are not in yet.
    let date = chrono::DateTime::parse_from_rfc2822(&date.expect("a Date header")).unwrap();
    let since = |secs: i64| {
        (date - chrono::Duration::seconds(secs))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let hour = count(
        &odata(
            &sim,
            &scoped(&format!(" and timestamp gt '{}'", since(3600))),
        )
        .await
        .1,
    );
    let minute = count(
        &odata(&sim, &scoped(&format!(" and timestamp gt '{}'", since(60))))
            .await
            .1,
    );
    assert!(hour > 0 && hour < count(&all), "hour {hour}");
    assert_eq!(
        minute, 0,
        "the service is a cache: the last minute has not arrived"
    );

    // Rows come newest first with the fields relcon joins on.
    let (_, page, _) = odata(
        &sim,
        &format!("apikey={KEY}&$top=2&$filter=projectId eq '{}'", project.id),
    )
    .await;
    let rows = page["value"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(
        page.get("@odata.count").is_none(),
        "no count without $count=true"
    );
    for r in rows {
        for f in [
            "id",
            "projectId",
            "entrypoint",
            "endpointUrlToken",
            "timestamp",
            "sessionId",
        ] {
            assert!(r.get(f).is_some(), "{f} in {r}");
        }
    }

    // A bad key, a filter the service does not know, an unknown collection.
    let (status, body, _) = odata(&sim, "apikey=wrong&$count=true").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body, _) = odata(&sim, &format!("apikey={KEY}&$filter=rating eq 1")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rating"),
        "{body}"
    );
    let resp = reqwest::get(format!("{}/v2.4/Nope?apikey={KEY}", sim.url()))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_rest_endpoint_answers_a_conversation_from_the_snapshot_it_serves() {
    let sim = start(1.0).await;
    let project = project_named(&sim, "Customer Service").await;
    let blue = blue_endpoint(&sim, &project.id).await;
    let path = format!("/{}", blue.url_token);
    let r = call_with(
        &sim,
        Method::POST,
        &path,
        Some(json!({"userId": "u1", "sessionId": "s1", "text": "I need help with my order"})),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"]["intent"], "order_support");
    assert_eq!(r.body["data"]["snapshotId"], json!(blue.entrypoint));
    assert_eq!(r.body["sessionId"], "s1");
    assert!(
        r.body["outputStack"][0]["text"]
            .as_str()
            .unwrap()
            .contains("order")
    );

    let r = call_with(&sim, Method::POST, &path, Some(json!({"text": "hi"})), None).await;
    r.problem(StatusCode::BAD_REQUEST, code::MISSING_ARGUMENT);
    let r = call_with(
        &sim,
        Method::POST,
        "/0000",
        Some(json!({"userId": "u", "sessionId": "s", "text": "hi"})),
        None,
    )
    .await;
    r.problem(StatusCode::NOT_FOUND, code::RESOURCE_NOT_FOUND);
}

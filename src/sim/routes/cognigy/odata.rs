//! `/v2.4/<Collection>`: the OData analytics service over the world's traffic, on the same
//! address as the REST API. The API key comes as the `apikey` query parameter (or the
//! `X-API-Key` header); only `GET` is served.
//!
//! `Analytics` (one record per user input) and `Sessions` (one per session) are served: each
//! simulated conversation is one session with one input. `$filter` takes `eq` on `projectId`,
//! `entrypoint` / `snapshotId`, `endpointUrlToken`, `endpointName` and comparisons (`gt`,
//! `ge`, `lt`, `le`) on `timestamp` / `startedAt`, joined by `and`; `$count=true` adds
//! `@odata.count`; `$top` (at most 100) and `$skip` page synthetic records spread evenly over
//! the window, newest first. Records become visible [`ODATA_DELAY`] simulator seconds after
//! the conversation: the service is a cache, not real time.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::views::{endpoint_id, find_project, find_snapshot, project_id, snapshot_id};
use crate::sim::App;
use crate::sim::traffic::{Arm, Query, series, summary};
use crate::sim::world::{Bot, World};

/// How long a conversation takes to reach the OData service (simulator seconds).
pub const ODATA_DELAY: f64 = 90.0;
const MAX_TOP: usize = 100;

pub fn routes() -> Router<App> {
    Router::new().route("/v2.4/{collection}", get(collection))
}

/// An OData error body (`{"error": {"code", "message"}}`).
fn odata_error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(
            json!({"error": {"code": status.as_u16().to_string(), "message": message.into()}}),
        ),
    )
        .into_response()
}

#[derive(Debug, Default)]
struct Filter {
    project: Option<String>,
    snapshot: Option<String>,
    url_token: Option<String>,
    endpoint_name: Option<String>,
    /// Exclusive/inclusive bounds on the record time, simulator seconds.
    after: Option<f64>,
    before: Option<f64>,
}

fn unquote(v: &str) -> Option<&str> {
    v.strip_prefix('\'')?.strip_suffix('\'')
}

fn parse_filter(text: &str, app: &App, time_field: &str) -> Result<Filter, String> {
    let mut f = Filter::default();
    if text.trim().is_empty() {
        return Ok(f);
    }
    for clause in split_and(text) {
        let parts: Vec<&str> = clause.trim().splitn(3, ' ').collect();
        let [field, op, value] = parts.as_slice() else {
            return Err(format!(
                "cannot parse the $filter clause '{clause}': write field op value"
            ));
        };
        let text_value = || {
            unquote(value.trim())
                .map(|v| v.replace("''", "'"))
                .ok_or_else(|| format!("the value of {field} must be a quoted string"))
        };
        match (*field, *op) {
            ("projectId", "eq") => f.project = Some(text_value()?),
            ("entrypoint" | "snapshotId", "eq") => f.snapshot = Some(text_value()?),
            ("endpointUrlToken", "eq") => f.url_token = Some(text_value()?),
            ("endpointName", "eq") => f.endpoint_name = Some(text_value()?),
            (t, op @ ("gt" | "ge" | "lt" | "le")) if t == time_field => {
                let raw = text_value()?;
                let at = DateTime::parse_from_rfc3339(&raw)
                    .map_err(|e| format!("{t}: '{raw}' is not an ISO 8601 time: {e}"))?
                    .with_timezone(&Utc);
                let secs = (at - app.clock.epoch()).num_milliseconds() as f64 / 1000.0;
                match op {
                    "gt" | "ge" => f.after = Some(secs),
                    _ => f.before = Some(secs),
                }
            }
            (field, op) => {
                return Err(format!(
                    "the simulator's OData service filters on projectId, entrypoint, snapshotId, endpointUrlToken and endpointName (eq) and {time_field} (gt, ge, lt, le); not '{field} {op}'"
                ));
            }
        }
    }
    Ok(f)
}

/// Clauses joined by ` and ` (outside quotes).
fn split_and(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            quoted = !quoted;
        }
        if !quoted && text[byte(&chars, i)..].to_lowercase().starts_with(" and ") {
            out.push(std::mem::take(&mut cur));
            i += 5;
            continue;
        }
        cur.push(c);
        i += 1;
    }
    out.push(cur);
    out
}

fn byte(chars: &[char], i: usize) -> usize {
    chars[..i].iter().map(|c| c.len_utf8()).sum()
}

/// The (bot, environment, version) slices a filter selects.
fn slices<'w>(w: &'w World, f: &Filter) -> Vec<(&'w Bot, String, Option<String>)> {
    let mut out = Vec::new();
    for bot in w.bots.values() {
        if f.project
            .as_deref()
            .is_some_and(|p| p != project_id(&bot.id))
        {
            continue;
        }
        if f.project.is_none() && find_project(w, &project_id(&bot.id)).is_none() {
            continue;
        }
        let version = match f.snapshot.as_deref() {
            Some(s) => match find_snapshot(w, s) {
                Some((b, v)) if b.id == bot.id => Some(v.id.clone()),
                _ => continue,
            },
            None => None,
        };
        for b in &bot.bindings {
            let ep = super::views::endpoint_item_name(w, bot, b);
            if f.url_token.as_deref().is_some_and(|t| t != ep.1) {
                continue;
            }
            if f.endpoint_name.as_deref().is_some_and(|n| n != ep.0) {
                continue;
            }
            out.push((bot, b.env.clone(), version.clone()));
        }
    }
    out
}

async fn collection(
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    Path(name): Path<String>,
) -> Response {
    let params: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let key = param("apikey").or_else(|| {
        headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    });
    match key {
        None => {
            return odata_error(
                StatusCode::UNAUTHORIZED,
                "No API key: add the query parameter apikey=<key>.",
            );
        }
        Some(k) if !app.lock().auth.api_keys.contains_key(k.trim()) => {
            return odata_error(StatusCode::UNAUTHORIZED, "The API key is not valid.");
        }
        Some(k) => {
            if let Err(e) = super::common::charge(&app, k.trim()) {
                return odata_error(StatusCode::TOO_MANY_REQUESTS, e.detail);
            }
        }
    }
    let time_field = match name.as_str() {
        "Analytics" => "timestamp",
        "Sessions" => "startedAt",
        "Conversations"
        | "Steps"
        | "ExecutedSteps"
        | "LiveAgentEscalations"
        | "Goals"
        | "GoalSteps"
        | "GoalStepMetrics"
        | "GoalEvents" => {
            return odata_error(
                StatusCode::NOT_IMPLEMENTED,
                format!("the simulator serves Analytics and Sessions, not {name}"),
            );
        }
        other => {
            return odata_error(
                StatusCode::NOT_FOUND,
                format!("no collection {other}; v2.4 has Analytics, Conversations, Sessions, ..."),
            );
        }
    };
    let filter = match parse_filter(&param("$filter").unwrap_or_default(), &app, time_field) {
        Ok(f) => f,
        Err(e) => return odata_error(StatusCode::BAD_REQUEST, e),
    };
    let number = |k: &str| -> Result<Option<usize>, String> {
        match param(k) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| format!("{k} must be a whole number, not '{v}'")),
        }
    };
    let (top, skip) = match (number("$top"), number("$skip")) {
        (Ok(t), Ok(s)) => (t.unwrap_or(MAX_TOP).min(MAX_TOP), s.unwrap_or(0)),
        (Err(e), _) | (_, Err(e)) => return odata_error(StatusCode::BAD_REQUEST, e),
    };
    let with_count = param("$count").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let (g, now) = app.world();
    let w = &g.world;
    let visible = now - ODATA_DELAY;
    let upper = filter.before.map_or(visible, |b| b.min(visible));
    let lower = filter.after.unwrap_or(upper - 86_400.0);
    let mut total = 0u64;
    let mut per_slice = Vec::new();
    if upper > lower {
        for (bot, env, version) in slices(w, &filter) {
            let q = Query {
                bot: &bot.id,
                env: Some(&env),
                version: version.as_deref(),
                arm: Arm::Total,
            };
            // Counting a long window costs; only `$count` needs it (rows are read back from
            // the newest bucket until the page is full).
            let n = if with_count {
                summary(w, &q, upper - lower, upper, &|t| app.clock.stamp(t)).conversation_count
            } else {
                u64::MAX
            };
            total = total.saturating_add(n);
            per_slice.push((bot, env, version, n));
        }
    }
    let want = (skip + top).min(usize::try_from(total).unwrap_or(usize::MAX));
    let value: Vec<Value> = rows(&app, w, &per_slice, lower, upper, want, time_field)
        .into_iter()
        .skip(skip)
        .take(top)
        .collect();
    let mut body = json!({
        "@odata.context": format!("/v2.4/$metadata#{name}"),
        "value": value,
    });
    if with_count {
        body["@odata.count"] = json!(total);
    }
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// A deterministic uniform draw in (0, 1) for row `i` of the bucket at `t`, stream `k`.
fn draw(t: i64, i: usize, k: u8) -> f64 {
    let mut x = (t as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((i as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9))
        .wrapping_add(u64::from(k).wrapping_mul(0x94D0_49BB_1331_11EB));
    x ^= x >> 31;
    x = x.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    x ^= x >> 32;
    ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64
}

/// A standard normal draw (Box-Muller over two uniform draws).
fn normal(t: i64, i: usize, k: u8) -> f64 {
    let (u, v) = (draw(t, i, k), draw(t, i, k.wrapping_add(1)));
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// Up to `want` records, newest first: one per conversation of each 10 s bucket of each
/// slice, its fields drawn from that bucket's statistics (an error is an input the flow did
/// not understand; `executionTime` the latency; a rating of 1 or -1 from the CSAT).
#[allow(clippy::too_many_arguments)]
fn rows(
    app: &App,
    w: &World,
    slices: &[(&Bot, String, Option<String>, u64)],
    lower: f64,
    upper: f64,
    want: usize,
    time_field: &str,
) -> Vec<Value> {
    let mut out = Vec::new();
    let mut end = upper;
    // Read back in growing chunks: a page of the newest records needs only the last seconds.
    let mut chunk = 30.0;
    while out.len() < want && end > lower {
        let start = (end - chunk).max(lower);
        chunk = (chunk * 2.0).min(600.0);
        let mut points = Vec::new();
        for (bot, env, version, n) in slices {
            if *n == 0 {
                continue;
            }
            let q = Query {
                bot: &bot.id,
                env: Some(env),
                version: version.as_deref(),
                arm: Arm::Total,
            };
            let first = (start / 10.0).floor() as i64;
            let last = (end / 10.0).ceil() as i64 - 1;
            for p in series(w, &q, 10, first, last, upper, &|t| app.clock.stamp(t)) {
                points.push((p, *bot, env.clone(), version.clone()));
            }
        }
        points.sort_by_key(|p| std::cmp::Reverse(p.0.t));
        for (p, bot, env, version) in points {
            let n = p.conversations as usize;
            for i in 0..n {
                if out.len() >= want {
                    return out;
                }
                let at = p.t as f64 + 10.0 * (n - i) as f64 / (n as f64 + 1.0);
                if at > upper || at <= lower || at > end || at <= start {
                    continue;
                }
                let mut r = record(app, w, bot, &env, version.as_deref(), at, i, time_field);
                let error = draw(p.t, i, 1) < p.errors as f64 / n as f64;
                let latency = (p.avg_latency_ms.unwrap_or(400.0)
                    + p.latency_sd_ms.unwrap_or(0.0) * normal(p.t, i, 2))
                .max(1.0);
                let rated = draw(p.t, i, 4) < p.rated as f64 / n as f64;
                let csat = p.satisfaction_score.unwrap_or(4.0)
                    + p.satisfaction_sd.unwrap_or(0.5) * normal(p.t, i, 5);
                r["understood"] = json!(!error);
                r["intent"] = json!(if error { "" } else { "matched" });
                r["intentScore"] = json!(p.intent_score.unwrap_or(0.9));
                r["executionTime"] = json!((latency * 10.0).round() / 10.0);
                r["rating"] = if rated {
                    json!(if csat >= 3.0 { 1 } else { -1 })
                } else {
                    Value::Null
                };
                out.push(r);
            }
        }
        end = start;
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn record(
    app: &App,
    w: &World,
    bot: &Bot,
    env: &str,
    version: Option<&str>,
    t: f64,
    i: usize,
    time_field: &str,
) -> Value {
    let live = version
        .map(str::to_string)
        .or_else(|| w.live_at(&bot.id, env, t));
    let snapshot = live.as_deref().map(|v| snapshot_id(&bot.id, v));
    let binding = bot.bindings.iter().find(|b| b.env == env);
    let (name, token) = binding
        .map(|b| super::views::endpoint_item_name(w, bot, b))
        .unwrap_or_default();
    let at = app
        .clock
        .date(t)
        .to_rfc3339_opts(SecondsFormat::Millis, true);
    let id = super::views::object_id("odata", &format!("{}/{env}/{t}/{i}", bot.id));
    let session = super::views::object_id("session", &format!("{}/{env}/{t}/{i}", bot.id));
    let label = live
        .as_deref()
        .and_then(|v| bot.version(v))
        .map(|v| v.label.clone())
        .unwrap_or_default();
    let mut r = json!({
        "id": id,
        "projectId": project_id(&bot.id),
        "projectName": bot.name,
        "endpointName": name,
        "endpointUrlToken": token,
        "endpointReferenceId": endpoint_id(&bot.id, env),
        "channel": "rest",
        "sessionId": session,
        "snapshotName": label,
    });
    if time_field == "timestamp" {
        r["timestamp"] = json!(at);
        r["entrypoint"] = json!(snapshot.clone().unwrap_or_else(|| project_id(&bot.id)));
        r["inputId"] = json!(id);
    } else {
        r["startedAt"] = json!(at);
        r["snapshotId"] = json!(snapshot);
    }
    r
}

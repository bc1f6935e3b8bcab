//! Scenarios: the world the simulator starts from, in TOML (see `assets/scenarios/`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::domain::{FlowRef, Stage, VersionStatus};

/// The built-in demo world.
pub const DEMO_SCENARIO: &str = include_str!("../../assets/scenarios/demo.toml");
/// The world of `relcon demo --backend cognigy`: projects on several channels each.
pub const COGNIGY_SCENARIO: &str = include_str!("../../assets/scenarios/cognigy.toml");
/// A fleet-scale world: 200 generated bots (one with 10,000 versions) and operations
/// already running at second 0, for benchmarking a console that watches hundreds of bots.
pub const FLEET_SCENARIO: &str = include_str!("../../assets/scenarios/fleet.toml");

/// The scenarios built into relcon, by the name `--scenario` takes.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("demo", DEMO_SCENARIO),
    ("cognigy", COGNIGY_SCENARIO),
    ("fleet", FLEET_SCENARIO),
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Default seed when `--seed` is not given.
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub timing: Timing,
    #[serde(default)]
    pub environments: Vec<EnvSpec>,
    #[serde(default)]
    pub nlu_models: Vec<NluSpec>,
    #[serde(default)]
    pub flows: Vec<FlowSpec>,
    #[serde(default)]
    pub intents: Vec<RefSpec>,
    #[serde(default)]
    pub entities: Vec<RefSpec>,
    #[serde(default)]
    pub bots: Vec<BotSpec>,
    /// Generated bots: `Scenario::parse` expands each fleet into ordinary `bots` (and their
    /// NLU models), the same way for the same seed.
    #[serde(default)]
    pub fleets: Vec<FleetSpec>,
    /// Operations already running when the world starts (started by someone else).
    #[serde(default)]
    pub operations: Vec<OperationSpec>,
}

/// Durations of job phases, in simulator seconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timing {
    pub deploy: BTreeMap<String, f64>,
    pub rollback: BTreeMap<String, f64>,
    pub environment: BTreeMap<String, f64>,
    pub sync: f64,
    /// A stalled job ends in `timeout` after this long.
    pub job_timeout: f64,
}

impl Default for Timing {
    fn default() -> Self {
        let map = |pairs: &[(&str, f64)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect::<BTreeMap<_, _>>()
        };
        Timing {
            deploy: map(&[
                ("queued", 2.0),
                ("compiling", 3.0),
                ("deploying", 4.0),
                ("validating", 3.0),
            ]),
            rollback: map(&[("queued", 2.0), ("running", 6.0)]),
            environment: map(&[("queued", 3.0), ("running", 15.0)]),
            sync: 10.0,
            job_timeout: 120.0,
        }
    }
}

impl Timing {
    pub fn phase(map: &BTreeMap<String, f64>, name: &str) -> f64 {
        map.get(name).copied().unwrap_or(1.0).max(0.0)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvSpec {
    pub id: String,
    pub name: String,
    pub stage: Stage,
    #[serde(default)]
    pub colour: Option<String>,
    #[serde(default = "default_region")]
    pub region: String,
    #[serde(default = "default_sessions")]
    pub max_concurrent_sessions: u32,
    #[serde(default = "default_memory")]
    pub memory_limit_mb: u32,
    #[serde(default)]
    pub network_segment: String,
    /// Installed package versions; a dependency lock that disagrees is a conflict.
    #[serde(default)]
    pub packages: BTreeMap<String, String>,
    /// NLP engines this environment refuses.
    #[serde(default)]
    pub deprecated_engines: Vec<String>,
}

fn default_region() -> String {
    "us-east-1".into()
}
fn default_sessions() -> u32 {
    1000
}
fn default_memory() -> u32 {
    8192
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NluSpec {
    pub id: String,
    pub bot: String,
    #[serde(default)]
    pub version: String,
    pub status: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowSpec {
    pub id: String,
    #[serde(default)]
    pub bot: Option<String>,
    pub name: String,
    /// Known versions, oldest first; the last is the current definition's version.
    pub versions: Vec<String>,
    #[serde(default)]
    pub references: Vec<FlowRefSpec>,
    /// Environment id -> deployed version.
    #[serde(default)]
    pub deployed: BTreeMap<String, String>,
    /// Extra node types appended to the generated definition (e.g. an invalid one).
    #[serde(default)]
    pub extra_nodes: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowRefSpec {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[serde(rename = "environmentId")]
    pub environment_id: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefSpec {
    pub id: String,
    pub name: String,
    pub environments: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotSpec {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Production conversations per minute (split across environments by routing weight).
    #[serde(default = "default_cpm")]
    pub cpm: f64,
    /// Staging conversations per minute.
    #[serde(default = "default_staging_cpm")]
    pub staging_cpm: f64,
    /// Every conversation is a session that stays active for a lognormal lifetime of this
    /// mean (simulator minutes, coefficient of variation 1), at most `session_timeout_minutes`.
    /// `0`: the bot's conversations hold no session (one-shot answers).
    #[serde(default = "default_session_minutes")]
    pub session_minutes: f64,
    /// The platform ends a session at the latest this long after it started.
    #[serde(default = "default_session_timeout")]
    pub session_timeout_minutes: f64,
    /// Extra sessions already open at second 0 (a backlog), on the live version of the
    /// bot's busiest production environment, with the bot's session lifetimes.
    #[serde(default)]
    pub active_sessions: u32,
    /// When above 0 the backlog above ends at this many sessions per simulator minute
    /// instead of with the session lifetimes.
    #[serde(default)]
    pub drain_per_minute: f64,
    /// The bot's own test conversation: a message its live version must answer with
    /// `expected_intent` (relcon's rollback verification uses it).
    #[serde(default)]
    pub test_message: Option<String>,
    #[serde(default)]
    pub expected_intent: Option<String>,
    /// The NLU model generated versions use.
    #[serde(default)]
    pub nlu_model: String,
    #[serde(default)]
    pub profile: Profile,
    pub environments: Vec<BindingSpec>,
    /// How the live version answers test messages: first keyword found wins.
    #[serde(default)]
    pub intents: Vec<IntentRule>,
    #[serde(default)]
    pub history: Option<HistorySpec>,
    #[serde(default)]
    pub versions: Vec<VersionSpec>,
}

fn default_cpm() -> f64 {
    60.0
}
fn default_session_minutes() -> f64 {
    4.0
}
fn default_session_timeout() -> f64 {
    10.0
}
fn default_staging_cpm() -> f64 {
    4.0
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindingSpec {
    pub env: String,
    #[serde(default)]
    pub live: Option<String>,
    #[serde(default)]
    pub weight: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntentRule {
    pub keyword: String,
    pub intent: String,
    pub confidence: f64,
}

/// Older versions generated rather than listed: `count` versions `major.0.0`, `major.1.0`, ...
/// (ids `v` + label), one every `spacing_days`, the newest `newest_age_days` old.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistorySpec {
    pub count: u32,
    pub major: u32,
    /// Age in days of the newest generated version.
    #[serde(default = "default_age")]
    pub newest_age_days: f64,
    /// Days between two generated versions.
    #[serde(default = "default_spacing")]
    pub spacing_days: f64,
}

fn default_age() -> f64 {
    14.0
}
fn default_spacing() -> f64 {
    7.0
}

/// The longest a generated history may reach back, in days.
pub const MAX_HISTORY_DAYS: f64 = 3650.0;

impl HistorySpec {
    /// The label of generated version `i` (0: the oldest).
    pub fn label(&self, i: u32) -> String {
        format!("{}.{i}.0", self.major)
    }

    /// The id of generated version `i`.
    pub fn id(&self, i: u32) -> String {
        format!("v{}", self.label(i))
    }

    /// The age in days of generated version `i`.
    pub fn age_days(&self, i: u32) -> f64 {
        self.newest_age_days + self.spacing_days * f64::from(self.count.saturating_sub(1 + i))
    }
}

/// How a version behaves under traffic: per-conversation rates and the means of what is
/// measured per conversation. Fields left out take the defaults below.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Profile {
    /// Share of conversations that end in an error (0..=1).
    pub error_rate: f64,
    /// Mean latency per conversation, milliseconds.
    pub latency_ms: f64,
    /// Mean CSAT rating (1..=5) of the rated conversations.
    pub satisfaction: f64,
    /// Share of conversations the bot did not understand (0..=1).
    pub fallback_rate: f64,
    /// Share of conversations handed off to a human agent (0..=1).
    pub handoff_rate: f64,
    /// Share of conversations the user rates (0..=1).
    pub rated_rate: f64,
    /// Mean NLU intent score per conversation (0..=1).
    pub intent_score: f64,
    /// Coefficient of variation (sd / mean) of the lognormal per-conversation latency.
    pub latency_cv: f64,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            error_rate: 0.012,
            latency_ms: 420.0,
            satisfaction: 4.3,
            fallback_rate: 0.06,
            handoff_rate: 0.04,
            rated_rate: 0.25,
            intent_score: 0.86,
            latency_cv: 0.35,
        }
    }
}

/// A version that gets worse once it has had traffic for `after_minutes`: factors apply
/// first, then the absolute deltas; the results are clamped to their ranges.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Regression {
    pub after_minutes: f64,
    #[serde(default = "one")]
    pub error_factor: f64,
    /// Added to the error rate after `error_factor`.
    #[serde(default)]
    pub error_delta: f64,
    #[serde(default = "one")]
    pub latency_factor: f64,
    /// Added to the mean latency after `latency_factor`.
    #[serde(default)]
    pub latency_delta_ms: f64,
    #[serde(default)]
    pub satisfaction_delta: f64,
    #[serde(default)]
    pub fallback_delta: f64,
    #[serde(default)]
    pub handoff_delta: f64,
    #[serde(default)]
    pub intent_score_delta: f64,
}

impl Profile {
    /// What is out of range, if anything.
    fn problem(&self) -> Option<String> {
        let rates = [
            ("error_rate", self.error_rate),
            ("fallback_rate", self.fallback_rate),
            ("handoff_rate", self.handoff_rate),
            ("rated_rate", self.rated_rate),
            ("intent_score", self.intent_score),
        ];
        if let Some((k, v)) = rates.iter().find(|(_, v)| !(0.0..=1.0).contains(v)) {
            return Some(format!("{k} {v} is outside 0..=1"));
        }
        if !(1.0..=5.0).contains(&self.satisfaction) {
            return Some(format!(
                "satisfaction {} is outside 1..=5",
                self.satisfaction
            ));
        }
        if self.latency_ms.is_nan() || self.latency_ms <= 0.0 {
            return Some(format!("latency_ms {} must be above 0", self.latency_ms));
        }
        if !(0.0..=5.0).contains(&self.latency_cv) {
            return Some(format!("latency_cv {} is outside 0..=5", self.latency_cv));
        }
        None
    }
}

impl Regression {
    /// `p` as it behaves once the regression has kicked in.
    pub fn apply(&self, p: &Profile) -> Profile {
        Profile {
            error_rate: (p.error_rate * self.error_factor + self.error_delta).clamp(0.0, 1.0),
            latency_ms: (p.latency_ms * self.latency_factor + self.latency_delta_ms).max(1.0),
            satisfaction: (p.satisfaction + self.satisfaction_delta).clamp(1.0, 5.0),
            fallback_rate: (p.fallback_rate + self.fallback_delta).clamp(0.0, 1.0),
            handoff_rate: (p.handoff_rate + self.handoff_delta).clamp(0.0, 1.0),
            intent_score: (p.intent_score + self.intent_score_delta).clamp(0.0, 1.0),
            ..*p
        }
    }
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionSpec {
    pub id: String,
    #[serde(default)]
    pub label: Option<String>,
    pub status: VersionStatus,
    #[serde(default = "default_stage")]
    pub environment: Stage,
    #[serde(default)]
    pub age_days: f64,
    #[serde(default)]
    pub nlu: Option<String>,
    #[serde(default)]
    pub flows: Vec<FlowRef>,
    #[serde(default)]
    pub profile: Option<Profile>,
    #[serde(default)]
    pub regression: Option<Regression>,
    /// Deploying this version fails in `validating` with this message.
    #[serde(default)]
    pub fail_deploy: Option<String>,
    /// Rolling back to this version fails with this message.
    #[serde(default)]
    pub fail_rollback: Option<String>,
    #[serde(default)]
    pub missing_dependencies: Vec<String>,
    /// Test messages answered by this version lose this much confidence.
    #[serde(default)]
    pub confidence_penalty: f64,
    #[serde(default)]
    pub verdict: Option<String>,
}

fn default_stage() -> Stage {
    Stage::Production
}

// --- fleets: generated bots ---------------------------------------------------------------

/// A range a fleet draws a figure from, per bot.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

impl Range {
    fn fixed(x: f64) -> Range {
        Range { min: x, max: x }
    }

    fn uniform(&self, u: f64) -> f64 {
        self.min + (self.max - self.min) * u
    }

    /// Log-uniform for a positive range: as many draws in [min, √(min·max)] as above it.
    fn log_uniform(&self, u: f64) -> f64 {
        if self.min > 0.0 {
            (self.min.ln() + (self.max.ln() - self.min.ln()) * u).exp()
        } else {
            self.uniform(u)
        }
    }

    /// What is wrong with it, for the key `key` of `fleet`.
    fn problem(&self, fleet: &str, key: &str, least: f64) -> Option<String> {
        if !(self.min.is_finite() && self.max.is_finite()) {
            return Some(format!("{fleet}: {key} must have finite min and max"));
        }
        if self.min < least {
            return Some(format!(
                "{fleet}: {key}.min {} is below {least}; give {key} = {{ min = {least}, max = ... }} or more",
                self.min
            ));
        }
        if self.min > self.max {
            return Some(format!(
                "{fleet}: {key}.min {} is above {key}.max {}; swap them",
                self.min, self.max
            ));
        }
        None
    }
}

/// Which of a generated bot's versions a binding serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LiveRole {
    /// The newest version: PUBLISHED and live nowhere (the one to deploy or canary).
    Candidate,
    /// The version before it, promoted.
    Stable,
    /// The version before the stable one, promoted (the last known good before it).
    Previous,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetBinding {
    pub env: String,
    #[serde(default)]
    pub live: Option<LiveRole>,
    #[serde(default)]
    pub weight: f64,
}

/// What a generated bot is about: its name part, description and test conversation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetKind {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub test_message: String,
    pub expected_intent: String,
    pub intents: Vec<IntentRule>,
}

/// `count` bots generated from one template. Each bot `n` (1-based) draws its figures from
/// the fleet's seed and `n` alone, so the same seed gives the same bots and adding bots
/// does not change the ones before.
///
/// Patterns: `{n}` is the bot's number (`{n:03}` zero-padded to 3 digits), `{kind}` the
/// name of its kind, `{id}` (in `nlu_model`) its id.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetSpec {
    pub count: u32,
    /// Bot id pattern (`{n}`; needed when `count` is above 1).
    pub id: String,
    /// Bot name pattern (`{n}`, `{kind}`).
    pub name: String,
    /// Description pattern (`{n}`, `{kind}`); default: the kind's description.
    #[serde(default)]
    pub description: Option<String>,
    /// Seed of the per-bot variation; default: the scenario's seed.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Production conversations per minute, drawn log-uniformly (most bots small).
    pub cpm: Range,
    /// Staging conversations per minute, drawn uniformly.
    #[serde(default = "default_staging_range")]
    pub staging_cpm: Range,
    /// Versions per bot, drawn uniformly (whole numbers, at least 3).
    pub versions: Range,
    /// Mean session lifetime, minutes, drawn uniformly.
    #[serde(default = "default_session_range")]
    pub session_minutes: Range,
    #[serde(default = "default_session_timeout")]
    pub session_timeout_minutes: f64,
    /// Version ids are `v{major}.{i}.0`, oldest first.
    #[serde(default = "default_major")]
    pub major: u32,
    /// Days between two versions.
    #[serde(default = "default_spacing")]
    pub spacing_days: f64,
    /// Age of the candidate (the newest version), in days, drawn uniformly.
    #[serde(default = "default_candidate_age")]
    pub candidate_age_days: Range,
    /// NLU model id pattern (`{id}`, `{n}`): one published model per bot.
    #[serde(default = "default_nlu_pattern")]
    pub nlu_model: String,
    /// The bots' traffic profile before `jitter`.
    #[serde(default)]
    pub profile: Profile,
    /// Each bot's error, fallback and hand-off rates and latency are the profile's times a
    /// factor drawn from 1 ± jitter (its CSAT moves by up to ± jitter / 2).
    #[serde(default = "default_jitter")]
    pub jitter: f64,
    /// Every bot's environment bindings, with the role of the version each serves.
    pub environments: Vec<FleetBinding>,
    /// Two environments of `environments` whose versions and weights trade places on
    /// about half the bots (some bots live on blue, others on green).
    #[serde(default)]
    pub swap: Vec<String>,
    /// Bot numbers whose candidate regresses with `regression`.
    #[serde(default)]
    pub regressing: Vec<u32>,
    #[serde(default)]
    pub regression: Option<Regression>,
    /// What the bots are about; each bot gets one, drawn from the seed.
    pub kinds: Vec<FleetKind>,
}

fn default_staging_range() -> Range {
    Range::fixed(default_staging_cpm())
}
fn default_session_range() -> Range {
    Range::fixed(default_session_minutes())
}
fn default_major() -> u32 {
    1
}
fn default_candidate_age() -> Range {
    Range::fixed(1.0)
}
fn default_nlu_pattern() -> String {
    "nlu-{id}".into()
}
fn default_jitter() -> f64 {
    0.25
}

/// A deterministic stream of uniform draws in [0, 1) (SplitMix64).
struct Draws(u64);

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Draws {
    fn new(seed: u64, fleet: usize, n: u32) -> Draws {
        Draws(mix(mix(seed ^ 0xf1ee_7000)
            ^ mix(fleet as u64 + 1)
            ^ u64::from(n)))
    }

    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        (mix(self.0) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `pattern` with its placeholders filled; `Err` names a placeholder not in `allowed`.
fn fill(pattern: &str, allowed: &[&str], n: u32, kind: &str, id: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            return Err(format!("an unclosed '{{' in '{pattern}'"));
        };
        let token = &rest[open + 1..open + close];
        let (name, width) = match token.split_once(':') {
            Some((name, w)) => {
                let width = w
                    .strip_prefix('0')
                    .and_then(|d| d.parse::<usize>().ok())
                    .filter(|_| name == "n")
                    .ok_or_else(|| {
                        format!(
                            "'{{{token}}}' in '{pattern}': only {{n}} takes a width, as {{n:03}}"
                        )
                    })?;
                (name, width)
            }
            None => (token, 0),
        };
        if !allowed.contains(&name) {
            let known: Vec<String> = allowed.iter().map(|a| format!("{{{a}}}")).collect();
            return Err(format!(
                "unknown placeholder '{{{token}}}' in '{pattern}'; use {}",
                known.join(", ")
            ));
        }
        match name {
            "n" => out.push_str(&format!("{n:0width$}")),
            "kind" => out.push_str(kind),
            _ => out.push_str(id),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn round_to(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

impl FleetSpec {
    /// Everything wrong with the template that does not depend on the bot.
    fn check(&self, what: &str, envs: &[EnvSpec]) -> Result<(), String> {
        if self.count == 0 {
            return Err(format!("{what}: count must be at least 1"));
        }
        if self.count > 1 && !self.id.contains("{n") {
            return Err(format!(
                "{what}: id pattern '{}' has no {{n}}, so its {} bots would share one id; put {{n}} or {{n:03}} in it",
                self.id, self.count
            ));
        }
        for (key, pattern, allowed) in [
            ("id", Some(&self.id), &["n"][..]),
            ("name", Some(&self.name), &["n", "kind"][..]),
            ("description", self.description.as_ref(), &["n", "kind"][..]),
            ("nlu_model", Some(&self.nlu_model), &["n", "id"][..]),
        ] {
            if let Some(p) = pattern {
                fill(p, allowed, 1, "", "").map_err(|e| format!("{what}: {key}: {e}"))?;
            }
        }
        if self.kinds.is_empty() {
            return Err(format!(
                "{what} has no [[fleets.kinds]]; give at least one kind (name, test_message, expected_intent, intents)"
            ));
        }
        for (key, range, least) in [
            ("cpm", &self.cpm, 0.0),
            ("staging_cpm", &self.staging_cpm, 0.0),
            ("versions", &self.versions, 3.0),
            ("session_minutes", &self.session_minutes, 0.0),
            ("candidate_age_days", &self.candidate_age_days, 0.0),
        ] {
            if let Some(p) = range.problem(what, key, least) {
                return Err(if key == "versions" && range.min < 3.0 {
                    format!("{p} (every bot has a previous, a stable and a candidate version)")
                } else {
                    p
                });
            }
        }
        if self.versions.max > 1_000_000.0 {
            return Err(format!(
                "{what}: versions.max {} is above 1000000",
                self.versions.max
            ));
        }
        if !(self.spacing_days.is_finite() && self.spacing_days > 0.0) {
            return Err(format!(
                "{what}: spacing_days {} must be above 0",
                self.spacing_days
            ));
        }
        let span = self.candidate_age_days.max + self.spacing_days * (self.versions.max - 1.0);
        if span > MAX_HISTORY_DAYS {
            return Err(format!(
                "{what}: {} versions with spacing_days = {} reach {span:.0} days back, more than {MAX_HISTORY_DAYS}; lower spacing_days (e.g. {:.2})",
                self.versions.max,
                self.spacing_days,
                (MAX_HISTORY_DAYS - self.candidate_age_days.max)
                    / (self.versions.max - 1.0).max(1.0)
            ));
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err(format!("{what}: jitter {} is outside 0..=1", self.jitter));
        }
        if let Some(p) = self.profile.problem() {
            return Err(format!("{what}: profile {p}"));
        }
        if self.environments.is_empty() {
            return Err(format!(
                "{what}: environments is empty; bind the bots to at least one environment, e.g. [{{ env = \"env-prod-blue\", live = \"stable\", weight = 100 }}]"
            ));
        }
        for b in &self.environments {
            if !envs.iter().any(|e| e.id == b.env) {
                return Err(format!(
                    "{what}: environments names unknown environment '{}'; declare it under [[environments]]",
                    b.env
                ));
            }
        }
        if !self.swap.is_empty()
            && (self.swap.len() != 2
                || self.swap[0] == self.swap[1]
                || self
                    .swap
                    .iter()
                    .any(|s| !self.environments.iter().any(|b| &b.env == s)))
        {
            return Err(format!(
                "{what}: swap must name two different environments of its environments, e.g. [\"env-prod-blue\", \"env-prod-green\"]"
            ));
        }
        if let Some(n) = self
            .regressing
            .iter()
            .find(|n| **n == 0 || **n > self.count)
        {
            return Err(format!(
                "{what}: regressing names bot {n}, but the fleet's bots are numbered 1..={}",
                self.count
            ));
        }
        if !self.regressing.is_empty() && self.regression.is_none() {
            return Err(format!(
                "{what}: regressing names bots but there is no regression = {{ after_minutes = ..., ... }} for their candidates"
            ));
        }
        Ok(())
    }

    /// Bot `n` of the fleet, with its NLU model.
    fn bot(&self, index: usize, n: u32, seed: u64) -> Result<(BotSpec, NluSpec), String> {
        let mut d = Draws::new(self.seed.unwrap_or(seed), index, n);
        let kind =
            &self.kinds[((d.next() * self.kinds.len() as f64) as usize).min(self.kinds.len() - 1)];
        let id = fill(&self.id, &["n"], n, "", "")?;
        let name = fill(&self.name, &["n", "kind"], n, &kind.name, &id)?;
        let description = match &self.description {
            Some(p) => fill(p, &["n", "kind"], n, &kind.name, &id)?,
            None => kind.description.clone(),
        };
        let nlu_model = fill(&self.nlu_model, &["n", "id"], n, "", &id)?;
        let cpm = self.cpm.log_uniform(d.next()).round();
        let staging_cpm = round_to(self.staging_cpm.uniform(d.next()), 1);
        let session_minutes = round_to(self.session_minutes.uniform(d.next()), 1);
        let count = (self
            .versions
            .uniform(d.next())
            .round()
            .clamp(self.versions.min.ceil(), self.versions.max.floor())) as u32;
        let candidate_age = round_to(self.candidate_age_days.uniform(d.next()), 2);
        let mut factor = || 1.0 + self.jitter * (2.0 * d.next() - 1.0);
        let p = self.profile;
        let profile = Profile {
            error_rate: round_to(p.error_rate * factor(), 4).clamp(0.0, 1.0),
            fallback_rate: round_to(p.fallback_rate * factor(), 4).clamp(0.0, 1.0),
            handoff_rate: round_to(p.handoff_rate * factor(), 4).clamp(0.0, 1.0),
            latency_ms: round_to(p.latency_ms * factor(), 0).max(1.0),
            satisfaction: round_to(p.satisfaction + (factor() - 1.0) / 2.0, 2).clamp(1.0, 5.0),
            ..p
        };
        let swapped = self.swap.len() == 2 && d.next() < 0.5;
        // Versions 0..count-3 come from the history; the last three are listed.
        let history = HistorySpec {
            count: count - 3,
            major: self.major,
            newest_age_days: candidate_age + 3.0 * self.spacing_days,
            spacing_days: self.spacing_days,
        };
        let listed = HistorySpec {
            count,
            newest_age_days: candidate_age,
            ..history.clone()
        };
        let version = |i: u32, verdict: Option<&str>, regression: Option<Regression>| VersionSpec {
            id: listed.id(i),
            label: None,
            status: VersionStatus::Published,
            environment: Stage::Production,
            age_days: round_to(listed.age_days(i), 4),
            nlu: None,
            flows: Vec::new(),
            profile: None,
            regression,
            fail_deploy: None,
            fail_rollback: None,
            missing_dependencies: Vec::new(),
            confidence_penalty: 0.0,
            verdict: verdict.map(str::to_string),
        };
        let regression = self
            .regressing
            .contains(&n)
            .then(|| self.regression.clone())
            .flatten();
        let versions = vec![
            version(count - 3, Some("promoted"), None),
            version(count - 2, Some("promoted"), None),
            version(count - 1, None, regression),
        ];
        let role_id = |role: LiveRole| match role {
            LiveRole::Candidate => listed.id(count - 1),
            LiveRole::Stable => listed.id(count - 2),
            LiveRole::Previous => listed.id(count - 3),
        };
        let mut environments: Vec<BindingSpec> = self
            .environments
            .iter()
            .map(|b| BindingSpec {
                env: b.env.clone(),
                live: b.live.map(role_id),
                weight: b.weight,
            })
            .collect();
        if swapped {
            let i = environments.iter().position(|b| b.env == self.swap[0]);
            let j = environments.iter().position(|b| b.env == self.swap[1]);
            if let (Some(i), Some(j)) = (i, j) {
                let (a, b) = (environments[i].clone(), environments[j].clone());
                environments[i].live = b.live;
                environments[i].weight = b.weight;
                environments[j].live = a.live;
                environments[j].weight = a.weight;
            }
        }
        let bot = BotSpec {
            id: id.clone(),
            name,
            description,
            cpm,
            staging_cpm,
            session_minutes,
            session_timeout_minutes: self.session_timeout_minutes,
            active_sessions: 0,
            drain_per_minute: 0.0,
            test_message: Some(kind.test_message.clone()),
            expected_intent: Some(kind.expected_intent.clone()),
            nlu_model: nlu_model.clone(),
            profile,
            environments,
            intents: kind.intents.clone(),
            history: (history.count > 0).then_some(history),
            versions,
        };
        let nlu = NluSpec {
            id: nlu_model,
            bot: id,
            version: format!("{}.0.0", self.major),
            status: "published".into(),
        };
        Ok((bot, nlu))
    }
}

// --- operations running at the start ----------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OperationKindSpec {
    /// A versioned deployment (`POST /v1/bots/{bot}/deployments`), on its [timing].
    Deploy,
    /// A canary (`POST /api/v1/bots/{bot}/deploy`), holding its last weight until someone
    /// promotes or rolls it back.
    Canary,
}

/// An operation someone else started before the world began: the world starts it through
/// the same functions the API's routes use.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationSpec {
    pub kind: OperationKindSpec,
    pub bot: String,
    /// Default: the bot's newest PUBLISHED version that is not live in `env`.
    #[serde(default)]
    pub version: Option<String>,
    /// Default: a deploy goes to the bot's idle production environment (the least
    /// weight), a canary runs in its busiest.
    #[serde(default)]
    pub env: Option<String>,
    /// The simulator second it began: 0 or before (negative).
    #[serde(default)]
    pub at: f64,
    /// A canary's traffic steps so far, percent: the first at `at`, then one every
    /// `step_seconds`, the last at or before second 0.
    #[serde(default)]
    pub weights: Vec<f64>,
    #[serde(default = "default_step_seconds")]
    pub step_seconds: f64,
    /// A canary's `max_traffic_percentage`.
    #[serde(default = "default_max_traffic")]
    pub max_traffic: f64,
}

fn default_step_seconds() -> f64 {
    300.0
}
fn default_max_traffic() -> f64 {
    100.0
}

impl OperationSpec {
    /// How the operation is named in messages: `operations[i] (canary on bot)`.
    pub fn what(&self, i: usize) -> String {
        let kind = match self.kind {
            OperationKindSpec::Deploy => "deploy",
            OperationKindSpec::Canary => "canary",
        };
        format!("operations[{i}] ({kind} on {})", self.bot)
    }

    fn check(&self, what: &str) -> Result<(), String> {
        if !(self.at.is_finite() && self.at <= 0.0) {
            return Err(format!(
                "{what}: at = {} must be 0 or less (the simulator second it began; the world starts at 0)",
                self.at
            ));
        }
        match self.kind {
            OperationKindSpec::Deploy if !self.weights.is_empty() => Err(format!(
                "{what}: weights are a canary's traffic steps; a deploy takes none"
            )),
            OperationKindSpec::Deploy => Ok(()),
            OperationKindSpec::Canary => {
                if self.weights.is_empty() {
                    return Err(format!(
                        "{what}: a canary needs weights = [...], its traffic steps so far in percent (e.g. [5, 10])"
                    ));
                }
                if !(1.0..=100.0).contains(&self.max_traffic) {
                    return Err(format!(
                        "{what}: max_traffic {} is outside 1..=100",
                        self.max_traffic
                    ));
                }
                if let Some(w) = self
                    .weights
                    .iter()
                    .find(|w| !(0.0..=self.max_traffic).contains(*w))
                {
                    return Err(format!(
                        "{what}: weight {w} is outside 0..={} (max_traffic)",
                        self.max_traffic
                    ));
                }
                if !(self.step_seconds.is_finite() && self.step_seconds > 0.0) {
                    return Err(format!(
                        "{what}: step_seconds {} must be above 0",
                        self.step_seconds
                    ));
                }
                let last = self.at + self.step_seconds * (self.weights.len() - 1) as f64;
                if last > 0.0 {
                    return Err(format!(
                        "{what}: its last step would come at second {last}, after the world starts; start it earlier (at = {} or less) or take fewer steps",
                        -self.step_seconds * (self.weights.len() - 1) as f64
                    ));
                }
                Ok(())
            }
        }
    }
}

impl Scenario {
    pub fn demo() -> Result<Scenario, String> {
        Scenario::parse(DEMO_SCENARIO, "assets/scenarios/demo.toml")
    }

    /// A scenario file, or a built-in scenario by name (`demo`, `cognigy`) when no file of
    /// that name exists.
    pub fn load(path: &Path) -> Result<Scenario, String> {
        if !path.exists()
            && let Some((name, text)) = BUILT_IN.iter().find(|(n, _)| path.as_os_str() == *n)
        {
            return Scenario::parse(text, &format!("assets/scenarios/{name}.toml"));
        }
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "cannot read scenario {}: {e} (built-in scenarios: {})",
                path.display(),
                BUILT_IN
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        Scenario::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, origin: &str) -> Result<Scenario, String> {
        let mut scenario: Scenario = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(0);
            format!("scenario {origin}, line {line}: {}", e.message())
        })?;
        scenario.expand_fleets()?;
        scenario.check()?;
        if !scenario.operations.is_empty() {
            // The operations start as the world starts them: try it once, so a scenario
            // whose operations the world would refuse is refused here, with the reason.
            crate::sim::world::World::try_from_scenario(&scenario, scenario.seed)
                .map_err(|e| format!("scenario {}: {e}", scenario.name))?;
        }
        Ok(scenario)
    }

    /// Append every fleet's bots (and their NLU models) to `bots`, in fleet order, bot 1
    /// first.
    fn expand_fleets(&mut self) -> Result<(), String> {
        for (i, f) in self.fleets.iter().enumerate() {
            let what = format!("scenario {}: fleets[{i}] (id = \"{}\")", self.name, f.id);
            f.check(&what, &self.environments)?;
            for n in 1..=f.count {
                let (bot, nlu) = f
                    .bot(i, n, self.seed)
                    .map_err(|e| format!("{what}: bot {n}: {e}"))?;
                self.bots.push(bot);
                self.nlu_models.push(nlu);
            }
        }
        Ok(())
    }

    /// Cross-references must resolve: bindings to environments, live versions to versions;
    /// ids must be unique; traffic profiles must be in range.
    fn check(&self) -> Result<(), String> {
        let mut bot_ids = std::collections::HashSet::new();
        for bot in &self.bots {
            if !bot_ids.insert(bot.id.as_str()) {
                return Err(format!(
                    "scenario {}: bot '{}' is defined twice; bot ids must be unique (check [[bots]] and the id patterns of [[fleets]])",
                    self.name, bot.id
                ));
            }
            let mut version_ids = std::collections::HashSet::new();
            if let Some(h) = &bot.history {
                if !(h.spacing_days.is_finite() && h.spacing_days > 0.0) {
                    return Err(format!(
                        "scenario {}: bot {}: history.spacing_days {} must be above 0",
                        self.name, bot.id, h.spacing_days
                    ));
                }
                let oldest = h.age_days(0);
                if !(h.newest_age_days >= 0.0 && oldest <= MAX_HISTORY_DAYS) {
                    return Err(format!(
                        "scenario {}: bot {}: a history of {} versions {} days apart, the newest {} days old, reaches {oldest:.0} days back; keep it within 0..={MAX_HISTORY_DAYS} days (lower spacing_days)",
                        self.name, bot.id, h.count, h.spacing_days, h.newest_age_days
                    ));
                }
                for i in 0..h.count {
                    version_ids.insert(h.id(i));
                }
            }
            for v in &bot.versions {
                if !version_ids.insert(v.id.clone()) {
                    let generated = match &bot.history {
                        Some(h) if h.count > 0 => format!(
                            " (its history generates {} to {})",
                            h.id(0),
                            h.id(h.count - 1)
                        ),
                        _ => String::new(),
                    };
                    return Err(format!(
                        "scenario {}: bot {}: version '{}' is defined twice{generated}; version ids must be unique",
                        self.name, bot.id, v.id
                    ));
                }
            }
            let profiles = std::iter::once((String::new(), Some(&bot.profile))).chain(
                bot.versions
                    .iter()
                    .map(|v| (format!(" version {}", v.id), v.profile.as_ref())),
            );
            for (what, p) in profiles {
                if let Some(problem) = p.and_then(Profile::problem) {
                    return Err(format!(
                        "scenario {}: bot {}{what}: profile {problem}",
                        self.name, bot.id
                    ));
                }
            }
            if !(bot.session_minutes.is_finite() && bot.session_minutes >= 0.0) {
                return Err(format!(
                    "scenario {}: bot {}: session_minutes {} must be 0 or more",
                    self.name, bot.id, bot.session_minutes
                ));
            }
            if !(bot.session_timeout_minutes.is_finite() && bot.session_timeout_minutes > 0.0) {
                return Err(format!(
                    "scenario {}: bot {}: session_timeout_minutes {} must be above 0",
                    self.name, bot.id, bot.session_timeout_minutes
                ));
            }
            if bot.test_message.is_some() != bot.expected_intent.is_some() {
                return Err(format!(
                    "scenario {}: bot {}: test_message and expected_intent go together",
                    self.name, bot.id
                ));
            }
            for b in &bot.environments {
                if !self.environments.iter().any(|e| e.id == b.env) {
                    return Err(format!(
                        "scenario {}: bot {} is bound to unknown environment {}",
                        self.name, bot.id, b.env
                    ));
                }
            }
        }
        for (i, op) in self.operations.iter().enumerate() {
            let what = format!("scenario {}: {}", self.name, op.what(i));
            op.check(&what)?;
            if !bot_ids.contains(op.bot.as_str()) {
                return Err(format!(
                    "{what}: there is no bot '{}' (a [[bots]] id or one a [[fleets]] pattern generates)",
                    op.bot
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_scenario_parses() {
        let s = Scenario::demo().unwrap();
        assert!(s.bots.len() >= 4);
    }

    #[test]
    fn profiles_take_defaults_and_are_checked() {
        let text = |profile: &str| {
            format!(
                "name = \"x\"\n[[environments]]\nid = \"e\"\nname = \"E\"\nstage = \"PRODUCTION\"\n\
                 [[bots]]\nid = \"b\"\nname = \"B\"\nenvironments = [{{ env = \"e\", live = \"v1\", weight = 100 }}]\n\
                 [[bots.versions]]\nid = \"v1\"\nstatus = \"PUBLISHED\"\nprofile = {profile}\n\
                 regression = {{ after_minutes = 1, error_delta = 0.1, intent_score_delta = -0.2 }}\n"
            )
        };
        let s = Scenario::parse(&text("{ error_rate = 0.5, fallback_rate = 0.2 }"), "t").unwrap();
        let v = &s.bots[0].versions[0];
        let p = v.profile.unwrap();
        assert_eq!((p.error_rate, p.fallback_rate), (0.5, 0.2));
        assert_eq!(
            (p.handoff_rate, p.rated_rate, p.latency_cv),
            (0.04, 0.25, 0.35)
        );
        let r = v.regression.clone().unwrap();
        assert_eq!(
            (r.error_factor, r.error_delta, r.handoff_delta),
            (1.0, 0.1, 0.0)
        );
        let worse = r.apply(&p);
        assert_eq!(worse.error_rate, 0.6);
        assert!((worse.intent_score - 0.66).abs() < 1e-12);
        let err = Scenario::parse(&text("{ handoff_rate = 1.5 }"), "t").unwrap_err();
        assert!(
            err.contains("version v1: profile handoff_rate 1.5"),
            "{err}"
        );
    }

    #[test]
    fn placeholders_fill_and_unknown_ones_are_named() {
        let f = |p: &str| fill(p, &["n", "kind", "id"], 7, "Orders", "b-007");
        assert_eq!(f("bot-{n:03}").unwrap(), "bot-007");
        assert_eq!(f("{kind} {n}").unwrap(), "Orders 7");
        assert_eq!(f("nlu-{id}").unwrap(), "nlu-b-007");
        assert!(
            f("{nn}")
                .unwrap_err()
                .contains("unknown placeholder '{nn}'")
        );
        assert!(
            f("{kind:03}")
                .unwrap_err()
                .contains("only {n} takes a width")
        );
        assert!(f("bot-{n").unwrap_err().contains("unclosed"));
    }

    #[test]
    fn a_long_history_needs_a_smaller_spacing_and_ids_stay_unique() {
        let text = |history: &str, version: &str| {
            format!(
                "name = \"x\"\n[[environments]]\nid = \"e\"\nname = \"E\"\nstage = \"PRODUCTION\"\n\
                 [[bots]]\nid = \"b\"\nname = \"B\"\nenvironments = [{{ env = \"e\" }}]\n\
                 history = {history}\n[[bots.versions]]\nid = \"{version}\"\nstatus = \"PUBLISHED\"\n"
            )
        };
        let err = Scenario::parse(&text("{ count = 10000, major = 1 }", "v9"), "t").unwrap_err();
        assert!(
            err.contains("reaches 70007 days back") && err.contains("lower spacing_days"),
            "{err}"
        );
        let s = Scenario::parse(
            &text("{ count = 10000, major = 1, spacing_days = 0.1 }", "v9"),
            "t",
        )
        .unwrap();
        let h = s.bots[0].history.clone().unwrap();
        assert_eq!((h.id(0), h.id(9999)), ("v1.0.0".into(), "v1.9999.0".into()));
        assert!((h.age_days(0) - (14.0 + 999.9)).abs() < 1e-9);
        let err = Scenario::parse(&text("{ count = 3, major = 2 }", "v2.1.0"), "t").unwrap_err();
        assert!(
            err.contains(
                "version 'v2.1.0' is defined twice (its history generates v2.0.0 to v2.2.0)"
            ),
            "{err}"
        );
    }

    #[test]
    fn bad_scenario_names_the_line() {
        let err = Scenario::parse("name = \"x\"\nbogus = 1\n", "t.toml").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }
}

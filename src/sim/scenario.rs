//! Scenarios: the world the simulator starts from, in TOML (see `assets/scenarios/`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::domain::{FlowRef, Stage, VersionStatus};

/// The built-in demo world.
pub const DEMO_SCENARIO: &str = include_str!("../../assets/scenarios/demo.toml");
/// The world of `relcon demo --backend cognigy`: projects on several channels each.
pub const COGNIGY_SCENARIO: &str = include_str!("../../assets/scenarios/cognigy.toml");

/// The scenarios built into relcon, by the name `--scenario` takes.
pub const BUILT_IN: &[(&str, &str)] = &[("demo", DEMO_SCENARIO), ("cognigy", COGNIGY_SCENARIO)];

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
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistorySpec {
    pub count: u32,
    pub major: u32,
    /// Age in days of the newest generated version.
    #[serde(default = "default_age")]
    pub newest_age_days: f64,
}

fn default_age() -> f64 {
    14.0
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
        let scenario: Scenario = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(0);
            format!("scenario {origin}, line {line}: {}", e.message())
        })?;
        scenario.check()?;
        Ok(scenario)
    }

    /// Cross-references must resolve: bindings to environments, live versions to versions;
    /// traffic profiles must be in range.
    fn check(&self) -> Result<(), String> {
        for bot in &self.bots {
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
    fn bad_scenario_names_the_line() {
        let err = Scenario::parse("name = \"x\"\nbogus = 1\n", "t.toml").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }
}

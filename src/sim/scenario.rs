//! Scenarios: the world the simulator starts from, in TOML (see `assets/scenarios/`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::domain::{FlowRef, Stage, VersionStatus};

/// The built-in demo world.
pub const DEMO_SCENARIO: &str = include_str!("../../assets/scenarios/demo.toml");

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
    #[serde(default)]
    pub active_sessions: u32,
    /// Active sessions fall by this many per simulator minute (0: steady).
    #[serde(default)]
    pub drain_per_minute: f64,
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

/// How a version behaves under traffic.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Profile {
    pub error_rate: f64,
    pub latency_ms: f64,
    pub satisfaction: f64,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            error_rate: 0.012,
            latency_ms: 420.0,
            satisfaction: 4.3,
        }
    }
}

/// A version that gets worse once it has had traffic for `after_minutes`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Regression {
    pub after_minutes: f64,
    #[serde(default = "one")]
    pub error_factor: f64,
    #[serde(default = "one")]
    pub latency_factor: f64,
    #[serde(default)]
    pub satisfaction_delta: f64,
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

    pub fn load(path: &Path) -> Result<Scenario, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read scenario {}: {e}", path.display()))?;
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

    /// Cross-references must resolve: bindings to environments, live versions to versions.
    fn check(&self) -> Result<(), String> {
        for bot in &self.bots {
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
    fn bad_scenario_names_the_line() {
        let err = Scenario::parse("name = \"x\"\nbogus = 1\n", "t.toml").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }
}

//! What a running workflow tells the world: typed progress events over a channel, and the
//! commands an operator can send back to it. The TUI and the headless CLI consume the same
//! events; the audit trail records the decisions they describe.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::MetricSummary;

/// Identifies one workflow run within this process.
pub type OpId = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowKind {
    Deploy,
    Canary,
    Rollback,
    Flows,
    Environment,
}

impl WorkflowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowKind::Deploy => "deploy",
            WorkflowKind::Canary => "canary",
            WorkflowKind::Rollback => "rollback",
            WorkflowKind::Flows => "flows",
            WorkflowKind::Environment => "environment",
        }
    }
}

/// How a workflow ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Everything it set out to do is done.
    Succeeded,
    /// It failed or breached a threshold and restored the previous state.
    RolledBack,
    /// Validation refused to start it; nothing changed.
    Refused,
    /// It failed and could not restore (or there was nothing to restore).
    Failed,
    /// The operator aborted it.
    Cancelled,
    /// It ran out of time waiting for the server.
    TimedOut,
    /// It stopped for a person's decision and nobody was there to answer (a headless
    /// canary whose evidence did not settle): it is left paused on the server.
    Paused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::RolledBack => "rolled_back",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
            Outcome::Cancelled => "cancelled",
            Outcome::TimedOut => "timed_out",
            Outcome::Paused => "paused",
        }
    }
}

/// One metric's judgement at a canary look: both arms' estimates, the anytime-valid
/// interval on their difference, the tolerance and guardrail it was held against, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricVerdict {
    /// `error_rate`, `fallback_rate`, `handoff_rate`, `latency_ms`, `satisfaction_score` or
    /// `intent_score`.
    pub metric: String,
    pub verdict: Verdict,
    /// The data the numbers below cover: `since the canary started`, or `in the current
    /// step (25%)` when the failure showed within the step alone.
    #[serde(default)]
    pub scope: String,
    /// Observations behind each arm's estimate (rated conversations for CSAT).
    #[serde(default)]
    pub n_canary: u64,
    #[serde(default)]
    pub n_baseline: u64,
    pub canary: Option<f64>,
    pub baseline: Option<f64>,
    /// Canary minus baseline (block-adjusted), in the metric's units.
    #[serde(default)]
    pub difference: Option<f64>,
    /// The confidence sequence on the difference at the rollback level (1 − alpha / tests):
    /// wholly beyond the tolerance is a failure. `None` while unbounded.
    #[serde(default)]
    pub interval: Option<[f64; 2]>,
    /// The confidence sequence at the promotion level (1 − beta): wholly within the
    /// tolerance is a pass.
    #[serde(default)]
    pub pass_interval: Option<[f64; 2]>,
    /// The degradation tolerated, signed in the worse direction (`+0.01` for error rate,
    /// `-0.2` for CSAT).
    #[serde(default)]
    pub tolerance: f64,
    /// The limit a pass is held to at this step: the tolerance times the step's exposure
    /// margin (`100 / next weight`), signed like the tolerance.
    #[serde(default)]
    pub margin: f64,
    /// The absolute limit on the canary's own value, if any.
    #[serde(default)]
    pub guardrail: Option<f64>,
    /// The confidence sequence on the canary's own value, held against the guardrail.
    #[serde(default)]
    pub guardrail_interval: Option<[f64; 2]>,
    /// Anytime-valid p-value of "the arms do not differ".
    #[serde(default)]
    pub p_value: Option<f64>,
    /// For an inconclusive metric: how much more data would settle it.
    #[serde(default)]
    pub need: Option<Need>,
    /// One line a release manager can act on.
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Within tolerance, with the confidence the canary's level asks.
    Pass,
    /// Worse than tolerated (or past a guardrail), with that confidence.
    Fail,
    /// Not enough evidence either way yet.
    Inconclusive,
}

/// How much more canary data an inconclusive judgement needs, at the current split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Need {
    /// More canary observations (in `unit`).
    pub more: u64,
    /// `conversations` or `rated conversations`.
    pub unit: String,
    /// The canary's recent rate of them.
    pub per_minute: Option<f64>,
    /// Server seconds until they arrive at that rate.
    pub eta_seconds: Option<f64>,
}

impl Need {
    /// `need ~140 more canary conversations; at 38/min ≈ 3:40`.
    pub fn describe(&self) -> String {
        let mut s = format!("need ~{} more canary {}", self.more, self.unit);
        if let (Some(r), Some(eta)) = (self.per_minute, self.eta_seconds)
            && r > 0.0
        {
            let eta = eta.round() as u64;
            s.push_str(&format!(
                "; at {}/min ≈ {}:{:02}",
                if r >= 10.0 {
                    format!("{r:.0}")
                } else {
                    format!("{r:.1}")
                },
                eta / 60,
                eta % 60
            ));
        }
        s
    }
}

/// A canary look: both arms' figures since the canary started, the verdict per metric, and
/// where the current step stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanarySample {
    /// 1-based step number and the number of steps in the plan.
    pub step: usize,
    pub steps_total: usize,
    /// The canary share relcon set, and the share the server reports.
    pub weight_set: f64,
    pub weight_actual: Option<f64>,
    /// Each arm since the canary started (the window below).
    pub baseline: MetricSummary,
    pub canary: MetricSummary,
    /// Conversations of each arm in the current step alone.
    #[serde(default)]
    pub step_canary: u64,
    #[serde(default)]
    pub step_baseline: u64,
    /// The server time the counts cover, RFC 3339: from the canary's start to the last
    /// complete bucket.
    #[serde(default)]
    pub window_start: Option<String>,
    #[serde(default)]
    pub window_end: Option<String>,
    /// The overall verdict at this look.
    #[serde(default = "inconclusive")]
    pub verdict: Verdict,
    pub verdicts: Vec<MetricVerdict>,
    /// Server seconds the step has been held, and its shortest and longest hold.
    #[serde(default)]
    pub held_seconds: f64,
    #[serde(default)]
    pub min_hold_seconds: f64,
    #[serde(default)]
    pub max_hold_seconds: f64,
}

fn inconclusive() -> Verdict {
    Verdict::Inconclusive
}

/// A decision of the canary's analysis: what it saw and what it did. Every one is audited,
/// listed in the console and returned in `relcon canary --output json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanaryDecision {
    /// Wall time of the decision, RFC 3339.
    pub at: String,
    pub step: usize,
    pub weight: f64,
    pub verdict: Verdict,
    /// `advance`, `extend`, `promote`, `roll back`, `pause`, or an operator's command.
    pub action: String,
    /// Why, in one line.
    pub reason: String,
    /// Canary and baseline conversations behind it.
    pub n_canary: u64,
    pub n_baseline: u64,
    pub metrics: Vec<MetricVerdict>,
}

/// What happened, with when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressEvent {
    pub op: OpId,
    pub at: DateTime<Utc>,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// The workflow began; `steps` names the steps it plans to run, in order.
    Started {
        workflow: WorkflowKind,
        title: String,
        bot: Option<String>,
        steps: Vec<String>,
        /// The operation id its audit records, journal and webhooks carry.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operation: Option<String>,
    },
    StepStarted {
        step: String,
    },
    StepFinished {
        step: String,
        detail: Option<String>,
    },
    StepFailed {
        step: String,
        reason: String,
    },
    /// Free-form progress: a poll result, a retry, a server state.
    Detail {
        message: String,
    },
    /// Nothing happens until `wait` (server time) has passed: the next poll or canary step.
    Waiting {
        what: String,
        #[serde(with = "duration_secs")]
        wait: Duration,
    },
    Canary(Box<CanarySample>),
    CanaryDecision(Box<CanaryDecision>),
    /// The server-side operation this run created (deployment, canary or job id), so a
    /// console can show the two as one.
    Linked {
        server_id: String,
    },
    Paused,
    Resumed,
    Finished {
        outcome: Outcome,
        summary: String,
    },
}

/// What an operator can tell a running workflow. Workflows that cannot honour a command
/// report so with a `Detail` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpCommand {
    /// Canary: go to the next traffic step now.
    PromoteStep,
    /// Canary: promote the canary version to 100% now.
    PromoteFull,
    Pause,
    Resume,
    /// Stop and restore the previous state.
    Abort,
}

mod duration_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Ok(Duration::from_secs_f64(secs.max(0.0)))
    }
}

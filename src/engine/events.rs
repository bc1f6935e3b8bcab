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
        }
    }
}

/// One metric's judgement at a canary decision point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricVerdict {
    /// `error_rate`, `avg_latency_ms` or `satisfaction_score`.
    pub metric: String,
    pub verdict: Verdict,
    pub canary: Option<f64>,
    pub baseline: Option<f64>,
    pub threshold: f64,
    /// Why, in words a release manager can act on.
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    /// Not enough conversations yet to judge.
    Inconclusive,
}

/// A canary decision point: both arms' figures and the verdict per metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanarySample {
    /// 1-based step number and the number of steps in the plan.
    pub step: usize,
    pub steps_total: usize,
    /// The canary share relcon set, and the share the server reports.
    pub weight_set: f64,
    pub weight_actual: Option<f64>,
    pub baseline: MetricSummary,
    pub canary: MetricSummary,
    pub verdicts: Vec<MetricVerdict>,
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
    Canary(CanarySample),
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

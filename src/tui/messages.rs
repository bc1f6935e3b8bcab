//! The typed messages between the console and the runtime that serves it: `Effect`s go out
//! (everything the console wants done), `Update`s come back (everything it learns). The
//! console never waits on the network; it only sends effects and reacts to updates.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::{BotSummary, Canary, MetricsSeries, Operation, Thresholds, Version};
use crate::engine::events::{OpCommand, OpId, ProgressEvent};
pub use crate::schedule::Interest;

/// Identifies one fetch the console asked for. The runtime echoes it on the matching
/// `Update`; the console applies only responses at least as new as the newest request
/// that changed what the view shows (latest wins).
pub type RequestId = u64;

/// Which overview data to fetch again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefreshWhat {
    /// Bots, operations, canaries and the timeline.
    All,
    Bots,
    Operations,
    Canaries,
    Timeline,
}

/// What a read was of: the console shows how old each is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Seen {
    Bots,
    Bot(String),
    /// The selected bot's versions (its id).
    Versions(String),
    Operations,
    Canaries,
    /// The canary chart of a bot (its id).
    Series(String),
}

/// A canary plan as the operator filled it in, parsed and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryRequest {
    pub bot: String,
    pub version: String,
    pub env: String,
    /// Canary traffic shares in percent, ascending, the last one usually 100.
    pub steps: Vec<f64>,
    /// Shortest hold of each step (server time).
    pub interval: Duration,
    /// Longest hold of a step before the canary pauses for a decision.
    pub max_hold: Duration,
    /// Guardrails on the canary's own values.
    pub thresholds: Thresholds,
    /// Observations per arm needed before a metric is judged.
    pub min_conversations: u64,
}

/// Everything the console asks the runtime to do. Built by `App::update`, executed by the
/// runtime; the console never performs I/O itself.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Fetch overview data again; answered with `Update::Bots`, `Operations`, `Canaries`
    /// and/or `Timeline` carrying `req`.
    Refresh {
        what: RefreshWhat,
        req: RequestId,
    },
    /// What the screen shows changed: the runtime's scheduler keeps it fresh (the
    /// selected bot, its versions as far as they are scrolled, the canary chart), answering
    /// with `Update::Bot`, `Versions`, `Series` and `Unchanged`.
    Interest(Interest),
    /// Blue-green deploy of `version` to the idle environment `env`, then switch traffic.
    StartDeploy {
        bot: String,
        version: String,
        env: String,
    },
    StartCanary(CanaryRequest),
    /// Roll `bot` back to `version`; the workflow refuses while more than
    /// `max_active_sessions` sessions are active.
    StartRollback {
        bot: String,
        version: String,
        max_active_sessions: u32,
    },
    StartFlowsDeploy {
        env: String,
    },
    StartEnvDeploy {
        env: String,
        snapshot_path: PathBuf,
    },
    /// Tell a running workflow something (promote, pause, resume, abort).
    Command {
        op: OpId,
        cmd: OpCommand,
    },
    /// Put this text on the terminal's clipboard (OSC 52); the console's loop does it.
    Copy(String),
    /// The console is closing; the runtime should shut down.
    Quit,
}

impl Effect {
    /// Whether this effect changes anything on a server (refused in read-only mode).
    pub fn is_mutating(&self) -> bool {
        matches!(
            self,
            Effect::StartDeploy { .. }
                | Effect::StartCanary(_)
                | Effect::StartRollback { .. }
                | Effect::StartFlowsDeploy { .. }
                | Effect::StartEnvDeploy { .. }
                | Effect::Command { .. }
        )
    }
}

/// One line of the timeline: a decision or state change with the figures behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    /// The operation it belongs to (server id, or `#n` for a workflow of this process).
    pub op: Option<String>,
    pub bot: Option<String>,
    pub text: String,
    /// Named figures, in display order (`error_rate` → `1.2% vs 0.9%`).
    pub figures: Vec<(String, String)>,
}

/// Everything the runtime tells the console.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    Bots {
        req: RequestId,
        bots: Vec<BotSummary>,
    },
    /// One bot, read alone (the selected one).
    Bot {
        req: RequestId,
        bot: Box<BotSummary>,
    },
    /// One page (1-based, newest first) of a bot's versions; `total` is how many it has,
    /// when the server says. A first page shorter than `size` is the whole list.
    Versions {
        req: RequestId,
        bot: String,
        page: u32,
        size: u32,
        total: Option<u64>,
        versions: Vec<Version>,
    },
    /// A read found its data as the console has it (nothing to apply, only fresher).
    Unchanged {
        what: Seen,
    },
    /// The requests this profile sent in the platform's window, of its budget.
    Budget {
        in_window: u32,
        budget: u32,
        rate_limited: u64,
    },
    Operations {
        req: RequestId,
        operations: Vec<Operation>,
    },
    Canaries {
        req: RequestId,
        canaries: Vec<Canary>,
    },
    Series {
        req: RequestId,
        bot: String,
        series: Box<MetricsSeries>,
    },
    /// A running workflow's progress (pushed, no request id).
    Progress(ProgressEvent),
    /// The audit trail, newest last; replaces what the console had from it.
    Timeline {
        req: RequestId,
        entries: Vec<TimelineEntry>,
    },
    Connection {
        ok: bool,
        detail: String,
    },
    /// Something went wrong: what happened and what to do about it.
    Error {
        title: String,
        detail: String,
        hint: String,
    },
}

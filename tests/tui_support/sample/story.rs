//! The sample canary of care-bot v8 as the real judge decided it, frozen in `canary.json`
//! (how it is made, and how to make it again: `simulate.rs`). Up to the sample's now: step
//! 1 (5%) extended and promoted early by the operator, step 2 (25%) passed, step 3 (50%)
//! held while the judge waits for evidence. Then one of two futures: v8's payment flow
//! fails and the judge rolls it back, or its CSAT sits at the tolerance and the canary
//! pauses for a person.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::domain::{MetricPoint, MetricSummary};
use crate::engine::events::{CanaryDecision, CanarySample, EventKind};

/// Server seconds since the server's epoch at the sample's now: minute 1040.
pub const EPOCH_OFFSET: i64 = 1040 * 60;

/// One future of the canary, as the console is fed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Story {
    /// `(seconds from the sample's now, event)`, in order.
    pub events: Vec<(i64, EventKind)>,
    /// Events up to and including the sample's now.
    pub until_now: usize,
    /// When the canary finished rolling back, or paused (seconds from now).
    pub ended: i64,
    /// Per-minute points of each arm (20 minutes of v7 alone before the canary).
    pub canary: Vec<MetricPoint>,
    pub baseline: Vec<MetricPoint>,
}

/// A stretch of the canary: its events and the minutes of each arm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    pub events: Vec<(i64, EventKind)>,
    pub canary: Vec<MetricPoint>,
    pub baseline: Vec<MetricPoint>,
}

/// What `canary.json` holds: the canary up to the sample's now, and its two futures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Frozen {
    pub now: Part,
    pub rolled_back: Part,
    pub paused: Part,
}

impl Frozen {
    fn story(&self, future: &Part) -> Story {
        let join = |a: &[MetricPoint], b: &[MetricPoint]| [a, b].concat();
        Story {
            until_now: self.now.events.len(),
            ended: future.events.last().map_or(0, |(t, _)| *t),
            events: [self.now.events.as_slice(), future.events.as_slice()].concat(),
            canary: join(&self.now.canary, &future.canary),
            baseline: join(&self.now.baseline, &future.baseline),
        }
    }
}

pub struct Stories {
    pub rolled_back: Story,
    pub paused: Story,
}

pub fn stories() -> &'static Stories {
    static STORIES: OnceLock<Stories> = OnceLock::new();
    STORIES.get_or_init(|| {
        let frozen: Frozen = match serde_json::from_str(include_str!("canary.json")) {
            Ok(f) => f,
            Err(e) => panic!(
                "tests/tui_support/sample/canary.json no longer reads ({e}); regenerate it: \
                 cargo test --test tui_sample regenerate_the_sample_canary -- --ignored"
            ),
        };
        Stories {
            rolled_back: frozen.story(&frozen.rolled_back),
            paused: frozen.story(&frozen.paused),
        }
    })
}

/// The canary rolled back once v8 regresses after the sample's now.
pub fn story() -> &'static Story {
    &stories().rolled_back
}

/// The canary paused for a person after the sample's now.
pub fn paused_story() -> &'static Story {
    &stories().paused
}

/// The points of the minutes complete at `until` (seconds from the sample's now).
pub fn minutes(points: &[MetricPoint], until: i64) -> Vec<MetricPoint> {
    let until_t = until + EPOCH_OFFSET;
    points
        .iter()
        .take_while(|p| (p.minute + 1) * 60 <= until_t)
        .cloned()
        .collect()
}

/// Points added up: counts summed, means weighted by what they average.
pub fn merge_points(group: &[&MetricPoint]) -> MetricPoint {
    let s = MetricSummary::from_points(group.iter().copied());
    MetricPoint {
        conversations: s.conversation_count,
        errors: s.error_count,
        fallbacks: s.fallback_count,
        handoffs: s.handoff_count,
        rated: s.rated_count,
        error_rate: s.error_rate,
        avg_latency_ms: s.avg_latency_ms,
        p95_latency_ms: s.p95_latency_ms,
        satisfaction_score: s.satisfaction_score,
        intent_score: s.intent_score,
        weight: group.last().and_then(|p| p.weight),
        ..MetricPoint::default()
    }
}

/// The last look among `events`, and every decision.
pub fn last_look(events: &[(i64, EventKind)]) -> (CanarySample, Vec<CanaryDecision>) {
    let mut sample = None;
    let mut decisions = Vec::new();
    for (_, e) in events {
        match e {
            EventKind::Canary(s) => sample = Some((**s).clone()),
            EventKind::CanaryDecision(d) => decisions.push((**d).clone()),
            _ => {}
        }
    }
    match sample {
        Some(s) => (s, decisions),
        None => panic!("the sample canary has looked"),
    }
}

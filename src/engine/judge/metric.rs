//! The metrics a canary can be gated on: how each is read from the server's buckets, which
//! direction is worse, its units and its defaults.

use serde::{Deserialize, Serialize};

use super::stats::Moments;
use crate::domain::MetricPoint;

/// A bot-quality metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Conversations that ended in an error.
    ErrorRate,
    /// Conversations the bot did not understand.
    FallbackRate,
    /// Conversations handed off to a human agent.
    HandoffRate,
    /// Mean latency per conversation.
    LatencyMs,
    /// Mean CSAT (1-5) of rated conversations.
    SatisfactionScore,
    /// Mean NLU intent score (0-1).
    IntentScore,
}

/// What kind of observation a metric averages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 0/1 per conversation.
    Rate,
    /// A measurement per conversation (or per rated conversation).
    Mean,
}

impl Metric {
    pub const ALL: [Metric; 6] = [
        Metric::ErrorRate,
        Metric::FallbackRate,
        Metric::HandoffRate,
        Metric::LatencyMs,
        Metric::SatisfactionScore,
        Metric::IntentScore,
    ];

    /// The name in config files, flags, JSON and the audit trail.
    pub fn key(self) -> &'static str {
        match self {
            Metric::ErrorRate => "error_rate",
            Metric::FallbackRate => "fallback_rate",
            Metric::HandoffRate => "handoff_rate",
            Metric::LatencyMs => "latency_ms",
            Metric::SatisfactionScore => "satisfaction_score",
            Metric::IntentScore => "intent_score",
        }
    }

    pub fn parse(text: &str) -> Option<Metric> {
        let t = text.trim();
        Metric::ALL.into_iter().find(|m| m.key() == t).or(match t {
            "avg_latency_ms" | "max_latency_ms" | "latency" => Some(Metric::LatencyMs),
            "satisfaction" | "csat" => Some(Metric::SatisfactionScore),
            _ => None,
        })
    }

    /// Words for people.
    pub fn label(self) -> &'static str {
        match self {
            Metric::ErrorRate => "error rate",
            Metric::FallbackRate => "fallback rate",
            Metric::HandoffRate => "hand-off rate",
            Metric::LatencyMs => "latency",
            Metric::SatisfactionScore => "CSAT",
            Metric::IntentScore => "intent score",
        }
    }

    pub fn kind(self) -> Kind {
        match self {
            Metric::ErrorRate | Metric::FallbackRate | Metric::HandoffRate => Kind::Rate,
            _ => Kind::Mean,
        }
    }

    /// True when a higher value is worse (errors, latency); false when lower is worse.
    pub fn higher_is_worse(self) -> bool {
        !matches!(self, Metric::SatisfactionScore | Metric::IntentScore)
    }

    /// The degradation tolerated by default, in the metric's units (a fraction for rates).
    pub fn default_tolerance(self) -> f64 {
        match self {
            Metric::ErrorRate => 0.01,
            Metric::FallbackRate => 0.03,
            Metric::HandoffRate => 0.02,
            Metric::LatencyMs => 100.0,
            Metric::SatisfactionScore => 0.2,
            Metric::IntentScore => 0.03,
        }
    }

    /// A typical per-conversation standard deviation, to centre the test's prior on effects
    /// the size of the tolerance (`φ = (σ/τ)²`). Only efficiency depends on it, not validity.
    pub fn typical_sd(self) -> f64 {
        match self {
            Metric::ErrorRate => 0.14,
            Metric::FallbackRate => 0.24,
            Metric::HandoffRate => 0.2,
            Metric::LatencyMs => 160.0,
            Metric::SatisfactionScore => 0.9,
            Metric::IntentScore => 0.08,
        }
    }

    /// What the judge counts for this metric: conversations, or rated conversations.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::SatisfactionScore => "rated conversations",
            _ => "conversations",
        }
    }

    /// The bucket's observations of this metric; `None` when it reports none.
    pub fn moments(self, p: &MetricPoint) -> Option<Moments> {
        let n = p.conversations;
        if n == 0 {
            return None;
        }
        match self {
            Metric::ErrorRate => Some(Moments::from_counts(n, p.errors)),
            Metric::FallbackRate => Some(Moments::from_counts(n, p.fallbacks)),
            Metric::HandoffRate => Some(Moments::from_counts(n, p.handoffs)),
            Metric::LatencyMs => Some(Moments::from_mean_sd(
                n,
                p.avg_latency_ms?,
                p.latency_sd_ms.unwrap_or(0.0),
            )),
            Metric::SatisfactionScore => (p.rated > 0).then(|| {
                Moments::from_mean_sd(
                    p.rated,
                    p.satisfaction_score.unwrap_or(0.0),
                    p.satisfaction_sd.unwrap_or(0.0),
                )
            }),
            Metric::IntentScore => Some(Moments::from_mean_sd(
                n,
                p.intent_score?,
                p.intent_score_sd.unwrap_or(0.0),
            )),
        }
    }

    /// A value in the metric's display units: `2.1%`, `412 ms`, `4.21`, `0.86`.
    pub fn value(self, x: f64) -> String {
        match self.kind() {
            Kind::Rate => format!("{:.1}%", x * 100.0),
            Kind::Mean => match self {
                Metric::LatencyMs => format!("{x:.0} ms"),
                _ => format!("{x:.2}"),
            },
        }
    }

    /// A signed difference: `+4.1 pp`, `-12 ms`, `+0.05`.
    pub fn delta(self, x: f64) -> String {
        let x = if x.abs() < 1e-12 { 0.0 } else { x };
        match self.kind() {
            Kind::Rate => format!("{:+.1} pp", x * 100.0),
            Kind::Mean => match self {
                Metric::LatencyMs => format!("{x:+.0} ms"),
                _ => format!("{x:+.2}"),
            },
        }
    }

    /// A signed difference without units, for interval bounds: `+2.3`, `-12`.
    pub fn bound(self, x: f64) -> String {
        if !x.is_finite() {
            return if x > 0.0 {
                "+∞".into()
            } else {
                "-∞".into()
            };
        }
        let x = if x.abs() < 1e-12 { 0.0 } else { x };
        match self.kind() {
            Kind::Rate => format!("{:+.1}", x * 100.0),
            Kind::Mean => match self {
                Metric::LatencyMs => format!("{x:+.0}"),
                _ => format!("{x:+.2}"),
            },
        }
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

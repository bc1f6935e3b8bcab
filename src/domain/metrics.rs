//! Conversation metrics: per-minute points and window summaries.

use serde::{Deserialize, Serialize};

/// Rollback thresholds of a canary, as the seeds name them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Highest acceptable error rate (0..=1).
    pub error_rate: f64,
    /// Lowest acceptable satisfaction score (0..=5).
    pub satisfaction_score: f64,
    /// Highest acceptable average latency in milliseconds.
    pub max_latency_ms: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            error_rate: 0.05,
            satisfaction_score: 3.5,
            max_latency_ms: 1500.0,
        }
    }
}

/// One minute of conversations for some slice of traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricPoint {
    /// Simulator/server minute index since the world started.
    pub minute: i64,
    pub at: String,
    pub conversations: u64,
    pub errors: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_latency_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_latency_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfaction_score: Option<f64>,
}

/// Per-minute series for a bot (and optionally one environment), split into canary arms
/// while a canary runs or ran within the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricsSeries {
    pub bot_id: String,
    #[serde(default)]
    pub environment_id: Option<String>,
    pub step_seconds: u64,
    pub total: Vec<MetricPoint>,
    #[serde(default)]
    pub baseline: Vec<MetricPoint>,
    #[serde(default)]
    pub canary: Vec<MetricPoint>,
}

/// A window summary, in the shape of seed 001's `/api/v1/metrics/conversations`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MetricSummary {
    pub conversation_count: u64,
    #[serde(default)]
    pub error_count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfaction_score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_latency_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_latency_ms: Option<f64>,
}

impl MetricSummary {
    /// Combine per-minute points into one summary, weighting by conversations.
    pub fn from_points<'a>(points: impl IntoIterator<Item = &'a MetricPoint>) -> MetricSummary {
        let mut n = 0u64;
        let mut errors = 0u64;
        let mut lat = 0.0;
        let mut p95: f64 = 0.0;
        let mut sat = 0.0;
        for p in points {
            if p.conversations == 0 {
                continue;
            }
            n += p.conversations;
            errors += p.errors;
            let w = p.conversations as f64;
            lat += p.avg_latency_ms.unwrap_or(0.0) * w;
            sat += p.satisfaction_score.unwrap_or(0.0) * w;
            p95 = p95.max(p.p95_latency_ms.unwrap_or(0.0));
        }
        if n == 0 {
            return MetricSummary::default();
        }
        let nf = n as f64;
        MetricSummary {
            conversation_count: n,
            error_count: errors,
            error_rate: Some(errors as f64 / nf),
            satisfaction_score: Some(sat / nf),
            avg_latency_ms: Some(lat / nf),
            p95_latency_ms: Some(p95),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(n: u64, e: u64, lat: f64, sat: f64) -> MetricPoint {
        MetricPoint {
            minute: 0,
            at: String::new(),
            conversations: n,
            errors: e,
            error_rate: Some(e as f64 / n.max(1) as f64),
            avg_latency_ms: Some(lat),
            p95_latency_ms: Some(lat * 2.0),
            satisfaction_score: Some(sat),
        }
    }

    #[test]
    fn summary_weights_by_conversations() {
        let s = MetricSummary::from_points(&[point(10, 1, 100.0, 4.0), point(30, 0, 200.0, 3.0)]);
        assert_eq!(s.conversation_count, 40);
        assert_eq!(s.error_count, 1);
        assert!((s.error_rate.unwrap() - 0.025).abs() < 1e-9);
        assert!((s.avg_latency_ms.unwrap() - 175.0).abs() < 1e-9);
        assert!((s.satisfaction_score.unwrap() - 3.25).abs() < 1e-9);
    }

    #[test]
    fn empty_summary_has_no_rates() {
        let s = MetricSummary::from_points(&[]);
        assert_eq!(s.conversation_count, 0);
        assert!(s.error_rate.is_none());
        let json = serde_json::to_value(&s).unwrap();
        assert!(json.get("error_rate").is_none());
    }
}

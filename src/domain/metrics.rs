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

/// One bucket of conversations (a minute, or `step_seconds` of a series) for some slice of
/// traffic: counts where the metric is a rate, mean and standard deviation where it is a
/// measurement, so a judge can rebuild every sufficient statistic.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricPoint {
    /// The minute the bucket starts in (server minutes since the server's epoch).
    pub minute: i64,
    /// Bucket start in server seconds since the server's epoch (monotonic, for ordering).
    #[serde(default)]
    pub t: i64,
    /// Bucket start, RFC 3339.
    pub at: String,
    /// The bucket is still filling (it ends after the time of the read).
    #[serde(default, skip_serializing_if = "is_false")]
    pub partial: bool,
    pub conversations: u64,
    pub errors: u64,
    /// Conversations the bot did not understand (fell back).
    #[serde(default)]
    pub fallbacks: u64,
    /// Conversations handed off to a human agent.
    #[serde(default)]
    pub handoffs: u64,
    /// Conversations the user rated (CSAT).
    #[serde(default)]
    pub rated: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    /// Mean latency per conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_latency_ms: Option<f64>,
    /// Standard deviation of latency across the bucket's conversations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_sd_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_latency_ms: Option<f64>,
    /// Mean CSAT (1-5) of the rated conversations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfaction_score: Option<f64>,
    /// Standard deviation of the ratings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfaction_sd: Option<f64>,
    /// Mean NLU intent score (0-1) per conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent_score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent_score_sd: Option<f64>,
    /// Canary share of the environment's traffic (percent) while the bucket was served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl MetricPoint {
    pub fn fallback_rate(&self) -> Option<f64> {
        rate(self.fallbacks, self.conversations)
    }

    pub fn handoff_rate(&self) -> Option<f64> {
        rate(self.handoffs, self.conversations)
    }
}

fn rate(x: u64, n: u64) -> Option<f64> {
    (n > 0).then(|| x as f64 / n as f64)
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

/// A window summary, in the shape of seed 001's `/api/v1/metrics/conversations`, with the
/// bot-quality counts beside the seed's four figures and the window it covers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MetricSummary {
    pub conversation_count: u64,
    #[serde(default)]
    pub error_count: u64,
    #[serde(default)]
    pub fallback_count: u64,
    #[serde(default)]
    pub handoff_count: u64,
    #[serde(default)]
    pub rated_count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfaction_score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_latency_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_latency_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent_score: Option<f64>,
    /// The window the counts cover (RFC 3339), when the server says.
    #[serde(
        default,
        rename = "windowStart",
        skip_serializing_if = "Option::is_none"
    )]
    pub window_start: Option<String>,
    #[serde(default, rename = "windowEnd", skip_serializing_if = "Option::is_none")]
    pub window_end: Option<String>,
}

impl MetricSummary {
    /// Combine points into one summary: counts add up, means are weighted by the
    /// conversations (ratings for CSAT) behind them, p95 is the worst bucket's.
    pub fn from_points<'a>(points: impl IntoIterator<Item = &'a MetricPoint>) -> MetricSummary {
        let mut s = MetricSummary::default();
        let (mut lat, mut sat, mut intent) = (0.0, 0.0, 0.0);
        let (mut lat_n, mut intent_n) = (0u64, 0u64);
        let mut p95: Option<f64> = None;
        for p in points {
            if p.conversations == 0 {
                continue;
            }
            s.conversation_count += p.conversations;
            s.error_count += p.errors;
            s.fallback_count += p.fallbacks;
            s.handoff_count += p.handoffs;
            if let Some(l) = p.avg_latency_ms {
                lat += l * p.conversations as f64;
                lat_n += p.conversations;
            }
            if let Some(v) = p.intent_score {
                intent += v * p.conversations as f64;
                intent_n += p.conversations;
            }
            if let Some(v) = p.satisfaction_score {
                // Older servers report no rated count: every conversation counts as rated.
                let rated = if p.rated > 0 {
                    p.rated
                } else {
                    p.conversations
                };
                sat += v * rated as f64;
                s.rated_count += rated;
            }
            if let Some(v) = p.p95_latency_ms {
                p95 = Some(p95.map_or(v, |m: f64| m.max(v)));
            }
        }
        let n = s.conversation_count;
        if n == 0 {
            return MetricSummary::default();
        }
        s.error_rate = rate(s.error_count, n);
        s.fallback_rate = rate(s.fallback_count, n);
        s.handoff_rate = rate(s.handoff_count, n);
        s.avg_latency_ms = (lat_n > 0).then(|| lat / lat_n as f64);
        s.intent_score = (intent_n > 0).then(|| intent / intent_n as f64);
        s.satisfaction_score = (s.rated_count > 0).then(|| sat / s.rated_count as f64);
        s.p95_latency_ms = p95;
        s
    }
}

/// Both arms of one canary, bucket by bucket, from `window_start` to `window_end`
/// (`GET /api/v1/canaries/{id}/metrics`). The arms share bucket starts; each bucket carries
/// the canary share it was served at.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryMetrics {
    pub canary_id: String,
    pub step_seconds: u64,
    pub window_start: String,
    pub window_end: String,
    #[serde(default)]
    pub baseline: Vec<MetricPoint>,
    #[serde(default)]
    pub canary: Vec<MetricPoint>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(n: u64, e: u64, lat: f64, sat: f64) -> MetricPoint {
        MetricPoint {
            conversations: n,
            errors: e,
            rated: n,
            error_rate: Some(e as f64 / n.max(1) as f64),
            avg_latency_ms: Some(lat),
            p95_latency_ms: Some(lat * 2.0),
            satisfaction_score: Some(sat),
            ..MetricPoint::default()
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

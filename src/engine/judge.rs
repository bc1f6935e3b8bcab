//! Canary judgement: the canary arm's figures against the plan's thresholds, with the
//! baseline alongside for context. Every verdict carries its reason. (A statistical
//! comparison of the arms belongs here too when it comes.)

use crate::domain::{MetricSummary, Thresholds};
use crate::engine::events::{MetricVerdict, Verdict};

/// The verdict per metric and overall.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub overall: Verdict,
    pub verdicts: Vec<MetricVerdict>,
}

impl Judgement {
    /// The failing metrics' reasons, joined.
    pub fn reasons(&self, verdict: Verdict) -> String {
        self.verdicts
            .iter()
            .filter(|v| v.verdict == verdict)
            .map(|v| v.reason.clone())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// Judge the canary arm. Below `min_conversations` every metric is inconclusive.
pub fn judge(
    t: &Thresholds,
    baseline: &MetricSummary,
    canary: &MetricSummary,
    min_conversations: u64,
) -> Judgement {
    let n = canary.conversation_count;
    let enough = n >= min_conversations.max(1);
    let mut verdicts = Vec::new();
    let mut push = |metric: &str,
                    value: Option<f64>,
                    base: Option<f64>,
                    threshold: f64,
                    worse: fn(f64, f64) -> bool,
                    fmt: fn(f64) -> String,
                    word: &str| {
        let (verdict, reason) = match value {
            _ if !enough => (
                Verdict::Inconclusive,
                format!("{n} of {min_conversations} conversations needed to judge {metric}"),
            ),
            None => (Verdict::Inconclusive, format!("no {metric} reported yet")),
            Some(v) if worse(v, threshold) => (
                Verdict::Fail,
                format!(
                    "{metric} {} {word} threshold {}{}",
                    fmt(v),
                    fmt(threshold),
                    base.map(|b| format!(" (baseline {})", fmt(b)))
                        .unwrap_or_default()
                ),
            ),
            Some(v) => (
                Verdict::Pass,
                format!(
                    "{metric} {} within threshold {}{}",
                    fmt(v),
                    fmt(threshold),
                    base.map(|b| format!(" (baseline {})", fmt(b)))
                        .unwrap_or_default()
                ),
            ),
        };
        verdicts.push(MetricVerdict {
            metric: metric.into(),
            verdict,
            canary: value,
            baseline: base,
            threshold,
            reason,
        });
    };
    push(
        "error_rate",
        canary.error_rate,
        baseline.error_rate,
        t.error_rate,
        |v, t| v > t,
        pct,
        "above",
    );
    push(
        "avg_latency_ms",
        canary.avg_latency_ms,
        baseline.avg_latency_ms,
        t.max_latency_ms,
        |v, t| v > t,
        |x| format!("{x:.0} ms"),
        "above",
    );
    push(
        "satisfaction_score",
        canary.satisfaction_score,
        baseline.satisfaction_score,
        t.satisfaction_score,
        |v, t| v < t,
        |x| format!("{x:.2}"),
        "below",
    );
    let overall = if verdicts.iter().any(|v| v.verdict == Verdict::Fail) {
        Verdict::Fail
    } else if verdicts.iter().any(|v| v.verdict == Verdict::Inconclusive) {
        Verdict::Inconclusive
    } else {
        Verdict::Pass
    };
    Judgement { overall, verdicts }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(n: u64, err: f64, lat: f64, sat: f64) -> MetricSummary {
        MetricSummary {
            conversation_count: n,
            error_count: (n as f64 * err) as u64,
            error_rate: Some(err),
            satisfaction_score: Some(sat),
            avg_latency_ms: Some(lat),
            p95_latency_ms: Some(lat * 2.0),
        }
    }

    #[test]
    fn passes_fails_and_waits_for_data() {
        let t = Thresholds::default();
        let base = summary(1000, 0.01, 400.0, 4.3);
        let good = judge(&t, &base, &summary(100, 0.02, 500.0, 4.1), 50);
        assert_eq!(good.overall, Verdict::Pass);
        let bad = judge(&t, &base, &summary(100, 0.06, 500.0, 4.1), 50);
        assert_eq!(bad.overall, Verdict::Fail);
        assert!(
            bad.reasons(Verdict::Fail)
                .contains("error_rate 6.0% above threshold 5.0% (baseline 1.0%)")
        );
        let slow = judge(&t, &base, &summary(100, 0.01, 1600.0, 4.1), 50);
        assert_eq!(slow.verdicts[1].verdict, Verdict::Fail);
        let sad = judge(&t, &base, &summary(100, 0.01, 400.0, 3.0), 50);
        assert_eq!(sad.verdicts[2].verdict, Verdict::Fail);
        let few = judge(&t, &base, &summary(10, 0.5, 400.0, 4.0), 50);
        assert_eq!(few.overall, Verdict::Inconclusive);
        assert!(few.verdicts[0].reason.contains("10 of 50"));
    }
}

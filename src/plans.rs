//! What a face asks for, made into the engine's plan with the profile's settings. The console
//! and the headless CLI build canaries here and nowhere else, so the same request gives the
//! same plan from either.

use std::time::Duration;

use crate::config::CanarySettings;
use crate::engine::canary::CanaryPlan;
use crate::engine::judge::policy::OnInconclusive;
use crate::engine::judge::{Gate, JudgeConfig, Metric, guardrail_of};

/// A canary as a face asks for it: everything left `None` comes from the profile.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CanaryAsk {
    pub bot: String,
    pub version: String,
    pub environment: Option<String>,
    /// Explicit steps are validated as given; the profile's are capped by max traffic.
    pub steps: Option<Vec<f64>>,
    pub interval: Option<Duration>,
    pub max_hold: Option<Duration>,
    pub max_traffic: Option<f64>,
    /// Guardrails `error_rate`, `satisfaction_score`, `max_latency_ms`.
    pub thresholds: Vec<(String, f64)>,
    /// Tolerated degradation per metric.
    pub tolerances: Vec<(String, f64)>,
    /// The metrics to gate on.
    pub gates: Option<Vec<String>>,
    pub alpha: Option<f64>,
    pub beta: Option<f64>,
    pub min_conversations: Option<u64>,
    pub on_inconclusive: Option<OnInconclusive>,
    pub failure_limit: Option<u32>,
    pub inconclusive_limit: Option<u32>,
    pub error_limit: Option<u32>,
    /// Someone can answer a pause (the console).
    pub interactive: bool,
}

/// Parse `name=value` (as `--threshold` and `--tolerance` take them).
pub fn parse_pair(flag: &str, spec: &str) -> Result<(String, f64), String> {
    let (k, v) = spec
        .split_once('=')
        .ok_or_else(|| format!("{flag} {spec}: write name=value, e.g. error_rate=0.05"))?;
    let v: f64 = v
        .trim()
        .parse()
        .map_err(|_| format!("{flag} {spec}: '{}' is not a number", v.trim()))?;
    Ok((k.trim().to_string(), v))
}

fn metric(name: &str, what: &str) -> Result<Metric, String> {
    Metric::parse(name).ok_or_else(|| {
        format!(
            "{what} {name}: unknown metric; use {}",
            Metric::ALL.map(|m| m.key()).join(", ")
        )
    })
}

/// The canary plan for `ask` under the profile's `[canary]` settings, validated.
pub fn canary(settings: &CanarySettings, ask: &CanaryAsk) -> Result<CanaryPlan, String> {
    let mut thresholds = settings.thresholds();
    for (k, v) in &ask.thresholds {
        match k.as_str() {
            "error_rate" => thresholds.error_rate = *v,
            "satisfaction_score" => thresholds.satisfaction_score = *v,
            "max_latency_ms" => thresholds.max_latency_ms = *v,
            other => {
                return Err(format!(
                    "--threshold {other}: unknown; use error_rate, satisfaction_score or max_latency_ms"
                ));
            }
        }
    }
    let gates: Vec<Metric> = match &ask.gates {
        Some(names) => names
            .iter()
            .map(|n| metric(n, "--gate"))
            .collect::<Result<_, _>>()?,
        None => settings.gates.clone(),
    };
    let tolerance = |m: Metric| settings.tolerance(m);
    let overrides: Vec<(Metric, f64)> = ask
        .tolerances
        .iter()
        .map(|(k, v)| {
            let m = metric(k, "--tolerance")?;
            if !(v.is_finite() && *v >= 0.0) {
                return Err(format!("--tolerance {k}={v}: use a number of 0 or more"));
            }
            Ok((m, *v))
        })
        .collect::<Result<_, String>>()?;
    let judge = JudgeConfig {
        alpha: ask.alpha.unwrap_or(settings.alpha),
        beta: ask.beta.unwrap_or(settings.beta),
        gates: gates
            .iter()
            .map(|m| Gate {
                metric: *m,
                tolerance: overrides
                    .iter()
                    .rev()
                    .find(|(o, _)| o == m)
                    .map(|(_, v)| *v)
                    .unwrap_or_else(|| tolerance(*m)),
                guardrail: guardrail_of(*m, &thresholds),
            })
            .collect(),
        min_per_arm: ask
            .min_conversations
            .unwrap_or(u64::from(settings.min_conversations)),
        steps: 1,
    };
    let mut budgets = settings.budgets();
    if let Some(i) = ask.interval {
        budgets.interval = i;
        // A longest hold below the new interval follows it up.
        if ask.max_hold.is_none() && budgets.max_hold < i {
            budgets.max_hold = i;
        }
    }
    if let Some(h) = ask.max_hold {
        budgets.max_hold = h;
    }
    if let Some(v) = ask.failure_limit {
        budgets.failure_limit = v;
    }
    if let Some(v) = ask.inconclusive_limit {
        budgets.inconclusive_limit = v;
    }
    if let Some(v) = ask.error_limit {
        budgets.error_limit = v;
    }
    if let Some(v) = ask.on_inconclusive {
        budgets.on_inconclusive = v;
    }
    let plan = CanaryPlan {
        bot: ask.bot.clone(),
        version: ask.version.clone(),
        environment: ask.environment.clone(),
        steps: ask
            .steps
            .clone()
            .unwrap_or_else(|| settings.steps.iter().map(|s| f64::from(*s)).collect()),
        max_traffic: ask.max_traffic.unwrap_or(f64::from(settings.max_traffic)),
        thresholds,
        judge,
        budgets,
        look_every: CanaryPlan::look_every_for(budgets.interval),
        interactive: ask.interactive,
    };
    let mut plan = if ask.steps.is_some() {
        plan
    } else {
        plan.capped()
    };
    plan.judge.steps = plan.steps.len().max(1);
    let problems = plan.problems();
    if problems.is_empty() {
        Ok(plan)
    } else {
        Err(format!("invalid canary plan: {}", problems.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask() -> CanaryAsk {
        CanaryAsk {
            bot: "b".into(),
            version: "v".into(),
            ..CanaryAsk::default()
        }
    }

    #[test]
    fn defaults_come_from_the_profile_and_are_capped() {
        let s = CanarySettings {
            max_traffic: 30,
            ..CanarySettings::default()
        };
        let p = canary(&s, &ask()).unwrap();
        assert_eq!(p.steps, vec![5.0, 10.0, 25.0, 30.0]);
        assert_eq!(p.judge.alpha, 0.01);
        assert_eq!(p.judge.gates.len(), Metric::ALL.len());
        assert_eq!(p.budgets, s.budgets());
        assert_eq!(p.look_every, Duration::from_secs(10));
        let e = &p.judge.gates[0];
        assert_eq!(
            (e.metric, e.tolerance, e.guardrail),
            (Metric::ErrorRate, 0.01, Some(0.05))
        );
    }

    #[test]
    fn explicit_steps_are_checked_not_capped() {
        let s = CanarySettings {
            max_traffic: 30,
            ..CanarySettings::default()
        };
        let err = canary(
            &s,
            &CanaryAsk {
                steps: Some(vec![10.0, 50.0]),
                ..ask()
            },
        )
        .unwrap_err();
        assert!(err.contains("above max traffic 30%"), "{err}");
    }

    #[test]
    fn overrides_win_and_bad_names_are_explained() {
        let s = CanarySettings::default();
        let p = canary(
            &s,
            &CanaryAsk {
                thresholds: vec![("error_rate".into(), 0.02)],
                tolerances: vec![("latency_ms".into(), 250.0)],
                gates: Some(vec!["error_rate".into(), "latency_ms".into()]),
                alpha: Some(0.05),
                interval: Some(Duration::from_secs(3600)),
                on_inconclusive: Some(OnInconclusive::Rollback),
                ..ask()
            },
        )
        .unwrap();
        assert_eq!(p.thresholds.error_rate, 0.02);
        assert_eq!(p.judge.gates[0].guardrail, Some(0.02));
        assert_eq!(p.judge.gates[1].tolerance, 250.0);
        assert_eq!(p.judge.gates.len(), 2);
        assert_eq!(p.judge.alpha, 0.05);
        assert!(p.budgets.max_hold >= p.budgets.interval);
        assert_eq!(p.budgets.on_inconclusive, OnInconclusive::Rollback);
        let err = canary(
            &s,
            &CanaryAsk {
                gates: Some(vec!["bogus".into()]),
                ..ask()
            },
        )
        .unwrap_err();
        assert!(
            err.contains("unknown metric") && err.contains("error_rate"),
            "{err}"
        );
        assert!(parse_pair("--threshold", "error_rate").is_err());
        assert_eq!(
            parse_pair("--tolerance", "latency_ms = 90").unwrap(),
            ("latency_ms".into(), 90.0)
        );
    }
}

//! The canary plan form: its fields, their defaults, and parsing them into a
//! `CanaryRequest` (or errors shown next to the fields).

use std::time::Duration;

use crate::domain::{Thresholds, parse_window};

use super::messages::CanaryRequest;
use super::model::CanaryTarget;
use super::theme::Tone;
use super::widgets::form::{FormField, FormState};

const STEPS: usize = 0;
const INTERVAL: usize = 1;
const MAX_HOLD: usize = 2;
const ERRORS: usize = 3;
const LATENCY: usize = 4;
const SATISFACTION: usize = 5;
const MIN_CONV: usize = 6;
/// Last, so the plan's own fields keep their places: as `relcon canary --environment`.
const ENVIRONMENT: usize = 7;

/// What the plan form starts with (the profile's `[canary]` settings).
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryDefaults {
    pub steps: Vec<f64>,
    pub interval: Duration,
    pub max_hold: Duration,
    pub thresholds: Thresholds,
    pub min_conversations: u64,
    /// How the canary is judged, in one line for the form's introduction.
    pub judge: String,
}

impl Default for CanaryDefaults {
    fn default() -> Self {
        CanaryDefaults {
            steps: vec![5.0, 25.0, 50.0, 100.0],
            interval: Duration::from_secs(300),
            max_hold: Duration::from_secs(1800),
            thresholds: Thresholds::default(),
            min_conversations: 100,
            judge: String::new(),
        }
    }
}

fn duration_text(d: Duration) -> String {
    let s = d.as_secs();
    if s > 0 && s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s > 0 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// The form for a canary in `env` (the bot's busiest production environment, as the CLI's
/// default) or any other of the bot's environments, `envs`.
pub fn canary_form(
    mut intro: Vec<(Tone, String)>,
    d: &CanaryDefaults,
    env: &str,
    envs: &[String],
) -> FormState {
    let t = &d.thresholds;
    for line in d.judge.lines() {
        intro.push((Tone::Muted, line.to_string()));
    }
    let steps = d
        .steps
        .iter()
        .map(|s| format!("{s}"))
        .collect::<Vec<_>>()
        .join(",");
    FormState {
        title: "Canary plan".to_string(),
        intro,
        fields: vec![
            FormField::new(
                "Steps (%)",
                &steps,
                "canary traffic per step, ascending, up to 100",
            ),
            FormField::new(
                "Interval",
                &duration_text(d.interval),
                "shortest hold of each step, and each extension (90s, 5m, 1h)",
            ),
            FormField::new(
                "Longest hold",
                &duration_text(d.max_hold),
                "a step still inconclusive after this pauses for you",
            ),
            FormField::new(
                "Max error rate",
                &format!("{}%", t.error_rate * 100.0),
                "guardrail: roll back when credibly above (5% or 0.05)",
            ),
            FormField::new(
                "Max latency (ms)",
                &format!("{}", t.max_latency_ms),
                "guardrail on the canary's mean latency",
            ),
            FormField::new(
                "Min satisfaction",
                &format!("{}", t.satisfaction_score),
                "guardrail on the canary's CSAT (0–5)",
            ),
            FormField::new(
                "Min conversations",
                &d.min_conversations.to_string(),
                "per arm, before a metric is judged",
            ),
            FormField::new(
                "Environment",
                env,
                &format!("where the canary runs: {}", envs.join(", ")),
            ),
        ],
        focus: 0,
    }
}

fn parse_rate(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, pct) = match s.strip_suffix('%') {
        Some(n) => (n.trim(), true),
        None => (s, false),
    };
    let v: f64 = num.parse().ok()?;
    let v = if pct || v > 1.0 { v / 100.0 } else { v };
    (v.is_finite() && (0.0..=1.0).contains(&v)).then_some(v)
}

fn parse_steps(s: &str) -> Result<Vec<f64>, String> {
    let mut out = Vec::new();
    for part in s.split([',', ' ']).filter(|p| !p.trim().is_empty()) {
        let v: f64 = part
            .trim()
            .trim_end_matches('%')
            .parse()
            .map_err(|_| format!("{part:?} is not a number"))?;
        if !(v > 0.0 && v <= 100.0) {
            return Err(format!("{v} is outside 0–100"));
        }
        if out.last().is_some_and(|&last| v <= last) {
            return Err("steps must go up".to_string());
        }
        out.push(v);
    }
    if out.is_empty() {
        return Err("give at least one step".to_string());
    }
    Ok(out)
}

/// The request the form describes; on errors, marks the fields and returns `None`.
/// `envs`: the bot's environments (ids), one of which the canary must run in.
pub fn parse_canary(
    form: &mut FormState,
    target: &CanaryTarget,
    envs: &[String],
) -> Option<CanaryRequest> {
    form.clear_errors();
    let env = form.value(ENVIRONMENT).trim().to_string();
    if env.is_empty() || (!envs.is_empty() && !envs.contains(&env)) {
        form.set_error(ENVIRONMENT, format!("one of {}", envs.join(", ")));
    }
    let steps = parse_steps(form.value(STEPS))
        .map_err(|e| form.set_error(STEPS, e))
        .ok();
    let interval = parse_window(form.value(INTERVAL))
        .filter(|s| *s > 0)
        .map(Duration::from_secs);
    if interval.is_none() {
        form.set_error(INTERVAL, "a duration such as 90s, 5m or 1h");
    }
    let max_hold = parse_window(form.value(MAX_HOLD))
        .filter(|s| *s > 0)
        .map(Duration::from_secs);
    match (max_hold, interval) {
        (None, _) => form.set_error(MAX_HOLD, "a duration such as 30m or 2h"),
        (Some(h), Some(i)) if h < i => form.set_error(MAX_HOLD, "at least the interval"),
        _ => {}
    }
    let error_rate = parse_rate(form.value(ERRORS));
    if error_rate.is_none() {
        form.set_error(ERRORS, "a rate between 0% and 100%");
    }
    let latency = form
        .value(LATENCY)
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0);
    if latency.is_none() {
        form.set_error(LATENCY, "milliseconds above 0");
    }
    let satisfaction = form
        .value(SATISFACTION)
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| (0.0..=5.0).contains(v));
    if satisfaction.is_none() {
        form.set_error(SATISFACTION, "a score between 0 and 5");
    }
    let min_conv = form.value(MIN_CONV).trim().parse::<u64>().ok();
    if min_conv.is_none() {
        form.set_error(MIN_CONV, "a whole number");
    }
    let first_error = form.fields.iter().position(|f| f.error.is_some());
    if let Some(i) = first_error {
        form.focus = i;
        return None;
    }
    Some(CanaryRequest {
        bot: target.bot_id.clone(),
        version: target.version.clone(),
        env,
        steps: steps?,
        interval: interval?,
        max_hold: max_hold?,
        thresholds: Thresholds {
            error_rate: error_rate?,
            satisfaction_score: satisfaction?,
            max_latency_ms: latency?,
        },
        min_conversations: min_conv?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_steps() {
        assert_eq!(parse_rate("5%"), Some(0.05));
        assert_eq!(parse_rate("0.05"), Some(0.05));
        assert_eq!(parse_rate("2"), Some(0.02));
        assert_eq!(parse_rate("x"), None);
        assert_eq!(parse_rate("150%"), None);
        assert_eq!(
            parse_steps("5, 25,50,100"),
            Ok(vec![5.0, 25.0, 50.0, 100.0])
        );
        assert!(parse_steps("50,25").is_err());
        assert!(parse_steps("0").is_err());
        assert!(parse_steps("").is_err());
    }

    #[test]
    fn the_default_form_parses() {
        let envs = vec!["e".to_string(), "f".to_string()];
        let mut form = canary_form(Vec::new(), &CanaryDefaults::default(), "e", &envs);
        let target = CanaryTarget {
            bot_id: "b".into(),
            bot_name: "bot".into(),
            version: "v2".into(),
            env: "e".into(),
        };
        let req = parse_canary(&mut form, &target, &envs).unwrap();
        assert_eq!(req.env, "e");
        // The environment is chosen in the form, as with `relcon canary --environment`.
        form.fields[ENVIRONMENT] = FormField::new("Environment", "f", "");
        assert_eq!(parse_canary(&mut form, &target, &envs).unwrap().env, "f");
        form.fields[ENVIRONMENT] = FormField::new("Environment", "nowhere", "");
        assert!(parse_canary(&mut form, &target, &envs).is_none());
        assert!(form.fields[ENVIRONMENT].error.is_some());
        assert_eq!(req.steps, vec![5.0, 25.0, 50.0, 100.0]);
        assert_eq!(req.interval, Duration::from_secs(300));
        assert_eq!(req.thresholds, Thresholds::default());
        assert_eq!(req.min_conversations, 100);
    }
}

#[cfg(test)]
mod defaults_tests {
    use super::*;

    #[test]
    fn the_form_starts_from_the_profile_defaults() {
        let d = CanaryDefaults {
            steps: vec![5.0, 10.0, 25.0],
            interval: Duration::from_secs(90),
            thresholds: Thresholds {
                error_rate: 0.02,
                satisfaction_score: 4.0,
                max_latency_ms: 800.0,
            },
            min_conversations: 40,
            max_hold: Duration::from_secs(1200),
            judge: String::new(),
        };
        let form = canary_form(Vec::new(), &d, "env-a", &["env-a".to_string()]);
        let values: Vec<String> = (0..form.fields.len())
            .map(|i| form.value(i).to_string())
            .collect();
        assert_eq!(
            values,
            vec!["5,10,25", "90s", "20m", "2%", "800", "4", "40", "env-a"]
        );
        assert_eq!(duration_text(Duration::from_secs(120)), "2m");
        assert_eq!(duration_text(Duration::from_secs(7200)), "2h");
    }
}

//! One row per gated metric: the judge's verdict, both arms, the difference with its
//! confidence sequence, the tolerance and guardrail it was held to, and what an inconclusive
//! metric still needs. Every figure is written whole in the metric's own units; what does
//! not fit across goes to a line of its own under the row.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::engine::events::{MetricVerdict, Need, Verdict};
use crate::engine::judge::Metric;
use crate::tui::format;
use crate::tui::theme::Theme;

use super::text::{Piece, pack_from, pad};

pub fn mark(theme: &Theme, v: Verdict) -> (&'static str, Style) {
    match v {
        Verdict::Pass => ("✔", theme.good),
        Verdict::Fail => ("✖", theme.bad),
        Verdict::Inconclusive => ("?", theme.warn),
    }
}

pub fn word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Inconclusive => "inconclusive",
    }
}

/// A metric's numbers as text, in its units (the judge's own formatting).
pub struct Figures {
    pub label: String,
    pub canary: String,
    pub baseline: String,
    /// `+4.1 pp [+2.3, +5.9]`
    pub difference: String,
    pub tolerance: String,
    /// `≤5.0%`, or `—` without a guardrail.
    pub guardrail: String,
}

/// The interval a verdict rests on, as the judge's reason shows it: the rollback-level one
/// for a failure or an estimate heading past the tolerance, the promotion-level one
/// otherwise.
pub fn shown_interval(v: &MetricVerdict) -> Option<[f64; 2]> {
    let worse_up = Metric::parse(&v.metric)
        .map(Metric::higher_is_worse)
        .unwrap_or(v.tolerance >= 0.0);
    let toward_fail = v.difference.is_some_and(|d| {
        if worse_up {
            d > v.tolerance
        } else {
            d < v.tolerance
        }
    });
    if v.verdict == Verdict::Fail || toward_fail {
        v.interval
    } else {
        v.pass_interval.or(v.interval)
    }
}

/// ` (step)` for a verdict on the current step's data alone (a failure that showed within
/// it), so its numbers are not read against the header's window since the canary started.
pub fn step_scope(v: &MetricVerdict) -> &'static str {
    if v.scope.starts_with("in the current step") {
        " (step)"
    } else {
        ""
    }
}

/// Words for a narrow table.
fn short_label(metric: &str) -> Option<&'static str> {
    Some(match Metric::parse(metric)? {
        Metric::ErrorRate => "errors",
        Metric::FallbackRate => "fallbacks",
        Metric::HandoffRate => "hand-offs",
        Metric::LatencyMs => "latency",
        Metric::SatisfactionScore => "CSAT",
        Metric::IntentScore => "intent",
    })
}

pub fn figures(v: &MetricVerdict) -> Figures {
    let metric = Metric::parse(&v.metric);
    let value = |x: Option<f64>| match (x, metric) {
        (Some(x), Some(m)) => m.value(x),
        (Some(x), None) => format::metric(&v.metric, x),
        (None, _) => "—".to_string(),
    };
    let delta = |x: f64| match metric {
        Some(m) => m.delta(x),
        None => format!("{x:+.3}"),
    };
    let bound = |x: f64| match metric {
        Some(m) => m.bound(x),
        None => format!("{x:+.3}"),
    };
    let difference = match (v.difference, shown_interval(v)) {
        (Some(d), Some([lo, hi])) => format!("{} [{}, {}]", delta(d), bound(lo), bound(hi)),
        (Some(d), None) => format!("{} [unbounded]", delta(d)),
        (None, _) => "—".to_string(),
    };
    let worse_up = metric
        .map(Metric::higher_is_worse)
        .unwrap_or(v.tolerance >= 0.0);
    let guardrail = match v.guardrail {
        Some(g) => format!("{}{}", if worse_up { "≤" } else { "≥" }, value(Some(g))),
        None => "—".to_string(),
    };
    Figures {
        label: metric
            .map(|m| m.label().to_string())
            .unwrap_or_else(|| v.metric.clone())
            + step_scope(v),
        canary: value(v.canary),
        baseline: value(v.baseline),
        difference,
        // While a step leads to less than all traffic, a pass needs only the wider margin.
        tolerance: if (v.margin - v.tolerance).abs() > 1e-12 && v.margin != 0.0 {
            format!("{} (this step {})", delta(v.tolerance), delta(v.margin))
        } else {
            delta(v.tolerance)
        },
        guardrail,
    }
}

/// `~669 conv. ≈ 5:35` (or without the time): the need in a column's width; the header,
/// the popup and the line under a row give the whole sentence.
fn short_need(n: &Need, eta: bool) -> String {
    let unit = if n.unit.starts_with("rated") {
        "rated"
    } else {
        "conv."
    };
    match n.eta_seconds {
        Some(t) if eta => format!(
            "~{} {unit} ≈ {}",
            n.more,
            format::duration(t.round() as i64)
        ),
        _ => format!("~{} {unit}", n.more),
    }
}

/// Which columns fit across, and how they are spaced.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Fit {
    /// Short labels and column titles.
    compact: bool,
    gap: usize,
    tolerance: bool,
    guardrail: bool,
    need: bool,
    eta: bool,
}

/// What an inconclusive metric still needs, in words.
pub fn need_text(v: &MetricVerdict) -> Option<String> {
    if v.verdict != Verdict::Inconclusive {
        return None;
    }
    Some(match &v.need {
        Some(n) => n.describe(),
        None => "more data may not settle it".to_string(),
    })
}

/// A verdict row: its first line, and the lines under it for what did not fit across.
pub struct Row {
    pub verdict: Verdict,
    pub main: Line<'static>,
    pub details: Vec<Line<'static>>,
}

/// The column header and one row per metric, for `width` columns.
pub fn table(theme: &Theme, verdicts: &[MetricVerdict], width: usize) -> (Line<'static>, Vec<Row>) {
    let figs: Vec<Figures> = verdicts.iter().map(figures).collect();
    let needs = |eta: bool| -> Vec<String> {
        verdicts
            .iter()
            .map(|v| match (&v.need, v.verdict) {
                (Some(n), Verdict::Inconclusive) => short_need(n, eta),
                (None, Verdict::Inconclusive) => "may not settle".to_string(),
                _ => String::new(),
            })
            .collect()
    };
    let col = |title: &str, cells: &mut dyn Iterator<Item = usize>| {
        cells.fold(Span::raw(title).width(), usize::max)
    };
    let w = |s: &String| Span::raw(s.as_str()).width();
    let labels = |compact: bool| -> Vec<String> {
        verdicts
            .iter()
            .zip(&figs)
            .map(|(v, f)| match short_label(&v.metric) {
                Some(l) if compact => format!("{l}{}", step_scope(v)),
                _ => f.label.clone(),
            })
            .collect()
    };
    let titles = |compact: bool| {
        if compact {
            ["metric", "canary", "base", "difference", "tol", "guard"]
        } else {
            [
                "metric",
                "canary",
                "baseline",
                "difference",
                "tolerance",
                "guardrail",
            ]
        }
    };
    // Column widths: label, canary, baseline, difference, tolerance, guardrail.
    let widths = |compact: bool| {
        let t = titles(compact);
        [
            col(t[0], &mut labels(compact).iter().map(w)),
            col(t[1], &mut figs.iter().map(|f| w(&f.canary))),
            col(t[2], &mut figs.iter().map(|f| w(&f.baseline))),
            col(t[3], &mut figs.iter().map(|f| w(&f.difference))),
            col(t[4], &mut figs.iter().map(|f| w(&f.tolerance))),
            col(t[5], &mut figs.iter().map(|f| w(&f.guardrail))),
        ]
    };
    let any_need = verdicts.iter().any(|v| v.verdict == Verdict::Inconclusive);
    let fit_with = |compact: bool, gap: usize, eta: bool| {
        let [label_w, canary_w, baseline_w, diff_w, tol_w, guard_w] = widths(compact);
        let need_w = col("need", &mut needs(eta).iter().map(w));
        let mut used = 2 + label_w + gap + canary_w + gap + baseline_w + gap + diff_w;
        let mut fits = |extra: usize| {
            let ok = used + gap + extra <= width;
            if ok {
                used += gap + extra;
            }
            ok
        };
        let tolerance = fits(tol_w);
        let guardrail = tolerance && fits(guard_w);
        let need = any_need && guardrail && fits(need_w);
        Fit {
            compact,
            gap,
            tolerance,
            guardrail,
            need,
            eta,
        }
    };
    // Roomy first, then tighter spacing, then the need without its time; short words only
    // when the tolerance and guardrail would not fit otherwise. What does not fit across
    // goes under its row.
    let tries = |compact: bool| -> Vec<Fit> {
        [(2, true), (1, true), (2, false), (1, false)]
            .into_iter()
            .map(|(gap, eta)| fit_with(compact, gap, eta))
            .collect()
    };
    let complete = |f: &&Fit| f.guardrail && (f.need || !any_need);
    let limits = |f: &&Fit| f.guardrail;
    let (full, short) = (tries(false), tries(true));
    let fit = full
        .iter()
        .find(complete)
        .or_else(|| full.iter().find(limits))
        .or_else(|| short.iter().find(complete))
        .or_else(|| short.iter().find(limits))
        .or_else(|| full.iter().find(|f| f.tolerance))
        .or_else(|| short.iter().find(|f| f.tolerance))
        .copied()
        .unwrap_or(full[0]);
    let needs = needs(fit.eta);
    let labels = labels(fit.compact);
    let t = titles(fit.compact);
    let [label_w, canary_w, baseline_w, diff_w, tol_w, guard_w] = widths(fit.compact);
    let (show_tol, show_guard, show_need) = (fit.tolerance, fit.guardrail, fit.need);
    let gap_w = fit.gap;
    let gap = || Span::raw(" ".repeat(gap_w));
    let mut head = vec![
        Span::styled(format!("  {}", pad(t[0], label_w, false)), theme.header),
        gap(),
        Span::styled(pad(t[1], canary_w, true), theme.canary),
        gap(),
        Span::styled(pad(t[2], baseline_w, true), theme.baseline),
        gap(),
        Span::styled(pad(t[3], diff_w, false), theme.header),
    ];
    if show_tol {
        head.extend([gap(), Span::styled(pad(t[4], tol_w, true), theme.header)]);
    }
    if show_guard {
        head.extend([
            gap(),
            Span::styled(pad(t[5], guard_w, false), theme.threshold),
        ]);
    }
    if show_need {
        head.extend([gap(), Span::styled("need", theme.header)]);
    }
    let rows = verdicts
        .iter()
        .zip(&figs)
        .zip(needs.iter().zip(&labels))
        .map(|((v, f), (need, label))| {
            let (m, style) = mark(theme, v.verdict);
            let mut spans = vec![
                Span::styled(format!("{m} "), style),
                Span::styled(pad(label, label_w, false), theme.text),
                gap(),
                Span::styled(pad(&f.canary, canary_w, true), theme.canary),
                gap(),
                Span::styled(pad(&f.baseline, baseline_w, true), theme.baseline),
                gap(),
                Span::styled(pad(&f.difference, diff_w, false), style),
            ];
            if show_tol {
                spans.extend([
                    gap(),
                    Span::styled(pad(&f.tolerance, tol_w, true), theme.text),
                ]);
            }
            if show_guard {
                spans.extend([
                    gap(),
                    Span::styled(pad(&f.guardrail, guard_w, false), theme.threshold),
                ]);
            }
            if show_need && !need.is_empty() {
                spans.extend([gap(), Span::styled(need.clone(), theme.warn)]);
            }
            // Everything that did not fit across, under the row.
            let mut rest = Vec::new();
            if !show_tol {
                rest.push(
                    Piece::new("tolerance ", theme.muted).and(f.tolerance.clone(), theme.text),
                );
            }
            if !show_guard && v.guardrail.is_some() {
                rest.push(
                    Piece::new("guardrail ", theme.muted).and(f.guardrail.clone(), theme.threshold),
                );
            }
            if !show_need && let Some(n) = need_text(v) {
                rest.push(Piece::new(n, theme.warn));
            }
            let details = if rest.is_empty() {
                Vec::new()
            } else {
                pack_from(rest, Span::styled(" · ", theme.muted), 4, 4, width)
            };
            Row {
                verdict: v.verdict,
                main: Line::from(spans),
                details,
            }
        })
        .collect();
    (Line::from(head), rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(metric: &str, verdict: Verdict) -> MetricVerdict {
        // From JSON, so fields the judge adds later take their defaults.
        let v: MetricVerdict = serde_json::from_value(serde_json::json!({
            "metric": metric,
            "verdict": verdict,
            "n_canary": 900,
            "n_baseline": 3000,
            "canary": 0.061,
            "baseline": 0.02,
            "difference": 0.041,
            "interval": [0.023, 0.059],
            "pass_interval": [0.025, 0.057],
            "tolerance": 0.01,
            "guardrail": 0.05,
            "p_value": 0.0001,
            "reason": "",
        }))
        .expect("a verdict");
        v
    }

    fn text(l: &Line) -> String {
        l.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn figures_use_the_metrics_units_and_never_cut_a_number() {
        let f = figures(&v("error_rate", Verdict::Fail));
        assert_eq!(f.canary, "6.1%");
        assert_eq!(f.difference, "+4.1 pp [+2.3, +5.9]");
        assert_eq!(f.tolerance, "+1.0 pp");
        assert_eq!(f.guardrail, "≤5.0%");
        let csat = MetricVerdict {
            canary: Some(4.0),
            baseline: Some(4.11),
            difference: Some(-0.11),
            interval: None,
            pass_interval: None,
            tolerance: -0.2,
            guardrail: Some(3.5),
            ..v("satisfaction_score", Verdict::Inconclusive)
        };
        let f = figures(&csat);
        assert_eq!((f.label.as_str(), f.guardrail.as_str()), ("CSAT", "≥3.50"));
        assert_eq!(f.difference, "-0.11 [unbounded]");
        let theme = Theme::dark();
        for width in [40, 58, 64, 78, 86, 108] {
            let (_, rows) = table(
                &theme,
                &[v("error_rate", Verdict::Fail), csat.clone()],
                width,
            );
            let all: String = rows
                .iter()
                .flat_map(|r| std::iter::once(&r.main).chain(&r.details))
                .map(|l| text(l) + "\n")
                .collect();
            for needle in [
                "6.1%",
                "+4.1 pp [+2.3, +5.9]",
                "+1.0 pp",
                "≤5.0%",
                "≥3.50",
                "more data may not settle it",
            ] {
                assert!(
                    all.contains(needle)
                        || (needle.starts_with("more") && all.contains("may not settle")),
                    "{width}: {needle} in\n{all}"
                );
            }
        }
    }
}

//! A canary live: both arms' error rate, latency and satisfaction over time against the
//! rollback thresholds, conversations per arm, step n/N and weight, a verdict per metric
//! with its reason, and the time to the next decision.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::domain::{MetricSummary, Thresholds};
use crate::engine::events::Verdict;
use crate::tui::app::App;
use crate::tui::format;
use crate::tui::layout::PaneId;
use crate::tui::query::CanaryView;
use crate::tui::theme::Theme;
use crate::tui::widgets::metric_chart::{MetricChart, MetricKind, window_points};

use super::block;

/// Minutes of history the charts show at most.
const WINDOW_MINUTES: i64 = 60;

fn verdict_mark(theme: &Theme, v: Verdict) -> (&'static str, ratatui::style::Style) {
    match v {
        Verdict::Pass => ("✔", theme.good),
        Verdict::Fail => ("✖", theme.bad),
        Verdict::Inconclusive => ("?", theme.warn),
    }
}

fn threshold_of(t: &Thresholds, kind: MetricKind) -> f64 {
    match kind {
        MetricKind::ErrorRate => t.error_rate,
        MetricKind::Latency => t.max_latency_ms,
        MetricKind::Satisfaction => t.satisfaction_score,
    }
}

fn summary_value(s: &MetricSummary, kind: MetricKind) -> Option<f64> {
    match kind {
        MetricKind::ErrorRate => s.error_rate,
        MetricKind::Latency => s.avg_latency_ms,
        MetricKind::Satisfaction => s.satisfaction_score,
    }
}

fn header_lines(app: &App, view: &CanaryView) -> Vec<Line<'static>> {
    let theme = &app.theme;
    let bot_name = app
        .bot(&view.bot_id)
        .map(|b| b.name.clone())
        .unwrap_or_else(|| view.bot_id.clone());
    let mut first = vec![Span::styled(bot_name, theme.title)];
    if let Some(c) = view.canary {
        first.push(Span::styled(format!(" {}", c.version), theme.canary));
        first.push(Span::styled(" vs ", theme.muted));
        first.push(Span::styled(c.stable_version.clone(), theme.baseline));
        let env = app
            .bot(&view.bot_id)
            .and_then(|b| {
                b.environments
                    .iter()
                    .find(|e| e.environment_id == c.environment_id)
            })
            .map(|e| e.name.clone())
            .unwrap_or_else(|| c.environment_id.clone());
        first.push(Span::styled(format!(" in {env}"), theme.text));
        let state_style = if c.state.is_active() {
            theme.accent
        } else {
            theme.muted
        };
        first.push(Span::styled(
            format!(" · {}", c.state.as_str().replace('_', " ")),
            state_style,
        ));
    }
    if let Some(run) = view.run {
        if let Some((o, _)) = &run.outcome {
            first.push(Span::styled(
                format!(" · {}", o.as_str().replace('_', " ")),
                theme.muted,
            ));
        } else if run.paused_at.is_some() {
            first.push(Span::styled(" · ॥ paused", theme.warn));
        }
    }
    let mut second = Vec::new();
    let sample = view.run.and_then(|r| r.sample.as_ref());
    match (sample, view.canary) {
        (Some(s), _) => {
            second.push(Span::styled(
                format!("step {}/{}", s.step, s.steps_total),
                theme.text,
            ));
            let actual = s
                .weight_actual
                .or(view.canary.map(|c| c.canary_weight))
                .map(|a| format!(" / {} actual", format::weight(a)))
                .unwrap_or_default();
            second.push(Span::styled(
                format!(" · weight {} set{actual}", format::weight(s.weight_set)),
                theme.text,
            ));
        }
        (None, Some(c)) => {
            second.push(Span::styled(
                format!(
                    "weight {} (max {})",
                    format::weight(c.canary_weight),
                    format::weight(c.max_traffic_percentage)
                ),
                theme.text,
            ));
        }
        (None, None) => {}
    }
    if let Some(w) = view.run.and_then(|r| r.waiting.as_ref()) {
        second.push(Span::styled(
            format!(
                " · {} in {}",
                w.what,
                format::duration(format::secs_between(app.now, w.until))
            ),
            theme.accent,
        ));
    }
    let (cn, bn) = match sample {
        Some(s) => (
            Some(s.canary.conversation_count),
            Some(s.baseline.conversation_count),
        ),
        None => match &app.series {
            Some(series) if series.bot_id == view.bot_id => (
                Some(series.canary.iter().map(|p| p.conversations).sum()),
                Some(series.baseline.iter().map(|p| p.conversations).sum()),
            ),
            _ => (None, None),
        },
    };
    let mut third = Vec::new();
    if let (Some(cn), Some(bn)) = (cn, bn) {
        third.push(Span::styled("conversations ", theme.muted));
        third.push(Span::styled(
            format!("canary {}", format::count(cn)),
            theme.canary,
        ));
        third.push(Span::styled(" · ", theme.muted));
        third.push(Span::styled(
            format!("baseline {}", format::count(bn)),
            theme.baseline,
        ));
        third.push(Span::styled("   ", theme.muted));
    }
    third.push(Span::styled("━ canary ", theme.canary));
    third.push(Span::styled("━ baseline ", theme.baseline));
    third.push(Span::styled("━ threshold", theme.threshold));
    vec![Line::from(first), Line::from(second), Line::from(third)]
}

fn verdict_lines(app: &App, view: &CanaryView, thresholds: &Thresholds) -> Vec<Line<'static>> {
    let theme = &app.theme;
    let sample = view.run.and_then(|r| r.sample.as_ref());
    MetricKind::ALL
        .into_iter()
        .map(|kind| {
            let name = kind.name();
            let label = format!("{:<13}", format::metric_label(name));
            let cmp = if kind.higher_is_better() {
                "≥"
            } else {
                "≤"
            };
            match sample.and_then(|s| s.verdicts.iter().find(|v| v.metric == name)) {
                Some(v) => {
                    let (mark, style) = verdict_mark(theme, v.verdict);
                    let c = v
                        .canary
                        .map(|x| format::metric(name, x))
                        .unwrap_or_else(|| "—".into());
                    let b = v
                        .baseline
                        .map(|x| format::metric(name, x))
                        .unwrap_or_else(|| "—".into());
                    Line::from(vec![
                        Span::styled(format!("{mark} "), style),
                        Span::styled(label, theme.text),
                        Span::styled(format!("{c:>7}",), theme.canary),
                        Span::styled(" vs ", theme.muted),
                        Span::styled(format!("{b:>7}"), theme.baseline),
                        Span::styled(
                            format!("  {cmp}{:<7}", format::metric(name, v.threshold)),
                            theme.threshold,
                        ),
                        Span::styled(format!(" {}", v.reason), style),
                    ])
                }
                None => {
                    let summary =
                        |arm: &[crate::domain::MetricPoint]| MetricSummary::from_points(arm);
                    let (c, b) = match &app.series {
                        Some(s) if s.bot_id == view.bot_id => (
                            summary_value(&summary(&s.canary), kind),
                            summary_value(&summary(&s.baseline), kind),
                        ),
                        _ => (None, None),
                    };
                    let fmt = |x: Option<f64>| {
                        x.map(|x| format::metric(name, x))
                            .unwrap_or_else(|| "—".into())
                    };
                    Line::from(vec![
                        Span::styled("· ", theme.muted),
                        Span::styled(label, theme.text),
                        Span::styled(format!("{:>7}", fmt(c)), theme.canary),
                        Span::styled(" vs ", theme.muted),
                        Span::styled(format!("{:>7}", fmt(b)), theme.baseline),
                        Span::styled(
                            format!(
                                "  {cmp}{:<7}",
                                format::metric(name, threshold_of(thresholds, kind))
                            ),
                            theme.threshold,
                        ),
                        Span::styled(" no verdict yet", theme.muted),
                    ])
                }
            }
        })
        .collect()
}

fn charts(frame: &mut Frame, area: Rect, app: &App, view: &CanaryView, thresholds: &Thresholds) {
    let theme = &app.theme;
    let Some(series) = app.series.as_ref().filter(|s| s.bot_id == view.bot_id) else {
        frame.render_widget(Paragraph::new("loading metrics…").style(theme.muted), area);
        return;
    };
    let last = series
        .canary
        .last()
        .into_iter()
        .chain(series.baseline.last())
        .map(|p| p.minute)
        .max();
    let Some(last) = last else {
        frame.render_widget(
            Paragraph::new("no conversations in either arm yet").style(theme.muted),
            area,
        );
        return;
    };
    let first_data = series
        .canary
        .first()
        .into_iter()
        .chain(series.baseline.first())
        .map(|p| p.minute)
        .min()
        .unwrap_or(last);
    let from = (last - WINDOW_MINUTES + 1).max(first_data);
    let x_bounds = [from as f64, (last as f64).max(from as f64 + 1.0)];
    let areas: [Rect; 3] = Layout::horizontal([Constraint::Fill(1); 3])
        .spacing(1)
        .areas(area);
    let sample = view.run.and_then(|r| r.sample.as_ref());
    for (kind, rect) in MetricKind::ALL.into_iter().zip(areas) {
        // Braille gives two dots per column; the y-axis labels take ~7 columns.
        let max_points = (rect.width.saturating_sub(8) as usize) * 2;
        let baseline = window_points(&series.baseline, from, kind, max_points);
        let canary = window_points(&series.canary, from, kind, max_points);
        let verdict = sample
            .and_then(|s| s.verdicts.iter().find(|v| v.metric == kind.name()))
            .map(|v| verdict_mark(theme, v.verdict));
        MetricChart {
            kind,
            baseline: &baseline,
            canary: &canary,
            threshold: Some(threshold_of(thresholds, kind)),
            x_bounds,
            verdict,
        }
        .render(frame, rect, theme);
    }
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, focused: bool) {
    let theme = &app.theme;
    let Some(view) = app.canary_view() else {
        let bot = app
            .selected_bot_summary()
            .map(|b| b.name.clone())
            .unwrap_or_else(|| "this bot".to_string());
        frame.render_widget(
            Paragraph::new(format!(
                "No canary for {bot}. Choose a version in Versions and press c to start one."
            ))
            .wrap(Wrap { trim: true })
            .style(theme.muted)
            .block(block(app, PaneId::Canary, focused, None)),
            area,
        );
        return;
    };
    let thresholds = view
        .canary
        .map(|c| c.rollback_thresholds.clone())
        .or_else(|| {
            view.run.and_then(|r| r.sample.as_ref()).map(|s| {
                let mut t = Thresholds::default();
                for v in &s.verdicts {
                    match v.metric.as_str() {
                        "error_rate" => t.error_rate = v.threshold,
                        "avg_latency_ms" => t.max_latency_ms = v.threshold,
                        "satisfaction_score" => t.satisfaction_score = v.threshold,
                        _ => {}
                    }
                }
                t
            })
        })
        .unwrap_or_default();
    let block = block(
        app,
        PaneId::Canary,
        focused,
        view.run.map(|r| format!("#{}", r.id)),
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [head, verdicts, chart_area] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(4),
        Constraint::Fill(1),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(header_lines(app, &view)), head);
    let mut vl = verdict_lines(app, &view, &thresholds);
    vl.insert(0, Line::raw(""));
    frame.render_widget(Paragraph::new(vl), verdicts);
    if chart_area.height >= 4 {
        charts(frame, chart_area, app, &view, &thresholds);
    }
}

//! A canary live, as the judge sees it: what runs where and in which state, how long the
//! step has been held and when it is judged or pauses, the counts with the window they
//! cover, the overall verdict with what it still needs; one row per gated metric (both arms,
//! the difference with its confidence sequence, tolerance, guardrail, need); the error-rate,
//! latency and CSAT charts since the canary started; and the analysis history, one row per
//! decision, each opening into a popup with all its numbers.
//!
//! Space is handed out in that order: header and verdict rows always, then a short history,
//! then the lines under verdict rows, then the charts, then the rest of the history — so a
//! small pane drops its charts first and shortens its history next.

mod decision;
mod text;
mod verdicts;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::domain::{MetricPoint, MetricsSeries, Thresholds};
use crate::engine::events::{CanarySample, Need, Outcome, Verdict};
use crate::tui::component::CanaryView;
use crate::tui::component::{Component, PaneMsg, Rows, Scene};
use crate::tui::format;
use crate::tui::keymap::Command;
use crate::tui::keymap::Keymap;
use crate::tui::layout::{self, PaneId};
use crate::tui::state::HistoryPos;
use crate::tui::state::OpRun;
use crate::tui::theme::Theme;
use crate::tui::widgets::metric_chart::{MetricChart, MetricKind, window_points};

use super::{block, row_style};
use text::{Piece, pack};

pub use decision::{max_scroll as decision_max_scroll, render as render_decision};

/// Rows a chart needs to be worth drawing (title and four rows of plot).
const CHART_MIN: u16 = 5;
/// Rows of history kept before the charts get any room (a title and two decisions), and
/// the rows it grows to before the charts do.
const HISTORY_MIN: usize = 2;
const HISTORY_PREF: usize = 4;
/// Rows the charts grow to; the history gets the rest.
const CHART_MAX: u16 = 14;

fn sep(theme: &Theme) -> Span<'static> {
    Span::styled(" · ", theme.muted)
}

/// A canary run stopped by the engine for a person's decision.
pub fn paused_for_decision(run: &OpRun) -> bool {
    run.is_active() && run.decisions.last().is_some_and(|d| d.action == "pause")
}

/// The one word for where the canary is: the run's ending, else its pause, else the
/// server's state.
fn state(app: &dyn Scene, view: &CanaryView) -> (String, Style) {
    let theme = app.theme();
    if let Some(run) = view.run {
        match &run.outcome {
            Some((o, _)) => {
                let word = match o {
                    Outcome::Succeeded => "promoted".to_string(),
                    other => other.as_str().replace('_', " "),
                };
                let style = match o {
                    Outcome::Succeeded => theme.good,
                    Outcome::RolledBack | Outcome::Paused => theme.warn,
                    Outcome::Cancelled => theme.muted,
                    _ => theme.bad,
                };
                return (word, style);
            }
            None if run.paused_at.is_some() || paused_for_decision(run) => {
                return ("paused".to_string(), theme.warn);
            }
            None => {}
        }
    }
    match view.canary {
        Some(c) => (
            c.state.as_str().replace('_', " "),
            if c.state.is_active() {
                theme.accent
            } else {
                theme.muted
            },
        ),
        None => ("running".to_string(), theme.accent),
    }
}

fn sample<'a>(view: &CanaryView<'a>) -> Option<&'a CanarySample> {
    view.run.and_then(|r| r.sample.as_ref())
}

/// The governing need of an inconclusive look: the metric that takes longest to settle.
fn overall_need(s: &CanarySample) -> Option<String> {
    let open: Vec<_> = s
        .verdicts
        .iter()
        .filter(|v| v.verdict == Verdict::Inconclusive)
        .collect();
    if open.is_empty() {
        return None;
    }
    if open.iter().any(|v| v.need.is_none()) {
        return Some("more data may not settle it".to_string());
    }
    // In canary conversations, as the judge counts them, when a conversation rate is known.
    let per_minute = open
        .iter()
        .filter_map(|v| v.need.as_ref())
        .filter(|n| n.unit == "conversations")
        .find_map(|n| n.per_minute);
    let slowest = open.iter().filter_map(|v| v.need.as_ref()).max_by(|a, b| {
        let key = |n: &Need| n.eta_seconds.unwrap_or(n.more as f64);
        key(a).total_cmp(&key(b))
    })?;
    let need = match (per_minute, slowest.per_minute, slowest.eta_seconds) {
        (Some(rate), Some(own), Some(eta)) if slowest.unit != "conversations" && own > 0.0 => {
            Need {
                more: (slowest.more as f64 * rate / own).ceil() as u64,
                unit: "conversations".to_string(),
                per_minute: Some(rate),
                eta_seconds: Some(eta),
            }
        }
        _ => slowest.clone(),
    };
    Some(need.describe())
}

fn held(secs: f64) -> String {
    format::duration(secs.round() as i64)
}

/// The header: a title for the pane's border when it fits there (`room` columns), and
/// the lines under it.
struct Header {
    title: Option<Line<'static>>,
    lines: Vec<Line<'static>>,
}

fn header(app: &dyn Scene, view: &CanaryView, width: usize, room: usize) -> Header {
    let theme = app.theme();
    let bot = app
        .bot(&view.bot_id)
        .map(|b| b.name.clone())
        .unwrap_or_else(|| view.bot_id.clone());
    let s = sample(view);
    // What runs where, and in which state: the border's title when it fits.
    let mut what = Piece::new(bot, theme.title);
    if let Some(c) = view.canary {
        let env = app
            .bot(&view.bot_id)
            .and_then(|b| {
                b.environments
                    .iter()
                    .find(|e| e.environment_id == c.environment_id)
            })
            .map(|e| e.name.clone())
            .unwrap_or_else(|| c.environment_id.clone());
        what = what
            .and(format!(" {}", c.version), theme.canary)
            .and(" vs ", theme.muted)
            .and(c.stable_version.clone(), theme.baseline)
            .and(format!(" in {env}"), theme.text);
    } else if let Some(run) = view.run {
        what = what.and(format!(" {}", run.title), theme.text);
    }
    let (word, style) = state(app, view);
    let what = what.and(" · ", theme.muted).and(word, style);
    let mut out = Vec::new();
    let title = if what.width() + 2 <= room {
        let mut spans = vec![Span::raw(" ")];
        spans.extend(what.spans);
        spans.push(Span::raw(" "));
        Some(Line::from(spans))
    } else {
        out.extend(pack(vec![what], sep(theme), 2, width));
        None
    };
    if let Some(run) = view.run {
        out.extend(pause_banner(app, run, width));
    }
    // Where the step stands, then the counts: sharing lines when that takes fewer.
    let finished = view.run.is_some_and(|r| !r.is_active());
    let mut step = Vec::new();
    match (s, view.canary) {
        // The ending's line says where it stopped.
        (Some(_), _) if finished => {}
        (Some(s), _) => {
            step.push(Piece::new(
                format!("step {}/{}", s.step, s.steps_total),
                theme.text,
            ));
            let actual = s
                .weight_actual
                .map(|a| format!(" / {} actual", format::weight(a)))
                .unwrap_or_default();
            step.push(Piece::new(
                format!("{} set{actual}", format::weight(s.weight_set)),
                theme.text,
            ));
        }
        (None, Some(c)) => step.push(Piece::new(
            format!(
                "weight {} (max {})",
                format::weight(c.canary_weight),
                format::weight(c.max_traffic_percentage)
            ),
            theme.text,
        )),
        (None, None) => {}
    }
    let timing = match view.run {
        Some(run) => timing(app, run, s),
        None => Timing::Pieces(Vec::new()),
    };
    let counts = counts(app, view);
    match timing {
        Timing::Line(line) => {
            out.extend(pack(step, sep(theme), 2, width));
            out.push(line(width));
            out.extend(pack(counts, Span::raw(" "), 2, width));
        }
        Timing::Pieces(timing) => {
            step.extend(timing);
            let apart = {
                let mut l = pack(step.clone(), sep(theme), 2, width);
                l.extend(pack(counts.clone(), Span::raw(" "), 2, width));
                l
            };
            let mut all: Vec<Piece> = step
                .into_iter()
                .enumerate()
                .map(|(i, p)| if i == 0 { p } else { p.joined_by(sep(theme)) })
                .collect();
            for (i, c) in counts.into_iter().enumerate() {
                all.push(if i == 0 { c.joined_by(sep(theme)) } else { c });
            }
            let together = pack(all, Span::raw(" "), 2, width);
            out.extend(if together.len() < apart.len() {
                together
            } else {
                apart
            });
        }
    }
    match (s, view.run) {
        (Some(s), _) => out.extend(overall(theme, s, width)),
        // A run of this console that has not looked yet: say so, not that nobody judges it.
        (None, Some(run)) if run.is_active() => out.push(Line::styled(
            "starting: the first look at both arms comes once the canary serves traffic",
            theme.muted,
        )),
        (None, Some(_)) => out.push(Line::styled(
            "it ended before its first look at the arms",
            theme.muted,
        )),
        (None, None) => out.push(Line::styled(
            "no analysis here: relcon judges the canaries it runs itself",
            theme.muted,
        )),
    }
    Header { title, lines: out }
}

/// `॥ paused: inconclusive — p promote · space extend · a roll back`
fn pause_banner(app: &dyn Scene, run: &OpRun, width: usize) -> Vec<Line<'static>> {
    let theme = app.theme();
    let loud = theme.warn.add_modifier(Modifier::BOLD | Modifier::REVERSED);
    let key = |c: Command| app.keymap().first_key(c);
    let mut pieces = Vec::new();
    if paused_for_decision(run) {
        let why = run
            .decisions
            .last()
            .map(|d| {
                if d.reason.contains("could not be read") {
                    "metrics unreadable"
                } else {
                    verdicts::word(d.verdict)
                }
            })
            .unwrap_or("inconclusive");
        pieces.push(Piece::new(format!("॥ paused: {why}"), loud));
        let mut keys = Piece::new("—", theme.warn);
        let mut first = true;
        for (c, what) in [
            (Command::PromoteStep, "promote"),
            (Command::PauseResume, "extend"),
            (Command::Abort, "roll back"),
        ] {
            if let Some(k) = key(c) {
                keys = keys
                    .and(if first { " " } else { " · " }, theme.muted)
                    .and(k, theme.accent)
                    .and(format!(" {what}"), theme.text);
                first = false;
            }
        }
        pieces.push(keys);
    } else if run.is_active() && run.paused_at.is_some() {
        pieces.push(Piece::new("॥ paused by the operator", loud));
        if let Some(k) = key(Command::PauseResume) {
            pieces.push(
                Piece::new("— ", theme.warn)
                    .and(k, theme.accent)
                    .and(" resume", theme.text),
            );
        }
    } else {
        return Vec::new();
    }
    pack(pieces, Span::raw(" "), 2, width)
}

/// The header's line about time: pieces to pack, or one line cut to the width.
enum Timing {
    Pieces(Vec<Piece>),
    Line(Box<dyn Fn(usize) -> Line<'static>>),
}

/// `held 1:40 · shortest hold 1:00 · pauses at 30:00`, or how the run ended.
fn timing(app: &dyn Scene, run: &OpRun, s: Option<&CanarySample>) -> Timing {
    let theme = app.theme();
    if let Some((outcome, summary)) = &run.outcome {
        let (word, style) = match outcome {
            Outcome::Succeeded => ("promoted".to_string(), theme.good),
            o => (o.as_str().replace('_', " "), theme.warn),
        };
        let reached = run.canary_reached();
        let promoted = *outcome == Outcome::Succeeded && reached.is_some();
        // "canary bot-care v8 rolled back: step 2 (25%): …" → "step 2 (25%): …"; a
        // promotion's step count is ours, from the run's events.
        let mut summary = format::summary_after(summary, &run.title, &word, promoted);
        summary = summary
            .strip_prefix(&format!("{word}: "))
            .map(str::to_string)
            .unwrap_or(summary);
        let mut when = word.clone();
        if promoted && let Some((n, total)) = reached {
            let of = total
                .filter(|t| *t != n)
                .map(|t| format!(" of {t}"))
                .unwrap_or_default();
            when = format!("{when} at 100% after {}{of}", format::steps_word(n));
        } else if let Some(s) = s {
            // "step 2 (25%): …" says again what the step piece says.
            let step = format!("step {} ({}%): ", s.step, s.weight_set);
            if let Some(rest) = summary.strip_prefix(&step) {
                summary = rest.to_string();
            }
            when = format!(
                "{when} at step {}/{} ({})",
                s.step,
                s.steps_total,
                format::weight(s.weight_set)
            );
        }
        if let Some(t) = run.finished_at {
            when = format!("{when} · {}", format::clock(t));
        }
        let (muted, text) = (theme.muted, theme.text);
        return Timing::Line(Box::new(move |width| {
            let used = Span::raw(when.as_str()).width() + 2;
            let rest = text::fit_words(&summary, width.saturating_sub(used));
            let mut spans = vec![Span::styled(when.clone(), style)];
            if !rest.is_empty() {
                spans.push(Span::styled(if promoted { " · " } else { ": " }, muted));
                spans.push(Span::styled(rest, text));
            }
            Line::from(spans)
        }));
    }
    let Some(s) = s else {
        return Timing::Pieces(Vec::new());
    };
    let mut pieces = vec![Piece::new("held ", theme.muted).and(held(s.held_seconds), theme.text)];
    if paused_for_decision(run) {
        pieces.push(Piece::new("its longest hold is over", theme.warn));
    } else {
        pieces.push(
            Piece::new("shortest hold ", theme.muted).and(held(s.min_hold_seconds), theme.text),
        );
        pieces
            .push(Piece::new("pauses at ", theme.muted).and(held(s.max_hold_seconds), theme.text));
    }
    // What the run waits for now, and when.
    if run.paused_at.is_none() && !paused_for_decision(run) {
        match &run.waiting {
            Some(w) => pieces.push(Piece::new(
                format::countdown(&w.what, app.now(), w.until),
                theme.accent,
            )),
            None if s.verdict == Verdict::Inconclusive && s.held_seconds >= s.min_hold_seconds => {
                pieces.push(Piece::new("waiting for data", theme.accent))
            }
            None => {}
        }
    }
    Timing::Pieces(pieces)
}

/// `since 04:31:10 (canary start) to 04:35:50: canary 1,204 · baseline 4,811
/// conversations; this step canary 380 · baseline 1,140`
fn counts(app: &dyn Scene, view: &CanaryView) -> Vec<Piece> {
    let theme = app.theme();
    let arms = |c: u64, b: u64, tail: &str| {
        Piece::new(format!("canary {}", format::count(c)), theme.canary)
            .and(" · ", theme.muted)
            .and(format!("baseline {}", format::count(b)), theme.baseline)
            .and(tail.to_string(), theme.muted)
    };
    match sample(view) {
        Some(s) => {
            // The window is in server time, which a simulator runs faster than the wall
            // clock: say how long it is rather than when.
            let secs = |t: &Option<String>| {
                t.as_deref()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            };
            let window = match (secs(&s.window_start), secs(&s.window_end)) {
                (Some(a), Some(b)) => format!(
                    "since the canary started ({} of server time):",
                    format::duration((b - a).num_seconds().max(0))
                ),
                _ => "since the canary started:".to_string(),
            };
            vec![
                Piece::new(window, theme.muted),
                arms(
                    s.canary.conversation_count,
                    s.baseline.conversation_count,
                    " conversations;",
                ),
                Piece::new("this step ", theme.muted)
                    .and(
                        format!("canary {}", format::count(s.step_canary)),
                        theme.canary,
                    )
                    .and(" · ", theme.muted)
                    .and(
                        format!("baseline {}", format::count(s.step_baseline)),
                        theme.baseline,
                    ),
            ]
        }
        None => match series_of(app, view) {
            Some(series) => {
                let from = start_minute(view, series).unwrap_or(i64::MIN);
                let sum = |arm: &[MetricPoint]| -> u64 {
                    arm.iter()
                        .filter(|p| p.minute >= from)
                        .map(|p| p.conversations)
                        .sum()
                };
                vec![
                    Piece::new("conversations", theme.muted),
                    arms(sum(&series.canary), sum(&series.baseline), ""),
                ]
            }
            None => Vec::new(),
        },
    }
}

/// `? inconclusive · need ~140 more canary conversations; at 38/min ≈ 3:40`
fn overall(theme: &Theme, s: &CanarySample, width: usize) -> Vec<Line<'static>> {
    let (m, style) = verdicts::mark(theme, s.verdict);
    let mut first = Piece::new(
        format!("{m} {}", verdicts::word(s.verdict)),
        style.add_modifier(Modifier::BOLD),
    );
    let names = |v: Verdict| {
        s.verdicts
            .iter()
            .filter(|x| x.verdict == v)
            .map(|x| verdicts::figures(x).label)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut pieces = Vec::new();
    match s.verdict {
        Verdict::Fail => first = first.and(format!(" on {}", names(Verdict::Fail)), style),
        Verdict::Pass => pieces.push(Piece::new("every metric within tolerance", theme.text)),
        Verdict::Inconclusive => {
            if let Some(n) = overall_need(s) {
                pieces.push(Piece::new(n, theme.warn));
            }
        }
    }
    pieces.insert(0, first);
    pack(pieces, sep(theme), 2, width)
}

fn series_of<'a>(app: &'a dyn Scene, view: &CanaryView) -> Option<&'a MetricsSeries> {
    app.series().filter(|s| s.bot_id == view.bot_id)
}

/// The series' minute index of an RFC 3339 time, from a point whose start is known.
fn minute_of(series: &MetricsSeries, time: &str) -> Option<i64> {
    let t = format::parse_time(time)?;
    let p = series
        .canary
        .iter()
        .chain(&series.baseline)
        .find(|p| format::parse_time(&p.at).is_some())?;
    let at = format::parse_time(&p.at)?;
    Some(p.minute + (t - at).num_seconds().div_euclid(60))
}

/// Where the charts start: the minute the canary started.
fn start_minute(view: &CanaryView, series: &MetricsSeries) -> Option<i64> {
    view.canary
        .and_then(|c| minute_of(series, &c.started_at))
        .or_else(|| {
            sample(view)
                .and_then(|s| s.window_start.as_deref())
                .and_then(|w| minute_of(series, w))
        })
        .or_else(|| series.canary.first().map(|p| p.minute))
}

/// HH:MM of a series minute.
fn minute_clock(series: &MetricsSeries, minute: i64) -> Option<String> {
    let p = series
        .canary
        .iter()
        .chain(&series.baseline)
        .find(|p| format::parse_time(&p.at).is_some())?;
    let at = format::parse_time(&p.at)? + chrono::Duration::minutes(minute - p.minute);
    Some(at.format("%H:%M").to_string())
}

fn guardrail(view: &CanaryView, kind: MetricKind) -> Option<f64> {
    if let Some(s) = sample(view)
        && let Some(v) = s.verdicts.iter().find(|v| v.metric == kind.name())
    {
        return v.guardrail;
    }
    let t: Thresholds = view
        .canary
        .map(|c| c.rollback_thresholds.clone())
        .unwrap_or_default();
    Some(match kind {
        MetricKind::ErrorRate => t.error_rate,
        MetricKind::Latency => t.max_latency_ms,
        MetricKind::Satisfaction => t.satisfaction_score,
    })
}

fn charts(frame: &mut Frame, area: Rect, app: &dyn Scene, view: &CanaryView) {
    let theme = app.theme();
    let Some(series) = series_of(app, view) else {
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
    let from = start_minute(view, series).unwrap_or(last).min(last);
    let x_bounds = [from as f64, (last as f64).max(from as f64 + 1.0)];
    let labels = match (minute_clock(series, from), minute_clock(series, last)) {
        (Some(a), Some(b)) => [a, b],
        _ => [format!("-{}m", last - from), "now".to_string()],
    };
    let areas: [Rect; 3] = Layout::horizontal([Constraint::Fill(1); 3])
        .spacing(1)
        .areas(area);
    let s = sample(view);
    for (kind, rect) in MetricKind::ALL.into_iter().zip(areas) {
        // Braille gives two dots per column; the y-axis labels take ~8 columns.
        let max_points = (rect.width.saturating_sub(9) as usize) * 2;
        let baseline = window_points(&series.baseline, from, kind, max_points);
        let canary = window_points(&series.canary, from, kind, max_points);
        let verdict = s
            .and_then(|s| s.verdicts.iter().find(|v| v.metric == kind.name()))
            .map(|v| verdicts::mark(theme, v.verdict));
        MetricChart {
            kind,
            baseline: &baseline,
            canary: &canary,
            threshold: guardrail(view, kind),
            x_bounds,
            // The axis and its labels take two rows: only when the plot keeps five.
            x_labels: (rect.height >= CHART_MIN + 3).then(|| labels.clone()),
            verdict,
        }
        .render(frame, rect, theme);
    }
}

/// The analysis history of `run`: a title, then `rows` decisions around the selection.
fn history_lines(
    history: &HistoryPos,
    app: &dyn Scene,
    run: &OpRun,
    rows: usize,
    width: usize,
    focused: bool,
) -> Vec<Line<'static>> {
    let theme = app.theme();
    let n = run.decisions.len();
    let mut title = vec![Span::styled("analysis history", theme.header)];
    title.push(Span::styled(
        match n {
            0 => " · no decision yet".to_string(),
            1 => " · 1 decision".to_string(),
            n => format!(" · {n} decisions"),
        },
        theme.muted,
    ));
    if focused && n > 0 {
        let key = |c: Command| app.keymap().first_key(c).unwrap_or_default();
        title.push(Span::styled(
            format!(
                " · {}/{} select · {} details",
                key(Command::Down),
                key(Command::Up),
                key(Command::Select)
            ),
            theme.muted,
        ));
    }
    let mut out = vec![Line::from(title)];
    if n == 0 || rows == 0 {
        return out;
    }
    let sel = history.selected(run.id, n);
    let offset = history.offset(run.id, n, rows);
    let shown = &run.decisions[offset..(offset + rows).min(n)];
    // Long actions ("advance (operator)") keep their first word in the column, the rest
    // leads the reason.
    let head = |a: &str| a.split(" (").next().unwrap_or(a).to_string();
    let action_w = shown
        .iter()
        .map(|d| Span::raw(head(&d.action)).width())
        .max()
        .unwrap_or(0);
    let weight_w = shown
        .iter()
        .map(|d| format::weight(d.weight).len())
        .max()
        .unwrap_or(0);
    let step_w = shown
        .iter()
        .map(|d| d.step.to_string().len())
        .max()
        .unwrap_or(1);
    for (i, d) in shown.iter().enumerate() {
        let selected = Some(offset + i) == sel;
        let base = row_style(theme, selected, focused);
        let (m, style) = verdicts::mark(theme, d.verdict);
        let a = head(&d.action);
        let extra = d.action[a.len()..].trim();
        let lead = format!(
            "{} step {:>step_w$} {:>weight_w$} ",
            decision::time_of(&d.at),
            d.step,
            format::weight(d.weight)
        );
        let action = format!(" {}", text::pad(&a, action_w, false));
        let used = Span::raw(lead.as_str()).width() + 1 + Span::raw(action.as_str()).width() + 2;
        let why = if extra.is_empty() {
            d.reason.clone()
        } else {
            format!("{extra} {}", d.reason)
        };
        let why = text::fit_words(&why, width.saturating_sub(used));
        let fill = width.saturating_sub(used + Span::raw(why.as_str()).width());
        out.push(Line::from(vec![
            Span::styled(lead, base),
            Span::styled(m, base.patch(style)),
            Span::styled(action, base.patch(theme.accent)),
            Span::styled("  ", base),
            Span::styled(why, base),
            Span::styled(" ".repeat(fill), base),
        ]));
    }
    out
}

/// Where everything goes inside the pane's border.
struct Plan {
    title: Option<Line<'static>>,
    header: Vec<Line<'static>>,
    table: Vec<Line<'static>>,
    charts: Option<u16>,
    history: Option<usize>,
}

/// The pane's border title before ours: ` Canary #7 `.
fn block_extra(view: &CanaryView) -> Option<String> {
    view.run
        .map(|r| format!("#{}", r.id))
        .or_else(|| view.canary.map(|c| c.id.clone()))
}

fn plan(app: &dyn Scene, view: &CanaryView, inner: Rect) -> Plan {
    let width = inner.width as usize;
    let lead = Span::raw(format!(" {} ", PaneId::Canary.title())).width()
        + block_extra(view).map_or(0, |e| Span::raw(e).width() + 1);
    let Header {
        title,
        lines: header,
    } = header(app, view, width, width.saturating_sub(lead + 1));
    let mut table = Vec::new();
    let mut details: Vec<(usize, Vec<Line<'static>>, Verdict)> = Vec::new();
    if let Some(s) = sample(view).filter(|s| !s.verdicts.is_empty()) {
        let (head, rows) = verdicts::table(app.theme(), &s.verdicts, width);
        table.push(head);
        for r in rows {
            table.push(r.main);
            if !r.details.is_empty() {
                details.push((table.len(), r.details, r.verdict));
            }
        }
    }
    let mut rem = (inner.height as usize).saturating_sub(header.len() + table.len());
    let history_len = view.run.map_or(0, |r| r.decisions.len());
    let mut history = None;
    if view.run.is_some() && rem > 0 {
        let rows = history_len.min(HISTORY_MIN).min(rem - 1);
        history = Some(rows);
        rem -= rows + 1;
    }
    // Lines under verdict rows: failures first, then what is undecided.
    details.sort_by_key(|(_, _, v)| match v {
        Verdict::Fail => 0,
        Verdict::Inconclusive => 1,
        Verdict::Pass => 2,
    });
    let mut kept: Vec<(usize, Vec<Line<'static>>)> = Vec::new();
    for (at, lines, _) in details {
        if lines.len() <= rem {
            rem -= lines.len();
            kept.push((at, lines));
        }
    }
    kept.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    for (at, lines) in kept {
        for (i, l) in lines.into_iter().enumerate() {
            table.insert(at + i, l);
        }
    }
    // The charts, once the history has its minimum; the history grows to its preferred
    // length first, as far as the charts keep their own minimum, and gets what the charts
    // do not take.
    let mut charts = None;
    if rem >= CHART_MIN as usize {
        if let Some(h) = history.as_mut() {
            let more = HISTORY_PREF
                .min(history_len)
                .saturating_sub(*h)
                .min(rem - CHART_MIN as usize);
            *h += more;
            rem -= more;
        }
        // Without a history to give them to, the charts take every row.
        let c = if history.is_some() {
            rem.min(CHART_MAX as usize)
        } else {
            rem
        };
        charts = Some(c as u16);
        rem -= c;
    }
    if let Some(h) = history.as_mut() {
        *h += history_len.saturating_sub(*h).min(rem);
    }
    Plan {
        title,
        header,
        table,
        charts,
        history,
    }
}

/// The Canary pane's rectangle inside its border, as the layout would give it focused.
fn inner_area(app: &dyn Scene) -> Rect {
    let focus = app.focus();
    let area = layout::compute(app.size(), focus)
        .pane_area(PaneId::Canary, focus)
        .or_else(|| {
            layout::compute(app.size(), PaneId::Canary).pane_area(PaneId::Canary, PaneId::Canary)
        })
        .unwrap_or_default();
    block(app, area.width, PaneId::Canary, true, None).inner(area)
}

/// Decisions the history shows at once, for keeping the selection in view.
pub fn history_rows(app: &dyn Scene) -> usize {
    app.canary_view()
        .map(|v| plan(app, &v, inner_area(app)).history.unwrap_or(0))
        .unwrap_or(0)
}

/// The decision on screen row `row` of the pane at `area`, if any.
pub fn decision_at(pane: &CanaryPane, app: &dyn Scene, area: Rect, row: u16) -> Option<usize> {
    let view = app.canary_view()?;
    let run = view.run?;
    let inner = block(app, area.width, PaneId::Canary, true, None).inner(area);
    let p = plan(app, &view, inner);
    let rows = p.history?;
    let first =
        inner.y as usize + p.header.len() + p.table.len() + p.charts.map_or(0, usize::from) + 1;
    let line = (row as usize).checked_sub(first)?;
    let n = run.decisions.len();
    (line < rows.min(n)).then(|| pane.history.offset(run.id, n, rows) + line)
}

fn draw(pane: &CanaryPane, frame: &mut Frame, area: Rect, app: &dyn Scene, focused: bool) {
    let theme = app.theme();
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
            .block(block(app, area.width, PaneId::Canary, focused, None)),
            area,
        );
        return;
    };
    let block = block(app, area.width, PaneId::Canary, focused, block_extra(&view));
    let inner = block.inner(area);
    let mut p = plan(app, &view, inner);
    let block = match p.title.take() {
        Some(t) => block.title(t),
        None => block,
    };
    frame.render_widget(block, area);
    let [head, table, chart_area, history_area] = Layout::vertical([
        Constraint::Length(p.header.len() as u16),
        Constraint::Length(p.table.len() as u16),
        Constraint::Length(p.charts.unwrap_or(0)),
        Constraint::Fill(1),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(p.header), head);
    frame.render_widget(Paragraph::new(p.table), table);
    if p.charts.is_some() {
        charts(frame, chart_area, app, &view);
    }
    if let (Some(rows), Some(run)) = (p.history, view.run) {
        let lines = history_lines(&pane.history, app, run, rows, inner.width as usize, focused);
        frame.render_widget(Paragraph::new(lines), history_area);
    }
}

/// The Canary pane: the selected decision of the analysis history.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CanaryPane {
    pub history: HistoryPos,
}

impl Component for CanaryPane {
    fn id(&self) -> PaneId {
        PaneId::Canary
    }

    fn rows(&self, scene: &dyn Scene) -> Rows {
        match scene.canary_view().and_then(|v| v.run) {
            Some(run) => Rows {
                len: run.decisions.len(),
                run: Some(run.id),
            },
            None => Rows::default(),
        }
    }

    fn update(&mut self, msg: PaneMsg, rows: Rows) {
        let Some(run) = rows.run else { return };
        match msg {
            PaneMsg::Move(delta) => self.history.move_by(run, delta, rows.len),
            PaneMsg::Select(i) => self.history.select(run, i, rows.len),
        }
    }

    fn help(&self, keys: &Keymap) -> Vec<(String, String)> {
        let mut out = Vec::new();
        out.push((
            format!(
                "{}/{}",
                keys.keys_for(Command::Down),
                keys.keys_for(Command::Up)
            ),
            "select a decision in the analysis history".into(),
        ));
        out.push((
            keys.keys_for(Command::Select),
            "open the decision: every metric's numbers".into(),
        ));
        out.push((
            "←/→".into(),
            "in the decision: the previous / next decision".into(),
        ));
        out.push((
            format!("{}/{}", keys.keys_for(Command::Back), "q"),
            "close the decision".into(),
        ));
        out.push((
            format!(
                "{} {} {}",
                keys.keys_for(Command::PromoteStep),
                keys.keys_for(Command::PauseResume),
                keys.keys_for(Command::Abort)
            ),
            "when paused for a decision: promote · extend · roll back".into(),
        ));

        out
    }

    fn render(&self, frame: &mut Frame, area: Rect, scene: &dyn Scene, focused: bool) {
        draw(self, frame, area, scene, focused)
    }
}

//! A workflow's steps, one line each: ✔ done, ◌ running with its elapsed time, ✖ failed
//! with the reason, ॥ paused with a countdown, · pending, ↷ skipped.

use chrono::{DateTime, Utc};
use ratatui::text::{Line, Span};

use crate::domain::{Step, StepState};
use crate::tui::format;
use crate::tui::state::OpRun;
use crate::tui::theme::{Theme, Tone};

pub fn icon(state: StepState, paused: bool) -> (&'static str, Tone) {
    match state {
        StepState::Done => ("✔", Tone::Good),
        StepState::Running if paused => ("॥", Tone::Warn),
        StepState::Running => ("◌", Tone::Accent),
        StepState::Failed => ("✖", Tone::Bad),
        StepState::Pending => ("·", Tone::Muted),
        StepState::Skipped => ("↷", Tone::Muted),
    }
}

fn line(
    theme: &Theme,
    indent: usize,
    name_w: usize,
    (name, state, paused): (&str, StepState, bool),
    (extra, extra_tone): (String, Tone),
) -> Line<'static> {
    let (icon, tone) = icon(state, paused);
    let name_tone = match state {
        StepState::Pending | StepState::Skipped => Tone::Muted,
        StepState::Failed => Tone::Bad,
        _ => Tone::Normal,
    };
    Line::from(vec![
        Span::raw(" ".repeat(indent)),
        Span::styled(format!("{icon} "), theme.tone(tone)),
        Span::styled(format!("{name:<name_w$} "), theme.tone(name_tone)),
        Span::styled(extra, theme.tone(extra_tone)),
    ])
}

/// The steps of a workflow of this process.
pub fn run_steps(
    run: &OpRun,
    now: DateTime<Utc>,
    theme: &Theme,
    indent: usize,
) -> Vec<Line<'static>> {
    let name_w = run
        .steps
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0)
        .min(28);
    let paused = run.paused_at.is_some() && run.is_active();
    run.steps
        .iter()
        .map(|s| {
            let (extra, tone) = match s.state {
                StepState::Done => {
                    let took = match (s.started, s.finished) {
                        (Some(a), Some(b)) => format::duration(format::secs_between(a, b)),
                        _ => String::new(),
                    };
                    match &s.detail {
                        Some(d) if !took.is_empty() => (format!("{took}  {d}"), Tone::Muted),
                        Some(d) => (d.clone(), Tone::Muted),
                        None => (took, Tone::Muted),
                    }
                }
                StepState::Running if paused => {
                    let since = run
                        .paused_at
                        .map(|p| format::duration(format::secs_between(p, now)))
                        .unwrap_or_default();
                    // Paused, the run waits for a person, not for its clock.
                    (format!("paused {since} · waiting for a person"), Tone::Warn)
                }
                StepState::Running => {
                    let elapsed = s
                        .started
                        .map(|a| format::duration(format::secs_between(a, now)))
                        .unwrap_or_default();
                    let mut extra = elapsed;
                    if let Some(w) = &run.waiting {
                        extra.push_str(&format!(" · {}", format::countdown(&w.what, now, w.until)));
                    } else if let Some(d) = &run.last_detail {
                        extra.push_str(&format!(" · {d}"));
                    }
                    (extra, Tone::Accent)
                }
                StepState::Failed => (
                    s.detail.clone().unwrap_or_else(|| "failed".to_string()),
                    Tone::Bad,
                ),
                StepState::Pending | StepState::Skipped => (String::new(), Tone::Muted),
            };
            line(
                theme,
                indent,
                name_w,
                (&s.name, s.state, paused),
                (extra, tone),
            )
        })
        .collect()
}

/// The steps of a server operation (not run by this process).
pub fn server_steps(
    steps: &[Step],
    now: DateTime<Utc>,
    theme: &Theme,
    indent: usize,
) -> Vec<Line<'static>> {
    let name_w = steps
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0)
        .min(28);
    steps
        .iter()
        .map(|s| {
            let started = s.started_at.as_deref().and_then(format::parse_time);
            let finished = s.finished_at.as_deref().and_then(format::parse_time);
            let (extra, tone) = match s.state {
                StepState::Running => (
                    started
                        .map(|a| format::duration(format::secs_between(a, now)))
                        .unwrap_or_default(),
                    Tone::Accent,
                ),
                StepState::Failed => (
                    s.detail.clone().unwrap_or_else(|| "failed".to_string()),
                    Tone::Bad,
                ),
                StepState::Done => match (started, finished) {
                    (Some(a), Some(b)) => {
                        (format::duration(format::secs_between(a, b)), Tone::Muted)
                    }
                    _ => (s.detail.clone().unwrap_or_default(), Tone::Muted),
                },
                _ => (String::new(), Tone::Muted),
            };
            line(
                theme,
                indent,
                name_w,
                (&s.name, s.state, false),
                (extra, tone),
            )
        })
        .collect()
}

//! The popup of one canary decision: what was decided, why, on how many conversations, and
//! every metric's full numbers — both arms with their n, the difference and its confidence
//! sequence, the tolerance, the guardrail and the canary's own interval, the p-value, what an
//! inconclusive metric needs, and the judge's sentence. Scrolls; `esc` closes it.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::engine::events::{CanaryDecision, MetricVerdict};
use crate::engine::judge::Metric;
use crate::tui::component::Scene;
use crate::tui::format;
use crate::tui::keymap::Command;
use crate::tui::layout::centered;
use crate::tui::theme::Theme;
use crate::tui::widgets::popup;

use super::text::{Piece, pack_from, wrap};
use super::verdicts::{figures, mark, need_text, word};

/// The popup's rectangle inside `area` (the screen above the status bar).
fn rect(area: Rect, lines: usize) -> Rect {
    let width = area.width.saturating_sub(4).clamp(40, 104).min(area.width);
    let height = (lines as u16)
        .saturating_add(2)
        .min(area.height.saturating_sub(2).max(3));
    centered(area, width, height)
}

fn body_width(area: Rect) -> usize {
    rect(area, 1).width.saturating_sub(2).max(1) as usize
}

fn p_value(p: f64) -> String {
    if p >= 0.001 {
        format!("{p:.3}")
    } else {
        format!("{p:.1e}")
    }
}

/// Time of day of an RFC 3339 timestamp, or the text itself.
pub fn time_of(at: &str) -> String {
    format::parse_time(at)
        .map(format::clock)
        .unwrap_or_else(|| at.to_string())
}

fn kv(theme: &Theme, key: &str, pieces: Vec<Piece>, width: usize) -> Vec<Line<'static>> {
    let mut all = vec![Piece::new(format!("{key:<11}"), theme.muted)];
    all.extend(pieces);
    pack_from(all, Span::styled("  ", theme.muted), 3, 14, width)
}

fn metric_lines(theme: &Theme, v: &MetricVerdict, width: usize) -> Vec<Line<'static>> {
    let f = figures(v);
    let metric = Metric::parse(&v.metric);
    let value = |x: f64| match metric {
        Some(m) => m.value(x),
        None => format::metric(&v.metric, x),
    };
    let (m, style) = mark(theme, v.verdict);
    let unit = metric.map(Metric::unit).unwrap_or("observations");
    let mut out = vec![Line::from(vec![
        Span::styled(format!("{m} {}", f.label), style.patch(theme.title)),
        Span::styled(
            format!("  {}  ({})", word(v.verdict), v.metric),
            theme.muted,
        ),
    ])];
    if !v.scope.is_empty() {
        out.extend(kv(
            theme,
            "data",
            vec![Piece::new(v.scope.clone(), theme.text)],
            width,
        ));
    }
    out.extend(kv(
        theme,
        "canary",
        vec![
            Piece::new(f.canary.clone(), theme.canary),
            Piece::new(
                format!("n {} {unit}", format::count(v.n_canary)),
                theme.muted,
            ),
        ],
        width,
    ));
    out.extend(kv(
        theme,
        "baseline",
        vec![
            Piece::new(f.baseline.clone(), theme.baseline),
            Piece::new(
                format!("n {} {unit}", format::count(v.n_baseline)),
                theme.muted,
            ),
        ],
        width,
    ));
    out.extend(kv(
        theme,
        "difference",
        vec![
            Piece::new(f.difference.clone(), style),
            Piece::new("canary − baseline", theme.muted),
        ],
        width,
    ));
    let bound = |x: f64| match metric {
        Some(m) => m.bound(x),
        None => format!("{x:+.3}"),
    };
    let interval = |i: Option<[f64; 2]>| match i {
        Some([lo, hi]) => format!("[{}, {}]", bound(lo), bound(hi)),
        None => "[unbounded]".to_string(),
    };
    out.extend(kv(
        theme,
        "rollback",
        vec![
            Piece::new(interval(v.interval), theme.text),
            Piece::new("fails when wholly past the tolerance", theme.muted),
        ],
        width,
    ));
    out.extend(kv(
        theme,
        "promotion",
        vec![
            Piece::new(interval(v.pass_interval), theme.text),
            Piece::new("passes when wholly within the pass limit", theme.muted),
        ],
        width,
    ));
    out.extend(kv(
        theme,
        "tolerance",
        vec![
            Piece::new(f.tolerance.clone(), theme.text),
            Piece::new("worse than this fails", theme.muted),
        ],
        width,
    ));
    if v.margin != 0.0 {
        let limit = match metric {
            Some(m) => m.delta(v.margin),
            None => format!("{:+.3}", v.margin),
        };
        out.extend(kv(
            theme,
            "pass limit",
            vec![
                Piece::new(limit, theme.text),
                Piece::new("the tolerance × 100 / the next step's weight", theme.muted),
            ],
            width,
        ));
    }
    let mut guard = vec![Piece::new(f.guardrail.clone(), theme.threshold)];
    if let Some([lo, hi]) = v.guardrail_interval {
        guard.push(
            Piece::new("canary ", theme.muted)
                .and(format!("[{}, {}]", value(lo), value(hi)), theme.canary),
        );
    } else if v.guardrail.is_some() {
        guard.push(Piece::new("canary [unbounded]", theme.muted));
    }
    out.extend(kv(theme, "guardrail", guard, width));
    out.extend(kv(
        theme,
        "p-value",
        vec![Piece::new(
            v.p_value.map(p_value).unwrap_or_else(|| "—".into()),
            theme.text,
        )],
        width,
    ));
    if let Some(n) = need_text(v) {
        out.extend(kv(theme, "need", vec![Piece::new(n, theme.warn)], width));
    }
    out.extend(wrap(&v.reason, 3, width, theme.text));
    out
}

/// Every line of the popup for `d`, at `width` columns.
pub fn lines(theme: &Theme, d: &CanaryDecision, width: usize) -> Vec<Line<'static>> {
    let (m, style) = mark(theme, d.verdict);
    let mut out = pack_from(
        vec![
            Piece::new(time_of(&d.at), theme.text),
            Piece::new(
                format!("step {} at {}", d.step, format::weight(d.weight)),
                theme.text,
            ),
            Piece::new(d.action.clone(), theme.accent.patch(theme.title)),
            Piece::new(format!("{m} {}", word(d.verdict)), style),
        ],
        Span::styled(" · ", theme.muted),
        0,
        2,
        width,
    );
    let mut why = vec![Span::styled("why  ", theme.muted)];
    let reason = wrap(&d.reason, 5, width, theme.text);
    for (i, l) in reason.into_iter().enumerate() {
        if i == 0 {
            why.extend(l.spans.into_iter().skip(1));
            out.push(Line::from(std::mem::take(&mut why)));
        } else {
            out.push(l);
        }
    }
    out.extend(pack_from(
        vec![
            Piece::new("on", theme.muted),
            Piece::new(
                format!("{} canary", format::count(d.n_canary)),
                theme.canary,
            ),
            Piece::new("·", theme.muted),
            Piece::new(
                format!("{} baseline conversations", format::count(d.n_baseline)),
                theme.baseline,
            ),
        ],
        Span::raw(" "),
        0,
        5,
        width,
    ));
    if d.metrics.is_empty() {
        out.push(Line::raw(""));
        out.push(Line::styled(
            "No metrics had been judged when this was decided.",
            theme.muted,
        ));
    }
    for v in &d.metrics {
        out.push(Line::raw(""));
        out.extend(metric_lines(theme, v, width));
    }
    out
}

/// The decision the popup shows, if it is still there.
fn decision(app: &dyn Scene, run: u64, index: usize) -> Option<&CanaryDecision> {
    app.runs()
        .iter()
        .find(|r| r.id == run)
        .and_then(|r| r.decisions.get(index))
}

/// How far the popup can scroll on a screen of `area`.
pub fn max_scroll(app: &dyn Scene, area: Rect, run: u64, index: usize) -> u16 {
    let Some(d) = decision(app, run, index) else {
        return 0;
    };
    let body = lines(app.theme(), d, body_width(area));
    let inner = rect(area, body.len()).height.saturating_sub(2) as usize;
    body.len().saturating_sub(inner).min(u16::MAX as usize) as u16
}

pub fn render(frame: &mut Frame, area: Rect, app: &dyn Scene, run: u64, index: usize, scroll: u16) {
    let theme = app.theme();
    let (title, body) = match decision(app, run, index) {
        Some(d) => (
            format!(
                "Decision {} of {} · canary #{run}",
                index + 1,
                app.runs()
                    .iter()
                    .find(|r| r.id == run)
                    .map_or(0, |r| r.decisions.len())
            ),
            lines(theme, d, body_width(area)),
        ),
        None => (
            "Decision".to_string(),
            vec![Line::styled(
                "This decision is no longer available.",
                theme.muted,
            )],
        ),
    };
    let rect = rect(area, body.len());
    let inner = popup(frame, rect, theme, &title, false);
    let max = body.len().saturating_sub(inner.height as usize) as u16;
    let scroll = scroll.min(max);
    frame.render_widget(Paragraph::new(body).scroll((scroll, 0)), inner);
    let key = |c: Command, or: &str| app.keymap().first_key(c).unwrap_or_else(|| or.to_string());
    let more = match (scroll > 0, scroll < max) {
        (_, true) => "↓ more · ",
        (true, false) => "↑ more · ",
        (false, false) => "",
    };
    let hint = format!(
        " {more}{}/{} scroll · ←/→ other decisions · {} close ",
        key(Command::Down, "down"),
        key(Command::Up, "up"),
        key(Command::Back, "esc")
    );
    let hint = Line::styled(hint, theme.muted);
    let hint_area = Rect::new(
        rect.x + 2,
        rect.bottom().saturating_sub(1),
        rect.width.saturating_sub(4).min(hint.width() as u16),
        1,
    );
    frame.render_widget(hint, hint_area);
}

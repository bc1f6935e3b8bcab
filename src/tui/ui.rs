//! Drawing the whole screen from the state: panes by layout, the status bar, toasts and
//! the overlay stack. Pure reads of `App`; no state changes here.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::app::{App, Overlay};
use super::keymap::Command;
use super::layout::{self, PaneId, Screen};
use super::panes;
use super::widgets;

/// Draw the console into `frame`.
pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let screen = layout::compute(area, app.focus);
    match &screen {
        Screen::TooSmall { width, height } => {
            too_small(frame, area, app, *width, *height);
            return;
        }
        Screen::Stacked {
            tabs,
            panes: list,
            status,
            ..
        } => {
            draw_tabs(frame, *tabs, app);
            for (pane, rect) in list {
                app.panes
                    .get(*pane)
                    .render(frame, *rect, app, *pane == app.focus);
            }
            status_bar(frame, *status, app);
        }
        Screen::Wide {
            panes: list,
            status,
        } => {
            for (pane, rect) in list {
                app.panes
                    .get(*pane)
                    .render(frame, *rect, app, *pane == app.focus);
            }
            status_bar(frame, *status, app);
        }
    }
    let body = Rect::new(area.x, area.y, area.width, area.height.saturating_sub(1));
    widgets::toast::render(frame, body, &app.theme, &app.toasts);
    for overlay in &app.overlays {
        match overlay {
            Overlay::Help { scroll } => widgets::help::render(
                frame,
                body,
                &app.theme,
                &format!("Keys — {} pane", app.focus.title()),
                &app.help_sections(),
                &app.help_footer(),
                *scroll,
            ),
            Overlay::Palette(p) => p.render(frame, body, &app.theme, &app.completion_data()),
            Overlay::Confirm(c) => c.render(frame, body, &app.theme),
            Overlay::CanaryForm(f, _) => f.render(frame, body, &app.theme),
            Overlay::RollbackPicker(p) => p.render(frame, body, &app.theme),
            Overlay::Decision { run, index, scroll } => {
                panes::canary::render_decision(frame, body, app, *run, *index, *scroll)
            }
            Overlay::Error {
                title,
                detail,
                hint,
            } => error_popup(frame, body, app, title, detail, hint),
            Overlay::Describe { target, scroll } => {
                if let Some(d) = app.described(target) {
                    widgets::describe::render(frame, body, &app.theme, &d, *scroll)
                }
            }
        }
    }
}

fn too_small(frame: &mut Frame, area: Rect, app: &App, width: u16, height: u16) {
    let need = format!(
        "need at least {}×{}, have {width}×{height}",
        layout::MIN_WIDTH,
        layout::MIN_HEIGHT
    );
    let w = area.width.max(1) as usize;
    let rows = |s: &str| Line::raw(s).width().max(1).div_ceil(w) as u16;
    let used = rows("terminal too small") + rows(&need);
    let top = area.height.saturating_sub(used) / 2;
    let rect = Rect::new(area.x, area.y + top, area.width, area.height - top);
    let text = vec![
        Line::styled("terminal too small", app.theme.warn),
        Line::raw(need),
    ];
    frame.render_widget(
        Paragraph::new(text)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        rect,
    );
}

fn error_popup(frame: &mut Frame, area: Rect, app: &App, title: &str, detail: &str, hint: &str) {
    let theme = &app.theme;
    let width = area.width.saturating_sub(4).clamp(40, 72);
    let inner_w = width.saturating_sub(2).max(1) as usize;
    let rows = |s: &str| (s.chars().count().div_ceil(inner_w)).max(1) as u16;
    let height = rows(detail) + rows(hint) + 5;
    let rect = layout::centered(area, width, height);
    let inner = widgets::popup(frame, rect, theme, title, true);
    let text = vec![
        Line::styled(detail, theme.text),
        Line::raw(""),
        Line::from(vec![
            Span::styled("What to do: ", theme.accent),
            Span::raw(hint),
        ]),
        Line::raw(""),
        Line::styled("esc/enter close", theme.muted),
    ];
    frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), inner);
}

/// The labels of the tab bar, in order.
fn tab_labels(app: &App) -> Vec<(PaneId, String)> {
    PaneId::ALL
        .into_iter()
        .map(|p| {
            let badge = match p {
                PaneId::Bots => format!(" {}", app.visible_bots().len()),
                PaneId::Versions => match app.visible_versions().len() {
                    0 => String::new(),
                    n => format!(" {n}"),
                },
                PaneId::Deployments => match app.active_runs() {
                    0 => String::new(),
                    n => format!(" ◌{n}"),
                },
                PaneId::Canary => match app.canary_view() {
                    Some(v)
                        if v.run.is_some_and(|r| r.is_active())
                            || v.canary.is_some_and(|c| c.state.is_active()) =>
                    {
                        " ●".to_string()
                    }
                    _ => String::new(),
                },
                PaneId::Timeline => String::new(),
            };
            (p, format!(" {}{badge} ", p.title()))
        })
        .collect()
}

/// Which pane's tab is at column `x` of the tab bar.
pub fn tab_at(app: &App, tabs: Rect, x: u16) -> Option<PaneId> {
    let mut pos = tabs.x;
    for (pane, label) in tab_labels(app) {
        let w = Line::raw(label.as_str()).width() as u16;
        if x >= pos && x < pos + w {
            return Some(pane);
        }
        pos += w + 1;
    }
    None
}

fn draw_tabs(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let mut spans = Vec::new();
    for (i, (pane, label)) in tab_labels(app).into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled("│", theme.border));
        }
        let style = if pane == app.focus {
            theme.selected.patch(theme.accent)
        } else {
            theme.muted
        };
        spans.push(Span::styled(label, style));
    }
    frame.render_widget(Line::from(spans), area);
}

fn status_bar(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let mut left = Vec::new();
    if app.production {
        left.push(Span::styled(
            format!(" PRODUCTION {} ", app.profile),
            theme.production_badge,
        ));
    } else {
        left.push(Span::styled(
            format!(" {} ", app.profile),
            theme.profile_badge,
        ));
    }
    if app.read_only {
        left.push(Span::raw(" "));
        left.push(Span::styled(" READ-ONLY ", theme.readonly_badge));
    }
    left.push(Span::raw(" "));
    match &app.connection {
        Some((true, _)) => left.push(Span::styled("● connected", theme.good)),
        Some((false, detail)) => left.push(Span::styled(format!("✖ {detail}"), theme.bad)),
        None => left.push(Span::styled("… connecting", theme.muted)),
    }
    // What the profile has spent of its request budget in the platform's window.
    if let Some((used, budget, limited)) = app.budget {
        let style = if limited > 0 {
            theme.bad
        } else if f64::from(used) > f64::from(budget) * 0.85 {
            theme.warn
        } else {
            theme.muted
        };
        let mut text = format!(" · {used}/{budget} req per 5 min");
        if limited > 0 {
            text.push_str(&format!(", {limited} refused (429)"));
        }
        left.push(Span::styled(text, style));
    }
    if let Some(input) = &app.filter_input {
        left.push(Span::styled(
            format!(" · filter: {}▏", input.value()),
            theme.accent,
        ));
    } else if let Some(v) = app.panes.view(app.focus).filter(|v| !v.filter.is_empty()) {
        left.push(Span::styled(
            format!(" · filter: {}", v.filter),
            theme.accent,
        ));
    }
    let used: usize = left.iter().map(|s| s.width()).sum();
    // The keys of what the focused pane can do first, then the ways around.
    let pane_cmds: &[(Command, &str)] = match app.focus {
        PaneId::Bots => &[(Command::Filter, "filter"), (Command::Rollback, "rollback")],
        PaneId::Versions => &[
            (Command::Deploy, "deploy"),
            (Command::Canary, "canary"),
            (Command::Rollback, "rollback"),
        ],
        PaneId::Deployments | PaneId::Canary => &[
            (Command::PromoteStep, "promote"),
            (Command::PauseResume, "pause"),
            (Command::Abort, "abort"),
        ],
        PaneId::Timeline => &[(Command::Filter, "filter"), (Command::Sort, "sort")],
    };
    let hints: Vec<(String, &str)> = [(Command::Help, "help")]
        .iter()
        .chain(
            pane_cmds
                .iter()
                .filter(|(c, _)| !(app.read_only && c.is_mutating())),
        )
        .chain([(Command::Quit, "quit"), (Command::Palette, "cmd")].iter())
        .filter_map(|(c, what)| app.keymap.first_key(*c).map(|k| (k, *what)))
        .collect();
    let mut right = Vec::new();
    let mut right_w = 0usize;
    let room = (area.width as usize).saturating_sub(used + 1);
    for (k, what) in &hints {
        let w = k.chars().count() + what.chars().count() + 3;
        if right_w + w > room {
            break;
        }
        right.push(Span::styled(format!(" {k}"), theme.accent));
        right.push(Span::styled(format!(" {what} "), theme.muted));
        right_w += w;
    }
    let pad = (area.width as usize).saturating_sub(used + right_w);
    left.push(Span::raw(" ".repeat(pad)));
    left.extend(right);
    frame.render_widget(Line::from(left).style(theme.status_bar), area);
}

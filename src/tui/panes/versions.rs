//! The versions of the selected bot: status, stage, created, where each is live now, the
//! last canary verdict; the last known-good version marked ★.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Row, Table};

use crate::domain::{Stage, Version, VersionStatus};
use crate::tui::app::App;
use crate::tui::format;
use crate::tui::layout::PaneId;
use crate::tui::query::{last_known_good, verdict_is_bad, verdict_is_good};

use super::block;

fn live_text(app: &App, v: &Version) -> String {
    let bot = app.selected_bot_summary();
    v.live_in
        .iter()
        .map(|env_id| {
            match bot.and_then(|b| b.environments.iter().find(|e| &e.environment_id == env_id)) {
                Some(e) => format!("{} {}", e.name, format::weight(e.traffic_weight)),
                None => env_id.clone(),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, focused: bool) {
    let theme = &app.theme;
    let bot = app.selected_bot_summary();
    let versions = app.current_versions();
    let extra = bot.map(|b| format!("of {}", b.name));
    let block = block(app, PaneId::Versions, focused, extra);
    if versions.is_empty() {
        let text = match bot {
            None => "select a bot".to_string(),
            Some(b) if app.versions.as_ref().is_some_and(|(id, _)| id == &b.id) => {
                format!("{} has no versions", b.name)
            }
            Some(b) => format!("loading the versions of {}…", b.name),
        };
        frame.render_widget(Paragraph::new(text).style(theme.muted).block(block), area);
        return;
    }
    let good = last_known_good(bot, versions);
    let inner_w = area.width.saturating_sub(2);
    let show_label = inner_w >= 96;
    let height = area.height.saturating_sub(3) as usize;
    let pos = app.versions_pos;
    let rows = versions
        .iter()
        .enumerate()
        .skip(pos.offset)
        .take(height)
        .map(|(i, v)| {
            let style = super::row_style(theme, i == pos.selected, focused);
            let status_style = match v.status {
                VersionStatus::Published => theme.text,
                VersionStatus::Draft => theme.warn,
                VersionStatus::Archived => theme.muted,
            };
            let verdict = v.last_canary_verdict.as_deref().unwrap_or("—");
            let verdict_style = if verdict_is_bad(verdict) {
                theme.bad
            } else if verdict_is_good(verdict) {
                theme.good
            } else {
                theme.muted
            };
            let mark = if Some(v.id.as_str()) == good {
                Line::styled("★", theme.good)
            } else {
                Line::raw("")
            };
            let live = live_text(app, v);
            let mut cells = vec![mark, Line::raw(v.id.clone())];
            if show_label {
                cells.push(Line::raw(v.label.clone()));
            }
            cells.extend([
                Line::styled(v.status.as_str(), status_style),
                Line::raw(match v.environment {
                    Stage::Production => "PROD",
                    Stage::Staging => "STG",
                }),
                Line::styled(format::date_minute(&v.created_at), theme.muted),
                Line::styled(
                    if live.is_empty() {
                        "—".to_string()
                    } else {
                        live
                    },
                    theme.accent,
                ),
                Line::styled(verdict.replace('_', " "), verdict_style),
            ]);
            Row::new(cells).style(style)
        });
    let mut widths = vec![Constraint::Length(1), Constraint::Length(8)];
    let mut header = vec!["", "version"];
    if show_label {
        widths.push(Constraint::Fill(1));
        header.push("label");
    }
    widths.extend([
        Constraint::Length(9),
        Constraint::Length(5),
        Constraint::Length(16),
        Constraint::Fill(1),
        Constraint::Length(11),
    ]);
    header.extend(["status", "stage", "created", "live now", "canary"]);
    let footer = good.map(|g| format!("★ last known good: {g}"));
    let block = match footer {
        Some(f) => block.title_bottom(Line::styled(format!(" {f} "), theme.muted)),
        None => block,
    };
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.header))
        .block(block);
    frame.render_widget(table, area);
}

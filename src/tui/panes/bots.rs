//! Every bot: its environments with the version live in each and the routing weight, a
//! health summary and any operation in progress.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table, Wrap};

use crate::domain::{BotSummary, Health};
use crate::tui::app::App;
use crate::tui::format;
use crate::tui::layout::PaneId;
use crate::tui::theme::Theme;

use super::block;

fn health(theme: &Theme, bot: &BotSummary, words: bool) -> Line<'static> {
    let (icon, style) = match bot.health {
        Health::Healthy => ("●", theme.good),
        Health::Degraded => ("▲", theme.warn),
        Health::Unhealthy => ("✖", theme.bad),
    };
    let rate = bot
        .error_rate
        .map(|r| format!(" {}", format::rate(r)))
        .unwrap_or_default();
    let text = if words {
        format!("{icon} {}", bot.health.as_str())
    } else {
        icon.to_string()
    };
    Line::from(vec![
        Span::styled(text, style),
        Span::styled(rate, theme.muted),
    ])
}

/// The operation in progress for a bot: a workflow of this console first, else the
/// server's record.
fn operation(app: &App, bot: &BotSummary) -> Line<'static> {
    let theme = &app.theme;
    if let Some(run) = app
        .runs
        .iter()
        .filter(|r| r.is_active() && r.bot.as_deref() == Some(bot.id.as_str()))
        .max_by_key(|r| r.started_at)
    {
        let paused = run.paused_at.is_some();
        let mut text = format!("{} {}", if paused { "॥" } else { "◌" }, run.kind_name());
        if let Some(s) = &run.sample {
            text.push_str(&format!(
                " {}/{} {}",
                s.step,
                s.steps_total,
                format::weight(s.weight_set)
            ));
        } else {
            text.push_str(&format!(" {}", run.state_text()));
        }
        return Line::styled(text, if paused { theme.warn } else { theme.accent });
    }
    match &bot.active_operation {
        Some(op) if op.active => {
            Line::styled(format!("◌ {} {}", op.kind.as_str(), op.state), theme.accent)
        }
        Some(op) if op.error_message.is_some() || op.state.contains("fail") => {
            Line::styled(format!("✖ {} {}", op.kind.as_str(), op.state), theme.bad)
        }
        _ => Line::styled("—", theme.muted),
    }
}

fn environments(theme: &Theme, bot: &BotSummary, wide: bool) -> Line<'static> {
    let mut spans = Vec::new();
    for (i, e) in bot.environments.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", theme.muted));
        }
        let serving = e.traffic_weight > 0.0;
        let name = if wide {
            e.name.clone()
        } else {
            e.colour.clone().unwrap_or_else(|| e.name.clone())
        };
        spans.push(Span::styled(
            name,
            if serving { theme.text } else { theme.muted },
        ));
        spans.push(Span::styled(
            format!(" {}", e.live_version.as_deref().unwrap_or("—")),
            if serving { theme.accent } else { theme.muted },
        ));
        spans.push(Span::styled(
            format!(" {}", format::weight(e.traffic_weight)),
            theme.muted,
        ));
    }
    Line::from(spans)
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, focused: bool) {
    let theme = &app.theme;
    let bots = app.visible_bots();
    let extra = if app.filter.is_empty() {
        format!("{}", bots.len())
    } else {
        format!("{} of {} · /{}", bots.len(), app.bots.len(), app.filter)
    };
    let block = block(app, PaneId::Bots, focused, Some(extra));
    if bots.is_empty() {
        let text = if app.bots.is_empty() {
            match &app.connection {
                Some((false, detail)) => format!(
                    "cannot load bots: {detail}\n\nCheck the profile's api_url (or COGNIGY_API_URL) and the credentials; relcon keeps retrying. `relcon demo` runs against a built-in simulator."
                ),
                _ => "loading bots…".to_string(),
            }
        } else {
            format!("no bot matches {:?} (esc clears the filter)", app.filter)
        };
        frame.render_widget(
            Paragraph::new(text)
                .style(theme.muted)
                .wrap(Wrap { trim: true })
                .block(block),
            area,
        );
        return;
    }
    let inner_w = area.width.saturating_sub(2);
    let wide = inner_w >= 100;
    let height = area.height.saturating_sub(3) as usize;
    let pos = app.bots_pos;
    let rows = bots
        .iter()
        .enumerate()
        .skip(pos.offset)
        .take(height)
        .map(|(i, bot)| {
            let style = super::row_style(theme, i == pos.selected, focused);
            Row::new(vec![
                Line::raw(bot.name.clone()),
                environments(theme, bot, wide),
                health(theme, bot, inner_w >= 100),
                operation(app, bot),
            ])
            .style(style)
        });
    let name_w = bots
        .iter()
        .map(|b| b.name.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 22) as u16;
    let table = Table::new(
        rows,
        [
            Constraint::Length(name_w),
            Constraint::Fill(1),
            Constraint::Length(if inner_w >= 100 { 16 } else { 7 }),
            Constraint::Length(if inner_w >= 100 { 18 } else { 16 }),
        ],
    )
    .header(
        Row::new(vec![
            "bot",
            if wide {
                "environments: live version, weight"
            } else {
                "live version, weight"
            },
            "health",
            "operation",
        ])
        .style(theme.header),
    )
    .block(block);
    frame.render_widget(table, area);
}

//! Every decision and state change, newest first, with the figures behind it.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::tui::app::App;
use crate::tui::format;
use crate::tui::layout::PaneId;
use crate::tui::messages::TimelineEntry;
use crate::tui::theme::Theme;

fn text_style(theme: &Theme, e: &TimelineEntry) -> ratatui::style::Style {
    let t = e.text.to_lowercase();
    if t.starts_with('✖')
        || t.contains("failed")
        || t.contains("timed out")
        || t.contains("refused")
    {
        theme.bad
    } else if t.contains("rolled back") || t.contains("rolled_back") || t.starts_with("paused") {
        theme.warn
    } else if t.starts_with("succeeded") || t.starts_with('✔') {
        theme.good
    } else {
        theme.text
    }
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, focused: bool) {
    let theme = &app.theme;
    let total = app.timeline_len();
    let block = super::block(
        app,
        PaneId::Timeline,
        focused,
        Some(format!("{total} · newest first · UTC")),
    );
    if total == 0 {
        frame.render_widget(
            Paragraph::new("nothing has happened yet")
                .style(theme.muted)
                .block(block),
            area,
        );
        return;
    }
    let height = area.height.saturating_sub(2) as usize;
    let pos = app.timeline_pos;
    let op_w = app
        .timeline_rows()
        .skip(pos.offset)
        .take(height)
        .map(|e| e.op.as_deref().map_or(0, |o| o.chars().count()))
        .max()
        .unwrap_or(0)
        .min(12)
        + 1;
    let lines: Vec<Line> = app
        .timeline_rows()
        .enumerate()
        .skip(pos.offset)
        .take(height)
        .map(|(i, e)| {
            let bot = e
                .bot
                .as_deref()
                .map(|id| {
                    app.bot(id)
                        .map(|b| b.name.clone())
                        .unwrap_or_else(|| id.to_string())
                })
                .unwrap_or_default();
            let mut spans = vec![
                Span::styled(format!("{} ", format::clock(e.at)), theme.muted),
                Span::styled(
                    format!("{:<op_w$}", e.op.as_deref().unwrap_or("")),
                    theme.muted,
                ),
                Span::styled(format!("{bot:<14} "), theme.accent),
                Span::styled(e.text.clone(), text_style(theme, e)),
            ];
            for (k, v) in &e.figures {
                spans.push(Span::styled(format!("  {k} "), theme.muted));
                spans.push(Span::styled(v.clone(), theme.text));
            }
            let line = Line::from(spans);
            if focused && i == pos.selected {
                line.patch_style(theme.selected)
            } else {
                line
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

//! Every decision and state change, newest first, with the figures behind it.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::tui::component::{ListKind, ListPane, Scene};
use crate::tui::format;
use crate::tui::keymap::Keymap;
use crate::tui::layout::PaneId;
use crate::tui::messages::TimelineEntry;
use crate::tui::theme::Theme;
use crate::tui::widgets::columns::{self, Column};

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

fn draw(pane: &TimelinePane, frame: &mut Frame, area: Rect, app: &dyn Scene, focused: bool) {
    let theme = app.theme();
    let rows = app.visible_timeline();
    let total = rows.len();
    let view = &pane.list.view;
    let all = if view.filter.is_empty() {
        total
    } else {
        app.timeline_rows().count()
    };
    let mut title = super::list_title(view, PaneId::Timeline, total, all);
    if view.sort.is_none() {
        title.push_str(" · newest first");
    }
    title.push_str(" · UTC");
    let block = super::block(app, area.width, PaneId::Timeline, focused, Some(title));
    if total == 0 {
        let text = if all > 0 {
            format!("no entry matches {:?} (esc clears the filter)", view.filter)
        } else {
            "nothing has happened yet".to_string()
        };
        frame.render_widget(Paragraph::new(text).style(theme.muted).block(block), area);
        return;
    }
    let height = area.height.saturating_sub(2) as usize;
    let pos = pane.list.pos;
    let bot_name = |e: &TimelineEntry| {
        e.bot
            .as_deref()
            .map(|id| {
                app.bot(id)
                    .map(|b| b.name.clone())
                    .unwrap_or_else(|| id.to_string())
            })
            .unwrap_or_default()
    };
    let shown: Vec<&TimelineEntry> = rows.into_iter().skip(pos.offset).take(height).collect();
    // The operation id is shown whole; the bot's name gives way first, then goes.
    let cols = [
        Column::exact("time", shown.iter().map(|_| 8)),
        Column::exact(
            "op",
            shown
                .iter()
                .map(|e| e.op.as_deref().map_or(0, |o| o.chars().count())),
        ),
        Column::text("bot", 8, shown.iter().map(|e| bot_name(e).chars().count())).priority(1),
        Column::text("what", 12, shown.iter().map(|_| 12)),
    ];
    let widths = columns::fit(&cols, area.width.saturating_sub(2), 1, false);
    let op_w = widths[1].unwrap_or(cols[1].width) as usize;
    let bot_w = widths[2].map(usize::from);
    let lines: Vec<Line> = shown
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let i = i + pos.offset;
            let bot = match bot_w {
                Some(w) => format!("{:<w$} ", format::fit(&bot_name(e), w)),
                None => String::new(),
            };
            let mut spans = vec![
                Span::styled(format!("{} ", format::clock(e.at)), theme.muted),
                Span::styled(
                    format!("{:<op_w$} ", e.op.as_deref().unwrap_or("")),
                    theme.muted,
                ),
                Span::styled(bot, theme.accent),
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
    super::scrollbar(frame, area, theme, 0, (total, pos.offset, height));
}

/// The Timeline pane.
pub type TimelinePane = ListPane<Timeline>;

/// What the Timeline pane lists and how it draws.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline;

impl ListKind for Timeline {
    const ID: PaneId = PaneId::Timeline;

    fn len(scene: &dyn Scene) -> usize {
        scene.visible_timeline().len()
    }

    fn help(keys: &Keymap) -> Vec<(String, String)> {
        use crate::tui::keymap::Command;
        vec![(
            format!(
                "{}/{}",
                keys.keys_for(Command::Down),
                keys.keys_for(Command::Up)
            ),
            "scroll the timeline".into(),
        )]
    }

    fn draw(pane: &TimelinePane, frame: &mut Frame, area: Rect, scene: &dyn Scene, focused: bool) {
        draw(pane, frame, area, scene, focused)
    }
}

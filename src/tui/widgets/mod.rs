//! Reusable pieces drawn inside panes and overlays. Each widget that takes input keeps its
//! state in a plain struct the `App` owns, and handles keys without side effects.

pub mod columns;
pub mod confirm;
pub mod describe;
pub mod form;
pub mod help;
pub mod metric_chart;
pub mod palette;
pub mod picker;
pub mod step_list;
pub mod toast;

use crossterm::event::{Event, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear};
use tui_input::Input;
use tui_input::backend::crossterm::to_input_request;

use super::theme::{Theme, Tone};

/// Feed a key to a text input; true if the input used it.
pub fn input_key(input: &mut Input, key: KeyEvent) -> bool {
    match to_input_request(&Event::Key(key)) {
        Some(req) => {
            input.handle(req);
            true
        }
        None => false,
    }
}

/// A cleared, bordered popup with a title; returns the inner area.
pub fn popup(frame: &mut Frame, area: Rect, theme: &Theme, title: &str, danger: bool) -> Rect {
    frame.render_widget(Clear, area);
    let border = if danger {
        theme.bad
    } else {
        theme.border_focus
    };
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(border)
        .style(theme.popup)
        .title(Span::styled(
            format!(" {title} "),
            theme.title.patch(border),
        ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    inner
}

/// Lines of (tone, text) styled by the theme.
pub fn toned_lines<'a>(theme: &Theme, lines: &'a [(Tone, String)]) -> Vec<Line<'a>> {
    lines
        .iter()
        .map(|(tone, text)| Line::styled(text.as_str(), theme.tone(*tone)))
        .collect()
}

/// Render a one-line text input with its cursor; `width` is the visible width.
pub fn input_line<'a>(
    input: &'a Input,
    width: usize,
    style: ratatui::style::Style,
) -> (Line<'a>, u16) {
    let scroll = input.visual_scroll(width.max(1));
    let value = input.value();
    let visible: String = value.chars().skip(scroll).collect();
    let cursor = input.visual_cursor().saturating_sub(scroll) as u16;
    (Line::styled(visible, style), cursor)
}

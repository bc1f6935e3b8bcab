//! Toasts: finished and failed operations, refusals; stacked in the top-right corner.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};

use crate::tui::state::Toast;
use crate::tui::theme::{Theme, Tone};

pub fn icon(tone: Tone) -> &'static str {
    match tone {
        Tone::Good => "✔",
        Tone::Bad => "✖",
        Tone::Warn => "!",
        _ => "•",
    }
}

/// Draw up to three toasts, newest on top, inside `area`.
pub fn render(frame: &mut Frame, area: Rect, theme: &Theme, toasts: &[Toast]) {
    let width = (area.width / 2).clamp(24, 48).min(area.width);
    let mut y = area.y + 1;
    for toast in toasts.iter().rev().take(3) {
        let text_w = width.saturating_sub(4).max(1) as usize;
        let len = toast.text.chars().count() + 2;
        let rows = len.div_ceil(text_w).clamp(1, 3) as u16;
        let h = rows + 2;
        if y + h > area.bottom() {
            break;
        }
        let rect = Rect::new(area.right().saturating_sub(width + 1), y, width, h);
        frame.render_widget(Clear, rect);
        let style = theme.tone(toast.tone);
        let block = Block::bordered()
            .border_type(BorderType::Rounded)
            .border_style(style)
            .style(theme.popup);
        let para = Paragraph::new(Line::from(vec![
            Span::styled(format!("{} ", icon(toast.tone)), style),
            Span::styled(toast.text.as_str(), theme.text),
        ]))
        .wrap(Wrap { trim: true })
        .block(block);
        frame.render_widget(para, rect);
        y += h;
    }
}

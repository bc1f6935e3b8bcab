//! The `?` overlay: every key of the current pane, then the global ones, then where the
//! log file is.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::tui::layout::centered;
use crate::tui::theme::Theme;

use super::popup;

/// A titled group of `(keys, what they do)`.
#[derive(Debug, Clone, PartialEq)]
pub struct HelpSection {
    pub title: String,
    pub entries: Vec<(String, String)>,
}

pub fn lines<'a>(
    theme: &Theme,
    sections: &'a [HelpSection],
    footer: &'a [String],
) -> Vec<Line<'a>> {
    let mut out = Vec::new();
    for s in sections {
        let key_w = s
            .entries
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0)
            .max(6);
        out.push(Line::styled(s.title.as_str(), theme.header));
        for (keys, what) in &s.entries {
            out.push(Line::from(vec![
                Span::styled(format!("  {keys:<key_w$}  "), theme.accent),
                Span::styled(what.as_str(), theme.text),
            ]));
        }
        out.push(Line::raw(""));
    }
    for f in footer {
        out.push(Line::styled(f.as_str(), theme.muted));
    }
    out
}

pub fn render(
    frame: &mut Frame,
    area: Rect,
    theme: &Theme,
    title: &str,
    sections: &[HelpSection],
    footer: &[String],
    scroll: u16,
) {
    let body = lines(theme, sections, footer);
    let height = (body.len() as u16 + 3).min(area.height);
    let rect = centered(area, area.width.saturating_sub(4).clamp(40, 76), height);
    let inner = popup(frame, rect, theme, title, false);
    let max_scroll = (body.len() as u16).saturating_sub(inner.height);
    let scroll = scroll.min(max_scroll);
    let para = Paragraph::new(body).scroll((scroll, 0));
    frame.render_widget(para, inner);
    let hint = match (scroll > 0, scroll < max_scroll) {
        (_, true) => " ↓ more · j/k scroll · esc close ",
        (true, false) => " ↑ more · j/k scroll · esc close ",
        (false, false) => " esc close ",
    };
    let hint = Line::styled(hint, theme.muted);
    let hint_area = Rect::new(
        rect.x + 2,
        rect.bottom().saturating_sub(1),
        rect.width.saturating_sub(4).min(hint.width() as u16),
        1,
    );
    frame.render_widget(hint, hint_area);
}

//! The describe overlay: an object's fields, scrollable, with its id in the title so it can
//! be selected with the mouse where the terminal does not take OSC 52.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use crate::tui::layout;
use crate::tui::model::Described;
use crate::tui::theme::Theme;

/// The popup's rectangle in `area`: nearly all of it.
pub fn rect(area: Rect) -> Rect {
    let w = area.width.saturating_sub(4).max(20);
    let h = area.height.saturating_sub(2).max(6);
    layout::centered(area, w, h)
}

/// Rows of fields visible at once in `area`.
pub fn body_rows(area: Rect) -> u16 {
    // Border (2) and the footer line with its gap (2).
    rect(area).height.saturating_sub(4).max(1)
}

/// The largest useful scroll offset.
pub fn max_scroll(d: &Described, area: Rect) -> u16 {
    (d.lines().len() as u16).saturating_sub(body_rows(area))
}

pub fn render(frame: &mut Frame, area: Rect, theme: &Theme, d: &Described, scroll: u16) {
    let r = rect(area);
    let title = format!("{} {}", d.kind, d.id);
    let inner = super::popup(frame, r, theme, &title, false);
    let rows = body_rows(area);
    let lines: Vec<Line> = d
        .lines()
        .into_iter()
        .skip(scroll as usize)
        .take(rows as usize)
        .map(|l| {
            if l.starts_with("──") {
                Line::styled(l, theme.header)
            } else {
                Line::styled(l, theme.text)
            }
        })
        .collect();
    let body = Rect::new(inner.x, inner.y, inner.width, rows.min(inner.height));
    frame.render_widget(Paragraph::new(lines), body);
    let total = d.lines().len();
    let shown_to = (scroll as usize + rows as usize).min(total);
    let footer = format!(
        "y copies {} · j/k scroll · esc closes · {}-{} of {}",
        d.id,
        (scroll as usize + 1).min(total),
        shown_to,
        total
    );
    if inner.height >= 2 {
        let f = Rect::new(inner.x, inner.bottom() - 1, inner.width, 1);
        frame.render_widget(Paragraph::new(Line::styled(footer, theme.muted)), f);
    }
}

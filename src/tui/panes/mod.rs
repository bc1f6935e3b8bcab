//! The five panes. Each draws itself from `&App` into the rectangle the layout gave it,
//! building only the rows that fit.

pub mod bots;
pub mod canary;
pub mod deployments;
pub mod timeline;
pub mod versions;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType};

use super::app::App;
use super::layout::PaneId;

pub fn render(frame: &mut Frame, area: Rect, app: &App, pane: PaneId, focused: bool) {
    match pane {
        PaneId::Bots => bots::render(frame, area, app, focused),
        PaneId::Versions => versions::render(frame, area, app, focused),
        PaneId::Deployments => deployments::render(frame, area, app, focused),
        PaneId::Canary => canary::render(frame, area, app, focused),
        PaneId::Timeline => timeline::render(frame, area, app, focused),
    }
}

pub use super::format::env_label;

/// What a list pane's title says about its rows: `4`, or `3 of 12` when filtered, then
/// the sort and filter (`4 · sort name ↑ · filter "care"`).
pub fn list_title(app: &App, pane: PaneId, shown: usize, total: usize) -> String {
    let view = app.views.get(pane);
    let filtered = view.is_some_and(|v| !v.filter.is_empty());
    let mut t = if filtered {
        format!("{shown} of {total}")
    } else {
        format!("{shown}")
    };
    if let Some(v) = view.map(|v| v.title(pane)).filter(|t| !t.is_empty()) {
        t.push_str(" · ");
        t.push_str(&v);
    }
    t
}

/// The border and title every pane shares; `extra` goes after the title.
/// A table row's style: highlighted when selected, bold only in the focused pane.
pub fn row_style(
    theme: &super::theme::Theme,
    selected: bool,
    focused: bool,
) -> ratatui::style::Style {
    match (selected, focused) {
        (true, true) => theme.selected,
        (true, false) => theme
            .selected
            .remove_modifier(ratatui::style::Modifier::BOLD),
        (false, _) => theme.text,
    }
}

pub fn block<'a>(app: &App, pane: PaneId, focused: bool, extra: Option<String>) -> Block<'a> {
    let theme = &app.theme;
    let border = if focused {
        theme.border_focus
    } else {
        theme.border
    };
    let mut title = vec![Span::styled(
        format!(" {} ", pane.title()),
        theme.title.patch(border),
    )];
    if let Some(extra) = extra {
        title.push(Span::styled(format!("{extra} "), theme.muted));
    }
    Block::bordered()
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(border)
        .title(Line::from(title))
}

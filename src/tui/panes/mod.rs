//! The five panes, each a [`Component`]: it owns its position (and a list's sort and
//! filter), draws itself from the [`Scene`] into the rectangle the layout gave it, building
//! only the rows that fit, and says what its own keys do. [`Panes`] holds the five.

pub mod bots;
pub mod canary;
pub mod deployments;
pub mod timeline;
pub mod versions;

use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType};

use super::component::{Component, ListState, Scene};
use super::layout::PaneId;
use super::state::ListView;

/// The five panes.
#[derive(Debug, Clone, Default)]
pub struct Panes {
    pub bots: bots::BotsPane,
    pub versions: versions::VersionsPane,
    pub deployments: deployments::DeploymentsPane,
    pub canary: canary::CanaryPane,
    pub timeline: timeline::TimelinePane,
}

impl Panes {
    pub fn get(&self, pane: PaneId) -> &dyn Component {
        match pane {
            PaneId::Bots => &self.bots,
            PaneId::Versions => &self.versions,
            PaneId::Deployments => &self.deployments,
            PaneId::Canary => &self.canary,
            PaneId::Timeline => &self.timeline,
        }
    }

    pub fn get_mut(&mut self, pane: PaneId) -> &mut dyn Component {
        match pane {
            PaneId::Bots => &mut self.bots,
            PaneId::Versions => &mut self.versions,
            PaneId::Deployments => &mut self.deployments,
            PaneId::Canary => &mut self.canary,
            PaneId::Timeline => &mut self.timeline,
        }
    }

    /// A list pane's sort and filter.
    pub fn view(&self, pane: PaneId) -> Option<&ListView> {
        self.get(pane).list().map(|l| &l.view)
    }

    pub fn view_mut(&mut self, pane: PaneId) -> Option<&mut ListView> {
        self.get_mut(pane).list_mut().map(|l| &mut l.view)
    }

    pub fn list_mut(&mut self, pane: PaneId) -> Option<&mut ListState> {
        self.get_mut(pane).list_mut()
    }
}

pub use super::format::env_label;

/// What a list pane's title says about its rows: `4`, or `3 of 12` when filtered, then
/// the sort and filter (`4 · sort name ↑ · filter "care"`).
pub fn list_title(view: &ListView, pane: PaneId, shown: usize, total: usize) -> String {
    let view = Some(view);
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

/// A scrollbar on the pane's right border when not every row fits: where the `shown` rows
/// from `offset` stand among `total`. `header` rows (a table's) sit above the rows.
pub fn scrollbar(
    frame: &mut ratatui::Frame,
    area: ratatui::layout::Rect,
    theme: &super::theme::Theme,
    header: u16,
    (total, offset, shown): (usize, usize, usize),
) {
    use ratatui::widgets::{Scrollbar, ScrollbarOrientation, ScrollbarState};
    if total <= shown || area.height < 3 + header {
        return;
    }
    let track = ratatui::layout::Rect {
        x: area.x,
        y: area.y + 1 + header,
        width: area.width,
        height: area.height - 2 - header,
    };
    // Positions run 0..=total-shown, so the thumb meets the track's end at the last rows.
    let mut state = ScrollbarState::new(total - shown + 1)
        .position(offset.min(total - shown))
        .viewport_content_length(shown);
    let bar = Scrollbar::new(ScrollbarOrientation::VerticalRight)
        .begin_symbol(None)
        .end_symbol(None)
        .track_symbol(Some("╎"))
        .track_style(theme.muted)
        .thumb_symbol("█")
        .thumb_style(theme.accent);
    frame.render_stateful_widget(bar, track, &mut state);
    // And in words on the bottom border: how many rows are out of sight below.
    let below = total.saturating_sub(offset + shown);
    if below > 0 {
        let text = format!(" ↓ {below} more ");
        let w = text.chars().count() as u16;
        if area.width > w + 4 {
            let at = ratatui::layout::Rect {
                x: area.right() - w - 2,
                y: area.bottom() - 1,
                width: w,
                height: 1,
            };
            frame.render_widget(ratatui::text::Line::styled(text, theme.muted), at);
        }
    }
}

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

/// An age in seconds as people say it: `4s`, `3m`, `2h`.
pub fn age_text(secs: i64) -> String {
    match secs.max(0) {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s => format!("{}h", s / 3600),
    }
}

/// The border and title every pane shares; `extra` goes after the title, and how old the
/// data is on the right when `width` leaves room for it.
pub fn block<'a>(
    app: &dyn Scene,
    width: u16,
    pane: PaneId,
    focused: bool,
    extra: Option<String>,
) -> Block<'a> {
    let theme = app.theme();
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
    let left: usize = title.iter().map(|s| s.width()).sum();
    let block = Block::bordered()
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(border)
        .title(Line::from(title));
    // How old the data is, on the right; stale data says so.
    let Some(f) = app.freshness(pane) else {
        return block;
    };
    let (text, style) = if f.stale {
        (format!(" stale: {} old ", age_text(f.age)), theme.warn)
    } else {
        (format!(" {} ago ", age_text(f.age)), theme.muted)
    };
    if left + text.chars().count() + 3 > usize::from(width) {
        return block;
    }
    block.title(Line::styled(text, style).right_aligned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::component::{PaneMsg, Rows};
    use crate::tui::keymap::Keymap;

    #[test]
    fn each_pane_is_found_under_its_own_id_and_says_its_keys() {
        let panes = Panes::default();
        let (keys, _) = Keymap::from_config(&Default::default());
        for id in [
            PaneId::Bots,
            PaneId::Versions,
            PaneId::Deployments,
            PaneId::Canary,
            PaneId::Timeline,
        ] {
            let pane = panes.get(id);
            assert_eq!(pane.id(), id);
            assert!(!pane.help(&keys).is_empty(), "{id:?} has no help");
            // Every pane but the Canary pane is a list with its own sort and filter.
            assert_eq!(pane.list().is_some(), id != PaneId::Canary, "{id:?}");
        }
    }

    #[test]
    fn a_list_pane_moves_within_its_rows_and_a_click_past_them_does_nothing() {
        let mut panes = Panes::default();
        let rows = Rows { len: 3, run: None };
        let bots = panes.get_mut(PaneId::Bots);
        bots.update(PaneMsg::Move(10), rows);
        assert_eq!(bots.list().unwrap().pos.selected, 2);
        bots.update(PaneMsg::Select(7), rows);
        assert_eq!(bots.list().unwrap().pos.selected, 2);
        bots.update(PaneMsg::Select(0), rows);
        assert_eq!(bots.list().unwrap().pos.selected, 0);
        // The other panes did not move.
        assert_eq!(panes.versions.list.pos.selected, 0);
    }

    #[test]
    fn the_canary_pane_moves_in_its_runs_history_only() {
        let mut pane = canary::CanaryPane::default();
        pane.update(PaneMsg::Move(-1), Rows { len: 4, run: None });
        assert_eq!(
            pane.history,
            Default::default(),
            "no run: nothing to move in"
        );
        let rows = Rows {
            len: 4,
            run: Some(7),
        };
        pane.update(PaneMsg::Move(-1), rows);
        assert_eq!(pane.history.selected(7, 4), Some(2));
        assert!(
            !pane.history.follow,
            "moved up: no longer follows the newest"
        );
        pane.update(PaneMsg::Move(1), rows);
        assert!(pane.history.follow, "back at the newest: follows again");
    }
}

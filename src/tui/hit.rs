//! Where things are on screen, for the App: mouse hit-testing, the rows a pane shows, the
//! scroll limits of the decision popup. It asks the panes' own layout functions, so a click
//! lands on the row drawn, and hands the row to the pane (`PaneMsg::Select`); its methods
//! are the App's, defined here.

use crossterm::event::{KeyCode, KeyEvent, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::component::PaneMsg;
use super::keymap::Command;
use super::layout::{self, PaneId, Screen};
use super::messages::Effect;

use super::app::{App, Overlay};

impl App {
    /// Rows of a pane's table body (border and header excluded).
    pub(crate) fn body_height(&self, pane: PaneId) -> usize {
        // A pane hidden behind the tabs is measured as it would be when focused.
        let screen = layout::compute(self.size, self.focus);
        let area = screen
            .pane_area(pane, self.focus)
            .or_else(|| layout::compute(self.size, pane).pane_area(pane, pane));
        let chrome = match pane {
            PaneId::Bots | PaneId::Versions => 3,
            _ => 2,
        };
        let lines = area
            .map(|a| a.height.saturating_sub(chrome) as usize)
            .unwrap_or(1)
            .max(1);
        match (pane, area) {
            // Bots rows are as tall as the environments they stack.
            (PaneId::Bots, Some(a)) => {
                super::panes::bots::rows_in(self, a.width.saturating_sub(2), lines)
            }
            _ => lines,
        }
    }

    pub(crate) fn keep_visible(&mut self) {
        let h = self.body_height(PaneId::Bots);
        self.panes.bots.list.pos.ensure_visible(h);
        let h = self.body_height(PaneId::Versions);
        self.panes.versions.list.pos.ensure_visible(h);
        let h = self.body_height(PaneId::Timeline);
        self.panes.timeline.list.pos.ensure_visible(h);
        if let Some((run, n)) = self.history_run()
            && self.panes.canary.history.run == Some(run)
        {
            let h = super::panes::canary::history_rows(self);
            self.panes.canary.history.pos.offset = self.panes.canary.history.offset(run, n, h);
        }
    }

    // ---- overlays ----

    /// Keys of the decision popup: it scrolls, steps to the neighbouring decisions and
    /// closes; nothing else reaches the console while it is open.
    pub(crate) fn decision_key(
        &mut self,
        key: KeyEvent,
        run: crate::engine::events::OpId,
        index: usize,
        scroll: u16,
    ) {
        let body = Rect::new(0, 0, self.size.width, self.size.height.saturating_sub(1));
        let max = super::panes::canary::decision_max_scroll(self, body, run, index);
        let page = body.height.saturating_sub(4).max(1);
        let n = self
            .runs
            .iter()
            .find(|r| r.id == run)
            .map_or(0, |r| r.decisions.len());
        let command = self.keymap.command_for(&key);
        let (index, scroll) = match (key.code, command) {
            (KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q'), _)
            | (_, Some(Command::Back | Command::Quit)) => return,
            (KeyCode::Down, _) | (_, Some(Command::Down)) => (index, scroll.saturating_add(1)),
            (KeyCode::Up, _) | (_, Some(Command::Up)) => (index, scroll.saturating_sub(1)),
            (KeyCode::PageDown | KeyCode::Char(' '), _) | (_, Some(Command::PageDown)) => {
                (index, scroll.saturating_add(page))
            }
            (KeyCode::PageUp, _) | (_, Some(Command::PageUp)) => {
                (index, scroll.saturating_sub(page))
            }
            (KeyCode::Home, _) | (_, Some(Command::Top)) => (index, 0),
            (KeyCode::End, _) | (_, Some(Command::Bottom)) => (index, max),
            (KeyCode::Left | KeyCode::Char('h'), _) => (index.saturating_sub(1), 0),
            (KeyCode::Right | KeyCode::Char('l'), _) => ((index + 1).min(n.saturating_sub(1)), 0),
            _ => (index, scroll),
        };
        if n > 0 {
            self.panes.canary.history.select(run, index, n);
            self.keep_visible();
        }
        let max = super::panes::canary::decision_max_scroll(self, body, run, index);
        self.overlays.push(Overlay::Decision {
            run,
            index,
            scroll: scroll.min(max),
        });
    }

    // ---- mouse ----

    pub(crate) fn on_mouse(&mut self, m: MouseEvent, out: &mut Vec<Effect>) {
        let pos = Position::new(m.column, m.row);
        let screen = layout::compute(self.size, self.focus);
        if let Some(top) = self.overlays.last_mut() {
            if let Overlay::Help { scroll } = top {
                match m.kind {
                    MouseEventKind::ScrollDown => *scroll = scroll.saturating_add(3),
                    MouseEventKind::ScrollUp => *scroll = scroll.saturating_sub(3),
                    _ => return,
                }
                self.dirty = true;
            } else if let Overlay::Decision { .. } | Overlay::Describe { .. } = top {
                let code = match m.kind {
                    MouseEventKind::ScrollDown => KeyCode::Down,
                    MouseEventKind::ScrollUp => KeyCode::Up,
                    _ => return,
                };
                self.overlay_key(KeyEvent::from(code), out);
                self.dirty = true;
            }
            return;
        }
        let _ = out;
        if let Screen::Stacked { tabs, .. } = &screen
            && tabs.contains(pos)
            && m.kind == MouseEventKind::Down(MouseButton::Left)
        {
            if let Some(p) = super::ui::tab_at(self, *tabs, m.column) {
                self.focus = p;
                self.dirty = true;
            }
            return;
        }
        let Some((pane, area)) = screen
            .panes(self.focus)
            .into_iter()
            .find(|(_, r)| r.contains(pos))
        else {
            return;
        };
        match m.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                self.focus = pane;
                self.click_row(pane, area, m.row);
                self.dirty = true;
            }
            MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
                let delta = if m.kind == MouseEventKind::ScrollDown {
                    1
                } else {
                    -1
                };
                let prev = self.focus;
                self.focus = pane;
                self.move_selection(delta);
                self.focus = prev;
                self.dirty = true;
            }
            _ => {}
        }
    }

    pub(crate) fn click_row(&mut self, pane: PaneId, area: Rect, row: u16) {
        // Border, then a header row for tables.
        let first = area.y
            + if matches!(pane, PaneId::Bots | PaneId::Versions) {
                2
            } else {
                1
            };
        if row < first || row + 1 >= area.bottom() {
            return;
        }
        let line = (row - first) as usize;
        let index = match pane {
            PaneId::Bots => {
                let tall = super::panes::bots::table_layout(self, area.width.saturating_sub(2))
                    .row_height
                    .max(1) as usize;
                Some(self.panes.bots.list.pos.offset + line / tall)
            }
            PaneId::Versions => Some(self.panes.versions.list.pos.offset + line),
            PaneId::Deployments => {
                let height = area.height.saturating_sub(2) as usize;
                super::panes::deployments::item_at_line(&self.panes.deployments, self, height, line)
            }
            PaneId::Canary => {
                super::panes::canary::decision_at(&self.panes.canary, self, area, row)
            }
            PaneId::Timeline => None,
        };
        if let Some(i) = index {
            self.pane_update(pane, PaneMsg::Select(i));
        }
    }
}

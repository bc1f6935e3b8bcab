//! Where the panes go for a given terminal size.
//!
//! - below 60×16: nothing but a "terminal too small" message;
//! - narrower than 120 columns or shorter than 28 rows: a tab bar naming every pane, the
//!   focused pane taking the body (bots and versions share it);
//! - otherwise: bots over versions on the left, deployments over canary on the right,
//!   the timeline along the bottom.
//!
//! The status bar is always the last row. `update` and `draw` both call [`compute`], so a
//! mouse click lands on what was drawn.

use ratatui::layout::{Constraint, Layout, Rect};

pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;
pub const WIDE_WIDTH: u16 = 120;
pub const WIDE_HEIGHT: u16 = 28;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PaneId {
    Bots,
    Versions,
    Deployments,
    Canary,
    Timeline,
}

impl PaneId {
    pub const ALL: [PaneId; 5] = [
        PaneId::Bots,
        PaneId::Versions,
        PaneId::Deployments,
        PaneId::Canary,
        PaneId::Timeline,
    ];

    pub fn title(self) -> &'static str {
        match self {
            PaneId::Bots => "Bots",
            PaneId::Versions => "Versions",
            PaneId::Deployments => "Deployments",
            PaneId::Canary => "Canary",
            PaneId::Timeline => "Timeline",
        }
    }

    pub fn from_name(name: &str) -> Option<PaneId> {
        let name = name.to_ascii_lowercase();
        PaneId::ALL
            .into_iter()
            .find(|p| p.title().to_ascii_lowercase().starts_with(&name) && !name.is_empty())
    }

    pub fn next(self) -> PaneId {
        let i = PaneId::ALL.iter().position(|p| *p == self).unwrap_or(0);
        PaneId::ALL[(i + 1) % PaneId::ALL.len()]
    }

    pub fn prev(self) -> PaneId {
        let i = PaneId::ALL.iter().position(|p| *p == self).unwrap_or(0);
        PaneId::ALL[(i + PaneId::ALL.len() - 1) % PaneId::ALL.len()]
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    TooSmall {
        width: u16,
        height: u16,
    },
    Stacked {
        tabs: Rect,
        body: Rect,
        panes: Vec<(PaneId, Rect)>,
        status: Rect,
    },
    Wide {
        panes: [(PaneId, Rect); 5],
        status: Rect,
    },
}

impl Screen {
    /// The rectangle of each visible pane.
    pub fn panes(&self, focus: PaneId) -> Vec<(PaneId, Rect)> {
        match self {
            Screen::TooSmall { .. } => Vec::new(),
            Screen::Stacked { panes, .. } => {
                let _ = focus;
                panes.clone()
            }
            Screen::Wide { panes, .. } => panes.to_vec(),
        }
    }

    pub fn pane_area(&self, pane: PaneId, focus: PaneId) -> Option<Rect> {
        self.panes(focus)
            .into_iter()
            .find(|(p, _)| *p == pane)
            .map(|(_, r)| r)
    }

    pub fn status(&self) -> Option<Rect> {
        match self {
            Screen::TooSmall { .. } => None,
            Screen::Stacked { status, .. } | Screen::Wide { status, .. } => Some(*status),
        }
    }
}

/// The layout for a terminal of `area`, with `focus` large when panes are stacked.
pub fn compute(area: Rect, focus: PaneId) -> Screen {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return Screen::TooSmall {
            width: area.width,
            height: area.height,
        };
    }
    if area.width < WIDE_WIDTH || area.height < WIDE_HEIGHT {
        let [tabs, body, status] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Fill(1),
            Constraint::Length(1),
        ])
        .areas(area);
        // The focused pane is large; bots and versions share the body, as each
        // explains the other.
        let panes = match focus {
            PaneId::Bots | PaneId::Versions => {
                let bots_pct = if focus == PaneId::Bots { 50 } else { 35 };
                let [bots, versions] = Layout::vertical([
                    Constraint::Percentage(bots_pct),
                    Constraint::Percentage(100 - bots_pct),
                ])
                .areas(body);
                vec![(PaneId::Bots, bots), (PaneId::Versions, versions)]
            }
            other => vec![(other, body)],
        };
        return Screen::Stacked {
            tabs,
            body,
            panes,
            status,
        };
    }
    let timeline_rows = (area.height / 5).clamp(6, 14);
    let [top, timeline, status] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(timeline_rows),
        Constraint::Length(1),
    ])
    .areas(area);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(top);
    let [bots, versions] =
        Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(left);
    let [deployments, canary] =
        Layout::vertical([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(right);
    Screen::Wide {
        panes: [
            (PaneId::Bots, bots),
            (PaneId::Versions, versions),
            (PaneId::Deployments, deployments),
            (PaneId::Canary, canary),
            (PaneId::Timeline, timeline),
        ],
        status,
    }
}

/// A centred popup of at most `width`×`height`, inside `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_pick_the_layout() {
        assert!(matches!(
            compute(Rect::new(0, 0, 59, 24), PaneId::Bots),
            Screen::TooSmall { .. }
        ));
        assert!(matches!(
            compute(Rect::new(0, 0, 80, 15), PaneId::Bots),
            Screen::TooSmall { .. }
        ));
        assert!(matches!(
            compute(Rect::new(0, 0, 80, 24), PaneId::Bots),
            Screen::Stacked { .. }
        ));
        assert!(matches!(
            compute(Rect::new(0, 0, 160, 45), PaneId::Bots),
            Screen::Wide { .. }
        ));
        assert!(matches!(
            compute(Rect::new(0, 0, 0, 0), PaneId::Bots),
            Screen::TooSmall { .. }
        ));
        let s = compute(Rect::new(0, 0, 160, 45), PaneId::Bots);
        let panes = s.panes(PaneId::Bots);
        assert_eq!(panes.len(), 5);
        for (_, r) in &panes {
            assert!(r.width > 20 && r.height >= 6, "{r:?}");
        }
    }

    #[test]
    fn pane_names_cycle() {
        assert_eq!(PaneId::Timeline.next(), PaneId::Bots);
        assert_eq!(PaneId::Bots.prev(), PaneId::Timeline);
        assert_eq!(PaneId::from_name("can"), Some(PaneId::Canary));
        assert_eq!(PaneId::from_name(""), None);
    }
}

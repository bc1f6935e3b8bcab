//! The versions of the selected bot: status, stage, created, where each is live now, the
//! last canary verdict; the last known-good version marked ★.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Row, Table};

use crate::domain::{Stage, Version, VersionStatus};
use crate::tui::component::{ListKind, ListPane, Scene};
use crate::tui::facts::{last_known_good, verdict_is_bad, verdict_is_good};
use crate::tui::format;
use crate::tui::keymap::Keymap;
use crate::tui::layout::PaneId;
use crate::tui::widgets::columns::{self, Column};

use super::block;

/// Every environment the version is live in, with its weight: `blue 100% · Staging 0%`.
fn live_text(app: &dyn Scene, v: &Version) -> String {
    let bot = app.selected_bot_summary();
    v.live_in
        .iter()
        .map(|env_id| {
            match bot.and_then(|b| b.environments.iter().find(|e| &e.environment_id == env_id)) {
                Some(e) => format!(
                    "{} {}",
                    super::env_label(e),
                    format::weight(e.traffic_weight)
                ),
                None => format::short_id(env_id),
            }
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

const SPACING: u16 = 1;
const HEADERS: [&str; 8] = [
    "", "version", "label", "status", "stage", "created", "live now", "canary",
];

fn stage_text(v: &Version) -> &'static str {
    match v.environment {
        Stage::Production => "PROD",
        Stage::Staging => "STG",
    }
}

fn draw(pane: &VersionsPane, frame: &mut Frame, area: Rect, app: &dyn Scene, focused: bool) {
    let theme = app.theme();
    let bot = app.selected_bot_summary();
    let all = app.current_versions();
    let versions = app.visible_versions();
    let view = &pane.list.view;
    let extra = bot.map(|b| {
        let mut t = format!("of {} ({})", b.name, b.id);
        if view.sort.is_some() || !view.filter.is_empty() {
            let list = super::list_title(view, PaneId::Versions, versions.len(), all.len());
            // The sort and filter before the bot's id when the title has no room for both.
            let room = (area.width as usize).saturating_sub(PaneId::Versions.title().len() + 8);
            if t.chars().count() + list.chars().count() + 3 > room {
                t = format!("of {}", b.name);
            }
            t.push_str(" · ");
            t.push_str(&list);
        }
        // Versions are read a page at a time as the list is scrolled.
        if let Some(total) = app.versions_total().filter(|t| *t > all.len() as u64) {
            t.push_str(&format!(
                " · {} of {} read",
                all.len(),
                format::count(total)
            ));
        }
        if app.wide() {
            t.push_str(" · wide");
        }
        t
    });
    let block = block(app, area.width, PaneId::Versions, focused, extra);
    if versions.is_empty() {
        let text = match bot {
            None => "select a bot".to_string(),
            Some(_) if !all.is_empty() => {
                format!(
                    "no version matches {:?} (esc clears the filter)",
                    view.filter
                )
            }
            Some(b) if app.versions_loaded_for() == Some(b.id.as_str()) => {
                format!("{} has no versions", b.name)
            }
            Some(b) => format!("loading the versions of {}…", b.name),
        };
        frame.render_widget(Paragraph::new(text).style(theme.muted).block(block), area);
        return;
    }
    let good = last_known_good(bot, all);
    let inner_w = area.width.saturating_sub(2);
    let height = area.height.saturating_sub(3) as usize;
    let pos = pane.list.pos;
    // Only the rows in view are measured and built: a list of ten thousand costs what a
    // screenful does.
    let start = pos.offset.min(versions.len());
    let window = &versions[start..(start + height).min(versions.len())];
    let live: Vec<String> = window
        .iter()
        .map(|v| {
            let t = live_text(app, v);
            if t.is_empty() { "—".to_string() } else { t }
        })
        .collect();
    let verdicts: Vec<String> = window
        .iter()
        .map(|v| {
            v.last_canary_verdict
                .as_deref()
                .unwrap_or("—")
                .replace('_', " ")
        })
        .collect();
    let cols = [
        Column::exact(HEADERS[0], [1]),
        Column::exact(
            HEADERS[1],
            window
                .iter()
                .map(|v| format::short_id(&v.id).chars().count()),
        ),
        Column::text(
            HEADERS[2],
            8,
            window.iter().map(|v| v.label.chars().count()),
        )
        // Where ids are generated, the label is the version's only readable name.
        .priority(if window.iter().any(|v| format::is_opaque(&v.id)) {
            0
        } else {
            5
        }),
        Column::exact(HEADERS[3], window.iter().map(|v| v.status.as_str().len())).priority(1),
        Column::exact(HEADERS[4], window.iter().map(|v| stage_text(v).len())).priority(4),
        Column::exact(
            HEADERS[5],
            window
                .iter()
                .map(|v| format::date_minute(&v.created_at).chars().count()),
        )
        .priority(3),
        Column::exact(HEADERS[6], live.iter().map(|l| l.chars().count())),
        Column::exact(HEADERS[7], verdicts.iter().map(|l| l.chars().count())).priority(2),
    ];
    let widths = columns::fit(&cols, inner_w, SPACING, app.wide());
    let rows = window.iter().enumerate().map(|(w, v)| {
        let i = start + w;
        let style = super::row_style(theme, i == pos.selected, focused);
        let status_style = match v.status {
            VersionStatus::Published => theme.text,
            VersionStatus::Draft => theme.warn,
            VersionStatus::Archived => theme.muted,
        };
        let verdict = &verdicts[w];
        let verdict_style = if verdict_is_bad(verdict) {
            theme.bad
        } else if verdict_is_good(verdict) {
            theme.good
        } else {
            theme.muted
        };
        let mark = if Some(v.id.as_str()) == good {
            Line::styled("★", theme.good)
        } else {
            Line::raw("")
        };
        let label_w = widths[2].unwrap_or(0) as usize;
        let verdict_w = widths[7].unwrap_or(0) as usize;
        let cells = [
            mark,
            Line::raw(format::short_id(&v.id)),
            Line::raw(format::fit(&v.label, label_w)),
            Line::styled(v.status.as_str(), status_style),
            Line::raw(stage_text(v)),
            Line::styled(format::date_minute(&v.created_at), theme.muted),
            Line::styled(live[w].clone(), theme.accent),
            Line::styled(format::fit(verdict, verdict_w), verdict_style),
        ];
        Row::new(
            cells
                .into_iter()
                .zip(&widths)
                .filter(|(_, w)| w.is_some())
                .map(|(c, _)| c)
                .collect::<Vec<_>>(),
        )
        .style(style)
    });
    let header: Vec<&str> = HEADERS
        .into_iter()
        .zip(&widths)
        .filter(|(_, w)| w.is_some())
        .map(|(h, _)| h)
        .collect();
    let constraints: Vec<Constraint> = widths
        .iter()
        .flatten()
        .map(|w| Constraint::Length(*w))
        .collect();
    let footer = good.map(|g| format!("★ last known good: {g}"));
    let block = match footer {
        Some(f) => block.title_bottom(Line::styled(format!(" {f} "), theme.muted)),
        None => block,
    };
    let table = Table::new(rows, constraints)
        .column_spacing(SPACING)
        .header(Row::new(header).style(theme.header))
        .block(block);
    frame.render_widget(table, area);
    super::scrollbar(frame, area, theme, 1, (versions.len(), pos.offset, height));
}

/// The Versions pane.
pub type VersionsPane = ListPane<Versions>;

/// What the Versions pane lists and how it draws.
#[derive(Debug, Clone, PartialEq)]
pub struct Versions;

impl ListKind for Versions {
    const ID: PaneId = PaneId::Versions;

    fn len(scene: &dyn Scene) -> usize {
        scene.visible_versions().len()
    }

    fn help(keys: &Keymap) -> Vec<(String, String)> {
        vec![(
            keys.keys_for(crate::tui::keymap::Command::Select),
            "describe the version: every field and id (★ marks the last known good)".into(),
        )]
    }

    fn draw(pane: &VersionsPane, frame: &mut Frame, area: Rect, scene: &dyn Scene, focused: bool) {
        draw(pane, frame, area, scene, focused)
    }
}

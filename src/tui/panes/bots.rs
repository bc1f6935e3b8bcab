//! Every bot: its environments with the version live in each and the routing weight, a
//! health summary and any operation in progress.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Paragraph, Row, Table, Wrap};

use crate::domain::{BotSummary, Health};
use crate::tui::component::{ListKind, ListPane, Scene};
use crate::tui::format;
use crate::tui::keymap::Keymap;
use crate::tui::layout::PaneId;
use crate::tui::theme::Theme;
use crate::tui::widgets::columns::{self, Column};

use super::block;

fn health(theme: &Theme, bot: &BotSummary, words: bool) -> Line<'static> {
    let (icon, style) = match bot.health {
        Health::Healthy => ("●", theme.good),
        Health::Degraded => ("▲", theme.warn),
        Health::Unhealthy => ("✖", theme.bad),
    };
    let rate = bot
        .error_rate
        .map(|r| format!(" {}", format::rate(r)))
        .unwrap_or_default();
    let text = if words {
        format!("{icon} {}", bot.health.as_str())
    } else {
        icon.to_string()
    };
    Line::from(vec![
        Span::styled(text, style),
        Span::styled(rate, theme.muted),
    ])
}

/// The operation in progress for a bot: a workflow of this console first, else the
/// server's record.
fn operation(app: &dyn Scene, bot: &BotSummary) -> Line<'static> {
    let theme = app.theme();
    if let Some(run) = app
        .runs()
        .iter()
        .filter(|r| r.is_active() && r.bot.as_deref() == Some(bot.id.as_str()))
        .max_by_key(|r| r.started_at)
    {
        let paused = run.paused_at.is_some();
        let mut text = format!("{} {}", if paused { "॥" } else { "◌" }, run.kind_name());
        if let Some(s) = &run.sample {
            text.push_str(&format!(
                " {}/{} {}",
                s.step,
                s.steps_total,
                format::weight(s.weight_set)
            ));
        } else {
            text.push_str(&format!(" {}", run.state_text()));
        }
        return Line::styled(text, if paused { theme.warn } else { theme.accent });
    }
    match &bot.active_operation {
        Some(op) if op.active => {
            Line::styled(format!("◌ {} {}", op.kind.as_str(), op.state), theme.accent)
        }
        Some(op) if op.error_message.is_some() || op.state.contains("fail") => {
            Line::styled(format!("✖ {} {}", op.kind.as_str(), op.state), theme.bad)
        }
        _ => Line::styled("—", theme.muted),
    }
}

use super::env_label;

/// Label width that lines up one bot's environments.
fn label_w(bot: &BotSummary) -> usize {
    bot.environments
        .iter()
        .map(|e| env_label(e).chars().count())
        .max()
        .unwrap_or(0)
}

/// One environment's live version and weight: `blue v2.3.0 100%`.
fn env_spans(
    theme: &Theme,
    e: &crate::domain::BotEnvironment,
    label_w: usize,
) -> Vec<Span<'static>> {
    let serving = e.traffic_weight > 0.0;
    vec![
        Span::styled(
            format!("{:<label_w$}", env_label(e)),
            if serving { theme.text } else { theme.muted },
        ),
        Span::styled(
            format!(
                " {}",
                e.live_version
                    .as_deref()
                    .map_or("—".into(), format::short_id)
            ),
            if serving { theme.accent } else { theme.muted },
        ),
        Span::styled(
            format!(" {}", format::weight(e.traffic_weight)),
            theme.muted,
        ),
    ]
}

/// Every environment on one line, ` · ` between them.
fn environments_line(theme: &Theme, bot: &BotSummary) -> Line<'static> {
    let mut spans = Vec::new();
    for (i, e) in bot.environments.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", theme.muted));
        }
        spans.extend(env_spans(theme, e, 0));
    }
    Line::from(spans)
}

/// Every environment on a line of its own, labels aligned.
fn environments_stacked(theme: &Theme, bot: &BotSummary) -> Vec<Line<'static>> {
    let w = label_w(bot);
    bot.environments
        .iter()
        .map(|e| Line::from(env_spans(theme, e, w)))
        .collect()
}

/// How much a row folds to keep ids whole: all on one line; environments one per line;
/// and also the id under the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fold {
    OneLine,
    Environments,
    IdUnderName,
}

/// How the Bots table is laid out for a width: the columns kept (None: dropped), the fold,
/// and how tall rows are.
pub struct BotsLayout {
    pub widths: Vec<Option<u16>>,
    pub fold: Fold,
    pub row_height: u16,
}

const SPACING: u16 = 1;

fn headers(fold: Fold) -> [&'static str; 5] {
    let first = if fold == Fold::IdUnderName {
        "bot / id"
    } else {
        "bot"
    };
    [first, "id", "live version, weight", "health", "operation"]
}

/// What a bot's row needs in width, measured once when the bot arrives (the layout weighs
/// every bot, not only the rows in view, so its columns do not jump while scrolling).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BotMeasure {
    pub name: usize,
    pub id: usize,
    /// Every environment on one line.
    pub line: usize,
    /// Each environment on its own line.
    pub stacked: Vec<usize>,
    pub health_words: usize,
    pub health_icon: usize,
}

/// Measure one bot's row.
pub fn measure(bot: &BotSummary) -> BotMeasure {
    let theme = Theme::dark();
    BotMeasure {
        name: bot.name.chars().count(),
        id: format::short_id(&bot.id).chars().count(),
        line: environments_line(&theme, bot).width(),
        stacked: environments_stacked(&theme, bot)
            .iter()
            .map(Line::width)
            .collect(),
        health_words: health(&theme, bot, true).width(),
        health_icon: health(&theme, bot, false).width(),
    }
}

fn columns(app: &dyn Scene, bots: &[&BotSummary], fold: Fold) -> Vec<Column> {
    let measured: Vec<std::borrow::Cow<'_, BotMeasure>> = bots
        .iter()
        .map(|b| match app.bot_measure(&b.id) {
            Some(m) => std::borrow::Cow::Borrowed(m),
            None => std::borrow::Cow::Owned(measure(b)),
        })
        .collect();
    let live: Vec<usize> = measured
        .iter()
        .flat_map(|m| match fold {
            Fold::OneLine => vec![m.line],
            _ => m.stacked.clone(),
        })
        .collect();
    let h = headers(fold);
    let ids = measured.iter().map(|m| m.id);
    let (name, id) = match fold {
        Fold::IdUnderName => {
            let id_w = ids.max().unwrap_or(0) as u16;
            let mut name =
                Column::text(h[0], id_w.max(8), measured.iter().map(|m| m.name.max(m.id)));
            name.content = columns::Content::Text {
                min: id_w.max(8).min(name.width),
            };
            // No id column of its own: priority far below everything, width 0.
            let id = Column::exact(h[1], [0]).priority(u8::MAX);
            (name, id)
        }
        _ => (
            Column::text(h[0], 8, measured.iter().map(|m| m.name)),
            Column::exact(h[1], ids),
        ),
    };
    let wide = app.wide();
    let busy: std::collections::HashSet<&str> = app
        .runs()
        .iter()
        .filter(|r| r.is_active())
        .filter_map(|r| r.bot.as_deref())
        .collect();
    vec![
        name,
        id,
        Column::exact(h[2], live),
        Column::text(
            h[3],
            1,
            measured
                .iter()
                .map(|m| if wide { m.health_words } else { m.health_icon }),
        )
        .priority(3),
        Column::text(
            h[4],
            10,
            bots.iter().map(|b| {
                // Most bots run nothing: their cell is "—", no need to build it.
                if b.active_operation.is_some() || busy.contains(b.id.as_str()) {
                    operation(app, b).width()
                } else {
                    1
                }
            }),
        )
        .priority(2),
    ]
}

/// The layout of the Bots table in a pane `inner_w` columns wide.
pub fn table_layout(app: &dyn Scene, inner_w: u16) -> BotsLayout {
    let bots = app.visible_bots();
    let tallest = bots
        .iter()
        .map(|b| b.environments.len())
        .max()
        .unwrap_or(1)
        .max(1) as u16;
    for fold in [Fold::OneLine, Fold::Environments, Fold::IdUnderName] {
        let cols = columns(app, &bots, fold);
        let last = fold == Fold::IdUnderName;
        if (app.wide() && fold == Fold::OneLine)
            || last
            || columns::fits_whole(&cols, inner_w, SPACING)
        {
            let mut widths = columns::fit(&cols, inner_w, SPACING, app.wide());
            if fold == Fold::IdUnderName {
                widths[1] = None;
            }
            let row_height = match fold {
                Fold::OneLine => 1,
                Fold::Environments => tallest,
                Fold::IdUnderName => tallest.max(2),
            };
            return BotsLayout {
                widths,
                fold,
                row_height,
            };
        }
    }
    unreachable!("the last fold always returns")
}

/// Table rows of the Bots pane that fit in a body `lines` tall.
pub fn rows_in(app: &dyn Scene, inner_w: u16, lines: usize) -> usize {
    (lines / table_layout(app, inner_w).row_height.max(1) as usize).max(1)
}

fn draw(pane: &BotsPane, frame: &mut Frame, area: Rect, app: &dyn Scene, focused: bool) {
    let theme = app.theme();
    let bots = app.visible_bots();
    let mut extra = super::list_title(&pane.list.view, PaneId::Bots, bots.len(), app.bots().len());
    if app.wide() {
        extra.push_str(" · wide");
    }
    let block = block(app, area.width, PaneId::Bots, focused, Some(extra));
    if bots.is_empty() {
        let text = if app.bots().is_empty() {
            match &app.connection() {
                Some((false, detail)) => format!(
                    "cannot load bots: {detail}\n\nCheck the profile's api_url (or COGNIGY_API_URL) and the credentials; relcon keeps retrying. `relcon demo` runs against a built-in simulator."
                ),
                _ => "loading bots…".to_string(),
            }
        } else {
            format!(
                "no bot matches {:?} (esc clears the filter)",
                pane.list.view.filter
            )
        };
        frame.render_widget(
            Paragraph::new(text)
                .style(theme.muted)
                .wrap(Wrap { trim: true })
                .block(block),
            area,
        );
        return;
    }
    let inner_w = area.width.saturating_sub(2);
    let lay = table_layout(app, inner_w);
    let height = (area.height.saturating_sub(3) as usize / lay.row_height.max(1) as usize).max(1);
    let pos = pane.list.pos;
    let keep = |cells: Vec<Text<'static>>| -> Vec<Text<'static>> {
        cells
            .into_iter()
            .zip(&lay.widths)
            .filter(|(_, w)| w.is_some())
            .map(|(c, _)| c)
            .collect()
    };
    let name_w = lay.widths[0].unwrap_or(8) as usize;
    let op_w = lay.widths[4].unwrap_or(0) as usize;
    let rows = bots
        .iter()
        .enumerate()
        .skip(pos.offset)
        .take(height)
        .map(|(i, bot)| {
            let style = super::row_style(theme, i == pos.selected, focused);
            let live: Text<'static> = match lay.fold {
                Fold::OneLine => Text::from(environments_line(theme, bot)),
                _ => Text::from(environments_stacked(theme, bot)),
            };
            let op = operation(app, bot);
            let op = if op.width() > op_w && !app.wide() {
                let text: String = op.spans.iter().map(|s| s.content.as_ref()).collect();
                Line::styled(format::fit(&text, op_w), op.style)
            } else {
                op
            };
            // A row not read for a while says so before its name.
            let stale = app
                .bot_age(&bot.id)
                .is_some_and(|age| age > app.stale_after());
            let name = if stale {
                Line::from(vec![
                    Span::styled("⧗ ", theme.warn),
                    Span::raw(format::fit(&bot.name, name_w.saturating_sub(2))),
                ])
            } else {
                Line::raw(format::fit(&bot.name, name_w))
            };
            let first = match lay.fold {
                Fold::IdUnderName => Text::from(vec![
                    name,
                    Line::styled(format::short_id(&bot.id), theme.muted),
                ]),
                _ => Text::from(name),
            };
            Row::new(keep(vec![
                first,
                Text::styled(format::short_id(&bot.id), theme.muted),
                live,
                Text::from(health(theme, bot, app.wide())),
                Text::from(op),
            ]))
            .height(lay.row_height)
            .style(style)
        });
    let header: Vec<&str> = headers(lay.fold)
        .into_iter()
        .zip(&lay.widths)
        .filter(|(_, w)| w.is_some())
        .map(|(h, _)| h)
        .collect();
    let widths: Vec<Constraint> = lay
        .widths
        .iter()
        .flatten()
        .map(|w| Constraint::Length(*w))
        .collect();
    let table = Table::new(rows, widths)
        .column_spacing(SPACING)
        .header(Row::new(header).style(theme.header))
        .block(block);
    frame.render_widget(table, area);
    super::scrollbar(frame, area, theme, 1, (bots.len(), pos.offset, height));
}

/// The Bots pane.
pub type BotsPane = ListPane<Bots>;

/// What the Bots pane lists and how it draws.
#[derive(Debug, Clone, PartialEq)]
pub struct Bots;

impl ListKind for Bots {
    const ID: PaneId = PaneId::Bots;

    fn len(scene: &dyn Scene) -> usize {
        scene.visible_bots().len()
    }

    fn help(keys: &Keymap) -> Vec<(String, String)> {
        vec![(
            keys.keys_for(crate::tui::keymap::Command::Select),
            "show the bot's versions".into(),
        )]
    }

    fn draw(pane: &BotsPane, frame: &mut Frame, area: Rect, scene: &dyn Scene, focused: bool) {
        draw(pane, frame, area, scene, focused)
    }
}

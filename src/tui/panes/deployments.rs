//! Every active and recent operation as a step list: workflows of this console with their
//! live progress (canary weight set vs actual, time to the next step or poll), then server
//! operations started elsewhere.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::domain::Operation;
use crate::engine::events::Outcome;
use crate::tui::component::{ListKind, ListPane, Scene};
use crate::tui::format;
use crate::tui::keymap::Keymap;
use crate::tui::layout::PaneId;
use crate::tui::model::DeployItem;
use crate::tui::state::OpRun;
use crate::tui::theme::Tone;
use crate::tui::widgets::step_list;

use super::block;

fn outcome_tone(o: Outcome) -> (&'static str, Tone) {
    match o {
        Outcome::Succeeded => ("✔", Tone::Good),
        Outcome::RolledBack => ("↺", Tone::Warn),
        Outcome::Cancelled => ("⊘", Tone::Muted),
        Outcome::Paused => ("॥", Tone::Warn),
        Outcome::Refused | Outcome::Failed | Outcome::TimedOut => ("✖", Tone::Bad),
    }
}

fn expanded_run(run: &OpRun, selected: bool) -> bool {
    selected
        || run.is_active()
        || matches!(
            run.outcome,
            Some((Outcome::Failed | Outcome::TimedOut | Outcome::Refused, _))
        )
}

fn run_lines(app: &dyn Scene, run: &OpRun, selected: bool) -> Vec<Line<'static>> {
    let theme = app.theme();
    let now = app.now();
    let (icon, tone) = match &run.outcome {
        Some((o, _)) => outcome_tone(*o),
        None if run.paused_at.is_some() => ("॥", Tone::Warn),
        None => ("◌", Tone::Accent),
    };
    let mut head = vec![
        Span::styled(format!("{icon} "), theme.tone(tone)),
        Span::styled(format!("#{} ", run.id), theme.muted),
        Span::styled(run.title.clone(), theme.title),
    ];
    match &run.outcome {
        Some((o, summary)) => {
            head.push(Span::styled(
                format!("  {}", o.as_str().replace('_', " ")),
                theme.tone(tone),
            ));
            if let Some(at) = run.finished_at {
                head.push(Span::styled(format!(" {}", format::clock(at)), theme.muted));
            }
            let summary =
                format::summary_after(summary, &run.title, &o.as_str().replace('_', " "), false);
            if !summary.is_empty() {
                head.push(Span::styled(format!(" · {summary}"), theme.muted));
            }
        }
        None => {
            head.push(Span::styled(
                format!(
                    "  {}",
                    format::duration(format::secs_between(run.started_at, now))
                ),
                theme.muted,
            ));
            if let Some(s) = &run.sample {
                head.push(Span::styled(
                    format!(" · step {}/{}", s.step, s.steps_total),
                    theme.text,
                ));
                let actual = s
                    .weight_actual
                    .map(|a| format!(" / {} actual", format::weight(a)))
                    .unwrap_or_default();
                let off = s
                    .weight_actual
                    .is_some_and(|a| (a - s.weight_set).abs() > 2.0);
                head.push(Span::styled(
                    format!(" · {} set{actual}", format::weight(s.weight_set)),
                    if off { theme.warn } else { theme.text },
                ));
            }
            if let (Some(w), false) = (&run.waiting, expanded_run(run, selected)) {
                head.push(Span::styled(
                    format!(" · {}", format::countdown(&w.what, now, w.until)),
                    theme.accent,
                ));
            }
        }
    }
    let mut lines = vec![Line::from(head)];
    if expanded_run(run, selected) {
        lines.extend(step_list::run_steps(run, now, theme, 2));
    }
    lines
}

fn server_lines(app: &dyn Scene, op: &Operation, selected: bool) -> Vec<Line<'static>> {
    let theme = app.theme();
    let failed = op.error_message.is_some() || op.state.contains("fail");
    let (icon, tone) = if op.active {
        ("◌", Tone::Accent)
    } else if failed {
        ("✖", Tone::Bad)
    } else {
        ("✔", Tone::Good)
    };
    let bot = op
        .bot_id
        .as_deref()
        .map(|id| {
            app.bot(id)
                .map(|b| b.name.clone())
                .unwrap_or_else(|| id.to_string())
        })
        .unwrap_or_default();
    let target = match (&op.version_id, &op.environment_id) {
        (Some(v), Some(e)) => format!(" {v} → {e}"),
        (Some(v), None) => format!(" {v}"),
        (None, Some(e)) => format!(" → {e}"),
        (None, None) => String::new(),
    };
    let mut head = vec![
        Span::styled(format!("{icon} "), theme.tone(tone)),
        Span::styled(format!("{} ", op.id), theme.muted),
        Span::styled(format!("{} {bot}{target}", op.kind.as_str()), theme.title),
        Span::styled(format!("  {}", op.state), theme.tone(tone)),
        Span::styled(" (started elsewhere)", theme.muted),
    ];
    if let Some(err) = &op.error_message {
        head.push(Span::styled(format!(" · {err}"), theme.bad));
    }
    let mut lines = vec![Line::from(head)];
    if op.active || selected || failed {
        lines.extend(step_list::server_steps(&op.steps, app.now(), theme, 2));
    }
    lines
}

fn item_lines(app: &dyn Scene, item: DeployItem, selected: bool) -> Vec<Line<'static>> {
    match item {
        DeployItem::Run(i) => app
            .runs()
            .get(i)
            .map(|r| run_lines(app, r, selected))
            .unwrap_or_default(),
        DeployItem::Server(i) => app
            .operations()
            .get(i)
            .map(|o| server_lines(app, o, selected))
            .unwrap_or_default(),
    }
}

fn item_height(app: &dyn Scene, item: DeployItem, selected: bool) -> usize {
    match item {
        DeployItem::Run(i) => app
            .runs()
            .get(i)
            .map(|r| {
                1 + if expanded_run(r, selected) {
                    r.steps.len()
                } else {
                    0
                }
            })
            .unwrap_or(1),
        DeployItem::Server(i) => app
            .operations()
            .get(i)
            .map(|o| {
                let failed = o.error_message.is_some() || o.state.contains("fail");
                1 + if o.active || selected || failed {
                    o.steps.len()
                } else {
                    0
                }
            })
            .unwrap_or(1),
    }
}

/// The first item drawn so that the selected one fits in `height` lines.
fn first_item(app: &dyn Scene, sel: usize, items: &[DeployItem], height: usize) -> usize {
    let sel = sel.min(items.len().saturating_sub(1));
    let mut start = 0;
    loop {
        let used: usize = (start..=sel)
            .map(|i| item_height(app, items[i], i == sel))
            .sum();
        if used <= height || start >= sel {
            return start;
        }
        start += 1;
    }
}

/// Which item is drawn at `line` (0 = first body line) of a body `height` lines tall.
pub fn item_at_line(
    pane: &DeploymentsPane,
    app: &dyn Scene,
    height: usize,
    line: usize,
) -> Option<usize> {
    let items = app.deploy_items();
    if items.is_empty() {
        return None;
    }
    let sel = pane.list.pos.selected;
    let start = first_item(app, sel, &items, height);
    let mut y = 0;
    for (i, item) in items.iter().enumerate().skip(start) {
        let h = item_height(app, *item, i == sel);
        if line < y + h {
            return Some(i);
        }
        y += h;
    }
    None
}

fn draw(pane: &DeploymentsPane, frame: &mut Frame, area: Rect, app: &dyn Scene, focused: bool) {
    let theme = app.theme();
    let items = app.deploy_items();
    // Count what is listed: a server operation a run created is part of that run.
    let active = items
        .iter()
        .filter(|item| match item {
            DeployItem::Run(i) => app.runs().get(*i).is_some_and(|r| r.is_active()),
            DeployItem::Server(i) => app.operations().get(*i).is_some_and(|o| o.active),
        })
        .count();
    let mut title = format!("{active} active · {} recent", items.len() - active);
    let view = &pane.list.view;
    let all = if view.filter.is_empty() {
        items.len()
    } else {
        app.deploy_items_all().len()
    };
    if view.sort.is_some() || !view.filter.is_empty() {
        title.push_str(" · ");
        title.push_str(&super::list_title(
            view,
            PaneId::Deployments,
            items.len(),
            all,
        ));
    }
    let block = block(app, area.width, PaneId::Deployments, focused, Some(title));
    if items.is_empty() && all > 0 {
        frame.render_widget(
            Paragraph::new(format!(
                "no operation matches {:?} (esc clears the filter)",
                view.filter
            ))
            .style(theme.muted)
            .block(block),
            area,
        );
        return;
    }
    if items.is_empty() {
        frame.render_widget(
            Paragraph::new(format!(
                "no operations yet — {} deploys, {} starts a canary, {} rolls back",
                app.keymap().keys_for(crate::tui::keymap::Command::Deploy),
                app.keymap().keys_for(crate::tui::keymap::Command::Canary),
                app.keymap().keys_for(crate::tui::keymap::Command::Rollback)
            ))
            .style(theme.muted)
            .block(block),
            area,
        );
        return;
    }
    let height = area.height.saturating_sub(2) as usize;
    let width = area.width.saturating_sub(2) as usize;
    let sel = pane.list.pos.selected;
    let start = first_item(app, sel, &items, height);
    let mut lines: Vec<Line> = Vec::with_capacity(height);
    let mut drawn = 0;
    for (i, item) in items.iter().enumerate().skip(start) {
        if lines.len() >= height {
            break;
        }
        drawn += 1;
        let mut item_lines = item_lines(app, *item, i == sel);
        if i == sel && focused {
            if let Some(first) = item_lines.first_mut() {
                let pad = width.saturating_sub(first.width());
                first.spans.push(Span::raw(" ".repeat(pad)));
                *first = std::mem::take(first).patch_style(theme.selected);
            }
        } else if i == sel
            && let Some(first) = item_lines.first_mut()
        {
            first.spans.insert(0, Span::styled("›", theme.accent));
        }
        lines.extend(item_lines);
    }
    // An item cut at the bottom does not count as shown.
    if lines.len() > height {
        drawn -= 1;
    }
    lines.truncate(height);
    frame.render_widget(Paragraph::new(lines).block(block), area);
    super::scrollbar(frame, area, theme, 0, (items.len(), start, drawn.max(1)));
}

/// The Deployments pane.
pub type DeploymentsPane = ListPane<Deployments>;

/// What the Deployments pane lists and how it draws.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployments;

impl ListKind for Deployments {
    const ID: PaneId = PaneId::Deployments;

    fn len(scene: &dyn Scene) -> usize {
        scene.deploy_items().len()
    }

    fn help(keys: &Keymap) -> Vec<(String, String)> {
        vec![(
            keys.keys_for(crate::tui::keymap::Command::Select),
            "open a canary in the Canary pane".into(),
        )]
    }

    fn draw(
        pane: &DeploymentsPane,
        frame: &mut Frame,
        area: Rect,
        scene: &dyn Scene,
        focused: bool,
    ) {
        draw(pane, frame, area, scene, focused)
    }
}

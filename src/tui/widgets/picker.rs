//! The rollback picker: eligible versions on the left, what choosing one changes on the
//! right (environment, flows, NLU model, active sessions, past verdicts).

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table, Wrap};

use crate::domain::Version;
use crate::tui::format;
use crate::tui::layout::centered;
use crate::tui::theme::{Theme, Tone};

use super::popup;

/// What is live now where the rollback applies.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveNow {
    pub env_id: String,
    pub env_name: String,
    pub version: Option<Version>,
    pub version_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PickerState {
    pub bot_id: String,
    pub bot_name: String,
    pub live: Option<LiveNow>,
    pub candidates: Vec<Version>,
    pub selected: usize,
    pub active_sessions: u32,
    /// The rollback refuses if more sessions than this would be cut off at the end of
    /// its drain.
    pub max_active_sessions: u32,
    /// Digits typed since the picker opened replace the limit (the first one clears it).
    pub typing: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickerOutcome {
    Stay,
    Cancel,
    Choose,
}

impl PickerState {
    pub fn chosen(&self) -> Option<&Version> {
        self.candidates.get(self.selected)
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> PickerOutcome {
        let n = self.candidates.len();
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') => PickerOutcome::Cancel,
            KeyCode::Down | KeyCode::Char('j') if n > 0 => {
                self.selected = (self.selected + 1).min(n - 1);
                PickerOutcome::Stay
            }
            KeyCode::Up | KeyCode::Char('k') => {
                self.selected = self.selected.saturating_sub(1);
                PickerOutcome::Stay
            }
            KeyCode::Char(c) if c.is_ascii_digit() => {
                let d = c.to_digit(10).unwrap_or(0);
                let base = if self.typing {
                    self.max_active_sessions
                } else {
                    0
                };
                self.max_active_sessions = base.saturating_mul(10).saturating_add(d).min(9_999_999);
                self.typing = true;
                PickerOutcome::Stay
            }
            KeyCode::Backspace => {
                self.max_active_sessions /= 10;
                self.typing = true;
                PickerOutcome::Stay
            }
            KeyCode::Char('+') | KeyCode::Char('=') | KeyCode::Right => {
                self.max_active_sessions = self.max_active_sessions.saturating_add(1);
                PickerOutcome::Stay
            }
            KeyCode::Char('-') | KeyCode::Left => {
                self.max_active_sessions = self.max_active_sessions.saturating_sub(1);
                PickerOutcome::Stay
            }
            KeyCode::Enter if n > 0 => PickerOutcome::Choose,
            _ => PickerOutcome::Stay,
        }
    }

    /// What choosing the highlighted version changes, as lines a release manager reads.
    pub fn impact(&self) -> Vec<(Tone, String)> {
        let mut out = Vec::new();
        let Some(v) = self.chosen() else {
            out.push((
                Tone::Warn,
                "No eligible version: a rollback target must be PUBLISHED, of the same stage, and not the live one."
                    .to_string(),
            ));
            return out;
        };
        match &self.live {
            Some(live) => out.push((
                Tone::Normal,
                format!(
                    "{}: {} → {}",
                    live.env_name,
                    live.version_id.as_deref().unwrap_or("nothing"),
                    v.id
                ),
            )),
            None => out.push((
                Tone::Warn,
                "No live environment found for this stage.".to_string(),
            )),
        }
        if let Some(cur) = self.live.as_ref().and_then(|l| l.version.as_ref()) {
            if v.created_at > cur.created_at {
                out.push((
                    Tone::Warn,
                    format!(
                        "{} is newer than the live {}: this rolls forward, not back",
                        v.id, cur.id
                    ),
                ));
            }
            if cur.nlu_model_id != v.nlu_model_id {
                out.push((
                    Tone::Normal,
                    format!("NLU model: {} → {}", cur.nlu_model_id, v.nlu_model_id),
                ));
            } else {
                out.push((Tone::Muted, "NLU model: unchanged".to_string()));
            }
            let changed = v
                .flow_references
                .iter()
                .filter(|f| !cur.flow_references.contains(f))
                .count();
            let removed = cur
                .flow_references
                .iter()
                .filter(|f| !v.flow_references.iter().any(|g| g.flow_id == f.flow_id))
                .count();
            out.push((
                if changed + removed > 0 {
                    Tone::Normal
                } else {
                    Tone::Muted
                },
                format!("flows: {changed} changed or added, {removed} removed"),
            ));
        }
        out.push((
            Tone::Muted,
            format!("created {}", format::date_minute(&v.created_at)),
        ));
        match v.last_canary_verdict.as_deref() {
            Some(verdict) if verdict.contains("roll") || verdict.contains("fail") => out.push((
                Tone::Bad,
                format!("last canary: {verdict} — this version failed a canary before"),
            )),
            Some(verdict) => out.push((Tone::Good, format!("last canary: {verdict}"))),
            None => out.push((Tone::Muted, "last canary: none".to_string())),
        }
        // The engine's rule: new conversations go to the target at once, sessions already
        // open finish where they are during the drain, and only those still open when it
        // ends are cut off; the limit applies to those.
        if self.active_sessions == 0 {
            out.push((
                Tone::Good,
                "no active sessions: nobody to drain".to_string(),
            ));
        } else {
            out.push((
                Tone::Normal,
                format!(
                    "{} active sessions finish on the live version during the drain; new ones go to the target at once",
                    self.active_sessions
                ),
            ));
            out.push((
                Tone::Muted,
                format!(
                    "refused only if more than {} would still be open when the drain ends (type a number, or +/-)",
                    self.max_active_sessions
                ),
            ));
        }
        out
    }

    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let width = area.width.saturating_sub(4).clamp(56, 110);
        let side_by_side = width >= 92;
        let list_rows = (self.candidates.len() as u16 + 1).clamp(3, 8);
        // Each impact line as wrapped in the width it gets (half the popup side by side).
        let text_w = if side_by_side {
            (width.saturating_sub(3) / 2).max(1)
        } else {
            width.saturating_sub(2).max(1)
        } as usize;
        let impact_rows = self
            .impact()
            .iter()
            .map(|(_, l)| {
                let w = ratatui::text::Line::raw(l.as_str()).width();
                // Words wrap short of the width: allow a row more for a long line.
                (w.max(1).div_ceil(text_w) + usize::from(w > text_w)) as u16
            })
            .sum::<u16>()
            + 3;
        let height = if side_by_side {
            list_rows.max(impact_rows) + 3
        } else {
            list_rows + impact_rows + 4
        };
        let rect = centered(area, width, height.max(12));
        let inner = popup(
            frame,
            rect,
            theme,
            &format!("Roll back {} to…", self.bot_name),
            true,
        );
        let [list_area, detail_area, keys] = if side_by_side {
            let [body, keys] =
                Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(inner);
            let [l, d] =
                Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                    .spacing(1)
                    .areas(body);
            [l, d, keys]
        } else {
            Layout::vertical([
                Constraint::Length(list_rows),
                Constraint::Fill(1),
                Constraint::Length(1),
            ])
            .spacing(1)
            .areas(inner)
        };
        let height = list_area.height.saturating_sub(1) as usize;
        let offset = self.selected.saturating_sub(height.saturating_sub(1));
        let rows = self
            .candidates
            .iter()
            .enumerate()
            .skip(offset)
            .take(height)
            .map(|(i, v)| {
                let verdict = v.last_canary_verdict.as_deref().unwrap_or("—");
                let tone = if verdict.contains("roll") || verdict.contains("fail") {
                    theme.bad
                } else if verdict.contains("promot") || verdict.contains("pass") {
                    theme.good
                } else {
                    theme.muted
                };
                let style = if i == self.selected {
                    theme.selected
                } else {
                    theme.text
                };
                Row::new(vec![
                    Line::from(format!(
                        "{} {}",
                        if i == self.selected { "›" } else { " " },
                        v.id
                    )),
                    Line::from(v.label.clone()),
                    Line::from(format::date_minute(&v.created_at)),
                    Line::styled(verdict.replace('_', " "), tone),
                ])
                .style(style)
            });
        let table = Table::new(
            rows,
            [
                Constraint::Length(10),
                Constraint::Fill(1),
                Constraint::Length(16),
                Constraint::Length(11),
            ],
        )
        .header(Row::new(vec!["version", "label", "created", "verdict"]).style(theme.header));
        if self.candidates.is_empty() {
            frame.render_widget(
                Paragraph::new("no eligible versions").style(theme.muted),
                list_area,
            );
        } else {
            frame.render_widget(table, list_area);
        }
        let mut lines = vec![Line::styled("What changes", theme.header)];
        lines.extend(
            self.impact()
                .into_iter()
                .map(|(tone, text)| Line::styled(text, theme.tone(tone))),
        );
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), detail_area);
        frame.render_widget(
            Line::from(vec![Span::styled(
                "↑↓ choose · 0-9 or +/- session limit · enter continue · esc cancel",
                theme.muted,
            )]),
            keys,
        );
    }
}

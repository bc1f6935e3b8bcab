//! A form of labelled one-line inputs (tui-input), with an error per field. Used for the
//! canary plan.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Block;
use tui_input::Input;

use crate::tui::layout::centered;
use crate::tui::theme::{Theme, Tone};

use super::{input_key, input_line, popup, toned_lines};

#[derive(Debug, Clone)]
pub struct FormField {
    pub label: String,
    pub hint: String,
    pub input: Input,
    pub error: Option<String>,
}

/// The form's keys, on its last line.
const KEYS: &str =
    "tab/↓ next · shift-tab/↑ previous · enter on the last field (or ctrl-s) submit · esc cancel";

impl FormField {
    pub fn new(label: &str, value: &str, hint: &str) -> FormField {
        FormField {
            label: label.to_string(),
            hint: hint.to_string(),
            input: Input::new(value.to_string()),
            error: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FormState {
    pub title: String,
    pub intro: Vec<(Tone, String)>,
    pub fields: Vec<FormField>,
    pub focus: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormOutcome {
    Stay,
    Cancel,
    Submit,
}

impl FormState {
    pub fn value(&self, i: usize) -> &str {
        self.fields.get(i).map(|f| f.input.value()).unwrap_or("")
    }

    pub fn set_error(&mut self, i: usize, msg: impl Into<String>) {
        if let Some(f) = self.fields.get_mut(i) {
            f.error = Some(msg.into());
        }
    }

    pub fn clear_errors(&mut self) {
        for f in &mut self.fields {
            f.error = None;
        }
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> FormOutcome {
        let n = self.fields.len().max(1);
        match key.code {
            KeyCode::Esc => FormOutcome::Cancel,
            KeyCode::Char('s') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                FormOutcome::Submit
            }
            KeyCode::Enter if self.focus + 1 >= n => FormOutcome::Submit,
            KeyCode::Enter | KeyCode::Tab | KeyCode::Down => {
                self.focus = (self.focus + 1) % n;
                FormOutcome::Stay
            }
            KeyCode::BackTab | KeyCode::Up => {
                self.focus = (self.focus + n - 1) % n;
                FormOutcome::Stay
            }
            _ => {
                if let Some(f) = self.fields.get_mut(self.focus)
                    && input_key(&mut f.input, key)
                {
                    f.error = None;
                }
                FormOutcome::Stay
            }
        }
    }

    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let rows = self.intro.len() as u16 + 1 + self.fields.len() as u16 * 2 + 2 + 2;
        // As wide as its longest line (a hint, an error, the keys), as the screen allows.
        let label_w = self
            .fields
            .iter()
            .map(|f| f.label.chars().count())
            .max()
            .unwrap_or(0)
            + 2;
        let widest = self
            .fields
            .iter()
            .map(|f| {
                label_w
                    + f.error
                        .as_ref()
                        .map_or(0, |e| e.chars().count() + 2)
                        .max(f.hint.chars().count())
            })
            .chain(self.intro.iter().map(|(_, t)| t.chars().count()))
            .chain(std::iter::once(KEYS.chars().count()))
            .max()
            .unwrap_or(0) as u16
            + 2;
        let rect = centered(
            area,
            widest.clamp(40, area.width.saturating_sub(4).max(40)),
            rows,
        );
        let inner = popup(frame, rect, theme, &self.title, false);
        let [intro, fields, keys] = Layout::vertical([
            Constraint::Length(self.intro.len() as u16 + 1),
            Constraint::Fill(1),
            Constraint::Length(1),
        ])
        .areas(inner);
        frame.render_widget(
            ratatui::widgets::Paragraph::new(toned_lines(theme, &self.intro)),
            intro,
        );
        let label_w = label_w as u16;
        for (i, field) in self.fields.iter().enumerate() {
            let y = fields.y + i as u16 * 2;
            if y + 1 > fields.bottom() {
                break;
            }
            let row = Rect::new(fields.x, y, fields.width, 1);
            let [label, value] =
                Layout::horizontal([Constraint::Length(label_w), Constraint::Fill(1)]).areas(row);
            let focused = i == self.focus;
            let label_style = if focused { theme.accent } else { theme.text };
            frame.render_widget(Span::styled(field.label.as_str(), label_style), label);
            let (line, cursor) = input_line(&field.input, value.width as usize, theme.text);
            if focused {
                frame.render_widget(Block::new().style(theme.selected), value);
            }
            frame.render_widget(line, value);
            if focused {
                frame.set_cursor_position((value.x + cursor, value.y));
            }
            if y + 1 < fields.bottom() {
                let note = Rect::new(value.x, y + 1, value.width, 1);
                let w = note.width as usize;
                let text = match &field.error {
                    Some(e) => {
                        Line::styled(crate::tui::format::fit(&format!("✖ {e}"), w), theme.bad)
                    }
                    None => Line::styled(crate::tui::format::fit(&field.hint, w), theme.muted),
                };
                frame.render_widget(text, note);
            }
        }
        frame.render_widget(
            Line::styled(
                crate::tui::format::fit(KEYS, keys.width as usize),
                theme.muted,
            ),
            keys,
        );
    }
}

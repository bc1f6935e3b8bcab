//! A confirmation dialog: what will happen, then `y`/`n` — or, for a production profile,
//! typing the bot's (or environment's) name exactly.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use tui_input::Input;

use crate::tui::layout::centered;
use crate::tui::messages::Effect;
use crate::tui::theme::{Theme, Tone};

use super::{input_key, input_line, popup, toned_lines};

#[derive(Debug, Clone, PartialEq)]
pub enum ConfirmKind {
    /// Confirming emits `effects`.
    Effects(Vec<Effect>),
    /// Quitting while workflows run: `y` leaves them, `a` aborts them first.
    Quit,
}

#[derive(Debug, Clone)]
pub struct ConfirmState {
    pub title: String,
    pub lines: Vec<(Tone, String)>,
    pub kind: ConfirmKind,
    /// In a production profile: the name to type.
    pub typed: Option<(String, Input)>,
    pub danger: bool,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmOutcome {
    Stay,
    Cancel,
    Confirm,
    /// Quit dialog only: abort every running workflow, then quit.
    AbortAndQuit,
}

impl ConfirmState {
    pub fn new(title: impl Into<String>, lines: Vec<(Tone, String)>, kind: ConfirmKind) -> Self {
        ConfirmState {
            title: title.into(),
            lines,
            kind,
            typed: None,
            danger: false,
            error: None,
        }
    }

    /// Require typing `name` to confirm.
    pub fn typed(mut self, name: impl Into<String>) -> Self {
        self.typed = Some((name.into(), Input::default()));
        self
    }

    pub fn danger(mut self) -> Self {
        self.danger = true;
        self
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> ConfirmOutcome {
        if key.code == KeyCode::Esc
            || (key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL))
        {
            return ConfirmOutcome::Cancel;
        }
        if let Some((expected, input)) = &mut self.typed {
            if key.code == KeyCode::Enter {
                if input.value() == expected.as_str() {
                    return ConfirmOutcome::Confirm;
                }
                self.error = Some(format!(
                    "that is not {expected:?}; nothing was sent (esc cancels)"
                ));
                return ConfirmOutcome::Stay;
            }
            input_key(input, key);
            self.error = None;
            return ConfirmOutcome::Stay;
        }
        match (key.code, &self.kind) {
            (KeyCode::Char('l') | KeyCode::Char('L'), ConfirmKind::Quit) => ConfirmOutcome::Confirm,
            (KeyCode::Char('s') | KeyCode::Char('S'), ConfirmKind::Quit) => {
                ConfirmOutcome::AbortAndQuit
            }
            // The quit dialog's choices are named keys; `y` is not one of them.
            (KeyCode::Char('y') | KeyCode::Char('Y'), ConfirmKind::Effects(_)) => {
                ConfirmOutcome::Confirm
            }
            (KeyCode::Enter, ConfirmKind::Effects(_)) => ConfirmOutcome::Confirm,
            (KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Char('q'), _) => {
                ConfirmOutcome::Cancel
            }
            _ => ConfirmOutcome::Stay,
        }
    }

    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let width = area.width.saturating_sub(4).clamp(40, 84);
        let inner_w = width.saturating_sub(2).max(1) as usize;
        // Rows the text takes once wrapped (words may push a little past the estimate).
        let text_rows: u16 = self
            .lines
            .iter()
            .map(|(_, l)| {
                (Line::raw(l.as_str()).width().max(1).div_ceil(inner_w) as u16)
                    + u16::from(Line::raw(l.as_str()).width() > inner_w)
            })
            .sum();
        let extra = if self.typed.is_some() { 2 } else { 0 } + u16::from(self.error.is_some());
        let rect = centered(area, width, text_rows + extra + 4);
        let inner = popup(frame, rect, theme, &self.title, self.danger);
        let [body, typed, error, _, keys] = Layout::vertical([
            Constraint::Fill(1),
            Constraint::Length(if self.typed.is_some() { 2 } else { 0 }),
            Constraint::Length(u16::from(self.error.is_some())),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .areas(inner);
        frame.render_widget(
            Paragraph::new(toned_lines(theme, &self.lines)).wrap(Wrap { trim: false }),
            body,
        );
        if let Some((expected, input)) = &self.typed {
            let [label, field] =
                Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(typed);
            frame.render_widget(
                Line::from(vec![
                    Span::styled("Production: type ", theme.warn),
                    Span::styled(expected.as_str(), theme.title),
                    Span::styled(" to confirm", theme.warn),
                ]),
                label,
            );
            let prompt = "> ";
            let w = field.width.saturating_sub(prompt.len() as u16) as usize;
            let (line, cursor) = input_line(input, w, theme.text);
            let mut spans = vec![Span::styled(prompt, theme.accent)];
            spans.extend(line.spans);
            frame.render_widget(Line::from(spans), field);
            frame.set_cursor_position((field.x + prompt.len() as u16 + cursor, field.y));
        }
        if let Some(err) = &self.error {
            frame.render_widget(Line::styled(err.as_str(), theme.bad), error);
        }
        let hint = match (&self.kind, self.typed.is_some()) {
            (_, true) => "enter confirm · esc cancel",
            (ConfirmKind::Quit, false) => {
                "l leave running, quit · s stop safely, then quit · esc stay"
            }
            (ConfirmKind::Effects(_), false) => "y/enter confirm · n/esc cancel",
        };
        frame.render_widget(Line::styled(hint, theme.muted), keys);
    }
}

//! The `:` command palette: a line of input, completion of command names and their
//! arguments, and a list of matching suggestions.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use tui_input::Input;

use crate::tui::theme::Theme;

use super::{input_key, input_line, popup};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    None,
    Version,
    Bot,
    Env,
    /// An environment, then a snapshot file path.
    EnvThenPath,
    Theme,
    Pane,
    Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaletteCommand {
    pub name: &'static str,
    pub args: &'static str,
    pub about: &'static str,
    pub arg: ArgKind,
}

const fn cmd(
    name: &'static str,
    args: &'static str,
    about: &'static str,
    arg: ArgKind,
) -> PaletteCommand {
    PaletteCommand {
        name,
        args,
        about,
        arg,
    }
}

pub const COMMANDS: &[PaletteCommand] = &[
    cmd(
        "deploy",
        "[version]",
        "blue-green deploy of a version of the selected bot",
        ArgKind::Version,
    ),
    cmd(
        "canary",
        "[version]",
        "start a canary of a version of the selected bot",
        ArgKind::Version,
    ),
    cmd(
        "rollback",
        "",
        "roll the selected bot back (pick a version)",
        ArgKind::None,
    ),
    cmd("promote", "", "promote the canary one step", ArgKind::None),
    cmd(
        "promote-full",
        "",
        "promote the canary to 100%",
        ArgKind::None,
    ),
    cmd("pause", "", "pause the selected operation", ArgKind::None),
    cmd("resume", "", "resume the selected operation", ArgKind::None),
    cmd(
        "abort",
        "",
        "abort the selected operation (restores)",
        ArgKind::None,
    ),
    cmd(
        "flows-deploy",
        "<env>",
        "deploy flows to an environment",
        ArgKind::Env,
    ),
    cmd(
        "env-deploy",
        "<env> <snapshot>",
        "deploy an environment from a snapshot file",
        ArgKind::EnvThenPath,
    ),
    cmd("refresh", "", "fetch everything again now", ArgKind::None),
    cmd("bot", "<name>", "select a bot", ArgKind::Bot),
    cmd(
        "filter",
        "[text]",
        "filter bots (empty clears)",
        ArgKind::Text,
    ),
    cmd("pane", "<name>", "focus a pane", ArgKind::Pane),
    cmd(
        "theme",
        "<dark|light|mono>",
        "switch colours",
        ArgKind::Theme,
    ),
    cmd("help", "", "list keys", ArgKind::None),
    cmd("quit", "", "quit", ArgKind::None),
];

/// Look a command up by name or unique prefix.
pub fn find_command(word: &str) -> Option<&'static PaletteCommand> {
    if let Some(c) = COMMANDS.iter().find(|c| c.name == word) {
        return Some(c);
    }
    let mut matches = COMMANDS.iter().filter(|c| c.name.starts_with(word));
    match (matches.next(), matches.next()) {
        (Some(c), None) if !word.is_empty() => Some(c),
        _ => None,
    }
}

/// What arguments can complete to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompletionData {
    pub bots: Vec<String>,
    pub envs: Vec<String>,
    pub versions: Vec<String>,
}

/// Full lines the input could complete to.
pub fn suggestions(input: &str, data: &CompletionData) -> Vec<String> {
    let input = input.trim_start();
    match input.split_once(' ') {
        None => COMMANDS
            .iter()
            .filter(|c| c.name.starts_with(input))
            .map(|c| c.name.to_string())
            .collect(),
        Some((word, rest)) => {
            let Some(command) = find_command(word) else {
                return Vec::new();
            };
            let (done, prefix) = match command.arg {
                ArgKind::EnvThenPath => match rest.split_once(' ') {
                    Some(_) => return Vec::new(),
                    None => ("", rest),
                },
                _ => ("", rest),
            };
            let pool: Vec<String> = match command.arg {
                ArgKind::None | ArgKind::Text => Vec::new(),
                ArgKind::Version => data.versions.clone(),
                ArgKind::Bot => data.bots.clone(),
                ArgKind::Env | ArgKind::EnvThenPath => data.envs.clone(),
                ArgKind::Theme => ["dark", "light", "mono"].map(String::from).to_vec(),
                ArgKind::Pane => ["bots", "versions", "deployments", "canary", "timeline"]
                    .map(String::from)
                    .to_vec(),
            };
            pool.into_iter()
                .filter(|p| p.starts_with(prefix))
                .map(|p| format!("{} {done}{p}", command.name))
                .collect()
        }
    }
}

fn common_prefix(items: &[String]) -> String {
    let Some(first) = items.first() else {
        return String::new();
    };
    let mut len = first.len();
    for s in &items[1..] {
        len = first
            .char_indices()
            .zip(s.chars())
            .take_while(|((_, a), b)| a == b)
            .last()
            .map(|((i, a), _)| i + a.len_utf8())
            .unwrap_or(0)
            .min(len);
    }
    first[..len].to_string()
}

#[derive(Debug, Clone, Default)]
pub struct PaletteState {
    pub input: Input,
    pub selected: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaletteOutcome {
    Stay,
    Cancel,
    Run(String),
}

impl PaletteState {
    pub fn handle_key(&mut self, key: KeyEvent, data: &CompletionData) -> PaletteOutcome {
        let sugg = suggestions(self.input.value(), data);
        match key.code {
            KeyCode::Esc => PaletteOutcome::Cancel,
            KeyCode::Enter => {
                let line = match self.selected.and_then(|i| sugg.get(i)) {
                    Some(s) => s.clone(),
                    None => self.input.value().to_string(),
                };
                PaletteOutcome::Run(line)
            }
            KeyCode::Down => {
                if !sugg.is_empty() {
                    self.selected = Some(self.selected.map_or(0, |i| (i + 1) % sugg.len()));
                }
                PaletteOutcome::Stay
            }
            KeyCode::Up => {
                if !sugg.is_empty() {
                    let n = sugg.len();
                    self.selected = Some(self.selected.map_or(n - 1, |i| (i + n - 1) % n));
                }
                PaletteOutcome::Stay
            }
            KeyCode::Tab => {
                let chosen = match self.selected.and_then(|i| sugg.get(i)) {
                    Some(s) => Some(s.clone()),
                    None if sugg.len() == 1 => sugg.first().cloned(),
                    None => None,
                };
                let new = match chosen {
                    Some(s) => {
                        let takes_args = !s.contains(' ')
                            && find_command(&s).is_some_and(|c| c.arg != ArgKind::None);
                        if takes_args { format!("{s} ") } else { s }
                    }
                    None => {
                        let p = common_prefix(&sugg);
                        if p.len() > self.input.value().len() {
                            p
                        } else {
                            self.input.value().to_string()
                        }
                    }
                };
                self.input = Input::new(new);
                self.selected = None;
                PaletteOutcome::Stay
            }
            _ => {
                input_key(&mut self.input, key);
                self.selected = None;
                PaletteOutcome::Stay
            }
        }
    }

    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme, data: &CompletionData) {
        let sugg = suggestions(self.input.value(), data);
        let shown = sugg.len().min(8) as u16;
        let width = area.width.saturating_sub(4).clamp(40, 80);
        let rect = Rect::new(
            area.x + (area.width.saturating_sub(width)) / 2,
            area.y + area.height / 5,
            width,
            (shown + 4).min(area.height),
        );
        let inner = popup(frame, rect, theme, "Command", false);
        let [line_area, list_area, keys] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Fill(1),
            Constraint::Length(1),
        ])
        .areas(inner);
        let w = line_area.width.saturating_sub(1) as usize;
        let (line, cursor) = input_line(&self.input, w, theme.text);
        let mut spans = vec![Span::styled(":", theme.accent)];
        spans.extend(line.spans);
        frame.render_widget(Line::from(spans), line_area);
        frame.set_cursor_position((line_area.x + 1 + cursor, line_area.y));
        let offset = self
            .selected
            .unwrap_or(0)
            .saturating_sub(list_area.height.saturating_sub(1) as usize);
        for (row, (i, s)) in sugg
            .iter()
            .enumerate()
            .skip(offset)
            .take(list_area.height as usize)
            .enumerate()
        {
            let about = s
                .split(' ')
                .next()
                .and_then(find_command)
                .map(|c| format!("{} — {}", c.args, c.about))
                .unwrap_or_default();
            let style = if Some(i) == self.selected {
                theme.selected
            } else {
                theme.text
            };
            let r = Rect::new(list_area.x, list_area.y + row as u16, list_area.width, 1);
            frame.render_widget(
                Line::from(vec![
                    Span::styled(format!("{s:<16}"), style),
                    Span::styled(format!(" {about}"), theme.muted),
                ]),
                r,
            );
        }
        frame.render_widget(
            Line::styled(
                "tab complete · ↑↓ choose · enter run · esc close",
                theme.muted,
            ),
            keys,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    fn data() -> CompletionData {
        CompletionData {
            bots: vec!["checkout-bot".into(), "care-bot".into()],
            envs: vec![
                "env-prod-blue".into(),
                "env-prod-green".into(),
                "env-staging".into(),
            ],
            versions: vec!["v12".into(), "v13".into()],
        }
    }

    #[test]
    fn completes_commands_and_arguments() {
        assert_eq!(suggestions("pro", &data()), vec!["promote", "promote-full"]);
        assert_eq!(
            suggestions("flows-deploy env-prod", &data()),
            vec!["flows-deploy env-prod-blue", "flows-deploy env-prod-green"]
        );
        assert_eq!(
            suggestions("fl env-s", &data()),
            vec!["flows-deploy env-staging"]
        );
        assert_eq!(suggestions("theme l", &data()), vec!["theme light"]);
        assert!(suggestions("env-deploy env-staging ./snap", &data()).is_empty());
        assert_eq!(
            common_prefix(&["env-prod-blue".into(), "env-prod-green".into()]),
            "env-prod-"
        );
    }

    #[test]
    fn tab_completes_in_place() {
        let mut p = PaletteState::default();
        let key = |c| KeyEvent::new(c, KeyModifiers::NONE);
        for c in "flo".chars() {
            p.handle_key(key(KeyCode::Char(c)), &data());
        }
        p.handle_key(key(KeyCode::Tab), &data());
        assert_eq!(p.input.value(), "flows-deploy ");
        p.handle_key(key(KeyCode::Tab), &data());
        assert_eq!(p.input.value(), "flows-deploy env-");
        assert_eq!(
            p.handle_key(key(KeyCode::Enter), &data()),
            PaletteOutcome::Run("flows-deploy env-".into())
        );
    }
}

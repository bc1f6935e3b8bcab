//! Toasts: finished and failed operations, refusals; stacked in the top-right corner.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph};

use crate::tui::state::Toast;
use crate::tui::theme::{Theme, Tone};

pub fn icon(tone: Tone) -> &'static str {
    match tone {
        Tone::Good => "✔",
        Tone::Bad => "✖",
        Tone::Warn => "!",
        _ => "•",
    }
}

/// Most lines a toast takes; a longer text ends in `…` (the timeline keeps it whole).
const MAX_LINES: usize = 5;

/// `text` broken at spaces into lines at most `width` wide (a word longer than a line is
/// cut into pieces), at most [`MAX_LINES`] of them.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let cur_w = cur.chars().count();
            let need = if cur.is_empty() {
                word.len()
            } else {
                cur_w + 1 + word.len()
            };
            if need <= width {
                if !cur.is_empty() {
                    cur.push(' ');
                }
                cur.extend(word.iter());
                break;
            }
            if !cur.is_empty() {
                lines.push(std::mem::take(&mut cur));
                continue;
            }
            // A word wider than the line: as much as fits, the rest on the next.
            let rest = word.split_off(width);
            lines.push(word.iter().collect());
            word = rest;
            if word.is_empty() {
                break;
            }
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    if lines.len() > MAX_LINES {
        lines.truncate(MAX_LINES);
        if let Some(last) = lines.last_mut() {
            let mut chars: Vec<char> = last.chars().collect();
            chars.truncate(width.saturating_sub(1));
            *last = chars.into_iter().collect::<String>() + "…";
        }
    }
    lines
}

/// Draw up to three toasts, newest on top, inside `area`.
pub fn render(frame: &mut Frame, area: Rect, theme: &Theme, toasts: &[Toast]) {
    let width = (area.width / 2).clamp(24, 56).min(area.width);
    let mut y = area.y + 1;
    for toast in toasts.iter().rev().take(3) {
        let text_w = width.saturating_sub(4).max(1) as usize;
        let style = theme.tone(toast.tone);
        let text = format!("{} {}", icon(toast.tone), toast.text);
        let lines: Vec<Line> = wrap(&text, text_w)
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                // The icon keeps its tone; the words are plain text.
                match (i, l.split_once(' ')) {
                    (0, Some((icon, rest))) => Line::from(vec![
                        Span::styled(format!("{icon} "), style),
                        Span::styled(rest.to_string(), theme.text),
                    ]),
                    _ => Line::styled(l, theme.text),
                }
            })
            .collect();
        let h = lines.len().max(1) as u16 + 2;
        if y + h > area.bottom() {
            break;
        }
        let rect = Rect::new(area.right().saturating_sub(width + 1), y, width, h);
        frame.render_widget(Clear, rect);
        let block = Block::bordered()
            .border_type(BorderType::Rounded)
            .border_style(style)
            .style(theme.popup)
            .padding(ratatui::widgets::Padding::horizontal(1));
        frame.render_widget(Paragraph::new(lines).block(block), rect);
        y += h;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_of_a_toast_is_kept_within_its_width() {
        let text = "✔ Customer Service canary bot-customer-service-v2 v2.4.0 promoted at 100% after 5 steps";
        let lines = wrap(text, 30);
        assert!(lines.iter().all(|l| l.chars().count() <= 30), "{lines:?}");
        assert_eq!(lines.join(" "), text, "nothing is lost at a line break");
    }

    #[test]
    fn a_word_longer_than_the_line_is_split_and_a_long_text_ends_in_an_ellipsis() {
        assert_eq!(wrap("op-0123456789", 5), vec!["op-01", "23456", "789"]);
        let long = "word ".repeat(100);
        let lines = wrap(&long, 10);
        assert_eq!(lines.len(), MAX_LINES);
        assert!(lines.last().unwrap().ends_with('…'));
    }
}

//! Text layout for the Canary pane: pieces that must stay whole (ids, numbers, "1,204
//! canary") packed into lines of a given width, free text cut with an ellipsis.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

/// A piece of a line that is never broken inside, unless it is wider than a whole line (then
/// it breaks at its spaces).
#[derive(Debug, Clone, Default)]
pub struct Piece {
    pub spans: Vec<Span<'static>>,
    /// What joins it to the piece before it on a line, instead of the packing's separator.
    pub join: Option<Span<'static>>,
}

impl Piece {
    pub fn new(text: impl Into<String>, style: Style) -> Piece {
        Piece {
            spans: vec![Span::styled(text.into(), style)],
            join: None,
        }
    }

    pub fn joined_by(mut self, join: Span<'static>) -> Piece {
        self.join = Some(join);
        self
    }

    pub fn and(mut self, text: impl Into<String>, style: Style) -> Piece {
        self.spans.push(Span::styled(text.into(), style));
        self
    }

    pub fn width(&self) -> usize {
        self.spans.iter().map(Span::width).sum()
    }

    /// The piece split at its spaces, each word keeping its style.
    fn words(&self) -> Vec<Piece> {
        let mut out: Vec<Piece> = Vec::new();
        let mut cur = Piece::default();
        for span in &self.spans {
            let mut first = true;
            for word in span.content.split(' ') {
                if !first && cur.width() > 0 {
                    out.push(std::mem::take(&mut cur));
                }
                first = false;
                if !word.is_empty() {
                    cur.spans.push(Span::styled(word.to_string(), span.style));
                }
            }
        }
        if cur.width() > 0 {
            out.push(cur);
        }
        out
    }
}

/// Pack `pieces` into lines of at most `width` columns, `sep` between pieces on a line and
/// `indent` before every line after the first.
pub fn pack(
    pieces: Vec<Piece>,
    sep: Span<'static>,
    indent: usize,
    width: usize,
) -> Vec<Line<'static>> {
    pack_from(pieces, sep, 0, indent, width)
}

/// [`pack`] with `first` columns of indent on the first line too.
pub fn pack_from(
    pieces: Vec<Piece>,
    sep: Span<'static>,
    first: usize,
    indent: usize,
    width: usize,
) -> Vec<Line<'static>> {
    let width = width.max(1);
    let room = width.saturating_sub(indent.max(first)).max(1);
    // (piece, joiner before it when not first on a line)
    let mut atoms: Vec<(Piece, Span<'static>)> = Vec::new();
    for p in pieces {
        let join = p.join.clone().unwrap_or_else(|| sep.clone());
        if p.width() <= room {
            atoms.push((p, join));
        } else {
            for (i, w) in p.words().into_iter().enumerate() {
                let join = if i == 0 { join.clone() } else { Span::raw(" ") };
                atoms.push((w, join));
            }
        }
    }
    let mut lines = Vec::new();
    let mut cur: Vec<Span<'static>> = Vec::new();
    let mut used = 0;
    let mut fresh = true;
    for (piece, join) in atoms {
        let w = piece.width();
        if !fresh && used + join.width() + w > width {
            lines.push(Line::from(std::mem::take(&mut cur)));
            used = 0;
            fresh = true;
        }
        if fresh {
            let lead = if lines.is_empty() { first } else { indent };
            if lead > 0 {
                cur.push(Span::raw(" ".repeat(lead)));
            }
            used = lead;
            fresh = false;
        } else {
            used += join.width();
            cur.push(join);
        }
        used += w;
        cur.extend(piece.spans);
    }
    if !cur.is_empty() {
        lines.push(Line::from(cur));
    }
    lines
}

/// Word-wrap plain text to `width` columns, `indent` spaces before every line.
pub fn wrap(text: &str, indent: usize, width: usize, style: Style) -> Vec<Line<'static>> {
    let pieces = text
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(|w| Piece::new(w, style))
        .collect();
    pack_from(pieces, Span::raw(" "), indent, indent, width)
}

/// Free text cut to `width` columns, ending in `…` when cut. A word with a digit in it (a
/// number, an id, a time) is kept whole or left out, never cut in two; other words may be.
pub fn fit_words(text: &str, width: usize) -> String {
    let w = |s: &str| Span::raw(s).width();
    if w(text) <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    // Room for the ellipsis.
    let room = width - 1;
    let mut out = String::new();
    for word in text.split(' ') {
        let sep = if out.is_empty() { "" } else { " " };
        if w(&out) + w(sep) + w(word) <= room {
            out.push_str(sep);
            out.push_str(word);
            continue;
        }
        if !word.chars().any(|c| c.is_ascii_digit()) {
            let mut part = String::new();
            for c in word.chars() {
                let mut buf = [0u8; 4];
                if w(&out) + w(sep) + w(&part) + w(c.encode_utf8(&mut buf)) > room {
                    break;
                }
                part.push(c);
            }
            if !part.is_empty() {
                out.push_str(sep);
                out.push_str(&part);
                out.push('…');
                return out;
            }
        }
        break;
    }
    if !out.is_empty() && w(&out) < room {
        out.push(' ');
    }
    out.push('…');
    out
}

/// `text` padded to `width` columns, on the right or the left.
pub fn pad(text: &str, width: usize, right: bool) -> String {
    let w = Span::raw(text).width();
    let fill = " ".repeat(width.saturating_sub(w));
    if right {
        format!("{fill}{text}")
    } else {
        format!("{text}{fill}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn pieces_stay_whole_and_long_ones_break_at_spaces() {
        let s = Style::new();
        let pieces = vec![
            Piece::new("canary 1,204", s),
            Piece::new("baseline 4,811", s),
            Piece::new("this step canary 380", s),
        ];
        assert_eq!(
            plain(&pack(pieces.clone(), Span::raw(" · "), 2, 30)),
            vec!["canary 1,204 · baseline 4,811", "  this step canary 380"]
        );
        let long = vec![Piece::new("one two three four", s)];
        assert_eq!(
            plain(&pack(long, Span::raw(" · "), 0, 9)),
            vec!["one two", "three", "four"]
        );
        assert_eq!(
            plain(&wrap("a bb ccc dddd", 2, 8, s)),
            vec!["  a bb", "  ccc", "  dddd"]
        );
        assert_eq!(fit_words("need ~24310 more canary", 16), "need ~24310 mor…");
        assert_eq!(fit_words("need ~24310 more", 16), "need ~24310 more");
        assert_eq!(fit_words("on a ~24310 more", 10), "on a …");
        assert_eq!(fit_words("abcdefgh", 4), "abc…");
        assert_eq!(fit_words("12345678", 4), "…");
        assert_eq!(pad("7", 3, true), "  7");
        assert_eq!(pad("7", 3, false), "7  ");
    }
}

//! Server strings are untrusted: before they reach a terminal or a log they lose control
//! characters, escape sequences and bidirectional overrides.

/// Remove control characters (except none), ANSI escape sequences and bidi controls from a
/// string that came from a server. Tabs and newlines become spaces so one value stays on
/// one line.
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // Skip an escape sequence: ESC [ ... final byte, or ESC followed by one char.
            if chars.peek() == Some(&'[') {
                chars.next();
                for n in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&n) {
                        break;
                    }
                }
            } else if chars.peek() == Some(&']') {
                // OSC: until BEL or ST.
                chars.next();
                while let Some(n) = chars.next() {
                    if n == '\u{7}' {
                        break;
                    }
                    if n == '\u{1b}' && chars.peek() == Some(&'\\') {
                        chars.next();
                        break;
                    }
                }
            } else {
                chars.next();
            }
            continue;
        }
        if c == '\t' || c == '\n' || c == '\r' {
            out.push(' ');
            continue;
        }
        if c.is_control() || is_bidi_control(c) {
            continue;
        }
        out.push(c);
    }
    out
}

/// JSON in which every control and bidi character is an escape (`\u009b`, `\u202e`): serde
/// escapes C0 itself; C1 controls, bidi controls and the line and paragraph separators
/// otherwise go out raw, and a terminal that prints the JSON would obey them. The text
/// still parses to the same values.
pub fn json_string<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    write_json(value, serde_json::ser::CompactFormatter)
}

/// [`json_string`], indented.
pub fn json_pretty<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    write_json(value, serde_json::ser::PrettyFormatter::new())
}

fn write_json<T: serde::Serialize + ?Sized, F: serde_json::ser::Formatter>(
    value: &T,
    inner: F,
) -> serde_json::Result<String> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Escaping(inner));
    value.serialize(&mut ser)?;
    // The serializer writes UTF-8 only.
    Ok(String::from_utf8(out).unwrap_or_default())
}

/// Needs a `\u` escape in JSON output beyond what serde_json escapes.
fn must_escape(c: char) -> bool {
    ('\u{7f}'..='\u{9f}').contains(&c) || is_bidi_control(c) || matches!(c, '\u{2028}' | '\u{2029}')
}

/// A formatter that escapes [`must_escape`] characters in strings and otherwise writes as
/// the one it wraps.
struct Escaping<F>(F);

impl<F: serde_json::ser::Formatter> serde_json::ser::Formatter for Escaping<F> {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if must_escape(c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{:04x}", u)?;
                }
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
    }
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::{clean, json_pretty, json_string};

    #[test]
    fn json_escapes_c1_and_bidi_and_still_parses_to_the_same_value() {
        let v = serde_json::json!({"name": "a\u{9b}31mb\u{202e}c\u{7}d", "list": ["\u{2066}x"]});
        for text in [json_string(&v).unwrap(), json_pretty(&v).unwrap()] {
            assert!(
                text.contains("\\u009b") && text.contains("\\u202e"),
                "{text}"
            );
            assert!(
                text.contains("\\u0007") && text.contains("\\u2066"),
                "{text}"
            );
            assert!(
                !text
                    .chars()
                    .any(|c| c.is_control() && c != '\n' && c != ' '),
                "{text:?}"
            );
            let back: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(back, v);
        }
    }

    #[test]
    fn strips_escapes_controls_and_bidi() {
        assert_eq!(clean("ok\u{1b}[31mred\u{1b}[0m"), "okred");
        assert_eq!(clean("a\u{1b}]0;title\u{7}b"), "ab");
        assert_eq!(clean("line1\nline2\ttab"), "line1 line2 tab");
        assert_eq!(clean("x\u{202e}gnp.exe"), "xgnp.exe");
        assert_eq!(clean("bell\u{7}del\u{7f}"), "belldel");
        assert_eq!(clean("plain ünïcode ✔"), "plain ünïcode ✔");
    }
}

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

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::clean;

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

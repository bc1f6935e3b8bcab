//! Small text formatters shared by the panes: times, durations, rates, weights.

use chrono::{DateTime, Utc};
use ratatui::text::Span;

/// `12:03:04` (UTC, like the server's timestamps).
pub fn clock(at: DateTime<Utc>) -> String {
    at.format("%H:%M:%S").to_string()
}

/// RFC 3339 timestamps from the server.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `2024-05-01 12:03` for a server timestamp, or the text itself if it does not parse.
pub fn date_minute(s: &str) -> String {
    match parse_time(s) {
        Some(t) => t.format("%Y-%m-%d %H:%M").to_string(),
        None => s.to_string(),
    }
}

/// `0:07`, `4:32`, `1h05m`; negative durations count as zero.
pub fn duration(secs: i64) -> String {
    let secs = secs.max(0);
    if secs >= 3600 {
        format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60)
    } else {
        format!("{}:{:02}", secs / 60, secs % 60)
    }
}

/// What a run waits for and when, never flipping between `0:00` and `0:01`: the time left
/// rounds up, and the last second reads as happening now. `what` is the engine's word for
/// it ("canary step 3 look", "poll"): a canary look reads `next look in 0:12`, then
/// `looking…`.
pub fn countdown(what: &str, from: DateTime<Utc>, until: DateTime<Utc>) -> String {
    let ms = (until - from).num_milliseconds();
    let look = what.ends_with("look");
    let what = if look { "next look" } else { what };
    if ms <= 1000 {
        return if look {
            "looking…".to_string()
        } else {
            format!("{what} now")
        };
    }
    // Whole seconds left, rounded up: 1.2 s reads 0:02, so it counts down and never back.
    let secs = (ms + 999) / 1000;
    format!("{what} in {}", duration(secs))
}

/// A run's summary without what its row already says: the run's title and its outcome
/// word ("canary bot v8 rolled back: step 2 …" under "canary bot v8 · rolled back" reads
/// "step 2 …"), and without the engine's own step count when the console counted the
/// steps itself (`drop_step_count`).
pub fn summary_after(summary: &str, title: &str, word: &str, drop_step_count: bool) -> String {
    let mut s = summary.trim();
    let short = title.strip_prefix("canary ").unwrap_or(title);
    for t in [title, short] {
        if !t.is_empty()
            && let Some(rest) = s.strip_prefix(t)
        {
            s = rest.trim_start();
            break;
        }
    }
    if let Some(rest) = s.strip_prefix(word) {
        s = rest.trim_start_matches([':', ' ']);
    } else if let Some((subject, rest)) = s.split_once(&format!(" {word}: "))
        && !subject.contains(':')
    {
        // "canary bot-a v8 rolled back: …" where the row names the bot otherwise.
        s = rest;
    }
    let mut out = s.to_string();
    if drop_step_count && let Some(i) = out.find(" at step ") {
        let tail = &out[i + " at step ".len()..];
        // " at step 5 of 5" — digits, " of ", digits.
        let n = tail.chars().take_while(|c| c.is_ascii_digit()).count();
        if n > 0 && tail[n..].starts_with(" of ") {
            let rest = &tail[n + 4..];
            let m = rest.chars().take_while(|c| c.is_ascii_digit()).count();
            if m > 0 {
                out = format!("{}{}", &out[..i], &rest[m..]);
            }
        }
    }
    out
}

/// How an environment is named in a row: its colour, else the shorter of its name and
/// its id (the id is what the CLI takes; describe shows both).
pub fn env_label(e: &crate::domain::BotEnvironment) -> String {
    if let Some(c) = &e.colour {
        return c.clone();
    }
    if is_opaque(&e.environment_id) {
        // A platform's generated id says nothing: the name does, without the project's
        // name in front ("Shop REST – Production (blue)" reads "Production (blue)").
        let name = e.name.rsplit(" – ").next().unwrap_or(&e.name);
        return if name.trim().is_empty() {
            short_id(&e.environment_id)
        } else {
            name.trim().to_string()
        };
    }
    if e.environment_id.chars().count() < e.name.chars().count() {
        e.environment_id.clone()
    } else {
        e.name.clone()
    }
}

/// Whether `id` is a generated platform id (a 24-hex ObjectId, as Cognigy.AI gives every
/// snapshot and endpoint) rather than a name a person chose.
pub fn is_opaque(id: &str) -> bool {
    id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// An id as a list shows it: a generated id cut to its first 8 characters (describe shows
/// it whole), any other id as it is.
pub fn short_id(id: &str) -> String {
    if is_opaque(id) {
        id[..8].to_string()
    } else {
        id.to_string()
    }
}

/// Seconds from `from` to `to`.
pub fn secs_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (to - from).num_seconds()
}

/// A 0..=1 rate as a percentage: `1.2%`.
pub fn rate(r: f64) -> String {
    format!("{:.1}%", r * 100.0)
}

/// A 0..=100 traffic weight: `25%`, `12.5%`.
pub fn weight(w: f64) -> String {
    if (w - w.round()).abs() < 0.05 {
        format!("{:.0}%", w)
    } else {
        format!("{:.1}%", w)
    }
}

/// A metric value in its unit, by metric name.
pub fn metric(name: &str, v: f64) -> String {
    match name {
        "error_rate" | "fallback_rate" | "handoff_rate" => rate(v),
        "latency_ms" | "avg_latency_ms" | "p95_latency_ms" | "max_latency_ms" => {
            format!("{v:.0}ms")
        }
        _ => format!("{v:.2}"),
    }
}

/// The short label of a metric.
pub fn metric_label(name: &str) -> &str {
    match name {
        "error_rate" => "errors",
        "avg_latency_ms" | "latency_ms" => "latency",
        "satisfaction_score" => "satisfaction",
        "fallback_rate" => "fallbacks",
        "handoff_rate" => "hand-offs",
        "intent_score" => "intent score",
        other => other,
    }
}

/// `1,204`
pub fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Cut `s` to `width` display columns, ending in `…` when cut.
pub fn fit(s: &str, width: usize) -> String {
    if Span::raw(s).width() <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let mut buf = [0u8; 4];
        let cw = Span::raw(&*c.encode_utf8(&mut buf)).width();
        if w + cw + 1 > width {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    out
}

/// `1 step`, `3 steps`.
pub fn steps_word(n: usize) -> String {
    if n == 1 {
        "1 step".to_string()
    } else {
        format!("{n} steps")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(duration(7), "0:07");
        assert_eq!(duration(272), "4:32");
        assert_eq!(duration(3900), "1h05m");
        assert_eq!(duration(-5), "0:00");
        assert_eq!(rate(0.0123), "1.2%");
        assert_eq!(weight(25.0), "25%");
        assert_eq!(weight(12.5), "12.5%");
        assert_eq!(count(1204), "1,204");
        assert_eq!(count(12), "12");
        assert_eq!(fit("checkout-bot", 8), "checkou…");
        assert_eq!(fit("abc", 8), "abc");
        assert_eq!(date_minute("2024-05-01T12:03:09Z"), "2024-05-01 12:03");
        assert_eq!(metric("avg_latency_ms", 812.4), "812ms");
    }

    #[test]
    fn countdown_says_what_and_never_shows_zero() {
        let t0 = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |ms: i64| t0 + chrono::Duration::milliseconds(ms);
        assert_eq!(
            countdown("canary step 3 look", t0, at(12_000)),
            "next look in 0:12"
        );
        assert_eq!(
            countdown("canary step 3 look", t0, at(11_200)),
            "next look in 0:12"
        );
        assert_eq!(
            countdown("canary step 3 look", t0, at(1_500)),
            "next look in 0:02"
        );
        assert_eq!(countdown("canary step 3 look", t0, at(900)), "looking…");
        assert_eq!(countdown("canary step 3 look", t0, at(-3_000)), "looking…");
        assert_eq!(countdown("poll", t0, at(400)), "poll now");
        for ms in (0..5_000).step_by(50) {
            let c = countdown("canary step 3 look", t0, at(ms));
            assert!(!c.contains("0:00") && !c.contains("0:01"), "{ms}: {c}");
        }
    }

    #[test]
    fn summary_after_drops_what_the_row_says() {
        assert_eq!(
            summary_after(
                "canary bot-a v8 rolled back: error rate worse",
                "canary bot-a v8",
                "rolled back",
                false
            ),
            "error rate worse"
        );
        // The subject named by id where the row names the bot: dropped all the same.
        assert_eq!(
            summary_after(
                "canary bot-a v8 rolled back: step 2 (25%): worse",
                "canary care-bot v8",
                "rolled back",
                false
            ),
            "step 2 (25%): worse"
        );
        assert_eq!(
            summary_after("no change: x", "canary a v8", "rolled back", false),
            "no change: x"
        );
        assert_eq!(
            summary_after(
                "bot-a v8 promoted in prod at step 3 of 5 (was v7)",
                "canary bot-a v8",
                "promoted",
                true
            ),
            "in prod (was v7)"
        );
    }
}

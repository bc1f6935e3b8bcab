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
}

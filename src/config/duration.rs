//! Human durations in the config file: `"500ms"`, `"60s"`, `"5m"`, `"1h"`, `"1m30s"`.

use std::time::Duration;

use serde::{Deserialize, Deserializer, de::Error as _};

/// Parses a duration written as one or more `<whole number><unit>` parts, units `ms`, `s`,
/// `m` and `h` (e.g. `"60s"`, `"5m"`, `"1h30m"`, `"0s"`). The error names the bad value and
/// says how to write a good one.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "invalid duration '{text}': write a whole number followed by a unit \
             (ms, s, m or h), e.g. \"60s\", \"5m\", \"1h30m\""
        )
    };
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ms" => None,
            "s" => Some(1),
            "m" => Some(60),
            "h" => Some(3600),
            _ => return Err(bad()),
        };
        let part = match seconds_per_unit {
            None => Duration::from_millis(n),
            Some(k) => Duration::from_secs(n.checked_mul(k).ok_or_else(bad)?),
        };
        total = total.checked_add(part).ok_or_else(bad)?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// Formats a duration the way the config file writes it (`"1m30s"`, `"250ms"`, `"0s"`).
pub fn format_duration(d: Duration) -> String {
    let millis = d.as_millis();
    if millis == 0 {
        return "0s".to_owned();
    }
    if !millis.is_multiple_of(1000) {
        return format!("{millis}ms");
    }
    let mut secs = d.as_secs();
    let mut out = String::new();
    for (unit, size) in [("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

/// serde helper for `Option<Duration>` fields written as strings; use with
/// `#[serde(default, deserialize_with = "duration::deserialize_option")]`.
pub fn deserialize_option<'de, D>(deserializer: D) -> Result<Option<Duration>, D::Error>
where
    D: Deserializer<'de>,
{
    let text = String::deserialize(deserializer)?;
    parse_duration(&text).map(Some).map_err(D::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_compounds() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_bad_values_naming_them() {
        for bad in [
            "",
            "60",
            "s",
            "6x",
            "1.5s",
            "-5s",
            "5 m",
            "99999999999999999999h",
        ] {
            let err = parse_duration(bad).expect_err(bad);
            assert!(err.contains(&format!("'{bad}'")), "{err}");
            assert!(err.contains("e.g."), "{err}");
        }
    }

    #[test]
    fn formats_round_trip() {
        for text in ["0s", "250ms", "60s", "1m30s", "1h", "2h5m7s"] {
            let d = parse_duration(text).unwrap_or_default();
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{text}");
        }
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_secs(60)), "1m");
    }
}

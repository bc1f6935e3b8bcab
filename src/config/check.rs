//! Value checks run while the file is deserialized, so a bad value is reported with its line
//! and key path like any other parse error. Each message says what a good value looks like.

use std::path::PathBuf;

use serde::{Deserialize, Deserializer};
use toml::Spanned;

/// Checks an http(s) URL and returns it without a trailing slash. Credentials embedded in the
/// URL are refused (they belong in environment variables).
pub(crate) fn http_url(text: &str) -> Result<String, String> {
    let trimmed = text.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"));
    let Some(rest) = rest else {
        return Err(
            "is not an http(s) URL; write it in full, e.g. \"https://api.cognigy.ai\" \
                    or \"http://127.0.0.1:8080\""
                .to_owned(),
        );
    };
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() || rest.contains(char::is_whitespace) {
        return Err("has no host or contains spaces; write it in full, e.g. \
                    \"https://api.cognigy.ai\""
            .to_owned());
    }
    if authority.contains('@') {
        return Err(
            "must not contain credentials (user:password@); remove them and export \
                    COGNIGY_CLIENT_ID/COGNIGY_CLIENT_SECRET or COGNIGY_API_KEY instead"
                .to_owned(),
        );
    }
    Ok(trimmed.to_owned())
}

pub(crate) fn custom<E: serde::de::Error>(message: impl std::fmt::Display) -> E {
    E::custom(message)
}

pub(crate) fn url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    http_url(&text).map_err(|why| custom(format!("this URL {why}")))
}

pub(crate) fn opt_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    url(d).map(Some)
}

fn text_list(items: Vec<String>, what: &str) -> Result<Vec<String>, String> {
    if items.iter().any(|s| s.trim().is_empty()) {
        return Err(format!(
            "{what} must not contain empty strings; remove them"
        ));
    }
    if items.iter().any(|s| s.contains(char::is_whitespace)) {
        return Err(format!(
            "{what} must not contain spaces; write each one as its own string, e.g. \
             [\"a\", \"b\"]"
        ));
    }
    Ok(items)
}

pub(crate) fn opt_scopes<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    let scopes = Vec::<String>::deserialize(d)?;
    if scopes.is_empty() {
        return Err(custom(
            "scopes is empty; remove the key to request the default scopes, or list the \
             scopes, e.g. [\"bot:read\", \"deployment:write\"]",
        ));
    }
    text_list(scopes, "scopes").map(Some).map_err(custom)
}

pub(crate) fn opt_names<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    text_list(Vec::<String>::deserialize(d)?, "this list")
        .map(Some)
        .map_err(custom)
}

pub(crate) fn events<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let events = Vec::<String>::deserialize(d)?;
    if events.is_empty() {
        return Err(custom(
            "events is empty; list the events to send, e.g. [\"deployment.completed\", \
             \"deployment.failed\"]",
        ));
    }
    text_list(events, "events").map_err(custom)
}

pub(crate) fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let text = String::deserialize(d)?;
    if text.trim().is_empty() {
        return Err(custom(
            "this must not be empty; remove the key to use the default",
        ));
    }
    Ok(Some(text))
}

pub(crate) fn opt_path<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    Ok(opt_text(d)?.map(PathBuf::from))
}

pub(crate) fn opt_env_var<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let name = String::deserialize(d)?;
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(custom(
            "secret_env must be the NAME of an environment variable (letters, digits and _, \
             e.g. \"RELCON_WEBHOOK_SECRET\"), not the secret itself; export the secret in \
             that variable",
        ));
    }
    Ok(Some(name))
}

pub(crate) fn opt_clock_speed<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let speed = f64::deserialize(d)?;
    if !(speed.is_finite() && speed > 0.0 && speed <= 10_000.0) {
        return Err(custom(format!(
            "clock_speed {speed} is out of range; use a number above 0 (1 for a real server, \
             the simulator's --speed for `relcon sim`)"
        )));
    }
    Ok(Some(speed))
}

pub(crate) fn opt_request_budget<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let n = u32::deserialize(d)?;
    if !(10..=1_000_000).contains(&n) {
        return Err(custom(format!(
            "request_budget {n} is out of range; use the requests per 5 minutes this profile \
             may send, from 10 up (the platform allows about 1000; the default is 800)"
        )));
    }
    Ok(Some(n))
}

pub(crate) fn opt_positive_ms<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let ms = u64::deserialize(d)?;
    if ms == 0 {
        return Err(custom(
            "0 is not allowed here; use a number of milliseconds above 0",
        ));
    }
    Ok(Some(ms))
}

pub(crate) fn opt_attempts<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let n = u32::deserialize(d)?;
    if !(1..=20).contains(&n) {
        return Err(custom(format!(
            "attempts {n} is out of range; use 1 (no retries) to 20"
        )));
    }
    Ok(Some(n))
}

pub(crate) fn opt_spanned_ms<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Spanned<u64>>, D::Error> {
    Spanned::<u64>::deserialize(d).map(Some)
}

pub(crate) fn opt_steps<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Spanned<Vec<u8>>>, D::Error> {
    let steps = Spanned::<Vec<u8>>::deserialize(d)?;
    let values = steps.get_ref();
    let in_range = values.iter().all(|s| (1..=100).contains(s));
    let increasing = values.windows(2).all(|w| w[0] < w[1]);
    if values.is_empty() || !in_range || !increasing {
        return Err(custom(
            "steps must be increasing traffic percentages from 1 to 100, e.g. [5, 10, 25, 50, \
             100]",
        ));
    }
    Ok(Some(steps))
}

pub(crate) fn opt_percent<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    let n = u8::deserialize(d)?;
    if !(1..=100).contains(&n) {
        return Err(custom(format!(
            "{n} is out of range; use a percentage from 1 to 100"
        )));
    }
    Ok(Some(n))
}

pub(crate) fn opt_fraction<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = f64::deserialize(d)?;
    if !(0.0..=1.0).contains(&v) {
        return Err(custom(format!(
            "{v} is out of range; use a fraction from 0 to 1 (0.05 means 5%)"
        )));
    }
    Ok(Some(v))
}

pub(crate) fn opt_score<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = f64::deserialize(d)?;
    if !(0.0..=5.0).contains(&v) {
        return Err(custom(format!(
            "{v} is out of range; use a satisfaction score from 0 to 5"
        )));
    }
    Ok(Some(v))
}

pub(crate) fn opt_frame_rate<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    let n = u16::deserialize(d)?;
    if !(1..=240).contains(&n) {
        return Err(custom(format!(
            "frame_rate {n} is out of range; use 1 to 240 frames per second"
        )));
    }
    Ok(Some(n))
}

pub(crate) fn opt_alpha<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = f64::deserialize(d)?;
    if !(v > 0.0 && v < 0.5) {
        return Err(custom(format!(
            "alpha {v} is out of range; use a false-alarm level above 0 and below 0.5, e.g. 0.01"
        )));
    }
    Ok(Some(v))
}

pub(crate) fn opt_non_negative<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = f64::deserialize(d)?;
    if !(v.is_finite() && v >= 0.0) {
        return Err(custom(format!(
            "{v} is out of range; use a number of 0 or more"
        )));
    }
    Ok(Some(v))
}

pub(crate) fn opt_metrics<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<crate::engine::judge::Metric>>, D::Error> {
    use crate::engine::judge::Metric;
    let names = Vec::<String>::deserialize(d)?;
    if names.is_empty() {
        return Err(custom(
            "gates is empty; remove the key to gate on every metric, or list some",
        ));
    }
    names
        .iter()
        .map(|n| {
            Metric::parse(n).ok_or_else(|| {
                custom(format!(
                    "unknown metric '{n}'; use {}",
                    Metric::ALL.map(|m| m.key()).join(", ")
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

pub(crate) fn opt_on_inconclusive<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<crate::engine::judge::policy::OnInconclusive>, D::Error> {
    let text = String::deserialize(d)?;
    crate::engine::judge::policy::OnInconclusive::parse(&text)
        .map(Some)
        .ok_or_else(|| custom(format!("'{text}' is not one of pause, rollback, promote")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            http_url("http://127.0.0.1:8080/").as_deref(),
            Ok("http://127.0.0.1:8080")
        );
        assert_eq!(
            http_url("https://api.cognigy.ai/api/v1").as_deref(),
            Ok("https://api.cognigy.ai/api/v1")
        );
        assert!(http_url("api.cognigy.ai").is_err());
        assert!(http_url("ftp://x").is_err());
        assert!(http_url("https://").is_err());
        assert!(http_url("https://user:pw@host").is_err());
    }
}

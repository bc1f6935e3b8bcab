//! The backend's error type. Every variant reads as advice to the person at the console:
//! what went wrong and what to do about it. Server text inside is sanitised and scrubbed of
//! credentials before it gets here.

use std::fmt::Write as _;
use std::time::Duration;

use crate::domain::FieldError;

/// What can go wrong talking to the Release API.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BackendError {
    /// 401, or the token endpoint refused the client.
    #[error(
        "the server rejected the credentials: {detail}; check COGNIGY_CLIENT_ID / \
         COGNIGY_CLIENT_SECRET (or COGNIGY_API_KEY) and the profile's token URL"
    )]
    Unauthorized { detail: String },

    /// 403: the credentials are fine but lack a scope.
    #[error("{}", forbidden_text(.missing_scope, .detail))]
    Forbidden {
        missing_scope: Option<String>,
        detail: String,
    },

    /// 404: an unknown id or route.
    #[error("{what} not found: {detail}")]
    NotFound { what: String, detail: String },

    /// 409: the bot is busy or references do not match.
    #[error("{}", conflict_text(.detail, .conflicts_with))]
    Conflict {
        detail: String,
        conflicts_with: Option<String>,
    },

    /// 400 / 422: the request parsed but was refused; every violation is listed.
    #[error("{}", invalid_text(.detail, .errors))]
    Invalid {
        detail: String,
        errors: Vec<FieldError>,
    },

    /// Any other 4xx the server refused.
    #[error("the server refused the request (HTTP {status}): {detail}")]
    Rejected { status: u16, detail: String },

    /// 429 after every retry.
    #[error("{}", rate_limited_text(.retry_after, *.attempts))]
    RateLimited {
        retry_after: Option<Duration>,
        attempts: u32,
    },

    /// 5xx after every retry (or at once where a retry would not be safe).
    #[error("{}", server_text(*.status, *.attempts, .detail))]
    Server {
        status: u16,
        attempts: u32,
        detail: String,
    },

    /// The server could not be reached (connection refused, reset, DNS, TLS).
    #[error(
        "cannot reach {url}: {detail} (after {attempts} attempt{}); is the server running? \
         start one with `relcon sim`",
        plural(*.attempts)
    )]
    Network {
        url: String,
        detail: String,
        attempts: u32,
    },

    /// No answer in time.
    #[error(
        "no answer from {what} within {} s (after {attempts} attempt{}); the server or \
         network is slow: retry, or raise the profile's timeouts",
        .after.as_secs_f64(),
        plural(*.attempts)
    )]
    Timeout {
        what: String,
        after: Duration,
        attempts: u32,
    },

    /// A body that is not the JSON the contract promises.
    #[error("the server sent a malformed JSON body for {what}: {detail}")]
    Decode { what: String, detail: String },

    /// Something the backend's platform has no way to do (the Release API's operation
    /// control on Cognigy.AI, say): nothing was sent.
    #[error("{what} is not available on {platform}: {detail}")]
    Unsupported {
        what: String,
        platform: &'static str,
        detail: String,
    },

    /// Local configuration that cannot work (bad URL, bad header value, token endpoint
    /// refusing the grant or scope).
    #[error("configuration problem: {detail}")]
    Config { detail: String },
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn forbidden_text(missing_scope: &Option<String>, detail: &str) -> String {
    match missing_scope {
        Some(scope) => format!(
            "the token lacks scope {scope}: add it to the client's scopes (server said: {detail})"
        ),
        None => format!(
            "the credentials are not allowed to do this: {detail}; check the client's scopes"
        ),
    }
}

fn conflict_text(detail: &str, conflicts_with: &Option<String>) -> String {
    match conflicts_with {
        Some(other) => format!(
            "conflict: {detail} (in the way: {other}); wait for it to finish or stop it first"
        ),
        None => format!("conflict: {detail}"),
    }
}

fn invalid_text(detail: &str, errors: &[FieldError]) -> String {
    let mut out = format!("the server refused the request as invalid: {detail}");
    for e in errors {
        let _ = write!(out, "; {}: {}", e.field, e.message);
    }
    out
}

fn rate_limited_text(retry_after: &Option<Duration>, attempts: u32) -> String {
    let mut out = format!(
        "rate limited by the server (HTTP 429) after {attempts} attempt{}",
        plural(attempts)
    );
    match retry_after {
        Some(d) => {
            let _ = write!(
                out,
                "; it asks to wait {} s before retrying",
                d.as_secs_f64()
            );
        }
        None => out.push_str("; wait a little and retry"),
    }
    out
}

fn server_text(status: u16, attempts: u32, detail: &str) -> String {
    if attempts > 1 {
        format!("server error {status} after {attempts} attempts (retried with backoff): {detail}")
    } else {
        format!("server error {status}: {detail}")
    }
}

impl BackendError {
    /// How many attempts the call made, where that is known.
    pub fn attempts(&self) -> Option<u32> {
        match self {
            BackendError::RateLimited { attempts, .. }
            | BackendError::Server { attempts, .. }
            | BackendError::Network { attempts, .. }
            | BackendError::Timeout { attempts, .. } => Some(*attempts),
            _ => None,
        }
    }

    /// The HTTP status behind the error, where there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            BackendError::Unauthorized { .. } => Some(401),
            BackendError::Forbidden { .. } => Some(403),
            BackendError::NotFound { .. } => Some(404),
            BackendError::Conflict { .. } => Some(409),
            BackendError::RateLimited { .. } => Some(429),
            BackendError::Rejected { status, .. } | BackendError::Server { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_to_do() {
        let e = BackendError::Forbidden {
            missing_scope: Some("bot:deploy".into()),
            detail: "missing scope bot:deploy".into(),
        };
        assert!(
            e.to_string()
                .starts_with("the token lacks scope bot:deploy")
        );

        let e = BackendError::Server {
            status: 503,
            attempts: 4,
            detail: "unavailable".into(),
        };
        assert_eq!(
            e.to_string(),
            "server error 503 after 4 attempts (retried with backoff): unavailable"
        );

        let e = BackendError::Invalid {
            detail: "2 violations".into(),
            errors: vec![
                FieldError {
                    field: "traffic_matrix".into(),
                    message: "must sum to 100".into(),
                },
                FieldError {
                    field: "version".into(),
                    message: "required".into(),
                },
            ],
        };
        let s = e.to_string();
        assert!(s.contains("traffic_matrix: must sum to 100"));
        assert!(s.contains("version: required"));

        let e = BackendError::Network {
            url: "http://127.0.0.1:9/v1".into(),
            detail: "connection refused".into(),
            attempts: 4,
        };
        assert!(e.to_string().contains("relcon sim"));
        assert_eq!(e.attempts(), Some(4));
    }
}

//! Who may call: OAuth2 client credentials (Basic or form), static API keys, scopes per
//! endpoint, tokens that expire.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use base64::Engine;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::sim::problem::{ApiError, ApiResult};

/// Every scope the Release API knows (the union of what the seeds ask for).
pub const ALL_SCOPES: &[&str] = &[
    "bot:read",
    "bot:write",
    "bot:deploy",
    "bot:manage",
    "environment:read",
    "environment:write",
    "environments:read",
    "deployment:read",
    "deployment:write",
    "deployments:manage",
    "deployments:write",
    "nlu:read",
    "webhook:read",
    "webhook:manage",
    "webhooks:write",
    "metrics:read",
    "audit:write",
    "audit:read",
    "flows:read",
    "flows:write",
    "jobs:read",
    "validations:execute",
    "sessions:read",
];

pub const DEMO_CLIENT_ID: &str = "demo-client";
pub const DEMO_CLIENT_SECRET: &str = "demo-secret";
pub const DEMO_API_KEY: &str = "demo-key";

#[derive(Debug, Clone)]
pub struct Client {
    pub secret: String,
    pub scopes: BTreeSet<String>,
}

#[derive(Debug, Clone)]
pub struct TokenRec {
    pub client: String,
    pub scopes: BTreeSet<String>,
    pub expires: Instant,
}

/// The identity behind a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub client: String,
    pub scopes: BTreeSet<String>,
}

#[derive(Debug)]
pub struct AuthStore {
    pub clients: HashMap<String, Client>,
    pub api_keys: HashMap<String, Caller>,
    pub tokens: HashMap<String, TokenRec>,
    pub ttl: Duration,
    rng: ChaCha8Rng,
}

impl AuthStore {
    pub fn new(ttl: Duration) -> AuthStore {
        let all: BTreeSet<String> = ALL_SCOPES.iter().map(|s| s.to_string()).collect();
        let mut clients = HashMap::new();
        clients.insert(
            DEMO_CLIENT_ID.to_string(),
            Client {
                secret: DEMO_CLIENT_SECRET.to_string(),
                scopes: all.clone(),
            },
        );
        let mut api_keys = HashMap::new();
        api_keys.insert(
            DEMO_API_KEY.to_string(),
            Caller {
                client: "api-key:demo".to_string(),
                scopes: all,
            },
        );
        AuthStore {
            clients,
            api_keys,
            tokens: HashMap::new(),
            ttl,
            // Token values need not be reproducible; they must not be guessable.
            rng: ChaCha8Rng::from_rng(&mut rand::rng()),
        }
    }

    /// Issue a token for `client_id` with the requested scopes (all of the client's when
    /// `scope` is empty). `life` overrides how long it really lives (fault injection).
    pub fn issue(
        &mut self,
        client_id: &str,
        secret: &str,
        scope: &str,
        life: Option<Duration>,
    ) -> Result<(String, BTreeSet<String>), TokenError> {
        let client = self
            .clients
            .get(client_id)
            .filter(|c| c.secret == secret)
            .ok_or(TokenError::InvalidClient)?;
        let requested: Vec<&str> = scope
            .split([' ', '+', ','])
            .filter(|s| !s.is_empty())
            .collect();
        for s in &requested {
            if !ALL_SCOPES.contains(s) {
                return Err(TokenError::InvalidScope(s.to_string()));
            }
        }
        let scopes: BTreeSet<String> = if requested.is_empty() {
            client.scopes.clone()
        } else {
            requested
                .iter()
                .filter(|s| client.scopes.contains(**s))
                .map(|s| s.to_string())
                .collect()
        };
        let bytes: [u8; 24] = self.rng.random();
        let token = format!("sim_at_{}", hex::encode(bytes));
        self.tokens.insert(
            token.clone(),
            TokenRec {
                client: client_id.to_string(),
                scopes: scopes.clone(),
                expires: Instant::now() + life.unwrap_or(self.ttl).min(self.ttl),
            },
        );
        Ok((token, scopes))
    }

    /// The caller behind an `Authorization: Bearer` header.
    pub fn caller(&self, headers: &HeaderMap) -> ApiResult<Caller> {
        let value = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "missing Authorization header: send 'Authorization: Bearer <token or API key>'",
                )
            })?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header is not a Bearer token")
            })?
            .trim();
        if let Some(c) = self.api_keys.get(token) {
            return Ok(c.clone());
        }
        match self.tokens.get(token) {
            None => Err(ApiError::unauthorized(
                "unknown token: request a new one from the token endpoint",
            )),
            Some(t) if t.expires <= Instant::now() => Err(ApiError::unauthorized(
                "the token has expired: request a new one from the token endpoint",
            )),
            Some(t) => Ok(Caller {
                client: t.client.clone(),
                scopes: t.scopes.clone(),
            }),
        }
    }

    /// Revoke every issued token (fault: tokens expire early).
    pub fn expire_all(&mut self) {
        let now = Instant::now();
        for t in self.tokens.values_mut() {
            t.expires = now;
        }
    }

    /// Drop expired tokens so the table stays small.
    pub fn sweep(&mut self) {
        let now = Instant::now();
        self.tokens
            .retain(|_, t| t.expires + Duration::from_secs(3600) > now);
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum TokenError {
    InvalidClient,
    InvalidScope(String),
}

/// Check that `caller` holds one of `scopes`.
pub fn require(caller: &Caller, scopes: &[&str]) -> ApiResult<()> {
    if scopes.iter().any(|s| caller.scopes.contains(*s)) {
        Ok(())
    } else {
        Err(ApiError::forbidden(scopes[0], scopes))
    }
}

/// Credentials from `Authorization: Basic`.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let b64 = v
        .strip_prefix("Basic ")
        .or_else(|| v.strip_prefix("basic "))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_granted_from_the_request() {
        let mut s = AuthStore::new(Duration::from_secs(60));
        let (tok, scopes) = s
            .issue(
                DEMO_CLIENT_ID,
                DEMO_CLIENT_SECRET,
                "bot:read+metrics:read",
                None,
            )
            .unwrap();
        assert_eq!(scopes.len(), 2);
        let mut h = HeaderMap::new();
        h.insert("authorization", format!("Bearer {tok}").parse().unwrap());
        let c = s.caller(&h).unwrap();
        assert!(require(&c, &["bot:read"]).is_ok());
        let e = require(&c, &["deployment:write"]).unwrap_err();
        assert_eq!(e.problem.missing_scope.as_deref(), Some("deployment:write"));
        assert_eq!(
            s.issue(DEMO_CLIENT_ID, "wrong", "", None).unwrap_err(),
            TokenError::InvalidClient
        );
        assert!(matches!(
            s.issue(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, "root:all", None),
            Err(TokenError::InvalidScope(_))
        ));
    }
}

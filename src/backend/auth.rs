//! Credentials: a static API key, or OAuth2 client credentials (HTTP Basic or form fields)
//! with a token cache that refreshes a minute before expiry, one refresh at a time.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::error::BackendError;
use super::http::{
    ApiRequest, Credentials, CredentialsFuture, HttpClient, Presented, percent_encode,
};
use crate::sanitize::clean;

/// A token is refreshed once less than this much of its life remains.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Lifetime assumed when the token endpoint does not say (`expires_in` missing).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);

/// How the client authenticates to the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStyle {
    /// `Authorization: Basic base64(id:secret)` with form `grant_type` and `scope`.
    Basic,
    /// Form fields `grant_type, client_id, client_secret, scope`.
    Form,
}

/// The credentials of a profile. `Debug` never shows a secret.
#[derive(Debug, Clone)]
pub enum Auth {
    /// A long-lived key sent as the bearer token.
    ApiKey(SecretString),
    /// OAuth2 client credentials.
    ClientCredentials {
        client_id: String,
        client_secret: SecretString,
        style: TokenStyle,
        /// Absolute, or a path below the server URL such as `/v1/auth/token`.
        token_url: String,
        /// Requested scopes; empty asks for all of the client's scopes.
        scopes: Vec<String>,
    },
}

struct Cached {
    token: SecretString,
    /// When the token stops being handed out without a refresh.
    refresh_at: Instant,
    /// When the server stops accepting it (as far as `expires_in` says).
    expires_at: Instant,
    generation: u64,
}

/// Hands out bearer tokens. For client credentials it caches the access token, refreshes
/// it when less than [`REFRESH_MARGIN`] remains, and lets exactly one refresh run at a
/// time: concurrent callers wait for it and reuse its token.
pub(crate) struct TokenCache {
    auth: Auth,
    state: Mutex<Option<Cached>>,
    /// Generation of the newest token, readable without the lock.
    generation: AtomicU64,
}

/// A future of the token endpoint's answer, boxed to break the recursion
/// `execute -> bearer -> execute`.
type TokenFuture<'a> =
    Pin<Box<dyn Future<Output = Result<(SecretString, Duration), BackendError>> + Send + 'a>>;

/// Release API credentials go as a bearer token: the API key itself, or a client-credentials
/// token fetched, renewed and, after a 401, fetched afresh.
impl Credentials for TokenCache {
    fn present<'a>(&'a self, http: &'a HttpClient) -> CredentialsFuture<'a, Presented> {
        Box::pin(async move {
            let (secret, generation) = self.bearer(http).await?;
            Ok(Presented {
                header: AUTHORIZATION,
                scheme: "Bearer ",
                secret,
                generation,
            })
        })
    }

    fn refreshable(&self) -> bool {
        TokenCache::refreshable(self)
    }

    fn invalidate<'a>(&'a self, generation: u64) -> CredentialsFuture<'a, ()> {
        Box::pin(async move {
            TokenCache::invalidate(self, generation).await;
            Ok(())
        })
    }

    fn static_secrets(&self) -> Vec<&SecretString> {
        TokenCache::static_secrets(self).collect()
    }
}

impl TokenCache {
    pub fn new(auth: Auth) -> TokenCache {
        TokenCache {
            auth,
            state: Mutex::new(None),
            generation: AtomicU64::new(0),
        }
    }

    /// Whether a 401 can be cured by fetching a new token.
    pub fn refreshable(&self) -> bool {
        matches!(self.auth, Auth::ClientCredentials { .. })
    }

    /// The long-lived secrets of these credentials (kept out of every error message).
    pub fn static_secrets(&self) -> impl Iterator<Item = &SecretString> {
        match &self.auth {
            Auth::ApiKey(key) => Some(key),
            Auth::ClientCredentials { client_secret, .. } => Some(client_secret),
        }
        .into_iter()
    }

    /// A token to send now, with its generation (for [`TokenCache::invalidate`]).
    pub async fn bearer(&self, http: &HttpClient) -> Result<(SecretString, u64), BackendError> {
        if let Auth::ApiKey(key) = &self.auth {
            return Ok((key.clone(), 0));
        }
        let seen = self.generation.load(Ordering::Acquire);
        let mut state = self.state.lock().await;
        let now = Instant::now();
        if let Some(c) = state.as_ref() {
            // Fresh enough; or refreshed by another caller while this one waited for the
            // lock, which is good enough even inside the margin as long as it is alive.
            if now < c.refresh_at || (c.generation > seen && now < c.expires_at) {
                return Ok((c.token.clone(), c.generation));
            }
        }
        let (token, lifetime) = self.fetch(http).await?;
        let fetched = Instant::now();
        let generation = self.generation.load(Ordering::Acquire) + 1;
        self.generation.store(generation, Ordering::Release);
        *state = Some(Cached {
            token: token.clone(),
            refresh_at: fetched + lifetime.saturating_sub(REFRESH_MARGIN),
            expires_at: fetched + lifetime,
            generation,
        });
        Ok((token, generation))
    }

    /// Forget the token of `generation` (the server refused it); a newer token is kept.
    pub async fn invalidate(&self, generation: u64) {
        let mut state = self.state.lock().await;
        if state.as_ref().is_some_and(|c| c.generation == generation) {
            *state = None;
        }
    }

    fn fetch<'a>(&'a self, http: &'a HttpClient) -> TokenFuture<'a> {
        Box::pin(async move {
            let Auth::ClientCredentials {
                client_id,
                client_secret,
                style,
                token_url,
                scopes,
            } = &self.auth
            else {
                return Err(BackendError::Config {
                    detail: "an API key has no token endpoint".into(),
                });
            };
            let mut form = vec![("grant_type".to_string(), "client_credentials".to_string())];
            // A server may echo the form body: the encoded secret is kept out of errors too.
            let mut req = ApiRequest::new(Method::POST, token_url.clone())
                .secret(client_secret.clone())
                .secret(SecretString::from(percent_encode(
                    client_secret.expose_secret(),
                )));
            match style {
                TokenStyle::Basic => {
                    let raw = format!("{client_id}:{}", client_secret.expose_secret());
                    let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
                    let mut value =
                        HeaderValue::from_str(&format!("Basic {encoded}")).map_err(|_| {
                            BackendError::Config {
                                detail: "the client id or secret contains characters that cannot \
                                     be sent in an HTTP header"
                                    .into(),
                            }
                        })?;
                    value.set_sensitive(true);
                    req = req
                        .header(AUTHORIZATION, value)
                        .secret(SecretString::from(encoded));
                }
                TokenStyle::Form => {
                    form.push(("client_id".into(), client_id.clone()));
                    form.push((
                        "client_secret".into(),
                        client_secret.expose_secret().to_string(),
                    ));
                }
            }
            if !scopes.is_empty() {
                form.push(("scope".into(), scopes.join(" ")));
            }
            let req = req.form(form);
            let what = req.what();
            let reply = http
                .execute(&req, None)
                .await
                .map_err(|e| token_endpoint_error(e, token_url))?;
            let token = reply
                .body
                .get("access_token")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| BackendError::Decode {
                    what: what.clone(),
                    detail: "the answer has no access_token".into(),
                })?;
            let lifetime = reply
                .body
                .get("expires_in")
                .and_then(Value::as_f64)
                .filter(|s| s.is_finite() && *s > 0.0)
                .map(Duration::from_secs_f64)
                .unwrap_or(DEFAULT_LIFETIME);
            tracing::debug!(
                token_url = %clean(token_url),
                lifetime_s = lifetime.as_secs(),
                "fetched an access token"
            );
            Ok((SecretString::from(token.to_string()), lifetime))
        })
    }
}

/// The token endpoint's refusals say what to fix in the profile.
fn token_endpoint_error(e: BackendError, token_url: &str) -> BackendError {
    let url = clean(token_url);
    match e {
        BackendError::Unauthorized { detail } | BackendError::Forbidden { detail, .. } => {
            BackendError::Unauthorized {
                detail: format!("the token endpoint {url} refused the client ({detail})"),
            }
        }
        BackendError::Invalid { detail, .. } | BackendError::Rejected { detail, .. } => {
            let hint = if detail.starts_with("invalid_scope") {
                "check the profile's scopes"
            } else if detail.starts_with("unsupported_grant_type") {
                "the endpoint does not do client credentials; check the token URL"
            } else if detail.starts_with("invalid_client") {
                "check COGNIGY_CLIENT_ID / COGNIGY_CLIENT_SECRET and the token style (basic or form)"
            } else {
                "check the token URL, token style and scopes"
            };
            BackendError::Config {
                detail: format!("the token endpoint {url} refused the request: {detail}; {hint}"),
            }
        }
        BackendError::NotFound { detail, .. } => BackendError::Config {
            detail: format!("there is no token endpoint at {url} ({detail}); check the token URL"),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let auth = Auth::ClientCredentials {
            client_id: "id".into(),
            client_secret: SecretString::from("hunter2-very-secret"),
            style: TokenStyle::Basic,
            token_url: "/v1/auth/token".into(),
            scopes: vec![],
        };
        assert!(!format!("{auth:?}").contains("hunter2"));
        let key = Auth::ApiKey(SecretString::from("key-very-secret"));
        assert!(!format!("{key:?}").contains("very-secret"));
    }

    #[test]
    fn token_endpoint_refusals_point_at_the_profile() {
        let e = token_endpoint_error(
            BackendError::Invalid {
                detail: "invalid_scope: nobody has that".into(),
                errors: vec![],
            },
            "/oauth/token",
        );
        assert!(matches!(e, BackendError::Config { .. }));
        assert!(e.to_string().contains("check the profile's scopes"));
        let e = token_endpoint_error(
            BackendError::Unauthorized {
                detail: "invalid_client".into(),
            },
            "/oauth/token",
        );
        assert!(matches!(e, BackendError::Unauthorized { .. }));
    }
}

//! From a resolved profile to a running engine: one HTTP client for the process, the
//! Release API backend, the audit log, signed webhooks. Shared by the headless commands and
//! the console.

use std::sync::Arc;

use anyhow::Context;
use secrecy::SecretString;

use crate::audit::AuditLog;
use crate::backend::{
    Auth, CognigyApi, CognigyHosts, HttpSettings, ReleaseApi, ReleaseBackend, RequestMeter,
    RetryPolicy, TokenStyle,
};
use crate::config::{Backend, Credentials, ResolvedProfile, TokenStyle as ConfigTokenStyle};
use crate::engine::Engine;
use crate::webhook::{DeliveryPolicy, WebhookSender, WebhookTarget};

pub struct Runtime {
    pub profile: ResolvedProfile,
    pub backend: Arc<dyn ReleaseBackend>,
    pub engine: Engine,
    /// Every request the process sends on this profile, in the platform's window.
    pub meter: RequestMeter,
}

fn auth_of(c: &Credentials) -> Auth {
    match c {
        Credentials::ApiKey(k) => Auth::ApiKey(k.clone()),
        Credentials::ClientCredentials {
            client_id,
            client_secret,
            style,
            token_url,
            scopes,
        } => Auth::ClientCredentials {
            client_id: client_id.clone(),
            client_secret: client_secret.clone(),
            style: match style {
                ConfigTokenStyle::Basic => TokenStyle::Basic,
                ConfigTokenStyle::Form => TokenStyle::Form,
            },
            token_url: token_url.clone(),
            scopes: scopes.clone(),
        },
    }
}

/// Build the backend and engine for `profile`.
pub fn build(profile: ResolvedProfile) -> anyhow::Result<Runtime> {
    let settings = HttpSettings {
        connect_timeout: profile.timeouts.connect,
        read_timeout: profile.timeouts.read,
        total_timeout: profile.timeouts.total,
        deadline: profile.timeouts.deadline,
        retry: RetryPolicy {
            attempts: profile.retry.attempts.max(1),
            base_delay: profile.retry.base_delay,
            max_delay: profile.retry.max_delay,
        },
        clock: profile.clock(),
        meter: RequestMeter::new(profile.clock()),
        ..HttpSettings::new(profile.api_url.clone())
    };
    let meter = settings.meter.clone();
    let (backend, client): (Arc<dyn ReleaseBackend>, reqwest::Client) = match &profile.backend {
        Backend::ReleaseApi => {
            let api = ReleaseApi::new(settings, auth_of(&profile.credentials))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let client = api.http_client().clone();
            (Arc::new(api), client)
        }
        Backend::Cognigy(target) => {
            let Credentials::ApiKey(key) = &profile.credentials else {
                anyhow::bail!(
                    "profile {}: backend = \"cognigy\" authenticates with an API key; export CAI_APIKEY",
                    profile.name
                );
            };
            let hosts = CognigyHosts {
                api_url: profile.api_url.clone(),
                odata_url: target.odata_url.clone(),
                endpoint_url: target.endpoint_url.clone(),
                project: target.project.clone(),
                test_message: profile.rollback.test_message.clone(),
            };
            let api = CognigyApi::new(settings, hosts, key.clone())
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let client = api.http_client().clone();
            (Arc::new(api), client)
        }
    };
    let audit = AuditLog::open(&profile.audit_log).with_context(|| {
        format!(
            "cannot open the audit log {} (set audit_log in the profile)",
            profile.audit_log.display()
        )
    })?;
    let mut targets = Vec::new();
    for w in &profile.webhooks {
        let secret = w
            .secret
            .clone()
            .unwrap_or_else(|| SecretString::from(String::new()));
        match WebhookTarget::new(w.url.clone(), secret, w.events.clone()) {
            Ok(t) => targets.push(t),
            Err(e) => anyhow::bail!("profile {}: {e}", profile.name),
        }
    }
    let webhooks = (!targets.is_empty()).then(|| {
        Arc::new(WebhookSender::new(
            client,
            targets,
            DeliveryPolicy::default(),
        )) as Arc<dyn crate::engine::notify::Notifier>
    });
    let engine = Engine::new(
        backend.clone(),
        audit,
        webhooks,
        profile.clock(),
        profile.operator.clone(),
    );
    let engine = match crate::journal::JournalSink::for_profile(&profile.name, &profile.api_url) {
        Some(sink) => engine.with_journal(sink),
        None => engine,
    };
    Ok(Runtime {
        profile,
        backend,
        engine,
        meter,
    })
}

//! What the engine tells the world when an operation moves: a trait beside the backend and
//! the journal, so the engine holds no transport. [`crate::webhook::WebhookSender`] is the
//! one in use (signed HTTP deliveries); tests can count events without a server.

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use crate::webhook::DeliveryRecord;

pub type Deliveries<'a> = Pin<Box<dyn Future<Output = Vec<DeliveryRecord>> + Send + 'a>>;

pub trait Notifier: Send + Sync {
    /// Where events go, to check before a deploy that each receiver answers.
    fn target_urls(&self) -> Vec<String>;

    /// Send `data` as an event of `event_type`. Never fails: each target yields a record of
    /// what happened (delivered or not, after how many attempts), which the engine audits.
    fn deliver<'a>(&'a self, event_type: &'a str, data: Value) -> Deliveries<'a>;
}

impl Notifier for crate::webhook::WebhookSender {
    fn target_urls(&self) -> Vec<String> {
        self.targets().iter().map(|t| t.url.clone()).collect()
    }

    fn deliver<'a>(&'a self, event_type: &'a str, data: Value) -> Deliveries<'a> {
        Box::pin(crate::webhook::WebhookSender::deliver(
            self, event_type, data,
        ))
    }
}

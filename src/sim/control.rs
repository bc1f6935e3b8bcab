//! Operation control (a relcon extension): per operation, who drives it (a lease with an
//! expiry), the commands others sent it, and the events its driver posted. Times are
//! simulator seconds.

use std::collections::VecDeque;

use crate::domain::{CommandState, ControlCommand, OperationEventKind};

/// Events kept per operation (older ones are dropped; sequence numbers keep counting).
pub const EVENTS_KEPT: usize = 200;

#[derive(Debug, Clone, Default)]
pub struct Control {
    pub lease: Option<LeaseRec>,
    pub commands: Vec<CommandRec>,
    pub events: VecDeque<EventRec>,
    /// The sequence number of the last event posted (0: none yet).
    pub last_seq: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LeaseRec {
    pub holder: String,
    pub host: String,
    pub key: String,
    pub acquired: f64,
    pub renewed: f64,
    pub expires: f64,
    /// The expired lease this one took over: (holder, host, expired at).
    pub previous: Option<(String, String, f64)>,
}

impl LeaseRec {
    pub fn live(&self, now: f64) -> bool {
        now < self.expires
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CommandRec {
    pub id: String,
    pub command: ControlCommand,
    pub operator: String,
    pub reason: Option<String>,
    pub at: f64,
    pub state: CommandState,
    pub acked_at: Option<f64>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventRec {
    pub seq: u64,
    pub kind: OperationEventKind,
    pub message: String,
    pub at: f64,
    pub by: String,
}

impl Control {
    pub fn pending(&self) -> usize {
        self.commands
            .iter()
            .filter(|c| c.state == CommandState::Pending)
            .count()
    }

    /// Append an event, keeping the last [`EVENTS_KEPT`].
    pub fn push_event(
        &mut self,
        kind: OperationEventKind,
        message: String,
        at: f64,
        by: String,
    ) -> EventRec {
        self.last_seq += 1;
        let rec = EventRec {
            seq: self.last_seq,
            kind,
            message,
            at,
            by,
        };
        self.events.push_back(rec.clone());
        while self.events.len() > EVENTS_KEPT {
            self.events.pop_front();
        }
        rec
    }
}

//! Operation control (a relcon extension of the Release API): who drives an operation (its
//! lease), the commands other relcons send it, and the events its driver posts so anyone can
//! follow along.

use serde::{Deserialize, Serialize};

use super::Operation;

/// Who drives an operation, until when. The `operation_key` is the holder's token: the server
/// echoes it only to the holder (in the answer to `PUT .../lease`), never in lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lease {
    pub holder: String,
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_key: Option<String>,
    pub acquired_at: String,
    pub renewed_at: String,
    pub expires_at: String,
    /// Set when this lease took over an expired one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_holder: Option<PreviousHolder>,
}

/// The holder of the expired lease a new one replaced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviousHolder {
    pub holder: String,
    pub host: String,
    pub expired_at: String,
}

/// The problem extension of a lease conflict: the live lease in the way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaseConflict {
    pub holder: String,
    pub host: String,
    pub acquired_at: String,
    pub expires_at: String,
    /// Server seconds since the lease was taken.
    pub age_seconds: u64,
    /// Server seconds until it expires unless renewed.
    pub expires_in_seconds: u64,
}

/// What an operator can ask an operation's driver to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlCommand {
    PromoteStep,
    PromoteFull,
    Pause,
    Resume,
    Abort,
}

impl ControlCommand {
    pub const ALL: [ControlCommand; 5] = [
        ControlCommand::PromoteStep,
        ControlCommand::PromoteFull,
        ControlCommand::Pause,
        ControlCommand::Resume,
        ControlCommand::Abort,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ControlCommand::PromoteStep => "promote_step",
            ControlCommand::PromoteFull => "promote_full",
            ControlCommand::Pause => "pause",
            ControlCommand::Resume => "resume",
            ControlCommand::Abort => "abort",
        }
    }

    pub fn parse(s: &str) -> Option<ControlCommand> {
        ControlCommand::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// A command's life: posted (`pending`), then acknowledged by the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandState {
    Pending,
    Applied,
    Refused,
}

impl CommandState {
    pub fn as_str(self) -> &'static str {
        match self {
            CommandState::Pending => "pending",
            CommandState::Applied => "applied",
            CommandState::Refused => "refused",
        }
    }

    pub fn parse(s: &str) -> Option<CommandState> {
        [
            CommandState::Pending,
            CommandState::Applied,
            CommandState::Refused,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// A command sent to an operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationCommand {
    pub id: String,
    pub operation_id: String,
    pub command: ControlCommand,
    pub operator: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at: String,
    pub state: CommandState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked_at: Option<String>,
    /// The driver's answer when it acknowledged the command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What a driver reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationEventKind {
    Step,
    Decision,
    Detail,
    Outcome,
}

impl OperationEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OperationEventKind::Step => "step",
            OperationEventKind::Decision => "decision",
            OperationEventKind::Detail => "detail",
            OperationEventKind::Outcome => "outcome",
        }
    }

    pub fn parse(s: &str) -> Option<OperationEventKind> {
        [
            OperationEventKind::Step,
            OperationEventKind::Decision,
            OperationEventKind::Detail,
            OperationEventKind::Outcome,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// One line of an operation's event log, numbered from 1 per operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationEvent {
    pub seq: u64,
    pub kind: OperationEventKind,
    pub message: String,
    pub at: String,
    /// Who posted it (the client, or the name it gave).
    #[serde(default)]
    pub by: String,
}

/// `GET /api/v1/operations/{id}` (and each item of the list): the operation plus its control
/// state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationDetail {
    #[serde(flatten)]
    pub operation: Operation,
    /// The live or expired lease; `None` when nobody holds one.
    #[serde(default)]
    pub lease: Option<Lease>,
    /// The operation is active but its lease expired: its driver is gone.
    #[serde(default)]
    pub orphaned: bool,
    #[serde(default)]
    pub pending_commands: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event: Option<OperationEvent>,
    /// The server's clock when it answered, so a client can tell a lease's age and how long
    /// ago it expired without trusting its own clock (a simulator runs faster than wall time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_time: Option<String>,
}

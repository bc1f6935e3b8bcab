//! The operator verbs of the headless CLI: `get`, `promote`, `pause`, `resume`, `abort`,
//! `retry`. They act, through the server's operation control API, on an operation that any
//! relcon drives (console or CLI, this process or another).

use crate::cli::{Command, Global};
use crate::headless::CliError;
use crate::runtime::Runtime;

/// Run one operator verb; the exit code.
pub async fn run(_global: &Global, _rt: &Runtime, _command: Command) -> Result<u8, CliError> {
    Err(CliError::refused("not yet"))
}

//! The operator verbs of the headless CLI: `get`, `promote`, `pause`, `resume`, `abort`,
//! `retry`. They act, through the server's operation control API
//! (docs/operation-control.md), on the operation that any relcon drives, console or CLI,
//! this process or another: a verb posts a command, the driver's relcon applies it to its
//! workflow and acknowledges it, and the verb reports that answer.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use crate::backend::{BackendError, ReleaseBackend};
use crate::cli::{Command, Global, Output};
use crate::domain::{
    CommandState, ControlCommand, OperationCommand, OperationDetail, OperationEvent,
    OperationEventKind, OperationKind,
};
use crate::drive::{CliError, exit_code};
use crate::engine::control::{Driver, Orphan, outcome_of_event};
use crate::engine::events::Outcome;
use crate::exit;
use crate::runtime::Runtime;
use crate::sanitize::clean;

/// How long a verb waits for the driver's answer (wall time).
pub const ANSWER_DEADLINE: Duration = Duration::from_secs(30);
/// How often a verb or `get --watch` reads the server (wall time).
pub const POLL: Duration = Duration::from_millis(250);

/// Print a line on stdout; a reader that went away ends the command quietly.
fn out(text: &str) {
    if writeln!(std::io::stdout().lock(), "{text}").is_err() {
        std::process::exit(0);
    }
}

fn failed(message: impl Into<String>) -> CliError {
    CliError {
        code: exit::FAILED,
        message: message.into(),
    }
}

fn refused(message: impl Into<String>) -> CliError {
    CliError {
        code: exit::REFUSED,
        message: message.into(),
    }
}

fn backend_error(e: BackendError) -> CliError {
    let code = match e {
        BackendError::Unauthorized { .. }
        | BackendError::Forbidden { .. }
        | BackendError::Config { .. } => exit::CONFIG,
        BackendError::Timeout { .. } => exit::TIMED_OUT,
        BackendError::NotFound { .. } => exit::NOT_FOUND,
        _ => exit::FAILED,
    };
    CliError {
        code,
        message: clean(&e.to_string()),
    }
}

/// An operator's request, as the verbs name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Promote,
    PromoteFull,
    Pause,
    Resume,
    Abort,
    /// Carry on after a pause for a decision: judge the step again (sent as `resume`).
    Retry,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Promote => "promote",
            Verb::PromoteFull => "promote --full",
            Verb::Pause => "pause",
            Verb::Resume => "resume",
            Verb::Abort => "abort",
            Verb::Retry => "retry",
        }
    }

    pub fn command(self) -> ControlCommand {
        match self {
            Verb::Promote => ControlCommand::PromoteStep,
            Verb::PromoteFull => ControlCommand::PromoteFull,
            Verb::Pause => ControlCommand::Pause,
            Verb::Resume | Verb::Retry => ControlCommand::Resume,
            Verb::Abort => ControlCommand::Abort,
        }
    }
}

fn kind_word(k: OperationKind) -> &'static str {
    k.as_str()
}

/// The bot's operation in progress (newest first), else its latest one; `None` if it never
/// had one. An unknown bot is not found.
pub async fn current(
    backend: &dyn ReleaseBackend,
    bot: &str,
) -> Result<Option<OperationDetail>, CliError> {
    backend.get_bot(bot).await.map_err(backend_error)?;
    let ops = backend
        .list_operation_details(Some(bot), false)
        .await
        .map_err(backend_error)?;
    let active = ops.iter().find(|d| d.operation.active).cloned();
    Ok(active.or_else(|| ops.into_iter().next()))
}

/// What a verb got: the command as the driver left it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sent {
    pub bot: String,
    pub operation_id: String,
    pub verb: &'static str,
    pub command: OperationCommand,
    /// Who drives the operation, in words.
    pub driver: String,
    pub exit_code: u8,
}

/// Words for an operation that nobody drives, and what to do about it.
pub fn nobody_drives(bot: &str, d: &OperationDetail, driver: &Driver) -> String {
    let what = format!(
        "{} {} of bot {bot}",
        kind_word(d.operation.kind),
        d.operation.id
    );
    let why = match driver {
        Driver::Expired { holder, host, ago } => format!(
            "the lease of {} on {} expired {} ago",
            clean(holder),
            clean(host),
            crate::engine::control::age_text(*ago)
        ),
        _ => "no relcon holds a lease on it".into(),
    };
    let paused = if d.operation.state.contains("paused") {
        " It is paused and keeps its traffic split until someone acts."
    } else {
        ""
    };
    format!(
        "nobody drives {what}: {why}.{paused} Nothing was sent (a command waits for a driver to apply it). \
Re-attach it by starting relcon again where it ran (it reads its journal at start) or adopt it from another relcon, then try again; `relcon get {bot}` shows its state."
    )
}

/// Send `verb` to the driver of `bot`'s operation and wait (up to `deadline`) for its
/// answer. Refused, with the reason, when there is no operation in progress or nobody
/// drives it.
pub async fn send(
    backend: &dyn ReleaseBackend,
    bot: &str,
    verb: Verb,
    operator: &str,
    reason: Option<&str>,
    deadline: Duration,
) -> Result<Sent, CliError> {
    let Some(d) = current(backend, bot).await? else {
        return Err(CliError {
            code: exit::NOT_FOUND,
            message: format!("bot {bot} has no operation to {}", verb.as_str()),
        });
    };
    let op = &d.operation;
    if !op.active {
        let again = match (op.kind, op.version_id.as_deref()) {
            (OperationKind::Canary, Some(v)) if verb == Verb::Retry => {
                format!(
                    "; to try again, start it anew: relcon canary {bot} {}",
                    clean(v)
                )
            }
            (OperationKind::Deployment, Some(v)) if verb == Verb::Retry => {
                format!(
                    "; to try again, start it anew: relcon deploy {bot} {}",
                    clean(v)
                )
            }
            _ => String::new(),
        };
        return Err(refused(format!(
            "bot {bot} has no operation in progress: its last, {} {}{}, ended {}{again}",
            kind_word(op.kind),
            op.id,
            op.version_id
                .as_deref()
                .map(|v| format!(" ({})", clean(v)))
                .unwrap_or_default(),
            clean(&op.state).replace('_', " "),
        )));
    }
    let driver = Driver::of(&d);
    if !driver.is_live() {
        return Err(refused(nobody_drives(bot, &d, &driver)));
    }
    if verb == Verb::Retry && !op.state.contains("paused") {
        return Err(refused(format!(
            "{} {} of bot {bot} is {}: nothing to retry (retry carries on a paused operation); use promote, pause or abort",
            kind_word(op.kind),
            op.id,
            clean(&op.state).replace('_', " ")
        )));
    }
    let posted = backend
        .post_command(&op.id, verb.command(), operator, reason)
        .await
        .map_err(backend_error)?;
    let started = tokio::time::Instant::now();
    let command = loop {
        let all = backend.list_commands(&op.id).await.map_err(backend_error)?;
        if let Some(c) = all.into_iter().find(|c| c.id == posted.id)
            && c.state != CommandState::Pending
        {
            break c;
        }
        if started.elapsed() >= deadline {
            let now = backend.get_operation(&op.id).await.map_err(backend_error)?;
            return Err(CliError {
                code: exit::TIMED_OUT,
                message: format!(
                    "no answer in {}s from the driver of {} {}, {}; command {} stays pending and is applied if a driver takes it",
                    deadline.as_secs(),
                    kind_word(op.kind),
                    op.id,
                    Driver::of(&now).describe(),
                    posted.id
                ),
            });
        }
        tokio::time::sleep(POLL).await;
    };
    let exit_code = match command.state {
        CommandState::Applied => exit::OK,
        _ => exit::REFUSED,
    };
    Ok(Sent {
        bot: bot.to_string(),
        operation_id: op.id.clone(),
        verb: verb.as_str(),
        command,
        driver: driver.describe(),
        exit_code,
    })
}

/// One look at a bot's operation, as `get` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct View {
    pub bot: String,
    pub operation: OperationDetail,
    /// The canary's split, when the operation is a canary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<crate::domain::Canary>,
    /// The driver's last step, decision and outcome events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<OperationEvent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<OperationEvent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome_message: Option<String>,
    /// Who drives it, in words.
    pub driver: String,
    pub driven: bool,
    /// Set when the operation is in progress and nobody drives it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orphan: Option<Orphan>,
    /// Orphaned canaries this look rolled back (left alone longer than the limit).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub swept: Vec<String>,
    /// Set once the operation ended (or is left paused with nobody driving it): the exit
    /// code `get --watch` ends with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<u8>,
    /// The last event sequence number read.
    #[serde(skip)]
    pub last_seq: u64,
    /// Events new since the previous look.
    #[serde(skip)]
    pub new_events: Vec<OperationEvent>,
}

/// The outcome an ended operation's server state stands for.
fn outcome_of_state(state: &str) -> Outcome {
    match state {
        "promoted" | "completed" | "succeeded" | "deployed" => Outcome::Succeeded,
        "rolled_back" => Outcome::RolledBack,
        "cancelled" | "aborted" => Outcome::Cancelled,
        "timed_out" => Outcome::TimedOut,
        _ => Outcome::Failed,
    }
}

/// Read the bot's operation, its canary and the driver's events after `after`.
pub async fn look(
    backend: &dyn ReleaseBackend,
    bot: &str,
    pinned: Option<&str>,
    previous: Option<&View>,
) -> Result<View, CliError> {
    let d = match pinned {
        Some(id) => backend.get_operation(id).await.map_err(backend_error)?,
        None => current(backend, bot).await?.ok_or_else(|| CliError {
            code: exit::NOT_FOUND,
            message: format!("bot {bot} has no operations"),
        })?,
    };
    let id = d.operation.id.clone();
    let canary = if d.operation.kind == OperationKind::Canary {
        backend.get_canary(&id).await.ok()
    } else {
        None
    };
    let after = previous.map(|v| v.last_seq);
    let new_events = backend
        .operation_events(&id, after)
        .await
        .map_err(backend_error)?;
    let mut v = View {
        bot: bot.to_string(),
        canary,
        step: previous.and_then(|p| p.step.clone()),
        decision: previous.and_then(|p| p.decision.clone()),
        outcome: previous.and_then(|p| p.outcome),
        outcome_message: previous.and_then(|p| p.outcome_message.clone()),
        driver: String::new(),
        driven: false,
        orphan: None,
        swept: Vec::new(),
        exit_code: None,
        last_seq: after.unwrap_or(0),
        new_events: Vec::new(),
        operation: d,
    };
    for e in &new_events {
        v.last_seq = v.last_seq.max(e.seq);
        match e.kind {
            // A canary's traffic step wins over its workflow's steps.
            OperationEventKind::Step => {
                let traffic = v
                    .step
                    .as_ref()
                    .is_some_and(|s| s.message.starts_with("step "));
                if e.message.starts_with("step ") || !traffic {
                    v.step = Some(e.clone());
                }
            }
            OperationEventKind::Decision => v.decision = Some(e.clone()),
            OperationEventKind::Outcome => {
                v.outcome = outcome_of_event(&e.message);
                v.outcome_message = Some(e.message.clone());
            }
            OperationEventKind::Detail => {}
        }
    }
    v.new_events = new_events;
    let driver = Driver::of(&v.operation);
    v.driver = driver.describe();
    v.driven = driver.is_live();
    v.orphan = Orphan::of(&v.operation);
    let op = &v.operation.operation;
    v.exit_code = if let Some(o) = v.outcome {
        Some(exit_code(o))
    } else if !op.active && !v.driven {
        Some(exit_code(outcome_of_state(&op.state)))
    } else if op.active && !v.driven && op.state.contains("paused") {
        Some(exit::PAUSED)
    } else {
        None
    };
    Ok(v)
}

/// The tree `get` prints.
pub fn render(v: &View) -> Vec<String> {
    let op = &v.operation.operation;
    let mut rows: Vec<(&str, String)> = Vec::new();
    let version = op.version_id.as_deref().map(clean).unwrap_or("-".into());
    let mut where_ = String::new();
    if let Some(c) = &v.canary {
        where_.push_str(&format!(" (baseline {})", clean(&c.stable_version)));
    }
    if let Some(e) = &op.environment_id {
        where_.push_str(&format!(" in {}", clean(e)));
    }
    rows.push(("version", format!("{version}{where_}")));
    if let Some(s) = &v.step {
        rows.push(("step", clean(&s.message)));
    }
    if let Some(c) = &v.canary {
        rows.push((
            "weight",
            format!(
                "{:.1}% canary · {:.1}% baseline",
                c.canary_weight,
                100.0 - c.canary_weight
            ),
        ));
    }
    if let Some(d) = &v.decision {
        rows.push(("decision", clean(&d.message)));
    }
    rows.push(("driver", v.driver.clone()));
    if let Some(o) = &v.orphan {
        rows.push((
            "orphaned",
            format!(
                "{}; take it over with `relcon adopt {bot}`, or end it safely with `relcon end {bot}`",
                o.why(),
                bot = clean(&v.bot)
            ),
        ));
    }
    for s in &v.swept {
        rows.push(("swept", clean(s)));
    }
    if v.operation.pending_commands > 0 {
        rows.push((
            "commands",
            format!("{} pending", v.operation.pending_commands),
        ));
    }
    if let Some(m) = &v.outcome_message {
        rows.push(("outcome", clean(m)));
    } else if let Some(e) = &op.error_message {
        rows.push(("error", clean(e)));
    }
    rows.push(("updated", clean(&op.updated_at)));
    let mut lines = vec![format!(
        "{} · {} {} · {}",
        clean(&v.bot),
        kind_word(op.kind),
        clean(&op.id),
        clean(&op.state).replace('_', " ")
    )];
    let n = rows.len();
    for (i, (k, val)) in rows.into_iter().enumerate() {
        let branch = if i + 1 == n { "└─" } else { "├─" };
        lines.push(format!("{branch} {k:<9} {val}"));
    }
    lines
}

fn print_json(v: &impl Serialize) {
    out(&crate::sanitize::json_pretty(v).unwrap_or_default());
}

/// `relcon get BOT [--watch]`: the tree once, or followed until the operation ends (exit
/// code: its outcome's).
pub async fn get(
    backend: &dyn ReleaseBackend,
    bot: &str,
    watch: bool,
    output: Output,
) -> Result<u8, CliError> {
    get_swept(backend, bot, watch, output, Vec::new()).await
}

/// [`get`], saying which orphaned canaries were rolled back before the look.
pub async fn get_swept(
    backend: &dyn ReleaseBackend,
    bot: &str,
    watch: bool,
    output: Output,
    swept: Vec<String>,
) -> Result<u8, CliError> {
    let mut first = look(backend, bot, None, None).await?;
    first.swept = swept;
    if !watch {
        match output {
            Output::Json => print_json(&first),
            Output::Human => render(&first).iter().for_each(|l| out(l)),
        }
        return Ok(exit::OK);
    }
    let tty = std::io::stdout().is_terminal() && output == Output::Human;
    let pinned = first.operation.operation.id.clone();
    let mut drawn = 0usize;
    let mut view = first;
    let mut warned = false;
    if output == Output::Human && !tty {
        render(&view).iter().for_each(|l| out(l));
    }
    loop {
        if tty {
            let lines = render(&view);
            let mut o = std::io::stdout().lock();
            if drawn > 0 {
                let _ = crossterm::execute!(
                    o,
                    crossterm::cursor::MoveUp(drawn as u16),
                    crossterm::cursor::MoveToColumn(0),
                    crossterm::terminal::Clear(crossterm::terminal::ClearType::FromCursorDown)
                );
            }
            for l in &lines {
                let _ = writeln!(o, "{l}");
            }
            let _ = o.flush();
            drawn = lines.len();
        } else if output == Output::Human {
            for e in &view.new_events {
                out(&format!(
                    "{} {:<8} {}",
                    clean(&e.at),
                    e.kind.as_str(),
                    clean(&e.message)
                ));
            }
            if !view.driven && view.operation.operation.active && !warned {
                warned = true;
                out(&format!("  driver: {}", view.driver));
            }
        }
        if let Some(code) = view.exit_code {
            match output {
                Output::Json => print_json(&view),
                Output::Human if !tty => render(&view).iter().for_each(|l| out(l)),
                Output::Human => {}
            }
            return Ok(code);
        }
        tokio::time::sleep(POLL).await;
        view = look(backend, bot, Some(&pinned), Some(&view)).await?;
    }
}

/// Run one operator verb; the exit code.
pub async fn run(global: &Global, rt: &Runtime, command: Command) -> Result<u8, CliError> {
    let backend = rt.backend.as_ref();
    let (bot, verb, reason) = match command {
        Command::Get(a) => {
            let swept = if rt.profile.read_only {
                Vec::new()
            } else {
                crate::engine::control::sweep_orphans(&rt.engine, Some(&a.bot), "relcon get")
                    .await
                    .into_iter()
                    .map(|s| format!("canary {}: {}", s.operation_id, s.reason))
                    .collect()
            };
            return get_swept(backend, &a.bot, a.watch, global.output, swept)
                .await
                .map_err(|e| CliError {
                    code: e.code,
                    message: clean(&e.message),
                });
        }
        Command::Promote(a) => (
            a.bot,
            if a.full {
                Verb::PromoteFull
            } else {
                Verb::Promote
            },
            a.reason,
        ),
        Command::Pause(a) => (a.bot, Verb::Pause, a.reason),
        Command::Resume(a) => (
            a.target
                .ok_or_else(|| failed("resume needs a bot or an operation"))?,
            Verb::Resume,
            a.reason,
        ),
        Command::Abort(a) => (a.bot, Verb::Abort, a.reason),
        Command::Retry(a) => (a.bot, Verb::Retry, a.reason),
        _ => return Err(failed("not an operator verb")),
    };
    if rt.profile.read_only {
        return Err(refused(format!(
            "profile {} is read-only: refusing to {} {bot}",
            rt.profile.name,
            verb.as_str()
        )));
    }
    // Every message carries server strings (ids, states): cleaned before a terminal sees it.
    let sent = send(
        backend,
        &bot,
        verb,
        &rt.engine.operator,
        reason.as_deref(),
        ANSWER_DEADLINE,
    )
    .await
    .map_err(|e| CliError {
        code: e.code,
        message: clean(&e.message),
    })?;
    match global.output {
        Output::Json => print_json(&sent),
        Output::Human => {
            let mark = if sent.exit_code == exit::OK {
                "✔"
            } else {
                "✖"
            };
            out(&format!(
                "{mark} {} {}: {} by the driver, {} — {}",
                sent.verb,
                clean(&sent.operation_id),
                sent.command.state.as_str(),
                sent.driver,
                sent.command
                    .detail
                    .as_deref()
                    .map(clean)
                    .unwrap_or_default()
            ));
        }
    }
    Ok(sent.exit_code)
}

/// The verbs' JSON shape of an error, for tests and scripts.
pub fn error_json(e: &CliError) -> Value {
    json!({"exitCode": e.code, "summary": e.message})
}

//! Driving one workflow from the command line: the progress printer (a spinner on a
//! terminal, lines otherwise, on stderr), the run to its end with Ctrl-C asking the
//! workflow to stop safely, the result on stdout, and the exit code an outcome maps to.
//! Shared by the headless commands, the operator verbs and re-attachment.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use tokio::sync::mpsc;

use crate::cli::{Output, RollbackArgs};
use crate::config;
use crate::domain::Stage;
use crate::engine::events::{EventKind, OpCommand, Outcome, ProgressEvent};
use crate::engine::{Report, rollback};
use crate::exit;
use crate::runtime::Runtime;
use crate::sanitize::clean;

pub fn exit_code(o: Outcome) -> u8 {
    match o {
        Outcome::Succeeded => exit::OK,
        Outcome::RolledBack => exit::ROLLED_BACK,
        Outcome::Refused => exit::REFUSED,
        Outcome::Failed => exit::FAILED,
        Outcome::Cancelled => exit::CANCELLED,
        Outcome::TimedOut => exit::TIMED_OUT,
        Outcome::Paused => exit::PAUSED,
    }
}

/// An error before any workflow ran, with its exit code.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    pub(crate) fn config(message: impl Into<String>) -> CliError {
        CliError {
            code: exit::CONFIG,
            message: message.into(),
        }
    }
    pub(crate) fn refused(message: impl Into<String>) -> CliError {
        CliError {
            code: exit::REFUSED,
            message: message.into(),
        }
    }
}

/// Prints progress events on stderr.
struct Printer {
    bar: Option<ProgressBar>,
    json: bool,
    /// The step and verdict of the last canary look printed.
    last_look: std::cell::Cell<Option<(usize, crate::engine::events::Verdict)>>,
}

impl Printer {
    fn new(output: Output) -> Printer {
        let tty = std::io::stderr().is_terminal();
        let bar = (tty && output == Output::Human).then(|| {
            let b = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{elapsed}]") {
                b.set_style(style);
            }
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        Printer {
            bar,
            json: output == Output::Json,
            last_look: std::cell::Cell::new(None),
        }
    }

    fn line(&self, text: String) {
        match &self.bar {
            Some(b) => b.println(text),
            None => eprintln!("{text}"),
        }
    }

    fn event(&self, e: &ProgressEvent) {
        let at = e.at.format("%H:%M:%S");
        match &e.kind {
            EventKind::Started { title, .. } => self.line(format!("{at} ▶ {}", clean(title))),
            EventKind::StepStarted { step } => {
                if let Some(b) = &self.bar {
                    b.set_message(step.clone());
                } else if !self.json {
                    eprintln!("{at} ◌ {step}");
                }
            }
            EventKind::StepFinished { step, detail } => self.line(format!(
                "{at} ✔ {step}{}",
                detail
                    .as_ref()
                    .map(|d| format!(" — {}", clean(d)))
                    .unwrap_or_default()
            )),
            EventKind::StepFailed { step, reason } => {
                self.line(format!("{at} ✖ {step} — {}", clean(reason)))
            }
            EventKind::Detail { message } => self.line(format!("{at}   {}", clean(message))),
            EventKind::Waiting { what, wait } => {
                if let Some(b) = &self.bar {
                    b.set_message(format!("{what} in {}s", wait.as_secs()));
                }
            }
            EventKind::Canary(s) => {
                let line = format!(
                    "step {}/{} at {}%, held {:.0}s: canary {} · baseline {} conversations since the start ({} · {} in this step): {:?}",
                    s.step,
                    s.steps_total,
                    s.weight_set,
                    s.held_seconds,
                    s.canary.conversation_count,
                    s.baseline.conversation_count,
                    s.step_canary,
                    s.step_baseline,
                    s.verdict
                )
                .to_lowercase();
                if let Some(b) = &self.bar {
                    b.set_message(line);
                } else {
                    // Without a terminal, a line when the verdict or the step changes.
                    let key = (s.step, s.verdict);
                    if self.last_look.replace(Some(key)) != Some(key) {
                        self.line(format!("{at}   {line}"));
                    }
                }
            }
            EventKind::CanaryDecision(d) => self.line(format!(
                "{at} ◆ step {} ({}%): {} — {}",
                d.step,
                d.weight,
                d.action,
                clean(&d.reason)
            )),
            EventKind::Linked { .. } => {}
            EventKind::Paused => self.line(format!("{at} ॥ paused")),
            EventKind::Resumed => self.line(format!("{at} ▶ resumed")),
            EventKind::Finished { .. } => {
                if let Some(b) = &self.bar {
                    b.finish_and_clear();
                }
            }
        }
    }
}

/// Run a workflow to its end, printing progress; Ctrl-C aborts it (and it restores what it
/// changed), a second Ctrl-C stops waiting.
pub(crate) async fn drive<F, Fut>(
    rt: &Runtime,
    output: Output,
    workflow: crate::engine::events::WorkflowKind,
    bot: Option<String>,
    run: F,
) -> Report
where
    F: FnOnce(crate::engine::Ctx) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Report> + Send + 'static,
{
    // Driven on the server: a lease, commands from other relcons, events for followers.
    let settings = crate::engine::control::DriverSettings::for_engine(&rt.engine);
    drive_with(rt, output, workflow, bot, settings, run).await
}

/// [`drive`] with given driver settings (an adoption's lease key).
pub(crate) async fn drive_with<F, Fut>(
    rt: &Runtime,
    output: Output,
    workflow: crate::engine::events::WorkflowKind,
    bot: Option<String>,
    settings: crate::engine::control::DriverSettings,
    run: F,
) -> Report
where
    F: FnOnce(crate::engine::Ctx) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Report> + Send + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut handle =
        crate::engine::control::spawn_driven(&rt.engine, settings, workflow, bot, tx, run);
    let printer = Printer::new(output);
    let mut interrupts = 0;
    // One listener for the whole run: a `ctrl_c()` made afresh in each turn of the loop
    // below would miss a Ctrl-C that arrives while progress events are being printed.
    let (sigint_tx, mut sigint) = mpsc::unbounded_channel::<()>();
    let listener = tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            if sigint_tx.send(()).is_err() {
                break;
            }
        }
    });
    let report = loop {
        tokio::select! {
            Some(e) = rx.recv() => printer.event(&e),
            r = &mut handle.join => break r,
            Some(()) = sigint.recv() => {
                interrupts += 1;
                if interrupts == 1 {
                    printer.line("interrupted: aborting and restoring the previous state (Ctrl-C again to stop waiting)".into());
                    let _ = handle.commands.send(OpCommand::Abort);
                } else {
                    handle.cancel.cancel();
                }
            }
        }
    };
    listener.abort();
    while let Ok(e) = rx.try_recv() {
        printer.event(&e);
    }
    match report {
        Ok(r) => r,
        Err(e) => Report {
            op: handle.id,
            workflow,
            outcome: Outcome::Failed,
            summary: format!("the workflow stopped unexpectedly: {e}"),
            details: json!({}),
        },
    }
}

pub(crate) fn print_report(output: Output, r: &Report) -> u8 {
    let code = match r.details.get("errorKind").and_then(|v| v.as_str()) {
        Some("auth") => exit::CONFIG,
        Some("not_found") => exit::NOT_FOUND,
        _ => exit_code(r.outcome),
    };
    match output {
        Output::Json => {
            let v = json!({
                "workflow": r.workflow,
                "outcome": r.outcome,
                "exitCode": code,
                "summary": r.summary,
                "details": r.details,
            });
            out!("{}", crate::sanitize::json_pretty(&v).unwrap_or_default());
        }
        Output::Human => {
            let mark = match r.outcome {
                Outcome::Succeeded => "✔",
                Outcome::RolledBack => "↺",
                _ => "✖",
            };
            out!("{mark} {}: {}", r.outcome.as_str(), clean(&r.summary));
        }
    }
    code
}

pub(crate) fn parse_duration(flag: &str, text: &str) -> Result<Duration, CliError> {
    config::parse_duration(text).map_err(|e| CliError::refused(format!("{flag}: {e}")))
}

pub(crate) fn rollback_plan(
    rt: &Runtime,
    a: &RollbackArgs,
) -> Result<rollback::RollbackPlan, CliError> {
    let s = &rt.profile.rollback;
    let environment = match s.environment.to_uppercase().as_str() {
        "STAGING" => Stage::Staging,
        _ => Stage::Production,
    };
    Ok(rollback::RollbackPlan {
        bot: a.bot.clone(),
        target: a.to.clone(),
        environment,
        max_active_sessions: a.max_active_sessions.unwrap_or(s.max_active_sessions),
        wait_drain: match &a.wait_drain {
            Some(w) => parse_duration("--wait-drain", w)?,
            None => s.wait_drain,
        },
        fallback: a.fallback.clone().or_else(|| s.fallback_version.clone()),
        test_message: s.test_message.clone(),
        expected_intent: s.expected_intent.clone(),
        min_confidence: s.min_confidence,
        timeout: Duration::from_secs(600),
    })
}

/// A backend error before or outside a workflow, with the exit code it stands for.
pub(crate) fn backend_error(e: crate::backend::BackendError) -> CliError {
    let code = match e {
        crate::backend::BackendError::Unauthorized { .. }
        | crate::backend::BackendError::Forbidden { .. }
        | crate::backend::BackendError::Config { .. } => exit::CONFIG,
        crate::backend::BackendError::Timeout { .. } => exit::TIMED_OUT,
        crate::backend::BackendError::NotFound { .. } => exit::NOT_FOUND,
        crate::backend::BackendError::Unsupported { .. } => exit::REFUSED,
        _ => exit::FAILED,
    };
    CliError {
        code,
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_map_to_the_documented_exit_codes() {
        assert_eq!(exit_code(Outcome::Succeeded), 0);
        assert_eq!(exit_code(Outcome::Failed), 1);
        assert_eq!(exit_code(Outcome::RolledBack), 2);
        assert_eq!(exit_code(Outcome::Refused), 3);
        assert_eq!(exit_code(Outcome::TimedOut), 5);
        assert_eq!(exit_code(Outcome::Cancelled), 6);
    }
}

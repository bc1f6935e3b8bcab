//! The operator's actions: each one checks what it can, shows what will happen, and only
//! a confirmation turns it into an `Effect`. Read-only profiles refuse them all, visibly;
//! production profiles confirm by typing the bot's (or environment's) name.

use std::path::PathBuf;

use crate::domain::{Stage, VersionStatus};
use crate::engine::events::{OpCommand, WorkflowKind};

use super::app::{App, CanaryTarget, Overlay};
use super::facts::{live_and_idle, main_stage};
use super::format;
use super::keymap::{Command, Scope};
use super::layout::PaneId;
use super::messages::Effect;
use super::model::DeployItem;
use super::plan;
use super::state::OpRun;
use super::theme::{Theme, Tone};
use super::widgets::confirm::{ConfirmKind, ConfirmState};
use super::widgets::help::HelpSection;
use super::widgets::palette::{COMMANDS, find_command};
use super::widgets::picker::{LiveNow, PickerState};

fn stage_name(s: Stage) -> &'static str {
    match s {
        Stage::Production => "production",
        Stage::Staging => "staging",
    }
}

impl App {
    fn push_confirm(&mut self, confirm: ConfirmState, typed_name: Option<&str>) {
        let confirm = match (self.production, typed_name) {
            (true, Some(name)) => confirm.typed(name),
            _ => confirm,
        };
        self.overlays.push(Overlay::Confirm(Box::new(confirm)));
    }

    /// The version an action applies to: `id` if given, else the selected one. Explains
    /// itself with a toast when there is none.
    fn pick_version(&mut self, id: Option<&str>, verb: &str) -> Option<crate::domain::Version> {
        let Some(bot) = self.selected_bot_summary() else {
            self.toast(Tone::Warn, "Select a bot first.".to_string());
            return None;
        };
        let name = bot.name.clone();
        if self.current_versions().is_empty() {
            self.toast(
                Tone::Muted,
                format!("The versions of {name} are still loading."),
            );
            return None;
        }
        if id.is_none()
            && self.focus != PaneId::Bots
            && self.selected_version().is_none()
            && !self.panes.versions.list.view.filter.is_empty()
        {
            self.toast(
                Tone::Muted,
                format!(
                    "No version of {name} matches the filter {:?} (esc clears it).",
                    self.panes.versions.list.view.filter
                ),
            );
            return None;
        }
        let found = match id {
            Some(id) => self
                .current_versions()
                .iter()
                .find(|v| v.id == id || v.label == id),
            None if self.focus == PaneId::Bots => {
                self.focus = PaneId::Versions;
                self.toast(
                    Tone::Muted,
                    format!("Choose the version to {verb}, then press the key again."),
                );
                return None;
            }
            None => self.selected_version(),
        };
        let Some(v) = found.cloned() else {
            self.toast(
                Tone::Warn,
                format!("{name} has no version {:?}.", id.unwrap_or("")),
            );
            return None;
        };
        if v.status != VersionStatus::Published {
            self.toast(
                Tone::Warn,
                format!(
                    "{} is {}: only PUBLISHED versions can be {verb}ed.",
                    v.id,
                    v.status.as_str()
                ),
            );
            return None;
        }
        Some(v)
    }

    pub(crate) fn start_deploy(&mut self, version: Option<&str>, _out: &mut Vec<Effect>) {
        let Some(v) = self.pick_version(version, "deploy") else {
            return;
        };
        let Some(bot) = self.selected_bot_summary().cloned() else {
            return;
        };
        let (live, idle) = live_and_idle(&bot, v.environment);
        let Some(live) = live else {
            self.toast(
                Tone::Warn,
                format!(
                    "{} has no {} environment to deploy {} to.",
                    bot.name,
                    stage_name(v.environment),
                    v.id
                ),
            );
            return;
        };
        if live.live_version.as_deref() == Some(v.id.as_str()) && live.traffic_weight > 0.0 {
            self.toast(
                Tone::Warn,
                format!("{} is already live in {}.", v.id, live.name),
            );
            return;
        }
        let target = idle.first().copied().unwrap_or(live);
        // The colour, unless the environment's name already says it ("Production (green)").
        let colour = |e: &crate::domain::BotEnvironment| {
            e.colour
                .as_deref()
                .filter(|c| !e.name.to_lowercase().contains(&c.to_lowercase()))
                .map(|c| format!(" ({c})"))
                .unwrap_or_default()
        };
        let now_there = |e: &crate::domain::BotEnvironment| {
            e.live_version
                .clone()
                .unwrap_or_else(|| "nothing".to_string())
        };
        let mut lines = vec![(
            Tone::Normal,
            format!(
                "{} {} → {} ({})",
                bot.name,
                v.id,
                stage_name(v.environment),
                v.label
            ),
        )];
        if target.environment_id != live.environment_id {
            lines.push((Tone::Normal, String::new()));
            if target.live_version.as_deref() == Some(v.id.as_str()) {
                lines.push((
                    Tone::Normal,
                    format!(
                        "1. {}{} is idle and has {} already: check it",
                        target.name,
                        colour(target),
                        v.id
                    ),
                ));
            } else if self.repoints {
                lines.push((
                    Tone::Normal,
                    format!(
                        "1. point {} at {} (idle now, serves {})",
                        format::env_label(target),
                        v.label,
                        format::short_id(&now_there(target))
                    ),
                ));
            } else {
                lines.push((
                    Tone::Normal,
                    format!(
                        "1. install on {}{}, idle now, has {}",
                        target.name,
                        colour(target),
                        now_there(target)
                    ),
                ));
            }
            if self.repoints {
                // Traffic follows channels here: the switch re-points the endpoints that
                // carry it, which keep their share.
                lines.push((
                    Tone::Normal,
                    "2. talk to it (a synthetic conversation), then re-point the endpoints carrying traffic:".to_string(),
                ));
                for e in bot
                    .environments
                    .iter()
                    .filter(|e| e.stage == v.environment && e.traffic_weight > 0.0)
                {
                    lines.push((
                        Tone::Accent,
                        format!(
                            "   {:<16} {:>5} keeps its traffic: {} → {}",
                            format::env_label(e),
                            format::weight(e.traffic_weight),
                            format::short_id(&now_there(e)),
                            v.label
                        ),
                    ));
                }
                lines.push((
                    Tone::Muted,
                    format!(
                        "Roll back to {} by re-pointing them again (r).",
                        format::short_id(&now_there(live))
                    ),
                ));
            } else {
                lines.push((
                    Tone::Normal,
                    "2. validate, then switch traffic:".to_string(),
                ));
                lines.push((
                    Tone::Accent,
                    format!(
                        "   {:<16} {:>5} → 0%     ({} stops serving)",
                        live.name,
                        format::weight(live.traffic_weight),
                        now_there(live)
                    ),
                ));
                lines.push((
                    Tone::Accent,
                    format!(
                        "   {:<16} {:>5} → 100%   ({} serves)",
                        target.name,
                        format::weight(target.traffic_weight),
                        v.id
                    ),
                ));
                lines.push((
                    Tone::Muted,
                    format!("{} keeps {} as the way back.", live.name, now_there(live)),
                ));
            }
        } else {
            lines.push((
                Tone::Warn,
                format!(
                    "No idle colour: {} replaces {} in {} in place; sessions move at once.",
                    v.id,
                    now_there(live),
                    live.name
                ),
            ));
        }
        if bot.active_sessions > 0 {
            lines.push((
                Tone::Muted,
                format!(
                    "{} active sessions finish on the version they started on.",
                    bot.active_sessions
                ),
            ));
        }
        let effect = Effect::StartDeploy {
            bot: bot.id.clone(),
            version: v.id.clone(),
            env: target.environment_id.clone(),
        };
        let confirm = ConfirmState::new(
            format!("Deploy {} {}", bot.name, v.id),
            lines,
            ConfirmKind::Effects(vec![effect]),
        );
        self.push_confirm(confirm, Some(&bot.name));
    }

    pub(crate) fn start_canary(&mut self, version: Option<&str>) {
        let Some(v) = self.pick_version(version, "canary") else {
            return;
        };
        let Some(bot) = self.selected_bot_summary().cloned() else {
            return;
        };
        let (live, _) = live_and_idle(&bot, v.environment);
        let Some(live) = live else {
            self.toast(
                Tone::Warn,
                format!(
                    "{} has no {} environment.",
                    bot.name,
                    stage_name(v.environment)
                ),
            );
            return;
        };
        if live.live_version.as_deref() == Some(v.id.as_str()) {
            self.toast(
                Tone::Warn,
                format!(
                    "{} already serves {}; a canary needs another version.",
                    live.name, v.id
                ),
            );
            return;
        }
        if self
            .runs
            .iter()
            .any(|r| r.is_active() && r.is_canary() && r.bot.as_deref() == Some(bot.id.as_str()))
        {
            self.toast(
                Tone::Warn,
                format!("{} already has a canary running.", bot.name),
            );
            return;
        }
        let target = CanaryTarget {
            bot_id: bot.id.clone(),
            bot_name: bot.name.clone(),
            version: v.id.clone(),
            env: live.environment_id.clone(),
        };
        let intro = vec![(
            Tone::Normal,
            if self.repoints {
                format!(
                    "{} {} on a growing set of the channels carrying traffic (smallest first), against {} (baseline)",
                    bot.name,
                    v.label,
                    format::short_id(live.live_version.as_deref().unwrap_or("—"))
                )
            } else {
                format!(
                    "{} {} in {} against {} (baseline)",
                    bot.name,
                    v.id,
                    live.name,
                    live.live_version.as_deref().unwrap_or("—")
                )
            },
        )];
        let envs: Vec<String> = bot
            .environments
            .iter()
            .map(|e| e.environment_id.clone())
            .collect();
        let form = plan::canary_form(intro, &self.canary_defaults, &live.environment_id, &envs);
        self.overlays
            .push(Overlay::CanaryForm(Box::new(form), target));
    }

    pub(crate) fn submit_canary(
        &mut self,
        mut form: Box<super::widgets::form::FormState>,
        target: CanaryTarget,
    ) {
        let envs: Vec<String> = self
            .bots
            .iter()
            .filter(|b| b.id == target.bot_id)
            .flat_map(|b| b.environments.iter().map(|e| e.environment_id.clone()))
            .collect();
        match plan::parse_canary(&mut form, &target, &envs) {
            None => self.overlays.push(Overlay::CanaryForm(form, target)),
            Some(req) => {
                let target = CanaryTarget {
                    env: req.env.clone(),
                    ..target
                };
                let steps: Vec<String> = req.steps.iter().map(|s| format::weight(*s)).collect();
                let lines = vec![
                    (
                        Tone::Normal,
                        if self.repoints {
                            format!(
                                "{} {} on the channels carrying traffic, smallest first (each step re-points whole endpoints)",
                                target.bot_name,
                                format::short_id(&target.version)
                            )
                        } else {
                            format!("{} {} in {}", target.bot_name, target.version, target.env)
                        },
                    ),
                    (
                        Tone::Accent,
                        format!("traffic steps: {}", steps.join(" → ")),
                    ),
                    (
                        Tone::Normal,
                        format!(
                            "each step holds {} to {}, advancing once every metric passes",
                            format::duration(req.interval.as_secs() as i64),
                            format::duration(req.max_hold.as_secs() as i64)
                        ),
                    ),
                    (
                        Tone::Normal,
                        "rolls back when a metric is credibly worse than the baseline by more than its tolerance"
                            .to_string(),
                    ),
                    (
                        Tone::Normal,
                        format!(
                            "or past a guardrail (errors {}, latency {}ms, satisfaction {:.2}); never for lack of data",
                            format::rate(req.thresholds.error_rate),
                            req.thresholds.max_latency_ms,
                            req.thresholds.satisfaction_score
                        ),
                    ),
                ];
                let confirm = ConfirmState::new(
                    format!("Start canary of {}", target.version),
                    lines,
                    ConfirmKind::Effects(vec![Effect::StartCanary(req)]),
                );
                let name = target.bot_name.clone();
                self.push_confirm(confirm, Some(&name));
            }
        }
    }

    pub(crate) fn start_rollback(&mut self, _out: &mut Vec<Effect>) {
        let Some(bot) = self.selected_bot_summary().cloned() else {
            self.toast(Tone::Warn, "Select a bot first.".to_string());
            return;
        };
        if self.current_versions().is_empty() {
            self.toast(
                Tone::Muted,
                format!("The versions of {} are still loading.", bot.name),
            );
            return;
        }
        let stage = main_stage(&bot);
        let (live, _) = live_and_idle(&bot, stage);
        let live_id = live.and_then(|l| l.live_version.clone());
        let versions = self.current_versions();
        let candidates: Vec<_> = versions
            .iter()
            .filter(|v| {
                v.status == VersionStatus::Published
                    && v.environment == stage
                    && Some(v.id.as_str()) != live_id.as_deref()
            })
            .cloned()
            .collect();
        // Start on the last known good version, else the one before the live version.
        let good = super::facts::last_known_good(Some(&bot), versions);
        let live_created = live_id
            .as_deref()
            .and_then(|id| versions.iter().find(|v| v.id == id))
            .map(|v| v.created_at.clone());
        let selected = good
            .and_then(|g| candidates.iter().position(|v| v.id == g))
            .or_else(|| {
                let live_created = live_created.as_deref()?;
                candidates
                    .iter()
                    .position(|v| v.created_at.as_str() < live_created)
            })
            .unwrap_or(0);
        let picker = PickerState {
            bot_id: bot.id.clone(),
            bot_name: bot.name.clone(),
            live: live.map(|l| LiveNow {
                env_id: l.environment_id.clone(),
                env_name: l.name.clone(),
                version: live_id
                    .as_deref()
                    .and_then(|id| versions.iter().find(|v| v.id == id))
                    .cloned(),
                version_id: live_id.clone(),
            }),
            candidates,
            selected,
            active_sessions: bot.active_sessions,
            max_active_sessions: self.rollback_max_sessions,
            typing: false,
        };
        self.overlays
            .push(Overlay::RollbackPicker(Box::new(picker)));
    }

    pub(crate) fn confirm_rollback(&mut self, picker: PickerState) {
        let Some(v) = picker.chosen().cloned() else {
            return;
        };
        let mut lines = vec![(
            Tone::Normal,
            format!("Roll {} back to {} ({})", picker.bot_name, v.id, v.label),
        )];
        lines.extend(picker.impact());
        let effect = Effect::StartRollback {
            bot: picker.bot_id.clone(),
            version: v.id.clone(),
            max_active_sessions: picker.max_active_sessions,
        };
        let confirm = ConfirmState::new(
            format!("Roll back {}", picker.bot_name),
            lines,
            ConfirmKind::Effects(vec![effect]),
        )
        .danger();
        self.push_confirm(confirm, Some(&picker.bot_name));
    }

    /// The workflow that promote/pause/abort apply to, or why there is none.
    pub(crate) fn target_run(&self) -> Result<usize, String> {
        let active = |i: usize| self.runs.get(i).is_some_and(OpRun::is_active);
        match self.focus {
            PaneId::Deployments => match self
                .deploy_items()
                .get(self.panes.deployments.list.pos.selected)
            {
                Some(DeployItem::Run(i)) if active(*i) => return Ok(*i),
                Some(DeployItem::Run(i)) => {
                    let r = &self.runs[*i];
                    return Err(format!("{} has finished ({}).", r.title, r.state_text()));
                }
                Some(DeployItem::Server(i)) => {
                    let id = self.operations.get(*i).map(|o| o.id.as_str()).unwrap_or("");
                    return Err(format!(
                        "{id} was started elsewhere; relcon can only steer workflows it runs."
                    ));
                }
                None => {}
            },
            PaneId::Canary => {
                if let Some(run) = self.canary_view().and_then(|v| v.run)
                    && let Some(i) = self.runs.iter().position(|r| r.id == run.id)
                    && active(i)
                {
                    return Ok(i);
                }
            }
            _ => {}
        }
        let bot = self.selected_bot.as_deref();
        let mine: Vec<usize> = (0..self.runs.len())
            .filter(|&i| active(i) && (bot.is_none() || self.runs[i].bot.as_deref() == bot))
            .collect();
        if let Some(&i) = mine.last() {
            return Ok(i);
        }
        let all: Vec<usize> = (0..self.runs.len()).filter(|&i| active(i)).collect();
        match all.as_slice() {
            [i] => Ok(*i),
            [] => Err("No operation is running in this console.".to_string()),
            _ => Err("Several operations are running: select one in Deployments.".to_string()),
        }
    }

    fn with_target(&mut self) -> Option<usize> {
        match self.target_run() {
            Ok(i) => Some(i),
            Err(msg) => {
                self.toast(Tone::Warn, msg);
                None
            }
        }
    }

    pub(crate) fn promote(&mut self, full: bool) {
        let Some(i) = self.with_target() else {
            return;
        };
        let run = self.runs[i].clone();
        if !run.is_canary() {
            self.toast(
                Tone::Warn,
                format!(
                    "Promote applies to canaries; {} is a {}.",
                    run.title,
                    run.kind_name()
                ),
            );
            return;
        }
        let canary = self
            .canaries
            .iter()
            .find(|c| Some(c.bot_id.as_str()) == run.bot.as_deref() && c.state.is_active());
        let where_ = run
            .sample
            .as_ref()
            .map(|s| {
                format!(
                    "step {}/{} at {}",
                    s.step,
                    s.steps_total,
                    format::weight(s.weight_set)
                )
            })
            .unwrap_or_else(|| "its current step".to_string());
        let bot_name = run
            .bot
            .as_deref()
            .and_then(|b| self.bot(b))
            .map(|b| b.name.clone())
            .unwrap_or_else(|| run.bot.clone().unwrap_or_default());
        let (title, lines, cmd, typed) = if full {
            let stable = canary
                .map(|c| c.stable_version.clone())
                .unwrap_or_else(|| "the stable version".into());
            let version = canary
                .map(|c| c.version.clone())
                .unwrap_or_else(|| "the canary".into());
            (
                format!("Promote {} fully", run.title),
                vec![
                    (
                        Tone::Warn,
                        format!("Send 100% of traffic to {version} now, from {where_}."),
                    ),
                    (
                        Tone::Warn,
                        "The remaining steps and their checks are skipped.".to_string(),
                    ),
                    (Tone::Normal, format!("{stable} stops serving.")),
                ],
                OpCommand::PromoteFull,
                true,
            )
        } else {
            (
                format!("Promote {} one step", run.title),
                vec![(
                    Tone::Normal,
                    format!(
                        "Move on from {where_} to the next step now, without waiting for the next decision."
                    ),
                )],
                OpCommand::PromoteStep,
                false,
            )
        };
        let mut confirm = ConfirmState::new(
            title,
            lines,
            ConfirmKind::Effects(vec![Effect::Command { op: run.id, cmd }]),
        );
        if full {
            confirm = confirm.danger();
        }
        self.push_confirm(confirm, typed.then_some(bot_name.as_str()));
    }

    /// Pause at once (stopping is always safe); resuming asks first.
    pub(crate) fn pause_resume(&mut self, want_pause: Option<bool>, out: &mut Vec<Effect>) {
        let Some(i) = self.with_target() else {
            return;
        };
        let run = &self.runs[i];
        let paused = run.paused_at.is_some();
        let pause = want_pause.unwrap_or(!paused);
        let (id, title) = (run.id, run.title.clone());
        if pause {
            if paused {
                self.toast(Tone::Muted, format!("{title} is already paused."));
                return;
            }
            out.push(Effect::Command {
                op: id,
                cmd: OpCommand::Pause,
            });
            self.toast(Tone::Muted, format!("Pausing {title}…"));
        } else {
            if !paused {
                self.toast(Tone::Muted, format!("{title} is not paused."));
                return;
            }
            let what = if super::panes::canary::paused_for_decision(run) {
                "The canary holds its step again with a fresh budget (extend); it is judged \
                 again after the step interval."
            } else {
                "The workflow carries on from where it paused."
            };
            let confirm = ConfirmState::new(
                format!("Resume {title}"),
                vec![(Tone::Normal, what.to_string())],
                ConfirmKind::Effects(vec![Effect::Command {
                    op: id,
                    cmd: OpCommand::Resume,
                }]),
            );
            self.push_confirm(confirm, None);
        }
    }

    pub(crate) fn abort(&mut self) {
        let Some(i) = self.with_target() else {
            return;
        };
        let run = self.runs[i].clone();
        // Said as the quit dialog says it: "It rolls back: traffic returns to v7 (100%)."
        let restore = format!("It {}.", self.stop_effect(&run));
        let confirm = ConfirmState::new(
            format!("Abort {}", run.title),
            vec![
                (
                    Tone::Warn,
                    format!("Stop {} ({}).", run.title, run.state_text()),
                ),
                (Tone::Normal, restore),
            ],
            ConfirmKind::Effects(vec![Effect::Command {
                op: run.id,
                cmd: OpCommand::Abort,
            }]),
        )
        .danger();
        self.push_confirm(confirm, None);
    }

    /// What aborting `run` does, in one sentence (the abort and quit dialogs say it).
    pub(crate) fn stop_effect(&self, run: &OpRun) -> String {
        match run.workflow {
            Some(WorkflowKind::Canary) => {
                let stable = self
                    .canaries
                    .iter()
                    .find(|c| Some(c.bot_id.as_str()) == run.bot.as_deref() && c.state.is_active())
                    .map(|c| c.stable_version.clone())
                    .unwrap_or_else(|| "the baseline".to_string());
                format!("rolls back: traffic returns to {stable} (100%)")
            }
            Some(WorkflowKind::Deploy) => {
                "reverts: the previous version and routing come back".to_string()
            }
            Some(WorkflowKind::Rollback) => {
                "stops where it is: a switch already made stays, nothing more changes".to_string()
            }
            _ => "stops and restores the previous state where it can".to_string(),
        }
    }

    /// The `relcon` that follows `run` (or picks it up) from a shell.
    fn pick_up_commands(&self, run: &OpRun) -> String {
        let profile = format!("relcon --profile {}", self.profile);
        match &run.bot {
            Some(bot) => {
                format!("{profile} get {bot} --watch (follow) · {profile} resume (drive)")
            }
            None => format!("{profile} resume (drive)"),
        }
    }

    pub(crate) fn ask_quit(&mut self, out: &mut Vec<Effect>) {
        let running: Vec<OpRun> = self
            .runs
            .iter()
            .filter(|r| r.is_active())
            .cloned()
            .collect();
        if running.is_empty() {
            out.push(Effect::Quit);
            return;
        }
        let mut lines = vec![(
            Tone::Warn,
            format!(
                "{} operation(s) still running in this console:",
                running.len()
            ),
        )];
        for r in &running {
            lines.push((
                Tone::Accent,
                format!("• #{} {} — {}", r.id, r.title, r.state_text()),
            ));
            lines.push((Tone::Normal, format!("    s: {}", self.stop_effect(r))));
        }
        lines.push((Tone::Normal, String::new()));
        lines.push((
            Tone::Normal,
            "l  leave running, quit: the server keeps what they have done so far (a canary \
             keeps its split) but nobody judges or finishes them until a relcon drives them \
             again; on exit relcon prints the commands that pick each one up."
                .to_string(),
        ));
        if self.profile == "demo" {
            lines.push((
                Tone::Warn,
                "   The demo's simulator stops with this console: there is nothing to pick up."
                    .to_string(),
            ));
        }
        lines.push((
            Tone::Normal,
            "s  stop safely, then quit: abort each as listed; relcon quits once all have ended."
                .to_string(),
        ));
        lines.push((Tone::Muted, "esc  stay: nothing changes.".to_string()));
        self.overlays.push(Overlay::Confirm(Box::new(
            ConfirmState::new("Quit relcon?", lines, ConfirmKind::Quit).danger(),
        )));
    }

    /// Quitting and leaving the running operations: what to print once the screen is back.
    pub(crate) fn leave_running(&mut self) {
        let running: Vec<OpRun> = self
            .runs
            .iter()
            .filter(|r| r.is_active())
            .cloned()
            .collect();
        if running.is_empty() {
            return;
        }
        let mut notes = vec![format!(
            "relcon: left {} operation(s) running; nobody drives them until a relcon picks them up:",
            running.len()
        )];
        for r in &running {
            notes.push(format!("  #{} {} ({})", r.id, r.title, r.state_text()));
            notes.push(format!("    {}", self.pick_up_commands(r)));
        }
        if self.profile == "demo" {
            notes.push("  (the demo's simulator stopped with the console)".to_string());
        }
        self.exit_notes = notes;
    }

    pub(crate) fn abort_all_then_quit(&mut self, out: &mut Vec<Effect>) {
        let ids: Vec<u64> = self
            .runs
            .iter()
            .filter(|r| r.is_active())
            .map(|r| r.id)
            .collect();
        if self.read_only {
            // Read-only consoles cannot have started anything, but never send a change.
            out.push(Effect::Quit);
            return;
        }
        for op in &ids {
            out.push(Effect::Command {
                op: *op,
                cmd: OpCommand::Abort,
            });
        }
        self.quit_when_idle = true;
        self.toast(
            Tone::Warn,
            format!(
                "Aborting {} operation(s); relcon quits when they have finished.",
                ids.len()
            ),
        );
    }

    pub(crate) fn run_palette(&mut self, line: &str, out: &mut Vec<Effect>) {
        let line = line.trim();
        if line.is_empty() {
            return;
        }
        let mut words = line.split_whitespace();
        let word = words.next().unwrap_or("");
        let args: Vec<&str> = words.collect();
        let Some(cmd) = find_command(word) else {
            self.toast(Tone::Warn, format!("Unknown command {word:?}: try :help."));
            return;
        };
        let arg = args.first().copied();
        let mutating = matches!(
            cmd.name,
            "deploy"
                | "canary"
                | "rollback"
                | "promote"
                | "promote-full"
                | "pause"
                | "resume"
                | "abort"
                | "flows-deploy"
                | "env-deploy"
        );
        if mutating && self.read_only {
            self.refuse_read_only(cmd.name);
            return;
        }
        match cmd.name {
            "deploy" => self.start_deploy(arg, out),
            "canary" => self.start_canary(arg),
            "rollback" => self.command(Command::Rollback, out),
            "promote" => self.command(Command::PromoteStep, out),
            "promote-full" => self.command(Command::PromoteFull, out),
            "pause" => self.pause_resume(Some(true), out),
            "resume" => self.pause_resume(Some(false), out),
            "abort" => self.command(Command::Abort, out),
            "flows-deploy" | "env-deploy" => self.env_action(cmd.name, &args),
            "refresh" => self.command(Command::Refresh, out),
            "help" => self.command(Command::Help, out),
            "quit" => self.command(Command::Quit, out),
            "bot" => {
                let want = args.join(" ");
                let id = self
                    .bots
                    .iter()
                    .find(|b| b.name == want || b.id == want)
                    .map(|b| b.id.clone());
                match id {
                    Some(id) => {
                        self.select_bot(&id);
                        self.focus = PaneId::Bots;
                    }
                    None => self.toast(Tone::Warn, format!("No bot called {want:?}.")),
                }
            }
            "filter" => {
                self.focus = PaneId::Bots;
                self.set_filter(PaneId::Bots, args.join(" "));
            }
            "pane" => match arg.and_then(PaneId::from_name) {
                Some(p) => self.focus = p,
                None => self.toast(
                    Tone::Warn,
                    "Panes: bots, versions, deployments, canary, timeline.".to_string(),
                ),
            },
            "theme" => {
                let name = arg.unwrap_or("");
                if !Theme::NAMES.contains(&name) {
                    self.toast(Tone::Warn, "Themes: dark, light, mono.".to_string());
                } else if self.no_color {
                    self.toast(
                        Tone::Muted,
                        "NO_COLOR is set: staying monochrome.".to_string(),
                    );
                } else {
                    self.theme = Theme::named(name, false);
                }
            }
            _ => {}
        }
    }

    fn env_action(&mut self, name: &str, args: &[&str]) {
        let envs = self.completion_data().envs;
        let Some(env) = args.first().map(|e| e.to_string()) else {
            self.toast(
                Tone::Warn,
                format!(
                    "Usage: :{name} <env>{}",
                    if name == "env-deploy" {
                        " <snapshot>"
                    } else {
                        ""
                    }
                ),
            );
            return;
        };
        // The CLI sends any environment id and the server checks it; so does the console.
        // An id no bot here is bound to is said in the dialog, not refused.
        let unbound = !envs.contains(&env);
        let production = self
            .bots
            .iter()
            .flat_map(|b| &b.environments)
            .any(|e| e.environment_id == env && e.stage == Stage::Production);
        let (title, lines, effect) = if name == "flows-deploy" {
            (
                format!("Deploy flows to {env}"),
                vec![(
                    Tone::Normal,
                    format!(
                        "Export, validate and push the flows to {env}; each flow push can be rolled back."
                    ),
                )],
                Effect::StartFlowsDeploy { env: env.clone() },
            )
        } else {
            let Some(path) = args.get(1) else {
                self.toast(
                    Tone::Warn,
                    "Usage: :env-deploy <env> <snapshot>".to_string(),
                );
                return;
            };
            (
                format!("Deploy environment {env}"),
                vec![
                    (
                        Tone::Normal,
                        format!("Validate and deploy the configuration snapshot {path} to {env}."),
                    ),
                    (
                        Tone::Normal,
                        "A synthetic trace and a health check run before it counts as done."
                            .to_string(),
                    ),
                ],
                Effect::StartEnvDeploy {
                    env: env.clone(),
                    snapshot_path: PathBuf::from(path),
                },
            )
        };
        let mut lines = lines;
        if unbound {
            lines.push((
                Tone::Muted,
                format!(
                    "No bot shown here is bound to {env}; the server checks the id (bound: {}).",
                    if envs.is_empty() {
                        "none".to_string()
                    } else {
                        envs.join(", ")
                    }
                ),
            ));
        }
        if production {
            lines.push((Tone::Warn, format!("{env} is a production environment.")));
        }
        let confirm = ConfirmState::new(title, lines, ConfirmKind::Effects(vec![effect]));
        self.push_confirm(confirm, Some(&env));
    }

    /// The keys of the focused pane, then the global ones.
    pub(crate) fn help_sections(&self) -> Vec<HelpSection> {
        let entry = |c: Command| (self.keymap.keys_for(c), c.describe().to_string());
        let pane_cmds: Vec<Command> = Command::ALL
            .into_iter()
            .filter(|c| match (c.scope(), self.focus) {
                (Scope::Global, _) => false,
                (Scope::Bots, PaneId::Bots | PaneId::Versions) => true,
                (Scope::Versions, PaneId::Versions | PaneId::Bots) => true,
                (Scope::Running, PaneId::Deployments | PaneId::Canary) => true,
                _ => false,
            })
            .collect();
        let mut pane = HelpSection {
            title: format!("{} pane", self.focus.title()),
            entries: pane_cmds.into_iter().map(entry).collect(),
        };
        pane.entries
            .extend(self.panes.get(self.focus).help(&self.keymap));
        if self.focus != PaneId::Canary {
            // Sort and filter, the same in every list; the sort keys are the pane's own.
            let lists = Command::ALL
                .into_iter()
                .filter(|c| c.scope() == Scope::Lists)
                .map(entry);
            pane.entries.extend(lists);
            let keys: Vec<&str> = crate::tui::state::sort_keys(self.focus)
                .iter()
                .map(|(k, _)| *k)
                .collect();
            pane.entries.push((
                String::new(),
                format!("sort keys: {} (then as listed)", keys.join(" → ")),
            ));
        }
        if self.read_only {
            pane.entries
                .push(("".into(), "read-only profile: changes are refused".into()));
        }
        let global = HelpSection {
            title: "Everywhere".to_string(),
            entries: Command::ALL
                .into_iter()
                .filter(|c| c.scope() == Scope::Global)
                .map(entry)
                .chain([
                    (
                        "ctrl-c".to_string(),
                        "quit (asks first while operations run)".to_string(),
                    ),
                    (
                        "mouse".to_string(),
                        "click selects, wheel scrolls".to_string(),
                    ),
                ])
                .collect(),
        };
        let palette = HelpSection {
            title: "Command palette (:)".to_string(),
            entries: COMMANDS
                .iter()
                .map(|c| {
                    (
                        format!("{} {}", c.name, c.args).trim().to_string(),
                        c.about.to_string(),
                    )
                })
                .collect(),
        };
        vec![pane, global, palette]
    }

    pub(crate) fn help_footer(&self) -> Vec<String> {
        let mut out = vec![format!(
            "profile {}{}{}",
            self.profile,
            if self.production { " (production)" } else { "" },
            if self.read_only { " (read-only)" } else { "" }
        )];
        if let Some(p) = &self.log_path {
            out.push(format!("log file: {}", p.display()));
        }
        out.push(format!("theme {} · times are UTC", self.theme.name));
        out
    }
}

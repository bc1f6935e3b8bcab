//! Applying what the runtime reports: sanitise every server string, drop stale responses
//! (latest wins), fold progress events into workflow runs, the timeline and toasts.

use crate::domain::{
    BotEnvironment, BotSummary, Canary, MetricsSeries, Operation, Step, StepState, Version,
};
use crate::engine::events::{
    CanaryDecision, CanarySample, EventKind, MetricVerdict, Outcome, ProgressEvent, Verdict,
};
use crate::sanitize::clean;

use super::app::{App, Overlay};
use super::format;
use std::collections::HashMap;

use super::messages::{Effect, RefreshWhat, Seen, TimelineEntry, Update};
use super::state::{OpRun, Waiting};
use super::theme::Tone;

/// How the timeline's entry for a run's end begins (`Outcome::as_str`, spaced).
const ENDING_WORDS: [&str; 7] = [
    "succeeded",
    "rolled back",
    "refused",
    "failed",
    "cancelled",
    "timed out",
    "paused",
];

/// Progress events kept in the timeline of this process.
const LOCAL_TIMELINE_CAP: usize = 2000;

fn clean_opt(s: &mut Option<String>) {
    if let Some(v) = s {
        *v = clean(v);
    }
}

fn clean_step(s: &mut Step) {
    s.name = clean(&s.name);
    clean_opt(&mut s.detail);
}

fn clean_operation(op: &mut Operation) {
    op.id = clean(&op.id);
    op.state = clean(&op.state);
    clean_opt(&mut op.bot_id);
    clean_opt(&mut op.environment_id);
    clean_opt(&mut op.version_id);
    clean_opt(&mut op.error_message);
    op.steps.iter_mut().for_each(clean_step);
}

fn clean_env(e: &mut BotEnvironment) {
    e.environment_id = clean(&e.environment_id);
    e.name = clean(&e.name);
    clean_opt(&mut e.colour);
    clean_opt(&mut e.live_version);
}

fn clean_bot(b: &mut BotSummary) {
    b.id = clean(&b.id);
    b.name = clean(&b.name);
    b.description = clean(&b.description);
    b.environments.iter_mut().for_each(clean_env);
    if let Some(op) = &mut b.active_operation {
        clean_operation(op);
    }
}

fn clean_version(v: &mut Version) {
    v.id = clean(&v.id);
    v.label = clean(&v.label);
    v.nlu_model_id = clean(&v.nlu_model_id);
    v.live_in.iter_mut().for_each(|s| *s = clean(s));
    clean_opt(&mut v.last_canary_verdict);
    for f in &mut v.flow_references {
        f.flow_id = clean(&f.flow_id);
        f.version = clean(&f.version);
    }
}

fn clean_canary(c: &mut Canary) {
    c.id = clean(&c.id);
    c.bot_id = clean(&c.bot_id);
    c.environment_id = clean(&c.environment_id);
    c.version = clean(&c.version);
    c.stable_version = clean(&c.stable_version);
}

fn clean_verdict(v: &mut MetricVerdict) {
    v.metric = clean(&v.metric);
    v.reason = clean(&v.reason);
    if let Some(n) = &mut v.need {
        n.unit = clean(&n.unit);
    }
}

fn clean_sample(s: &mut CanarySample) {
    s.verdicts.iter_mut().for_each(clean_verdict);
    clean_opt(&mut s.window_start);
    clean_opt(&mut s.window_end);
}

fn clean_decision(d: &mut CanaryDecision) {
    d.at = clean(&d.at);
    d.action = clean(&d.action);
    d.reason = clean(&d.reason);
    d.metrics.iter_mut().for_each(clean_verdict);
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Inconclusive => "inconclusive",
    }
}

impl App {
    /// A page of versions into what the console holds of the bot's list. A first page
    /// shorter than a page is the whole list; a list that shrank is read again from its
    /// first page; otherwise the page's versions replace the ones of the same id and new
    /// ones take their place by age (a refresh of the newest page brings new versions in
    /// on top without re-reading the rest).
    fn merge_versions(
        &mut self,
        bot: String,
        page: u32,
        size: u32,
        total: Option<u64>,
        mut versions: Vec<Version>,
    ) {
        let same_bot = self.versions.as_ref().is_some_and(|(b, _)| *b == bot);
        let held = self.versions.as_ref().map_or(0, |(_, v)| v.len());
        let whole = page <= 1 && (versions.len() as u64) < u64::from(size.max(1));
        let shrank = total.is_some_and(|t| t < held as u64);
        if !same_bot || whole || (shrank && page <= 1) {
            versions.sort_by(|a, b| b.created_at.cmp(&a.created_at));
            self.versions = Some((bot, versions));
            self.versions_total = total;
            return;
        }
        let Some((_, list)) = self.versions.as_mut() else {
            return;
        };
        let index: HashMap<&str, usize> = list
            .iter()
            .enumerate()
            .map(|(i, v)| (v.id.as_str(), i))
            .collect();
        let mut updates = Vec::new();
        let mut new = Vec::new();
        for v in versions {
            match index.get(v.id.as_str()) {
                Some(&i) => updates.push((i, v)),
                None => new.push(v),
            }
        }
        for (i, v) in updates {
            list[i] = v;
        }
        if !new.is_empty() {
            list.extend(new);
            list.sort_by(|a, b| b.created_at.cmp(&a.created_at));
        }
        self.versions_total = total.or(self.versions_total);
    }

    /// Where an older version is live comes from the bot's environments: they are read
    /// again often, an older page of versions only once.
    fn versions_follow_bot(&mut self) {
        let Some((bot_id, list)) = self.versions.as_mut() else {
            return;
        };
        let Some(bot) = self.bots.iter().find(|b| &b.id == bot_id) else {
            return;
        };
        let live: Vec<(&str, &str)> = bot
            .environments
            .iter()
            .filter_map(|e| {
                e.live_version
                    .as_deref()
                    .map(|v| (v, e.environment_id.as_str()))
            })
            .collect();
        if live.is_empty() {
            return;
        }
        // The newest page is read again often; older pages were read once.
        for v in list.iter_mut().skip(crate::backend::VERSION_PAGE as usize) {
            let now: Vec<String> = live
                .iter()
                .filter(|(ver, _)| *ver == v.id)
                .map(|(_, env)| env.to_string())
                .collect();
            if now != v.live_in {
                v.live_in = now;
            }
        }
    }

    pub(crate) fn on_update(&mut self, update: Update, out: &mut Vec<Effect>) {
        match update {
            Update::Bots { req, mut bots } => {
                if !self.tracks.bots.accept(req) {
                    return;
                }
                bots.iter_mut().for_each(clean_bot);
                self.bot_measures = bots
                    .iter()
                    .map(|b| (b.id.clone(), super::panes::bots::measure(b)))
                    .collect();
                self.bots = bots;
                self.seen.insert(Seen::Bots, self.now);
                self.versions_follow_bot();
                // Keep the same bot selected across refreshes.
                let keep = self.selected_bot.clone();
                let idx = keep
                    .as_ref()
                    .and_then(|id| self.visible_bots().iter().position(|b| &b.id == id));
                self.panes.bots.list.pos.selected =
                    idx.unwrap_or(self.panes.bots.list.pos.selected);
                let n = self.visible_bots().len();
                self.panes.bots.list.pos.clamp(n);
                self.sync_selected_bot();
                self.keep_visible();
            }
            Update::Bot { req: _, mut bot } => {
                clean_bot(&mut bot);
                let Some(i) = self.bots.iter().position(|b| b.id == bot.id) else {
                    // A bot the list does not have yet: the next list brings it.
                    return;
                };
                self.seen.insert(Seen::Bot(bot.id.clone()), self.now);
                self.bot_measures
                    .insert(bot.id.clone(), super::panes::bots::measure(&bot));
                self.bots[i] = *bot;
                self.versions_follow_bot();
            }
            Update::Versions {
                req,
                bot,
                page,
                size,
                total,
                mut versions,
            } => {
                let bot = clean(&bot);
                if self.selected_bot.as_deref() != Some(bot.as_str())
                    || !self.tracks.versions.accept(req)
                {
                    return;
                }
                versions.iter_mut().for_each(clean_version);
                let keep = self.selected_version().map(|v| v.id.clone());
                self.merge_versions(bot.clone(), page, size, total, versions);
                self.seen.insert(Seen::Versions(bot), self.now);
                self.versions_follow_bot();
                let n = self.visible_versions().len();
                if let Some(id) = keep
                    && let Some(i) = self.visible_versions().iter().position(|v| v.id == id)
                {
                    self.panes.versions.list.pos.selected = i;
                }
                self.panes.versions.list.pos.clamp(n);
                self.keep_visible();
            }
            // Ages and the budget are drawn with the once-a-second tick: nothing changed
            // on screen that cannot wait for it.
            Update::Unchanged { what } => {
                self.seen.insert(what, self.now);
                return;
            }
            Update::Budget {
                in_window,
                budget,
                rate_limited,
            } => {
                self.budget = Some((in_window, budget, rate_limited));
                return;
            }
            Update::Operations {
                req,
                mut operations,
            } => {
                if !self.tracks.operations.accept(req) {
                    return;
                }
                operations.iter_mut().for_each(clean_operation);
                self.operations = operations;
                self.seen.insert(Seen::Operations, self.now);
                let n = self.deploy_items().len();
                self.panes.deployments.list.pos.clamp(n);
            }
            Update::Canaries { req, mut canaries } => {
                if !self.tracks.canaries.accept(req) {
                    return;
                }
                canaries.iter_mut().for_each(clean_canary);
                self.canaries = canaries;
                self.seen.insert(Seen::Canaries, self.now);
            }
            Update::Series { req, bot, series } => {
                let bot = clean(&bot);
                if self.series_key.as_ref().map(|(b, _)| b.as_str()) != Some(bot.as_str())
                    || !self.tracks.series.accept(req)
                {
                    return;
                }
                self.series = Some(sorted_series(*series));
                self.seen.insert(Seen::Series(bot), self.now);
            }
            Update::Timeline { req, mut entries } => {
                if !self.tracks.timeline.accept(req) {
                    return;
                }
                for e in &mut entries {
                    e.text = clean(&e.text);
                    clean_opt(&mut e.op);
                    clean_opt(&mut e.bot);
                    for (k, v) in &mut e.figures {
                        *k = clean(k);
                        *v = clean(v);
                    }
                }
                entries.sort_by_key(|e| e.at);
                self.audit = self.merged_timeline(entries);
                // Every local row so far was weighed by the merge (kept or found recorded);
                // only newer ones are shown beside it.
                self.merged_until = self
                    .audit
                    .iter()
                    .chain(self.local_timeline.iter())
                    .map(|e| e.at)
                    .max();
            }
            Update::Progress(ev) => self.on_progress(ev, out),
            Update::Connection { ok, detail } => {
                let detail = clean(&detail);
                if self.connection.as_ref() == Some(&(ok, detail.clone())) {
                    return;
                }
                let was = self.connection.as_ref().map(|(ok, _)| *ok);
                if was == Some(true) && !ok {
                    self.toast(Tone::Bad, format!("Connection lost: {detail}"));
                } else if was == Some(false) && ok {
                    self.toast(Tone::Good, "Connection restored".to_string());
                }
                self.connection = Some((ok, detail));
            }
            Update::Error {
                title,
                detail,
                hint,
            } => {
                self.overlays.push(Overlay::Error {
                    title: clean(&title),
                    detail: clean(&detail),
                    hint: clean(&hint),
                });
            }
        }
        self.dirty = true;
    }

    fn run_mut(&mut self, ev: &ProgressEvent) -> &mut OpRun {
        let idx = match self.runs.iter().position(|r| r.id == ev.op) {
            Some(i) => i,
            None => {
                self.runs.push(OpRun::new(ev.op, ev.at));
                self.runs.len() - 1
            }
        };
        &mut self.runs[idx]
    }

    fn on_progress(&mut self, ev: ProgressEvent, out: &mut Vec<Effect>) {
        let at = ev.at;
        let speed = self.clock_speed;
        let run = self.run_mut(&ev);
        let mut entry: Option<(String, Vec<(String, String)>)> = None;
        let mut toast: Option<(Tone, String)> = None;
        let mut decided = false;
        let mut linked = false;
        match ev.kind {
            EventKind::Started {
                workflow,
                title,
                bot,
                steps,
                operation,
            } => {
                run.operation = operation.map(|o| clean(&o));
                run.workflow = Some(workflow);
                run.title = clean(&title);
                run.bot = bot.map(|b| clean(&b));
                run.started_at = at;
                for s in steps {
                    run.step_mut(&clean(&s));
                }
                entry = Some((format!("started: {}", run.title), Vec::new()));
            }
            EventKind::StepStarted { step } => {
                let s = run.step_mut(&clean(&step));
                s.state = StepState::Running;
                s.started = Some(at);
                run.waiting = None;
            }
            EventKind::StepFinished { step, detail } => {
                let name = clean(&step);
                let detail = detail.map(|d| clean(&d));
                let s = run.step_mut(&name);
                s.state = StepState::Done;
                s.finished = Some(at);
                s.started.get_or_insert(at);
                s.detail = detail.clone();
                let text = match detail {
                    Some(d) => format!("✔ {name}: {d}"),
                    None => format!("✔ {name}"),
                };
                entry = Some((text, Vec::new()));
            }
            EventKind::StepFailed { step, reason } => {
                let name = clean(&step);
                let reason = clean(&reason);
                let s = run.step_mut(&name);
                s.state = StepState::Failed;
                s.finished = Some(at);
                s.detail = Some(reason.clone());
                run.waiting = None;
                entry = Some((format!("✖ {name}: {reason}"), Vec::new()));
            }
            EventKind::Detail { message } => {
                run.last_detail = Some(clean(&message));
            }
            EventKind::Waiting { what, wait } => {
                let wall = wait.div_f64(speed);
                let until =
                    at + chrono::Duration::from_std(wall).unwrap_or(chrono::Duration::zero());
                run.waiting = Some(Waiting {
                    what: clean(&what),
                    until,
                });
            }
            EventKind::Canary(mut sample) => {
                // A look every few seconds: the pane shows the latest; the timeline gets
                // the decisions.
                clean_sample(&mut sample);
                run.sample = Some(*sample);
            }
            EventKind::Linked { server_id } => {
                let id = clean(&server_id);
                if !run.server_ids.contains(&id) {
                    run.server_ids.push(id);
                    linked = true;
                }
            }
            EventKind::Paused => {
                run.paused_at = Some(at);
                entry = Some(("paused".to_string(), Vec::new()));
            }
            EventKind::CanaryDecision(mut d) => {
                clean_decision(&mut d);
                let text = format!(
                    "canary step {} at {}: {} ({})",
                    d.step,
                    format::weight(d.weight),
                    d.action,
                    verdict_word(d.verdict)
                );
                let figures = vec![
                    ("why".to_string(), d.reason.clone()),
                    (
                        "conversations".to_string(),
                        format!(
                            "{} canary / {} baseline",
                            format::count(d.n_canary),
                            format::count(d.n_baseline)
                        ),
                    ),
                ];
                entry = Some((text, figures));
                run.decisions.push(*d);
                decided = true;
            }
            EventKind::Resumed => {
                run.paused_at = None;
                entry = Some(("resumed".to_string(), Vec::new()));
            }
            EventKind::Finished { outcome, summary } => {
                let summary = clean(&summary);
                run.outcome = Some((outcome, summary.clone()));
                run.finished_at = Some(at);
                run.waiting = None;
                run.paused_at = None;
                let tone = match outcome {
                    Outcome::Succeeded => Tone::Good,
                    Outcome::RolledBack => Tone::Warn,
                    Outcome::Cancelled => Tone::Muted,
                    Outcome::Paused => Tone::Warn,
                    Outcome::Refused | Outcome::Failed | Outcome::TimedOut => Tone::Bad,
                };
                let text = match (outcome, run.canary_reached()) {
                    // The step the canary reached, as its own events counted it: the
                    // audit's decisions say the same.
                    (Outcome::Succeeded, Some((n, _))) => {
                        format!(
                            "{} promoted at 100% after {}",
                            run.title,
                            super::format::steps_word(n)
                        )
                    }
                    _ => format!(
                        "{} {}: {}",
                        run.title,
                        outcome.as_str().replace('_', " "),
                        format::summary_after(
                            &summary,
                            &run.title,
                            &outcome.as_str().replace('_', " "),
                            false
                        )
                    ),
                };
                toast = Some((tone, text));
                let word = outcome.as_str().replace('_', " ");
                let rest = format::summary_after(&summary, &run.title, &word, false);
                entry = Some((format!("{word}: {rest}"), Vec::new()));
            }
        }
        let op = format!("#{}", run.id);
        let bot = run.bot.clone();
        if let Some((text, figures)) = entry {
            self.push_local_timeline(TimelineEntry {
                at,
                op: Some(op),
                bot,
                text,
                figures,
            });
        }
        if linked {
            // The server's record of the run exists now: read it at once.
            for what in [RefreshWhat::Operations, RefreshWhat::Canaries] {
                let req = self.req();
                out.push(Effect::Refresh { what, req });
            }
        }
        if let Some((tone, text)) = toast {
            self.toast(tone, text);
            // The server changed; show it without waiting for the next refresh.
            self.refresh_all(out);
        }
        let n = self.deploy_items().len();
        self.panes.deployments.list.pos.clamp(n);
        if decided {
            // The history follows the newest decision unless the operator moved up.
            self.keep_visible();
        }
    }

    /// The audit trail with this process's own events kept: a run's steps, pauses and
    /// resumes stay after it ends, and a run and the server operation it drives are one
    /// operation (`#7`), its decisions and ending listed once, as the audit has them.
    fn merged_timeline(&self, mut audit: Vec<TimelineEntry>) -> Vec<TimelineEntry> {
        let mut linked: Vec<String> = Vec::new();
        for e in &mut audit {
            // A run of this console goes by one id in the timeline, `#n`, whether the row
            // came from its progress or from the audit trail (by its operation id or a
            // server object it made); describe shows the operation id in full.
            if let Some(op) = &e.op
                && let Some(run) = self
                    .runs
                    .iter()
                    .find(|r| r.operation.as_ref() == Some(op) || r.server_ids.contains(op))
            {
                let tag = format!("#{}", run.id);
                e.op = Some(tag.clone());
                if !linked.contains(&tag) {
                    linked.push(tag);
                }
            }
        }
        let near = |a: &TimelineEntry, b: &TimelineEntry| (a.at - b.at).num_seconds().abs() <= 5;
        let local = self.local_timeline.iter().filter(|e| {
            let Some(op) = e.op.as_ref().filter(|op| linked.contains(op)) else {
                return true;
            };
            let decision = e.text.starts_with("canary step ") || e.text.starts_with("started: ");
            let ending = ENDING_WORDS
                .iter()
                .any(|w| e.text.starts_with(&format!("{w}: ")));
            let recorded = audit
                .iter()
                .any(|a| a.op.as_ref() == Some(op) && near(a, e));
            !((decision || ending) && recorded)
        });
        let mut out: Vec<TimelineEntry> = audit.iter().cloned().chain(local.cloned()).collect();
        out.sort_by_key(|e| e.at);
        if out.len() > LOCAL_TIMELINE_CAP {
            let extra = out.len() - LOCAL_TIMELINE_CAP;
            out.drain(..extra);
        }
        out
    }

    fn push_local_timeline(&mut self, entry: TimelineEntry) {
        let pos = self.local_timeline.partition_point(|e| e.at <= entry.at);
        self.local_timeline.insert(pos, entry);
        if self.local_timeline.len() > LOCAL_TIMELINE_CAP {
            let extra = self.local_timeline.len() - LOCAL_TIMELINE_CAP;
            self.local_timeline.drain(..extra);
        }
    }
}

fn sorted_series(mut s: MetricsSeries) -> MetricsSeries {
    s.total.sort_by_key(|p| p.minute);
    s.baseline.sort_by_key(|p| p.minute);
    s.canary.sort_by_key(|p| p.minute);
    s
}

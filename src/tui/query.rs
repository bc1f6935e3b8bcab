//! Read-only questions about the state that both `update` and the panes ask: which bots
//! the filter lets through, which version is selected, what the deployments list holds,
//! which canary the canary pane shows.

use crate::domain::{BotEnvironment, BotSummary, Canary, OperationKind, Stage, Version};
use crate::engine::events::WorkflowKind;

use super::app::App;
use super::messages::TimelineEntry;
use super::state::OpRun;
use super::widgets::palette::CompletionData;

/// One row of the deployments pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeployItem {
    /// A workflow of this process (index into `runs`).
    Run(usize),
    /// A server operation not matched to a workflow here (index into `operations`).
    Server(usize),
}

/// The canary the canary pane shows.
#[derive(Debug, Clone)]
pub struct CanaryView<'a> {
    pub bot_id: String,
    pub env: Option<String>,
    pub run: Option<&'a OpRun>,
    pub canary: Option<&'a Canary>,
}

/// Where a stage's traffic goes now: the environment with the largest weight, and the
/// other environments of the stage (the idle colours).
pub fn live_and_idle(
    bot: &BotSummary,
    stage: Stage,
) -> (Option<&BotEnvironment>, Vec<&BotEnvironment>) {
    let envs: Vec<&BotEnvironment> = bot
        .environments
        .iter()
        .filter(|e| e.stage == stage)
        .collect();
    let live = envs
        .iter()
        .copied()
        .filter(|e| e.traffic_weight > 0.0)
        .max_by(|a, b| a.traffic_weight.total_cmp(&b.traffic_weight))
        .or_else(|| envs.first().copied());
    let idle = envs
        .into_iter()
        .filter(|e| Some(e.environment_id.as_str()) != live.map(|l| l.environment_id.as_str()))
        .collect();
    (live, idle)
}

/// The stage a bot's rollbacks apply to: production if it has one.
pub fn main_stage(bot: &BotSummary) -> Stage {
    if bot
        .environments
        .iter()
        .any(|e| e.stage == Stage::Production)
    {
        Stage::Production
    } else {
        bot.environments
            .first()
            .map(|e| e.stage)
            .unwrap_or(Stage::Production)
    }
}

pub fn verdict_is_bad(v: &str) -> bool {
    let v = v.to_ascii_lowercase();
    v.contains("roll") || v.contains("fail")
}

pub fn verdict_is_good(v: &str) -> bool {
    let v = v.to_ascii_lowercase();
    v.contains("promot") || v.contains("pass")
}

/// The newest published version that passed a canary, else the live version of the main
/// stage while the bot is healthy.
/// The version a rollback would go back to: the newest promoted PUBLISHED version older
/// than the live one (the engine's definition, so the ★ and `r` agree).
pub fn last_known_good<'a>(bot: Option<&BotSummary>, versions: &'a [Version]) -> Option<&'a str> {
    let bot = bot?;
    let stage = main_stage(bot);
    let live = crate::engine::rollback::live_version(bot, stage);
    crate::engine::rollback::last_known_good(versions, live.as_deref(), stage)
        .map(|v| v.id.as_str())
}

fn workflow_of(kind: OperationKind) -> WorkflowKind {
    match kind {
        OperationKind::Deployment => WorkflowKind::Deploy,
        OperationKind::Rollback => WorkflowKind::Rollback,
        OperationKind::Canary => WorkflowKind::Canary,
        OperationKind::FlowPush => WorkflowKind::Flows,
        OperationKind::EnvironmentJob => WorkflowKind::Environment,
    }
}

impl App {
    pub(crate) fn visible_bots(&self) -> Vec<&BotSummary> {
        if self.filter.is_empty() {
            return self.bots.iter().collect();
        }
        let f = self.filter.to_lowercase();
        self.bots
            .iter()
            .filter(|b| b.name.to_lowercase().contains(&f) || b.id.to_lowercase().contains(&f))
            .collect()
    }

    pub(crate) fn bot(&self, id: &str) -> Option<&BotSummary> {
        self.bots.iter().find(|b| b.id == id)
    }

    pub(crate) fn selected_bot_summary(&self) -> Option<&BotSummary> {
        self.selected_bot.as_deref().and_then(|id| self.bot(id))
    }

    /// The versions of the selected bot, if they have arrived.
    pub(crate) fn current_versions(&self) -> &[Version] {
        match (&self.versions, &self.selected_bot) {
            (Some((bot, v)), Some(sel)) if bot == sel => v,
            _ => &[],
        }
    }

    pub(crate) fn selected_version(&self) -> Option<&Version> {
        self.current_versions().get(self.versions_pos.selected)
    }

    /// Active workflows first, then newest; server operations not matched to one after.
    pub(crate) fn deploy_items(&self) -> Vec<DeployItem> {
        let mut runs: Vec<usize> = (0..self.runs.len()).collect();
        runs.sort_by(|&a, &b| {
            let (ra, rb) = (&self.runs[a], &self.runs[b]);
            rb.is_active()
                .cmp(&ra.is_active())
                .then(rb.started_at.cmp(&ra.started_at))
        });
        let mut items: Vec<DeployItem> = runs.into_iter().map(DeployItem::Run).collect();
        let mut ops: Vec<usize> = (0..self.operations.len())
            .filter(|&i| {
                let op = &self.operations[i];
                !self
                    .runs
                    .iter()
                    .any(|r| r.server_ids.iter().any(|id| id == &op.id))
                    && !self.runs.iter().any(|r| {
                        r.is_active()
                            && op.active
                            && r.workflow == Some(workflow_of(op.kind))
                            && r.bot.is_some()
                            && r.bot == op.bot_id
                    })
            })
            .collect();
        ops.sort_by(|&a, &b| {
            let (oa, ob) = (&self.operations[a], &self.operations[b]);
            ob.active
                .cmp(&oa.active)
                .then(ob.updated_at.cmp(&oa.updated_at))
        });
        items.extend(ops.into_iter().take(50).map(DeployItem::Server));
        items
    }

    /// The canary of the selected bot (a workflow here and/or the server's record); else
    /// any running canary, so a live rollout is always on screen.
    pub(crate) fn canary_view(&self) -> Option<CanaryView<'_>> {
        let latest_run = |bot: Option<&str>| {
            self.runs
                .iter()
                .filter(|r| r.is_canary() && (bot.is_none() || r.bot.as_deref() == bot))
                .max_by(|a, b| {
                    a.is_active()
                        .cmp(&b.is_active())
                        .then(a.started_at.cmp(&b.started_at))
                })
        };
        let latest_canary = |bot: Option<&str>| {
            self.canaries
                .iter()
                .filter(|c| bot.is_none_or(|b| c.bot_id == b))
                .max_by(|a, b| {
                    a.state
                        .is_active()
                        .cmp(&b.state.is_active())
                        .then(a.updated_at.cmp(&b.updated_at))
                })
        };
        let sel = self.selected_bot.as_deref();
        let (bot_id, run, canary) = match (
            sel.and_then(|s| latest_run(Some(s))),
            sel.and_then(|s| latest_canary(Some(s))),
        ) {
            (None, None) => {
                // The canary running now; else the one that ended last, with its final
                // state, unless the server has another bot's canary running.
                let run = latest_run(None).filter(|r| r.is_active()).or_else(|| {
                    let last = latest_run(None)?;
                    let other_live = self.canaries.iter().any(|c| {
                        c.state.is_active() && Some(c.bot_id.as_str()) != last.bot.as_deref()
                    });
                    (!other_live).then_some(last)
                });
                let canary = match run.and_then(|r| r.bot.as_deref()) {
                    Some(b) => latest_canary(Some(b)),
                    None => latest_canary(None).filter(|c| c.state.is_active()),
                };
                let bot = run
                    .and_then(|r| r.bot.clone())
                    .or_else(|| canary.map(|c| c.bot_id.clone()))?;
                (bot, run, canary)
            }
            (run, canary) => (sel.map(str::to_string)?, run, canary),
        };
        Some(CanaryView {
            env: canary.map(|c| c.environment_id.clone()),
            bot_id,
            run,
            canary,
        })
    }

    /// The timeline, newest first: the audit trail, plus events of this process newer
    /// than its last record.
    pub(crate) fn timeline_rows(&self) -> impl Iterator<Item = &TimelineEntry> {
        let audit_end = self.audit.iter().map(|e| e.at).max();
        let local = self
            .local_timeline
            .iter()
            .filter(move |e| audit_end.is_none_or(|end| e.at > end));
        MergeNewestFirst {
            a: self.audit.iter().rev().peekable(),
            b: local.rev().peekable(),
        }
    }

    pub(crate) fn timeline_len(&self) -> usize {
        self.timeline_rows().count()
    }

    pub(crate) fn completion_data(&self) -> CompletionData {
        let mut envs: Vec<String> = self
            .bots
            .iter()
            .flat_map(|b| b.environments.iter().map(|e| e.environment_id.clone()))
            .collect();
        envs.sort();
        envs.dedup();
        CompletionData {
            bots: self.bots.iter().map(|b| b.name.clone()).collect(),
            envs,
            versions: self
                .current_versions()
                .iter()
                .map(|v| v.id.clone())
                .collect(),
        }
    }
}

/// Two newest-first iterators merged into one.
struct MergeNewestFirst<
    'a,
    A: Iterator<Item = &'a TimelineEntry>,
    B: Iterator<Item = &'a TimelineEntry>,
> {
    a: std::iter::Peekable<A>,
    b: std::iter::Peekable<B>,
}

impl<'a, A, B> Iterator for MergeNewestFirst<'a, A, B>
where
    A: Iterator<Item = &'a TimelineEntry>,
    B: Iterator<Item = &'a TimelineEntry>,
{
    type Item = &'a TimelineEntry;

    fn next(&mut self) -> Option<Self::Item> {
        match (self.a.peek(), self.b.peek()) {
            (Some(x), Some(y)) if y.at > x.at => self.b.next(),
            (Some(_), _) => self.a.next(),
            (None, _) => self.b.next(),
        }
    }
}

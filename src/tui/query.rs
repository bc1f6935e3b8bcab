//! Read-only questions about the state that both `update` and the panes ask: which bots
//! the filter lets through, which version is selected, what the deployments list holds,
//! which canary the canary pane shows.

use crate::domain::{BotSummary, Health, OperationKind, Stage, Version};
use crate::engine::events::WorkflowKind;

use super::app::App;
use chrono::{DateTime, Utc};

use super::component::Freshness;
use super::layout::PaneId;
use super::messages::{Seen, TimelineEntry};
use super::model::DeployItem;
use super::state::{OpRun, natural_cmp};
use super::widgets::palette::CompletionData;

use super::component::CanaryView;

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
    /// The bots the Bots pane lists: its filter applied, in its sort order.
    pub(crate) fn visible_bots(&self) -> Vec<&BotSummary> {
        let view = &self.panes.bots.list.view;
        let mut bots: Vec<&BotSummary> = self
            .bots
            .iter()
            .filter(|b| view.filter.is_empty() || view.matches(&self.bot_text(b)))
            .collect();
        if let Some((key, desc)) = view.sort {
            bots.sort_by(|a, b| {
                let o = match key {
                    0 => natural_cmp(&a.name, &b.name).then_with(|| a.id.cmp(&b.id)),
                    1 => health_rank(a)
                        .cmp(&health_rank(b))
                        .then_with(|| natural_cmp(&a.name, &b.name)),
                    _ => self.bot_changed(&a.id).cmp(&self.bot_changed(&b.id)),
                };
                if desc { o.reverse() } else { o }
            });
        }
        bots
    }

    /// A bot row's text as the filter sees it: name, id, environments, health, operation.
    fn bot_text(&self, b: &BotSummary) -> String {
        let mut t = format!("{} {} {}", b.name, b.id, b.health.as_str());
        for e in &b.environments {
            t.push_str(&format!(
                " {} {}",
                super::format::env_label(e),
                e.live_version.as_deref().unwrap_or("")
            ));
        }
        if let Some(op) = &b.active_operation {
            t.push_str(&format!(" {} {}", op.kind.as_str(), op.state));
        }
        for r in self
            .runs
            .iter()
            .filter(|r| r.is_active() && r.bot.as_deref() == Some(b.id.as_str()))
        {
            t.push_str(&format!(" {} {}", r.kind_name(), r.state_text()));
        }
        t
    }

    /// When something last happened to a bot: its newest timeline entry, else its active
    /// operation's last update.
    pub(crate) fn bot_changed(&self, id: &str) -> Option<chrono::DateTime<chrono::Utc>> {
        let seen = self
            .timeline_rows()
            .filter(|e| e.bot.as_deref() == Some(id))
            .map(|e| e.at)
            .max();
        let op = self
            .bot(id)
            .and_then(|b| b.active_operation.as_ref())
            .and_then(|o| parse_time(&o.updated_at));
        seen.max(op)
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

    /// Server seconds since `at` (wall time) on this console's clock.
    pub(crate) fn server_age(&self, at: DateTime<Utc>) -> i64 {
        let wall = (self.now - at).num_milliseconds().max(0) as f64 / 1000.0;
        (wall * self.clock_speed.max(f64::MIN_POSITIVE)).floor() as i64
    }

    /// How old a pane's data is: the older of what it shows.
    pub(crate) fn freshness(&self, pane: PaneId) -> Option<Freshness> {
        let seen = |k: Seen| self.seen.get(&k).copied();
        let at = match pane {
            PaneId::Bots => seen(Seen::Bots),
            PaneId::Versions => seen(Seen::Versions(self.selected_bot.clone()?)),
            PaneId::Deployments => seen(Seen::Operations)
                .into_iter()
                .chain(seen(Seen::Canaries))
                .min(),
            // This console's own canary streams its progress: nothing there is read.
            PaneId::Canary if self.canary_view().is_some_and(|v| v.run.is_some()) => None,
            PaneId::Canary => match &self.series_key {
                Some((bot, _)) if self.series.is_some() => seen(Seen::Series(bot.clone())),
                _ => seen(Seen::Canaries),
            },
            PaneId::Timeline => None,
        }?;
        let age = self.server_age(at);
        Some(Freshness {
            age,
            stale: age > self.stale_after,
        })
    }

    /// The versions the Versions pane lists: its filter applied, in its sort order (else
    /// newest first).
    pub(crate) fn visible_versions(&self) -> Vec<&Version> {
        let view = &self.panes.versions.list.view;
        let mut versions: Vec<&Version> = self
            .current_versions()
            .iter()
            .filter(|v| view.filter.is_empty() || view.matches(&self.version_text(v)))
            .collect();
        if let Some((key, desc)) = view.sort {
            versions.sort_by(|a, b| {
                let o = match key {
                    0 => natural_cmp(&a.id, &b.id),
                    1 => a.created_at.cmp(&b.created_at),
                    _ => a
                        .status
                        .as_str()
                        .cmp(b.status.as_str())
                        .then_with(|| b.created_at.cmp(&a.created_at)),
                };
                if desc { o.reverse() } else { o }
            });
        }
        versions
    }

    /// A version row's text as the filter sees it.
    fn version_text(&self, v: &Version) -> String {
        let stage = match v.environment {
            Stage::Production => "PROD",
            Stage::Staging => "STG",
        };
        format!(
            "{} {} {} {} {} {} {}",
            v.id,
            v.label,
            v.status.as_str(),
            stage,
            super::format::date_minute(&v.created_at),
            v.live_in.join(" "),
            v.last_canary_verdict
                .as_deref()
                .unwrap_or("")
                .replace('_', " ")
        )
    }

    /// The version selected in the Versions pane: the row the operator sees highlighted.
    pub(crate) fn selected_version(&self) -> Option<&Version> {
        self.visible_versions()
            .get(self.panes.versions.list.pos.selected)
            .copied()
    }

    /// The rows of the Deployments pane: its filter applied, in its sort order (else
    /// active workflows first, then newest; server operations not matched to one after).
    pub(crate) fn deploy_items(&self) -> Vec<DeployItem> {
        let mut items = self.deploy_items_all();
        let view = &self.panes.deployments.list.view;
        items.retain(|i| view.matches(&self.deploy_text(*i)));
        if let Some((key, desc)) = view.sort {
            items.sort_by(|&a, &b| {
                let o = match key {
                    0 => self.deploy_started(a).cmp(&self.deploy_started(b)),
                    1 => self
                        .deploy_active(b)
                        .cmp(&self.deploy_active(a))
                        .then_with(|| self.deploy_state(a).cmp(&self.deploy_state(b))),
                    _ => natural_cmp(&self.deploy_bot(a), &self.deploy_bot(b)),
                };
                if desc { o.reverse() } else { o }
            });
        }
        items
    }

    /// Every row of the Deployments pane, unfiltered: active workflows first, then newest;
    /// server operations not matched to one after.
    pub(crate) fn deploy_items_all(&self) -> Vec<DeployItem> {
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

    fn deploy_started(&self, item: DeployItem) -> Option<chrono::DateTime<chrono::Utc>> {
        match item {
            DeployItem::Run(i) => self.runs.get(i).map(|r| r.started_at),
            DeployItem::Server(i) => self
                .operations
                .get(i)
                .and_then(|o| parse_time(&o.created_at)),
        }
    }

    fn deploy_active(&self, item: DeployItem) -> bool {
        match item {
            DeployItem::Run(i) => self.runs.get(i).is_some_and(OpRun::is_active),
            DeployItem::Server(i) => self.operations.get(i).is_some_and(|o| o.active),
        }
    }

    fn deploy_state(&self, item: DeployItem) -> String {
        match item {
            DeployItem::Run(i) => self.runs.get(i).map(OpRun::state_text),
            DeployItem::Server(i) => self.operations.get(i).map(|o| o.state.clone()),
        }
        .unwrap_or_default()
    }

    /// The name of the bot an item is for (its id if the bot is not listed).
    fn deploy_bot(&self, item: DeployItem) -> String {
        let id = match item {
            DeployItem::Run(i) => self.runs.get(i).and_then(|r| r.bot.clone()),
            DeployItem::Server(i) => self.operations.get(i).and_then(|o| o.bot_id.clone()),
        };
        self.bot_name(id.as_deref())
    }

    fn bot_name(&self, id: Option<&str>) -> String {
        id.map(|id| {
            self.bot(id)
                .map(|b| b.name.clone())
                .unwrap_or_else(|| id.to_string())
        })
        .unwrap_or_default()
    }

    /// A deployments row's head line as the filter sees it.
    fn deploy_text(&self, item: DeployItem) -> String {
        match item {
            DeployItem::Run(i) => self
                .runs
                .get(i)
                .map(|r| {
                    format!(
                        "#{} {} {} {}",
                        r.id,
                        r.title,
                        r.state_text(),
                        self.bot_name(r.bot.as_deref())
                    )
                })
                .unwrap_or_default(),
            DeployItem::Server(i) => self
                .operations
                .get(i)
                .map(|o| {
                    format!(
                        "{} {} {} {} {} {} {}",
                        o.id,
                        o.kind.as_str(),
                        self.bot_name(o.bot_id.as_deref()),
                        o.version_id.as_deref().unwrap_or(""),
                        o.environment_id.as_deref().unwrap_or(""),
                        o.state,
                        o.error_message.as_deref().unwrap_or("")
                    )
                })
                .unwrap_or_default(),
        }
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
        let merged = self.merged_until;
        let local = self
            .local_timeline
            .iter()
            .filter(move |e| merged.is_none_or(|end| e.at > end));
        MergeNewestFirst {
            a: self.audit.iter().rev().peekable(),
            b: local.rev().peekable(),
        }
    }

    /// The rows the Timeline pane lists: its filter applied, in its sort order (else
    /// newest first).
    pub(crate) fn visible_timeline(&self) -> Vec<&TimelineEntry> {
        let view = &self.panes.timeline.list.view;
        let mut rows: Vec<&TimelineEntry> = self
            .timeline_rows()
            .filter(|e| view.filter.is_empty() || view.matches(&self.timeline_text(e)))
            .collect();
        if let Some((key, desc)) = view.sort {
            rows.sort_by(|a, b| {
                let o = match key {
                    0 => a.at.cmp(&b.at),
                    1 => natural_cmp(a.op.as_deref().unwrap_or(""), b.op.as_deref().unwrap_or(""))
                        .then_with(|| b.at.cmp(&a.at)),
                    _ => natural_cmp(
                        &self.bot_name(a.bot.as_deref()),
                        &self.bot_name(b.bot.as_deref()),
                    )
                    .then_with(|| b.at.cmp(&a.at)),
                };
                if desc { o.reverse() } else { o }
            });
        }
        rows
    }

    /// A timeline row's text as the filter sees it.
    fn timeline_text(&self, e: &TimelineEntry) -> String {
        let mut t = format!(
            "{} {} {} {}",
            super::format::clock(e.at),
            e.op.as_deref().unwrap_or(""),
            self.bot_name(e.bot.as_deref()),
            e.text
        );
        for (k, v) in &e.figures {
            t.push_str(&format!(" {k} {v}"));
        }
        t
    }

    pub(crate) fn timeline_len(&self) -> usize {
        self.visible_timeline().len()
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

/// Worst first: unhealthy, degraded, healthy.
fn health_rank(b: &BotSummary) -> u8 {
    match b.health {
        Health::Unhealthy => 0,
        Health::Degraded => 1,
        Health::Healthy => 2,
    }
}

fn parse_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
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

/// What the panes may read of the console.
impl super::component::Scene for App {
    fn theme(&self) -> &super::theme::Theme {
        &self.theme
    }
    fn keymap(&self) -> &super::keymap::Keymap {
        &self.keymap
    }
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.now
    }
    fn wide(&self) -> bool {
        self.wide
    }
    fn size(&self) -> ratatui::layout::Rect {
        self.size
    }
    fn focus(&self) -> super::layout::PaneId {
        self.focus
    }
    fn connection(&self) -> Option<&(bool, String)> {
        self.connection.as_ref()
    }
    fn bots(&self) -> &[BotSummary] {
        &self.bots
    }
    fn runs(&self) -> &[OpRun] {
        &self.runs
    }
    fn operations(&self) -> &[crate::domain::Operation] {
        &self.operations
    }
    fn series(&self) -> Option<&crate::domain::MetricsSeries> {
        self.series.as_ref()
    }
    fn bot(&self, id: &str) -> Option<&BotSummary> {
        App::bot(self, id)
    }
    fn selected_bot_summary(&self) -> Option<&BotSummary> {
        App::selected_bot_summary(self)
    }
    fn visible_bots(&self) -> Vec<&BotSummary> {
        App::visible_bots(self)
    }
    fn versions_loaded_for(&self) -> Option<&str> {
        self.versions.as_ref().map(|(id, _)| id.as_str())
    }
    fn current_versions(&self) -> &[Version] {
        App::current_versions(self)
    }
    fn visible_versions(&self) -> Vec<&Version> {
        App::visible_versions(self)
    }
    fn freshness(&self, pane: PaneId) -> Option<Freshness> {
        App::freshness(self, pane)
    }
    fn bot_age(&self, id: &str) -> Option<i64> {
        let list = self.seen.get(&Seen::Bots);
        let alone = self.seen.get(&Seen::Bot(id.to_string()));
        list.into_iter()
            .chain(alone)
            .max()
            .map(|at| self.server_age(*at))
    }
    fn stale_after(&self) -> i64 {
        self.stale_after
    }
    fn bot_measure(&self, id: &str) -> Option<&super::panes::bots::BotMeasure> {
        self.bot_measures.get(id)
    }
    fn versions_total(&self) -> Option<u64> {
        self.selected_bot.as_ref()?;
        self.versions_total
    }
    fn deploy_items(&self) -> Vec<DeployItem> {
        App::deploy_items(self)
    }
    fn deploy_items_all(&self) -> Vec<DeployItem> {
        App::deploy_items_all(self)
    }
    fn canary_view(&self) -> Option<CanaryView<'_>> {
        App::canary_view(self)
    }
    fn timeline_rows(&self) -> Box<dyn Iterator<Item = &TimelineEntry> + '_> {
        Box::new(App::timeline_rows(self))
    }
    fn visible_timeline(&self) -> Vec<&TimelineEntry> {
        App::visible_timeline(self)
    }
}

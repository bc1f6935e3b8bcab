//! Describe: the whole object behind a row (bot, version, workflow run, server operation,
//! canary with its decisions, audit record), every field and id, as `field: value` rows.
//! What to describe is chosen by `update`; the rows are built from the current state each
//! time they are drawn, so a running canary's description stays live.

use crate::engine::events::OpId;

use super::app::App;
use super::format;
use super::layout::PaneId;
use super::model::DeployItem;
pub use super::model::{DescribeTarget, Described};

impl App {
    /// What Enter / `d` would describe in the focused pane.
    pub(crate) fn describe_target(&self) -> Option<DescribeTarget> {
        match self.focus {
            PaneId::Bots => self
                .visible_bots()
                .get(self.panes.bots.list.pos.selected)
                .map(|b| DescribeTarget::Bot(b.id.clone())),
            PaneId::Versions => {
                let bot = self.selected_bot.clone()?;
                self.selected_version().map(|v| DescribeTarget::Version {
                    bot,
                    version: v.id.clone(),
                })
            }
            PaneId::Deployments => match self
                .deploy_items()
                .get(self.panes.deployments.list.pos.selected)?
            {
                DeployItem::Run(i) => self.runs.get(*i).map(|r| DescribeTarget::Run(r.id)),
                DeployItem::Server(i) => self
                    .operations
                    .get(*i)
                    .map(|o| DescribeTarget::Operation(o.id.clone())),
            },
            PaneId::Canary => {
                let view = self.canary_view()?;
                match (view.run, view.canary) {
                    (Some(r), _) => Some(DescribeTarget::Run(r.id)),
                    (None, Some(c)) => Some(DescribeTarget::Operation(c.id.clone())),
                    _ => None,
                }
            }
            PaneId::Timeline => (self.panes.timeline.list.pos.selected < self.timeline_len())
                .then_some(DescribeTarget::Audit(self.panes.timeline.list.pos.selected)),
        }
    }

    /// The description of `target` in the current state.
    pub(crate) fn described(&self, target: &DescribeTarget) -> Option<Described> {
        match target {
            DescribeTarget::Bot(id) => self.describe_bot(id),
            DescribeTarget::Version { bot, version } => self.describe_version(bot, version),
            DescribeTarget::Run(id) => self.describe_run(*id),
            DescribeTarget::Operation(id) => self.describe_operation(id),
            DescribeTarget::Audit(i) => self.describe_audit(*i),
        }
    }

    fn describe_bot(&self, id: &str) -> Option<Described> {
        let b = self.bot(id)?;
        let mut d = Described::new("bot", &b.id);
        d.field("id", &b.id);
        d.field("name", &b.name);
        if !b.description.is_empty() {
            d.field("description", &b.description);
        }
        d.field("health", b.health.as_str());
        if let Some(r) = b.error_rate {
            d.field("error rate", format::rate(r));
        }
        d.field("active sessions", b.active_sessions.to_string());
        for e in &b.environments {
            d.section(&format!("environment {}", e.environment_id));
            d.field("id", &e.environment_id);
            d.field("name", &e.name);
            d.field("stage", e.stage.as_str());
            if let Some(c) = &e.colour {
                d.field("colour", c);
            }
            d.field("live version", e.live_version.as_deref().unwrap_or("—"));
            d.field("traffic weight", format::weight(e.traffic_weight));
        }
        if let Some(op) = &b.active_operation {
            d.section("operation");
            self.operation_fields(&mut d, op);
        }
        Some(d)
    }

    fn describe_version(&self, bot: &str, version: &str) -> Option<Described> {
        let v = self
            .versions
            .as_ref()
            .filter(|(b, _)| b == bot)?
            .1
            .iter()
            .find(|v| v.id == version)?;
        let mut d = Described::new("version", &v.id);
        d.field("id", &v.id);
        d.field("bot", bot);
        d.field("label", &v.label);
        d.field("status", v.status.as_str());
        d.field("stage", v.environment.as_str());
        d.field("created", &v.created_at);
        d.field("NLU model", &v.nlu_model_id);
        d.field(
            "last canary",
            v.last_canary_verdict.as_deref().unwrap_or("—"),
        );
        let summary = self.bot(bot);
        d.section("live in");
        if v.live_in.is_empty() {
            d.field("environments", "none");
        }
        for env in &v.live_in {
            let e = summary.and_then(|b| b.environments.iter().find(|e| &e.environment_id == env));
            match e {
                Some(e) => d.field(
                    env,
                    format!("{} {}", e.name, format::weight(e.traffic_weight)),
                ),
                None => d.field(env, "live"),
            }
        }
        d.section("flows");
        if v.flow_references.is_empty() {
            d.field("flows", "none");
        }
        for f in &v.flow_references {
            d.field(&f.flow_id, &f.version);
        }
        Some(d)
    }

    fn operation_fields(&self, d: &mut Described, op: &crate::domain::Operation) {
        d.field("id", &op.id);
        d.field("kind", op.kind.as_str());
        d.field("state", &op.state);
        d.field("active", if op.active { "yes" } else { "no" });
        if let Some(b) = &op.bot_id {
            d.field("bot", b);
        }
        if let Some(e) = &op.environment_id {
            d.field("environment", e);
        }
        if let Some(v) = &op.version_id {
            d.field("version", v);
        }
        d.field("created", &op.created_at);
        d.field("updated", &op.updated_at);
        if let Some(e) = &op.error_message {
            d.field("error", e);
        }
        for s in &op.steps {
            let mut v = step_state(s.state);
            if let Some(det) = &s.detail {
                v.push_str(&format!(" · {det}"));
            }
            d.field(&format!("step {}", s.name), v);
        }
    }

    fn describe_operation(&self, id: &str) -> Option<Described> {
        let op = self.operations.iter().find(|o| o.id == id);
        let canary = self.canaries.iter().find(|c| c.id == id);
        if op.is_none() && canary.is_none() {
            return None;
        }
        let mut d = Described::new(
            if canary.is_some() {
                "canary"
            } else {
                "operation"
            },
            id,
        );
        if let Some(op) = op {
            self.operation_fields(&mut d, op);
        }
        if let Some(c) = canary {
            self.canary_fields(&mut d, c);
        }
        Some(d)
    }

    fn canary_fields(&self, d: &mut Described, c: &crate::domain::Canary) {
        d.section(&format!("canary {}", c.id));
        d.field("id", &c.id);
        d.field("bot", &c.bot_id);
        d.field("environment", &c.environment_id);
        d.field("version", &c.version);
        d.field("stable version", &c.stable_version);
        d.field("state", c.state.as_str());
        d.field("canary weight", format::weight(c.canary_weight));
        d.field("max traffic", format::weight(c.max_traffic_percentage));
        d.field("started", &c.started_at);
        d.field("updated", &c.updated_at);
        for w in &c.weight_history {
            d.field("weight set", format!("{w:?}"));
        }
    }

    fn describe_run(&self, id: OpId) -> Option<Described> {
        let r = self.runs.iter().find(|r| r.id == id)?;
        // `y` copies the operation id the CLI and the audit trail know it by.
        let tag = format!("#{}", r.id);
        let mut d = Described::new(
            if r.is_canary() { "canary" } else { "operation" },
            r.operation.as_deref().unwrap_or(&tag),
        );
        d.field("run", &tag);
        if let Some(op) = &r.operation {
            d.field("operation", op);
        }
        d.field("kind", r.kind_name());
        d.field("title", &r.title);
        if let Some(b) = &r.bot {
            d.field("bot", b);
        }
        d.field("state", r.state_text());
        if let Some((_, msg)) = &r.outcome {
            d.field("outcome", msg);
        }
        d.field("started", r.started_at.to_rfc3339());
        if let Some(f) = r.finished_at {
            d.field("finished", f.to_rfc3339());
        }
        if let Some(p) = r.paused_at {
            d.field("paused since", p.to_rfc3339());
        }
        if let Some(w) = &r.waiting {
            d.field(
                "waiting for",
                format!("{} until {}", w.what, w.until.to_rfc3339()),
            );
        }
        for sid in &r.server_ids {
            d.field("server operation", sid);
        }
        if let Some(detail) = &r.last_detail {
            d.field("last detail", detail);
        }
        d.section("steps");
        for s in &r.steps {
            let mut v = step_state(s.state);
            if let Some(det) = &s.detail {
                v.push_str(&format!(" · {det}"));
            }
            d.field(&s.name, v);
        }
        if let Some(s) = &r.sample {
            d.section("canary now");
            d.field("step", format!("{}/{}", s.step, s.steps_total));
            d.field("weight set", format::weight(s.weight_set));
            if let Some(a) = s.weight_actual {
                d.field("weight reported", format::weight(a));
            }
        }
        if !r.decisions.is_empty() {
            d.section(&format!("decisions ({})", r.decisions.len()));
            for (i, dec) in r.decisions.iter().enumerate() {
                d.field(
                    &format!("{} {}", i + 1, dec.at),
                    format!(
                        "step {} at {}: {} · {} (canary {} / baseline {} conversations)",
                        dec.step,
                        format::weight(dec.weight),
                        dec.action,
                        dec.reason,
                        dec.n_canary,
                        dec.n_baseline
                    ),
                );
            }
        }
        for sid in &r.server_ids {
            if let Some(c) = self.canaries.iter().find(|c| &c.id == sid) {
                self.canary_fields(&mut d, c);
            }
        }
        Some(d)
    }

    fn describe_audit(&self, i: usize) -> Option<Described> {
        let e = *self.visible_timeline().get(i)?;
        let id = e.op.clone().unwrap_or_else(|| e.at.to_rfc3339());
        let mut d = Described::new("audit record", &id);
        d.field("at", e.at.to_rfc3339());
        if let Some(op) = &e.op {
            d.field("operation", op);
        }
        if let Some(b) = &e.bot {
            d.field("bot", b);
        }
        d.field("what", &e.text);
        for (k, v) in &e.figures {
            d.field(k, v);
        }
        Some(d)
    }
}

fn step_state(s: crate::domain::StepState) -> String {
    format!("{s:?}").to_lowercase()
}

//! The console's own records: list positions, workflow runs as progress events describe
//! them, toasts. Plain data, changed only by `App::update`.

use chrono::{DateTime, Utc};

use crate::domain::StepState;
use crate::engine::events::{CanaryDecision, CanarySample, OpId, Outcome, WorkflowKind};

use super::theme::Tone;

/// Selection and scroll offset of a list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListPos {
    pub selected: usize,
    pub offset: usize,
}

impl ListPos {
    pub fn move_by(&mut self, delta: isize, len: usize) {
        if len == 0 {
            *self = ListPos::default();
            return;
        }
        let cur = self.selected.min(len - 1) as isize;
        self.selected = (cur + delta).clamp(0, len as isize - 1) as usize;
    }

    pub fn clamp(&mut self, len: usize) {
        if len == 0 {
            *self = ListPos::default();
        } else if self.selected >= len {
            self.selected = len - 1;
        }
    }

    /// Scroll so the selected row is one of the `height` visible rows.
    pub fn ensure_visible(&mut self, height: usize) {
        let height = height.max(1);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + height {
            self.offset = self.selected + 1 - height;
        }
    }
}

/// The selected decision of the Canary pane's analysis history. It follows the newest
/// decision until the operator moves up, and again once they move back to the bottom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryPos {
    /// The run whose history the position is in; another run starts at its newest.
    pub run: Option<OpId>,
    pub pos: ListPos,
    pub follow: bool,
}

impl Default for HistoryPos {
    fn default() -> Self {
        HistoryPos {
            run: None,
            pos: ListPos::default(),
            follow: true,
        }
    }
}

impl HistoryPos {
    /// The selected index among `len` decisions of `run`.
    pub fn selected(&self, run: OpId, len: usize) -> Option<usize> {
        let last = len.checked_sub(1)?;
        if self.follow || self.run != Some(run) {
            Some(last)
        } else {
            Some(self.pos.selected.min(last))
        }
    }

    pub fn move_by(&mut self, run: OpId, delta: isize, len: usize) {
        let Some(cur) = self.selected(run, len) else {
            *self = HistoryPos::default();
            return;
        };
        if self.run != Some(run) {
            *self = HistoryPos {
                run: Some(run),
                ..HistoryPos::default()
            };
        }
        self.pos.selected = cur;
        self.pos.move_by(delta, len);
        self.follow = self.pos.selected + 1 == len;
    }

    /// Select decision `i` of `run`.
    pub fn select(&mut self, run: OpId, i: usize, len: usize) {
        self.move_by(run, 0, len);
        self.pos.selected = i.min(len.saturating_sub(1));
        self.follow = self.pos.selected + 1 == len;
    }

    /// The first of `height` visible rows, so the selection shows and no row is left empty.
    pub fn offset(&self, run: OpId, len: usize, height: usize) -> usize {
        let height = height.max(1);
        let Some(sel) = self.selected(run, len) else {
            return 0;
        };
        let mut pos = if self.follow || self.run != Some(run) {
            ListPos {
                selected: sel,
                offset: len.saturating_sub(height),
            }
        } else {
            ListPos {
                selected: sel,
                offset: self.pos.offset,
            }
        };
        pos.ensure_visible(height);
        pos.offset.min(len.saturating_sub(height))
    }
}

/// One step of a workflow run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunStep {
    pub name: String,
    pub state: StepState,
    pub started: Option<DateTime<Utc>>,
    pub finished: Option<DateTime<Utc>>,
    pub detail: Option<String>,
}

/// Nothing happens in a run until `until` (wall time): the next poll or canary decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Waiting {
    pub what: String,
    pub until: DateTime<Utc>,
}

/// A workflow of this process, as its progress events describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct OpRun {
    pub id: OpId,
    /// The operation id of its audit records and journal (`op-…`), once it started.
    pub operation: Option<String>,
    pub workflow: Option<WorkflowKind>,
    pub title: String,
    pub bot: Option<String>,
    pub steps: Vec<RunStep>,
    pub started_at: DateTime<Utc>,
    pub paused_at: Option<DateTime<Utc>>,
    pub waiting: Option<Waiting>,
    pub sample: Option<CanarySample>,
    /// The canary's analysis history: every decision, oldest first.
    pub decisions: Vec<CanaryDecision>,
    pub outcome: Option<(Outcome, String)>,
    pub finished_at: Option<DateTime<Utc>>,
    pub last_detail: Option<String>,
    /// Server operations this run created (their ids), shown as part of the run.
    pub server_ids: Vec<String>,
}

impl OpRun {
    pub fn new(id: OpId, at: DateTime<Utc>) -> OpRun {
        OpRun {
            id,
            operation: None,
            workflow: None,
            title: format!("operation #{id}"),
            bot: None,
            steps: Vec::new(),
            started_at: at,
            paused_at: None,
            waiting: None,
            sample: None,
            decisions: Vec::new(),
            outcome: None,
            finished_at: None,
            last_detail: None,
            server_ids: Vec::new(),
        }
    }

    pub fn is_active(&self) -> bool {
        self.outcome.is_none()
    }

    /// The step a canary run reached and the steps in its plan, from its own events: the
    /// newest look or decision, whichever is further.
    pub fn canary_reached(&self) -> Option<(usize, Option<usize>)> {
        let from_sample = self.sample.as_ref().map(|s| s.step);
        let from_decisions = self.decisions.iter().map(|d| d.step).max();
        let n = from_sample.into_iter().chain(from_decisions).max()?;
        Some((n, self.sample.as_ref().map(|s| s.steps_total)))
    }

    pub fn is_canary(&self) -> bool {
        self.workflow == Some(WorkflowKind::Canary)
    }

    pub fn kind_name(&self) -> &'static str {
        self.workflow.map(|w| w.as_str()).unwrap_or("operation")
    }

    /// The step with this name, created (pending) if the run did not announce it.
    pub fn step_mut(&mut self, name: &str) -> &mut RunStep {
        let idx = match self.steps.iter().position(|s| s.name == name) {
            Some(i) => i,
            None => {
                self.steps.push(RunStep {
                    name: name.to_string(),
                    state: StepState::Pending,
                    started: None,
                    finished: None,
                    detail: None,
                });
                self.steps.len() - 1
            }
        };
        &mut self.steps[idx]
    }

    /// One line saying where the run is.
    pub fn state_text(&self) -> String {
        match &self.outcome {
            Some((o, _)) => o.as_str().replace('_', " "),
            None if self.paused_at.is_some() => "paused".to_string(),
            None => match self.steps.iter().find(|s| s.state == StepState::Running) {
                Some(s) => s.name.clone(),
                None => "running".to_string(),
            },
        }
    }
}

/// A short-lived notice in the corner.
#[derive(Debug, Clone, PartialEq)]
pub struct Toast {
    pub tone: Tone,
    pub text: String,
    pub until: DateTime<Utc>,
}

/// How a list is ordered and narrowed: the operator's sort (none: the list's own order)
/// and filter. Every list pane keeps its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListView {
    /// The sort key (an index into the pane's [`sort_keys`]) and whether it runs
    /// descending.
    pub sort: Option<(usize, bool)>,
    /// Case-insensitive substring over the row's visible text; empty lets everything by.
    pub filter: String,
}

/// The sort keys of a list pane, in the order `s` cycles them, each with whether it starts
/// descending (times start newest first).
pub fn sort_keys(pane: super::layout::PaneId) -> &'static [(&'static str, bool)] {
    use super::layout::PaneId;
    match pane {
        PaneId::Bots => &[("name", false), ("state", false), ("last change", true)],
        PaneId::Versions => &[("version", false), ("created", true), ("status", false)],
        PaneId::Deployments => &[("started", true), ("state", false), ("bot", false)],
        PaneId::Timeline => &[("time", true), ("op", false), ("bot", false)],
        PaneId::Canary => &[],
    }
}

impl ListView {
    /// `s`: the next sort key (each with its own first direction), then the list's own
    /// order again.
    pub fn cycle_sort(&mut self, pane: super::layout::PaneId) {
        let keys = sort_keys(pane);
        let next = match self.sort {
            None => 0,
            Some((k, _)) => k + 1,
        };
        self.sort = keys.get(next).map(|(_, desc)| (next, *desc));
    }

    /// `S`: the same key the other way round (the first key, reversed, if none is set).
    pub fn reverse_sort(&mut self, pane: super::layout::PaneId) {
        let keys = sort_keys(pane);
        self.sort = match self.sort {
            Some((k, desc)) => Some((k, !desc)),
            None => keys.first().map(|(_, desc)| (0, !*desc)),
        };
    }

    /// What the pane title says: `sort name ↑ · filter "care"` (empty when neither).
    pub fn title(&self, pane: super::layout::PaneId) -> String {
        let mut parts = Vec::new();
        if let Some((k, desc)) = self.sort
            && let Some((name, _)) = sort_keys(pane).get(k)
        {
            parts.push(format!("sort {name} {}", if desc { "↓" } else { "↑" }));
        }
        if !self.filter.is_empty() {
            parts.push(format!("filter {:?}", self.filter));
        }
        parts.join(" · ")
    }

    /// Whether `text` (the row's visible text) passes the filter.
    pub fn matches(&self, text: &str) -> bool {
        self.filter.is_empty() || text.to_lowercase().contains(&self.filter.to_lowercase())
    }
}

/// The list views of the four list panes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Views {
    pub bots: ListView,
    pub versions: ListView,
    pub deployments: ListView,
    pub timeline: ListView,
}

impl Views {
    pub fn get(&self, pane: super::layout::PaneId) -> Option<&ListView> {
        use super::layout::PaneId;
        match pane {
            PaneId::Bots => Some(&self.bots),
            PaneId::Versions => Some(&self.versions),
            PaneId::Deployments => Some(&self.deployments),
            PaneId::Timeline => Some(&self.timeline),
            PaneId::Canary => None,
        }
    }

    pub fn get_mut(&mut self, pane: super::layout::PaneId) -> Option<&mut ListView> {
        use super::layout::PaneId;
        match pane {
            PaneId::Bots => Some(&mut self.bots),
            PaneId::Versions => Some(&mut self.versions),
            PaneId::Deployments => Some(&mut self.deployments),
            PaneId::Timeline => Some(&mut self.timeline),
            PaneId::Canary => None,
        }
    }
}

/// Compare two strings with runs of digits compared as numbers (`v2` before `v10`),
/// ignoring case.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut a, mut b) = (a.chars().peekable(), b.chars().peekable());
    loop {
        match (a.peek().copied(), b.peek().copied()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let mut na = String::new();
                while let Some(c) = a.peek().copied().filter(char::is_ascii_digit) {
                    na.push(c);
                    a.next();
                }
                let mut nb = String::new();
                while let Some(c) = b.peek().copied().filter(char::is_ascii_digit) {
                    nb.push(c);
                    b.next();
                }
                let (ta, tb) = (na.trim_start_matches('0'), nb.trim_start_matches('0'));
                let o = ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb));
                if o != Ordering::Equal {
                    return o;
                }
            }
            (Some(x), Some(y)) => {
                let o = x.to_lowercase().cmp(y.to_lowercase());
                if o != Ordering::Equal {
                    return o;
                }
                a.next();
                b.next();
            }
        }
    }
}

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

//! The console's state and its one pure transition: `App::update(action) -> Vec<Effect>`.
//! No I/O, no awaits, no clock reads: time arrives as `Action::Tick(now)`, data as
//! `Action::Update`, and everything the console wants done leaves as an `Effect`.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent};
use ratatui::layout::Rect;
use tui_input::Input;

use crate::domain::{BotSummary, Canary, MetricsSeries, Operation, Version};

use super::component::PaneMsg;
use super::keymap::{Command, Keymap};
use super::layout::PaneId;
use super::messages::{Effect, Interest, RefreshWhat, RequestId, Seen, TimelineEntry, Update};
pub use super::model::CanaryTarget;
use super::model::{DeployItem, DescribeTarget};
use super::panes::Panes;
use super::state::{ListPos, OpRun, Toast};
use super::theme::{Theme, Tone};
use super::widgets::confirm::ConfirmState;
use super::widgets::form::FormState;
use super::widgets::palette::PaletteState;
use super::widgets::picker::PickerState;

/// How the console is set up; everything here comes from the profile and config.
#[derive(Debug, Clone, PartialEq)]
pub struct AppConfig {
    pub profile: String,
    pub production: bool,
    pub read_only: bool,
    pub theme: String,
    /// `NO_COLOR` was set: monochrome whatever `theme` says.
    pub no_color: bool,
    /// Key → command name overrides on top of the defaults.
    pub keymap: BTreeMap<String, String>,
    pub log_path: Option<PathBuf>,
    /// Server clock speed (`relcon sim --speed`): waits in progress events are server time.
    pub clock_speed: f64,
    /// What the canary plan form starts with.
    pub canary_defaults: super::plan::CanaryDefaults,
    /// The rollback picker's starting session limit (the profile's `max_active_sessions`).
    pub rollback_max_sessions: u32,
    /// The backend switches by re-pointing channels (Cognigy.AI endpoints), not by moving
    /// traffic weights: the deploy preview says so.
    pub repoints: bool,
    /// Data older than this (server seconds) is marked stale.
    pub stale_after: i64,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            profile: "default".to_string(),
            production: false,
            read_only: false,
            theme: "dark".to_string(),
            no_color: false,
            keymap: BTreeMap::new(),
            log_path: None,
            clock_speed: 1.0,
            canary_defaults: super::plan::CanaryDefaults::default(),
            rollback_max_sessions: 0,
            repoints: false,
            stale_after: super::component::STALE_AFTER,
        }
    }
}

/// Everything that can happen to the console.
// Updates are the big variant and the common one; boxing them would only add allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Paste(String),
    Resize {
        width: u16,
        height: u16,
    },
    /// The wall clock, once per tick.
    Tick(DateTime<Utc>),
    Update(Update),
}

impl Action {
    /// What the operator did (a key, a click or scroll, a paste, a resize), as opposed to
    /// what arrived: drawn without waiting for the frame cap's next slot. Mouse moves are
    /// not input in this sense.
    pub fn is_input(&self) -> bool {
        match self {
            Action::Key(k) => k.kind != KeyEventKind::Release,
            Action::Mouse(m) => !matches!(m.kind, crossterm::event::MouseEventKind::Moved),
            Action::Paste(_) | Action::Resize { .. } => true,
            Action::Tick(_) | Action::Update(_) => false,
        }
    }

    /// The action a terminal event stands for (focus changes are ignored).
    pub fn from_event(event: Event) -> Option<Action> {
        match event {
            Event::Key(k) => Some(Action::Key(k)),
            Event::Mouse(m) => Some(Action::Mouse(m)),
            Event::Paste(s) => Some(Action::Paste(s)),
            Event::Resize(width, height) => Some(Action::Resize { width, height }),
            Event::FocusGained | Event::FocusLost => None,
        }
    }
}

/// A modal on top of the panes; the topmost one gets the keys, `esc` pops it.
#[derive(Debug, Clone)]
pub enum Overlay {
    Help {
        scroll: u16,
    },
    Palette(PaletteState),
    Confirm(Box<ConfirmState>),
    CanaryForm(Box<FormState>, CanaryTarget),
    RollbackPicker(Box<PickerState>),
    /// One decision of a canary's analysis history (run, index), scrolled by `scroll`.
    Decision {
        run: crate::engine::events::OpId,
        index: usize,
        scroll: u16,
    },
    Error {
        title: String,
        detail: String,
        hint: String,
    },
    /// The whole object behind a row, scrolled by `scroll`.
    Describe {
        target: DescribeTarget,
        scroll: u16,
    },
}

impl Overlay {
    pub fn name(&self) -> &'static str {
        match self {
            Overlay::Help { .. } => "help",
            Overlay::Palette(_) => "palette",
            Overlay::Confirm(_) => "confirm",
            Overlay::CanaryForm(..) => "canary_form",
            Overlay::RollbackPicker(_) => "rollback_picker",
            Overlay::Decision { .. } => "decision",
            Overlay::Error { .. } => "error",
            Overlay::Describe { .. } => "describe",
        }
    }
}

/// Latest-wins bookkeeping for one re-fetchable view.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Track {
    /// Responses to requests older than this are for something no longer shown.
    pub min: RequestId,
    /// The newest response applied.
    pub applied: RequestId,
}

impl Track {
    pub fn accept(&mut self, req: RequestId) -> bool {
        if req < self.min || req < self.applied {
            return false;
        }
        self.applied = req;
        true
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Tracks {
    pub bots: Track,
    pub versions: Track,
    pub operations: Track,
    pub canaries: Track,
    pub series: Track,
    pub timeline: Track,
}

/// The whole console state.
pub struct App {
    pub(crate) canary_defaults: super::plan::CanaryDefaults,
    pub(crate) rollback_max_sessions: u32,
    pub(crate) repoints: bool,
    pub(crate) stale_after: i64,
    pub(crate) profile: String,
    pub(crate) production: bool,
    pub(crate) read_only: bool,
    pub(crate) theme: Theme,
    pub(crate) no_color: bool,
    pub(crate) keymap: Keymap,
    pub(crate) log_path: Option<PathBuf>,
    pub(crate) clock_speed: f64,

    pub(crate) now: DateTime<Utc>,
    pub(crate) started: bool,
    pub(crate) last_second: i64,
    pub(crate) size: Rect,

    pub(crate) bots: Vec<BotSummary>,
    /// Each bot's row widths, measured when it arrived.
    pub(crate) bot_measures: HashMap<String, super::panes::bots::BotMeasure>,
    /// The versions of one bot (its id), newest first: the pages read so far.
    pub(crate) versions: Option<(String, Vec<Version>)>,
    /// How many versions that bot has, when the server said.
    pub(crate) versions_total: Option<u64>,
    pub(crate) operations: Vec<Operation>,
    pub(crate) canaries: Vec<Canary>,
    pub(crate) series: Option<MetricsSeries>,
    pub(crate) runs: Vec<OpRun>,
    pub(crate) audit: Vec<TimelineEntry>,
    pub(crate) local_timeline: Vec<TimelineEntry>,
    /// The newest row the last merge of audit and local rows weighed.
    pub(crate) merged_until: Option<DateTime<Utc>>,
    pub(crate) connection: Option<(bool, String)>,

    pub(crate) next_req: RequestId,
    pub(crate) tracks: Tracks,
    pub(crate) series_key: Option<(String, Option<String>)>,
    /// What the runtime was last told the screen shows.
    pub(crate) interest_sent: Option<Interest>,
    /// When each kind of data last arrived (or was found unchanged).
    pub(crate) seen: HashMap<Seen, DateTime<Utc>>,
    /// Requests in the platform's window, the budget, 429s seen.
    pub(crate) budget: Option<(u32, u32, u64)>,

    pub(crate) focus: PaneId,
    pub(crate) selected_bot: Option<String>,
    /// The five panes: each one's position, sort and filter.
    pub(crate) panes: Panes,
    /// Wide mode (`w`): every column at full width, nothing dropped.
    pub(crate) wide: bool,
    /// The filter being typed (`/`), and the pane whose filter it is.
    pub(crate) filter_input: Option<Input>,
    pub(crate) filter_pane: PaneId,
    pub(crate) overlays: Vec<Overlay>,
    pub(crate) toasts: Vec<Toast>,

    pub(crate) dirty: bool,
    pub(crate) quit: bool,
    pub(crate) quit_when_idle: bool,
    /// Printed once the screen is restored: what was left running and how to pick it up.
    pub(crate) exit_notes: Vec<String>,
}

/// The identity of a list row, to keep it selected when the rows are sorted or filtered.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RowKey {
    Bot(String),
    Version(String),
    Deploy(DeployItem),
    Timeline(Box<TimelineEntry>),
}

/// How long toasts stay.
const TOAST_SECS: i64 = 8;
/// The data's ages in the panes' titles move every this many wall seconds (a frame each).
const AGE_REDRAW_SECS: i64 = 2;
/// Versions asked for beyond the rows on screen, so scrolling finds them there.
const VERSIONS_AHEAD: usize = 10;

impl App {
    pub fn new(config: AppConfig) -> App {
        let (keymap, warnings) = Keymap::from_config(&config.keymap);
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let mut app = App {
            canary_defaults: config.canary_defaults.clone(),
            rollback_max_sessions: config.rollback_max_sessions,
            repoints: config.repoints,
            stale_after: config.stale_after.max(1),
            theme: Theme::named(&config.theme, config.no_color),
            no_color: config.no_color,
            profile: crate::sanitize::clean(&config.profile),
            production: config.production,
            read_only: config.read_only,
            keymap,
            log_path: config.log_path,
            clock_speed: if config.clock_speed.is_finite() && config.clock_speed > 0.0 {
                config.clock_speed
            } else {
                1.0
            },
            now,
            started: false,
            last_second: 0,
            size: Rect::new(0, 0, 80, 24),
            bots: Vec::new(),
            bot_measures: HashMap::new(),
            versions: None,
            versions_total: None,
            operations: Vec::new(),
            canaries: Vec::new(),
            series: None,
            runs: Vec::new(),
            audit: Vec::new(),
            local_timeline: Vec::new(),
            merged_until: None,
            connection: None,
            next_req: 0,
            tracks: Tracks::default(),
            series_key: None,
            interest_sent: None,
            seen: HashMap::new(),
            budget: None,
            focus: PaneId::Bots,
            selected_bot: None,
            panes: Panes::default(),
            wide: false,
            filter_input: None,
            filter_pane: PaneId::Bots,
            overlays: Vec::new(),
            toasts: Vec::new(),
            dirty: true,
            quit: false,
            quit_when_idle: false,
            exit_notes: Vec::new(),
        };
        for w in warnings {
            app.toast(Tone::Warn, w);
        }
        app
    }

    // ---- what the loop and the tests read ----

    /// Something changed since the last draw.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// The loop drew the current state.
    pub fn mark_drawn(&mut self) {
        self.dirty = false;
    }

    /// The console should close now.
    pub fn should_quit(&self) -> bool {
        self.quit
    }

    pub fn focus(&self) -> PaneId {
        self.focus
    }

    /// The name of the topmost overlay, if any (`help`, `palette`, `confirm`, ...).
    pub fn overlay(&self) -> Option<&'static str> {
        self.overlays.last().map(Overlay::name)
    }

    /// The texts of the toasts on screen, oldest first.
    pub fn toast_texts(&self) -> Vec<String> {
        self.toasts.iter().map(|t| t.text.clone()).collect()
    }

    pub fn selected_bot_id(&self) -> Option<&str> {
        self.selected_bot.as_deref()
    }

    /// Workflows of this process still running.
    pub fn active_runs(&self) -> usize {
        self.runs.iter().filter(|r| r.is_active()).count()
    }

    // ---- the transition ----

    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        let mut out = Vec::new();
        match action {
            Action::Tick(now) => self.on_tick(now, &mut out),
            Action::Resize { width, height } => {
                self.size = Rect::new(0, 0, width, height);
                self.keep_visible();
                self.dirty = true;
            }
            Action::Key(key) => {
                if key.kind != KeyEventKind::Release {
                    self.on_key(key, &mut out);
                    self.dirty = true;
                }
            }
            Action::Mouse(m) => self.on_mouse(m, &mut out),
            Action::Paste(text) => self.on_paste(&text),
            Action::Update(update) => self.on_update(update, &mut out),
        }
        self.ensure_loads(&mut out);
        if self.read_only && out.iter().any(Effect::is_mutating) {
            // Every mutating path checks first; this is the last line of defence.
            out.retain(|e| !e.is_mutating());
            self.toast(
                Tone::Bad,
                "Read-only profile: refused a change; nothing was sent.".to_string(),
            );
        }
        if out.contains(&Effect::Quit) {
            self.quit = true;
        }
        out
    }

    /// What to print once the screen is restored (operations left running), taken once.
    pub fn take_exit_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.exit_notes)
    }

    /// What quitting now would print (for tests).
    pub fn exit_notes(&self) -> &[String] {
        &self.exit_notes
    }

    pub(crate) fn req(&mut self) -> RequestId {
        self.next_req += 1;
        self.next_req
    }

    pub(crate) fn toast(&mut self, tone: Tone, text: String) {
        self.toasts.push(Toast {
            tone,
            text,
            until: self.now + chrono::Duration::seconds(TOAST_SECS),
        });
        if self.toasts.len() > 6 {
            self.toasts.remove(0);
        }
        self.dirty = true;
    }

    /// Read everything on screen now (the refresh key, the first frame, a change this
    /// console made). Between those, the runtime's scheduler keeps it fresh.
    pub(crate) fn refresh_all(&mut self, out: &mut Vec<Effect>) {
        let req = self.req();
        out.push(Effect::Refresh {
            what: RefreshWhat::All,
            req,
        });
    }

    fn on_tick(&mut self, now: DateTime<Utc>, out: &mut Vec<Effect>) {
        self.now = now;
        if !self.started {
            self.started = true;
            self.refresh_all(out);
            self.dirty = true;
        }
        let before = self.toasts.len();
        self.toasts.retain(|t| t.until > now);
        if self.toasts.len() != before {
            self.dirty = true;
        }
        let second = now.timestamp();
        if second != self.last_second {
            self.last_second = second;
            // Elapsed times, countdowns and the data's ages move once a second.
            if self.runs.iter().any(|r| r.is_active())
                || !self.toasts.is_empty()
                || (!self.seen.is_empty() && second % AGE_REDRAW_SECS == 0)
            {
                self.dirty = true;
            }
        }
        if self.quit_when_idle && self.active_runs() == 0 {
            out.push(Effect::Quit);
        }
    }

    /// Tell the runtime what the screen shows, when that changed: the selected bot, how
    /// far its versions are scrolled, the canary chart, whether anything runs.
    fn ensure_loads(&mut self, out: &mut Vec<Effect>) {
        let key = self
            .canary_view()
            .map(|v| (v.bot_id.clone(), v.env.clone()));
        if key != self.series_key {
            self.series = None;
            self.series_key = key.clone();
        }
        let pos = self.panes.versions.list.pos;
        let rows = (pos.selected + 1).max(pos.offset + self.body_height(PaneId::Versions));
        let running = self.active_runs() > 0
            || self.operations.iter().any(|o| o.active)
            || self.canaries.iter().any(|c| c.state.is_active());
        let interest = Interest {
            selected_bot: self.selected_bot.clone(),
            versions_rows: u32::try_from(rows + VERSIONS_AHEAD).unwrap_or(u32::MAX),
            series: key,
            running,
        };
        if self.interest_sent.as_ref() != Some(&interest) {
            self.interest_sent = Some(interest.clone());
            out.push(Effect::Interest(interest));
        }
    }

    // ---- keys ----

    fn on_key(&mut self, key: KeyEvent, out: &mut Vec<Effect>) {
        let ctrl_c =
            key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
        if !self.overlays.is_empty() {
            if ctrl_c {
                // ctrl-c closes whatever is open; a second one asks to quit.
                self.overlays.pop();
            } else {
                self.overlay_key(key, out);
            }
            return;
        }
        if ctrl_c {
            self.command(Command::Quit, out);
            return;
        }
        if self.filter_input.is_some() {
            self.filter_key(key, out);
            return;
        }
        if let Some(cmd) = self.keymap.command_for(&key) {
            self.command(cmd, out);
        }
    }

    fn filter_key(&mut self, key: KeyEvent, out: &mut Vec<Effect>) {
        let Some(input) = self.filter_input.as_mut() else {
            return;
        };
        match key.code {
            KeyCode::Enter => {
                self.filter_input = None;
            }
            KeyCode::Esc => {
                self.filter_input = None;
                self.set_filter(self.filter_pane, String::new());
            }
            KeyCode::Down | KeyCode::Up => {
                let delta = if key.code == KeyCode::Down { 1 } else { -1 };
                self.move_selection(delta);
            }
            _ => {
                super::widgets::input_key(input, key);
                let value = input.value().to_string();
                self.set_filter(self.filter_pane, value);
            }
        }
        let _ = out;
    }

    /// Set a list pane's filter, keeping the same object selected if it still shows.
    pub(crate) fn set_filter(&mut self, pane: PaneId, text: String) {
        let text = crate::sanitize::clean(&text);
        self.change_view(pane, |v| v.filter = text);
    }

    /// Change a pane's sort or filter; the selection stays on the same object (by id), or
    /// goes to the first row if the object no longer shows.
    pub(crate) fn change_view(
        &mut self,
        pane: PaneId,
        f: impl FnOnce(&mut super::state::ListView),
    ) {
        let keep = self.selected_row(pane);
        let Some(view) = self.panes.view_mut(pane) else {
            return;
        };
        f(view);
        self.reselect(pane, keep);
    }

    /// The object selected in a list pane.
    pub(crate) fn selected_row(&self, pane: PaneId) -> Option<RowKey> {
        match pane {
            PaneId::Bots => self.selected_bot.clone().map(RowKey::Bot),
            PaneId::Versions => self
                .selected_version()
                .map(|v| RowKey::Version(v.id.clone())),
            PaneId::Deployments => self
                .deploy_items()
                .get(self.panes.deployments.list.pos.selected)
                .map(|i| RowKey::Deploy(*i)),
            PaneId::Timeline => self
                .visible_timeline()
                .get(self.panes.timeline.list.pos.selected)
                .map(|e| RowKey::Timeline(Box::new((*e).clone()))),
            PaneId::Canary => None,
        }
    }

    /// Put a pane's selection back on `key` after its rows changed.
    fn reselect(&mut self, pane: PaneId, key: Option<RowKey>) {
        let (idx, n) = match pane {
            PaneId::Bots => {
                let rows = self.visible_bots();
                let idx = rows
                    .iter()
                    .position(|b| matches!(&key, Some(RowKey::Bot(id)) if *id == b.id));
                (idx, rows.len())
            }
            PaneId::Versions => {
                let rows = self.visible_versions();
                let idx = rows
                    .iter()
                    .position(|v| matches!(&key, Some(RowKey::Version(id)) if *id == v.id));
                (idx, rows.len())
            }
            PaneId::Deployments => {
                let rows = self.deploy_items();
                let idx = rows
                    .iter()
                    .position(|i| matches!(&key, Some(RowKey::Deploy(k)) if k == i));
                (idx, rows.len())
            }
            PaneId::Timeline => {
                let rows = self.visible_timeline();
                let idx = rows
                    .iter()
                    .position(|e| matches!(&key, Some(RowKey::Timeline(k)) if **k == **e));
                (idx, rows.len())
            }
            PaneId::Canary => return,
        };
        let pos = match pane {
            PaneId::Bots => &mut self.panes.bots.list.pos,
            PaneId::Versions => &mut self.panes.versions.list.pos,
            PaneId::Deployments => &mut self.panes.deployments.list.pos,
            _ => &mut self.panes.timeline.list.pos,
        };
        pos.selected = idx.unwrap_or(0);
        pos.clamp(n);
        pos.offset = 0;
        if pane == PaneId::Bots {
            let before = self.panes.versions.list.pos;
            self.sync_selected_bot();
            // The same bot: its versions' selection stays where it was.
            if self.selected_bot
                == key.and_then(|k| match k {
                    RowKey::Bot(id) => Some(id),
                    _ => None,
                })
            {
                self.panes.versions.list.pos = before;
            }
        }
        self.keep_visible();
    }

    fn on_paste(&mut self, text: &str) {
        let text = crate::sanitize::clean(text);
        let target = match self.overlays.last_mut() {
            Some(Overlay::Palette(p)) => Some(&mut p.input),
            Some(Overlay::CanaryForm(f, _)) => {
                let i = f.focus;
                f.fields.get_mut(i).map(|f| &mut f.input)
            }
            Some(Overlay::Confirm(c)) => c.typed.as_mut().map(|(_, i)| i),
            Some(_) => None,
            None => self.filter_input.as_mut(),
        };
        if let Some(input) = target {
            for c in text.chars() {
                input.handle(tui_input::InputRequest::InsertChar(c));
            }
            self.dirty = true;
        }
        if let Some(f) = self.filter_input.as_ref() {
            let v = f.value().to_string();
            self.set_filter(self.filter_pane, v);
        }
    }

    pub(crate) fn command(&mut self, cmd: Command, out: &mut Vec<Effect>) {
        if cmd.is_mutating() && self.read_only {
            self.refuse_read_only(cmd.name());
            return;
        }
        match cmd {
            Command::Quit => self.ask_quit(out),
            Command::Help => self.overlays.push(Overlay::Help { scroll: 0 }),
            Command::Palette => self
                .overlays
                .push(Overlay::Palette(PaletteState::default())),
            Command::Filter => {
                // The Canary pane has no list: its bot comes from the Bots pane.
                if self.focus == PaneId::Canary {
                    self.focus = PaneId::Bots;
                }
                self.filter_pane = self.focus;
                let current = self
                    .panes
                    .view(self.focus)
                    .map(|v| v.filter.clone())
                    .unwrap_or_default();
                self.filter_input = Some(Input::new(current));
            }
            Command::Sort | Command::SortReverse => {
                let pane = self.focus;
                if self.panes.view(pane).is_none() {
                    self.toast(
                        Tone::Muted,
                        format!("The {} pane has no list to sort.", pane.title()),
                    );
                } else {
                    self.change_view(pane, |v| {
                        if cmd == Command::Sort {
                            v.cycle_sort(pane)
                        } else {
                            v.reverse_sort(pane)
                        }
                    });
                }
            }
            Command::NextPane => self.focus = self.focus.next(),
            Command::PrevPane => self.focus = self.focus.prev(),
            Command::Down => self.move_selection(1),
            Command::Up => self.move_selection(-1),
            Command::PageDown => {
                let h = self.body_height(self.focus) as isize;
                self.move_selection(h.max(1));
            }
            Command::PageUp => {
                let h = self.body_height(self.focus) as isize;
                self.move_selection(-h.max(1));
            }
            Command::Top => self.move_selection(isize::MIN / 2),
            Command::Bottom => self.move_selection(isize::MAX / 2),
            Command::Select => self.select(),
            Command::Back => self.back(),
            Command::Refresh => {
                self.refresh_all(out);
                self.toast(Tone::Muted, "Refreshing…".to_string());
            }
            Command::Deploy => self.start_deploy(None, out),
            Command::Canary => self.start_canary(None),
            Command::Rollback => self.start_rollback(out),
            Command::PromoteStep => self.promote(false),
            Command::PromoteFull => self.promote(true),
            Command::PauseResume => self.pause_resume(None, out),
            Command::Abort => self.abort(),
            Command::Describe => self.open_describe(),
            Command::CopyId => self.copy_id(None, out),
            Command::Wide => {
                self.wide = !self.wide;
                self.toast(
                    Tone::Muted,
                    if self.wide {
                        "Wide mode: every column at full width (w again to fit the pane)."
                    } else {
                        "Columns fit the pane; w shows every column."
                    }
                    .to_string(),
                );
            }
        }
        self.keep_visible();
    }

    pub(crate) fn refuse_read_only(&mut self, what: &str) {
        self.toast(
            Tone::Warn,
            format!(
                "Read-only profile: {} refused. Nothing was sent.",
                what.replace('_', " ")
            ),
        );
    }

    /// Enter: the selected decision in the Canary pane, else the selected row described.
    fn select(&mut self) {
        match self.focus {
            PaneId::Canary if self.history_run().is_some_and(|(_, n)| n > 0) => {
                self.open_decision()
            }
            _ => self.open_describe(),
        }
    }

    /// Describe the selected row of the focused pane.
    pub(crate) fn open_describe(&mut self) {
        match self.describe_target() {
            Some(target) => self.overlays.push(Overlay::Describe { target, scroll: 0 }),
            None => self.toast(Tone::Muted, "Nothing selected to describe.".to_string()),
        }
    }

    /// Copy the id of what describe shows, else of the selected row: OSC 52 to the
    /// terminal, and the id in a toast for selecting by hand.
    fn copy_id(&mut self, target: Option<&DescribeTarget>, out: &mut Vec<Effect>) {
        let target = match target {
            Some(t) => Some(t.clone()),
            None => self.describe_target(),
        };
        let Some(d) = target.and_then(|t| self.described(&t)) else {
            self.toast(Tone::Muted, "Nothing selected to copy.".to_string());
            return;
        };
        out.push(Effect::Copy(d.id.clone()));
        self.toast(
            Tone::Good,
            format!(
                "Copied {} {} (OSC 52; where the terminal refuses, select it here)",
                d.kind, d.id
            ),
        );
    }

    fn describe_key(
        &mut self,
        key: KeyEvent,
        target: DescribeTarget,
        scroll: u16,
        out: &mut Vec<Effect>,
    ) {
        let body = Rect::new(0, 0, self.size.width, self.size.height.saturating_sub(1));
        let Some(d) = self.described(&target) else {
            // The object is gone (the list changed); nothing left to show.
            return;
        };
        let max = super::widgets::describe::max_scroll(&d, body);
        let page = super::widgets::describe::body_rows(body);
        let command = self.keymap.command_for(&key);
        let scroll = match (key.code, command) {
            (KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q'), _)
            | (_, Some(Command::Back | Command::Quit | Command::Describe)) => return,
            (_, Some(Command::CopyId)) => {
                self.copy_id(Some(&target), out);
                scroll
            }
            (KeyCode::Down, _) | (_, Some(Command::Down)) => scroll.saturating_add(1),
            (KeyCode::Up, _) | (_, Some(Command::Up)) => scroll.saturating_sub(1),
            (KeyCode::PageDown | KeyCode::Char(' '), _) | (_, Some(Command::PageDown)) => {
                scroll.saturating_add(page)
            }
            (KeyCode::PageUp, _) | (_, Some(Command::PageUp)) => scroll.saturating_sub(page),
            (KeyCode::Home, _) | (_, Some(Command::Top)) => 0,
            (KeyCode::End, _) | (_, Some(Command::Bottom)) => max,
            _ => scroll,
        };
        self.overlays.push(Overlay::Describe {
            target,
            scroll: scroll.min(max),
        });
    }

    /// The canary run the Canary pane shows, and how many decisions it has.
    pub(crate) fn history_run(&self) -> Option<(crate::engine::events::OpId, usize)> {
        let run = self.canary_view()?.run?;
        Some((run.id, run.decisions.len()))
    }

    /// Open the selected decision of the analysis history.
    fn open_decision(&mut self) {
        let Some((run, n)) = self.history_run() else {
            return;
        };
        if let Some(index) = self.panes.canary.history.selected(run, n) {
            self.overlays.push(Overlay::Decision {
                run,
                index,
                scroll: 0,
            });
        }
    }

    fn back(&mut self) {
        if self
            .panes
            .view(self.focus)
            .is_some_and(|v| !v.filter.is_empty())
        {
            self.set_filter(self.focus, String::new());
            return;
        }
        self.focus = match self.focus {
            PaneId::Versions => PaneId::Bots,
            PaneId::Canary => PaneId::Deployments,
            PaneId::Bots => PaneId::Bots,
            _ => PaneId::Bots,
        };
    }

    /// Select the bot with this id (clearing a filter that hides it).
    pub(crate) fn select_bot(&mut self, id: &str) -> bool {
        if !self.visible_bots().iter().any(|b| b.id == id) {
            self.panes.bots.list.view.filter.clear();
        }
        match self.visible_bots().iter().position(|b| b.id == id) {
            Some(i) => {
                self.panes.bots.list.pos.selected = i;
                self.sync_selected_bot();
                self.keep_visible();
                true
            }
            None => false,
        }
    }

    pub(crate) fn move_selection(&mut self, delta: isize) {
        self.pane_update(self.focus, PaneMsg::Move(delta));
    }

    /// Ask a pane to move its selection among the rows it shows now; the bot selected
    /// follows the Bots pane.
    pub(crate) fn pane_update(&mut self, pane: PaneId, msg: PaneMsg) {
        let rows = self.panes.get(pane).rows(self);
        self.panes.get_mut(pane).update(msg, rows);
        if pane == PaneId::Bots {
            self.sync_selected_bot();
        }
        self.keep_visible();
    }

    /// Make `selected_bot` follow the bots list position.
    pub(crate) fn sync_selected_bot(&mut self) {
        let id = self
            .visible_bots()
            .get(self.panes.bots.list.pos.selected)
            .map(|b| b.id.clone());
        if id != self.selected_bot {
            self.selected_bot = id;
            self.panes.versions.list.pos = ListPos::default();
        }
    }

    pub(crate) fn overlay_key(&mut self, key: KeyEvent, out: &mut Vec<Effect>) {
        let Some(top) = self.overlays.pop() else {
            return;
        };
        match top {
            Overlay::Help { scroll } => {
                // The help owns the keyboard until it is closed: other keys do nothing.
                let keep = match key.code {
                    KeyCode::Char('j') | KeyCode::Down => Some(scroll.saturating_add(1)),
                    KeyCode::Char('k') | KeyCode::Up => Some(scroll.saturating_sub(1)),
                    KeyCode::PageDown | KeyCode::Char(' ') => Some(scroll.saturating_add(10)),
                    KeyCode::PageUp => Some(scroll.saturating_sub(10)),
                    KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q' | '?') => None,
                    _ if self.keymap.command_for(&key) == Some(Command::Help) => None,
                    _ => Some(scroll),
                };
                if let Some(scroll) = keep {
                    self.overlays.push(Overlay::Help { scroll });
                }
            }
            Overlay::Decision { run, index, scroll } => self.decision_key(key, run, index, scroll),
            Overlay::Describe { target, scroll } => self.describe_key(key, target, scroll, out),
            Overlay::Error { .. } => {
                // Only esc and enter close it: text typed on after an error (a palette line
                // half-written) must never reach the panes as hotkeys.
                if !matches!(key.code, KeyCode::Esc | KeyCode::Enter) {
                    self.overlays.push(top);
                }
            }
            Overlay::Palette(mut p) => {
                let data = self.completion_data();
                match p.handle_key(key, &data) {
                    super::widgets::palette::PaletteOutcome::Stay => {
                        self.overlays.push(Overlay::Palette(p))
                    }
                    super::widgets::palette::PaletteOutcome::Cancel => {}
                    super::widgets::palette::PaletteOutcome::Run(line) => {
                        self.run_palette(&line, out)
                    }
                }
            }
            Overlay::Confirm(mut c) => {
                use super::widgets::confirm::{ConfirmKind, ConfirmOutcome};
                match c.handle_key(key) {
                    ConfirmOutcome::Stay => self.overlays.push(Overlay::Confirm(c)),
                    ConfirmOutcome::Cancel => {}
                    ConfirmOutcome::Confirm => match c.kind {
                        ConfirmKind::Effects(effects) => {
                            if self.read_only {
                                self.refuse_read_only("change");
                            } else {
                                out.extend(effects);
                            }
                        }
                        ConfirmKind::Quit => {
                            self.leave_running();
                            out.push(Effect::Quit);
                        }
                    },
                    ConfirmOutcome::AbortAndQuit => self.abort_all_then_quit(out),
                }
            }
            Overlay::CanaryForm(mut form, target) => {
                use super::widgets::form::FormOutcome;
                match form.handle_key(key) {
                    FormOutcome::Stay => self.overlays.push(Overlay::CanaryForm(form, target)),
                    FormOutcome::Cancel => {}
                    FormOutcome::Submit => self.submit_canary(form, target),
                }
            }
            Overlay::RollbackPicker(mut picker) => {
                use super::widgets::picker::PickerOutcome;
                match picker.handle_key(key) {
                    PickerOutcome::Stay => self.overlays.push(Overlay::RollbackPicker(picker)),
                    PickerOutcome::Cancel => {}
                    PickerOutcome::Choose => self.confirm_rollback(*picker),
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;

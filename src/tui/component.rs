//! What a pane is to the console. Each pane is a component (`panes/*.rs`): it owns where
//! it stands in its rows (selection, scroll, and for a list its sort and filter), moves
//! itself when a key or a click asks, draws itself, and says what its keys do for the help.
//! It reads the console's data through [`Scene`] — the questions it may ask — never
//! through the `App`, so the App holds the panes and the panes know nothing of the App.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;

use crate::domain::{BotSummary, Canary, MetricsSeries, Operation, Version};
use crate::engine::events::OpId;

use super::keymap::Keymap;
use super::layout::PaneId;
use super::messages::TimelineEntry;
use super::model::DeployItem;
use super::state::{ListPos, ListView, OpRun};
use super::theme::Theme;

/// The canary the Canary pane shows.
#[derive(Debug, Clone)]
pub struct CanaryView<'a> {
    pub bot_id: String,
    pub env: Option<String>,
    pub run: Option<&'a OpRun>,
    pub canary: Option<&'a Canary>,
}

/// The console's data as the panes see it: read-only, already narrowed by each list's
/// filter and ordered by its sort.
pub trait Scene {
    fn theme(&self) -> &Theme;
    fn keymap(&self) -> &Keymap;
    fn now(&self) -> DateTime<Utc>;
    /// Wide mode (`w`): every column at full width.
    fn wide(&self) -> bool;
    fn size(&self) -> Rect;
    fn focus(&self) -> PaneId;
    /// Whether the server answers, and what it last said.
    fn connection(&self) -> Option<&(bool, String)>;
    fn bots(&self) -> &[BotSummary];
    fn runs(&self) -> &[OpRun];
    fn operations(&self) -> &[Operation];
    fn series(&self) -> Option<&MetricsSeries>;
    fn bot(&self, id: &str) -> Option<&BotSummary>;
    fn selected_bot_summary(&self) -> Option<&BotSummary>;
    /// The Bots pane's rows, filtered and sorted.
    fn visible_bots(&self) -> Vec<&BotSummary>;
    /// The bot whose versions are loaded (they may be none).
    fn versions_loaded_for(&self) -> Option<&str>;
    /// The selected bot's versions, newest first (unfiltered).
    fn current_versions(&self) -> &[Version];
    /// The Versions pane's rows, filtered and sorted.
    fn visible_versions(&self) -> Vec<&Version>;
    /// The Deployments pane's rows, filtered and sorted; and all of them.
    fn deploy_items(&self) -> Vec<DeployItem>;
    fn deploy_items_all(&self) -> Vec<DeployItem>;
    fn canary_view(&self) -> Option<CanaryView<'_>>;
    /// The Timeline's rows, newest first: all of them, and those the filter lets by.
    fn timeline_rows(&self) -> Box<dyn Iterator<Item = &TimelineEntry> + '_>;
    fn visible_timeline(&self) -> Vec<&TimelineEntry>;
    /// How old a pane's data is (server seconds), and whether that is stale.
    fn freshness(&self, pane: PaneId) -> Option<Freshness>;
    /// How old one bot's row is (server seconds): its last read, alone or in the list.
    fn bot_age(&self, id: &str) -> Option<i64>;
    /// How many versions the selected bot has, when the server said.
    fn versions_total(&self) -> Option<u64>;
    /// Data older than this (server seconds) is marked stale.
    fn stale_after(&self) -> i64;
    /// The widths a bot's row needs, measured when it arrived.
    fn bot_measure(&self, id: &str) -> Option<&crate::tui::panes::bots::BotMeasure>;
}

/// How old what a pane shows is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    /// Server seconds since it was read (or found unchanged).
    pub age: i64,
    pub stale: bool,
}

/// Data older than this (server seconds) is marked stale by default: the scheduler reads
/// everything on screen well within it unless the budget or the server stops it.
pub const STALE_AFTER: i64 = 60;

/// Where a list pane stands: its selection and scroll, and its sort and filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListState {
    pub pos: ListPos,
    pub view: ListView,
}

impl ListState {
    /// Move the selection by `delta` rows among `len` (clamped at both ends).
    pub fn move_by(&mut self, delta: isize, len: usize) {
        self.pos.move_by(delta, len);
    }

    /// Select row `i` of `len`, if there is one.
    pub fn select(&mut self, i: usize, len: usize) -> bool {
        if i < len {
            self.pos.selected = i;
            true
        } else {
            false
        }
    }
}

/// The rows a pane moves among: how many, and for the Canary pane's analysis history the
/// run they belong to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rows {
    pub len: usize,
    pub run: Option<OpId>,
}

/// What a pane is asked to do with its selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaneMsg {
    /// Move the selection by this many rows (clamped at both ends).
    Move(isize),
    /// Select this row (a click).
    Select(usize),
}

/// A pane of the console.
pub trait Component {
    fn id(&self) -> PaneId;
    /// The rows it shows now.
    fn rows(&self, scene: &dyn Scene) -> Rows;
    /// Move its selection among `rows` (as [`Component::rows`] counted them). A list pane
    /// moves its [`ListState`]; the Canary pane overrides this for its history.
    fn update(&mut self, msg: PaneMsg, rows: Rows) {
        if let Some(list) = self.list_mut() {
            match msg {
                PaneMsg::Move(delta) => list.move_by(delta, rows.len),
                PaneMsg::Select(i) => {
                    list.select(i, rows.len);
                }
            }
        }
    }
    /// What this pane's own keys do (beyond the commands every pane of its kind shares),
    /// in the keys `keys` binds.
    fn help(&self, keys: &Keymap) -> Vec<(String, String)>;
    /// Draw into `area` from `scene`.
    fn render(&self, frame: &mut Frame, area: Rect, scene: &dyn Scene, focused: bool);
    /// A list pane's position, sort and filter (none for the Canary pane).
    fn list(&self) -> Option<&ListState> {
        None
    }
    fn list_mut(&mut self) -> Option<&mut ListState> {
        None
    }
}

/// What makes one list pane different from another: its id, how many rows it shows, its
/// own keys and how it draws. Everything else a list pane does is [`ListPane`]'s.
pub trait ListKind: Sized {
    const ID: PaneId;
    fn len(scene: &dyn Scene) -> usize;
    fn help(keys: &Keymap) -> Vec<(String, String)>;
    fn draw(pane: &ListPane<Self>, frame: &mut Frame, area: Rect, scene: &dyn Scene, focused: bool);
}

/// A list pane: its selection, scroll, sort and filter, and the kind that draws it.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPane<K> {
    pub list: ListState,
    kind: std::marker::PhantomData<K>,
}

impl<K> Default for ListPane<K> {
    fn default() -> Self {
        ListPane {
            list: ListState::default(),
            kind: std::marker::PhantomData,
        }
    }
}

impl<K: ListKind> Component for ListPane<K> {
    fn id(&self) -> PaneId {
        K::ID
    }

    fn rows(&self, scene: &dyn Scene) -> Rows {
        Rows {
            len: K::len(scene),
            run: None,
        }
    }

    fn help(&self, keys: &Keymap) -> Vec<(String, String)> {
        K::help(keys)
    }

    fn render(&self, frame: &mut Frame, area: Rect, scene: &dyn Scene, focused: bool) {
        K::draw(self, frame, area, scene, focused)
    }

    fn list(&self) -> Option<&ListState> {
        Some(&self.list)
    }

    fn list_mut(&mut self) -> Option<&mut ListState> {
        Some(&mut self.list)
    }
}

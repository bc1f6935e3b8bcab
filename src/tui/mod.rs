//! The terminal console: terminal setup and restore, the event loop, and the pure `App`
//! it drives.
//!
//! ```text
//! crossterm EventStream ─┐
//! tick interval ─────────┼─ tokio::select! ─> Action ─> App::update ─> Vec<Effect> ─> effects_tx
//! updates_rx ────────────┘                                 │
//!                                                          └─ dirty ─> draw (≤ frame cap)
//! ```
//!
//! The runtime (outside this module) executes the `Effect`s and sends `Update`s back;
//! the console never touches the network itself.

pub mod app;
pub mod component;
pub mod describe;
pub mod facts;
pub mod format;
mod hit;
mod ingest;
pub mod keymap;
pub mod layout;
pub mod messages;
pub mod model;
mod operate;
pub mod panes;
pub mod plan;
mod query;
pub mod state;
pub mod theme;
pub mod ui;
pub mod widgets;

/// The sample world of the console's tests (test support, never in the product).
#[cfg(test)]
#[path = "../../tests/tui_support/sample/mod.rs"]
pub(crate) mod sample;

use std::collections::BTreeMap;
use std::io::stdout;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture, EventStream};
use crossterm::execute;
use crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
use futures::StreamExt;
use ratatui::DefaultTerminal;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::time::{Instant, MissedTickBehavior};

pub use app::{Action, App, AppConfig};
pub use keymap::default_bindings;
pub use messages::{CanaryRequest, Effect, RefreshWhat, RequestId, TimelineEntry, Update};
pub use ui::draw;

/// Everything the console needs from the rest of the program.
pub struct TuiContext {
    pub profile: String,
    /// A production profile: red status bar, typed confirmations.
    pub production: bool,
    /// Refuse every mutating action.
    pub read_only: bool,
    /// `dark`, `light` or `mono` (`NO_COLOR` forces mono).
    pub theme: String,
    /// Key → command overrides on top of [`default_bindings`].
    pub keymap: BTreeMap<String, String>,
    /// Shown in the help overlay.
    pub log_path: Option<PathBuf>,
    /// Server clock speed (`relcon sim --speed`), for countdowns.
    pub clock_speed: f64,
    /// Most frames per second drawn.
    pub max_fps: u32,
    /// What the canary plan form starts with.
    pub canary_defaults: plan::CanaryDefaults,
    /// The rollback picker's starting session limit.
    pub rollback_max_sessions: u32,
    /// The backend switches by re-pointing channels, not by weights.
    pub repoints: bool,
    /// Data older than this (server seconds) is marked stale.
    pub stale_after: i64,
    /// Where the console's effects go; the runtime executes them.
    pub effects_tx: UnboundedSender<Effect>,
    /// What the runtime reports back.
    pub updates_rx: UnboundedReceiver<Update>,
}

impl TuiContext {
    /// A context with defaults for everything but the channels.
    pub fn new(
        effects_tx: UnboundedSender<Effect>,
        updates_rx: UnboundedReceiver<Update>,
    ) -> TuiContext {
        TuiContext {
            profile: "default".to_string(),
            production: false,
            read_only: false,
            theme: "dark".to_string(),
            keymap: BTreeMap::new(),
            log_path: None,
            clock_speed: 1.0,
            max_fps: 30,
            canary_defaults: plan::CanaryDefaults::default(),
            rollback_max_sessions: 0,
            repoints: false,
            stale_after: component::STALE_AFTER,
            effects_tx,
            updates_rx,
        }
    }
}

/// `NO_COLOR` set to anything non-empty (<https://no-color.org>).
fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Run the console until the operator quits. The terminal is restored on every way out:
/// normal return, error, and panic.
pub async fn run(ctx: TuiContext) -> anyhow::Result<()> {
    let TuiContext {
        profile,
        production,
        read_only,
        theme,
        keymap,
        log_path,
        clock_speed,
        max_fps,
        canary_defaults,
        rollback_max_sessions,
        repoints,
        stale_after,
        effects_tx,
        updates_rx,
    } = ctx;
    let app = App::new(AppConfig {
        profile,
        production,
        read_only,
        theme,
        no_color: no_color(),
        keymap,
        log_path,
        clock_speed,
        canary_defaults,
        rollback_max_sessions,
        repoints,
        stale_after,
    });

    // Our hook first: ratatui's (installed by try_init) restores raw mode and the screen,
    // then calls this one, which turns mouse reporting off before the panic is printed.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = execute!(stdout(), DisableMouseCapture);
        previous(info);
    }));
    let mut terminal = match ratatui::try_init() {
        Ok(t) => t,
        Err(e) => {
            ratatui::restore();
            return Err(e).context("cannot set up the terminal");
        }
    };
    let result = match execute!(stdout(), EnableMouseCapture) {
        Ok(()) => event_loop(&mut terminal, app, max_fps, effects_tx, updates_rx).await,
        Err(e) => Err(anyhow::Error::from(e).context("cannot enable mouse reporting")),
    };
    let _ = execute!(stdout(), DisableMouseCapture);
    ratatui::restore();
    // What was left running, and the commands that pick it up, once the screen is back.
    let notes = result?;
    for line in notes {
        eprintln!("{line}");
    }
    Ok(())
}

fn send(effects_tx: &UnboundedSender<Effect>, effects: Vec<Effect>) {
    for effect in effects {
        if let Effect::Copy(text) = &effect {
            // The terminal is ours: the clipboard escape goes straight to it.
            let _ = std::io::Write::write_all(&mut stdout(), osc52(text).as_bytes());
            let _ = std::io::Write::flush(&mut stdout());
            continue;
        }
        tracing::debug!(?effect, "effect");
        if effects_tx.send(effect).is_err() {
            tracing::warn!("the runtime stopped listening for effects");
        }
    }
}

/// The OSC 52 escape that asks the terminal to put `text` on the clipboard. Terminals that
/// do not allow it ignore it; the text stays on screen for selecting by hand.
pub fn osc52(text: &str) -> String {
    use base64::Engine;
    let clean = crate::sanitize::clean(text);
    format!(
        "\x1b]52;c;{}\x07",
        base64::engine::general_purpose::STANDARD.encode(clean.as_bytes())
    )
}

async fn event_loop(
    terminal: &mut DefaultTerminal,
    mut app: App,
    max_fps: u32,
    effects_tx: UnboundedSender<Effect>,
    mut updates_rx: UnboundedReceiver<Update>,
) -> anyhow::Result<Vec<String>> {
    let frame_gap = Duration::from_secs_f64(1.0 / f64::from(max_fps.clamp(1, 240)));
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut updates_open = true;
    let mut last_draw: Option<Instant> = None;

    let size = terminal.size().context("cannot read the terminal size")?;
    let effects = app.update(Action::Resize {
        width: size.width,
        height: size.height,
    });
    send(&effects_tx, effects);

    // What the operator typed or clicked is drawn within this, whatever the frame cap: a
    // screen kept busy by progress events must not make a key wait for the next slot.
    let input_gap = frame_gap.min(INPUT_FRAME_GAP);
    let mut input_waiting = false;
    loop {
        let gap = if input_waiting { input_gap } else { frame_gap };
        let next_frame = last_draw.map_or_else(Instant::now, |t| t + gap);
        let action = tokio::select! {
            event = events.next() => match event {
                Some(Ok(event)) => Action::from_event(event),
                Some(Err(e)) => return Err(anyhow::Error::from(e).context("reading terminal input")),
                None => return Ok(app.take_exit_notes()),
            },
            _ = tick.tick() => Some(Action::Tick(chrono::Utc::now())),
            update = updates_rx.recv(), if updates_open => match update {
                Some(update) => Some(Action::Update(update)),
                None => {
                    updates_open = false;
                    Some(Action::Update(Update::Connection {
                        ok: false,
                        detail: "the runtime stopped".to_string(),
                    }))
                }
            },
            _ = tokio::time::sleep_until(next_frame), if app.is_dirty() => None,
        };
        if let Some(action) = action {
            input_waiting |= action.is_input();
            let effects = app.update(action);
            send(&effects_tx, effects);
        }
        // Take everything already queued before drawing once.
        while let Ok(update) = updates_rx.try_recv() {
            let effects = app.update(Action::Update(update));
            send(&effects_tx, effects);
        }
        if app.should_quit() {
            return Ok(app.take_exit_notes());
        }
        let gap = if input_waiting { input_gap } else { frame_gap };
        let due = last_draw.is_none_or(|t| t.elapsed() >= gap);
        if app.is_dirty() && due {
            // The frame's slot counts from its start.
            let started = Instant::now();
            // Synchronized output: the terminal shows the frame whole, never half-drawn.
            let _ = execute!(stdout(), BeginSynchronizedUpdate);
            let drawn = terminal.draw(|frame| draw(frame, &app));
            let _ = execute!(stdout(), EndSynchronizedUpdate);
            drawn.context("drawing the screen")?;
            app.mark_drawn();
            last_draw = Some(started);
            input_waiting = false;
        }
    }
}

/// Input is drawn at most this long after the previous frame (120 frames a second).
const INPUT_FRAME_GAP: Duration = Duration::from_micros(8_333);

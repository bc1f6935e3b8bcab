//! How live things end on screen: a canary's final state, its toast's step count, statuses
//! said once, a countdown that says what it waits for; the timeline keeping what ended,
//! one row per operation.

// The sample is written against the crate's own paths; these bring them into scope here.
use relcon::{config, domain, engine, plans, tui};

#[path = "tui_support/sample/mod.rs"]
mod sample;

use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use relcon::engine::events::{EventKind, Outcome, ProgressEvent};
use relcon::tui::messages::Update;
use relcon::tui::{Action, App, draw};
use sample::{at, code, loaded, step_app};

/// Focus the Canary pane (bots → versions → deployments → canary).
fn focus_canary(app: &mut App) {
    for _ in 0..3 {
        step_app(app, code(KeyCode::Tab));
    }
}

fn screen(app: &App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| draw(f, app)).unwrap();
    let buf = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

fn progress(secs: i64, kind: EventKind) -> Action {
    Action::Update(Update::Progress(ProgressEvent {
        op: 7,
        at: at(secs),
        kind,
    }))
}

/// The step the sample canary reached, from its events.
fn reached() -> usize {
    let (s, d) = sample::canary_now();
    d.iter().map(|d| d.step).chain([s.step]).max().unwrap()
}

#[test]
fn a_promoted_canary_shows_its_final_state_and_the_steps_it_reached() {
    let mut app = loaded(sample::config(), 160, 45);
    sample::canary_run(&mut app);
    let n = reached();
    // The operator promotes fully; the engine counts one step more than was reached.
    step_app(
        &mut app,
        progress(
            40,
            EventKind::Finished {
                outcome: Outcome::Succeeded,
                summary: format!(
                    "bot-care v8 promoted in prod at step {} of 4 (was v7)",
                    n + 1
                ),
            },
        ),
    );
    let toasts = app.toast_texts().join("\n");
    assert!(
        toasts.contains(&format!("promoted at 100% after {n} steps")),
        "{toasts}"
    );
    assert!(!toasts.contains(&format!("step {}", n + 1)), "{toasts}");
    let s = screen(&app, 160, 45);
    assert!(
        s.contains(&format!("promoted at 100% after {n} steps")),
        "{s}"
    );
    assert!(!s.contains(&format!("step {n}/")), "a stale step:\n{s}");
}

#[test]
fn a_rolled_back_canary_says_so_once() {
    let mut app = loaded(sample::config(), 160, 45);
    sample::canary_rolled_back(&mut app);
    focus_canary(&mut app);
    for (w, h) in [(80, 24), (160, 45)] {
        let s = screen(&app, w, h);
        assert!(s.contains("rolled back"), "{s}");
        assert!(!s.contains("rolled back · rolled back"), "{s}");
        assert!(!s.contains("rolled back: canary"), "{s}");
        // The step is said once, by the pane, not again from the engine's summary.
        let line = s
            .lines()
            .find(|l| l.contains("rolled back at step 3/4 (50%)"))
            .unwrap_or_else(|| panic!("no final state line:\n{s}"));
        assert!(!line.contains("step 3 (50%):"), "{line}");
    }
}

#[test]
fn the_countdown_says_what_it_waits_for_and_ends_in_now() {
    let mut app = loaded(sample::config(), 160, 45);
    sample::canary_run(&mut app);
    step_app(&mut app, Action::Tick(at(30)));
    step_app(
        &mut app,
        progress(
            30,
            EventKind::Waiting {
                what: "canary step 3 look".into(),
                wait: std::time::Duration::from_secs(12),
            },
        ),
    );
    let s = screen(&app, 160, 45);
    assert!(s.contains("next look in 0:12"), "{s}");
    // Half a second before the look: it is happening, not "0:00" or "0:01".
    step_app(
        &mut app,
        Action::Tick(at(42) - chrono::Duration::milliseconds(500)),
    );
    let s = screen(&app, 160, 45);
    assert!(s.contains("looking…"), "{s}");
    assert!(!s.contains("look in 0:0"), "{s}");
}

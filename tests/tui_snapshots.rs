//! Whole screens of the console at 80×24 and 160×45 (the Canary pane also at 120×40 and
//! 200×50) on a `TestBackend`, fed the sample world through the same `Update`s the runtime
//! sends. Colours are asserted where they
//! carry meaning (a production profile's red status bar, a failed step in red).

// The sample is written against the crate's own paths; these bring them into scope here.
use relcon::{config, domain, engine, plans, tui};

#[path = "tui_support/sample/mod.rs"]
mod sample;

use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier};
use relcon::engine::events::CanarySample;
use relcon::engine::judge::Metric;
use relcon::tui::layout::PaneId;
use relcon::tui::{Action, App, AppConfig, draw};
use sample::{at, code, key, loaded, step_app, type_text};

fn render(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| draw(f, app)).unwrap();
    terminal
}

/// The screen as plain text, one line per row.
fn text(terminal: &Terminal<TestBackend>) -> String {
    let buf = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        for x in 0..buf.area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn screen(app: &App, w: u16, h: u16) -> String {
    text(&render(app, w, h))
}

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 45)];
const CANARY_SIZES: [(u16, u16); 4] = [(80, 24), (120, 40), (160, 45), (200, 50)];

fn busy(w: u16, h: u16) -> App {
    let mut app = loaded(sample::config(), w, h);
    sample::canary_run(&mut app);
    sample::failed_deploy(&mut app);
    // Let the toasts of the failed deploy expire.
    step_app(&mut app, Action::Tick(at(9)));
    app
}

#[test]
fn idle_overview() {
    for (w, h) in SIZES {
        let app = loaded(sample::config(), w, h);
        insta::assert_snapshot!(format!("idle_overview_{w}x{h}"), screen(&app, w, h));
    }
}

/// Follow the canary from the bots list into the Canary pane.
fn to_canary_pane(app: &mut App) {
    step_app(app, key('j'));
    step_app(app, key(':'));
    type_text(app, "pane canary");
    step_app(app, code(KeyCode::Enter));
    assert_eq!(app.focus(), PaneId::Canary);
}

/// Everything the Canary pane must show whole at every size: the header's figures and each
/// metric's numbers in its own units (the judge's formatting), never cut.
fn canary_needles(sample: &CanarySample) -> Vec<String> {
    let at = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .expect("the sample says which window it covers")
    };
    // The window is said as a length of server time (a simulator's runs faster than ours).
    let window = (at(&sample.window_end) - at(&sample.window_start)).num_seconds();
    let mut out = vec![
        "care-bot v8 vs v7 in prod-blue".to_string(),
        format!(
            "since the canary started ({} of server time):",
            relcon::tui::format::duration(window)
        ),
        format!("canary {}", count(sample.canary.conversation_count)),
        format!("baseline {}", count(sample.baseline.conversation_count)),
        "analysis history".to_string(),
    ];
    for v in &sample.verdicts {
        let m = Metric::parse(&v.metric).expect("a known metric");
        for x in [v.canary, v.baseline].into_iter().flatten() {
            out.push(m.value(x));
        }
        out.push(m.delta(v.tolerance));
        if let Some(d) = v.difference {
            out.push(m.delta(d));
        }
    }
    out
}

/// Each metric's interval on the difference is on screen whole (the rollback-level or the
/// promotion-level one, whichever the verdict rests on).
fn assert_intervals(sample: &CanarySample, screen: &str, size: &str) {
    for v in &sample.verdicts {
        let m = Metric::parse(&v.metric).expect("a known metric");
        let text =
            |i: Option<[f64; 2]>| i.map(|[lo, hi]| format!("[{}, {}]", m.bound(lo), m.bound(hi)));
        assert!(
            [text(v.interval), text(v.pass_interval)]
                .into_iter()
                .flatten()
                .any(|t| screen.contains(&t)),
            "{size}: {} interval\n{screen}",
            v.metric
        );
    }
}

fn count(n: u64) -> String {
    relcon::tui::format::count(n)
}

#[test]
fn canary_in_progress() {
    let (sample, decisions) = sample::canary_now();
    assert!(decisions.len() >= 5, "the fixture has a history");
    for (w, h) in CANARY_SIZES {
        let mut app = busy(w, h);
        to_canary_pane(&mut app);
        let s = screen(&app, w, h);
        let held = |secs: f64| relcon::tui::format::duration(secs.round() as i64);
        let mut needles = canary_needles(&sample);
        needles.extend([
            "· running".to_string(),
            format!("step {}/{}", sample.step, sample.steps_total),
            format!("held {}", held(sample.held_seconds)),
            format!("shortest hold {}", held(sample.min_hold_seconds)),
            format!("pauses at {}", held(sample.max_hold_seconds)),
        ]);
        for needle in needles {
            assert!(s.contains(&needle), "{w}x{h}: {needle}\n{s}");
        }
        assert_intervals(&sample, &s, &format!("{w}x{h}"));
        insta::assert_snapshot!(format!("canary_in_progress_{w}x{h}"), s);
    }
}

#[test]
fn canary_after_rollback() {
    let (sample, decisions) = sample::canary_end();
    let last = decisions.last().expect("a decision");
    assert_eq!(last.action, "roll back");
    for (w, h) in CANARY_SIZES {
        let mut app = loaded(sample::config(), w, h);
        sample::canary_rolled_back(&mut app);
        to_canary_pane(&mut app);
        let s = screen(&app, w, h);
        // One state in the header, the run's ending (the server's record agrees).
        let head = s
            .lines()
            .find_map(|l| {
                l.split_once("care-bot v8 vs v7 in prod-blue")
                    .map(|(_, r)| r)
            })
            .unwrap_or_default();
        assert!(head.starts_with(" · rolled back "), "{w}x{h}\n{s}");
        assert!(!head.contains("running"), "{w}x{h}\n{s}");
        let ended = format!(
            "at step {}/{} ({}%)",
            sample.step, sample.steps_total, sample.weight_set
        );
        assert!(s.contains(&ended), "{w}x{h}: {ended}\n{s}");
        assert!(
            s.contains("✖ roll back"),
            "the decision is in the history: {w}x{h}\n{s}"
        );
        for needle in canary_needles(&sample) {
            assert!(s.contains(&needle), "{w}x{h}: {needle}\n{s}");
        }
        assert_intervals(&sample, &s, &format!("{w}x{h}"));
        insta::assert_snapshot!(format!("canary_after_rollback_{w}x{h}"), s);
    }
}

#[test]
fn canary_paused_for_a_decision() {
    for (w, h) in [(80, 24), (160, 45)] {
        let mut app = loaded(sample::config(), w, h);
        sample::canary_paused(&mut app);
        to_canary_pane(&mut app);
        let s = screen(&app, w, h);
        assert!(
            s.contains("॥ paused: inconclusive — p promote · space extend · a roll back"),
            "{w}x{h}\n{s}"
        );
        insta::assert_snapshot!(format!("canary_paused_{w}x{h}"), s);
    }
}

#[test]
fn canary_decision_popup() {
    for (w, h) in SIZES {
        let mut app = loaded(sample::config(), w, h);
        sample::canary_rolled_back(&mut app);
        to_canary_pane(&mut app);
        step_app(&mut app, code(KeyCode::Enter));
        assert_eq!(app.overlay(), Some("decision"));
        insta::assert_snapshot!(format!("canary_decision_{w}x{h}"), screen(&app, w, h));
    }
}

#[test]
fn failed_deployment() {
    for (w, h) in SIZES {
        let mut app = loaded(sample::config(), w, h);
        sample::failed_deploy(&mut app);
        step_app(&mut app, key(':'));
        type_text(&mut app, "pane deployments");
        step_app(&mut app, code(KeyCode::Enter));
        // The toast of the failure is still up.
        insta::assert_snapshot!(format!("failed_deployment_{w}x{h}"), screen(&app, w, h));
    }
}

#[test]
fn rollback_picker() {
    for (w, h) in SIZES {
        let mut app = busy(w, h);
        step_app(&mut app, key('r'));
        assert_eq!(app.overlay(), Some("rollback_picker"));
        insta::assert_snapshot!(format!("rollback_picker_{w}x{h}"), screen(&app, w, h));
    }
}

#[test]
fn deploy_preview_in_production() {
    for (w, h) in SIZES {
        let config = AppConfig {
            production: true,
            profile: "prod-eu".into(),
            ..sample::config()
        };
        let mut app = loaded(config, w, h);
        step_app(&mut app, code(KeyCode::Tab));
        for _ in 0..3 {
            step_app(&mut app, key('j'));
        }
        step_app(&mut app, key('D'));
        type_text(&mut app, "checkout");
        insta::assert_snapshot!(
            format!("deploy_preview_production_{w}x{h}"),
            screen(&app, w, h)
        );
    }
}

#[test]
fn help_overlay() {
    for (w, h) in SIZES {
        let mut app = busy(w, h);
        step_app(&mut app, code(KeyCode::Tab));
        step_app(&mut app, code(KeyCode::Tab));
        step_app(&mut app, key('?'));
        assert_eq!(app.overlay(), Some("help"));
        insta::assert_snapshot!(format!("help_overlay_{w}x{h}"), screen(&app, w, h));
    }
}

#[test]
fn canary_plan_form() {
    let mut app = loaded(sample::config(), 80, 24);
    step_app(&mut app, code(KeyCode::Tab));
    for _ in 0..3 {
        step_app(&mut app, key('j'));
    }
    step_app(&mut app, key('c'));
    insta::assert_snapshot!("canary_plan_form_80x24", screen(&app, 80, 24));
}

/// Sorted and filtered lists say so in their titles (`3 of 12 · sort … · filter "…"`).
#[test]
fn sorted_and_filtered_lists() {
    for (w, h) in SIZES {
        let mut app = loaded(sample::config(), w, h);
        // Bots by name, only those with "-c" in their row: care and checkout (selected).
        step_app(&mut app, key('s'));
        step_app(&mut app, key('/'));
        type_text(&mut app, "-c");
        step_app(&mut app, code(KeyCode::Enter));
        // checkout's versions by version id (v10 first), only the production ones.
        step_app(&mut app, code(KeyCode::Tab));
        step_app(&mut app, key('s'));
        step_app(&mut app, key('/'));
        type_text(&mut app, "prod");
        step_app(&mut app, code(KeyCode::Enter));
        let s = screen(&app, w, h);
        assert!(
            s.contains("5 of 6 · sort version ↑ · filter \"prod\""),
            "{w}x{h}:\n{s}"
        );
        insta::assert_snapshot!(format!("sorted_and_filtered_{w}x{h}"), s);
    }
}

#[test]
fn quit_while_running() {
    let mut app = busy(80, 24);
    step_app(&mut app, key('q'));
    insta::assert_snapshot!("quit_while_running_80x24", screen(&app, 80, 24));
}

#[test]
fn terminal_too_small() {
    for (w, h) in [(59, 24), (80, 15), (20, 5)] {
        let mut app = busy(w, h);
        step_app(&mut app, key('?'));
        insta::assert_snapshot!(format!("too_small_{w}x{h}"), screen(&app, w, h));
    }
    // Nothing at all to draw on is not an error either.
    let app = busy(80, 24);
    render(&app, 0, 0);
    render(&app, 1, 1);
}

#[test]
fn read_only_refusal() {
    let config = AppConfig {
        read_only: true,
        ..sample::config()
    };
    let mut app = loaded(config, 80, 24);
    step_app(&mut app, code(KeyCode::Tab));
    step_app(&mut app, key('j'));
    let effects = step_app(&mut app, key('D'));
    assert!(effects.is_empty());
    insta::assert_snapshot!("read_only_refusal_80x24", screen(&app, 80, 24));
}

#[test]
fn production_status_bar_is_red() {
    let config = AppConfig {
        production: true,
        profile: "prod-eu".into(),
        ..sample::config()
    };
    for (w, h) in SIZES {
        let app = loaded(config.clone(), w, h);
        let t = render(&app, w, h);
        let buf = t.backend().buffer();
        let row = h - 1;
        let badge: String = (0..20)
            .map(|x| buf[(x, row)].symbol().to_string())
            .collect();
        assert!(badge.starts_with(" PRODUCTION prod-eu"), "{badge:?}");
        for x in 0..19 {
            assert_eq!(buf[(x, row)].bg, Color::Red, "column {x}");
            assert_eq!(buf[(x, row)].fg, Color::White, "column {x}");
        }
    }
    // Not production: no red.
    let app = loaded(sample::config(), 80, 24);
    let t = render(&app, 80, 24);
    assert_ne!(t.backend().buffer()[(0, 23)].bg, Color::Red);
}

#[test]
fn failed_step_is_red_and_done_steps_green() {
    let mut app = loaded(sample::config(), 80, 24);
    sample::failed_deploy(&mut app);
    step_app(&mut app, Action::Tick(at(9)));
    step_app(&mut app, key(':'));
    type_text(&mut app, "pane deployments");
    step_app(&mut app, code(KeyCode::Enter));
    let t = render(&app, 80, 24);
    let buf = t.backend().buffer();
    let find = |needle: &str| {
        (0..24).find_map(|y| {
            let line: String = (0..80).map(|x| buf[(x, y)].symbol().to_string()).collect();
            line.find(needle)
                .map(|i| (line[..i].chars().count() as u16, y))
        })
    };
    let (x, y) = find("✖ validate prod-green").expect("the failed step is on screen");
    assert_eq!(buf[(x, y)].fg, Color::Red);
    let (rx, ry) = find("intent 'refund_status'").expect("the reason is on screen");
    assert_eq!(buf[(rx, ry)].fg, Color::Red);
    let (dx, dy) = find("✔ validate payload").expect("a done step");
    assert_eq!(buf[(dx, dy)].fg, Color::Green);
}

#[test]
fn monochrome_uses_no_colour_at_all() {
    let config = AppConfig {
        production: true,
        no_color: true,
        ..sample::config()
    };
    let mut app = loaded(config, 160, 45);
    sample::canary_run(&mut app);
    sample::failed_deploy(&mut app);
    let t = render(&app, 160, 45);
    let buf = t.backend().buffer();
    for cell in buf.content() {
        assert_eq!(cell.fg, Color::Reset);
        assert_eq!(cell.bg, Color::Reset);
    }
    // The production badge still stands out.
    assert!(buf[(1, 44)].modifier.contains(Modifier::REVERSED));
}

/// `cargo test --test tui_snapshots -- --ignored --nocapture` prints the main screens.
#[test]
#[ignore]
fn print_screens() {
    for (w, h) in SIZES {
        let app = busy(w, h);
        println!("{}", screen(&app, w, h));
    }
}

#[test]
fn every_screen_draws_at_awkward_sizes() {
    let sizes = [
        (60, 16),
        (61, 17),
        (79, 23),
        (100, 30),
        (119, 27),
        (120, 28),
        (121, 29),
        (250, 80),
    ];
    let openers: [&[Action]; 8] = [
        &[],
        &[Action::Key(crossterm::event::KeyEvent::from(
            KeyCode::Char('?'),
        ))],
        &[Action::Key(crossterm::event::KeyEvent::from(
            KeyCode::Char(':'),
        ))],
        &[Action::Key(crossterm::event::KeyEvent::from(
            KeyCode::Char('r'),
        ))],
        &[Action::Key(crossterm::event::KeyEvent::from(
            KeyCode::Char('q'),
        ))],
        &[
            Action::Key(crossterm::event::KeyEvent::from(KeyCode::Tab)),
            Action::Key(crossterm::event::KeyEvent::from(KeyCode::Char('j'))),
            Action::Key(crossterm::event::KeyEvent::from(KeyCode::Char('j'))),
            Action::Key(crossterm::event::KeyEvent::from(KeyCode::Char('j'))),
            Action::Key(crossterm::event::KeyEvent::from(KeyCode::Char('c'))),
        ],
        &[Action::Key(crossterm::event::KeyEvent::from(
            KeyCode::Enter,
        ))],
        &[Action::Update(relcon::tui::Update::Error {
            title: "Deploy refused".into(),
            detail: "409 Conflict: environment env-prod-green has a job in progress (job-77)"
                .into(),
            hint: "Wait for job-77 to finish, or abort it from the Deployments pane.".into(),
        })],
    ];
    for (w, h) in sizes {
        for opener in openers {
            for pane in 0..5 {
                let mut app = busy(w, h);
                for _ in 0..pane {
                    step_app(&mut app, code(KeyCode::Tab));
                }
                for a in opener {
                    step_app(&mut app, a.clone());
                }
                let screen = screen(&app, w, h);
                assert!(
                    screen.contains(" help") || app.overlay().is_some(),
                    "{w}x{h}\n{screen}"
                );
            }
        }
    }
}

#[test]
fn an_unreachable_server_is_explained_where_the_bots_would_be() {
    let mut app = App::new(sample::config());
    app.update(Action::Resize {
        width: 120,
        height: 30,
    });
    app.update(Action::Update(relcon::tui::Update::Connection {
        ok: false,
        detail: "cannot reach http://127.0.0.1:1/api/v1/bots: connection refused".into(),
    }));
    let s = screen(&app, 120, 30);
    assert!(s.contains("cannot load bots: cannot reach"), "{s}");
    assert!(s.contains("api_url"), "the pane says what to check:\n{s}");
    assert!(!s.contains("loading bots"), "{s}");
}

/// Every bot's id and every environment's live version and weight, whole, at every size;
/// a version's id and every environment it is live in, whole.
#[test]
fn long_ids_are_never_cut() {
    for (w, h) in CANARY_SIZES {
        let mut app = sample::loaded_world(sample::config(), w, h, sample::World::demo_like());
        // Order & Billing Support: v_80112 is live in two environments.
        step_app(&mut app, key('j'));
        let s = screen(&app, w, h);
        for needle in [
            "bot-customer-service-v2",
            "bot_12345",
            "v2.3.0 100%",
            "v2.2.0 0%",
            "v2.4.0 0%",
            "v_80112 100%",
            "v_stable_fallback",
            "env_prod 100% · Staging 0%",
        ] {
            assert!(s.contains(needle), "{needle} whole at {w}x{h}:\n{s}");
        }
        insta::assert_snapshot!(format!("long_ids_{w}x{h}"), s);
    }
}

/// Wide mode (`w`) shows every column at full width, and says so in the title.
#[test]
fn wide_mode_shows_every_column() {
    let (w, h) = (160, 45);
    let mut app = sample::loaded_world(sample::config(), w, h, sample::World::demo_like());

    step_app(&mut app, key('w'));
    let s = screen(&app, w, h);
    assert!(s.contains("· wide"), "{s}");
    assert!(s.contains("health") && s.contains("operation"), "{s}");
    insta::assert_snapshot!("wide_mode_160x45", s);
}

/// Enter on a row opens the whole object; `y` copies its id (an OSC 52 effect) and the id
/// stays on screen for selecting by hand.
#[test]
fn describe_a_bot_and_copy_its_id() {
    for (w, h) in SIZES {
        let mut app = sample::loaded_world(sample::config(), w, h, sample::World::demo_like());
        step_app(&mut app, code(KeyCode::Enter));
        assert_eq!(app.overlay(), Some("describe"));
        let s = screen(&app, w, h);
        for needle in ["bot bot-customer-service-v2", "env-prod-green", "v2.2.0"] {
            assert!(s.contains(needle), "{needle}:\n{s}");
        }
        insta::assert_snapshot!(format!("describe_bot_{w}x{h}"), s);
        let effects = step_app(&mut app, key('y'));
        assert_eq!(
            effects,
            vec![relcon::tui::messages::Effect::Copy(
                "bot-customer-service-v2".into()
            )]
        );
        assert_eq!(app.overlay(), Some("describe"));
        step_app(&mut app, code(KeyCode::Esc));
        assert_eq!(app.overlay(), None);
    }
}

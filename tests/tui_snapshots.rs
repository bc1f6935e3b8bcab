//! Whole screens of the console at 80×24 and 160×45 on a `TestBackend`, fed the sample
//! world through the same `Update`s the runtime sends. Colours are asserted where they
//! carry meaning (a production profile's red status bar, a failed step in red).

use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier};
use relcon::tui::layout::PaneId;
use relcon::tui::sample::{self, at, code, key, loaded, step_app, type_text};
use relcon::tui::{Action, App, AppConfig, draw};

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

#[test]
fn canary_in_progress() {
    for (w, h) in SIZES {
        let mut app = busy(w, h);
        // Follow the canary from the bots list.
        step_app(&mut app, key('j'));
        step_app(&mut app, key(':'));
        type_text(&mut app, "pane canary");
        step_app(&mut app, code(KeyCode::Enter));
        assert_eq!(app.focus(), PaneId::Canary);
        insta::assert_snapshot!(format!("canary_in_progress_{w}x{h}"), screen(&app, w, h));
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
        step_app(&mut app, key('d'));
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
    let effects = step_app(&mut app, key('d'));
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
    let openers: [&[Action]; 7] = [
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

//! Pure `update` tests: state in, action, effects and state out. No terminal, no network.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

use super::*;
use crate::engine::events::{EventKind, OpCommand, Outcome, ProgressEvent};
use crate::tui::component::Scene;
use crate::tui::layout::PaneId;
use crate::tui::messages::{Interest, Seen};
use crate::tui::sample::{self, at, code, key, loaded, step_app, t0, type_text};

fn app() -> App {
    loaded(sample::config(), 160, 45)
}

fn with_canary() -> App {
    let mut app = app();
    sample::canary_run(&mut app);
    app
}

fn focus_versions_on(app: &mut App, version: &str) {
    app.focus = PaneId::Versions;
    let i = app
        .visible_versions()
        .iter()
        .position(|v| v.id == version)
        .expect("version in the sample");
    app.panes.versions.list.pos.selected = i;
}

fn mutating(effects: &[Effect]) -> Vec<&Effect> {
    effects.iter().filter(|e| e.is_mutating()).collect()
}

#[test]
fn first_tick_refreshes_and_the_first_bot_is_watched() {
    let mut app = App::new(sample::config());
    let effects = app.update(Action::Tick(t0()));
    assert!(matches!(
        effects.as_slice(),
        [
            Effect::Refresh {
                what: RefreshWhat::All,
                ..
            },
            Effect::Interest(Interest {
                selected_bot: None,
                ..
            })
        ]
    ));
    let effects = app.update(Action::Update(Update::Bots {
        req: 1,
        bots: sample::bots(),
    }));
    assert!(matches!(
        effects.as_slice(),
        [Effect::Interest(Interest { selected_bot: Some(bot), .. })] if bot == "bot-checkout"
    ));
    // Ten seconds later nothing is asked again: the runtime's scheduler keeps what is
    // watched fresh.
    let effects = app.update(Action::Tick(at(10)));
    assert!(effects.is_empty(), "{effects:?}");
}

/// The bot the last `Interest` among `effects` watches.
fn watched(effects: &[Effect]) -> Option<String> {
    effects.iter().rev().find_map(|e| match e {
        Effect::Interest(i) => i.selected_bot.clone(),
        _ => None,
    })
}

#[test]
fn the_data_says_how_old_it_is_and_old_rows_are_marked() {
    let mut app = App::new(sample::config());
    app.update(Action::Tick(t0()));
    app.update(Action::Update(Update::Bots {
        req: 1,
        bots: sample::bots(),
    }));
    app.update(Action::Tick(at(12)));
    let f = app.freshness(PaneId::Bots).expect("the bots were read");
    assert_eq!((f.age, f.stale), (12, false));
    // A read that found the list unchanged makes it fresh again.
    app.update(Action::Update(Update::Unchanged { what: Seen::Bots }));
    assert_eq!(app.freshness(PaneId::Bots).map(|f| f.age), Some(0));
    // The selected bot read alone is fresher than the list.
    app.update(Action::Tick(at(75)));
    let mut one = sample::bots()[0].clone();
    one.name = "Checkout (renamed)".into();
    app.update(Action::Update(Update::Bot {
        req: 2,
        bot: Box::new(one),
    }));
    assert_eq!(app.bots[0].name, "Checkout (renamed)");
    assert_eq!(Scene::bot_age(&app, "bot-checkout"), Some(0));
    assert_eq!(Scene::bot_age(&app, "bot-care"), Some(63));
    assert!(app.freshness(PaneId::Bots).is_some_and(|f| f.stale));
}

#[test]
fn versions_arrive_a_page_at_a_time_and_a_refresh_of_the_newest_page_keeps_the_rest() {
    let mut app = App::new(sample::config());
    app.update(Action::Tick(t0()));
    app.update(Action::Update(Update::Bots {
        req: 1,
        bots: sample::bots(),
    }));
    let mut all = sample::versions("bot-checkout");
    all.truncate(3);
    let page = |n: u32, vs: Vec<crate::domain::Version>| Update::Versions {
        req: 10 + u64::from(n),
        bot: "bot-checkout".into(),
        page: n,
        size: 2,
        total: Some(3),
        versions: vs,
    };
    app.update(Action::Update(page(1, all[..2].to_vec())));
    assert_eq!(app.current_versions().len(), 2);
    assert_eq!(app.versions_total, Some(3));
    app.update(Action::Update(page(2, all[2..].to_vec())));
    assert_eq!(app.current_versions().len(), 3);
    // A newer version on top: the first page again brings it in, the oldest stays.
    let mut newer = all[0].clone();
    newer.id = "v9.9.9".into();
    newer.created_at = "2099-01-01T00:00:00Z".into();
    let Update::Versions { versions, .. } = &mut page(1, vec![newer, all[0].clone()]) else {
        unreachable!()
    };
    app.update(Action::Update(Update::Versions {
        req: 20,
        bot: "bot-checkout".into(),
        page: 1,
        size: 2,
        total: Some(4),
        versions: versions.clone(),
    }));
    let ids: Vec<&str> = app
        .current_versions()
        .iter()
        .map(|v| v.id.as_str())
        .collect();
    assert_eq!(ids.len(), 4, "{ids:?}");
    assert_eq!(ids[0], "v9.9.9");
    assert_eq!(ids[3], all[2].id);
    // A list that shrank is taken from its first page again.
    app.update(Action::Update(Update::Versions {
        req: 21,
        bot: "bot-checkout".into(),
        page: 1,
        size: 2,
        total: Some(1),
        versions: vec![all[0].clone()],
    }));
    assert_eq!(app.current_versions().len(), 1);
}

#[test]
fn navigation_moves_selection_and_panes() {
    let mut app = app();
    assert_eq!(app.selected_bot_id(), Some("bot-checkout"));
    let effects = app.update(key('j'));
    assert_eq!(app.selected_bot_id(), Some("bot-care"));
    assert_eq!(watched(&effects).as_deref(), Some("bot-care"));
    app.update(key('G'));
    assert_eq!(app.selected_bot_id(), Some("bot-faq"));
    app.update(key('g'));
    assert_eq!(app.selected_bot_id(), Some("bot-checkout"));
    app.update(code(KeyCode::Tab));
    assert_eq!(app.focus(), PaneId::Versions);
    app.update(Action::Key(KeyEvent::new(
        KeyCode::BackTab,
        KeyModifiers::SHIFT,
    )));
    assert_eq!(app.focus(), PaneId::Bots);
    // Enter describes the selected bot; esc closes the description, then goes back.
    app.update(code(KeyCode::Enter));
    assert_eq!(app.overlay(), Some("describe"));
    app.update(code(KeyCode::Esc));
    assert_eq!(app.overlay(), None);
    app.update(code(KeyCode::Tab));
    assert_eq!(app.focus(), PaneId::Versions);
    app.update(code(KeyCode::Esc));
    assert_eq!(app.focus(), PaneId::Bots);
    assert!(app.is_dirty());
}

#[test]
fn filter_narrows_the_bots_and_esc_clears_it() {
    let mut app = app();
    step_app(&mut app, key('/'));
    type_text(&mut app, "bill");
    assert_eq!(app.visible_bots().len(), 1);
    assert_eq!(app.selected_bot_id(), Some("bot-billing"));
    step_app(&mut app, code(KeyCode::Enter));
    assert_eq!(app.panes.bots.list.view.filter, "bill");
    // q is a key again once the filter is closed, but j/k work on the filtered list.
    step_app(&mut app, code(KeyCode::Esc));
    assert!(app.panes.bots.list.view.filter.is_empty());
    assert_eq!(app.visible_bots().len(), 4);
    assert_eq!(app.selected_bot_id(), Some("bot-billing"));
}

#[test]
fn deploy_asks_with_a_blue_green_preview_and_only_then_emits() {
    let mut app = app();
    focus_versions_on(&mut app, "v12");
    let effects = step_app(&mut app, key('D'));
    assert!(mutating(&effects).is_empty());
    assert_eq!(app.overlay(), Some("confirm"));
    let Some(Overlay::Confirm(c)) = app.overlays.last() else {
        panic!()
    };
    let text: Vec<&str> = c.lines.iter().map(|(_, l)| l.as_str()).collect();
    assert!(
        text.iter()
            .any(|l| l.contains("prod-blue") && l.contains("100% → 0%")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|l| l.contains("prod-green") && l.contains("0% → 100%")),
        "{text:?}"
    );
    let effects = step_app(&mut app, key('y'));
    assert_eq!(
        effects,
        vec![Effect::StartDeploy {
            bot: "bot-checkout".into(),
            version: "v12".into(),
            env: "env-prod-green".into()
        }]
    );
    assert_eq!(app.overlay(), None);

    // Saying no sends nothing.
    step_app(&mut app, key('D'));
    assert!(step_app(&mut app, key('n')).is_empty());
    assert_eq!(app.overlay(), None);
}

#[test]
fn deploy_refuses_drafts_and_the_live_version() {
    let mut app = app();
    focus_versions_on(&mut app, "v15");
    assert!(step_app(&mut app, key('D')).is_empty());
    assert_eq!(app.overlay(), None);
    assert!(app.toast_texts().iter().any(|t| t.contains("DRAFT")));
    focus_versions_on(&mut app, "v13");
    step_app(&mut app, key('D'));
    assert_eq!(app.overlay(), None);
    assert!(app.toast_texts().iter().any(|t| t.contains("already live")));
}

#[test]
fn canary_plan_form_validates_then_confirms() {
    let mut app = app();
    focus_versions_on(&mut app, "v12");
    step_app(&mut app, key('c'));
    assert_eq!(app.overlay(), Some("canary_form"));
    // Break the interval field, submit: the form stays, nothing is sent.
    step_app(&mut app, code(KeyCode::Tab));
    step_app(
        &mut app,
        Action::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
    );
    type_text(&mut app, "soon");
    let effects = step_app(
        &mut app,
        Action::Key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL)),
    );
    assert!(effects.is_empty());
    assert_eq!(app.overlay(), Some("canary_form"));
    // Fix it and walk to the last field.
    step_app(
        &mut app,
        Action::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
    );
    type_text(&mut app, "90s");
    // Longest hold, the three guardrails, minimum conversations, then the environment.
    for _ in 0..6 {
        step_app(&mut app, code(KeyCode::Enter));
    }
    // The environment is chosen here, as `relcon canary --environment` does; one the bot
    // is not bound to is refused in the form.
    let clear = Action::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    step_app(&mut app, clear.clone());
    type_text(&mut app, "env-nowhere");
    step_app(&mut app, code(KeyCode::Enter));
    assert_eq!(app.overlay(), Some("canary_form"));
    step_app(&mut app, clear);
    type_text(&mut app, "env-prod-green");
    step_app(&mut app, code(KeyCode::Enter));
    assert_eq!(app.overlay(), Some("confirm"));
    let effects = step_app(&mut app, key('y'));
    let [Effect::StartCanary(req)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(req.bot, "bot-checkout");
    assert_eq!(req.version, "v12");
    assert_eq!(req.env, "env-prod-green");
    assert_eq!(req.steps, vec![5.0, 25.0, 50.0, 100.0]);
    assert_eq!(req.interval, std::time::Duration::from_secs(90));
}

#[test]
fn rollback_picker_lists_eligible_versions_and_emits_after_confirmation() {
    let mut app = app();
    step_app(&mut app, key('r'));
    let Some(Overlay::RollbackPicker(p)) = app.overlays.last() else {
        panic!("{:?}", app.overlay())
    };
    // PUBLISHED, production, not the live v13: v12 and v11 (not DRAFT v15, STAGING v14, ARCHIVED v10).
    let ids: Vec<&str> = p.candidates.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(ids, ["v12", "v11"]);
    assert!(
        p.impact()
            .iter()
            .any(|(_, l)| l.contains("37 active sessions"))
    );
    step_app(&mut app, key('+'));
    let effects = step_app(&mut app, code(KeyCode::Enter));
    assert!(effects.is_empty());
    assert_eq!(app.overlay(), Some("confirm"));
    let effects = step_app(&mut app, key('y'));
    assert_eq!(
        effects,
        vec![Effect::StartRollback {
            bot: "bot-checkout".into(),
            version: "v12".into(),
            max_active_sessions: 1
        }]
    );
}

#[test]
fn production_confirmation_needs_the_bot_name_typed_exactly() {
    let mut app = loaded(
        AppConfig {
            production: true,
            ..sample::config()
        },
        160,
        45,
    );
    step_app(&mut app, key('r'));
    step_app(&mut app, code(KeyCode::Enter));
    // y is just a letter of the name now.
    assert!(step_app(&mut app, key('y')).is_empty());
    type_text(&mut app, "checkout");
    assert!(step_app(&mut app, code(KeyCode::Enter)).is_empty());
    assert_eq!(app.overlay(), Some("confirm"));
    let Some(Overlay::Confirm(c)) = app.overlays.last() else {
        panic!()
    };
    assert!(
        c.error
            .as_deref()
            .is_some_and(|e| e.contains("nothing was sent"))
    );
    step_app(
        &mut app,
        Action::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
    );
    type_text(&mut app, "checkout-bot");
    let effects = step_app(&mut app, code(KeyCode::Enter));
    assert!(
        matches!(effects.as_slice(), [Effect::StartRollback { version, .. }] if version == "v12")
    );
}

#[test]
fn read_only_refuses_every_change_visibly() {
    let mut app = loaded(
        AppConfig {
            read_only: true,
            ..sample::config()
        },
        160,
        45,
    );
    sample::canary_run(&mut app);
    focus_versions_on(&mut app, "v12");
    for k in ['D', 'c', 'r', 'p', 'P', ' ', 'a'] {
        let effects = step_app(&mut app, key(k));
        assert!(mutating(&effects).is_empty(), "{k}: {effects:?}");
        assert_eq!(app.overlay(), None, "{k}");
    }
    step_app(&mut app, key(':'));
    type_text(&mut app, "flows-deploy env-staging");
    assert!(mutating(&step_app(&mut app, code(KeyCode::Enter))).is_empty());
    let refusals = app
        .toast_texts()
        .iter()
        .filter(|t| t.contains("Read-only"))
        .count();
    assert!(refusals >= 3, "{:?}", app.toast_texts());
}

#[test]
fn operator_commands_reach_the_running_canary_after_confirmation() {
    let mut app = with_canary();
    app.focus = PaneId::Deployments;
    assert!(step_app(&mut app, key('p')).is_empty());
    assert_eq!(
        step_app(&mut app, key('y')),
        vec![Effect::Command {
            op: 7,
            cmd: OpCommand::PromoteStep
        }]
    );
    assert!(step_app(&mut app, key('P')).is_empty());
    assert_eq!(
        step_app(&mut app, key('y')),
        vec![Effect::Command {
            op: 7,
            cmd: OpCommand::PromoteFull
        }]
    );
    assert!(step_app(&mut app, key('a')).is_empty());
    assert_eq!(app.overlay(), Some("confirm"));
    assert!(step_app(&mut app, code(KeyCode::Esc)).is_empty());
    assert!(step_app(&mut app, key('a')).is_empty());
    assert_eq!(
        step_app(&mut app, key('y')),
        vec![Effect::Command {
            op: 7,
            cmd: OpCommand::Abort
        }]
    );
    // Pausing is the safe direction and goes at once; resuming asks.
    assert_eq!(
        step_app(&mut app, key(' ')),
        vec![Effect::Command {
            op: 7,
            cmd: OpCommand::Pause
        }]
    );
    step_app(
        &mut app,
        Action::Update(Update::Progress(ProgressEvent {
            op: 7,
            at: at(1),
            kind: EventKind::Paused,
        })),
    );
    assert!(step_app(&mut app, key(' ')).is_empty());
    assert_eq!(
        step_app(&mut app, key('y')),
        vec![Effect::Command {
            op: 7,
            cmd: OpCommand::Resume
        }]
    );
}

#[test]
fn commands_without_a_running_operation_explain_themselves() {
    let mut app = app();
    app.focus = PaneId::Deployments;
    assert!(step_app(&mut app, key('a')).is_empty());
    assert_eq!(app.overlay(), None);
    assert!(!app.toast_texts().is_empty());
}

#[test]
fn quit_asks_while_an_operation_runs_and_can_abort_first() {
    let mut idle = app();
    assert_eq!(idle.update(key('q')), vec![Effect::Quit]);
    assert!(idle.should_quit());

    let mut app = with_canary();
    assert!(app.update(key('q')).is_empty());
    assert_eq!(app.overlay(), Some("confirm"));
    let Some(Overlay::Confirm(c)) = app.overlays.last() else {
        panic!()
    };
    assert!(c.lines.iter().any(|(_, l)| l.contains("#7")));
    // Each run says what stopping it does.
    assert!(c.lines.iter().any(|(_, l)| l.contains("s: rolls back")));
    assert!(app.update(key('n')).is_empty());
    assert!(!app.should_quit());

    // `y` is not a choice of this dialog.
    app.update(key('q'));
    assert!(app.update(key('y')).is_empty());
    assert!(!app.should_quit());
    let effects = app.update(key('s'));
    assert_eq!(
        effects,
        vec![Effect::Command {
            op: 7,
            cmd: OpCommand::Abort
        }]
    );
    assert!(!app.should_quit());
    step_app(
        &mut app,
        Action::Update(Update::Progress(ProgressEvent {
            op: 7,
            at: at(5),
            kind: EventKind::Finished {
                outcome: Outcome::Cancelled,
                summary: "aborted; traffic back on v7".into(),
            },
        })),
    );
    let effects = app.update(Action::Tick(at(6)));
    assert!(effects.contains(&Effect::Quit));
    assert!(app.should_quit());
}

#[test]
fn the_abort_dialog_says_what_stopping_does_as_the_quit_dialog_does() {
    let mut app = with_canary();
    app.focus = PaneId::Deployments;
    app.abort();
    let Some(Overlay::Confirm(c)) = app.overlays.last() else {
        panic!("{:?}", app.overlay())
    };
    assert!(
        c.lines
            .iter()
            .any(|(_, l)| l == "It rolls back: traffic returns to v7 (100%)."),
        "{:?}",
        c.lines
    );
}

#[test]
fn quit_leaving_runs_prints_how_to_pick_them_up() {
    let mut app = with_canary();
    app.update(key('q'));
    let effects = app.update(key('l'));
    assert_eq!(effects, vec![Effect::Quit]);
    assert!(app.should_quit());
    let notes = app.exit_notes().join("\n");
    assert!(notes.contains("left 1 operation(s) running"), "{notes}");
    assert!(notes.contains("#7"), "{notes}");
    assert!(notes.contains("resume (drive)"), "{notes}");
    assert!(notes.contains("get bot-care --watch"), "{notes}");
    assert_eq!(app.take_exit_notes().len(), notes.lines().count());
    assert!(app.exit_notes().is_empty());
}

#[test]
fn stale_responses_are_ignored() {
    let mut app = App::new(sample::config());
    app.update(Action::Tick(t0()));
    let effects = app.update(Action::Update(Update::Bots {
        req: 5,
        bots: sample::bots(),
    }));
    assert_eq!(watched(&effects).as_deref(), Some("bot-checkout"));
    // The operator moves on before the answer arrives.
    let effects = app.update(key('j'));
    assert_eq!(watched(&effects).as_deref(), Some("bot-care"));
    let whole = |bot: &str, req| Update::Versions {
        req,
        bot: bot.into(),
        page: 1,
        size: 50,
        total: None,
        versions: sample::versions(bot),
    };
    app.update(Action::Update(whole("bot-checkout", 6)));
    assert!(app.current_versions().is_empty());
    app.update(Action::Update(whole("bot-care", 7)));
    assert_eq!(app.current_versions().len(), 3);
    // An older overview arriving after a newer one is dropped.
    let mut fewer = sample::bots();
    fewer.truncate(1);
    app.update(Action::Update(Update::Bots {
        req: 4,
        bots: fewer,
    }));
    assert_eq!(app.bots.len(), 4);
}

#[test]
fn server_strings_are_sanitised() {
    let mut app = app();
    app.update(Action::Update(Update::Error {
        title: "Deploy \u{1b}[31mfailed".into(),
        detail: "409\u{7} conflict\u{202e}".into(),
        hint: "wait\nand retry".into(),
    }));
    let Some(Overlay::Error {
        title,
        detail,
        hint,
    }) = app.overlays.last()
    else {
        panic!()
    };
    assert_eq!(title, "Deploy failed");
    assert_eq!(detail, "409 conflict");
    assert_eq!(hint, "wait and retry");
    app.update(code(KeyCode::Esc));
    assert_eq!(app.overlay(), None);
}

#[test]
fn mouse_selects_rows_and_focuses_panes() {
    let mut app = app();
    // Wide layout: bots at the top left; row 0 border, 1 header, 2 first bot.
    let click = |col, row| {
        Action::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: col,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    step_app(&mut app, click(10, 4));
    assert_eq!(app.selected_bot_id(), Some("bot-billing"));
    assert_eq!(app.focus(), PaneId::Bots);
    step_app(&mut app, click(100, 3));
    assert_eq!(app.focus(), PaneId::Deployments);
    let scroll = Action::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: 10,
        row: 4,
        modifiers: KeyModifiers::NONE,
    });
    step_app(&mut app, scroll);
    assert_eq!(app.selected_bot_id(), Some("bot-faq"));
}

#[test]
fn palette_runs_environment_deploys_with_confirmation() {
    let mut app = app();
    step_app(&mut app, key(':'));
    type_text(&mut app, "env-deploy env-staging ./snap.json");
    assert!(step_app(&mut app, code(KeyCode::Enter)).is_empty());
    assert_eq!(
        step_app(&mut app, key('y')),
        vec![Effect::StartEnvDeploy {
            env: "env-staging".into(),
            snapshot_path: "./snap.json".into()
        }]
    );
    // Like `relcon env-deploy`, an environment no bot here is bound to is sent to the
    // server to check, with the dialog saying so.
    step_app(&mut app, key(':'));
    type_text(&mut app, "env-deploy env_prod_us_01 ./snap.json");
    step_app(&mut app, code(KeyCode::Enter));
    assert_eq!(app.overlay(), Some("confirm"));
    let Some(Overlay::Confirm(c)) = app.overlays.last() else {
        panic!()
    };
    assert!(c.lines.iter().any(|(_, l)| l.contains("server checks")));
    assert_eq!(
        step_app(&mut app, key('y')),
        vec![Effect::StartEnvDeploy {
            env: "env_prod_us_01".into(),
            snapshot_path: "./snap.json".into()
        }]
    );
    step_app(&mut app, key(':'));
    type_text(&mut app, "flows-deploy");
    step_app(&mut app, code(KeyCode::Enter));
    assert_eq!(app.overlay(), None);
    assert!(app.toast_texts().iter().any(|t| t.contains("Usage")));
    step_app(&mut app, key(':'));
    type_text(&mut app, "pane time");
    step_app(&mut app, code(KeyCode::Enter));
    assert_eq!(app.focus(), PaneId::Timeline);
}

#[test]
fn finished_operations_toast_and_refresh() {
    let mut app = with_canary();
    let effects = app.update(Action::Update(Update::Progress(ProgressEvent {
        op: 7,
        at: at(3),
        kind: EventKind::Finished {
            outcome: Outcome::RolledBack,
            summary: "latency over 1500ms at 25%".into(),
        },
    })));
    assert!(effects.iter().any(|e| matches!(e, Effect::Refresh { .. })));
    assert!(
        app.toast_texts()
            .iter()
            .any(|t| t.contains("rolled back") && t.contains("latency"))
    );
    assert_eq!(app.active_runs(), 0);
    // Toasts go away on their own.
    app.update(Action::Tick(at(60)));
    assert!(app.toast_texts().is_empty());
}

#[test]
fn a_tiny_terminal_never_panics() {
    let mut app = with_canary();
    for (w, h) in [(0, 0), (1, 1), (59, 15), (60, 16), (80, 24), (300, 100)] {
        app.update(Action::Resize {
            width: w,
            height: h,
        });
        for k in ['j', 'k', 'G', 'g', '?'] {
            app.update(key(k));
        }
        app.update(code(KeyCode::Esc));
        app.update(code(KeyCode::Tab));
    }
}

#[test]
fn rollback_starts_on_the_version_before_the_live_one() {
    let mut app = app();
    step_app(&mut app, key('j'));
    assert_eq!(app.selected_bot_id(), Some("bot-care"));
    step_app(&mut app, key('r'));
    let Some(Overlay::RollbackPicker(p)) = app.overlays.last() else {
        panic!("{:?}", app.overlay())
    };
    // v8 (the canary, newer than the live v7) is eligible but not the default.
    assert_eq!(p.chosen().map(|v| v.id.as_str()), Some("v6"));
    step_app(&mut app, key('k'));
    let Some(Overlay::RollbackPicker(p)) = app.overlays.last() else {
        panic!()
    };
    assert!(p.impact().iter().any(|(_, l)| l.contains("rolls forward")));
}

#[test]
fn ctrl_c_closes_overlays_then_quits() {
    let mut app = app();
    let ctrl_c = Action::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    app.update(key(':'));
    assert_eq!(app.overlay(), Some("palette"));
    assert!(app.update(ctrl_c.clone()).is_empty());
    assert_eq!(app.overlay(), None);
    assert_eq!(app.update(ctrl_c), vec![Effect::Quit]);
}

#[test]
fn the_rollback_picker_starts_from_the_profiles_session_limit() {
    let mut app = loaded(
        AppConfig {
            rollback_max_sessions: 40,
            ..sample::config()
        },
        160,
        45,
    );
    step_app(&mut app, key('r'));
    let Some(Overlay::RollbackPicker(p)) = app.overlays.last() else {
        panic!("{:?}", app.overlay())
    };
    assert_eq!(p.max_active_sessions, 40);
    // 37 active sessions are within 40: no refusal warning.
    assert!(
        !p.impact()
            .iter()
            .any(|(_, l)| l.contains("will be refused"))
    );
    step_app(&mut app, code(KeyCode::Enter));
    let effects = step_app(&mut app, key('y'));
    assert!(matches!(
        effects.as_slice(),
        [Effect::StartRollback {
            max_active_sessions: 40,
            ..
        }]
    ));
}

#[test]
fn the_rollback_pickers_session_limit_is_typed_and_never_predicts_a_refusal() {
    let mut app = loaded(sample::config(), 160, 45);
    step_app(&mut app, key('r'));
    // The first digit replaces the profile's limit, the next ones append, backspace deletes.
    for c in ['2', '5', '0'] {
        step_app(&mut app, key(c));
    }
    step_app(&mut app, code(KeyCode::Backspace));
    let Some(Overlay::RollbackPicker(p)) = app.overlays.last() else {
        panic!("{:?}", app.overlay())
    };
    assert_eq!(p.max_active_sessions, 25);
    // 37 active sessions above a limit of 25: they drain; nothing says "refused" up front.
    let text: Vec<String> = p.impact().into_iter().map(|(_, l)| l).collect();
    assert!(
        text.iter().all(|l| !l.contains("will be refused")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|l| l.contains("37 active sessions finish on the live version")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|l| l.contains("more than 25 would still be open")),
        "{text:?}"
    );
    step_app(&mut app, code(KeyCode::Enter));
    let effects = step_app(&mut app, key('y'));
    assert!(matches!(
        effects.as_slice(),
        [Effect::StartRollback {
            max_active_sessions: 25,
            ..
        }]
    ));
}

// ---- the Canary pane's analysis history and its decision popup ----

fn on_canary_pane() -> App {
    let mut app = with_canary();
    step_app(&mut app, key('j'));
    app.focus = PaneId::Canary;
    assert_eq!(app.canary_view().and_then(|v| v.run).map(|r| r.id), Some(7));
    app
}

fn decisions(app: &App) -> usize {
    app.runs
        .iter()
        .find(|r| r.id == 7)
        .map_or(0, |r| r.decisions.len())
}

fn selected(app: &App) -> Option<usize> {
    app.panes.canary.history.selected(7, decisions(app))
}

fn popup(app: &App) -> Option<(usize, u16)> {
    match app.overlays.last() {
        Some(Overlay::Decision {
            run: 7,
            index,
            scroll,
        }) => Some((*index, *scroll)),
        _ => None,
    }
}

#[test]
fn the_history_selection_follows_the_newest_decision_until_moved() {
    let mut app = on_canary_pane();
    let n = decisions(&app);
    assert!(n >= 5, "the sample canary has a history");
    assert_eq!(selected(&app), Some(n - 1));
    assert!(step_app(&mut app, key('k')).is_empty());
    assert!(step_app(&mut app, code(KeyCode::Up)).is_empty());
    assert_eq!(selected(&app), Some(n - 3));
    // A new decision does not move a selection the operator made.
    let last = app.runs[0].decisions.last().cloned().expect("a decision");
    let decision = |app: &mut App, secs: i64| {
        step_app(
            app,
            Action::Update(Update::Progress(ProgressEvent {
                op: 7,
                at: at(secs),
                kind: EventKind::CanaryDecision(Box::new(last.clone())),
            })),
        );
    };
    decision(&mut app, 20);
    assert_eq!(selected(&app), Some(n - 3));
    // Back at the bottom, it follows again.
    step_app(&mut app, key('G'));
    assert_eq!(selected(&app), Some(n));
    decision(&mut app, 40);
    assert_eq!(selected(&app), Some(n + 1));
    step_app(&mut app, key('g'));
    assert_eq!(selected(&app), Some(0));
    // The visible window keeps the selection on screen.
    let rows = crate::tui::panes::canary::history_rows(&app);
    assert!(rows >= 1);
    assert_eq!(app.panes.canary.history.offset(7, decisions(&app), rows), 0);
    for _ in 0..decisions(&app) {
        step_app(&mut app, key('j'));
    }
    let sel = selected(&app).unwrap();
    let off = app.panes.canary.history.offset(7, decisions(&app), rows);
    assert!(off <= sel && sel < off + rows, "{off} {sel} {rows}");
}

#[test]
fn enter_opens_the_selected_decision_and_esc_closes_it() {
    let mut app = on_canary_pane();
    let n = decisions(&app);
    step_app(&mut app, key('k'));
    assert!(step_app(&mut app, code(KeyCode::Enter)).is_empty());
    assert_eq!(app.overlay(), Some("decision"));
    assert_eq!(popup(&app), Some((n - 2, 0)));
    // Scrolling stops at the end of the popup; ← and → step through the decisions.
    step_app(&mut app, key('j'));
    assert_eq!(popup(&app), Some((n - 2, 1)));
    for _ in 0..500 {
        step_app(&mut app, key('j'));
    }
    let (_, max) = popup(&app).unwrap();
    step_app(&mut app, key('k'));
    assert_eq!(popup(&app), Some((n - 2, max - 1)));
    step_app(&mut app, code(KeyCode::Right));
    assert_eq!(popup(&app), Some((n - 1, 0)));
    step_app(&mut app, code(KeyCode::Right));
    assert_eq!(
        popup(&app),
        Some((n - 1, 0)),
        "no decision after the newest"
    );
    step_app(&mut app, code(KeyCode::Left));
    step_app(&mut app, code(KeyCode::Left));
    assert_eq!(popup(&app), Some((n - 3, 0)));
    // The pane's selection went along.
    assert_eq!(selected(&app), Some(n - 3));
    assert!(step_app(&mut app, code(KeyCode::Esc)).is_empty());
    assert_eq!(app.overlay(), None);
    assert_eq!(
        app.focus(),
        PaneId::Canary,
        "esc closed the popup, not the pane"
    );
    // Enter and q close it too.
    step_app(&mut app, code(KeyCode::Enter));
    step_app(&mut app, code(KeyCode::Enter));
    assert_eq!(app.overlay(), None);
    step_app(&mut app, code(KeyCode::Enter));
    assert!(step_app(&mut app, key('q')).is_empty());
    assert_eq!(app.overlay(), None);
    assert!(!app.should_quit());
}

#[test]
fn keys_do_not_leak_past_the_decision_popup() {
    let mut app = on_canary_pane();
    step_app(&mut app, code(KeyCode::Enter));
    let before = popup(&app);
    for a in [
        key('p'),
        key('P'),
        key('a'),
        key(' '),
        key('r'),
        key('d'),
        key('c'),
        key('?'),
        key(':'),
        key('/'),
        code(KeyCode::Tab),
        code(KeyCode::BackTab),
        Action::Key(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL)),
    ] {
        let effects = step_app(&mut app, a.clone());
        assert!(effects.is_empty(), "{a:?}: {effects:?}");
        assert_eq!(app.overlays.len(), 1, "{a:?}");
        assert_eq!(app.overlay(), Some("decision"), "{a:?}");
        assert_eq!(app.focus(), PaneId::Canary, "{a:?}");
    }
    // Space scrolls the popup (a page), it does not pause the canary.
    assert_ne!(popup(&app), before);
    // The mouse wheel scrolls it; clicks do nothing underneath.
    step_app(&mut app, key('g'));
    let wheel = |kind| {
        Action::Mouse(MouseEvent {
            kind,
            column: 10,
            row: 10,
            modifiers: KeyModifiers::NONE,
        })
    };
    step_app(&mut app, wheel(MouseEventKind::ScrollDown));
    assert_eq!(popup(&app).map(|p| p.1), Some(1));
    step_app(&mut app, wheel(MouseEventKind::Down(MouseButton::Left)));
    assert_eq!(app.overlay(), Some("decision"));
    // ctrl-c closes it, like every overlay.
    step_app(
        &mut app,
        Action::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
    );
    assert_eq!(app.overlay(), None);
    assert!(!app.should_quit());
}

#[test]
fn without_a_decision_enter_opens_no_decision() {
    let mut app = app();
    app.focus = PaneId::Canary;
    assert!(step_app(&mut app, code(KeyCode::Enter)).is_empty());
    assert_ne!(app.overlay(), Some("decision"));
}

#[test]
fn the_help_lists_the_canary_panes_keys() {
    let mut app = on_canary_pane();
    step_app(&mut app, key('?'));
    let sections = app.help_sections();
    let pane = &sections[0];
    assert_eq!(pane.title, "Canary pane");
    let find = |what: &str| {
        pane.entries
            .iter()
            .find(|(_, w)| w.contains(what))
            .map(|(k, _)| k.clone())
    };
    assert_eq!(find("select a decision").as_deref(), Some("j/down/k/up"));
    assert_eq!(find("open the decision").as_deref(), Some("enter"));
    assert!(find("close the decision").is_some_and(|k| k.contains("esc")));
    assert!(find("promote · extend · roll back").is_some());
}

#[test]
fn a_canary_paused_for_a_decision_is_extended_by_resuming() {
    let mut app = loaded(sample::config(), 160, 45);
    sample::canary_paused(&mut app);
    step_app(&mut app, key('j'));
    app.focus = PaneId::Canary;
    let run = app.runs.iter().find(|r| r.id == 7).expect("the canary");
    assert!(crate::tui::panes::canary::paused_for_decision(run));
    assert!(step_app(&mut app, key(' ')).is_empty());
    let Some(Overlay::Confirm(c)) = app.overlays.last() else {
        panic!("resuming asks first")
    };
    assert!(
        c.lines.iter().any(|(_, l)| l.contains("extend")),
        "{:?}",
        c.lines
    );
    assert_eq!(
        step_app(&mut app, key('y')),
        vec![Effect::Command {
            op: 7,
            cmd: OpCommand::Resume
        }]
    );
}

#[test]
fn decisions_are_sanitised_and_reach_the_timeline() {
    let mut app = with_canary();
    let mut d = app.runs[0].decisions[0].clone();
    d.action = "extend\u{1b}[31m".into();
    d.reason = "why\u{202e}not".into();
    step_app(
        &mut app,
        Action::Update(Update::Progress(ProgressEvent {
            op: 7,
            at: at(30),
            kind: EventKind::CanaryDecision(Box::new(d)),
        })),
    );
    let got = app.runs[0].decisions.last().unwrap();
    assert!(!got.action.contains('\u{1b}') && !got.reason.contains('\u{202e}'));
    let entry = app.local_timeline.last().unwrap();
    assert!(
        entry.text.contains("canary step 1 at 5%: extend"),
        "{}",
        entry.text
    );
    // A look alone is not a timeline entry: only decisions are.
    let n = app.local_timeline.len();
    let sample = app.runs[0].sample.clone().unwrap();
    step_app(
        &mut app,
        Action::Update(Update::Progress(ProgressEvent {
            op: 7,
            at: at(31),
            kind: EventKind::Canary(Box::new(sample)),
        })),
    );
    assert_eq!(app.local_timeline.len(), n);
}

/// Text typed on after an error dialog stays in the dialog: no key reaches the panes as a
/// hotkey (it once started a rollback), and only esc or enter closes it.
#[test]
fn an_error_dialog_owns_the_keyboard() {
    let mut app = app();
    app.overlays.push(Overlay::Error {
        title: "unknown command".into(),
        detail: "x".into(),
        hint: "y".into(),
    });
    let effects = type_text(&mut app, "rollback quickly D c p a");
    assert!(effects.is_empty(), "{effects:?}");
    assert_eq!(app.overlay(), Some("error"));
    step_app(&mut app, code(KeyCode::Esc));
    assert_eq!(app.overlay(), None);
}

// ---- sort and filter in every list ----

fn bot_ids(app: &App) -> Vec<&str> {
    app.visible_bots().iter().map(|b| b.id.as_str()).collect()
}

fn version_ids(app: &App) -> Vec<&str> {
    app.visible_versions()
        .iter()
        .map(|v| v.id.as_str())
        .collect()
}

fn title(app: &App, pane: PaneId, shown: usize, total: usize) -> String {
    let view = app.panes.view(pane).cloned().unwrap_or_default();
    crate::tui::panes::list_title(&view, pane, shown, total)
}

#[test]
fn s_cycles_the_bots_sort_and_the_title_says_so() {
    let mut app = app();
    assert_eq!(
        bot_ids(&app),
        ["bot-checkout", "bot-care", "bot-billing", "bot-faq"]
    );
    assert_eq!(title(&app, PaneId::Bots, 4, 4), "4");
    step_app(&mut app, key('s'));
    assert_eq!(
        bot_ids(&app),
        ["bot-billing", "bot-care", "bot-checkout", "bot-faq"]
    );
    assert_eq!(title(&app, PaneId::Bots, 4, 4), "4 · sort name ↑");
    step_app(&mut app, key('S'));
    assert_eq!(
        bot_ids(&app),
        ["bot-faq", "bot-checkout", "bot-care", "bot-billing"]
    );
    assert_eq!(title(&app, PaneId::Bots, 4, 4), "4 · sort name ↓");
    // Next key: state, worst first (unhealthy, degraded, healthy by name).
    step_app(&mut app, key('s'));
    assert_eq!(title(&app, PaneId::Bots, 4, 4), "4 · sort state ↑");
    assert_eq!(
        bot_ids(&app),
        ["bot-billing", "bot-care", "bot-checkout", "bot-faq"]
    );
    step_app(&mut app, key('s'));
    assert_eq!(title(&app, PaneId::Bots, 4, 4), "4 · sort last change ↓");
    // Then the list's own order again, and nothing about sort in the title.
    step_app(&mut app, key('s'));
    assert_eq!(
        bot_ids(&app),
        ["bot-checkout", "bot-care", "bot-billing", "bot-faq"]
    );
    assert_eq!(title(&app, PaneId::Bots, 4, 4), "4");
}

#[test]
fn sorting_and_filtering_keep_the_selection_on_the_same_object() {
    let mut app = app();
    step_app(&mut app, key('j'));
    assert_eq!(app.selected_bot_id(), Some("bot-care"));
    assert_eq!(app.panes.bots.list.pos.selected, 1);
    // Name ↓: faq, checkout, care, billing; care is still selected, at row 2, and its
    // versions are not fetched again.
    let effects = app.update(key('S'));
    assert!(
        !effects.iter().any(
            |e| matches!(e, Effect::Interest(i) if i.selected_bot.as_deref() != Some("bot-care"))
        ),
        "{effects:?}"
    );
    assert_eq!(app.selected_bot_id(), Some("bot-care"));
    assert_eq!(app.panes.bots.list.pos.selected, 2);
    // A filter that keeps care keeps it selected; one that hides it selects the first row.
    step_app(&mut app, key('/'));
    type_text(&mut app, "bot");
    assert_eq!(app.selected_bot_id(), Some("bot-care"));
    assert_eq!(app.panes.bots.list.pos.selected, 2);
    type_text(&mut app, "-b");
    assert_eq!(bot_ids(&app), ["bot-billing"]);
    assert_eq!(app.selected_bot_id(), Some("bot-billing"));

    // Versions: select v12, sort by version ↑ (v10 … v15): v12 is still the one selected.
    let mut app = self::app();
    focus_versions_on(&mut app, "v12");
    assert_eq!(app.panes.versions.list.pos.selected, 3);
    step_app(&mut app, key('s'));
    assert_eq!(
        version_ids(&app),
        ["v10", "v11", "v12", "v13", "v14", "v15"]
    );
    assert_eq!(app.selected_version().map(|v| v.id.as_str()), Some("v12"));
    assert_eq!(app.panes.versions.list.pos.selected, 2);
}

#[test]
fn describe_and_deploy_act_on_the_row_shown_selected() {
    let mut app = app();
    app.focus = PaneId::Versions;
    // Version ↑, then the top row: v10 in the sorted list (v15 in the server's order).
    step_app(&mut app, key('s'));
    step_app(&mut app, key('g'));
    assert_eq!(app.selected_version().map(|v| v.id.as_str()), Some("v10"));
    step_app(&mut app, key('d'));
    assert!(
        matches!(
            app.overlays.last(),
            Some(Overlay::Describe {
                target: crate::tui::describe::DescribeTarget::Version { version, .. },
                ..
            }) if version == "v10"
        ),
        "{:?}",
        app.overlay()
    );
    step_app(&mut app, code(KeyCode::Esc));
    // Down to v12 (third row sorted) and deploy it: the preview names v12.
    step_app(&mut app, key('j'));
    step_app(&mut app, key('j'));
    step_app(&mut app, key('D'));
    let Some(Overlay::Confirm(c)) = app.overlays.last() else {
        panic!("no confirmation: {:?}", app.overlay())
    };
    assert!(c.title.contains("v12"), "{}", c.title);
}

#[test]
fn each_pane_keeps_its_own_filter_and_esc_clears_it() {
    let mut app = app();
    // Versions of checkout-bot: only v11 was rolled back.
    app.focus = PaneId::Versions;
    step_app(&mut app, key('/'));
    type_text(&mut app, "ROLLED");
    step_app(&mut app, code(KeyCode::Enter));
    assert_eq!(version_ids(&app), ["v11"]);
    assert_eq!(app.panes.versions.list.view.filter, "ROLLED");
    assert_eq!(
        title(&app, PaneId::Versions, 1, 6),
        "1 of 6 · filter \"ROLLED\""
    );
    // The Bots pane is not filtered by it.
    assert!(app.panes.bots.list.view.filter.is_empty());
    assert_eq!(app.visible_bots().len(), 4);
    // Bots gets a filter of its own; the versions filter stays.
    app.focus = PaneId::Bots;
    step_app(&mut app, key('/'));
    type_text(&mut app, "check");
    step_app(&mut app, code(KeyCode::Enter));
    assert_eq!(bot_ids(&app), ["bot-checkout"]);
    assert_eq!(app.panes.versions.list.view.filter, "ROLLED");
    assert_eq!(title(&app, PaneId::Bots, 1, 4), "1 of 4 · filter \"check\"");
    // esc clears the focused pane's filter only, then goes back as before.
    app.focus = PaneId::Versions;
    step_app(&mut app, code(KeyCode::Esc));
    assert!(app.panes.versions.list.view.filter.is_empty());
    assert_eq!(app.focus(), PaneId::Versions);
    assert_eq!(version_ids(&app).len(), 6);
    assert_eq!(app.panes.bots.list.view.filter, "check");
    step_app(&mut app, code(KeyCode::Esc));
    assert_eq!(app.focus(), PaneId::Bots);
    step_app(&mut app, code(KeyCode::Esc));
    assert!(app.panes.bots.list.view.filter.is_empty());
    // esc while typing clears too.
    app.focus = PaneId::Timeline;
    step_app(&mut app, key('/'));
    type_text(&mut app, "zzz-nothing");
    assert_eq!(app.timeline_len(), 0);
    step_app(&mut app, code(KeyCode::Esc));
    assert!(app.panes.timeline.list.view.filter.is_empty());
    assert!(app.timeline_len() > 0);
}

#[test]
fn deployments_and_timeline_sort_and_filter_too() {
    let mut app = with_canary();
    sample::failed_deploy(&mut app);
    app.focus = PaneId::Deployments;
    let natural = app.deploy_items();
    assert!(natural.len() >= 2, "{natural:?}");
    let bot_of = |app: &App, i: &DeployItem| match i {
        DeployItem::Run(r) => app.runs[*r].bot.clone(),
        DeployItem::Server(o) => app.operations[*o].bot_id.clone(),
    };
    let names = |app: &App| -> Vec<String> {
        app.deploy_items()
            .iter()
            .map(|i| {
                let id = bot_of(app, i).unwrap_or_default();
                app.bot(&id).map(|b| b.name.clone()).unwrap_or(id)
            })
            .collect()
    };
    // started ↓, state ↑, then bot ↑: names in order.
    for _ in 0..3 {
        step_app(&mut app, key('s'));
    }
    assert_eq!(
        app.panes.deployments.list.view.title(PaneId::Deployments),
        "sort bot ↑"
    );
    let sorted = names(&app);
    let mut want = sorted.clone();
    want.sort_by(|a, b| crate::tui::state::natural_cmp(a, b));
    assert_eq!(sorted, want);
    // The filter narrows to the care-bot's rows.
    step_app(&mut app, key('/'));
    type_text(&mut app, "care");
    step_app(&mut app, code(KeyCode::Enter));
    let items = app.deploy_items();
    assert!(!items.is_empty() && items.len() < natural.len());
    assert!(
        items
            .iter()
            .all(|i| bot_of(&app, i).as_deref() == Some("bot-care"))
    );

    // Timeline: op ↑ after time ↓.
    app.focus = PaneId::Timeline;
    step_app(&mut app, key('s'));
    assert_eq!(
        app.panes.timeline.list.view.title(PaneId::Timeline),
        "sort time ↓"
    );
    step_app(&mut app, key('S'));
    let times: Vec<_> = app.visible_timeline().iter().map(|e| e.at).collect();
    let mut oldest_first = times.clone();
    oldest_first.sort();
    assert_eq!(times, oldest_first);
    assert_eq!(
        app.panes.timeline.list.view.title(PaneId::Timeline),
        "sort time ↑"
    );
}

#[test]
fn sort_and_filter_are_listed_in_the_help_of_every_list_pane() {
    for pane in [
        PaneId::Bots,
        PaneId::Versions,
        PaneId::Deployments,
        PaneId::Timeline,
    ] {
        let mut app = app();
        app.focus = pane;
        let help = app.help_sections();
        let keys: Vec<&str> = help[0].entries.iter().map(|(k, _)| k.as_str()).collect();
        for k in ["/", "s", "S"] {
            assert!(keys.contains(&k), "{pane:?}: {keys:?}");
        }
    }
}

/// A run of this console goes by `#n` in every timeline row, whether the row came from its
/// progress or from the audit trail under its operation id, and its ending shows once.
#[test]
fn a_runs_audit_rows_share_its_id_and_its_ending_is_not_shown_twice() {
    let mut app = app();
    let ev = |secs: i64, kind: EventKind| {
        Action::Update(Update::Progress(ProgressEvent {
            op: 3,
            at: at(secs),
            kind,
        }))
    };
    step_app(
        &mut app,
        ev(
            0,
            EventKind::Started {
                workflow: crate::engine::events::WorkflowKind::Deploy,
                title: "deploy bot-care v8".into(),
                bot: Some("bot-care".into()),
                steps: vec!["validate".into()],
                operation: Some("op-0193-aaaa".into()),
            },
        ),
    );
    step_app(
        &mut app,
        ev(
            5,
            EventKind::Finished {
                outcome: Outcome::Succeeded,
                summary: "v8 live in prod-blue".into(),
            },
        ),
    );
    let audit = |secs: i64, text: &str| TimelineEntry {
        at: at(secs),
        op: Some("op-0193-aaaa".into()),
        bot: Some("bot-care".into()),
        text: text.into(),
        figures: Vec::new(),
    };
    let req = app.req();
    step_app(
        &mut app,
        Action::Update(Update::Timeline {
            req,
            entries: vec![
                audit(0, "deploy started v7 → v8"),
                audit(4, "deploy completed v7 → v8: v8 live in prod-blue"),
            ],
        }),
    );
    let rows: Vec<(String, String)> = app
        .timeline_rows()
        .filter(|e| e.bot.as_deref() == Some("bot-care"))
        .map(|e| (e.op.clone().unwrap_or_default(), e.text.clone()))
        .collect();
    // Its start and its end, each once: the audit's rows stand for the progress's.
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert!(rows.iter().all(|(op, _)| op == "#3"), "{rows:#?}");
    let endings = rows
        .iter()
        .filter(|(_, t)| t.contains("completed") || t.starts_with("succeeded"))
        .count();
    assert_eq!(endings, 1, "{rows:#?}");
}

//! How long one frame of the busiest screen takes: the canary in progress (three charts,
//! verdicts, step lists, timeline) drawn at 160×45 on a `TestBackend`.

// The sample is written against the crate's own paths; these bring them into scope here.
use relcon::{config, domain, engine, plans, tui};

#[path = "../tests/tui_support/sample/mod.rs"]
mod sample;

use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use relcon::tui::{Action, draw};
use sample::{at, key, loaded, step_app};

fn canary_screen(c: &mut Criterion) {
    let mut app = loaded(sample::config(), 160, 45);
    sample::canary_run(&mut app);
    sample::failed_deploy(&mut app);
    step_app(&mut app, Action::Tick(at(9)));
    step_app(&mut app, key('j'));
    // A TestBackend cannot fail.
    let Ok(mut terminal) = Terminal::new(TestBackend::new(160, 45));
    c.bench_function("draw canary in progress 160x45", |b| {
        b.iter(|| {
            let _ = terminal.draw(|f| draw(f, std::hint::black_box(&app)));
        })
    });
    c.bench_function("update: tick + redraw decision", |b| {
        let mut secs = 10;
        b.iter(|| {
            secs += 1;
            std::hint::black_box(app_tick(&mut app, secs));
        })
    });
}

fn app_tick(app: &mut relcon::tui::App, secs: i64) -> usize {
    app.update(Action::Tick(at(secs))).len()
}

criterion_group!(benches, canary_screen);
criterion_main!(benches);

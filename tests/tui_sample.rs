//! The console's sample canary (`tests/tui_support/sample/canary.json`): what it must hold,
//! and how to make it again from the judge as it is now.

// The sample is written against the crate's own paths; these bring them into scope here.
use relcon::{config, domain, engine, plans, tui};

#[path = "tui_support/sample/mod.rs"]
mod sample;

use engine::events::{EventKind, ProgressEvent};
use sample::simulate::{frozen_text, generate};

/// Regenerate `canary.json` from the judge as it is now.
#[test]
#[ignore = "writes tests/tui_support/sample/canary.json; run when the judge's output should show"]
fn regenerate_the_sample_canary() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/tui_support/sample/canary.json"
    );
    let frozen = generate();
    let text = frozen_text(&frozen);
    let back: sample::Frozen = serde_json::from_str(&text).expect("the text reads back");
    assert_eq!(back, frozen);
    std::fs::write(path, text).expect("canary.json is writable");
}

/// The frozen stories are what the simulation meant: the rollback ends rolled back by the
/// judge, the pause ends paused, and both agree up to the sample's now.
#[test]
fn the_frozen_stories_end_as_they_should() {
    let s = sample::stories();
    let last = |st: &sample::Story| {
        st.events
            .iter()
            .rev()
            .find_map(|(_, e)| match e {
                EventKind::CanaryDecision(d) => Some(d.action.clone()),
                _ => None,
            })
            .unwrap_or_default()
    };
    assert_eq!(last(&s.rolled_back), "roll back");
    assert_eq!(last(&s.paused), "pause");
    assert!(s.rolled_back.until_now < s.rolled_back.events.len());
    assert!(s.paused.ended > s.rolled_back.ended);
    // Every event is one the console can take.
    for (t, kind) in &s.paused.events {
        let _ = ProgressEvent {
            op: 7,
            at: sample::at(*t),
            kind: kind.clone(),
        };
    }
}

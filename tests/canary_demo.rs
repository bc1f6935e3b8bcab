//! The demo demonstrates: in `relcon demo`'s world, with the default profile's plan and
//! judge, the healthy candidates promote and the regressing bot-travel-assistant v3.5.0 is
//! rolled back on a metric it regressed in, with the numbers. Driven in-process on the
//! simulator's traffic model by the benchmark's driver (the engine's judge and policy).

use relcon::bench::{Ending, Judge, run};
use relcon::sim::scenario::Scenario;

#[test]
fn the_demo_worlds_healthy_canaries_promote_and_its_regression_rolls_back() {
    let s = Scenario::demo().expect("the demo scenario parses");
    for seed in [7, 1, 2] {
        for (bot, version) in [
            ("bot-customer-service-v2", "v2.4.0"),
            ("bot_abc123", "2.1.0-canary"),
            ("bot-hr-helpdesk", "v1.10.0"),
        ] {
            let r = run(&s, Judge::Relcon, bot, version, seed);
            assert_eq!(
                r.ending,
                Ending::Promoted,
                "{bot} {version}, seed {seed}: {}",
                r.reason
            );
            // Promoted within the first steps' budgets, not after an hour of holding.
            assert!(r.took < 1800.0, "{bot} took {} s", r.took);
        }
        let r = run(&s, Judge::Relcon, "bot-travel-assistant", "v3.5.0", seed);
        assert_eq!(r.ending, Ending::RolledBack, "seed {seed}: {}", r.reason);
        assert!(
            ["error rate ", "latency ", "CSAT "]
                .iter()
                .any(|m| r.reason.contains(m))
                && r.reason.contains(" baseline")
                && r.reason.contains("→ fail"),
            "seed {seed}: {}",
            r.reason
        );
    }
}

//! relcon's anytime-valid t-test against vectors from an independent implementation
//! (savvi's `LinearRegression`, by scripts/judge-vectors.py): the same estimate, standard
//! error, confidence sequence and p-value from relcon's sufficient statistics.

use relcon::engine::judge::stats::{Moments, difference, mean};
use serde_json::Value;

fn close(what: &str, ours: f64, theirs: f64, rel: f64) {
    let scale = theirs.abs().max(1e-3);
    assert!(
        (ours - theirs).abs() <= rel * scale,
        "{what}: relcon {ours} vs savvi {theirs}"
    );
}

#[test]
fn stats_match_savvi() {
    let text = include_str!("data/judge_vectors.json");
    let doc: Value = serde_json::from_str(text).expect("vectors parse");
    let mut checked = 0;
    for case in doc["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().unwrap_or_default();
        let alpha = case["alpha"].as_f64().unwrap();
        let phi = case["phi"].as_f64().unwrap();
        let blocks = case["blocks"].as_u64().unwrap() as usize;
        for point in case["points"].as_array().unwrap() {
            let mut cells = vec![(Moments::default(), Moments::default()); blocks];
            for m in point["moments"].as_array().unwrap() {
                let b = m["block"].as_u64().unwrap() as usize;
                let moments = Moments {
                    n: m["n"].as_f64().unwrap(),
                    sum: m["sum"].as_f64().unwrap(),
                    sumsq: m["sumsq"].as_f64().unwrap(),
                };
                match m["arm"].as_str() {
                    Some("canary") => cells[b].0 = moments,
                    _ => cells[b].1 = moments,
                }
            }
            let coef = match case["model"].as_str() {
                Some("mean") => mean(&cells[0].0),
                _ => difference(&cells),
            }
            .expect("a fit");
            let at = format!("{name} (phi {phi}) at n={}", point["n"]);
            close(
                &format!("{at}: estimate"),
                coef.estimate,
                point["estimate"].as_f64().unwrap(),
                1e-4,
            );
            close(
                &format!("{at}: se"),
                coef.se(),
                point["se"].as_f64().unwrap(),
                1e-4,
            );
            let (lo, hi) = coef.interval(alpha, phi);
            match (point["lower"].as_f64(), point["upper"].as_f64()) {
                (Some(l), Some(u)) => {
                    close(&format!("{at}: lower"), lo, l, 1e-4);
                    close(&format!("{at}: upper"), hi, u, 1e-4);
                }
                _ => assert!(
                    lo.is_infinite() && hi.is_infinite(),
                    "{at}: savvi has no bound yet, relcon has [{lo}, {hi}]"
                ),
            }
            let p = point["p_value"].as_f64().unwrap().min(1.0);
            close(&format!("{at}: p-value"), coef.p_value(phi, 0.0), p, 1e-3);
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} points checked");
}

//! When a canary moves: the step policy as a pure state machine, so the engine, the console
//! and the benchmark share one set of rules and tests need no server.
//!
//! Each step is held at least `interval` and is judged at every look:
//! - a **fail** counts against `failure_limit`; past it the canary is rolled back at once;
//! - once the step has been held `interval`, a **pass** advances it at once (or promotes
//!   after the last step);
//! - an **inconclusive** verdict extends the hold by another `interval`, and says why; when
//!   the step has been held `max_hold`, or the canary has extended more than
//!   `inconclusive_limit` times, `on_inconclusive` decides: pause for a person (the default),
//!   roll back, or carry on as if the step had passed;
//! - a metric read that fails is not a verdict: `error_limit` failures in a row pause the
//!   canary, they never roll it back.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::engine::events::Verdict;

/// What an inconclusive step does once its budget is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnInconclusive {
    /// Stop and wait for a person (the console offers promote, extend, roll back).
    #[default]
    Pause,
    /// Roll the canary back.
    Rollback,
    /// Take the next step as if this one had passed.
    Promote,
}

impl OnInconclusive {
    pub fn as_str(self) -> &'static str {
        match self {
            OnInconclusive::Pause => "pause",
            OnInconclusive::Rollback => "rollback",
            OnInconclusive::Promote => "promote",
        }
    }

    pub fn parse(text: &str) -> Option<OnInconclusive> {
        match text.trim() {
            "pause" => Some(OnInconclusive::Pause),
            "rollback" | "roll-back" | "roll_back" => Some(OnInconclusive::Rollback),
            "promote" => Some(OnInconclusive::Promote),
            _ => None,
        }
    }
}

/// The budgets of a canary's steps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Budgets {
    /// Shortest hold of a step, and the length of each extension.
    #[serde(with = "secs")]
    pub interval: Duration,
    /// Longest hold of a step before `on_inconclusive` decides.
    #[serde(with = "secs")]
    pub max_hold: Duration,
    /// Failing looks tolerated before rolling back (0: the first rolls back).
    pub failure_limit: u32,
    /// Extensions tolerated over the whole canary before `on_inconclusive` decides.
    pub inconclusive_limit: u32,
    /// Metric reads that may fail in a row before the canary pauses.
    pub error_limit: u32,
    pub on_inconclusive: OnInconclusive,
}

impl Default for Budgets {
    fn default() -> Self {
        Budgets {
            interval: Duration::from_secs(60),
            max_hold: Duration::from_secs(30 * 60),
            failure_limit: 0,
            inconclusive_limit: 60,
            error_limit: 3,
            on_inconclusive: OnInconclusive::Pause,
        }
    }
}

impl Budgets {
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.interval < Duration::from_secs(1) {
            p.push("the step interval must be at least 1s".into());
        }
        if self.max_hold < self.interval {
            p.push(format!(
                "the longest hold ({}s) is shorter than the step interval ({}s)",
                self.max_hold.as_secs(),
                self.interval.as_secs()
            ));
        }
        if self.error_limit == 0 {
            p.push("the metric read error limit must be at least 1".into());
        }
        p
    }
}

/// Why a canary stopped for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PauseWhy {
    /// The evidence did not settle within the step's budget.
    Inconclusive,
    /// The metrics could not be read.
    ReadErrors,
}

/// What the canary does after a look.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Keep holding the step.
    Hold,
    /// The step's hold is over but the evidence is not: hold another interval.
    Extend { extension: u32 },
    /// Go to the next step.
    Advance,
    /// The last step passed: promote.
    Promote,
    /// Roll the canary back.
    RollBack,
    /// Stop for a person.
    Pause(PauseWhy),
    /// The step's budget is spent and `on_inconclusive` says carry on.
    AdvanceInconclusive,
}

impl Action {
    /// The decision's name in the analysis history.
    pub fn word(&self) -> &'static str {
        match self {
            Action::Hold => "hold",
            Action::Extend { .. } => "extend",
            Action::Advance | Action::AdvanceInconclusive => "advance",
            Action::Promote => "promote",
            Action::RollBack => "roll back",
            Action::Pause(_) => "pause",
        }
    }
}

/// The policy's state over a canary run.
#[derive(Debug, Clone)]
pub struct Policy {
    pub budgets: Budgets,
    steps: usize,
    step: usize,
    /// The hold at which the step is next judged for advancing.
    next_boundary: Duration,
    /// The hold at which the step's budget is spent.
    hold_limit: Duration,
    failures: u32,
    extensions: u32,
    read_errors: u32,
}

impl Policy {
    pub fn new(budgets: Budgets, steps: usize) -> Policy {
        Policy {
            budgets,
            steps: steps.max(1),
            step: 0,
            next_boundary: budgets.interval,
            hold_limit: budgets.max_hold,
            failures: 0,
            extensions: 0,
            read_errors: 0,
        }
    }

    /// 0-based index of the current step.
    pub fn step(&self) -> usize {
        self.step
    }

    pub fn is_last_step(&self) -> bool {
        self.step + 1 >= self.steps
    }

    pub fn extensions(&self) -> u32 {
        self.extensions
    }

    /// The hold at which the step will next be judged for advancing.
    pub fn next_judgement(&self) -> Duration {
        self.next_boundary
    }

    /// The hold at which the step's budget is spent.
    pub fn hold_limit(&self) -> Duration {
        self.hold_limit
    }

    /// A look at the evidence after the step has been held `held` (server time).
    pub fn look(&mut self, held: Duration, verdict: Verdict) -> Action {
        self.read_errors = 0;
        if verdict == Verdict::Fail {
            self.failures += 1;
            if self.failures > self.budgets.failure_limit {
                return Action::RollBack;
            }
            return Action::Hold;
        }
        if held < self.budgets.interval {
            return Action::Hold;
        }
        // Once the shortest hold is served, a pass advances at once.
        if verdict != Verdict::Inconclusive {
            return self.finish_step();
        }
        if held < self.next_boundary {
            return Action::Hold;
        }
        match verdict {
            Verdict::Pass | Verdict::Fail => self.finish_step(),
            Verdict::Inconclusive => {
                self.extensions += 1;
                while self.next_boundary <= held {
                    self.next_boundary += self.budgets.interval;
                }
                if held >= self.hold_limit || self.extensions > self.budgets.inconclusive_limit {
                    match self.budgets.on_inconclusive {
                        OnInconclusive::Pause => Action::Pause(PauseWhy::Inconclusive),
                        OnInconclusive::Rollback => Action::RollBack,
                        OnInconclusive::Promote => match self.finish_step() {
                            Action::Advance => Action::AdvanceInconclusive,
                            other => other,
                        },
                    }
                } else {
                    Action::Extend {
                        extension: self.extensions,
                    }
                }
            }
        }
    }

    fn finish_step(&mut self) -> Action {
        if self.is_last_step() {
            Action::Promote
        } else {
            Action::Advance
        }
    }

    /// A metric read failed; reads that fail are never a verdict.
    pub fn read_failed(&mut self) -> Action {
        self.read_errors += 1;
        if self.read_errors >= self.budgets.error_limit {
            self.read_errors = 0;
            Action::Pause(PauseWhy::ReadErrors)
        } else {
            Action::Hold
        }
    }

    /// Reads that failed in a row so far.
    pub fn read_errors(&self) -> u32 {
        self.read_errors
    }

    /// The next step began (after an advance or an operator's promotion).
    pub fn next_step(&mut self) {
        self.step = (self.step + 1).min(self.steps - 1);
        self.next_boundary = self.budgets.interval;
        self.hold_limit = self.budgets.max_hold;
    }

    /// A person chose to keep waiting at `held`: the step gets a fresh budget.
    pub fn extend(&mut self, held: Duration) {
        self.next_boundary = held + self.budgets.interval;
        self.hold_limit = held + self.budgets.max_hold;
        self.extensions = 0;
        self.read_errors = 0;
    }
}

mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_secs_f64(f64::deserialize(d)?.max(0.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    fn budgets() -> Budgets {
        Budgets {
            interval: S(60),
            max_hold: S(180),
            failure_limit: 0,
            inconclusive_limit: 10,
            error_limit: 3,
            on_inconclusive: OnInconclusive::Pause,
        }
    }

    #[test]
    fn a_pass_waits_for_the_interval_then_advances_and_promotes_at_the_end() {
        let mut p = Policy::new(budgets(), 2);
        assert_eq!(p.look(S(30), Verdict::Pass), Action::Hold);
        assert_eq!(p.look(S(60), Verdict::Pass), Action::Advance);
        p.next_step();
        assert_eq!(p.look(S(10), Verdict::Pass), Action::Hold);
        assert_eq!(p.look(S(61), Verdict::Pass), Action::Promote);
    }

    #[test]
    fn a_fail_rolls_back_at_once_or_after_the_failure_limit() {
        let mut p = Policy::new(budgets(), 3);
        assert_eq!(p.look(S(5), Verdict::Fail), Action::RollBack);
        let mut q = Policy::new(
            Budgets {
                failure_limit: 1,
                ..budgets()
            },
            3,
        );
        assert_eq!(q.look(S(5), Verdict::Fail), Action::Hold);
        assert_eq!(q.look(S(10), Verdict::Fail), Action::RollBack);
    }

    #[test]
    fn inconclusive_extends_then_pauses_at_the_longest_hold() {
        let mut p = Policy::new(budgets(), 3);
        assert_eq!(p.look(S(50), Verdict::Inconclusive), Action::Hold);
        assert_eq!(
            p.look(S(60), Verdict::Inconclusive),
            Action::Extend { extension: 1 }
        );
        assert_eq!(p.look(S(90), Verdict::Inconclusive), Action::Hold);
        // An extended step advances as soon as the evidence is in, not at the next boundary.
        let mut q = p.clone();
        assert_eq!(q.look(S(70), Verdict::Pass), Action::Advance);
        assert_eq!(
            p.look(S(120), Verdict::Inconclusive),
            Action::Extend { extension: 2 }
        );
        assert_eq!(
            p.look(S(180), Verdict::Inconclusive),
            Action::Pause(PauseWhy::Inconclusive)
        );
        // Never a rollback for lack of data, and a later pass advances at once.
        p.extend(S(180));
        assert_eq!(p.look(S(200), Verdict::Inconclusive), Action::Hold);
        assert_eq!(p.look(S(210), Verdict::Pass), Action::Advance);
    }

    #[test]
    fn on_inconclusive_can_roll_back_or_carry_on() {
        for (choice, want) in [
            (OnInconclusive::Rollback, Action::RollBack),
            (OnInconclusive::Promote, Action::AdvanceInconclusive),
        ] {
            let mut p = Policy::new(
                Budgets {
                    on_inconclusive: choice,
                    max_hold: S(60),
                    ..budgets()
                },
                3,
            );
            assert_eq!(p.look(S(60), Verdict::Inconclusive), want);
        }
    }

    #[test]
    fn the_inconclusive_limit_counts_extensions_over_the_whole_canary() {
        let mut p = Policy::new(
            Budgets {
                inconclusive_limit: 1,
                max_hold: S(3600),
                ..budgets()
            },
            3,
        );
        assert_eq!(
            p.look(S(60), Verdict::Inconclusive),
            Action::Extend { extension: 1 }
        );
        assert_eq!(p.look(S(120), Verdict::Pass), Action::Advance);
        p.next_step();
        assert_eq!(
            p.look(S(60), Verdict::Inconclusive),
            Action::Pause(PauseWhy::Inconclusive)
        );
    }

    #[test]
    fn read_errors_pause_after_the_limit_and_never_roll_back() {
        let mut p = Policy::new(budgets(), 3);
        assert_eq!(p.read_failed(), Action::Hold);
        assert_eq!(p.read_failed(), Action::Hold);
        // A good read in between starts the count again.
        assert_eq!(p.look(S(10), Verdict::Inconclusive), Action::Hold);
        assert_eq!(p.read_failed(), Action::Hold);
        assert_eq!(p.read_failed(), Action::Hold);
        assert_eq!(p.read_failed(), Action::Pause(PauseWhy::ReadErrors));
    }
}

//! The console's one reader: every read the console makes is chosen here, within the
//! profile's request budget, by priority.
//!
//! The platform allows a caller about 1,000 requests per 5 minutes. The process's
//! workflows send what they must (their requests are counted by the
//! [`RequestMeter`](crate::backend::RequestMeter) like everyone's); the console's reads spend
//! what is left, in this order:
//!
//! 1. **running**: the operations and canaries lists while an operation runs;
//! 2. **selected**: the selected bot, the newest page of its versions, its canary's series;
//! 3. **visible**: the bots list (every row), the operation lists when nothing runs, older
//!    pages of versions as the list is scrolled to them;
//!
//! Each read has a period (server time): it is due when its data is that old. A due read is
//! sent when the budget allows it: a token bucket refilled at the budget's rate (every
//! request of the process takes a token, so workflows' requests slow the console's reads
//! down, never the other way round), and a ceiling per priority on the requests of the
//! current window, so the lower priorities stop first as the window fills. The scheduler is
//! pure: time and the meter's reading come in as arguments.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::backend::MeterReading;

/// What the console can read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Read {
    Operations,
    Canaries,
    /// The selected bot alone.
    Bot(String),
    /// One page (1-based, newest first) of a bot's versions.
    Versions {
        bot: String,
        page: u32,
    },
    /// Per-minute metrics of a bot (and environment) for its canary's chart.
    Series {
        bot: String,
        env: Option<String>,
    },
    /// Every bot.
    Bots,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    Running,
    Selected,
    Visible,
}

impl Priority {
    /// The share of the window's budget reads of this priority may take the window to.
    fn ceiling(self) -> f64 {
        match self {
            Priority::Running => 1.0,
            Priority::Selected => 0.95,
            Priority::Visible => 0.85,
        }
    }
}

/// What the screen shows, so the scheduler knows what to keep fresh.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interest {
    pub selected_bot: Option<String>,
    /// How many of the selected bot's versions (from the newest) the screen needs: the rows
    /// scrolled to plus a page ahead.
    pub versions_rows: u32,
    /// The canary chart on screen: its bot and environment.
    pub series: Option<(String, Option<String>)>,
    /// An operation is running (this console's or anyone's).
    pub running: bool,
}

/// How often each read is repeated (server time).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Periods {
    pub running: Duration,
    pub selected_bot: Duration,
    pub selected_versions: Duration,
    pub series: Duration,
    pub bots: Duration,
    pub idle_operations: Duration,
}

impl Default for Periods {
    fn default() -> Self {
        Periods {
            running: Duration::from_secs(5),
            selected_bot: Duration::from_secs(5),
            selected_versions: Duration::from_secs(6),
            series: Duration::from_secs(15),
            bots: Duration::from_secs(30),
            idle_operations: Duration::from_secs(15),
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Entry {
    /// When the last read of it finished.
    done: Option<Instant>,
    in_flight: bool,
    /// Asked for now (a refresh key, a first look).
    urgent: bool,
}

/// See the module documentation.
#[derive(Debug)]
pub struct Scheduler {
    /// Requests per window.
    budget: u32,
    /// The window and the server's clock speed.
    window: Duration,
    speed: f64,
    /// The shortest wall time between two reads of the same thing.
    floor: Duration,
    periods: Periods,
    page_size: u32,
    interest: Interest,
    entries: HashMap<Read, Entry>,
    tokens: f64,
    refilled: Option<Instant>,
    metered: u64,
    /// When the selected bot last changed: its first reads wait until the selection has
    /// settled, so running the cursor down a list of bots does not read each one.
    selected_since: Option<Instant>,
}

/// How long a new selection must stay before its bot is read (wall time): longer than a
/// held key's repeat, short enough that the pane fills as soon as the cursor stops.
pub const SETTLE: Duration = Duration::from_millis(60);

impl Scheduler {
    /// `budget` requests per `window` (wall time) on a server whose clock runs `speed`
    /// times wall time; `page_size` versions to a page.
    pub fn new(budget: u32, window: Duration, speed: f64, page_size: u32) -> Scheduler {
        Scheduler {
            budget: budget.max(1),
            window: window.max(Duration::from_millis(1)),
            speed: if speed.is_finite() && speed > 0.0 {
                speed
            } else {
                1.0
            },
            floor: Duration::from_secs(2),
            periods: Periods::default(),
            page_size: page_size.max(1),
            interest: Interest::default(),
            entries: HashMap::new(),
            tokens: f64::from(budget.max(1)) / 20.0,
            refilled: None,
            metered: 0,
            selected_since: None,
        }
    }

    /// The shortest wall time between two reads of one thing (default 2 s).
    pub fn with_floor(mut self, floor: Duration) -> Scheduler {
        self.floor = floor;
        self
    }

    /// Whether a new selection is still settling (its reads wait for it).
    pub fn settling(&self, now: Instant) -> bool {
        self.selected_since
            .is_some_and(|t| now.saturating_duration_since(t) < SETTLE)
    }

    /// Requests per window.
    pub fn budget(&self) -> u32 {
        self.budget
    }

    /// What the screen shows now, at `now`. A newly selected bot is read once the
    /// selection has stayed [`SETTLE`].
    pub fn set_interest(&mut self, interest: Interest, now: Instant) {
        if interest.selected_bot != self.interest.selected_bot {
            self.selected_since = Some(now);
        }
        self.interest = interest;
        let wanted: Vec<Read> = self.wanted().into_iter().map(|(r, _, _)| r).collect();
        // Reads no longer wanted are forgotten (a bot selected again is read afresh).
        self.entries
            .retain(|r, e| e.in_flight || wanted.contains(r) || matches!(r, Read::Bots));
    }

    /// Read everything on screen at the next chance (the refresh key, the first frame).
    pub fn refresh_all(&mut self) {
        for (read, _, _) in self.wanted() {
            self.entries.entry(read).or_default().urgent = true;
        }
    }

    /// Read this at the next chance.
    pub fn refresh(&mut self, read: Read) {
        self.entries.entry(read).or_default().urgent = true;
    }

    /// The reads wanted now: what, at which priority, how often (`None`: once).
    fn wanted(&self) -> Vec<(Read, Priority, Option<Duration>)> {
        let p = &self.periods;
        let i = &self.interest;
        let (ops_priority, ops_period) = if i.running {
            (Priority::Running, p.running)
        } else {
            (Priority::Visible, p.idle_operations)
        };
        let mut out = vec![
            (Read::Operations, ops_priority, Some(ops_period)),
            (Read::Canaries, ops_priority, Some(ops_period)),
            (Read::Bots, Priority::Visible, Some(p.bots)),
        ];
        if let Some(bot) = &i.selected_bot {
            out.push((
                Read::Bot(bot.clone()),
                Priority::Selected,
                Some(p.selected_bot),
            ));
            out.push((
                Read::Versions {
                    bot: bot.clone(),
                    page: 1,
                },
                Priority::Selected,
                Some(p.selected_versions),
            ));
            // Older pages once each, as the list is scrolled to them.
            let pages = i.versions_rows.div_ceil(self.page_size).max(1);
            for page in 2..=pages {
                out.push((
                    Read::Versions {
                        bot: bot.clone(),
                        page,
                    },
                    Priority::Visible,
                    None,
                ));
            }
        }
        if let Some((bot, env)) = &i.series {
            out.push((
                Read::Series {
                    bot: bot.clone(),
                    env: env.clone(),
                },
                Priority::Selected,
                Some(p.series),
            ));
        }
        out
    }

    /// The wall time a read of `period` (server time) waits between reads.
    /// A running operation's reads keep a floor of at most a second, so its server-side
    /// state (a canary's baseline, another team's progress) shows as it changes.
    fn gap(&self, period: Duration, priority: Priority) -> Duration {
        let floor = match priority {
            Priority::Running => self.floor.min(Duration::from_secs(1)),
            _ => self.floor,
        };
        period.div_f64(self.speed).max(floor)
    }

    fn refill(&mut self, now: Instant, meter: MeterReading) {
        let capacity = (f64::from(self.budget) / 20.0).max(2.0);
        let rate = f64::from(self.budget) / self.window.as_secs_f64();
        if let Some(last) = self.refilled {
            self.tokens += rate * now.saturating_duration_since(last).as_secs_f64();
        }
        // Every request the process sent since the last look took a token.
        self.tokens -= meter.total.saturating_sub(self.metered) as f64;
        self.tokens = self.tokens.clamp(-capacity, capacity);
        self.metered = meter.total;
        self.refilled = Some(now);
    }

    /// The reads to send now, most important first, each with whether it may be a
    /// conditional read (the console holds what the last read of it brought); each is in
    /// flight until [`Scheduler::finished`].
    pub fn next(&mut self, now: Instant, meter: MeterReading) -> Vec<(Read, bool)> {
        self.refill(now, meter);
        let settling = self.settling(now);
        let mut due: Vec<(Priority, f64, Read)> = Vec::new();
        for (read, priority, period) in self.wanted() {
            let entry = self.entries.get(&read).cloned().unwrap_or_default();
            if entry.in_flight {
                continue;
            }
            let of_selected = matches!(&read, Read::Bot(_) | Read::Versions { .. });
            if settling && of_selected && entry.done.is_none() {
                continue;
            }
            let overdue = match (entry.urgent, entry.done, period) {
                (true, _, _) => f64::INFINITY,
                (false, None, _) => f64::MAX,
                (false, Some(_), None) => continue,
                (false, Some(done), Some(period)) => {
                    let gap = self.gap(period, priority);
                    let age = now.saturating_duration_since(done);
                    if age < gap {
                        continue;
                    }
                    age.as_secs_f64() / gap.as_secs_f64()
                }
            };
            due.push((priority, overdue, read));
        }
        due.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
        let mut sent = Vec::new();
        let mut in_window = f64::from(meter.in_window);
        for (priority, overdue, read) in due {
            let ceiling = f64::from(self.budget) * priority.ceiling();
            if in_window + 1.0 > ceiling {
                continue;
            }
            // The budget's rate: the running operation and the selected bot may borrow
            // ahead; a first look or the refresh key is never made to wait for it.
            let asked = overdue.is_infinite() || overdue == f64::MAX;
            let borrow = matches!(priority, Priority::Running | Priority::Selected);
            if self.tokens < 1.0 && !asked && !(borrow && self.tokens > -1.0) {
                continue;
            }
            self.tokens -= 1.0;
            in_window += 1.0;
            let entry = self.entries.entry(read.clone()).or_default();
            entry.in_flight = true;
            entry.urgent = false;
            let conditional = entry.done.is_some();
            sent.push((read, conditional));
        }
        // What this round sent has taken its tokens: the meter's count of it is not
        // taken again.
        self.metered += sent.len() as u64;
        sent
    }

    /// A read came back (with data or not: a failed read waits its period too).
    pub fn finished(&mut self, read: &Read, now: Instant) {
        let e = self.entries.entry(read.clone()).or_default();
        e.in_flight = false;
        e.done = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(in_window: u32, total: u64) -> MeterReading {
        MeterReading {
            in_window,
            total,
            ..MeterReading::default()
        }
    }

    fn watching(bot: &str) -> Interest {
        Interest {
            selected_bot: Some(bot.into()),
            versions_rows: 30,
            series: None,
            running: false,
        }
    }

    fn finish_all(s: &mut Scheduler, reads: &[(Read, bool)], now: Instant) {
        for (r, _) in reads {
            s.finished(r, now);
        }
    }

    fn reads(sent: &[(Read, bool)]) -> Vec<Read> {
        sent.iter().map(|(r, _)| r.clone()).collect()
    }

    #[test]
    fn the_first_look_reads_everything_on_screen_then_waits_for_the_periods() {
        let mut s = Scheduler::new(800, Duration::from_secs(300), 1.0, 50);
        let t0 = Instant::now() - SETTLE;
        s.set_interest(watching("bot-a"), t0 - SETTLE);
        let first = s.next(t0, reading(0, 0));
        assert_eq!(first.len(), 5, "{first:?}");
        // Selected before visible.
        let pos = |r: &Read| first.iter().position(|(x, _)| x == r).unwrap();
        assert!(first.iter().all(|(_, conditional)| !conditional));
        assert!(pos(&Read::Bot("bot-a".into())) < pos(&Read::Bots));
        // Nothing again while in flight.
        assert!(s.next(t0, reading(5, 5)).is_empty());
        finish_all(&mut s, &first, t0);
        assert!(
            s.next(t0 + Duration::from_secs(4), reading(5, 5))
                .is_empty()
        );
        let again = s.next(t0 + Duration::from_secs(5), reading(5, 5));
        assert_eq!(again, vec![(Read::Bot("bot-a".into()), true)]);
        finish_all(&mut s, &again, t0 + Duration::from_secs(5));
        // A bot selected again after another is read afresh, not conditionally.
        s.set_interest(watching("bot-b"), t0 + Duration::from_secs(6));
        s.set_interest(watching("bot-a"), t0 + Duration::from_secs(6));
        // Not while the selection settles.
        assert!(
            s.next(t0 + Duration::from_secs(6), reading(6, 6))
                .is_empty()
        );
        let back = s.next(t0 + Duration::from_secs(6) + SETTLE, reading(6, 6));
        assert!(
            back.contains(&(Read::Bot("bot-a".into()), false)),
            "{back:?}"
        );
    }

    #[test]
    fn a_full_window_stops_the_visible_reads_first() {
        let mut s = Scheduler::new(100, Duration::from_secs(300), 1.0, 50);
        s.set_interest(
            Interest {
                running: true,
                ..watching("bot-a")
            },
            Instant::now() - 2 * SETTLE,
        );
        let t0 = Instant::now();
        // 90 of 100 used: visible reads (ceiling 85) wait, running and selected go.
        let sent = reads(&s.next(t0, reading(90, 90)));
        assert!(sent.contains(&Read::Operations));
        assert!(sent.contains(&Read::Bot("bot-a".into())));
        assert!(!sent.contains(&Read::Bots), "{sent:?}");
        // 99 of 100: only the running operation's reads.
        let mut s2 = Scheduler::new(100, Duration::from_secs(300), 1.0, 50);
        s2.set_interest(
            Interest {
                running: true,
                ..watching("bot-a")
            },
            Instant::now() - 2 * SETTLE,
        );
        let sent = reads(&s2.next(t0, reading(99, 99)));
        assert_eq!(sent, vec![Read::Operations]);
    }

    #[test]
    fn workflow_requests_take_tokens_and_slow_background_reads() {
        let mut s = Scheduler::new(300, Duration::from_secs(300), 1.0, 50);
        s.set_interest(Interest::default(), Instant::now() - 2 * SETTLE);
        let t0 = Instant::now();
        let first = s.next(t0, reading(0, 0));
        finish_all(&mut s, &first, t0);
        // A workflow sent 40 requests meanwhile: the bucket is empty, the bots list waits
        // although it is due.
        let t1 = t0 + Duration::from_secs(20);
        assert!(s.next(t1, reading(43, 43)).is_empty());
        // Tokens come back at 1 per second.
        let t2 = t1 + Duration::from_secs(30);
        assert!(reads(&s.next(t2, reading(43, 43))).contains(&Read::Bots));
    }

    #[test]
    fn older_pages_are_read_once_as_the_list_is_scrolled() {
        let mut s = Scheduler::new(800, Duration::from_secs(300), 1.0, 50);
        let t0 = Instant::now() - SETTLE;
        s.set_interest(watching("bot-a"), t0 - SETTLE);
        let first = s.next(t0, reading(0, 0));
        finish_all(&mut s, &first, t0);
        s.set_interest(
            Interest {
                versions_rows: 120,
                ..watching("bot-a")
            },
            Instant::now() - 2 * SETTLE,
        );
        let t1 = t0 + Duration::from_secs(1);
        let sent = reads(&s.next(t1, reading(5, 5)));
        let page = |p| Read::Versions {
            bot: "bot-a".into(),
            page: p,
        };
        assert_eq!(sent, vec![page(2), page(3)]);
        for r in &sent {
            s.finished(r, t1);
        }
        let later = reads(&s.next(t1 + Duration::from_secs(60), reading(8, 8)));
        assert!(
            !later.contains(&page(2)) && later.contains(&page(1)),
            "{later:?}"
        );
    }

    #[test]
    fn periods_are_server_time_with_a_wall_floor() {
        let mut s = Scheduler::new(800, Duration::from_secs(30), 10.0, 50)
            .with_floor(Duration::from_millis(100));
        s.set_interest(watching("bot-a"), Instant::now() - 2 * SETTLE);
        let t0 = Instant::now();
        let first = s.next(t0, reading(0, 0));
        finish_all(&mut s, &first, t0);
        // 5 server seconds at speed 10 is half a wall second.
        let sent = reads(&s.next(t0 + Duration::from_millis(500), reading(5, 5)));
        assert_eq!(sent, vec![Read::Bot("bot-a".into())]);
    }

    #[test]
    fn the_refresh_key_reads_at_once() {
        let mut s = Scheduler::new(800, Duration::from_secs(300), 1.0, 50);
        let t0 = Instant::now() - SETTLE;
        s.set_interest(watching("bot-a"), t0 - SETTLE);
        let first = s.next(t0, reading(0, 0));
        finish_all(&mut s, &first, t0);
        s.refresh_all();
        assert_eq!(s.next(t0, reading(5, 5)).len(), 5);
    }
}

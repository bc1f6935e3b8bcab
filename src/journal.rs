//! The intent journal: what an operation set out to do, written and fsynced before each
//! side effect, so that a relcon that dies mid-way can be picked up by the next one — re-
//! attached to what the server already did, never done twice.
//!
//! One file per operation, `<dir>/<operation id>.jsonl`, one JSON record per line:
//!
//! 1. `intent` — the workflow, the bot, the plan with every default resolved (a rollback's
//!    "last known good" is resolved once, here), who and where (operator, host, pid);
//! 2. `create` — before each request that creates something on the server: the step and the
//!    idempotency key the request carries, so a retry after a crash replays it;
//! 3. `created` — the server object's id once the answer is in;
//! 4. `step` — each step passed;
//! 5. `heartbeat` — the driver renews its claim on the operation (a local lease);
//! 6. `finished` — the outcome. A file without it is an operation still running, or one
//!    whose driver died: [`Journal::unfinished`] finds them.
//!
//! Writes go through [`OpJournal::append`], which syncs the file before it returns.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::events::{Outcome, WorkflowKind};

/// Who drives an operation, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Driver {
    pub operator: String,
    pub host: String,
    pub pid: u32,
}

impl Driver {
    /// This process.
    pub fn this_process(operator: &str) -> Driver {
        Driver {
            operator: operator.to_string(),
            host: hostname(),
            pid: std::process::id(),
        }
    }
}

/// The machine's name (for leases and refusals), best effort.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// One line of an operation's journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Record {
    Intent {
        op: String,
        workflow: WorkflowKind,
        #[serde(default)]
        bot: Option<String>,
        /// The plan with every default resolved.
        plan: Value,
        driver: Driver,
        /// The profile and server it runs against.
        profile: String,
        api_url: String,
        at: DateTime<Utc>,
    },
    Create {
        step: String,
        idempotency_key: String,
        at: DateTime<Utc>,
    },
    Created {
        step: String,
        server_id: String,
        at: DateTime<Utc>,
    },
    Step {
        name: String,
        at: DateTime<Utc>,
    },
    Heartbeat {
        driver: Driver,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    Finished {
        outcome: Outcome,
        summary: String,
        at: DateTime<Utc>,
    },
    /// A re-attached run also goes by this key (the one its server lease was taken under).
    Alias {
        key: String,
        at: DateTime<Utc>,
    },
}

tokio::task_local! {
    static NEXT_KEY: std::cell::RefCell<Option<String>>;
}

/// Run `fut` so that the first write it sends carries `key` — the one journaled before it —
/// as its idempotency key instead of a fresh one. A relcon that died between the request and
/// its answer replays it under the same key, and the server answers with what it already
/// did instead of doing it twice.
pub async fn with_idempotency_key<F: std::future::Future>(key: String, fut: F) -> F::Output {
    NEXT_KEY
        .scope(std::cell::RefCell::new(Some(key)), fut)
        .await
}

/// The key [`with_idempotency_key`] set for the next write, taken (once).
pub fn take_idempotency_key() -> Option<String> {
    NEXT_KEY.try_with(|k| k.borrow_mut().take()).ok().flatten()
}

/// What an engine journals to: the journal and the server its operations run against.
#[derive(Debug, Clone)]
pub struct JournalSink {
    pub journal: Journal,
    pub profile: String,
    pub api_url: String,
}

impl JournalSink {
    /// The journal of a profile: `<state dir>/journal` (none without a state dir).
    pub fn for_profile(profile: &str, api_url: &str) -> Option<JournalSink> {
        Some(JournalSink {
            journal: Journal::new(Journal::default_dir()?),
            profile: profile.to_string(),
            api_url: api_url.to_string(),
        })
    }
}

/// Where journals live.
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
}

/// What a journal file says about its operation.
#[derive(Debug, Clone, PartialEq)]
pub struct OpState {
    pub path: PathBuf,
    pub op: String,
    pub workflow: WorkflowKind,
    pub bot: Option<String>,
    pub plan: Value,
    pub profile: String,
    pub api_url: String,
    pub started_at: DateTime<Utc>,
    /// The last driver and when its claim expires.
    pub driver: Driver,
    pub expires_at: Option<DateTime<Utc>>,
    /// (step, idempotency key) of each create, in order.
    pub creates: Vec<(String, String)>,
    /// (step, server id) of each object created.
    pub created: Vec<(String, String)>,
    pub steps: Vec<String>,
    pub finished: Option<(Outcome, String)>,
    /// Other keys its runs went by (see [`Record::Alias`]).
    pub aliases: Vec<String>,
    /// How many times a run re-attached to it.
    pub resumes: usize,
}

impl OpState {
    /// The idempotency key journaled for `step`'s create, if any.
    pub fn key_of(&self, step: &str) -> Option<&str> {
        self.creates
            .iter()
            .rev()
            .find(|(s, _)| s == step)
            .map(|(_, k)| k.as_str())
    }

    /// The server id journaled for `step`, if any.
    pub fn server_id(&self, step: &str) -> Option<&str> {
        self.created
            .iter()
            .rev()
            .find(|(s, _)| s == step)
            .map(|(_, id)| id.as_str())
    }

    pub fn passed(&self, step: &str) -> bool {
        self.steps.iter().any(|s| s == step)
    }

    /// Nobody drives it any more: its driver's claim has expired, or the driver was a
    /// process of this machine that is gone.
    pub fn orphaned(&self, now: DateTime<Utc>) -> bool {
        if self.finished.is_some() {
            return false;
        }
        let expired = self.expires_at.is_none_or(|e| e <= now);
        let gone = self.driver.host == hostname() && !process_alive(self.driver.pid);
        expired || gone
    }
}

/// A process of this machine with that pid exists.
pub fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    #[cfg(target_os = "linux")]
    {
        Path::new(&format!("/proc/{pid}")).exists()
    }
    #[cfg(not(target_os = "linux"))]
    {
        // Without /proc, trust the heartbeat alone.
        true
    }
}

impl Journal {
    pub fn new(dir: impl Into<PathBuf>) -> Journal {
        Journal { dir: dir.into() }
    }

    /// `<state dir>/journal`, where the console and every headless command look.
    pub fn default_dir() -> Option<PathBuf> {
        let dirs = directories::ProjectDirs::from("", "", "relcon")?;
        Some(
            dirs.state_dir()
                .unwrap_or_else(|| dirs.data_local_dir())
                .join("journal"),
        )
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, op: &str) -> PathBuf {
        let safe: String = op
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!("{safe}.jsonl"))
    }

    /// Start an operation's journal with its intent (synced before it returns).
    pub fn begin(&self, intent: Record) -> io::Result<OpJournal> {
        let Record::Intent { op, .. } = &intent else {
            return Err(io::Error::other("a journal begins with an intent"));
        };
        std::fs::create_dir_all(&self.dir)?;
        let path = self.path_of(op);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let j = OpJournal {
            inner: Arc::new(Mutex::new(Open { path, file })),
        };
        j.append(&intent)?;
        sync_dir(&self.dir);
        Ok(j)
    }

    /// Open an existing operation's journal to go on writing it (a re-attach).
    pub fn reopen(&self, state: &OpState) -> io::Result<OpJournal> {
        let file = OpenOptions::new().append(true).open(&state.path)?;
        Ok(OpJournal {
            inner: Arc::new(Mutex::new(Open {
                path: state.path.clone(),
                file,
            })),
        })
    }

    /// Every journal here, read; unreadable lines are skipped (a torn last line is the
    /// expected trace of a crash mid-write).
    pub fn all(&self) -> Vec<OpState> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out: Vec<OpState> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .filter_map(|p| read_state(&p))
            .collect();
        out.sort_by_key(|s| s.started_at);
        out
    }

    /// The operations that have not finished.
    pub fn unfinished(&self) -> Vec<OpState> {
        self.all()
            .into_iter()
            .filter(|s| s.finished.is_none())
            .collect()
    }

    /// The one operation with this id (or unique id prefix).
    pub fn find(&self, op: &str) -> Option<OpState> {
        let all = self.all();
        if let Some(s) = all.iter().find(|s| s.op == op) {
            return Some(s.clone());
        }
        let matches: Vec<&OpState> = all.iter().filter(|s| s.op.starts_with(op)).collect();
        (matches.len() == 1).then(|| matches[0].clone())
    }
}

fn read_state(path: &Path) -> Option<OpState> {
    let file = File::open(path).ok()?;
    let mut state: Option<OpState> = None;
    for line in BufReader::new(file).lines() {
        let Ok(line) = line else { break };
        let Ok(rec) = serde_json::from_str::<Record>(&line) else {
            continue;
        };
        match rec {
            Record::Intent {
                op,
                workflow,
                bot,
                plan,
                driver,
                profile,
                api_url,
                at,
            } => {
                state = Some(OpState {
                    path: path.to_path_buf(),
                    op,
                    workflow,
                    bot,
                    plan,
                    profile,
                    api_url,
                    started_at: at,
                    driver,
                    expires_at: None,
                    creates: Vec::new(),
                    created: Vec::new(),
                    steps: Vec::new(),
                    finished: None,
                    aliases: Vec::new(),
                    resumes: 0,
                })
            }
            other => {
                let Some(s) = state.as_mut() else { continue };
                match other {
                    Record::Create {
                        step,
                        idempotency_key,
                        ..
                    } => s.creates.push((step, idempotency_key)),
                    Record::Created {
                        step, server_id, ..
                    } => s.created.push((step, server_id)),
                    Record::Step { name, .. } => s.steps.push(name),
                    Record::Heartbeat {
                        driver, expires_at, ..
                    } => {
                        s.driver = driver;
                        s.expires_at = Some(expires_at);
                    }
                    Record::Finished {
                        outcome, summary, ..
                    } => s.finished = Some((outcome, summary)),
                    Record::Alias { key, .. } => {
                        s.aliases.push(key);
                        s.resumes += 1;
                    }
                    Record::Intent { .. } => {}
                }
            }
        }
    }
    state
}

struct Open {
    path: PathBuf,
    file: File,
}

/// One operation's journal, open for appending. Clone it freely.
#[derive(Clone)]
pub struct OpJournal {
    inner: Arc<Mutex<Open>>,
}

impl std::fmt::Debug for OpJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpJournal").finish_non_exhaustive()
    }
}

impl OpJournal {
    /// Append a record and sync it to disk before returning.
    pub fn append(&self, rec: &Record) -> io::Result<()> {
        let mut line = serde_json::to_string(rec).map_err(io::Error::other)?;
        line.push('\n');
        let open = self
            .inner
            .lock()
            .map_err(|_| io::Error::other("a journal write panicked"))?;
        (&open.file).write_all(line.as_bytes())?;
        open.file.sync_data()
    }

    pub fn path(&self) -> PathBuf {
        self.inner
            .lock()
            .map(|o| o.path.clone())
            .unwrap_or_default()
    }
}

fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn intent(op: &str, driver: Driver) -> Record {
        Record::Intent {
            op: op.into(),
            workflow: WorkflowKind::Rollback,
            bot: Some("bot_12345".into()),
            plan: json!({"target": "v_67890"}),
            driver,
            profile: "demo".into(),
            api_url: "http://127.0.0.1:8080".into(),
            at: Utc::now(),
        }
    }

    #[test]
    fn a_journal_reads_back_what_was_written_and_knows_what_is_unfinished() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path().join("journal"));
        let me = Driver::this_process("tester");
        let a = j.begin(intent("op-a", me.clone())).unwrap();
        a.append(&Record::Create {
            step: "trigger rollback".into(),
            idempotency_key: "key-1".into(),
            at: Utc::now(),
        })
        .unwrap();
        a.append(&Record::Created {
            step: "trigger rollback".into(),
            server_id: "job_000003".into(),
            at: Utc::now(),
        })
        .unwrap();
        a.append(&Record::Step {
            name: "validate target".into(),
            at: Utc::now(),
        })
        .unwrap();
        let b = j.begin(intent("op-b", me.clone())).unwrap();
        b.append(&Record::Finished {
            outcome: Outcome::Succeeded,
            summary: "done".into(),
            at: Utc::now(),
        })
        .unwrap();
        // A torn last line (a crash mid-write) is skipped.
        std::fs::OpenOptions::new()
            .append(true)
            .open(a.path())
            .unwrap()
            .write_all(b"{\"record\":\"step\",\"na")
            .unwrap();
        let open = j.unfinished();
        assert_eq!(open.len(), 1);
        let s = &open[0];
        assert_eq!(s.op, "op-a");
        assert_eq!(s.plan["target"], "v_67890");
        assert_eq!(s.key_of("trigger rollback"), Some("key-1"));
        assert_eq!(s.server_id("trigger rollback"), Some("job_000003"));
        assert!(s.passed("validate target"));
        assert_eq!(
            j.find("op-b").unwrap().finished.unwrap().0,
            Outcome::Succeeded
        );
        assert_eq!(j.find("op-a").map(|s| s.op), Some("op-a".into()));
    }

    #[test]
    fn an_operation_is_orphaned_when_its_claim_expires_or_its_process_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path());
        let me = Driver::this_process("tester");
        let a = j.begin(intent("op-live", me.clone())).unwrap();
        let now = Utc::now();
        a.append(&Record::Heartbeat {
            driver: me.clone(),
            at: now,
            expires_at: now + chrono::Duration::seconds(30),
        })
        .unwrap();
        let s = j.find("op-live").unwrap();
        assert!(!s.orphaned(now));
        assert!(s.orphaned(now + chrono::Duration::seconds(31)));
        // A driver process of this machine that no longer exists.
        let dead = Driver {
            pid: u32::MAX - 7,
            ..me
        };
        let b = j.begin(intent("op-dead", dead.clone())).unwrap();
        b.append(&Record::Heartbeat {
            driver: dead,
            at: now,
            expires_at: now + chrono::Duration::seconds(30),
        })
        .unwrap();
        assert!(j.find("op-dead").unwrap().orphaned(now));
    }
}

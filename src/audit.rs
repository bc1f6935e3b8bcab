//! The audit log: an append-only, hash-chained JSON-lines file recording who did what to
//! which bot, with the figures behind every decision.
//!
//! # Format
//!
//! One [`AuditRecord`] per line, UTF-8, each line ended by `\n`. A line is the compact
//! JSON of the record with its members in a fixed order: `seq`, `at`, `operator`,
//! `operation`, `event`, then the optional `bot`, `environment`, `from_version`,
//! `to_version`, `outcome`, `detail`, `metrics`, `operation_id` (left out when absent),
//! then `prev_hash` and, last, `hash`.
//!
//! # The hash rule
//!
//! * `seq` counts from 1 without gaps.
//! * `hash` is the lowercase hex SHA-256 of the line's own JSON text *without* its `hash`
//!   member: the line is written as `{…,"prev_hash":"…","hash":"<hex>"}`, and `<hex>` is
//!   the SHA-256 of the same text with `,"hash":"<hex>"` removed, i.e. of `{…,"prev_hash":"…"}`.
//!   The hash covers the exact bytes written, so any change to a line — a value, a key,
//!   even white space — breaks it, and checking it never depends on how numbers are parsed.
//! * `prev_hash` is the previous record's `hash`, or 64 zeros for the first record. This
//!   chains every record to everything before it.
//!
//! # What [`verify`] can and cannot see
//!
//! It detects and locates an edit of any field of any record (the hash no longer matches),
//! the deletion of any record but the last (a gap in `seq`, or a log that does not start at
//! 1), two records swapped (`seq` out of order), a duplicated record, and a record that was
//! rewritten *with* a recomputed hash (the next record's `prev_hash` no longer matches).
//!
//! It cannot see the removal of records from the *end* of the log, nor a rewrite of the
//! whole tail with recomputed hashes: nothing inside the file can. Keep the head hash that
//! [`VerifyReport::head`] reports (for example in a CI job's output) and compare it later
//! to anchor the log.
//!
//! # Secrets
//!
//! Callers must pass no secrets in an [`AuditEntry`]: no tokens, API keys, passwords or
//! webhook secrets, in any field. As a safety net [`AuditLog::append`] runs
//! [`redact_secrets`] over `metrics`; free-text fields cannot be checked that way.
//!
//! # Writers
//!
//! [`AuditLog`] is cheap to clone and safe to share between tasks; appends are serialised
//! in-process by a mutex and across processes by an exclusive file lock held for the
//! duration of each append, so several relcon processes may append to the same log.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::sanitize::clean;

/// `prev_hash` of the first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a caller records. The log adds `seq`, `at` and the hashes.
///
/// Pass no secrets in any field (see the module documentation).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Who acted: a user name, or the CI job's identity.
    pub operator: String,
    /// The workflow: "deploy", "canary", "rollback", "flows", "environment", ...
    pub operation: String,
    /// What happened in it: "started", "step_finished", "decision", "rolled_back",
    /// "completed", "failed", "webhook_delivery", ...
    pub event: String,
    pub bot: Option<String>,
    pub environment: Option<String>,
    pub from_version: Option<String>,
    pub to_version: Option<String>,
    pub outcome: Option<String>,
    pub detail: Option<String>,
    /// The figures behind a decision (error rates, latencies, sample sizes, thresholds).
    pub metrics: Option<Value>,
    /// Ties together the records of one run of a workflow.
    pub operation_id: Option<String>,
}

impl AuditEntry {
    /// An entry with the three required fields and nothing else.
    pub fn new(
        operator: impl Into<String>,
        operation: impl Into<String>,
        event: impl Into<String>,
    ) -> AuditEntry {
        AuditEntry {
            operator: operator.into(),
            operation: operation.into(),
            event: event.into(),
            ..AuditEntry::default()
        }
    }
}

/// One line of the log, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub operator: String,
    pub operation: String,
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// The record without its `hash`, in the order the line is written. Must list the same
/// fields as [`AuditRecord`], in the same order, minus `hash`.
#[derive(Serialize)]
struct Unsealed<'a> {
    seq: u64,
    at: &'a str,
    operator: &'a str,
    operation: &'a str,
    event: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    bot: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    environment: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    operation_id: Option<&'a str>,
    prev_hash: &'a str,
}

/// Everything that can go wrong opening, writing or reading a log. Each message names the
/// file and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("could not {action} audit log {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "no audit log at {path}: nothing has been recorded there yet (check the path or the profile's audit setting)"
    )]
    Missing { path: PathBuf },
    #[error(
        "audit log {path} ends with a damaged record at line {line} ({reason}); nothing was appended. Run `relcon audit verify` to inspect the log, then move the damaged file aside to start a new one"
    )]
    DamagedTail {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error(
        "audit log {path} line {line} is not a valid record ({reason}); run `relcon audit verify` to inspect the log"
    )]
    Malformed {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("could not encode an audit record: {0}")]
    Encode(#[from] serde_json::Error),
    #[error(
        "the audit writer stopped unexpectedly: {0}; reopen the log and run `relcon audit verify`"
    )]
    Writer(String),
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> AuditError + 'a {
    move |source| AuditError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Lowercase hex SHA-256.
fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

const HASH_MEMBER_PREFIX: &str = ",\"hash\":\"";

/// Serialise a record without its hash and close it with the hash. Returns (line, hash);
/// the line has no trailing newline.
fn seal(unsealed: &Unsealed<'_>) -> Result<(String, String), AuditError> {
    let body = crate::sanitize::json_string(unsealed)?;
    let hash = sha256_hex(body.as_bytes());
    let open = body.strip_suffix('}').ok_or_else(|| {
        AuditError::Writer("an audit record did not serialise to a JSON object".to_string())
    })?;
    let line = format!("{open}{HASH_MEMBER_PREFIX}{hash}\"}}");
    Ok((line, hash))
}

/// A line that parsed as a record, and whether its hash matches its text.
struct Unsealing {
    record: AuditRecord,
    /// None when the hash matches, otherwise why not.
    hash_problem: Option<String>,
}

/// Parse one line (without its newline) and check its hash.
fn unseal(line: &str) -> Result<Unsealing, String> {
    let record: AuditRecord =
        serde_json::from_str(line).map_err(|e| format!("not a valid audit record: {e}"))?;
    let tail = format!("{HASH_MEMBER_PREFIX}{}\"}}", record.hash);
    let hash_problem = match line.strip_suffix(tail.as_str()) {
        None => Some("hash is not the last member of the line; the line was rewritten".to_string()),
        Some(open) => {
            let computed = sha256_hex(format!("{open}}}").as_bytes());
            (computed != record.hash).then(|| "hash does not match its contents".to_string())
        }
    };
    Ok(Unsealing {
        record,
        hash_problem,
    })
}

/// True if `key` names something secret: secret, token, password, api key, authorization,
/// credential or private key, in any case and with any `_`/`-`/space separators.
fn is_secret_key(key: &str) -> bool {
    let norm: String = key
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | ' ' | '.'))
        .flat_map(char::to_lowercase)
        .collect();
    [
        "secret",
        "token",
        "password",
        "passwd",
        "apikey",
        "authorization",
        "credential",
        "privatekey",
    ]
    .iter()
    .any(|s| norm.contains(s))
}

/// Replace, anywhere in `value`, the value of every object key named like a secret
/// (`secret`, `token`, `password`, `api_key`, `authorization`, ... case-insensitive, also as
/// part of a longer name such as `accessToken`) with `"[redacted]"`. Errs on the side of
/// redacting: a metric called `tokens_used` is redacted too.
pub fn redact_secrets(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if is_secret_key(key) {
                    *v = Value::String("[redacted]".to_string());
                } else {
                    redact_secrets(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_secrets),
        _ => {}
    }
}

/// An open audit log. Clone it freely; all clones append to the same chain.
#[derive(Clone)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// Where the chain's head is kept apart from the log (see [`Anchor`]).
    anchor: Option<PathBuf>,
    state: Mutex<Tail>,
}

/// The chain's head — the last record's `seq` and `hash` — kept where truncating the log
/// cannot reach it (the state directory, beside the journal), so `verify` can tell a log
/// that lost its tail from one that never had it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    pub log: PathBuf,
    pub seq: u64,
    pub hash: String,
    pub at: DateTime<Utc>,
}

/// The default place of `log`'s anchor: `<state dir>/audit-heads/<sha256 of its path>.json`.
pub fn default_anchor_path(log: &Path) -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "relcon")?;
    let state = dirs.state_dir().unwrap_or_else(|| dirs.data_local_dir());
    let canonical = log
        .parent()
        .and_then(|d| {
            std::fs::canonicalize(if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            })
            .ok()
        })
        .map(|d| d.join(log.file_name().unwrap_or_default()))
        .unwrap_or_else(|| log.to_path_buf());
    let key = sha256_hex(canonical.to_string_lossy().as_bytes());
    Some(
        state
            .join("audit-heads")
            .join(format!("{}.json", &key[..32])),
    )
}

/// Read an anchor; `None` when there is none (or it cannot be read).
pub fn read_anchor(path: &Path) -> Option<Anchor> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

fn write_anchor(path: &Path, anchor: &Anchor) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(serde_json::to_string(anchor).unwrap_or_default().as_bytes())?;
        f.sync_data()?;
    }
    std::fs::rename(&tmp, path)?;
    sync_parent_dir(path);
    Ok(())
}

/// What the writer knows about the end of the file.
struct Tail {
    file: File,
    /// File length after the last record this process saw; if the file has grown, another
    /// process appended and the tail is read again.
    len: u64,
    next_seq: u64,
    last_hash: String,
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

/// Holds an exclusive lock on the log file while alive.
struct FileLock<'a>(&'a File);

impl<'a> FileLock<'a> {
    fn acquire(file: &'a File, path: &Path) -> Result<FileLock<'a>, AuditError> {
        file.lock().map_err(io_err("lock", path))?;
        Ok(FileLock(file))
    }
}

impl Drop for FileLock<'_> {
    fn drop(&mut self) {
        // Closing the file releases the lock anyway; nothing useful to do on failure.
        let _ = self.0.unlock();
    }
}

impl AuditLog {
    /// Open the log at `path` for appending, creating it (and its parent directories) if
    /// missing. An existing log is continued: its last record gives the next `seq` and the
    /// hash to chain to. Fails with [`AuditError::DamagedTail`], naming the line, if the last
    /// line is torn or does not match its hash.
    pub fn open(path: impl AsRef<Path>) -> Result<AuditLog, AuditError> {
        let anchor = default_anchor_path(path.as_ref());
        AuditLog::open_anchored(path, anchor)
    }

    /// [`AuditLog::open`] keeping the chain's head at `anchor` (none: not kept).
    pub fn open_anchored(
        path: impl AsRef<Path>,
        anchor: Option<PathBuf>,
    ) -> Result<AuditLog, AuditError> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io_err("create the directory of", &path))?;
        }
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io_err("open", &path))?;
        if !existed {
            sync_parent_dir(&path);
        }
        let tail = {
            let _lock = FileLock::acquire(&file, &path)?;
            read_tail(&file, &path)?
        };
        let (len, next_seq, last_hash) = tail;
        Ok(AuditLog {
            inner: Arc::new(Inner {
                path,
                anchor,
                state: Mutex::new(Tail {
                    file,
                    len,
                    next_seq,
                    last_hash,
                }),
            }),
        })
    }

    /// The file this log writes to.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Where the chain's head is kept, if anywhere.
    pub fn anchor_path(&self) -> Option<&Path> {
        self.inner.anchor.as_deref()
    }

    /// The chain's head as this process last saw it: the last record's `seq` and `hash`
    /// (`None` for an empty log).
    pub fn head(&self) -> Option<(u64, String)> {
        let tail = self.inner.state.lock().ok()?;
        (tail.next_seq > 1).then(|| (tail.next_seq - 1, tail.last_hash.clone()))
    }

    /// Append a record and make it durable (`sync_data`) before returning it. The file I/O
    /// runs on tokio's blocking pool. `metrics` goes through [`redact_secrets`] first.
    pub async fn append(&self, entry: AuditEntry) -> Result<AuditRecord, AuditError> {
        let log = self.clone();
        tokio::task::spawn_blocking(move || log.append_blocking(entry))
            .await
            .map_err(|e| AuditError::Writer(e.to_string()))?
    }

    /// [`AuditLog::append`] for callers outside async code. Blocks on the file lock and on
    /// the disk.
    pub fn append_blocking(&self, entry: AuditEntry) -> Result<AuditRecord, AuditError> {
        let path = self.inner.path.as_path();
        let mut tail = self.inner.state.lock().map_err(|_| {
            AuditError::Writer("a previous append panicked while holding the log".to_string())
        })?;
        let tail = &mut *tail;
        let _lock = FileLock::acquire(&tail.file, path)?;

        // Another process may have appended since we last wrote; if so, chain to its record.
        let len = tail.file.metadata().map_err(io_err("read", path))?.len();
        if len != tail.len {
            let (len, next_seq, last_hash) = read_tail(&tail.file, path)?;
            tail.len = len;
            tail.next_seq = next_seq;
            tail.last_hash = last_hash;
        }

        let AuditEntry {
            operator,
            operation,
            event,
            bot,
            environment,
            from_version,
            to_version,
            outcome,
            detail,
            mut metrics,
            operation_id,
        } = entry;
        if let Some(m) = metrics.as_mut() {
            redact_secrets(m);
        }
        let metrics = metrics.filter(|m| !m.is_null());
        // Whole microseconds so the written text and the parsed value agree.
        let at = Utc::now().trunc_subsecs(6);
        let at_text = at.to_rfc3339_opts(SecondsFormat::Micros, true);
        let unsealed = Unsealed {
            seq: tail.next_seq,
            at: &at_text,
            operator: &operator,
            operation: &operation,
            event: &event,
            bot: bot.as_deref(),
            environment: environment.as_deref(),
            from_version: from_version.as_deref(),
            to_version: to_version.as_deref(),
            outcome: outcome.as_deref(),
            detail: detail.as_deref(),
            metrics: metrics.as_ref(),
            operation_id: operation_id.as_deref(),
            prev_hash: &tail.last_hash,
        };
        let (mut line, hash) = seal(&unsealed)?;
        line.push('\n');

        if let Err(e) = (&tail.file).write_all(line.as_bytes()) {
            // Take back a partial line so the log stays well-formed; if that fails too, the
            // next append (or open) finds the torn line and says so.
            let _ = tail.file.set_len(len);
            return Err(io_err("write", path)(e));
        }
        tail.file.sync_data().map_err(io_err("sync", path))?;

        let record = AuditRecord {
            seq: tail.next_seq,
            at,
            operator,
            operation,
            event,
            bot,
            environment,
            from_version,
            to_version,
            outcome,
            detail,
            metrics,
            operation_id,
            prev_hash: std::mem::replace(&mut tail.last_hash, hash.clone()),
            hash,
        };
        tail.len = len + line.len() as u64;
        tail.next_seq += 1;
        if let Some(anchor) = &self.inner.anchor {
            // The record is durable already; an anchor that cannot be written only weakens
            // the truncation check, so it is reported in the log file's place, not fatal.
            if let Err(e) = write_anchor(
                anchor,
                &Anchor {
                    log: path.to_path_buf(),
                    seq: record.seq,
                    hash: record.hash.clone(),
                    at: record.at,
                },
            ) {
                tracing::warn!("cannot keep the audit head at {}: {e}", anchor.display());
            }
        }
        Ok(record)
    }
}

/// Make a new file's directory entry durable. Best effort; Unix only.
fn sync_parent_dir(path: &Path) {
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Read the end of the log: (file length, next seq, hash of the last record).
fn read_tail(file: &File, path: &Path) -> Result<(u64, u64, String), AuditError> {
    let len = file.metadata().map_err(io_err("read", path))?.len();
    if len == 0 {
        return Ok((0, 1, GENESIS_HASH.to_string()));
    }
    let (last, terminated) = read_last_line(file, len).map_err(io_err("read", path))?;
    let reason = if !terminated {
        "the last line is incomplete; a write was probably interrupted".to_string()
    } else {
        match String::from_utf8(last) {
            Err(_) => "the last line is not UTF-8".to_string(),
            Ok(text) => match unseal(&text) {
                Err(reason) => reason,
                Ok(Unsealing {
                    hash_problem: Some(reason),
                    ..
                }) => reason,
                Ok(Unsealing { record, .. }) => {
                    return Ok((len, record.seq.saturating_add(1), record.hash));
                }
            },
        }
    };
    let newlines = count_newlines(file).map_err(io_err("read", path))?;
    Err(AuditError::DamagedTail {
        path: path.to_path_buf(),
        line: if terminated { newlines } else { newlines + 1 },
        reason,
    })
}

/// The last line of a non-empty file without its newline, and whether the file ended with
/// one. Reads backwards in chunks, so it costs one line, not the whole file.
fn read_last_line(mut file: &File, len: u64) -> io::Result<(Vec<u8>, bool)> {
    const CHUNK: u64 = 8192;
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    let terminated = last[0] == b'\n';
    let mut pos = if terminated { len - 1 } else { len };
    let mut line: Vec<u8> = Vec::new();
    while pos > 0 {
        let start = pos.saturating_sub(CHUNK);
        let mut chunk = vec![0u8; (pos - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut chunk)?;
        let newline = chunk.iter().rposition(|&b| b == b'\n');
        if let Some(i) = newline {
            chunk.drain(..=i);
        }
        chunk.extend_from_slice(&line);
        line = chunk;
        if newline.is_some() {
            break;
        }
        pos = start;
    }
    Ok((line, terminated))
}

fn count_newlines(mut file: &File) -> io::Result<usize> {
    file.seek(SeekFrom::Start(0))?;
    let mut reader = BufReader::new(file);
    let mut count = 0;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(count);
        }
        count += buf.iter().filter(|&&b| b == b'\n').count();
        let n = buf.len();
        reader.consume(n);
    }
}

/// What is wrong with a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// Not a record: torn, blank, not JSON, unknown or missing fields.
    Malformed,
    /// The record's hash does not match its text.
    Edited,
    /// Records are missing before this one.
    Deleted,
    /// This record is out of `seq` order.
    Reordered,
    /// `prev_hash` does not match the previous record's hash, or `seq` is duplicated.
    ChainBroken,
    /// The log ends before the head kept apart from it: its last records are gone.
    Truncated,
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProblemKind::Malformed => "malformed",
            ProblemKind::Edited => "edited",
            ProblemKind::Deleted => "deleted",
            ProblemKind::Reordered => "reordered",
            ProblemKind::ChainBroken => "chain broken",
            ProblemKind::Truncated => "truncated",
        })
    }
}

/// One finding of [`verify`], located by line (1-based) and, if the line parsed, `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub line: usize,
    pub seq: Option<u64>,
    pub kind: ProblemKind,
    pub detail: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.seq {
            Some(seq) => write!(f, "line {} (seq {seq}): ", self.line)?,
            None => write!(f, "line {}: ", self.line)?,
        }
        write!(f, "{} — {}", self.kind, self.detail)
    }
}

/// The result of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Lines that parsed as records (including edited ones).
    pub records: u64,
    /// `hash` of the record on the last line, if that line parsed. Keep it to detect later
    /// truncation of the log, which the file alone cannot reveal.
    pub head: Option<String>,
    /// Problems in line order.
    pub problems: Vec<Problem>,
    /// The head kept apart from the log, when there is one.
    #[serde(default)]
    pub anchor: Option<Anchor>,
}

impl VerifyReport {
    /// True if no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kept = match &self.anchor {
            Some(a) => format!(" (the head kept apart from it: seq {})", a.seq),
            None => String::new(),
        };
        if self.is_ok() {
            return match &self.head {
                Some(head) => write!(
                    f,
                    "audit log OK: {} records, head {head}{kept}",
                    self.records
                ),
                None => write!(f, "audit log OK: {} records (empty){kept}", self.records),
            };
        }
        let n = self.problems.len();
        write!(
            f,
            "audit log has {n} problem{} ({} records read):",
            if n == 1 { "" } else { "s" },
            self.records
        )?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

/// Split file contents into lines (1-based numbers). The second value is false if the
/// last line has no newline.
fn split_lines(bytes: &[u8]) -> (Vec<&[u8]>, bool) {
    if bytes.is_empty() {
        return (Vec::new(), true);
    }
    let terminated = bytes.last() == Some(&b'\n');
    let body = if terminated {
        &bytes[..bytes.len() - 1]
    } else {
        bytes
    };
    (body.split(|&b| b == b'\n').collect(), terminated)
}

fn read_file(path: &Path) -> Result<Vec<u8>, AuditError> {
    std::fs::read(path).map_err(|source| {
        if source.kind() == io::ErrorKind::NotFound {
            AuditError::Missing {
                path: path.to_path_buf(),
            }
        } else {
            io_err("read", path)(source)
        }
    })
}

/// Check the whole log: every line's hash, the `seq` order and the `prev_hash` chain.
/// Fails only if the file cannot be read; damage is reported in the [`VerifyReport`].
pub fn verify(path: impl AsRef<Path>) -> Result<VerifyReport, AuditError> {
    let path = path.as_ref();
    verify_anchored(path, default_anchor_path(path).as_deref())
}

/// [`verify`] against the head kept at `anchor` (if any): a log that ends before it has lost
/// its tail, and the report says which records.
pub fn verify_anchored(path: &Path, anchor: Option<&Path>) -> Result<VerifyReport, AuditError> {
    let bytes = read_file(path)?;
    let mut report = verify_bytes(&bytes);
    let Some(anchor) = anchor.and_then(read_anchor) else {
        return Ok(report);
    };
    let lines = split_lines(&bytes).0.len();
    let last = read_records_from(&bytes)
        .last()
        .map(|r| (r.seq, r.hash.clone()));
    match &last {
        Some((seq, _)) if *seq < anchor.seq => report.problems.push(Problem {
            line: lines + 1,
            seq: Some(seq + 1),
            kind: ProblemKind::Truncated,
            detail: format!(
                "the log ends at seq {seq} but its head was seq {} (hash {}…, written {}): {} record{} missing at the end",
                anchor.seq,
                &anchor.hash[..anchor.hash.len().min(12)],
                anchor.at.to_rfc3339_opts(SecondsFormat::Secs, true),
                anchor.seq - seq,
                if anchor.seq - seq == 1 { " is" } else { "s are" }
            ),
        }),
        None => report.problems.push(Problem {
            line: 1,
            seq: Some(1),
            kind: ProblemKind::Truncated,
            detail: format!(
                "the log is empty but its head was seq {} (hash {}…): every record is missing",
                anchor.seq,
                &anchor.hash[..anchor.hash.len().min(12)]
            ),
        }),
        Some((seq, hash)) if *seq == anchor.seq && *hash != anchor.hash => {
            report.problems.push(Problem {
                line: lines,
                seq: Some(*seq),
                kind: ProblemKind::Truncated,
                detail: format!(
                    "the last record is not the head kept apart from the log (hash {}…): the tail was replaced",
                    &anchor.hash[..anchor.hash.len().min(12)]
                ),
            })
        }
        _ => {}
    }
    report.anchor = Some(anchor);
    Ok(report)
}

/// Every line that parses as a record, in file order (damage ignored).
fn read_records_from(bytes: &[u8]) -> Vec<AuditRecord> {
    split_lines(bytes)
        .0
        .iter()
        .filter_map(|l| std::str::from_utf8(l).ok())
        .filter_map(|l| serde_json::from_str::<AuditRecord>(l).ok())
        .collect()
}

fn verify_bytes(bytes: &[u8]) -> VerifyReport {
    let (lines, terminated) = split_lines(bytes);
    let mut problems = Vec::new();
    let mut records = 0u64;
    let mut head = None;
    // Per line: Some(record) if it parsed and its hash matches.
    let mut trusted: Vec<Option<AuditRecord>> = Vec::with_capacity(lines.len());

    for (i, raw) in lines.iter().enumerate() {
        let line = i + 1;
        let is_last = line == lines.len();
        head = None;
        let mut malformed = |detail: String| {
            problems.push(Problem {
                line,
                seq: None,
                kind: ProblemKind::Malformed,
                detail,
            })
        };
        if is_last && !terminated {
            malformed(
                "the last line is incomplete (no newline); a write was probably interrupted"
                    .to_string(),
            );
            trusted.push(None);
            continue;
        }
        if raw.is_empty() {
            malformed("blank line".to_string());
            trusted.push(None);
            continue;
        }
        let Ok(text) = std::str::from_utf8(raw) else {
            malformed("not UTF-8".to_string());
            trusted.push(None);
            continue;
        };
        match unseal(text) {
            Err(reason) => {
                malformed(reason);
                trusted.push(None);
            }
            Ok(u) => {
                records += 1;
                head = Some(u.record.hash.clone());
                if let Some(detail) = u.hash_problem {
                    problems.push(Problem {
                        line,
                        seq: Some(u.record.seq),
                        kind: ProblemKind::Edited,
                        detail,
                    });
                    trusted.push(None);
                } else {
                    trusted.push(Some(u.record));
                }
            }
        }
    }

    check_order_and_chain(&trusted, &mut problems);
    problems.sort_by_key(|p| p.line);
    VerifyReport {
        records,
        head,
        problems,
        anchor: None,
    }
}

/// Look at the records whose hashes hold: `seq` order, gaps, duplicates, and the chain.
/// Untrusted lines (malformed or edited) are skipped, and a gap no larger than the number
/// of untrusted lines it spans is put down to them rather than reported again.
fn check_order_and_chain(trusted: &[Option<AuditRecord>], problems: &mut Vec<Problem>) {
    // seq -> (line, hash) of its first trusted occurrence; seq -> last line it appears on.
    let mut by_seq: HashMap<u64, (usize, &str)> = HashMap::new();
    let mut last_line_of: HashMap<u64, usize> = HashMap::new();
    for (i, r) in trusted.iter().enumerate() {
        if let Some(r) = r {
            by_seq.entry(r.seq).or_insert((i + 1, r.hash.as_str()));
            last_line_of.insert(r.seq, i + 1);
        }
    }

    let mut seen: HashSet<u64> = HashSet::new();
    let mut max_seen = 0u64;
    let mut prev: Option<(usize, u64)> = None; // (line, seq) of the previous trusted record
    let mut untrusted_between = 0u64;

    for (i, r) in trusted.iter().enumerate() {
        let line = i + 1;
        let Some(r) = r else {
            untrusted_between += 1;
            continue;
        };
        let mut report = |kind, detail: String| {
            problems.push(Problem {
                line,
                seq: Some(r.seq),
                kind,
                detail,
            })
        };
        let mut reported = true;
        if r.seq == 0 {
            report(
                ProblemKind::ChainBroken,
                "seq 0 is not valid; records count from 1".to_string(),
            );
        } else if seen.contains(&r.seq) {
            let first = by_seq.get(&r.seq).map_or(0, |&(l, _)| l);
            report(
                ProblemKind::ChainBroken,
                format!(
                    "seq {} already appeared on line {first}; a record was duplicated",
                    r.seq
                ),
            );
        } else if r.seq < max_seen {
            let (pline, pseq) = prev.unwrap_or((0, max_seen));
            report(
                ProblemKind::Reordered,
                format!(
                    "seq goes backwards from {pseq} (line {pline}) to {}; records were moved",
                    r.seq
                ),
            );
        } else if r.seq > max_seen + 1 {
            let moved =
                (max_seen + 1..r.seq).find(|s| last_line_of.get(s).is_some_and(|&l| l > line));
            let missing = r.seq - max_seen - 1;
            if let Some(s) = moved {
                let at = last_line_of.get(&s).copied().unwrap_or(0);
                report(
                    ProblemKind::Reordered,
                    format!(
                        "seq {} comes before seq {s} (line {at}); records were moved",
                        r.seq
                    ),
                );
            } else if missing > untrusted_between {
                let detail = match prev {
                    None => format!(
                        "the log starts at seq {}: {missing} earlier record{} removed",
                        r.seq,
                        if missing == 1 { " was" } else { "s were" }
                    ),
                    Some((pline, pseq)) => format!(
                        "seq jumps from {pseq} (line {pline}) to {}: {missing} record{} removed",
                        r.seq,
                        if missing == 1 { " was" } else { "s were" }
                    ),
                };
                report(ProblemKind::Deleted, detail);
            } else {
                reported = false;
            }
        } else {
            reported = false;
        }

        if !reported {
            // The chain: prev_hash must be the hash of seq - 1, wherever that record is.
            if r.seq == 1 {
                if r.prev_hash != GENESIS_HASH {
                    report(
                        ProblemKind::ChainBroken,
                        "the first record's prev_hash is not all zeros; records before it were removed or it was rewritten".to_string(),
                    );
                }
            } else if let Some(&(pline, phash)) = by_seq.get(&(r.seq - 1))
                && r.prev_hash != phash
            {
                report(
                    ProblemKind::ChainBroken,
                    format!(
                        "prev_hash does not match the hash of seq {} (line {pline}); one of them was rewritten with a recomputed hash",
                        r.seq - 1
                    ),
                );
            }
        }

        seen.insert(r.seq);
        max_seen = max_seen.max(r.seq);
        prev = Some((line, r.seq));
        untrusted_between = 0;
    }
}

/// Every record of the log, in file order. Fails on the first line that is not a record
/// (run [`verify`] for a full diagnosis); does not check hashes.
pub fn read_records(path: impl AsRef<Path>) -> Result<Vec<AuditRecord>, AuditError> {
    let path = path.as_ref();
    let bytes = read_file(path)?;
    let (lines, terminated) = split_lines(&bytes);
    let count = lines.len();
    let mut out = Vec::with_capacity(count);
    for (i, raw) in lines.into_iter().enumerate() {
        let malformed = |reason: String| AuditError::Malformed {
            path: path.to_path_buf(),
            line: i + 1,
            reason,
        };
        if i + 1 == count && !terminated {
            return Err(malformed("the last line is incomplete".to_string()));
        }
        let text = std::str::from_utf8(raw).map_err(|_| malformed("not UTF-8".to_string()))?;
        let record = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
        out.push(record);
    }
    Ok(out)
}

/// Which records `relcon audit show` lists. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// Exact bot name.
    pub bot: Option<String>,
    /// Operation name, case-insensitive.
    pub operation: Option<String>,
    /// Records at or after this time.
    pub since: Option<DateTime<Utc>>,
}

impl Filter {
    /// True if `record` passes every set condition.
    pub fn matches(&self, record: &AuditRecord) -> bool {
        self.bot
            .as_ref()
            .is_none_or(|b| record.bot.as_deref() == Some(b.as_str()))
            && self
                .operation
                .as_ref()
                .is_none_or(|o| record.operation.eq_ignore_ascii_case(o))
            && self.since.is_none_or(|t| record.at >= t)
    }
}

/// One line for a terminal: time, operation/event, bot, environment, versions, outcome,
/// operator, detail and a compact metrics summary. Every value is sanitised.
pub fn format_human(record: &AuditRecord) -> String {
    let mut parts = vec![
        format!("#{}", record.seq),
        record.at.format("%Y-%m-%d %H:%M:%SZ").to_string(),
        format!("{}/{}", clean(&record.operation), clean(&record.event)),
    ];
    if let Some(bot) = &record.bot {
        parts.push(format!("bot={}", clean(bot)));
    }
    if let Some(env) = &record.environment {
        parts.push(format!("env={}", clean(env)));
    }
    match (&record.from_version, &record.to_version) {
        (Some(from), Some(to)) => parts.push(format!("{} → {}", clean(from), clean(to))),
        (Some(from), None) => parts.push(format!("from {}", clean(from))),
        (None, Some(to)) => parts.push(format!("to {}", clean(to))),
        (None, None) => {}
    }
    if let Some(outcome) = &record.outcome {
        parts.push(format!("outcome={}", clean(outcome)));
    }
    parts.push(format!("by {}", clean(&record.operator)));
    if let Some(detail) = &record.detail {
        parts.push(format!("— {}", clean(detail)));
    }
    if let Some(metrics) = &record.metrics {
        parts.push(format!("[{}]", summarize_metrics(metrics)));
    }
    parts.join("  ")
}

/// `key=value` pairs for the scalar leaves of a metrics object (nested keys joined with
/// dots), at most eight, then a count of the rest.
fn summarize_metrics(metrics: &Value) -> String {
    const MAX: usize = 8;
    fn leaves(prefix: &str, v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    let key = if prefix.is_empty() {
                        clean(k)
                    } else {
                        format!("{prefix}.{}", clean(k))
                    };
                    leaves(&key, v, out);
                }
            }
            Value::Array(items) => out.push(format!("{prefix}=[{} items]", items.len())),
            Value::String(s) => out.push(format!("{prefix}={}", clean(s))),
            Value::Number(n) => out.push(format!("{prefix}={}", compact_number(n))),
            other => out.push(format!("{prefix}={other}")),
        }
    }
    let mut out = Vec::new();
    leaves("", metrics, &mut out);
    let extra = out.len().saturating_sub(MAX);
    out.truncate(MAX);
    let mut s = out.join(" ");
    if extra > 0 {
        s.push_str(&format!(" …+{extra}"));
    }
    s
}

/// Integers as they are; other numbers with at most four decimals, trailing zeros dropped.
fn compact_number(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    match n.as_f64() {
        Some(f) => {
            let s = format!("{f:.4}");
            let s = s.trim_end_matches('0').trim_end_matches('.');
            s.to_string()
        }
        None => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log whose head is kept beside it, not in the user's state directory.
    fn open(path: &Path) -> Result<AuditLog, AuditError> {
        AuditLog::open_anchored(path, Some(path.with_extension("head")))
    }
    use serde_json::json;

    fn entry(i: usize) -> AuditEntry {
        AuditEntry {
            bot: Some("support-bot".into()),
            environment: Some("production".into()),
            from_version: Some(format!("v{i}")),
            to_version: Some(format!("v{}", i + 1)),
            outcome: Some("success".into()),
            detail: Some(format!("step {i}")),
            metrics: Some(json!({"error_rate": 0.0125, "p95_ms": 840, "samples": i})),
            operation_id: Some("op-1".into()),
            ..AuditEntry::new("alice", "deploy", "step_finished")
        }
    }

    fn log_with(n: usize) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/audit.jsonl");
        let log = open(&path).unwrap();
        for i in 0..n {
            log.append_blocking(entry(i)).unwrap();
        }
        (dir, path)
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn write_lines(path: &Path, lines: &[String]) {
        let mut s = lines.join("\n");
        s.push('\n');
        std::fs::write(path, s).unwrap();
    }

    fn kinds(report: &VerifyReport) -> Vec<(usize, ProblemKind)> {
        report.problems.iter().map(|p| (p.line, p.kind)).collect()
    }

    #[test]
    fn first_record_and_reopen_continue_the_chain() {
        let (_dir, path) = log_with(2);
        let records = read_records(&path).unwrap();
        assert_eq!(records[0].seq, 1);
        assert_eq!(records[0].prev_hash, GENESIS_HASH);
        assert_eq!(records[1].prev_hash, records[0].hash);

        let log = open(&path).unwrap();
        let third = log.append_blocking(entry(2)).unwrap();
        assert_eq!(third.seq, 3);
        assert_eq!(third.prev_hash, records[1].hash);
        assert_eq!(read_records(&path).unwrap()[2], third);

        let report = verify(&path).unwrap();
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.records, 3);
        assert_eq!(report.head.as_deref(), Some(third.hash.as_str()));
        assert_eq!(
            report.to_string(),
            format!("audit log OK: 3 records, head {}", third.hash)
        );
    }

    #[test]
    fn line_layout_follows_the_documented_rule() {
        let (_dir, path) = log_with(1);
        let line = &lines(&path)[0];
        assert!(line.starts_with("{\"seq\":1,\"at\":\""));
        let record: AuditRecord = serde_json::from_str(line).unwrap();
        let tail = format!(",\"hash\":\"{}\"}}", record.hash);
        let open = line.strip_suffix(&tail).unwrap();
        assert!(open.ends_with(&format!("\"prev_hash\":\"{GENESIS_HASH}\"")));
        let expected = hex::encode(Sha256::digest(format!("{open}}}").as_bytes()));
        assert_eq!(record.hash, expected);
    }

    #[test]
    fn two_handles_on_one_file_share_the_chain() {
        let (_dir, path) = log_with(1);
        let a = open(&path).unwrap();
        let b = open(&path).unwrap();
        a.append_blocking(entry(1)).unwrap();
        let r = b.append_blocking(entry(2)).unwrap();
        a.append_blocking(entry(3)).unwrap();
        assert_eq!(r.seq, 3);
        let report = verify(&path).unwrap();
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.records, 4);
    }

    #[test]
    fn an_edit_of_any_field_is_found_on_its_line() {
        let (_dir, path) = log_with(5);
        let original = lines(&path);
        let line3 = original[2].clone();
        let edits: Vec<(&str, &str)> = vec![
            ("\"seq\":3", "\"seq\":30"),
            ("\"operator\":\"alice\"", "\"operator\":\"mallory\""),
            ("\"operation\":\"deploy\"", "\"operation\":\"canary\""),
            ("\"event\":\"step_finished\"", "\"event\":\"completed\""),
            ("\"bot\":\"support-bot\"", "\"bot\":\"other-bot\""),
            (
                "\"environment\":\"production\"",
                "\"environment\":\"staging\"",
            ),
            ("\"from_version\":\"v2\"", "\"from_version\":\"v1\""),
            ("\"to_version\":\"v3\"", "\"to_version\":\"v9\""),
            ("\"outcome\":\"success\"", "\"outcome\":\"failure\""),
            ("\"detail\":\"step 2\"", "\"detail\":\"step 7\""),
            ("\"error_rate\":0.0125", "\"error_rate\":0.0025"),
            ("\"operation_id\":\"op-1\"", "\"operation_id\":\"op-2\""),
            ("\"at\":\"20", "\"at\":\"19"),
            ("\"prev_hash\":\"", "\"prev_hash\":\"f"),
            ("\"hash\":\"", "\"hash\":\"0"),
            (",\"bot\":\"support-bot\"", ""),
        ];
        for (from, to) in edits {
            assert!(line3.contains(from), "{from} not in {line3}");
            let mut edited = original.clone();
            edited[2] = line3.replacen(from, to, 1);
            write_lines(&path, &edited);
            let report = verify(&path).unwrap();
            assert_eq!(
                kinds(&report),
                vec![(3, ProblemKind::Edited)],
                "edit {from} -> {to}: {report}"
            );
            assert!(report.to_string().contains("line 3 (seq "), "{report}");
        }
        let mut edited = original.clone();
        edited[2] = line3.replacen("\"outcome\":\"success\"", "\"outcome\":\"failure\"", 1);
        write_lines(&path, &edited);
        assert_eq!(
            verify(&path).unwrap().to_string(),
            "audit log has 1 problem (5 records read):\n  line 3 (seq 3): edited — hash does not match its contents"
        );
    }

    #[test]
    fn an_added_field_or_reformatting_counts_as_damage() {
        let (_dir, path) = log_with(3);
        let original = lines(&path);
        let mut edited = original.clone();
        edited[1] = original[1].replacen('{', "{\"extra\":1,", 1);
        write_lines(&path, &edited);
        assert_eq!(
            kinds(&verify(&path).unwrap()),
            vec![(2, ProblemKind::Malformed)]
        );

        let mut edited = original.clone();
        edited[1] = original[1].replacen(',', ", ", 1);
        write_lines(&path, &edited);
        assert_eq!(
            kinds(&verify(&path).unwrap()),
            vec![(2, ProblemKind::Edited)]
        );
    }

    #[test]
    fn an_edit_with_a_recomputed_hash_breaks_the_chain_at_the_next_line() {
        let (_dir, path) = log_with(4);
        let mut all = lines(&path);
        let record: AuditRecord = serde_json::from_str(&all[1]).unwrap();
        let tail = format!(",\"hash\":\"{}\"}}", record.hash);
        let open = all[1]
            .strip_suffix(&tail)
            .unwrap()
            .replacen("alice", "mallory", 1);
        let hash = hex::encode(Sha256::digest(format!("{open}}}").as_bytes()));
        all[1] = format!("{open},\"hash\":\"{hash}\"}}");
        write_lines(&path, &all);
        let report = verify(&path).unwrap();
        assert_eq!(
            kinds(&report),
            vec![(3, ProblemKind::ChainBroken)],
            "{report}"
        );
    }

    #[test]
    fn deleting_a_middle_record_is_found_where_it_was() {
        let (_dir, path) = log_with(5);
        let mut all = lines(&path);
        all.remove(2);
        write_lines(&path, &all);
        let report = verify(&path).unwrap();
        assert_eq!(kinds(&report), vec![(3, ProblemKind::Deleted)], "{report}");
        assert_eq!(report.problems[0].seq, Some(4));
        assert!(report.problems[0].detail.contains("from 2 (line 2) to 4"));
    }

    #[test]
    fn deleting_the_first_record_is_found() {
        let (_dir, path) = log_with(3);
        let mut all = lines(&path);
        all.remove(0);
        write_lines(&path, &all);
        let report = verify(&path).unwrap();
        assert_eq!(kinds(&report), vec![(1, ProblemKind::Deleted)], "{report}");
    }

    #[test]
    fn deleting_the_last_record_changes_only_the_head() {
        let (_dir, path) = log_with(3);
        let before = verify(&path).unwrap();
        let mut all = lines(&path);
        all.pop();
        write_lines(&path, &all);
        let after = verify(&path).unwrap();
        assert!(after.is_ok());
        assert_ne!(before.head, after.head);
    }

    #[test]
    fn swapping_two_records_is_reordered_not_deleted() {
        let (_dir, path) = log_with(5);
        let mut all = lines(&path);
        all.swap(2, 3);
        write_lines(&path, &all);
        let report = verify(&path).unwrap();
        assert_eq!(
            kinds(&report),
            vec![(3, ProblemKind::Reordered), (4, ProblemKind::Reordered)],
            "{report}"
        );
    }

    #[test]
    fn every_single_deletion_and_adjacent_swap_is_located() {
        let (_dir, path) = log_with(6);
        let original = lines(&path);
        for k in 0..5 {
            let mut all = original.clone();
            all.remove(k);
            write_lines(&path, &all);
            let report = verify(&path).unwrap();
            assert_eq!(
                kinds(&report),
                vec![(k + 1, ProblemKind::Deleted)],
                "delete {k}: {report}"
            );

            let mut all = original.clone();
            all.swap(k, k + 1);
            write_lines(&path, &all);
            let report = verify(&path).unwrap();
            assert_eq!(
                kinds(&report),
                vec![
                    (k + 1, ProblemKind::Reordered),
                    (k + 2, ProblemKind::Reordered)
                ],
                "swap {k}: {report}"
            );
        }
        let mut all = original.clone();
        all.drain(2..4);
        write_lines(&path, &all);
        let report = verify(&path).unwrap();
        assert_eq!(kinds(&report), vec![(3, ProblemKind::Deleted)], "{report}");
        assert!(
            report.problems[0].detail.contains("2 records were removed"),
            "{report}"
        );
    }

    #[test]
    fn a_duplicated_record_breaks_the_chain() {
        let (_dir, path) = log_with(3);
        let mut all = lines(&path);
        let copy = all[1].clone();
        all.insert(2, copy);
        write_lines(&path, &all);
        let report = verify(&path).unwrap();
        assert_eq!(
            kinds(&report),
            vec![(3, ProblemKind::ChainBroken)],
            "{report}"
        );
    }

    #[test]
    fn a_torn_last_line_is_malformed_and_blocks_appending() {
        let (_dir, path) = log_with(3);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.truncate(text.len() - 20);
        std::fs::write(&path, &text).unwrap();
        let report = verify(&path).unwrap();
        assert_eq!(
            kinds(&report),
            vec![(3, ProblemKind::Malformed)],
            "{report}"
        );
        assert_eq!(report.records, 2);

        let err = open(&path).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, AuditError::DamagedTail { line: 3, .. }),
            "{msg}"
        );
        assert!(msg.contains("relcon audit verify"), "{msg}");
        assert!(msg.contains("line 3"), "{msg}");
    }

    #[test]
    fn an_edited_last_line_blocks_appending() {
        let (_dir, path) = log_with(2);
        let mut all = lines(&path);
        all[1] = all[1].replacen("alice", "mallory", 1);
        write_lines(&path, &all);
        let err = open(&path).unwrap_err();
        assert!(
            matches!(err, AuditError::DamagedTail { line: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn long_lines_are_read_back_from_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = open(&path).unwrap();
        let mut e = entry(0);
        e.detail = Some("x".repeat(30_000));
        log.append_blocking(e.clone()).unwrap();
        log.append_blocking(e).unwrap();
        let r = open(&path).unwrap().append_blocking(entry(1)).unwrap();
        assert_eq!(r.seq, 3);
        assert!(verify(&path).unwrap().is_ok());
    }

    #[test]
    fn verify_of_a_missing_file_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let err = verify(dir.path().join("nope.jsonl")).unwrap_err();
        assert!(matches!(err, AuditError::Missing { .. }), "{err}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_appends_keep_one_valid_chain() {
        const TASKS: usize = 8;
        const EACH: usize = 25;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = open(&path).unwrap();
        let mut handles = Vec::new();
        for t in 0..TASKS {
            let log = log.clone();
            handles.push(tokio::spawn(async move {
                for i in 0..EACH {
                    log.append(entry(t * 100 + i)).await.unwrap();
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        let report = verify(&path).unwrap();
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.records, (TASKS * EACH) as u64);
        let seqs: Vec<u64> = read_records(&path).unwrap().iter().map(|r| r.seq).collect();
        assert_eq!(seqs, (1..=(TASKS * EACH) as u64).collect::<Vec<_>>());
    }

    #[test]
    fn secrets_in_metrics_are_redacted() {
        let mut v = json!({
            "error_rate": 0.1,
            "api_key": "k-123",
            "Authorization": "Bearer abc",
            "nested": {"clientSecret": "s", "items": [{"password": "p", "ok": 1}]},
            "access-token": {"deep": "x"},
        });
        redact_secrets(&mut v);
        assert_eq!(
            v,
            json!({
                "error_rate": 0.1,
                "api_key": "[redacted]",
                "Authorization": "[redacted]",
                "nested": {"clientSecret": "[redacted]", "items": [{"password": "[redacted]", "ok": 1}]},
                "access-token": "[redacted]",
            })
        );

        let (_dir, path) = log_with(0);
        let log = open(&path).unwrap();
        let mut e = entry(0);
        e.metrics = Some(json!({"token": "hunter2", "samples": 10}));
        let r = log.append_blocking(e).unwrap();
        assert_eq!(
            r.metrics,
            Some(json!({"token": "[redacted]", "samples": 10}))
        );
        assert!(!std::fs::read_to_string(&path).unwrap().contains("hunter2"));
    }

    #[test]
    fn filter_and_human_format() {
        let (_dir, path) = log_with(2);
        let log = open(&path).unwrap();
        let mut other = AuditEntry::new("bob", "Canary", "decision");
        other.bot = Some("sales-bot".into());
        other.detail = Some("judge says \u{1b}[31mrollback".into());
        other.metrics =
            Some(json!({"verdict": "fail", "error_rate": {"canary": 0.0412345, "baseline": 0.01}}));
        log.append_blocking(other).unwrap();
        let records = read_records(&path).unwrap();

        let by_bot = Filter {
            bot: Some("support-bot".into()),
            ..Filter::default()
        };
        assert_eq!(records.iter().filter(|r| by_bot.matches(r)).count(), 2);
        let by_op = Filter {
            operation: Some("canary".into()),
            ..Filter::default()
        };
        assert_eq!(records.iter().filter(|r| by_op.matches(r)).count(), 1);
        let later = Filter {
            since: Some(records[2].at + chrono::Duration::seconds(1)),
            ..Filter::default()
        };
        assert_eq!(records.iter().filter(|r| later.matches(r)).count(), 0);

        let line = format_human(&records[2]);
        assert!(line.starts_with("#3 "), "{line}");
        assert!(line.contains("Canary/decision"), "{line}");
        assert!(line.contains("bot=sales-bot"), "{line}");
        assert!(line.contains("by bob"), "{line}");
        assert!(line.contains("judge says rollback"), "{line}");
        assert!(!line.contains('\u{1b}'), "{line}");
        assert!(
            line.contains("[error_rate.baseline=0.01 error_rate.canary=0.0412 verdict=fail]"),
            "{line}"
        );
        let first = format_human(&records[0]);
        assert!(first.contains("v0 → v1"), "{first}");
        assert!(first.contains("outcome=success"), "{first}");
    }
}

#[cfg(test)]
mod anchor_tests {
    use super::*;

    fn log_with(n: usize) -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let anchor = dir.path().join("state/head.json");
        let log = AuditLog::open_anchored(&path, Some(anchor.clone())).unwrap();
        for i in 0..n {
            let mut e = AuditEntry::new("tester", "deploy", "step");
            e.detail = Some(format!("record {i}"));
            log.append_blocking(e).unwrap();
        }
        assert_eq!(log.head().map(|h| h.0), Some(n as u64));
        (dir, path, anchor)
    }

    #[test]
    fn a_log_that_lost_its_last_record_is_reported_with_what_is_missing() {
        let (_dir, path, anchor) = log_with(5);
        let ok = verify_anchored(&path, Some(&anchor)).unwrap();
        assert!(ok.is_ok(), "{ok}");
        assert_eq!(ok.anchor.as_ref().map(|a| a.seq), Some(5));
        // Drop the last line: the file alone still verifies, the anchor does not agree.
        let text = std::fs::read_to_string(&path).unwrap();
        let kept: Vec<&str> = text.lines().take(4).collect();
        std::fs::write(&path, format!("{}\n", kept.join("\n"))).unwrap();
        assert!(verify_anchored(&path, None).unwrap().is_ok());
        let r = verify_anchored(&path, Some(&anchor)).unwrap();
        assert_eq!(r.problems.len(), 1, "{r}");
        assert_eq!(r.problems[0].kind, ProblemKind::Truncated);
        let text = r.to_string();
        assert!(
            text.contains("ends at seq 4 but its head was seq 5")
                && text.contains("1 record is missing"),
            "{text}"
        );
        // Emptied altogether.
        std::fs::write(&path, "").unwrap();
        let r = verify_anchored(&path, Some(&anchor)).unwrap();
        assert!(r.to_string().contains("every record is missing"), "{r}");
    }

    #[test]
    fn webhook_deliveries_and_appends_agree_on_the_head() {
        let (_dir, path, anchor) = log_with(3);
        let a = read_anchor(&anchor).unwrap();
        let last = read_records(&path).unwrap().pop().unwrap();
        assert_eq!((a.seq, a.hash), (last.seq, last.hash));
    }
}

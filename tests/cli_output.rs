//! The headless commands as a shell user meets them: output piped into a reader that stops
//! early, and audit filters.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use relcon::audit::{AuditEntry, AuditLog};

fn audit_file(dir: &std::path::Path, records: usize) -> std::path::PathBuf {
    let path = dir.join("audit.jsonl");
    let log = AuditLog::open_anchored(&path, Some(path.with_extension("head"))).expect("open");
    for i in 0..records {
        let mut e = AuditEntry::new("tester", "canary", "decision");
        e.bot = Some(if i % 2 == 0 { "bot-a" } else { "bot-b" }.into());
        e.detail = Some(format!(
            "step {i}: a decision with enough words to make the output long"
        ));
        log.append_blocking(e).expect("append");
    }
    path
}

#[test]
fn a_reader_that_stops_early_ends_the_output_quietly() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Far more than a pipe buffer holds, so the writer meets the closed pipe.
    let path = audit_file(dir.path(), 3000);
    let mut child = Command::new(env!("CARGO_BIN_EXE_relcon"))
        .args(["audit", "show", "--file"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut first = String::new();
    let stdout = child.stdout.take().expect("stdout");
    BufReader::new(stdout).read_line(&mut first).expect("read");
    // The reader is gone now (like `| head -1`).
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(first.starts_with("#1 "), "{first}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

#[test]
fn audit_show_filters_by_bot_and_last() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = audit_file(dir.path(), 10);
    let out = Command::new(env!("CARGO_BIN_EXE_relcon"))
        .args(["audit", "show", "--bot", "bot-b", "--last", "2", "--file"])
        .arg(&path)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with("#8 ") && lines[1].starts_with("#10 "),
        "{text}"
    );
    assert!(lines.iter().all(|l| l.contains("bot=bot-b")), "{text}");
    let bad = Command::new(env!("CARGO_BIN_EXE_relcon"))
        .args(["audit", "show", "--since", "soon", "--file"])
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--since soon"));
}

//! End to end, in a real terminal: `relcon demo` in tmux, a canary started on the
//! scenario's regressing version with keys alone, and the automatic rollback read off the
//! screen. The screen is polled until what we wait for appears (with a deadline), never
//! slept on blindly.

use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs (scripts/test.sh installs it)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "e2e"])
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "e2e"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Poll the screen until `want` holds; panic with the screen after `secs`.
    fn wait_for(&self, what: &str, secs: u64, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.screen();
            if want(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "waited {secs}s for {what}; the screen shows:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

#[test]
fn demo_canary_on_the_regressing_version_rolls_back_on_screen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = Tmux {
        socket: format!("relcon-e2e-{}", std::process::id()),
    };
    let cmd = format!(
        "env XDG_DATA_HOME={d}/data XDG_STATE_HOME={d}/state XDG_CONFIG_HOME={d}/config {bin} demo --speed 30",
        d = dir.path().display(),
        bin = env!("CARGO_BIN_EXE_relcon"),
    );
    t.run(&[
        "new-session",
        "-d",
        "-s",
        "e2e",
        "-x",
        "160",
        "-y",
        "45",
        &cmd,
    ]);
    t.wait_for("the bots to load", 30, |s| {
        s.contains("Travel Assistant") && s.contains("connected")
    });
    // Bots are listed by name: Customer Service, HR Helpdesk, Travel Assistant.
    t.keys(&["j", "j"]);
    t.wait_for("Travel Assistant's versions", 10, |s| {
        s.contains("Versions of Travel Assistant") && s.contains("v3.5.0")
    });
    // Into Versions (newest first: v3.5.0 is selected) and open the plan form.
    t.keys(&["Tab"]);
    t.keys(&["c"]);
    t.wait_for("the canary plan form", 10, |s| s.contains("Canary plan"));
    // One-minute holds, 30 conversations per arm before judging; submit, confirm.
    t.keys(&[
        "Tab", "C-u", "1m", "Tab", "Tab", "Tab", "Tab", "Tab", "C-u", "30", "C-s",
    ]);
    t.wait_for("the confirmation", 10, |s| {
        s.contains("Start canary of v3.5.0")
    });
    t.keys(&["y"]);
    t.wait_for("the canary to start", 20, |s| {
        s.contains("start canary") && s.contains("hold 5%")
    });
    // ("rolled back" alone is on screen from the start: v3.4.0's old verdict.)
    let s = t.wait_for("the automatic rollback", 90, |s| {
        s.contains("↺ #1 canary bot-travel-assistant v3.5.0")
            && s.contains("v3.4.2 keeps all traffic")
    });
    assert!(
        s.contains("✖ hold"),
        "the breached step is marked failed:\n{s}"
    );
    // The Canary pane says which regressed metric failed, with both arms' figures.
    assert!(
        ["error rate", "latency", "CSAT"]
            .iter()
            .any(|m| s.contains(&format!("✖ fail on {}", m.to_lowercase()))
                || s.contains(&format!("✖ {m}")))
            && s.contains("baseline"),
        "the reason names the breached metric:\n{s}"
    );
    // q quits at once once nothing runs, leaving a shell.
    t.keys(&["q"]);
}

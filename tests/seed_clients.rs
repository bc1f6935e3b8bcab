//! The seeds' own Python clients (../shared/seed-clients) are independent clients of
//! `relcon sim`: run them all against the binary, as their README says, and require 5/5.
//!
//! Needs python3 with venv and the package registry (run_all.sh installs the clients'
//! requirements into a cached venv). Without ../shared/seed-clients (a clone outside the
//! workspace) there is nothing to run and the test says so.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[test]
fn seed_clients_complete_their_flows_against_the_simulator() {
    let clients = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/seed-clients");
    let script = clients.join("run_all.sh");
    if !script.exists() {
        eprintln!(
            "skipped: {} not found (the seed clients live beside the repository)",
            script.display()
        );
        return;
    }
    let port = free_port();
    let speed = 30;
    let sim = Command::new(env!("CARGO_BIN_EXE_relcon"))
        .args([
            "sim",
            "--port",
            &port.to_string(),
            "--speed",
            &speed.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start relcon sim");
    let _sim = KillOnDrop(sim);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "relcon sim did not listen within 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let url = format!("http://127.0.0.1:{port}");
    let out = Command::new("bash")
        .arg(&script)
        .arg(&url)
        .env("SEED_SLEEP_SCALE", format!("{:.4}", 1.0 / f64::from(speed)))
        .output()
        .expect("run run_all.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("seed clients: 5/5 ok"),
        "seed clients failed:\n{stdout}\n{stderr}"
    );
}

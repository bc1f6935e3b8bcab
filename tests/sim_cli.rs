//! `relcon sim` as a child process: it answers the Release API within a second of starting
//! and prints the demo credentials.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Kills the child when the test ends, also when it fails.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().unwrap().port()
}

#[tokio::test]
async fn relcon_sim_answers_within_a_second_and_prints_the_demo_credentials() {
    let port = free_port();
    let started = Instant::now();
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_relcon"))
            .args(["sim", "--port", &port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("relcon sim starts"),
    );
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    // Wait for the port to accept connections, at most a second after the start.
    let deadline = started + Duration::from_secs(1);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.0.try_wait() {
            panic!("relcon sim exited early: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "relcon sim did not listen on {port} within 1 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let r = http
        .get(format!("http://127.0.0.1:{port}/api/v1/bots"))
        .bearer_auth("demo-key")
        .send()
        .await
        .expect("GET /api/v1/bots");
    assert_eq!(r.status().as_u16(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let ids: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"bot-customer-service-v2"), "{ids:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "answered after {:?}",
        started.elapsed()
    );

    // The banner names the URL and the demo credentials.
    let mut banner = String::new();
    let wait_until = Instant::now() + Duration::from_secs(1);
    while !(banner.contains("demo-secret") && banner.contains("demo-key")) {
        let left = wait_until.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                banner.push_str(&line);
                banner.push('\n');
            }
            Err(_) => panic!("incomplete banner:\n{banner}"),
        }
    }
    assert!(
        banner.contains(&format!("http://127.0.0.1:{port}")),
        "{banner}"
    );
    assert!(banner.contains("demo-client"), "{banner}");
    assert!(
        banner.contains("Authorization: Bearer demo-key"),
        "{banner}"
    );
}

#[tokio::test]
async fn relcon_sim_dialect_cognigy_serves_the_platform_api_and_says_so() {
    let port = free_port();
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_relcon"))
            .args(["sim", "--dialect", "cognigy", "--port", &port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("relcon sim starts"),
    );
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.0.try_wait() {
            panic!("relcon sim exited early: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "relcon sim did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let r = http
        .get(format!("http://127.0.0.1:{port}/new/v2.0/projects"))
        .header("X-API-Key", "demo-key")
        .send()
        .await
        .expect("GET /new/v2.0/projects");
    assert_eq!(r.status().as_u16(), 200);
    let projects: relcon::cognigy::List<relcon::cognigy::Project> = r.json().await.unwrap();
    assert!(projects.items.iter().any(|p| p.name == "Customer Service"));
    let release = http
        .get(format!("http://127.0.0.1:{port}/api/v1/bots"))
        .bearer_auth("demo-key")
        .send()
        .await
        .unwrap();
    assert_eq!(release.status().as_u16(), 404, "not the Release API");

    let mut banner = String::new();
    let wait_until = Instant::now() + Duration::from_secs(2);
    while !banner.contains("X-API-Key: demo-key") {
        let left = wait_until.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                banner.push_str(&line);
                banner.push('\n');
            }
            Err(_) => panic!("incomplete banner:\n{banner}"),
        }
    }
    assert!(banner.contains("Cognigy.AI"), "{banner}");
}

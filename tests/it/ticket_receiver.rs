//! README's ticket receiver (issue 19, "A ticket per control"): the exact Python of
//! `docs/examples/ticket_receiver.py`, which README shows, run against the dev server on a
//! loopback socket. Two runs of one customer fail the same controls: each ticket opens once.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use http::Method;
use serde_json::json;
use tests::{customer_body, webhook_body, TENANT};

const RECEIVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/examples/ticket_receiver.py");
const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");

/// The receiver, as a child process: its stdout lines arrive on the channel.
struct Receiver {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
}

impl Receiver {
    fn start(secret: &str) -> (Self, u16) {
        let mut child = Command::new("python3")
            .arg(RECEIVER)
            .env("BAREF00T_WEBHOOK_SECRET", secret)
            .env("PORT", "0")
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the receiver");
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let first = lines.recv_timeout(Duration::from_secs(20)).expect("the receiver says where it listens");
        let port = first.strip_prefix("listening on ").and_then(|p| p.parse().ok()).expect(&first);
        (Self { child, lines }, port)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn readme_shows_the_receiver_that_is_tested() {
    let readme = std::fs::read_to_string(README).unwrap();
    let receiver = std::fs::read_to_string(RECEIVER).unwrap();
    assert!(readme.contains(receiver.trim_end()), "README's receiver is docs/examples/ticket_receiver.py, verbatim");
}

/// The failing controls' keys of a completed run, from the requirements route (every item not
/// counting towards a level), as `domain::drift` counts failures.
async fn failing_keys(s: &crate::dev_server::Running, run: &str) -> BTreeSet<String> {
    let (status, _, r) = s.partner(Method::GET, &format!("/assessments/{run}/requirements"), None).await;
    assert_eq!(status, 200, "{r}");
    r["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !["effective", "alternate_control", "not_applicable"].contains(&r["outcome"].as_str().unwrap()))
        .map(|r| r["dedupeKey"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_readme_receiver_opens_one_ticket_per_dedupe_key_across_runs() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("python3 is not installed: the ticket receiver test is skipped");
        return;
    }
    let s = crate::dev_server::start_with(shared::config::Config {
        webhook_allow_private_targets: true,
        ..shared::config::Config::default()
    })
    .await;
    let events = ["assessment.completed", "assessment.regressed"];
    // The endpoint first (its secret is shown once), then the receiver with that secret.
    let (status, _, created) =
        s.partner(Method::POST, "/webhooks", Some(webhook_body("http://127.0.0.1:9/tickets", &events))).await;
    assert_eq!(status, 201, "{created}");
    let (receiver, port) = Receiver::start(created["secret"].as_str().unwrap());
    let hook = created["webhook"]["id"].as_str().unwrap().to_string();
    let url = json!({ "url": format!("http://127.0.0.1:{port}/tickets") });
    assert_eq!(s.partner(Method::PATCH, &format!("/webhooks/{hook}"), Some(url)).await.0, 200);

    let (_, _, c) = s.partner(Method::POST, "/customers", Some(customer_body("Contoso Ltd", TENANT))).await;
    let cid = c["id"].as_str().unwrap().to_string();
    s.grant_consent(&cid).await;
    let mut runs = Vec::new();
    for _ in 0..2 {
        let body = json!({ "customerId": cid, "product": "essential-eight" });
        let (status, _, run) = s.partner(Method::POST, "/assessments", Some(body)).await;
        assert_eq!(status, 202, "{run}");
        runs.push(run["id"].as_str().unwrap().to_string());
        // The next run starts once this one completed and its event was delivered, so the two
        // runs' failures overlap as they would a month apart.
        wait_for_deliveries(&s, &hook, runs.len()).await;
    }

    let mut expected = BTreeSet::new();
    for run in &runs {
        expected.extend(failing_keys(&s, run).await);
    }
    assert!(!expected.is_empty(), "the demo tenant fails something at its target");
    assert_eq!(failing_keys(&s, &runs[0]).await, failing_keys(&s, &runs[1]).await, "the failures overlap");
    let tickets: Vec<String> = receiver.lines.try_iter().collect();
    let keys: Vec<String> = tickets
        .iter()
        .map(|t| t.strip_prefix("ticket ").unwrap().split(':').take(2).collect::<Vec<_>>().join(":"))
        .collect();
    let once: BTreeSet<String> = keys.iter().cloned().collect();
    assert_eq!(keys.len(), once.len(), "no ticket opened twice: {tickets:?}");
    assert_eq!(once, expected, "one ticket per failing control");
    drop(receiver);
    s.stop().await;
}

/// Bounded wait (real time: the dev server's tasks and the receiver run beside the test) until
/// the endpoint has `n` delivered deliveries.
async fn wait_for_deliveries(s: &crate::dev_server::Running, hook: &str, n: usize) {
    for _ in 0..1000 {
        let (_, _, log) = s.partner(Method::GET, &format!("/webhooks/{hook}/deliveries"), None).await;
        let delivered =
            log["deliveries"].as_array().map_or(0, |d| d.iter().filter(|d| d["status"] == "delivered").count());
        if delivered >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, _, log) = s.partner(Method::GET, &format!("/webhooks/{hook}/deliveries"), None).await;
    panic!("the receiver did not get {n} events: {log}");
}

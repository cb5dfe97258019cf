//! The SQS queue adapter and the Secrets Manager loader, against moto.

use std::sync::Arc;

use shared::aws_secrets::{self, SecretBundle};
use shared::domain::ids::random_base62;
use shared::domain::time::ManualClock;
use shared::queue::sqs::SqsQueue;
use shared::queue::{RunMessage, RunQueue};
use tests::T0;

async fn queue(clock: Arc<ManualClock>, visibility: u32) -> Option<SqsQueue> {
    let config = tests::aws::config()?;
    let client = aws_sdk_sqs::Client::new(&config);
    let url = SqsQueue::create(&client, &format!("test-{}", random_base62(10)), visibility).await.unwrap();
    Some(SqsQueue::new(client, url, clock))
}

#[tokio::test]
async fn messages_are_received_in_batches_with_receive_counts_until_deleted() {
    let clock = Arc::new(ManualClock::at(T0));
    // Visibility 0: a received message is visible again at once (a redelivery without waiting).
    let Some(q) = queue(clock, 0).await else { return };
    for i in 0..3 {
        q.send_run(&RunMessage { run_id: format!("run_{i}").into(), partner_id: "prt_1".into() }).await.unwrap();
    }
    let first: Vec<_> = q.receive::<RunMessage>(10, 0).await.unwrap();
    let mut ids: Vec<String> = first.iter().map(|d| d.message.run_id.to_string()).collect();
    ids.sort();
    assert_eq!(ids, ["run_0", "run_1", "run_2"]);
    assert!(first.iter().all(|d| d.receive_count == 1), "{first:?}");

    // Not deleted: it comes back with a higher count.
    let second: Vec<_> = q.receive::<RunMessage>(10, 0).await.unwrap();
    assert_eq!(second.len(), 3);
    assert!(second.iter().all(|d| d.receive_count == 2), "{second:?}");
    for d in &second {
        q.ack(&d.receipt).await.unwrap();
    }
    assert!(q.receive::<RunMessage>(10, 0).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_message_that_does_not_decode_is_dropped() {
    let clock = Arc::new(ManualClock::at(T0));
    let Some(q) = queue(clock, 0).await else { return };
    q.send_raw("not json", 0).await.unwrap();
    assert!(q.receive::<RunMessage>(10, 0).await.unwrap().is_empty());
    assert!(q.receive_raw(10, 0).await.unwrap().is_empty(), "deleted, not redelivered");
}

/// A wait past the per-message cap travels in hops with a not-before time: received early, it
/// is sent on with the rest of the wait and not handed out; once due, it is.
#[tokio::test]
async fn waits_longer_than_the_delay_cap_are_chained() {
    let clock = Arc::new(ManualClock::at(T0));
    // Hops of at most 0 s stand in for SQS's 900 s, so the test needs no real waiting.
    let Some(q) = queue(clock.clone(), 0).await.map(|q| q.with_max_delay(0)) else { return };
    q.send(&RunMessage { run_id: "run_late".into(), partner_id: "prt_1".into() }, 7200).await.unwrap();
    q.send(&RunMessage { run_id: "run_now".into(), partner_id: "prt_1".into() }, 0).await.unwrap();

    let got: Vec<String> =
        q.receive::<RunMessage>(10, 0).await.unwrap().into_iter().map(|d| d.message.run_id.into_string()).collect();
    assert_eq!(got, ["run_now"]);
    clock.advance(3600);
    let early: Vec<_> = q.receive::<RunMessage>(10, 0).await.unwrap();
    assert!(early.iter().all(|d| d.message.run_id != "run_late"), "not due after an hour");

    clock.advance(3600);
    let due: Vec<_> = q.receive::<RunMessage>(10, 0).await.unwrap();
    let late: Vec<_> = due.iter().filter(|d| d.message.run_id == "run_late").collect();
    assert_eq!(late.len(), 1, "due after two hours: {due:?}");
}

#[tokio::test]
async fn hold_if_early_sends_on_what_is_not_due() {
    let clock = Arc::new(ManualClock::at(T0));
    let Some(q) = queue(clock.clone(), 0).await.map(|q| q.with_max_delay(0)) else { return };
    assert!(!q.hold_if_early("{}", None).await.unwrap(), "no not-before: due");
    assert!(!q.hold_if_early("{}", Some(T0)).await.unwrap(), "due now");
    assert!(q.receive_raw(10, 0).await.unwrap().is_empty(), "nothing sent for due messages");
    assert!(q.hold_if_early("{\"x\":1}", Some(T0 + 60)).await.unwrap());
    clock.advance(60);
    let got = q.receive_raw(10, 0).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, "{\"x\":1}");
}

#[tokio::test]
async fn secrets_are_read_from_one_json_secret() {
    let Some(config) = tests::aws::config() else { return };
    let client = aws_sdk_secretsmanager::Client::new(&config);
    let name = format!("test/{}", random_base62(10));
    assert!(aws_secrets::create_if_missing(&client, &name).await.unwrap());
    assert!(!aws_secrets::create_if_missing(&client, &name).await.unwrap(), "kept when it exists");
    let first = aws_secrets::load(&client, &name).await.unwrap();
    assert_eq!(first.secrets.key_hashing.len(), 32);
    assert_ne!(first.secrets.key_hashing, first.secrets.cursor_signing);
    let again = aws_secrets::load(&client, &name).await.unwrap();
    assert_eq!(again.secrets.key_hashing, first.secrets.key_hashing);

    // Later secrets ride along in the same JSON.
    let k = "A".repeat(44);
    let json = format!(
        r#"{{"keyHashing":"{k}","cursorSigning":"{k}","reportSigning":"{k}","webhookEncryption":"{k}","consentSigning":"{k}","graphClientId":"app-id","graphClientSecret":"s3cret"}}"#
    );
    let other = format!("test/{}", random_base62(10));
    client.create_secret().name(&other).secret_string(&json).send().await.unwrap();
    let bundle = aws_secrets::load(&client, &other).await.unwrap();
    assert_eq!(bundle.get("graphClientId"), Some("app-id"));
    assert_eq!(bundle.get("graphClientSecret"), Some("s3cret"));
    assert!(!format!("{bundle:?}").contains("s3cret"), "Debug never shows values");

    let missing = aws_secrets::load(&client, "test/does-not-exist").await;
    assert!(missing.is_err());
}

#[test]
fn malformed_secrets_are_refused_without_echoing_values() {
    let k = "A".repeat(44);
    for (json, says) in [
        ("not json".to_string(), "not a JSON object"),
        (format!(r#"{{"keyHashing":"{k}","cursorSigning":"{k}"}}"#), "reportSigning"),
        (format!(r#"{{"keyHashing":"{k}","cursorSigning":"{k}","reportSigning":"{k}"}}"#), "webhookEncryption"),
        (format!(r#"{{"keyHashing":"c2hvcnQ=","cursorSigning":"{k}","reportSigning":"{k}"}}"#), "shorter than 32"),
        (format!(r#"{{"keyHashing":"!!!","cursorSigning":"{k}","reportSigning":"{k}"}}"#), "not base64"),
        (format!(r#"{{"keyHashing":"{k}","cursorSigning":"{k}","reportSigning":"{k}","n":1}}"#), "not a string"),
    ] {
        let err = SecretBundle::from_json(&json).unwrap_err().to_string();
        assert!(err.contains(says), "{err}");
        assert!(!err.contains(&k), "{err}");
    }
    let ok = SecretBundle::from_json(&SecretBundle::generate_json()).unwrap();
    assert_eq!(ok.secrets.report_signing.len(), 32);
    assert_eq!(ok.secrets.webhook_encryption.len(), 32);
}

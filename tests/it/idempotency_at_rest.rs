//! Answers kept for idempotent replay hold no secret in clear: a new API key (P14, D15) or a
//! webhook's `whsec_` secret is in the first answer and in its replay, byte for byte, but the
//! record the store keeps for 24 h (and the table's stream and backups with it) is sealed.
//! On both adapters: the embedded store, and DynamoDB on moto.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request};
use serde_json::json;
use shared::api::idempotency::{self, sealed};
use shared::domain::account::Owner;
use shared::store::memory::MemoryStore;
use shared::store::{IdempotencyClaim, Store};
use tests::*;

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The record kept for (`owner`, `key`) of a request to `route` at `path` with `body`.
async fn kept(store: &Arc<dyn Store>, owner: &Owner, key: &str, route: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let scope = idempotency::scope(owner);
    let fingerprint = idempotency::fingerprint(route, path, body);
    match store.claim_idempotency(&scope, key, &fingerprint, T0, T0 + 60).await.unwrap() {
        IdempotencyClaim::Replay { body, .. } => body,
        other => panic!("no kept answer: {other:?}"),
    }
}

async fn secrets_are_sealed_at_rest_on(store: Arc<dyn Store>) {
    let tests::stored::OnStore { accounts, router, .. } = tests::stored::on_store(store.clone()).await;
    let send = |path: &str, idem: &str, body: &str| {
        Request::builder()
            .method(Method::POST)
            .uri(format!("{PARTNER_BASE}{path}"))
            .header("x-partner-key", accounts.partner_key.as_str())
            .header("idempotency-key", idem)
            .body(Bytes::from(body.to_string()))
            .unwrap()
    };
    let owner = Owner::partner(&accounts.partner.id);

    // P14: the new key is shown, and shown again on a replay, but never kept in clear.
    let first = oneshot(&router, send("/keys", "key-1", "")).await;
    assert_eq!(first.status().as_u16(), 201);
    let key: serde_json::Value = serde_json::from_slice(first.body()).unwrap();
    let key = key["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("pk_live_"));
    let at_rest = kept(&store, &owner, "key-1", "partner.keys.create", &format!("{PARTNER_BASE}/keys"), b"").await;
    assert!(!contains(&at_rest, key.as_bytes()), "the key is not in the kept record");
    assert!(!contains(&at_rest, b"pk_live_") && !contains(&at_rest, b"\"slot\""), "nothing of the answer is in clear");
    let replay = oneshot(&router, send("/keys", "key-1", "")).await;
    assert_eq!(replay.status().as_u16(), 201);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.body(), first.body(), "the replay is the first answer, byte for byte");

    // POST /webhooks: the whsec_ secret likewise.
    let hook = json!({ "url": "https://hooks.example.com/baref00t", "events": ["customer.created"] }).to_string();
    let first = oneshot(&router, send("/webhooks", "hook-1", &hook)).await;
    assert_eq!(first.status().as_u16(), 201);
    let made: serde_json::Value = serde_json::from_slice(first.body()).unwrap();
    let secret = made["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let path = format!("{PARTNER_BASE}/webhooks");
    let at_rest = kept(&store, &owner, "hook-1", "partner.webhooks.create", &path, hook.as_bytes()).await;
    assert!(!contains(&at_rest, secret.as_bytes()) && !contains(&at_rest, b"whsec_"));
    let replay = oneshot(&router, send("/webhooks", "hook-1", &hook)).await;
    assert_eq!((replay.status().as_u16(), replay.body()), (201, first.body()));
}

#[tokio::test]
async fn secrets_in_kept_answers_are_sealed_on_the_embedded_store() {
    secrets_are_sealed_at_rest_on(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn secrets_in_kept_answers_are_sealed_on_dynamodb() {
    let Some(store) = tests::aws::fresh_dynamo().await else { return };
    secrets_are_sealed_at_rest_on(Arc::new(store)).await;
}

#[test]
fn a_sealed_answer_opens_only_for_its_own_record_and_key() {
    let master = b"master key for the test";
    let body = br#"{"slot":2,"key":"pk_live_x"}"#;
    let kept = sealed::seal(master, "pk_live_#prt_1", "k", body);
    assert_eq!(sealed::open(master, "pk_live_#prt_1", "k", &kept).unwrap(), body);
    assert!(sealed::open(master, "pk_live_#prt_2", "k", &kept).is_err(), "another account's scope");
    assert!(sealed::open(master, "pk_live_#prt_1", "k2", &kept).is_err(), "another Idempotency-Key");
    assert!(sealed::open(b"another master", "pk_live_#prt_1", "k", &kept).is_err(), "another key");
    assert_ne!(sealed::seal(master, "s", "k", body), sealed::seal(master, "s", "k", body), "a fresh nonce each time");
    // A record kept before sealing (plain JSON) still replays as it was.
    assert_eq!(sealed::open(master, "s", "k", body).unwrap(), body);
}

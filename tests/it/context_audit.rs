//! The audit log of tenant contexts and exceptions (issue 18 point 1, contract "Billing and
//! audit"): `PUT …/context` and the exceptions' POST, PATCH and DELETE each show in `GET /audit`
//! for the partner and its distributor, with the key that made them as actor, on both
//! surfaces; a change that changes nothing, or is refused, shows nothing.

use http::Method;
use serde_json::{json, Value};
use shared::domain::time::Timestamp;
use tests::{Harness, T0};

const BREAK_GLASS: &str = "8be8930d-7754-3e0a-b95d-6b24e8c20108";

fn entries(v: &Value) -> Vec<Value> {
    v["entries"].as_array().expect("entries").clone()
}

fn exception_body(days: i64) -> Value {
    json!({
        "requirementId": "MF-ML1-01", "kind": "risk_accepted",
        "rationale": "The line-of-business app cannot do modern authentication until its upgrade",
        "owner": "it@contoso.example", "approvedBy": "ciso@contoso.example",
        "expiresAt": Timestamp::from_unix(T0.unix() + days * 86_400).rfc3339(),
    })
}

/// The (action, target type, target id, actor type) of each entry, newest first.
fn summary(list: &[Value]) -> Vec<(String, String, String, String)> {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    list.iter()
        .map(|e| (s(&e["action"]), s(&e["target"]["type"]), s(&e["target"]["id"]), s(&e["actor"]["type"])))
        .collect()
}

/// Calls `path` as the partner key `key`, or as the distributor when `None`.
async fn call(h: &Harness, key: Option<&str>, m: Method, path: String, body: Option<Value>) -> tests::Resp {
    match key {
        Some(k) => h.partner_as(k, m, &path, body).await,
        None => h.distributor(m, &path, body).await,
    }
}

/// Puts the context, creates, changes and deletes an exception under `base` (the customer's
/// path on one surface) as `key` (see [`call`]); answers the exception's id.
async fn change_all(h: &Harness, key: Option<&str>, base: &str) -> String {
    let call = |m, p, b| call(h, key, m, p, b);
    let ctx = json!({ "emergencyAccessAccounts": [BREAK_GLASS] });
    call(Method::PUT, format!("{base}/context"), Some(ctx.clone())).await.assert_status(200);
    // The same context again changes nothing: no entry.
    call(Method::PUT, format!("{base}/context"), Some(ctx)).await.assert_status(200);
    let made = call(Method::POST, format!("{base}/exceptions"), Some(exception_body(90))).await;
    let eid = made.assert_status(201)["id"].as_str().unwrap().to_string();
    let path = format!("{base}/exceptions/{eid}");
    call(Method::PATCH, path.clone(), Some(json!({ "owner": "ops@contoso.example" }))).await.assert_status(200);
    // The same value again: no entry.
    call(Method::PATCH, path.clone(), Some(json!({ "owner": "ops@contoso.example" }))).await.assert_status(200);
    call(Method::DELETE, path.clone(), None).await.assert_status(204);
    // Refused (it is gone): no entry.
    call(Method::DELETE, path, None).await.assert_error(404, "NOT_FOUND");
    eid
}

#[tokio::test]
async fn context_and_exception_changes_show_in_the_audit_log_of_the_partner_and_its_distributor() {
    let h = Harness::new().await;
    let (pid, pkey) = h.active_partner("ctx-audit@msp.example", "professional").await;
    let did = h.distributor(Method::GET, "/me", None).await.assert_status(200)["id"].as_str().unwrap().to_string();
    let cid = h.customer_for(&pkey, "Contoso", &tests::tenant(3)).await;

    // The partner's own surface, then the distributor's.
    let by_partner = change_all(&h, Some(&pkey), &format!("/customers/{cid}")).await;
    let by_dist = change_all(&h, None, &format!("/partners/{pid}/customers/{cid}")).await;

    let row =
        |a: &str, t: &str, id: &str, actor: &str| (a.to_string(), t.to_string(), id.to_string(), actor.to_string());
    let want = |id: &str, actor: &str, ctx_changed: bool| {
        let mut v = vec![
            row("exception.deleted", "exception", id, actor),
            row("exception.updated", "exception", id, actor),
            row("exception.created", "exception", id, actor),
        ];
        if ctx_changed {
            v.push(row("context.updated", "customer", &cid, actor));
        }
        v
    };
    // The distributor PUT the same context the partner had: that changed nothing.
    let mut expected = want(&by_dist, "distributor", false);
    expected.extend(want(&by_partner, "partner", true));

    let query = "/audit?limit=100&from=".to_string() + &T0.rfc3339();
    let partner_sees = entries(h.partner_as(&pkey, Method::GET, &query, None).await.assert_status(200));
    let ours = |list: &[Value]| {
        summary(list)
            .into_iter()
            .filter(|(a, ..)| a.starts_with("context.") || a.starts_with("exception."))
            .collect::<Vec<_>>()
    };
    assert_eq!(ours(&partner_sees), expected);
    let dist_sees = entries(h.distributor(Method::GET, &query, None).await.assert_status(200));
    assert_eq!(ours(&dist_sees), expected);

    // The actor is the key used; the changes hold only what changed.
    let by_id = |list: &[Value], action: &str, id: &str| {
        list.iter().find(|e| e["action"] == action && e["target"]["id"] == id).cloned().unwrap()
    };
    let ctx = by_id(&partner_sees, "context.updated", &cid);
    assert_eq!(ctx["actor"], json!({ "type": "partner", "id": pid, "keySlot": 1 }));
    assert_eq!(ctx["changes"], json!({ "emergencyAccessAccounts": { "from": [], "to": [BREAK_GLASS] } }));
    let upd = by_id(&dist_sees, "exception.updated", &by_dist);
    assert_eq!(upd["actor"]["id"], did.as_str());
    assert_eq!(upd["changes"], json!({ "owner": { "from": "it@contoso.example", "to": "ops@contoso.example" } }));
    let created = by_id(&partner_sees, "exception.created", &by_partner);
    assert_eq!(created["changes"]["requirementId"], json!({ "from": null, "to": "MF-ML1-01" }));
    let deleted = by_id(&partner_sees, "exception.deleted", &by_partner);
    assert_eq!(deleted["changes"]["owner"], json!({ "from": "ops@contoso.example", "to": null }));

    // The filters take the new actions.
    let only =
        entries(h.partner_as(&pkey, Method::GET, "/audit?action=exception.deleted", None).await.assert_status(200));
    assert_eq!(only.len(), 2, "{only:?}");
}

//! The Microsoft Graph client against a local stub: tokens, paging, throttling, consent.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use shared::graph::{GraphClient, GraphConfig, GraphError, Sleeper};
use tests::stub::{Reply, Stub};

#[derive(Default)]
struct RecordingSleeper(Mutex<Vec<Duration>>);

#[async_trait::async_trait]
impl Sleeper for RecordingSleeper {
    async fn sleep(&self, d: Duration) {
        self.0.lock().unwrap().push(d);
    }
}

const GOOD: &str = "11111111-1111-1111-1111-111111111111";
const NO_CONSENT: &str = "22222222-2222-2222-2222-222222222222";
const UNKNOWN: &str = "33333333-3333-3333-3333-333333333333";

fn token_reply(target: &str) -> Option<Reply> {
    let tenant = target.strip_prefix('/')?.split('/').next()?;
    if !target.ends_with("/oauth2/v2.0/token") {
        return None;
    }
    Some(match tenant {
        GOOD => Reply::json(200, json!({ "token_type": "Bearer", "expires_in": 3599, "access_token": "tok-good" })),
        NO_CONSENT => Reply::json(
            400,
            json!({
                "error": "unauthorized_client",
                "error_description": "AADSTS700016: Application with identifier 'app' was not found in the directory 'Contoso'.\r\nTrace ID: x",
                "error_codes": [700016]
            }),
        ),
        _ => Reply::json(
            400,
            json!({
                "error": "invalid_request",
                "error_description": "AADSTS90002: Tenant '33333333' not found.",
                "error_codes": [90002]
            }),
        ),
    })
}

async fn client(stub: &Stub, sleeper: Arc<RecordingSleeper>) -> GraphClient {
    let config = GraphConfig {
        login_base: stub.base.clone(),
        graph_base: stub.base.clone(),
        client_id: "app".into(),
        client_secret: "secret".into(),
        max_attempts: 4,
        max_wait_per_request: Duration::from_secs(60),
    };
    GraphClient::new(config, sleeper).unwrap()
}

#[tokio::test]
async fn token_request_is_client_credentials_for_the_tenant() {
    let stub = Stub::start(|s| token_reply(&s.target).unwrap_or_else(|| Reply::json(404, json!({})))).await;
    let c = client(&stub, Arc::default()).await;
    c.session(GOOD).await.unwrap();
    let seen = stub.seen();
    assert_eq!(seen[0].target, format!("/{GOOD}/oauth2/v2.0/token"));
    let form: Vec<(String, String)> = form_urlencoded::parse(&seen[0].body).into_owned().collect();
    assert!(form.contains(&("grant_type".into(), "client_credentials".into())));
    assert!(form.contains(&("client_id".into(), "app".into())));
    assert!(form.contains(&("scope".into(), format!("{}/.default", stub.base))));
}

#[tokio::test]
async fn missing_consent_and_unknown_tenant_are_told_apart() {
    let stub = Stub::start(|s| token_reply(&s.target).unwrap()).await;
    let c = client(&stub, Arc::default()).await;
    match c.session(NO_CONSENT).await {
        Err(GraphError::ConsentRequired(m)) => {
            assert!(m.contains("AADSTS700016") && !m.contains("Trace"), "{m}")
        }
        other => panic!("expected consent required, got {:?}", other.err()),
    }
    assert!(matches!(c.session(UNKNOWN).await.err(), Some(GraphError::TenantNotFound(_))));
}

#[tokio::test]
async fn collections_follow_next_link_with_the_token() {
    let pages = Stub::start(|s| {
        if let Some(r) = token_reply(&s.target) {
            return r;
        }
        let host = s.headers["host"].to_str().unwrap().to_string();
        match s.target.as_str() {
            "/v1.0/users" => Reply::json(200, json!({ "value": [{"id": "1"}, {"id": "2"}], "@odata.nextLink": format!("http://{host}/v1.0/users?$skiptoken=a") })),
            "/v1.0/users?$skiptoken=a" => Reply::json(200, json!({ "value": [{"id": "3"}], "@odata.nextLink": format!("http://{host}/v1.0/users?$skiptoken=b") })),
            "/v1.0/users?$skiptoken=b" => Reply::json(200, json!({ "value": [] })),
            _ => Reply::json(404, json!({ "error": { "code": "NotFound", "message": "no" } })),
        }
    })
    .await;
    let c = client(&pages, Arc::default()).await;
    let s = c.session(GOOD).await.unwrap();
    let users = s.get_all("/v1.0/users").await.unwrap();
    assert_eq!(users.iter().map(|u| u["id"].as_str().unwrap()).collect::<Vec<_>>(), ["1", "2", "3"]);
    assert!(pages.seen().iter().skip(1).all(|r| r.headers["authorization"] == "Bearer tok-good"));
}

#[tokio::test]
async fn next_link_to_another_host_is_refused_and_gets_no_token() {
    let stub = Stub::start(|s| {
        token_reply(&s.target).unwrap_or_else(|| {
            Reply::json(200, json!({ "value": [{"id": "1"}], "@odata.nextLink": "http://127.0.0.2:1/steal" }))
        })
    })
    .await;
    let c = client(&stub, Arc::default()).await;
    let s = c.session(GOOD).await.unwrap();
    assert!(matches!(s.get_all("/v1.0/users").await, Err(GraphError::InvalidResponse(m)) if m.contains("nextLink")));
}

#[tokio::test]
async fn throttling_waits_as_retry_after_says_then_succeeds() {
    let count = Arc::new(Mutex::new(0));
    let c2 = count.clone();
    let stub = Stub::start(move |s| {
        if let Some(r) = token_reply(&s.target) {
            return r;
        }
        let mut n = c2.lock().unwrap();
        *n += 1;
        if *n <= 2 {
            let mut r = Reply::json(429, json!({ "error": { "code": "TooManyRequests", "message": "slow down" } }));
            r.headers.push(("retry-after", "7".into()));
            r
        } else {
            Reply::json(200, json!({ "isEnabled": true }))
        }
    })
    .await;
    let sleeper = Arc::new(RecordingSleeper::default());
    let c = client(&stub, sleeper.clone()).await;
    let s = c.session(GOOD).await.unwrap();
    let v = s.get("/v1.0/policies/identitySecurityDefaultsEnforcementPolicy").await.unwrap();
    assert_eq!(v["isEnabled"], true);
    assert_eq!(*sleeper.0.lock().unwrap(), vec![Duration::from_secs(7), Duration::from_secs(7)]);
}

#[tokio::test]
async fn throttling_that_never_ends_gives_up_as_transient() {
    let stub = Stub::start(|s| token_reply(&s.target).unwrap_or_else(|| Reply::json(503, json!({})))).await;
    let sleeper = Arc::new(RecordingSleeper::default());
    let c = client(&stub, sleeper.clone()).await;
    let s = c.session(GOOD).await.unwrap();
    let err = s.get("/v1.0/organization").await.unwrap_err();
    assert_eq!(err, GraphError::Throttled(4));
    assert!(err.is_transient());
    assert_eq!(sleeper.0.lock().unwrap().len(), 3, "waits between the four attempts");
}

/// A tenant that asks for longer waits than a request may spend (60 s here) is given up at once
/// as transient: the worker is not held near its time limit, and the run is retried later.
#[tokio::test]
async fn throttling_past_the_wait_budget_gives_up_without_waiting_it_out() {
    let stub = Stub::start(|s| {
        token_reply(&s.target).unwrap_or_else(|| {
            let mut r = Reply::json(429, json!({ "error": { "code": "TooManyRequests", "message": "slow down" } }));
            r.headers.push(("retry-after", "45".into()));
            r
        })
    })
    .await;
    let sleeper = Arc::new(RecordingSleeper::default());
    let c = client(&stub, sleeper.clone()).await;
    let s = c.session(GOOD).await.unwrap();
    let err = s.get("/v1.0/organization").await.unwrap_err();
    assert_eq!(err, GraphError::Throttled(2), "the second 429 would pass the budget");
    assert!(err.is_transient());
    assert_eq!(*sleeper.0.lock().unwrap(), vec![Duration::from_secs(45)], "one wait, within the budget");
}

#[tokio::test]
async fn forbidden_and_licence_errors_are_their_own_not_consent() {
    let stub = Stub::start(|s| {
        token_reply(&s.target).unwrap_or_else(|| match s.target.as_str() {
            "/v1.0/identityGovernance" => Reply::json(403, json!({ "error": { "code": "AadPremiumLicenseRequired", "message": "Tenant does not have a valid AAD P2 license." } })),
            _ => Reply::json(403, json!({ "error": { "code": "Authorization_RequestDenied", "message": "Insufficient privileges to complete the operation." } })),
        })
    })
    .await;
    let c = client(&stub, Arc::default()).await;
    let s = c.session(GOOD).await.unwrap();
    assert!(matches!(s.get("/v1.0/identityGovernance").await, Err(GraphError::NotLicensed(_))));
    // A 403 with a valid token closes one area (a missing permission or licence), not the tenant.
    match s.get("/v1.0/policies/conditionalAccessPolicies").await {
        Err(GraphError::Forbidden(m)) => assert!(m.contains("Authorization_RequestDenied")),
        other => panic!("{other:?}"),
    }
}

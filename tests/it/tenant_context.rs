//! Tenant context and exceptions (contract, "Tenant context and exceptions"; issue 18): the
//! routes and their rules on both surfaces, the checks honouring declared exclusions, the
//! exceptions' effect on outcomes and levels as ASD's rule says, what a run keeps, the report,
//! and the `exception.expiring` notice.

use std::sync::Arc;

use bytes::Bytes;
use http::Method;
use serde_json::{json, Value};
use shared::assess::assessor::report;
use shared::assess::checks::Strategy;
use shared::assess::fixtures::{demo_fixture, demo_fixture_name};
use shared::assess::requirements::exceptions::apply;
use shared::assess::requirements::{Answer, Answers, RequirementOutcome as O};
use shared::assess::score::evaluate_answered;
use shared::domain::context::{ApprovedExclusion, Exception, ExceptionKind, TenantContext};
use shared::domain::time::Timestamp;
use tests::helpers::{raw_as, raw_patch_as, s};
use tests::{Harness, DISTRIBUTOR_BASE, PARTNER_BASE, T0};

const DAY: i64 = 86_400;
/// The small-business demo tenant's break-glass account, excluded from its "Require MFA for
/// all users" policy (and from its report-only legacy-authentication block).
const BREAK_GLASS: &str = "8be8930d-7754-3e0a-b95d-6b24e8c20108";
const MFA_POLICY: &str = "b1571f2a-bce8-aee7-fa2d-2de57d2da409";
/// The hardened demo tenant's two emergency-access accounts, excluded from all its policies.
const HARDENED_BREAK_GLASS: [&str; 2] =
    ["0db93f9c-d493-dfe7-2262-9f11346667a7", "58e098d3-4c19-431f-5f7f-79d567ee68b2"];

/// The emergency-access accounts each demo tenant excludes from its Conditional Access
/// policies (none for the neglected one, which has no policy).
pub(crate) fn break_glass_of(demo: &str) -> Vec<String> {
    match demo {
        "hardened" => HARDENED_BREAK_GLASS.iter().map(|s| s.to_string()).collect(),
        "small-business" => vec![BREAK_GLASS.to_string()],
        _ => Vec::new(),
    }
}

/// A demo tenant as a customer that declared its emergency-access accounts sees it: the
/// snapshot with that context, which the runner sets before the checks run.
pub(crate) fn declared(demo: &str) -> shared::assess::snapshot::TenantSnapshot {
    let mut snapshot = demo_fixture(demo).unwrap();
    snapshot.context = TenantContext { emergency_access_accounts: break_glass_of(demo), ..TenantContext::default() };
    snapshot
}

/// Declares the emergency-access accounts of `demo` for the partner's customer `cid`.
pub(crate) async fn declare_break_glass(h: &Harness, cid: &str, demo: &str) {
    let body = json!({ "emergencyAccessAccounts": break_glass_of(demo) });
    h.partner(Method::PUT, &format!("/customers/{cid}/context"), Some(body)).await.assert_status(200);
}

fn demo_tenant(name: &str) -> String {
    (0..1000).map(tests::tenant).find(|t| demo_fixture_name(t) == name).unwrap()
}

fn in_days(days: i64) -> String {
    Timestamp::from_unix(T0.unix() + days * DAY).rfc3339()
}

fn exception_body(requirement: &str, kind: &str, days: i64) -> Value {
    let mut b = json!({
        "requirementId": requirement, "kind": kind,
        "rationale": "The line-of-business app cannot do modern authentication until its upgrade",
        "owner": "it@contoso.example", "approvedBy": "ciso@contoso.example", "expiresAt": in_days(days),
    });
    if kind == "alternate_control" {
        b["compensatingControl"] = json!("Its accounts sign in only from the office network through a token gateway");
    }
    b
}

async fn put_raw(h: &Harness, path: &str, body: &str) -> tests::Resp {
    h.request(
        Method::PUT,
        &format!("{PARTNER_BASE}{path}"),
        &[("x-partner-key", h.partner_key()), ("content-type", "application/json")],
        Some(Bytes::from(body.to_string())),
    )
    .await
}

#[tokio::test]
async fn a_partner_declares_a_context_reads_it_back_and_each_rule_refuses_what_breaks_it() {
    let h = Harness::new().await;
    let cid = h.customer("Contoso", &tests::tenant(1)).await;
    let path = format!("/customers/{cid}/context");
    let empty =
        json!({ "emergencyAccessAccounts": [], "approvedExclusions": [], "thirdPartyControls": [], "updatedAt": null });
    assert_eq!(h.partner(Method::GET, &path, None).await.assert_status(200), &empty);

    let body = json!({
        // Spelt as a client may: braces and upper case; stored as Graph writes object ids.
        "emergencyAccessAccounts": [format!("{{{}}}", BREAK_GLASS.to_uppercase())],
        "approvedExclusions": [{ "policyId": MFA_POLICY, "principalId": "3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f", "reason": "Kiosk account, office network only" }],
        "thirdPartyControls": [{ "requirementIds": ["RB-ML1-01"], "product": "Acme Backup", "description": "Daily backups kept 90 days" }],
    });
    let saved = json!({
        "emergencyAccessAccounts": [BREAK_GLASS],
        "approvedExclusions": [{ "policyId": MFA_POLICY, "principalId": "3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f", "reason": "Kiosk account, office network only" }],
        "thirdPartyControls": [{ "requirementIds": ["RB-ML1-01"], "product": "Acme Backup", "description": "Daily backups kept 90 days" }],
        "updatedAt": T0.rfc3339(),
    });
    assert_eq!(h.partner(Method::PUT, &path, Some(body)).await.assert_status(200), &saved);
    assert_eq!(h.partner(Method::GET, &path, None).await.assert_status(200), &saved);

    let guid = |n: usize| format!("{n:08x}-0000-4000-8000-000000000000");
    let ex = |policy: &str, reason: &str| json!({ "approvedExclusions": [{ "policyId": policy, "principalId": BREAK_GLASS, "reason": reason }] });
    let invalid = [
        json!({ "emergencyAccessAccounts": ["breakglass@contoso.example"] }),
        json!({ "emergencyAccessAccounts": (0..51).map(guid).collect::<Vec<_>>() }),
        ex("CA001", "Kiosk"),
        ex(MFA_POLICY, "  "),
        ex(MFA_POLICY, &"a".repeat(501)),
        json!({ "thirdPartyControls": [{ "requirementIds": ["XX-ML1-01"], "product": "Acme", "description": "x" }] }),
        json!({ "thirdPartyControls": [{ "requirementIds": [], "product": "Acme", "description": "x" }] }),
        json!({ "breakGlass": [] }),
    ];
    for bad in invalid {
        h.partner(Method::PUT, &path, Some(bad.clone())).await.assert_error(400, "INVALID_FIELD");
    }
    h.partner(
        Method::PUT,
        &path,
        Some(json!({ "approvedExclusions": [{ "principalId": BREAK_GLASS, "reason": "x" }] })),
    )
    .await
    .assert_error(400, "MISSING_FIELD");
    put_raw(&h, &path, "{").await.assert_error(400, "INVALID_JSON");
    assert_eq!(h.partner(Method::GET, &path, None).await.assert_status(200), &saved, "nothing refused was stored");
    // Whole replacement: what is left out is emptied.
    let cleared = h.partner(Method::PUT, &path, Some(json!({}))).await;
    assert_eq!(cleared.assert_status(200)["approvedExclusions"], json!([]));
    h.partner(Method::GET, "/customers/cust_nobody/context", None).await.assert_error(404, "NOT_FOUND");
    h.partner(Method::PUT, "/customers/cust_nobody/context", Some(json!({}))).await.assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn a_distributor_keeps_its_sub_partners_customers_context_and_exceptions_and_no_one_elses() {
    let h = Harness::new().await;
    let (partner, key) = h.active_partner("admin@sub.example", "professional").await;
    let cid = h.customer_for(&key, "Contoso", &tests::tenant(2)).await;
    let base = format!("/partners/{partner}/customers/{cid}");
    let body = json!({ "emergencyAccessAccounts": [BREAK_GLASS] });
    let put = h.distributor(Method::PUT, &format!("{base}/context"), Some(body)).await;
    assert_eq!(put.assert_status(200)["emergencyAccessAccounts"], json!([BREAK_GLASS]));
    // The partner sees what its distributor declared.
    let seen = h.partner_as(&key, Method::GET, &format!("/customers/{cid}/context"), None).await;
    assert_eq!(seen.assert_status(200)["emergencyAccessAccounts"], json!([BREAK_GLASS]));

    let made = h
        .distributor(
            Method::POST,
            &format!("{base}/exceptions"),
            Some(exception_body("MF-ML1-01", "risk_accepted", 90)),
        )
        .await;
    let eid = s(&made.assert_status(201)["id"]);
    assert!(eid.starts_with("exc_"), "{eid}");
    let list = h.distributor(Method::GET, &format!("{base}/exceptions"), None).await;
    assert_eq!(list.assert_status(200)["exceptions"][0]["id"], eid.as_str());
    let changed = h
        .distributor(
            Method::PATCH,
            &format!("{base}/exceptions/{eid}"),
            Some(json!({ "owner": "ops@contoso.example" })),
        )
        .await;
    assert_eq!(changed.assert_status(200)["owner"], "ops@contoso.example");

    // Each documented refusal, on the distributor's routes.
    let exc = format!("{base}/exceptions");
    raw_as(&h, true, h.distributor_key(), &exc, "{").await.assert_error(400, "INVALID_JSON");
    h.distributor(Method::POST, &exc, Some(json!({ "kind": "risk_accepted" })))
        .await
        .assert_error(400, "MISSING_FIELD");
    h.distributor(Method::POST, &exc, Some(exception_body("MF-ML9-01", "risk_accepted", 30)))
        .await
        .assert_error(400, "INVALID_FIELD");
    h.distributor(Method::GET, &format!("{exc}?limit=0"), None).await.assert_error(400, "INVALID_FIELD");
    raw_patch_as(&h, true, h.distributor_key(), &format!("{exc}/{eid}"), "{").await.assert_error(400, "INVALID_JSON");
    h.distributor(Method::PATCH, &format!("{exc}/{eid}"), Some(json!({ "kind": "waived" })))
        .await
        .assert_error(400, "INVALID_FIELD");
    let ctx = format!("{base}/context");
    h.request(
        Method::PUT,
        &format!("{DISTRIBUTOR_BASE}{ctx}"),
        &[("x-distributor-key", h.distributor_key()), ("content-type", "application/json")],
        Some(Bytes::from_static(b"[")),
    )
    .await
    .assert_error(400, "INVALID_JSON");
    h.distributor(Method::PUT, &ctx, Some(json!({ "approvedExclusions": [{ "reason": "x" }] })))
        .await
        .assert_error(400, "MISSING_FIELD");
    h.distributor(Method::PUT, &ctx, Some(json!({ "emergencyAccessAccounts": ["x"] })))
        .await
        .assert_error(400, "INVALID_FIELD");
    h.distributor(Method::DELETE, &format!("{exc}/{eid}"), None).await.assert_status(204);

    // Another distributor's partner, or a customer of another partner: 404, as if absent.
    let (other_dist, other_key) = h.other_distributor().await;
    let _ = other_dist;
    for p in ["context", "exceptions"] {
        let path = format!("/partners/{partner}/customers/{cid}/{p}");
        h.distributor_as(&other_key, Method::GET, &path, None).await.assert_error(404, "NOT_FOUND");
    }
    let me = h.partner_id().to_string();
    let elsewhere = format!("/partners/{me}/customers/{cid}");
    h.distributor(Method::GET, &format!("{elsewhere}/context"), None).await.assert_error(404, "NOT_FOUND");
    h.distributor(Method::PUT, &format!("{elsewhere}/context"), Some(json!({}))).await.assert_error(404, "NOT_FOUND");
    h.distributor(Method::GET, &format!("{elsewhere}/exceptions"), None).await.assert_error(404, "NOT_FOUND");
    h.distributor(
        Method::POST,
        &format!("{elsewhere}/exceptions"),
        Some(exception_body("MF-ML1-01", "risk_accepted", 30)),
    )
    .await
    .assert_error(404, "NOT_FOUND");
    h.distributor(Method::PATCH, &format!("{exc}/{eid}"), Some(json!({ "owner": "x" })))
        .await
        .assert_error(404, "NOT_FOUND");
    h.distributor(Method::DELETE, &format!("{exc}/{eid}"), None).await.assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn exceptions_are_made_listed_changed_and_deleted_and_each_rule_refuses_what_breaks_it() {
    let h = Harness::new().await;
    let cid = h.customer("Contoso", &tests::tenant(3)).await;
    let path = format!("/customers/{cid}/exceptions");
    let made = h.partner(Method::POST, &path, Some(exception_body("MF-ML1-01", "alternate_control", 180))).await;
    let made = made.assert_status(201).clone();
    let eid = s(&made["id"]);
    assert_eq!(
        made,
        json!({
            "id": eid, "customerId": cid, "requirementId": "MF-ML1-01", "kind": "alternate_control",
            "rationale": "The line-of-business app cannot do modern authentication until its upgrade",
            "compensatingControl": "Its accounts sign in only from the office network through a token gateway",
            "owner": "it@contoso.example", "approvedBy": "ciso@contoso.example", "expiresAt": in_days(180),
            "createdAt": T0.rfc3339(), "updatedAt": null,
        })
    );
    let second = h.partner(Method::POST, &path, Some(exception_body("RB-ML1-01", "risk_accepted", 30))).await;
    let second = s(&second.assert_status(201)["id"]);
    let page = h.partner(Method::GET, &format!("{path}?limit=1"), None).await.assert_status(200).clone();
    assert_eq!(page["exceptions"][0]["id"], eid.as_str(), "oldest first");
    let cursor = s(&page["nextCursor"]);
    let rest = h.partner(Method::GET, &format!("{path}?cursor={cursor}"), None).await.assert_status(200).clone();
    assert_eq!((rest["exceptions"][0]["id"].clone(), rest["nextCursor"].clone()), (json!(second), Value::Null));

    h.clock.advance(60);
    let one = format!("{path}/{eid}");
    let changed =
        h.partner(Method::PATCH, &one, Some(json!({ "kind": "risk_accepted", "compensatingControl": null }))).await;
    let changed = changed.assert_status(200).clone();
    assert_eq!(
        (changed["kind"].clone(), changed["compensatingControl"].clone()),
        (json!("risk_accepted"), Value::Null)
    );
    assert_eq!(changed["updatedAt"], (T0 + 60).rfc3339());
    // Back to alternate_control needs its compensating control again.
    h.partner(Method::PATCH, &one, Some(json!({ "kind": "alternate_control" })))
        .await
        .assert_error(400, "INVALID_FIELD");

    let now = T0.unix() + 60;
    let refused = [
        ("past expiry", json!({ "expiresAt": Timestamp::from_unix(now - 1).rfc3339() })),
        ("more than 12 months ahead", json!({ "expiresAt": in_days(367) })),
        ("not a time", json!({ "expiresAt": "next year" })),
        ("empty rationale", json!({ "rationale": " " })),
        ("rationale too long", json!({ "rationale": "a".repeat(2001) })),
        ("control too long", json!({ "compensatingControl": "a".repeat(2001) })),
        ("unknown requirement", json!({ "requirementId": "MF-ML1-99" })),
        ("unknown kind", json!({ "kind": "waived" })),
        ("unknown field", json!({ "ticket": "CHG-1" })),
    ];
    for (why, patch) in &refused {
        let mut body = exception_body("MF-ML1-01", "alternate_control", 90);
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        h.partner(Method::POST, &path, Some(body)).await.assert_error(400, "INVALID_FIELD");
        let r = h.partner(Method::PATCH, &one, Some(patch.clone())).await;
        assert_eq!(r.status, 400, "{why}: {:?}", r.body);
    }
    let mut no_control = exception_body("MF-ML1-01", "alternate_control", 90);
    no_control.as_object_mut().unwrap().remove("compensatingControl");
    let r = h.partner(Method::POST, &path, Some(no_control)).await;
    r.assert_error(400, "INVALID_FIELD");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("compensatingControl"));
    let mut no_owner = exception_body("MF-ML1-01", "risk_accepted", 90);
    no_owner.as_object_mut().unwrap().remove("owner");
    h.partner(Method::POST, &path, Some(no_owner)).await.assert_error(400, "MISSING_FIELD");
    raw_as(&h, false, h.partner_key(), &path, "{").await.assert_error(400, "INVALID_JSON");
    raw_patch_as(&h, false, h.partner_key(), &one, "{").await.assert_error(400, "INVALID_JSON");
    h.partner(Method::GET, &format!("{path}?limit=101"), None).await.assert_error(400, "INVALID_FIELD");
    // At exactly 12 months ahead it is accepted.
    let edge = h
        .partner(Method::PATCH, &one, Some(json!({ "expiresAt": Timestamp::from_unix(now).add_months(12).rfc3339() })))
        .await;
    edge.assert_status(200);

    h.partner(Method::DELETE, &one, None).await.assert_status(204);
    h.partner(Method::DELETE, &one, None).await.assert_error(404, "NOT_FOUND");
    h.partner(Method::PATCH, &one, Some(json!({ "owner": "x@contoso.example" }))).await.assert_error(404, "NOT_FOUND");
    h.partner(Method::GET, "/customers/cust_nobody/exceptions", None).await.assert_error(404, "NOT_FOUND");
    h.partner(Method::POST, "/customers/cust_nobody/exceptions", Some(exception_body("MF-ML1-01", "risk_accepted", 9)))
        .await
        .assert_error(404, "NOT_FOUND");
    h.partner(Method::DELETE, &format!("{path}/exc_nothing"), None).await.assert_error(404, "NOT_FOUND");
}

fn check<'a>(a: &'a shared::assess::score::Assessment, id: &str) -> &'a shared::assess::score::CheckResult {
    a.results.iter().find(|r| r.id == id).unwrap()
}

fn answered(pairs: &[&str]) -> Answers {
    pairs.iter().map(|q| (q.to_string(), Answer::Yes)).collect()
}

/// Hand-worked: the small-business tenant's "Require MFA for all users" policy excludes one
/// account. Undeclared, that exclusion is a gap (E8-MFA-01 fails, naming the policy and the
/// account; MF-ML1-02, answered yes, is ineffective); declared as its break-glass account (or
/// approved for that policy) it is not (E8-MFA-01 passes; MF-ML1-02 is effective).
#[test]
fn the_small_business_tenant_with_a_declared_break_glass_account_moves_from_a_ca_gap_to_effective() {
    let yes = answered(&["Q-MF-ML1-02"]);
    let mut snapshot = demo_fixture("small-business").unwrap();
    let before = evaluate_answered("essential-eight", 1, &snapshot, &yes).unwrap();
    let failed = check(&before, "E8-MFA-01");
    assert_eq!(failed.status.as_str(), "fail");
    for named in ["Require MFA for all users", MFA_POLICY, BREAK_GLASS, "breakglass@baysideplumbing.onmicrosoft.com"] {
        assert!(failed.evidence.summary.contains(named), "the finding names {named}: {}", failed.evidence.summary);
    }
    let m = before.maturity.as_ref().unwrap();
    assert_eq!(m.requirement("MF-ML1-02").unwrap().outcome, O::Ineffective);

    snapshot.context =
        TenantContext { emergency_access_accounts: vec![BREAK_GLASS.into()], ..TenantContext::default() };
    let after = evaluate_answered("essential-eight", 1, &snapshot, &yes).unwrap();
    assert_eq!(check(&after, "E8-MFA-01").status.as_str(), "pass");
    let r = after.maturity.as_ref().unwrap().requirement("MF-ML1-02").unwrap().clone();
    assert_eq!(
        (r.outcome, r.reason.as_str()),
        (O::Effective, "Microsoft Graph shows part of it (E8-MFA-01 passed); answered yes to Q-MF-ML1-02 (attested)")
    );
    assert!(after.score > before.score, "{} → {}", before.score, after.score);

    // An approved exclusion does the same, for its policy only.
    let approved = |policy: &str| TenantContext {
        approved_exclusions: vec![ApprovedExclusion {
            policy_id: policy.into(),
            principal_id: BREAK_GLASS.to_uppercase(),
            reason: "Break glass".into(),
        }],
        ..TenantContext::default()
    };
    snapshot.context = approved(MFA_POLICY);
    assert_eq!(
        check(&evaluate_answered("essential-eight", 1, &snapshot, &yes).unwrap(), "E8-MFA-01").status.as_str(),
        "pass"
    );
    snapshot.context = approved("a5bed421-f1a9-6870-793a-5af8f240b901");
    assert_eq!(
        check(&evaluate_answered("essential-eight", 1, &snapshot, &yes).unwrap(), "E8-MFA-01").status.as_str(),
        "fail"
    );

    // The context alone never passes a requirement: a third-party control changes no outcome.
    snapshot.context = TenantContext {
        third_party_controls: vec![shared::domain::context::ThirdPartyControl {
            requirement_ids: vec!["MF-ML1-03".into(), "MF-ML1-02".into()],
            product: "Acme MFA".into(),
            description: "MFA for every third-party service".into(),
        }],
        ..TenantContext::default()
    };
    let with_control = evaluate_answered("essential-eight", 1, &snapshot, &Answers::new()).unwrap();
    let m = with_control.maturity.as_ref().unwrap();
    assert_eq!(m.requirement("MF-ML1-03").unwrap().outcome, O::NoVisibility);
    assert_eq!(m.requirement("MF-ML1-02").unwrap().outcome, O::Ineffective);
}

fn exception(requirement: &str, kind: ExceptionKind, expires_at: Timestamp) -> Exception {
    Exception {
        id: format!("exc_{requirement}").into(),
        partner_id: "prt_x".to_string().into(),
        distributor_id: None,
        customer_id: "cust_x".to_string().into(),
        requirement_id: requirement.into(),
        kind,
        rationale: "Phishing-resistant keys are being rolled out".into(),
        compensating_control: (kind == ExceptionKind::AlternateControl)
            .then(|| "Number matching and sign-in risk policies".into()),
        owner: "it@harbourview.example".into(),
        approved_by: "ciso@harbourview.example".into(),
        expires_at,
        created_at: T0,
        updated_at: None,
        version: 1,
        expiring_noticed: None,
    }
}

/// Hand-worked on ASD's rule: the hardened tenant (its two emergency-access accounts declared,
/// every question answered yes) is at MFA level 1, blocked at level 2 by MF-ML2-03 alone
/// (phishing-resistant MFA for all staff fails) and at level 3 by MF-ML3-03 too. An
/// `alternate_control` exception on MF-ML2-03 lifts MFA to 2 (level 3 still blocked by
/// MF-ML3-03), and the overall level with it; a `risk_accepted` one lifts nothing; an expired
/// one does not apply.
#[test]
fn an_alternate_control_exception_lifts_a_level_exactly_as_asds_rule_says_and_a_risk_accepted_one_does_not() {
    let snapshot = declared("hardened");
    let every_yes: Answers =
        shared::assess::requirements::catalogue().questions.iter().map(|q| (q.id.clone(), Answer::Yes)).collect();
    let a = evaluate_answered("essential-eight", 3, &snapshot, &every_yes).unwrap();
    let base = report(&a);
    let mfa = |r: &shared::domain::run::RunReport| {
        r.maturity_by_strategy.iter().find(|s| s.strategy == "mfa").unwrap().clone()
    };
    assert_eq!((mfa(&base).level, mfa(&base).blockers.clone()), (1, vec!["MF-ML2-03".to_string()]));
    assert_eq!(base.maturity, Some(1));
    let at = T0 + DAY;

    let mut lifted = base.clone();
    apply(&mut lifted, 3, &[exception("MF-ML2-03", ExceptionKind::AlternateControl, T0 + 90 * DAY)], at);
    let r = lifted.requirements.iter().find(|r| r.id == "MF-ML2-03").unwrap();
    assert_eq!(r.outcome, O::AlternateControl);
    let shown = r.exception.as_ref().unwrap();
    assert_eq!((shown.kind, shown.approved_by.as_str()), (ExceptionKind::AlternateControl, "ciso@harbourview.example"));
    assert!(
        r.reason.starts_with("Alternate control (exc_MF-ML2-03, approved by ciso@harbourview.example"),
        "{}",
        r.reason
    );
    // Level 2 now holds; level 3 needs MF-ML3-03, which fails on the same evidence.
    assert_eq!((mfa(&lifted).level, mfa(&lifted).blockers.clone()), (2, vec!["MF-ML3-03".to_string()]));
    let others: Vec<u8> = lifted.maturity_by_strategy.iter().filter(|s| s.strategy != "mfa").map(|s| s.level).collect();
    assert_eq!(lifted.maturity, others.iter().copied().chain([2]).min(), "the overall level is the lowest strategy's");
    assert_eq!(lifted.maturity, Some(2));
    let c = lifted.coverage.unwrap();
    assert_eq!((c.alternate_control, c.ineffective + 1), (1, base.coverage.unwrap().ineffective));

    let mut accepted = base.clone();
    apply(&mut accepted, 3, &[exception("MF-ML2-03", ExceptionKind::RiskAccepted, T0 + 90 * DAY)], at);
    let r = accepted.requirements.iter().find(|r| r.id == "MF-ML2-03").unwrap();
    assert_eq!(r.outcome, O::Ineffective, "an accepted risk stays unmet");
    assert_eq!(r.exception.as_ref().unwrap().kind, ExceptionKind::RiskAccepted);
    assert!(r.reason.starts_with("Risk accepted (exc_MF-ML2-03"), "{}", r.reason);
    assert_eq!((mfa(&accepted).level, accepted.maturity, accepted.coverage), (1, Some(1), base.coverage));

    let mut expired = base.clone();
    apply(&mut expired, 3, &[exception("MF-ML2-03", ExceptionKind::AlternateControl, at)], at);
    assert_eq!(expired, base, "an exception stops applying when it expires");
    // Only where the evidence left the requirement unmet.
    let mut met = base.clone();
    apply(&mut met, 3, &[exception("MF-ML1-01", ExceptionKind::AlternateControl, T0 + 90 * DAY)], at);
    assert_eq!(met, base);
    assert_eq!(Strategy::Mfa.as_str(), "mfa");
}

async fn trigger(h: &Harness, cid: &str) -> String {
    let body = json!({ "customerId": cid, "product": "essential-eight", "maturityTarget": 1 });
    s(&h.partner(Method::POST, "/assessments", Some(body)).await.assert_status(202)["id"])
}

async fn requirement(h: &Harness, run: &str, id: &str) -> Value {
    let all = h.partner(Method::GET, &format!("/assessments/{run}/requirements?strategy=mfa"), None).await;
    all.assert_status(200)["requirements"].as_array().unwrap().iter().find(|r| r["id"] == id).unwrap().clone()
}

/// Through the API: declaring the break-glass account and recording exceptions changes the
/// next run's checks, outcomes, coverage and report; the completed run keeps what it used
/// when both change afterwards; an exception that expired no longer applies.
#[tokio::test]
async fn the_next_run_reflects_the_context_and_exceptions_and_a_completed_run_keeps_what_it_used() {
    let h = Harness::new().await;
    let runner = h.fixture_runner();
    let cid = h.customer("Bayside Plumbing", &demo_tenant("small-business")).await;
    let first = trigger(&h, &cid).await;
    h.work(&runner).await;
    let failed = h.partner(Method::GET, &format!("/assessments/{first}/findings?outcome=fail"), None).await;
    let mfa01 =
        failed.assert_status(200)["findings"].as_array().unwrap().iter().find(|f| f["checkId"] == "E8-MFA-01").cloned();
    assert!(mfa01.unwrap()["evidence"].as_str().unwrap().contains(BREAK_GLASS));

    h.partner(
        Method::PUT,
        &format!("/customers/{cid}/context"),
        Some(json!({ "emergencyAccessAccounts": [BREAK_GLASS] })),
    )
    .await
    .assert_status(200);
    let exc = format!("/customers/{cid}/exceptions");
    // MF-ML1-01 still fails on E8-MFA-02 (the legacy-authentication block is report-only).
    let alt = h.partner(Method::POST, &exc, Some(exception_body("MF-ML1-01", "alternate_control", 60))).await;
    let alt = s(&alt.assert_status(201)["id"]);
    let acc = h.partner(Method::POST, &exc, Some(exception_body("MF-ML1-02", "risk_accepted", 20))).await;
    let acc = s(&acc.assert_status(201)["id"]);
    let second = trigger(&h, &cid).await;
    h.work(&runner).await;
    let passed = h.partner(Method::GET, &format!("/assessments/{second}/findings?outcome=pass"), None).await;
    assert!(passed.assert_status(200)["findings"].as_array().unwrap().iter().any(|f| f["checkId"] == "E8-MFA-01"));
    let r = requirement(&h, &second, "MF-ML1-01").await;
    assert_eq!(r["outcome"], "alternate_control");
    assert_eq!(
        r["exception"],
        json!({
            "id": alt, "kind": "alternate_control", "owner": "it@contoso.example", "approvedBy": "ciso@contoso.example",
            "expiresAt": in_days(60),
            "rationale": "The line-of-business app cannot do modern authentication until its upgrade",
            "compensatingControl": "Its accounts sign in only from the office network through a token gateway",
        })
    );
    let r = requirement(&h, &second, "MF-ML1-02").await;
    // E8-MFA-01 passes now; the unanswered question leaves it without visibility, accepted.
    assert_eq!(
        (r["outcome"].clone(), r["exception"]["kind"].clone()),
        (json!("no_visibility"), json!("risk_accepted"))
    );
    let run = h.partner(Method::GET, &format!("/assessments/{second}"), None).await.assert_status(200).clone();
    assert_eq!(run["coverage"]["alternateControl"], 1);
    // The report shows both beside their outcomes, the accepted risk unlike a met one.
    let link = h.partner(Method::GET, &format!("/assessments/{second}/report"), None).await.assert_status(200).clone();
    let token = s(&link["url"]).rsplit('/').next().unwrap().to_string();
    let page = h.request(Method::GET, &format!("/reports/{token}"), &[], None).await;
    let html = String::from_utf8(page.raw.to_vec()).unwrap();
    assert!(html.contains("Alternate control") && html.contains(&alt), "the report names the alternate control");
    assert!(html.contains("Risk accepted — not met") && html.contains(&acc), "the report shows the accepted risk");
    assert!(html.contains("approved by ciso@contoso.example"));

    // Later changes never alter the completed run.
    h.partner(Method::PUT, &format!("/customers/{cid}/context"), Some(json!({}))).await.assert_status(200);
    h.partner(Method::DELETE, &format!("{exc}/{alt}"), None).await.assert_status(204);
    assert_eq!(requirement(&h, &second, "MF-ML1-01").await["outcome"], "alternate_control");
    assert_eq!(requirement(&h, &first, "MF-ML1-01").await["exception"], Value::Null);

    // 21 days on, the risk_accepted exception has expired: the next run no longer applies it.
    h.clock.advance(21 * DAY);
    let third = trigger(&h, &cid).await;
    h.work(&runner).await;
    let r = requirement(&h, &third, "MF-ML1-02").await;
    assert_eq!((r["outcome"].clone(), r["exception"].clone()), (json!("ineffective"), Value::Null));
    assert_eq!(requirement(&h, &third, "MF-ML1-01").await["outcome"], "ineffective");
}

async fn expiring(h: &Harness) -> Vec<shared::domain::event::Event> {
    h.events().await.into_iter().filter(|e| e.kind.as_str() == "exception.expiring").collect()
}

/// `exception.expiring` is recorded once, 30 days before the expiry, by the relay's schedule
/// however many invocations overlap, and again only for a new expiry.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_exception_30_days_from_expiry_records_exception_expiring_once() {
    let h = Harness::new().await;
    let cid = h.customer("Contoso", &tests::tenant(4)).await;
    let made = h
        .partner(
            Method::POST,
            &format!("/customers/{cid}/exceptions"),
            Some(exception_body("RB-ML1-01", "risk_accepted", 45)),
        )
        .await;
    let eid = s(&made.assert_status(201)["id"]);
    let store = h.app.store.clone();
    let sweep = |store: Arc<dyn shared::store::Store>, app: Arc<shared::App>| async move {
        shared::usecases::context::notice_expiring(store.as_ref(), app.ids(), app.now(), 100).await.unwrap()
    };
    h.clock.advance(14 * DAY); // 31 days before it expires
    assert_eq!(sweep(store.clone(), h.app.clone()).await, 0);
    h.clock.advance(DAY); // 30 days before
    let tasks: Vec<_> = (0..8).map(|_| tokio::spawn(sweep(store.clone(), h.app.clone()))).collect();
    let mut recorded = 0;
    for t in tasks {
        recorded += t.await.unwrap();
    }
    assert_eq!(recorded, 1, "overlapping invocations record it once");
    assert_eq!(sweep(store.clone(), h.app.clone()).await, 0);
    let events = expiring(&h).await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].data,
        json!({ "customerId": cid, "exceptionId": eid, "requirementId": "RB-ML1-01", "expiresAt": in_days(45) })
    );
    // Extended by 60 days: due again 30 days before the new expiry, and not before.
    let path = format!("/customers/{cid}/exceptions/{eid}");
    h.partner(Method::PATCH, &path, Some(json!({ "expiresAt": in_days(105) }))).await.assert_status(200);
    h.clock.advance(59 * DAY);
    assert_eq!(sweep(store.clone(), h.app.clone()).await, 0);
    h.clock.advance(DAY);
    assert_eq!(sweep(store.clone(), h.app.clone()).await, 1);
    assert_eq!(expiring(&h).await.len(), 2);
}

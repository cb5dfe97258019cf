//! Drift and the portfolio (contract, "Schedules, drift and portfolio"; issue 19): a worse run
//! records `assessment.regressed` with its new failures and levels, every failure, finding
//! and requirement carries a `dedupeKey` stable across runs, and `GET /portfolio` lists each
//! customer's latest result and trend on both bases.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use http::Method;
use serde_json::{json, Value};
use shared::assess::assessor::EngineAssessor;
use shared::assess::collect::{CollectError, Collector};
use shared::assess::fixtures::{demo_fixture_name, demo_snapshot};
use shared::assess::snapshot::TenantSnapshot;
use shared::domain::event::EventType;
use tests::Harness;

const E8: &str = "essential-eight";

fn hardened_tenant() -> String {
    (0..1000).map(tests::tenant).find(|t| demo_fixture_name(t) == "hardened").unwrap()
}

/// The demo tenants, until `worse_from` snapshots have been served; from then on the tenant has
/// its "CA001 - All users - Require MFA" Conditional Access policy switched off.
struct Worsening {
    served: AtomicUsize,
    worse_from: usize,
}

#[async_trait::async_trait]
impl Collector for Worsening {
    async fn collect(&self, tenant_id: &str) -> Result<TenantSnapshot, CollectError> {
        let mut snapshot = demo_snapshot(tenant_id);
        if self.served.fetch_add(1, Ordering::SeqCst) >= self.worse_from {
            for p in &mut snapshot.conditional_access_policies {
                if p.display_name.starts_with("CA001") {
                    p.state = "disabled".into();
                }
            }
        }
        Ok(snapshot)
    }
}

/// A consented customer on the hardened demo tenant at ML1: its emergency-access accounts
/// declared, and every level-1 question answered `yes` (tests/it/questionnaire.rs works why).
async fn hardened_at_ml1(h: &Harness) -> String {
    let cid = h.customer("Contoso", &hardened_tenant()).await;
    let context = json!({ "emergencyAccessAccounts": crate::tenant_context::break_glass_of("hardened") });
    h.partner(Method::PUT, &format!("/customers/{cid}/context"), Some(context)).await.assert_status(200);
    let questions = h.partner(Method::GET, &format!("/products/{E8}/questions"), None).await;
    let answers: serde_json::Map<String, Value> = questions.assert_status(200)["questions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| q["level"] == 1)
        .map(|q| (q["id"].as_str().unwrap().to_string(), json!({ "answer": "yes" })))
        .collect();
    let body = json!({ "product": E8, "answers": answers });
    h.partner(Method::PUT, &format!("/customers/{cid}/questionnaire"), Some(body)).await.assert_status(200);
    cid
}

/// Triggers an Essential Eight run at target 1 and runs it through `runner`; returns P13.
async fn run(h: &Harness, runner: &shared::runner::Runner, cid: &str) -> Value {
    let body = json!({ "customerId": cid, "product": E8, "maturityTarget": 1 });
    let id = h.partner(Method::POST, "/assessments", Some(body)).await.assert_status(202)["id"]
        .as_str()
        .unwrap()
        .to_string();
    h.work(runner).await;
    let p13 = h.partner(Method::GET, &format!("/assessments/{id}"), None).await;
    assert_eq!(p13.assert_status(200)["status"], "completed", "{}", p13.body);
    p13.body.clone()
}

/// The data of each recorded event of `kind`, oldest first.
async fn data_of(h: &Harness, kind: EventType) -> Vec<Value> {
    h.events().await.into_iter().filter(|e| e.kind == kind).map(|e| e.data).collect()
}

fn keys(items: &Value) -> Vec<(String, String)> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let id = i["id"].as_str().or(i["checkId"].as_str()).unwrap().to_string();
            (id, i["dedupeKey"].as_str().unwrap_or_else(|| panic!("no dedupeKey in {i}")).to_string())
        })
        .collect()
}

/// Worked by hand. Run 1 is the hardened tenant at ML1 (every ML1 requirement effective; see
/// `hardened_at_ml1`). Then its "Require MFA for all users" policy is switched off, so check
/// E8-MFA-01 fails. The catalogue's ML1 requirements resting on E8-MFA-01 are MF-ML1-01
/// (E8-MFA-01, -02, -03) and MF-ML1-02 (E8-MFA-01); MF-ML3-01 is above the target, so not
/// assessed. Graph evidence decides before the questionnaire, so both become `ineffective`:
/// run 2's new failures are exactly [MF-ML1-01, MF-ML1-02], MFA drops to level 0, and with it
/// the overall level, 1 → 0. Run 3 sees the same tenant: nothing new, no regression.
#[tokio::test]
async fn a_worse_tenant_state_records_assessment_regressed_with_the_new_failures_and_levels_worked_by_hand() {
    let h = Harness::new().await;
    let cid = hardened_at_ml1(&h).await;
    let collector = Arc::new(Worsening { served: AtomicUsize::new(0), worse_from: 1 });
    let runner = h.runner(Arc::new(EngineAssessor::new(collector)), 3);

    let run1 = run(&h, &runner, &cid).await;
    assert_eq!(run1["maturity"]["overall"], 1, "{run1}");
    assert!(data_of(&h, EventType::AssessmentRegressed).await.is_empty(), "a first run never regresses");

    let run2 = run(&h, &runner, &cid).await;
    assert_eq!(run2["maturity"]["overall"], 0);
    let key = |id: &str| format!("{cid}:{id}");
    let regressed = data_of(&h, EventType::AssessmentRegressed).await;
    assert_eq!(regressed.len(), 1, "{regressed:?}");
    let r = &regressed[0];
    assert_eq!(
        (&r["assessmentId"], &r["customerId"], &r["product"], &r["previousRunId"]),
        (&run2["id"], &json!(cid), &json!(E8), &run1["id"])
    );
    assert_eq!(r["newFailures"], json!(["MF-ML1-01", "MF-ML1-02"]));
    assert_eq!((&r["levelFrom"], &r["levelTo"]), (&json!(1), &json!(0)));
    assert_eq!(
        keys(&r["failures"]),
        vec![("MF-ML1-01".to_string(), key("MF-ML1-01")), ("MF-ML1-02".to_string(), key("MF-ML1-02"))]
    );

    // assessment.completed carries every failure of the run, each with its dedupeKey.
    let completed = data_of(&h, EventType::AssessmentCompleted).await;
    assert_eq!(completed.len(), 2);
    assert_eq!(completed[0]["failures"], json!([]), "run 1 fails nothing at ML1");
    let failing2 = keys(&completed[1]["failures"]);
    assert!(failing2.contains(&("MF-ML1-01".into(), key("MF-ML1-01"))), "{failing2:?}");

    // The same tenant again: nothing new, the same level, no regression; the keys are the same.
    let run3 = run(&h, &runner, &cid).await;
    assert_eq!(data_of(&h, EventType::AssessmentRegressed).await.len(), 1, "run 3 is no worse than run 2");
    assert_eq!(keys(&data_of(&h, EventType::AssessmentCompleted).await[2]["failures"]), failing2);

    // The findings and requirements routes carry the same keys, run after run.
    for p13 in [&run2, &run3] {
        let id = p13["id"].as_str().unwrap();
        let f = h.partner(Method::GET, &format!("/assessments/{id}/findings?outcome=fail"), None).await;
        assert!(keys(&f.assert_status(200)["findings"]).contains(&("E8-MFA-01".into(), key("E8-MFA-01"))));
        let r = h.partner(Method::GET, &format!("/assessments/{id}/requirements?strategy=mfa"), None).await;
        let reqs = keys(&r.assert_status(200)["requirements"]);
        assert!(reqs.contains(&("MF-ML1-01".into(), key("MF-ML1-01"))), "{reqs:?}");
        let d =
            h.distributor(Method::GET, &format!("/partners/{}/assessments/{id}/findings", h.partner_id()), None).await;
        assert!(keys(&d.assert_status(200)["findings"]).contains(&("E8-MFA-01".into(), key("E8-MFA-01"))));
    }

    // The portfolio's trend followed: down at run 2, the same at run 3.
    let portfolio = h.partner(Method::GET, "/portfolio?product=essential-eight", None).await;
    let row = &portfolio.assert_status(200)["customers"][0];
    assert_eq!((&row["lastRunId"], &row["overall"], &row["trend"]), (&run3["id"], &json!(0), &json!("same")));
    assert_eq!(row["byStrategy"]["mfa"], json!({ "level": 0 }));
}

/// `GET /portfolio?product=` on both bases: one row per customer with a completed run of the
/// product (its latest), paged; the distributor's rows add `partnerId` and span its partners;
/// another partner's customers and customers without a completed run are not listed; `product`
/// is required and checked, and a tampered cursor is refused.
#[tokio::test]
async fn the_portfolio_lists_each_customers_latest_result_on_both_bases() {
    let h = Harness::new().await;
    let runner = h.fixture_runner();
    let trigger = |key: String, cid: String, product: &'static str| {
        let h = &h;
        async move {
            let body = json!({ "customerId": cid, "product": product });
            let r = h.partner_as(&key, Method::POST, "/assessments", Some(body)).await;
            r.assert_status(202)["id"].as_str().unwrap().to_string()
        }
    };
    let key = h.partner_key().to_string();
    let a = h.customer("Alpha", &tests::tenant(71)).await;
    let b = h.customer("Bravo", &tests::tenant(72)).await;
    let never = h.customer("Never run", &tests::tenant(73)).await;
    let (other_id, other_key) = h.active_partner("other@portfolio.example", "professional").await;
    let c = h.customer_for(&other_key, "Charlie", &tests::tenant(74)).await;
    let a1 = trigger(key.clone(), a.clone(), E8).await;
    h.work(&runner).await;
    let b1 = trigger(key.clone(), b.clone(), E8).await;
    let c1 = trigger(other_key.clone(), c.clone(), E8).await;
    let _nist = trigger(key.clone(), a.clone(), "nist-csf").await;
    h.work(&runner).await;
    let a2 = trigger(key.clone(), a.clone(), E8).await;
    h.work(&runner).await;
    let _queued = trigger(key.clone(), never.clone(), E8).await;

    // The partner's, one a page.
    let mut rows = Vec::new();
    let mut path = "/portfolio?product=essential-eight&limit=1".to_string();
    loop {
        let page = h.partner(Method::GET, &path, None).await.assert_status(200).clone();
        assert_eq!(page["product"], E8);
        rows.extend(page["customers"].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(next) => path = format!("/portfolio?product=essential-eight&limit=1&cursor={next}"),
            None => break,
        }
    }
    let got: Vec<(Value, Value, Value)> =
        rows.iter().map(|r| (r["customerId"].clone(), r["name"].clone(), r["lastRunId"].clone())).collect();
    assert_eq!(got, vec![(json!(a), json!("Alpha"), json!(a2)), (json!(b), json!("Bravo"), json!(b1))]);
    assert!(rows.iter().all(|r| r.get("partnerId").is_none()));
    assert_eq!(rows[1]["trend"], Value::Null, "a first run has no trend");
    assert!(rows[0]["trend"].is_string(), "{}", rows[0]);
    assert!(rows[0]["score"].is_u64() && rows[0]["overall"].is_u64(), "{}", rows[0]);
    assert_ne!(a1, a2);

    // The distributor's: both partners' customers, with partnerId.
    let all = h.distributor(Method::GET, "/portfolio?product=essential-eight", None).await;
    let got: Vec<(Value, Value)> = all.assert_status(200)["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["partnerId"].clone(), r["customerId"].clone()))
        .collect();
    let me = json!(h.partner_id());
    assert_eq!(got, vec![(me.clone(), json!(a)), (me, json!(b)), (json!(other_id), json!(c))]);
    let nist = h.partner(Method::GET, "/portfolio?product=nist-csf", None).await;
    let nist_rows = nist.assert_status(200)["customers"].as_array().unwrap().clone();
    assert_eq!(
        (nist_rows.len(), &nist_rows[0]["overall"], &nist_rows[0]["byStrategy"]),
        (1, &Value::Null, &Value::Null)
    );
    let theirs = h.partner_as(&other_key, Method::GET, "/portfolio?product=essential-eight", None).await;
    assert_eq!(theirs.assert_status(200)["customers"].as_array().unwrap().len(), 1);
    assert_eq!(theirs.body["customers"][0]["lastRunId"], json!(c1));

    // The parameters, on both bases.
    for distributor in [false, true] {
        for (path, code) in [
            ("/portfolio", "MISSING_FIELD"),
            ("/portfolio?product=nope", "INVALID_PRODUCT"),
            ("/portfolio?product=essential-eight&cursor=tampered", "INVALID_FIELD"),
        ] {
            let r = if distributor {
                h.distributor(Method::GET, path, None).await
            } else {
                h.partner(Method::GET, path, None).await
            };
            r.assert_error(400, code);
        }
    }
    let _ = never;
}

//! Big tenants (issue 11, point 6): a finding lists at most 100 names with the full count
//! beside them, and a tenant of tens of thousands of users and devices completes.

use http::Method;
use serde_json::{json, Value};
use tests::*;

/// Every list in a finding's details, with the count beside it: (finding, list, entries, count).
fn detail_lists(findings: &[Value]) -> Vec<(String, String, usize, Option<u64>)> {
    let mut out = Vec::new();
    for f in findings {
        let Some(details) = f["details"].as_object() else { continue };
        for (name, value) in details {
            if let Some(items) = value.as_array() {
                let count = details.get(&format!("{name}Count")).and_then(Value::as_u64);
                out.push((f["checkId"].as_str().unwrap().to_string(), name.clone(), items.len(), count));
            }
        }
    }
    out
}

async fn all_findings(h: &Harness, run_id: &str) -> Vec<Value> {
    let mut findings = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => format!("/assessments/{run_id}/findings?limit=100"),
            Some(c) => format!("/assessments/{run_id}/findings?limit=100&cursor={c}"),
        };
        let page = h.partner(Method::GET, &path, None).await;
        let body = page.assert_status(200);
        findings.extend(body["findings"].as_array().unwrap().iter().cloned());
        match body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return findings,
        }
    }
}

#[tokio::test]
async fn a_findings_list_names_at_most_100_objects_with_the_full_count_beside_it() {
    let h = Harness::new().await;
    let cid = h.customer("Big Pty Ltd", &tenant(1)).await;
    let run = h
        .partner(
            Method::POST,
            "/assessments",
            Some(json!({ "customerId": cid, "product": "essential-eight", "maturityTarget": 3 })),
        )
        .await;
    let run_id = run.assert_status(202)["id"].as_str().unwrap().to_string();
    let (users, devices) = (3_000, 1_000);
    assert_eq!(h.work(&h.runner(big_tenant::assessor(users, devices), 3)).await, vec![shared::queue::Ack::Done]);

    let findings = all_findings(&h, &run_id).await;
    let lists = detail_lists(&findings);
    assert!(!lists.is_empty());
    for (check, list, entries, count) in &lists {
        let count = count.unwrap_or_else(|| panic!("{check}: {list} has no {list}Count beside it"));
        assert!(*entries <= 100, "{check}: {list} names {entries}");
        assert_eq!(*entries as u64, count.min(100), "{check}: {list} holds the first 100 of {count}");
    }
    // The grown tenant has thousands of users who cannot do MFA and devices a release behind:
    // some lists were cut, and their counts say how many there are.
    let snapshot = big_tenant::snapshot(&tenant(1), users, devices);
    let not_capable = snapshot.user_registration_details.iter().filter(|u| !u.is_mfa_capable).count() as u64;
    assert!(not_capable > 100);
    assert!(
        lists.iter().any(|(_, _, entries, count)| *entries == 100 && *count == Some(not_capable)),
        "the MFA-capability list is cut at 100 of {not_capable}: {lists:?}"
    );
    assert!(
        lists.iter().filter(|(_, _, entries, count)| *entries == 100 && count.unwrap() > 100).count() >= 2,
        "{lists:?}"
    );
}

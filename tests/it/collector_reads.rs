//! The reads issue 11 added to the collector, judged on Graph-shaped examples: roles held
//! through groups and activated through PIM, access reviews, Windows Hello for Business,
//! Windows LAPS, Endpoint security template policies (intents), and the feature, quality and
//! driver update policies.

use serde_json::{json, Value};
use shared::assess::checks::{essential_eight, Check, Status};
use shared::assess::fixtures::demo_fixture;
use shared::assess::snapshot::TenantSnapshot as S;

fn check(id: &str) -> &'static Check {
    essential_eight::CHECKS.iter().find(|c| c.id == id).unwrap()
}

/// The check's answer as a run gives it (`run`: unread fields are "no visibility").
fn verdict(id: &str, s: &S) -> (Status, String) {
    let o = check(id).run(s);
    (o.status, o.evidence.summary)
}

fn with(base: &str, field: &str, value: Value) -> S {
    let mut doc = serde_json::to_value(demo_fixture(base).unwrap()).unwrap();
    doc[field] = value;
    serde_json::from_value(doc).unwrap()
}

/// A user with an Exchange Online mailbox, as `GET /users?$select=…` gives it.
fn mailbox_user(id: &str, upn: &str) -> Value {
    json!({
        "id": id, "userPrincipalName": upn, "displayName": upn, "accountEnabled": true, "userType": "Member",
        "assignedPlans": [{ "service": "exchange", "capabilityStatus": "Enabled", "servicePlanId": "efb87545-963c-4e0d-99df-69c6916d9eb0", "assignedDateTime": "2025-01-01T00:00:00Z" }],
        "signInActivity": { "lastSuccessfulSignInDateTime": "2026-03-30T08:00:00Z" },
        "createdDateTime": "2024-01-01T00:00:00Z"
    })
}

/// A role held through a role-assignable group is held by each of its members: the member
/// with a mailbox makes E8-RAP-02 fail and is named; the group's members count as standing
/// holders for E8-RAP-06, unless PIM says the assignment was activated just in time.
#[test]
fn a_role_held_through_a_group_is_held_by_its_members_and_an_activation_is_not_standing() {
    let mut doc = serde_json::to_value(demo_fixture("hardened").unwrap()).unwrap();
    doc["users"].as_array_mut().unwrap().push(mailbox_user("u-jo", "jo@harbourviewlegal.com.au"));
    let group_assignment = json!({
        "id": "ga-1", "roleDefinitionId": "194ae4cb-b126-40b2-bd5b-6091b380977d", "principalId": "g-sec", "directoryScopeId": "/",
        "principal": {
            "@odata.type": "#microsoft.graph.group", "id": "g-sec", "displayName": "Security admins",
            "transitiveMembers": [
                { "@odata.type": "#microsoft.graph.user", "id": "u-jo", "displayName": "Jo", "userPrincipalName": "jo@harbourviewlegal.com.au" },
                { "@odata.type": "#microsoft.graph.group", "id": "g-nested", "displayName": "Nested" }
            ]
        }
    });
    doc["roleAssignments"].as_array_mut().unwrap().push(group_assignment);
    let s: S = serde_json::from_value(doc.clone()).unwrap();

    let before = verdict("E8-RAP-02", &demo_fixture("hardened").unwrap());
    assert_eq!(before.0, Status::Pass, "{}", before.1);
    let (status, _) = verdict("E8-RAP-02", &s);
    assert_eq!(status, Status::Fail);
    let details = check("E8-RAP-02").run(&s).evidence.details.unwrap();
    assert_eq!(details["privilegedAccountsWithMailbox"], json!(["jo@harbourviewlegal.com.au"]));

    // Standing: the two break-glass accounts and Jo (through the group); adm-tom's Exchange
    // Administrator assignment was activated through PIM, so it is not standing.
    let (status, summary) = verdict("E8-RAP-06", &s);
    assert_eq!(status, Status::Fail, "{summary}");
    assert!(summary.starts_with("3 account(s) hold standing"), "{summary}");
    let names = check("E8-RAP-06").run(&s).evidence.details.unwrap()["standingPrivileged"].clone();
    assert!(names.as_array().unwrap().contains(&json!("jo@harbourviewlegal.com.au")), "{names}");
    // The same assignment activated through PIM is just in time.
    doc["roleAssignmentScheduleInstances"].as_array_mut().unwrap().push(json!({
        "id": "ga-1", "roleDefinitionId": "194ae4cb-b126-40b2-bd5b-6091b380977d", "principalId": "g-sec",
        "directoryScopeId": "/", "assignmentType": "Activated", "memberType": "Direct",
        "startDateTime": "2026-03-31T23:00:00Z", "endDateTime": "2026-04-01T07:00:00Z"
    }));
    let s: S = serde_json::from_value(doc).unwrap();
    assert_eq!(verdict("E8-RAP-06", &s).0, Status::Pass);
    // Without PIM's instances, adm-tom's activation would count as standing too.
    let s = with("hardened", "roleAssignmentScheduleInstances", json!([]));
    let (status, summary) = verdict("E8-RAP-06", &s);
    assert_eq!(status, Status::Fail, "{summary}");
    assert!(summary.starts_with("3 account(s)"), "{summary}");
}

/// Attack surface reduction rules and Credential Guard set in an Endpoint security template
/// policy (an intent: `definitionId` naming the profile property, `valueJson` its value)
/// count like a profile's, when assigned to all devices.
#[test]
fn endpoint_security_template_policies_count_like_profiles_when_assigned_to_everyone() {
    // The hardened tenant's template policy reaches its pilot ring only; assigned to all
    // devices, it would be the fleet's.
    let hardened = serde_json::to_value(demo_fixture("hardened").unwrap()).unwrap();
    let pilot = hardened["intents"].clone();
    let mut intents = pilot.clone();
    intents[0]["assignments"] =
        json!([{ "id": "a", "target": { "@odata.type": "#microsoft.graph.allDevicesAssignmentTarget" } }]);
    for id in ["E8-UAH-03", "E8-UAH-05", "E8-OM-04", "E8-RAP-07"] {
        let before = verdict(id, &demo_fixture("small-business").unwrap());
        assert_eq!(before.0, Status::Fail, "{id}: {}", before.1);
        let (status, summary) = verdict(id, &with("small-business", "intents", intents.clone()));
        assert_eq!(status, Status::Pass, "{id}: {summary}");
    }
    // Assigned to a pilot group only, it shows nothing about the fleet.
    assert_eq!(verdict("E8-UAH-05", &with("small-business", "intents", pilot)).0, Status::Fail);
}

/// What the new reads show on the demo tenants: the hardened one passes each, the small
/// business shows the gaps a real one has, and a licence refusal is "no visibility" naming it.
#[test]
fn the_demo_tenants_show_what_the_new_reads_evidence() {
    let hardened = demo_fixture("hardened").unwrap();
    let small = demo_fixture("small-business").unwrap();
    for id in ["E8-MFA-09", "E8-RAP-08", "E8-RAP-09", "E8-POS-04", "E8-POS-05", "E8-POS-06", "E8-POS-07"] {
        let (status, summary) = verdict(id, &hardened);
        assert_eq!(status, Status::Pass, "{id}: {summary}");
    }
    let expect = [
        ("E8-MFA-09", Status::Fail, "No Intune policy requires Windows Hello for Business"),
        ("E8-RAP-08", Status::Fail, "passwords of 14 characters"),
        ("E8-RAP-09", Status::Manual, "No visibility: baref00t could not read this tenant's access reviews"),
        ("E8-POS-05", Status::Fail, "holds devices at Windows 11 22H2"),
        ("E8-POS-06", Status::Fail, "waits for manual approval"),
    ];
    for (id, status, words) in expect {
        let (got, summary) = verdict(id, &small);
        assert_eq!(got, status, "{id}: {summary}");
        assert!(summary.contains(words), "{id}: {summary}");
    }
    assert!(verdict("E8-RAP-09", &small).1.contains("Entra ID P2"));
}

/// E8-POS-04's 48 hours: rings that take longer pass when this month's quality update is
/// expedited to the devices, not when the expedited update is months old.
#[test]
fn an_expedited_current_update_meets_the_48_hours_and_an_old_one_does_not() {
    let hardened = serde_json::to_value(demo_fixture("hardened").unwrap()).unwrap();
    let profiles = hardened["windowsQualityUpdateProfiles"].clone();
    assert_eq!(verdict("E8-POS-04", &demo_fixture("small-business").unwrap()).0, Status::Fail);
    let (status, summary) =
        verdict("E8-POS-04", &with("small-business", "windowsQualityUpdateProfiles", profiles.clone()));
    assert_eq!(status, Status::Pass, "{summary}");
    let mut old = profiles;
    old[0]["expeditedUpdateSettings"]["qualityUpdateRelease"] = json!("2025-12-09T00:00:00Z");
    assert_eq!(verdict("E8-POS-04", &with("small-business", "windowsQualityUpdateProfiles", old)).0, Status::Fail);
}

/// Windows LAPS with 30-character passwords meets ASD's "long"; Windows' default 14 does not;
/// access reviews count only when they recur at least yearly on the directory roles.
#[test]
fn laps_length_and_review_recurrence_are_judged_by_asds_numbers() {
    let hardened = serde_json::to_value(demo_fixture("hardened").unwrap()).unwrap();
    let mut policies = hardened["configurationPolicies"].clone();
    let laps =
        policies.as_array_mut().unwrap().iter_mut().find(|p| p["name"] == "Endpoint security - Windows LAPS").unwrap();
    laps["settings"][1]["settingInstance"]["simpleSettingValue"]["value"] = json!(29);
    let (status, summary) = verdict("E8-RAP-08", &with("hardened", "configurationPolicies", policies));
    assert_eq!(status, Status::Fail, "{summary}");

    let mut reviews = hardened["accessReviewDefinitions"].clone();
    reviews[0]["settings"]["recurrence"]["pattern"] = json!({ "type": "absoluteMonthly", "interval": 13 });
    assert_eq!(verdict("E8-RAP-09", &with("hardened", "accessReviewDefinitions", reviews.clone())).0, Status::Fail);
    reviews[0]["settings"]["recurrence"]["pattern"] = json!({ "type": "absoluteYearly", "interval": 1 });
    assert_eq!(verdict("E8-RAP-09", &with("hardened", "accessReviewDefinitions", reviews.clone())).0, Status::Pass);
    // A review of a group, not of the directory roles, does not re-approve privileged access.
    reviews[0]["scope"] = json!({ "@odata.type": "#microsoft.graph.accessReviewQueryScope", "query": "/groups/g1/transitiveMembers", "queryType": "MicrosoftGraph" });
    assert_eq!(verdict("E8-RAP-09", &with("hardened", "accessReviewDefinitions", reviews)).0, Status::Fail);
}

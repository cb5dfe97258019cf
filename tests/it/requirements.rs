//! Essential Eight requirements: the catalogue against ASD's matrix as the guide holds it
//! (`../shared/reference/asd-essential-eight.md`, read here with a parser of its own), the
//! questionnaire against the matrix's list, and the checks' mapping to requirements.

use std::collections::{BTreeMap, BTreeSet};

use shared::assess::checks::Strategy;
use shared::assess::requirements::catalogue;
use shared::assess::Framework;

const REFERENCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/reference/asd-essential-eight.md");

fn reference() -> String {
    std::fs::read_to_string(REFERENCE)
        .unwrap_or_else(|e| panic!("the guide's ASD matrix must sit beside the repository ({REFERENCE}): {e}"))
}

fn cells(line: &str) -> Vec<String> {
    line.trim().trim_matches('|').split('|').map(|c| c.trim().to_string()).collect()
}

const CODES: [(&str, Strategy); 8] = [
    ("AC", Strategy::ApplicationControl),
    ("PA", Strategy::PatchApplications),
    ("OM", Strategy::OfficeMacros),
    ("UH", Strategy::UserApplicationHardening),
    ("RA", Strategy::RestrictAdminPrivileges),
    ("PO", Strategy::PatchOs),
    ("MF", Strategy::Mfa),
    ("RB", Strategy::RegularBackups),
];

fn strategy_of(code: &str) -> Option<Strategy> {
    CODES.iter().find(|(c, _)| *c == code).map(|(_, s)| *s)
}

/// A requirement row of the matrix: id, levels column, ISM id, requirement text.
fn reference_rows(text: &str) -> Vec<[String; 4]> {
    text.lines()
        .filter(|l| l.starts_with("| "))
        .map(cells)
        .filter(|c| {
            let id = &c[0];
            id.len() == 9 && strategy_of(&id[..2]).is_some() && id[2..].starts_with("-ML") && c.len() >= 5
        })
        .map(|c| [c[0].clone(), c[1].clone(), c[2].clone(), c[3].clone()])
        .collect()
}

#[test]
fn every_requirement_of_asds_matrix_is_in_the_catalogue_as_the_matrix_has_it() {
    let text = reference();
    let rows = reference_rows(&text);
    let cat = catalogue();
    assert_eq!(rows.len(), 152);
    assert_eq!(cat.requirements.len(), 152);
    for (row, r) in rows.iter().zip(&cat.requirements) {
        let [id, levels, ism, summary] = row;
        assert_eq!(&r.id, id);
        assert_eq!(Some(r.strategy), strategy_of(&id[..2]), "{id}");
        let expected: Vec<u8> = match levels.as_str() {
            "ML1-3" => vec![1, 2, 3],
            "ML2-3" => vec![2, 3],
            "ML3" => vec![3],
            "ML1-2" => vec![1, 2],
            "ML2" => vec![2],
            other => panic!("{id}: unknown level column {other}"),
        };
        assert_eq!(r.levels, expected, "{id}");
        // The id's ML<n> is the lowest level it belongs to.
        assert_eq!(r.level, id[5..6].parse::<u8>().unwrap(), "{id}");
        assert_eq!(r.level, r.levels[0], "{id}");
        assert_eq!(&r.ism, ism, "{id}");
        assert_eq!(&r.summary, summary, "{id}");
    }
}

#[test]
fn requirement_counts_per_strategy_and_level_match_the_matrix_counts_table() {
    let text = reference();
    let cat = catalogue();
    // | Application control | AC | 3 | 14 | 19 | 3 / 11 / 5 | 19 |
    let mut tables = 0;
    for c in text.lines().filter(|l| l.starts_with("| ")).map(cells) {
        let Some(strategy) = c.get(1).and_then(|code| strategy_of(code)) else { continue };
        if c.len() != 7 {
            continue;
        }
        tables += 1;
        let of: Vec<_> = cat.requirements.iter().filter(|r| r.strategy == strategy).collect();
        for (level, column) in [(1u8, 2), (2, 3), (3, 4)] {
            let at = of.iter().filter(|r| r.applies_at(level)).count();
            assert_eq!(at.to_string(), c[column], "{strategy:?} at ML{level}");
        }
        let new: Vec<String> = (1..=3u8).map(|l| of.iter().filter(|r| r.level == l).count().to_string()).collect();
        assert_eq!(new.join(" / "), c[5], "{strategy:?} new per level");
        assert_eq!(of.len().to_string(), c[6], "{strategy:?} rows");
    }
    assert_eq!(tables, 8);
    // The table's total row: 48 / 107 / 149 listed per appendix.
    let at = |l: u8| cat.requirements.iter().filter(|r| r.applies_at(l)).count();
    assert_eq!((at(1), at(2), at(3)), (48, 107, 149));
}

/// The matrix's questionnaire: `- <ids> (partial): <prompt> Attach: <what to keep>`.
fn reference_questions(text: &str) -> Vec<(Vec<String>, String, bool)> {
    let start = text.find("## Requirements only a questionnaire or upload can settle").unwrap();
    text[start..]
        .lines()
        .filter_map(|l| l.strip_prefix("- "))
        .map(|l| {
            let (head, body) = l.split_once(": ").unwrap();
            let (head, partial) = match head.strip_suffix(" (partial)") {
                Some(h) => (h, true),
                None => (head, false),
            };
            let ids: Vec<String> = match head.split_once(" (") {
                // SH-1 (AC-ML2-06, UH-ML2-13, RA-ML2-08, MF-ML2-07)
                Some((_, list)) => list.trim_end_matches(')').split(", ").map(str::to_string).collect(),
                None => head.split(" + ").map(str::to_string).collect(),
            };
            let prompt = body.split(" Attach: ").next().unwrap().to_string();
            (ids, prompt, partial)
        })
        .collect()
}

#[test]
fn the_questionnaire_holds_the_matrix_items_and_one_for_each_requirement_nothing_else_covers() {
    let text = reference();
    let cat = catalogue();
    let expected = reference_questions(&text);
    assert_eq!(expected.len(), 67);
    let from_reference: Vec<_> = cat.questions.iter().filter(|q| q.origin == "asd-reference").collect();
    assert_eq!(from_reference.len(), 67);
    for (ids, prompt, partial) in &expected {
        let q = from_reference
            .iter()
            .find(|q| &q.requirement_ids == ids)
            .unwrap_or_else(|| panic!("no question for {ids:?}"));
        assert_eq!(&q.prompt, prompt, "{}", q.id);
        assert_eq!(q.partial, *partial, "{}", q.id);
        assert!(q.help.starts_with("Keep as evidence: "), "{}", q.id);
    }
    let mut seen = BTreeSet::new();
    for q in &cat.questions {
        assert!(seen.insert(q.id.as_str()), "question id {} twice", q.id);
        assert!(q.origin == "asd-reference" || q.origin == "baref00t", "{}", q.id);
        let reqs: Vec<_> = q.requirement_ids.iter().map(|id| cat.requirement(id).expect(id)).collect();
        assert_eq!(q.level, reqs.iter().map(|r| r.level).min().unwrap(), "{}", q.id);
        for r in reqs {
            assert_eq!(r.question_id.as_deref(), Some(q.id.as_str()), "{} names its question", r.id);
        }
    }
}

/// Checks that are no ASD requirement: shown and scored, never part of a level.
const ADVISORY: &[&str] = &["E8-RAP-01", "E8-MFA-08", "E8-BAK-02"];

#[test]
fn every_essential_eight_check_names_its_requirements_at_their_lowest_level() {
    let cat = catalogue();
    let checks = Framework::EssentialEight.checks();
    for r in &cat.requirements {
        for id in &r.check_ids {
            assert!(checks.iter().any(|c| c.id == id), "{} names unknown check {id}", r.id);
        }
    }
    for c in checks {
        let reqs = cat.requirements_of_check(c.id);
        if ADVISORY.contains(&c.id) {
            assert!(reqs.is_empty(), "{} is advisory", c.id);
            continue;
        }
        assert!(!reqs.is_empty(), "{} evidences no requirement", c.id);
        let reqs: Vec<_> = reqs.iter().map(|id| cat.requirement(id).unwrap()).collect();
        // A check runs from its level on; it must run wherever one of its requirements counts,
        // and belong to that requirement's strategy.
        assert_eq!(c.level(), reqs.iter().map(|r| r.level).min().unwrap(), "{}'s level", c.id);
        for r in reqs {
            // PA-ML1-01/02 are PO-ML1-01/02 too: a patch-os check may evidence them.
            let twins: Vec<Strategy> = cat
                .requirements
                .iter()
                .filter(|t| t.same_as.as_deref() == Some(r.id.as_str()))
                .map(|t| t.strategy)
                .collect();
            let strategy = c.reference.strategy().unwrap();
            assert!(strategy == r.strategy || twins.contains(&strategy), "{} → {}", c.id, r.id);
        }
    }
}

#[test]
fn every_requirement_of_every_level_has_an_evidence_source() {
    let cat = catalogue();
    let checks = Framework::EssentialEight.checks();
    let mut per_level: BTreeMap<(u8, &str), usize> = BTreeMap::new();
    for r in &cat.requirements {
        // PO-ML1-01/02 are PA-ML1-01/02 again (same ISM control), evaluated once as those.
        let evaluated = match &r.same_as {
            Some(other) => {
                let other = cat.requirement(other).unwrap();
                assert_eq!((other.ism.as_str(), other.same_as.as_ref()), (r.ism.as_str(), None), "{}", r.id);
                other
            }
            None => r,
        };
        // A check that answers manual on every tenant (it reads nothing) is no Graph source.
        let graph = evaluated.check_ids.iter().any(|id| checks.iter().any(|c| c.id == id && !c.reads.is_empty()));
        let source = match (graph, &evaluated.question_id) {
            (true, _) => "graph",
            (false, Some(_)) => "questionnaire",
            (false, None) => panic!("{} has no evidence source", r.id),
        };
        for &l in &r.levels {
            *per_level.entry((l, source)).or_default() += 1;
        }
    }
    // The figures the "Done when" asks for; printed for the report.
    for ((level, source), n) in &per_level {
        println!("requirements: ML{level} {source} {n}");
    }
}

// ---- ASD's rule ------------------------------------------------------------------------------

use shared::assess::checks::Status;
use shared::assess::requirements::{
    assess, Answer, Answers, CheckEvidence, EvidenceQuality, RequirementOutcome as O, Source,
};

fn seen(id: &'static str, status: Status) -> CheckEvidence<'static> {
    let quality = match status {
        Status::Manual => None,
        _ => Some(EvidenceQuality::Good),
    };
    CheckEvidence { id, status, quality }
}

fn answers(pairs: &[(&str, Answer)]) -> Answers {
    pairs.iter().map(|(q, a)| (q.to_string(), *a)).collect()
}

/// Every question of `strategy`'s requirements up to `level`, answered `answer`.
fn answer_all(strategy: Strategy, level: u8, answer: Answer) -> Answers {
    catalogue()
        .requirements
        .iter()
        .filter(|r| r.strategy == strategy && r.level <= level)
        .filter_map(|r| r.question_id.clone())
        .map(|q| (q, answer))
        .collect()
}

#[test]
fn with_no_evidence_every_requirement_is_no_visibility_and_nothing_reaches_a_level() {
    for target in 1..=3u8 {
        let m = assess(target, &[], &Answers::new());
        assert_eq!(m.target, target);
        assert_eq!(m.overall, 0);
        let assessed = catalogue().requirements.iter().filter(|r| r.level <= target).count() as u32;
        assert_eq!((m.coverage.requirements, m.coverage.no_visibility), (assessed, assessed), "t{target}");
        assert!(m.requirements.iter().all(|r| r.source == Source::None && r.evidence_quality.is_none()));
        for s in &m.strategies {
            assert_eq!(s.level, 0, "{:?}", s.strategy);
            // What blocks ML1 is every ML1 requirement of the strategy.
            let ml1: Vec<&str> = catalogue()
                .requirements
                .iter()
                .filter(|r| r.strategy == s.strategy && r.applies_at(1))
                .map(|r| r.id.as_str())
                .collect();
            assert_eq!(s.blockers, ml1, "{:?}", s.strategy);
        }
    }
    // The reason names the missing answer.
    let m = assess(1, &[], &Answers::new());
    assert_eq!(m.requirement("RB-ML1-02").unwrap().reason, "No visibility: Q-RB-ML1-02 has no answer yet");
}

#[test]
fn graph_evidence_decides_where_it_is_whole_and_a_failure_decides_over_any_answer() {
    let all_pass = [seen("E8-MFA-01", Status::Pass), seen("E8-MFA-02", Status::Pass), seen("E8-MFA-03", Status::Pass)];
    let m = assess(1, &all_pass, &Answers::new());
    let r = m.requirement("MF-ML1-01").unwrap();
    assert_eq!((r.outcome, r.source, r.evidence_quality), (O::Effective, Source::Graph, Some(EvidenceQuality::Good)));
    assert_eq!(r.check_ids, ["E8-MFA-01", "E8-MFA-02", "E8-MFA-03"]);

    // One of the three could not see the tenant: no visibility, never a pass on two thirds.
    let partly_blind =
        [seen("E8-MFA-01", Status::Pass), seen("E8-MFA-02", Status::Manual), seen("E8-MFA-03", Status::Pass)];
    let r = assess(1, &partly_blind, &Answers::new()).requirement("MF-ML1-01").cloned().unwrap();
    assert_eq!((r.outcome, r.source), (O::NoVisibility, Source::None));
    assert!(r.reason.contains("E8-MFA-02 could not judge it"), "{}", r.reason);

    // A failed check makes it ineffective whatever was answered; the answer is shown beside.
    let failed = [seen("E8-BAK-01", Status::Fail)];
    let r = assess(1, &failed, &answers(&[("Q-RB-ML1-01", Answer::Yes)])).requirement("RB-ML1-01").cloned().unwrap();
    assert_eq!((r.outcome, r.source, r.answer.as_deref()), (O::Ineffective, Source::Graph, Some("yes")));
    assert_eq!(r.reason, "Failed on Microsoft Graph evidence: E8-BAK-01");

    // Every check not applicable: the requirement is not applicable (and counts as met).
    let r = assess(1, &[seen("E8-POS-02", Status::NotApplicable)], &Answers::new())
        .requirement("PO-ML1-08")
        .cloned()
        .unwrap();
    assert_eq!((r.outcome, r.source), (O::NotApplicable, Source::Graph));
}

#[test]
fn where_graph_shows_part_a_passing_check_needs_the_answer_too() {
    // RB-ML1-01: Microsoft 365 Backup is seen, the rest of "data, applications and settings" is not.
    let pass = [seen("E8-BAK-01", Status::Pass)];
    let r = assess(1, &pass, &Answers::new()).requirement("RB-ML1-01").cloned().unwrap();
    assert_eq!(r.outcome, O::NoVisibility);
    assert_eq!(
        r.reason,
        "No visibility: Microsoft Graph shows part of it (E8-BAK-01 passed); Q-RB-ML1-01 has no answer yet"
    );
    let r = assess(1, &pass, &answers(&[("Q-RB-ML1-01", Answer::Yes)])).requirement("RB-ML1-01").cloned().unwrap();
    assert_eq!(
        (r.outcome, r.source, r.evidence_quality),
        (O::Effective, Source::Questionnaire, Some(EvidenceQuality::Poor))
    );
    for (answer, outcome) in [
        (Answer::Partly, O::Ineffective),
        (Answer::No, O::Ineffective),
        (Answer::NotApplicable, O::NotApplicable),
        (Answer::Unknown, O::NoVisibility),
    ] {
        let r = assess(1, &pass, &answers(&[("Q-RB-ML1-01", answer)])).requirement("RB-ML1-01").cloned().unwrap();
        assert_eq!(r.outcome, outcome, "{answer:?}");
    }
}

#[test]
fn a_strategy_is_at_the_highest_level_whose_requirements_and_all_below_are_met() {
    let backups = [seen("E8-BAK-01", Status::Pass), seen("E8-BAK-03", Status::Manual), seen("E8-BAK-04", Status::Pass)];
    // Everything answered yes: regular backups reach ML3 (every RB requirement has a question).
    let m = assess(3, &backups, &answer_all(Strategy::RegularBackups, 3, Answer::Yes));
    let rb = m.strategy(Strategy::RegularBackups).unwrap();
    assert_eq!((rb.level, rb.blockers.len()), (3, 0));
    // Other strategies saw nothing: overall stays 0.
    assert_eq!(m.overall, 0);

    // "No" to the backup-admin question (RB-ML2-01, RB-ML2-02 and RB-ML3-02): ML1, blocked by the ML2 pair.
    let mut a = answer_all(Strategy::RegularBackups, 3, Answer::Yes);
    a.insert("Q-RB-ML2-01".into(), Answer::No);
    let rb = assess(3, &backups, &a).strategy(Strategy::RegularBackups).cloned().unwrap();
    assert_eq!((rb.level, rb.blockers), (1, vec!["RB-ML2-01".to_string(), "RB-ML2-02".to_string()]));

    // ML3's requirement failing leaves ML2; a level-3 gap does not show below the target.
    let failed_immutable = [seen("E8-BAK-01", Status::Pass), seen("E8-BAK-04", Status::Fail)];
    let all_yes = answer_all(Strategy::RegularBackups, 3, Answer::Yes);
    let rb = assess(3, &failed_immutable, &all_yes).strategy(Strategy::RegularBackups).cloned().unwrap();
    assert_eq!((rb.level, rb.blockers), (2, vec!["RB-ML3-03".to_string()]));
    let m2 = assess(2, &failed_immutable, &all_yes);
    let rb = m2.strategy(Strategy::RegularBackups).unwrap();
    assert_eq!((rb.level, rb.blockers.len()), (2, 0));
    assert!(m2.requirement("RB-ML3-03").is_none(), "level-3 requirements are not assessed at target 2");

    // A gap at ML1 blocks every level above it, however good they are.
    let mut a = all_yes.clone();
    a.insert("Q-RB-ML1-02".into(), Answer::Partly);
    let rb = assess(3, &backups, &a).strategy(Strategy::RegularBackups).cloned().unwrap();
    assert_eq!((rb.level, rb.blockers), (0, vec!["RB-ML1-02".to_string()]));
}

#[test]
fn requirements_replaced_at_ml3_do_not_block_ml3_and_repeated_ones_follow_their_twin() {
    // PA-ML1-07 (ML1-2) is no ML3 requirement, but ML3 needs ML1, so it is assessed at target 3.
    let m = assess(3, &[], &Answers::new());
    assert!(m.requirement("PA-ML1-07").is_some());
    // PO-ML1-01 is PA-ML1-01 again: same outcome, evaluated once.
    let pass = [seen("E8-POS-03", Status::Pass)];
    let m = assess(1, &pass, &answers(&[("Q-PA-ML1-01", Answer::Yes)]));
    let (pa, po) = (m.requirement("PA-ML1-01").unwrap(), m.requirement("PO-ML1-01").unwrap());
    assert_eq!((pa.outcome, po.outcome), (O::Effective, O::Effective));
    assert_eq!(po.strategy, "patch-os");
    assert!(po.reason.starts_with("As PA-ML1-01: "), "{}", po.reason);
    // Coverage adds up.
    let c = m.coverage;
    assert_eq!(
        c.requirements,
        c.effective + c.alternate_control + c.ineffective + c.no_visibility + c.not_implemented + c.not_applicable
    );
    assert_eq!(c.requirements, 48);
}

// ---- Through the API --------------------------------------------------------------------------

use std::sync::Arc;

use http::Method;
use serde_json::{json, Value};
use shared::assess::assessor::EngineAssessor;
use shared::assess::collect::FixtureCollector;
use shared::assess::evaluate;
use shared::assess::fixtures::{demo_fixture, demo_fixture_name};
use tests::Harness;

fn ids_of(list: &Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn a_completed_run_shows_maturity_blockers_coverage_and_its_requirements_on_both_bases() {
    let h = Harness::new().await;
    let runner = h.runner(Arc::new(EngineAssessor::new(Arc::new(FixtureCollector))), 3);
    let tenant = (0..1000).map(tests::tenant).find(|t| demo_fixture_name(t) == "hardened").unwrap();
    let cid = h.customer("Hardened", &tenant).await;
    crate::tenant_context::declare_break_glass(&h, &cid, "hardened").await;
    let body = json!({ "customerId": cid, "product": "essential-eight", "maturityTarget": 3 });
    let id = h.partner(Method::POST, "/assessments", Some(body)).await.assert_status(202)["id"]
        .as_str()
        .unwrap()
        .to_string();
    h.work(&runner).await;
    let direct = evaluate("essential-eight", 3, &crate::tenant_context::declared("hardened")).unwrap();
    let m = direct.maturity.as_ref().unwrap();

    let run = h.partner(Method::GET, &format!("/assessments/{id}"), None).await.assert_status(200).clone();
    assert_eq!(run["maturity"]["target"], 3);
    assert_eq!(run["maturity"]["overall"], m.overall);
    for s in &m.strategies {
        let shown = &run["maturity"]["byStrategy"][s.strategy.as_str()];
        assert_eq!(shown, &json!({ "level": s.level, "blockers": s.blockers }), "{:?}", s.strategy);
    }
    assert_eq!(run["coverage"], json!(m.coverage));
    assert_eq!(run["coverage"]["requirements"], 152);
    assert_eq!(run["score"], direct.score, "score stays the share of passed checks");

    // Every requirement, in catalogue order, 100 a page.
    let page1 =
        h.partner(Method::GET, &format!("/assessments/{id}/requirements"), None).await.assert_status(200).clone();
    assert_eq!(page1["runId"], id.as_str());
    assert_eq!(page1["requirements"].as_array().unwrap().len(), 100);
    let cursor = page1["nextCursor"].as_str().unwrap();
    let page2 = h
        .partner(Method::GET, &format!("/assessments/{id}/requirements?cursor={cursor}"), None)
        .await
        .assert_status(200)
        .clone();
    assert_eq!(page2["nextCursor"], Value::Null);
    let mut all = ids_of(&page1["requirements"]);
    all.extend(ids_of(&page2["requirements"]));
    assert_eq!(all, catalogue().requirements.iter().map(|r| r.id.clone()).collect::<Vec<_>>());

    // Filters: MFA's ML1 requirements; the hardened tenant's MF-ML1-01 is met on Graph evidence.
    let mfa1 = h.partner(Method::GET, &format!("/assessments/{id}/requirements?strategy=mfa&level=1"), None).await;
    let mfa1 = mfa1.assert_status(200)["requirements"].clone();
    assert_eq!(
        ids_of(&mfa1),
        ["MF-ML1-01", "MF-ML1-02", "MF-ML1-03", "MF-ML1-04", "MF-ML1-05", "MF-ML1-06", "MF-ML1-07"]
    );
    assert_eq!(
        mfa1[0],
        json!({
            "id": "MF-ML1-01", "strategy": "mfa", "level": 1, "outcome": "effective", "source": "graph",
            "evidenceQuality": "good", "checkIds": ["E8-MFA-01", "E8-MFA-02", "E8-MFA-03"], "questionId": null,
            "answer": null, "summary": catalogue().requirement("MF-ML1-01").unwrap().summary,
            "reason": "Met on Microsoft Graph evidence: E8-MFA-01, E8-MFA-02, E8-MFA-03", "exception": null,
            "dedupeKey": format!("{cid}:MF-ML1-01"),
        })
    );
    let ineffective =
        h.partner(Method::GET, &format!("/assessments/{id}/requirements?outcome=ineffective"), None).await;
    let expected: Vec<&str> =
        m.requirements.iter().filter(|r| r.outcome == O::Ineffective).map(|r| r.id.as_str()).collect();
    assert_eq!(ids_of(&ineffective.assert_status(200)["requirements"]), expected);
    assert!(expected.contains(&"MF-ML2-03"), "phishing-resistant MFA for all staff fails on the hardened tenant");
    for bad in ["strategy=MF", "level=4", "outcome=no-visibility", "outcome=pass"] {
        h.partner(Method::GET, &format!("/assessments/{id}/requirements?{bad}"), None)
            .await
            .assert_error(400, "INVALID_FIELD");
    }
    h.partner(Method::GET, "/assessments/run_unknown00000000000/requirements", None)
        .await
        .assert_error(404, "NOT_FOUND");

    // The distributor sees the same through its partner.
    let path = format!("/partners/{}/assessments/{id}/requirements?strategy=mfa&level=1", h.partner_id());
    let via = h.distributor(Method::GET, &path, None).await;
    assert_eq!(via.assert_status(200)["requirements"], mfa1);

    // Findings name their requirements and evidence quality; advisory checks name none.
    let f = h.partner(Method::GET, &format!("/assessments/{id}/findings"), None).await.assert_status(200).clone();
    let finding =
        |check: &str| f["findings"].as_array().unwrap().iter().find(|x| x["checkId"] == check).unwrap().clone();
    assert_eq!(finding("E8-MFA-07")["requirementIds"], json!(["MF-ML2-03", "MF-ML3-03"]));
    assert_eq!(finding("E8-MFA-07")["evidenceQuality"], "good");
    assert_eq!(finding("E8-OM-01")["evidenceQuality"], "fair", "an Intune policy is intent");
    assert_eq!(finding("E8-RAP-03")["evidenceQuality"], Value::Null, "manual: nothing seen");
    assert_eq!(finding("E8-RAP-01")["requirementIds"], json!([]));
}

#[tokio::test]
async fn other_products_and_unfinished_runs_list_no_requirements() {
    let h = Harness::new().await;
    let cid = h.customer("Other", &tests::tenant(7)).await;
    let id = tests::helpers::run(&h, &cid, "essential-eight").await;
    let r = h.partner(Method::GET, &format!("/assessments/{id}/requirements"), None).await;
    assert_eq!(r.assert_status(200)["requirements"], json!([]));
    assert_eq!(r.body["status"], "queued");
    assert!(h.partner(Method::GET, &format!("/assessments/{id}"), None).await.body.get("maturity").is_none());
}

// ---- The demo tenants, worked out by hand ------------------------------------------------------

/// Every question answered `yes`: what the tenant reaches once its people attest everything
/// Graph cannot show, so only Graph failures and requirements nothing can show hold it back.
fn all_yes() -> Answers {
    catalogue().questions.iter().map(|q| (q.id.clone(), Answer::Yes)).collect()
}

fn levels(m: &shared::assess::Maturity) -> Vec<u8> {
    m.strategies.iter().map(|s| s.level).collect()
}

#[test]
fn no_demo_tenant_reaches_a_level_on_missing_evidence() {
    // Every strategy has an ML1 requirement only the questionnaire settles (AC-ML1-02,
    // PA-ML1-03, OM-ML1-01, UH-ML1-03, RA-ML1-01, PO-ML1-03, MF-ML1-03, RB-ML1-02), and no run
    // has answers yet: every tenant is ML0 everywhere, however well configured.
    for name in ["hardened", "small-business", "neglected"] {
        for target in 1..=3 {
            let m = evaluate("essential-eight", target, &demo_fixture(name).unwrap()).unwrap().maturity.unwrap();
            assert_eq!((m.overall, levels(&m)), (0, vec![0; 8]), "{name} t{target}");
        }
    }

    // What Graph settles alone on the hardened tenant at target 3: the requirements with checks
    // that saw the tenant whole and no question, all of whose checks pass…
    // (Its two emergency-access accounts declared: undeclared, their exclusion fails E8-MFA-01/02.)
    let m = evaluate("essential-eight", 3, &crate::tenant_context::declared("hardened")).unwrap().maturity.unwrap();
    let effective: Vec<&str> =
        m.requirements.iter().filter(|r| r.outcome == O::Effective).map(|r| r.id.as_str()).collect();
    assert_eq!(
        effective,
        [
            "AC-ML3-03", // E8-AC-04 vulnerable driver blocklist
            "PA-ML1-07",
            "PA-ML3-02", // E8-PA-01/02/03 Microsoft 365 Apps, product updates, signatures
            "OM-ML1-02",
            "OM-ML1-03",
            "OM-ML1-04",
            "OM-ML2-01",
            "OM-ML3-01", // E8-OM-01…05
            "UH-ML1-01",
            "UH-ML1-04",
            "UH-ML2-02",
            "UH-ML2-03",
            "UH-ML2-04",
            "UH-ML2-08", // E8-UAH-01/02/03/05
            "RA-ML2-02",
            "RA-ML2-07",
            "RA-ML3-03",
            "RA-ML3-06", // E8-RAP-04/05/06/07
            "PO-ML1-07",
            "PO-ML1-08",
            "PO-ML3-03",
            "PO-ML3-04",
            "PO-ML3-09", // E8-POS-01/02/04/05
            "MF-ML1-01", // E8-MFA-01/02/03
        ]
    );
    // …and E8-MFA-07 fails (only administrators must use phishing-resistant MFA).
    let ineffective: Vec<&str> =
        m.requirements.iter().filter(|r| r.outcome == O::Ineffective).map(|r| r.id.as_str()).collect();
    assert_eq!(ineffective, ["MF-ML2-03", "MF-ML3-03"]);
    assert_eq!(m.coverage.no_visibility, 152 - 24 - 2);
}

#[test]
fn with_every_question_answered_yes_the_demo_tenants_reach_what_graph_allows() {
    let at3 = |name: &str| {
        // As customers that declared their emergency-access accounts (issue 18).
        shared::assess::evaluate_answered("essential-eight", 3, &crate::tenant_context::declared(name), &all_yes())
            .unwrap()
            .maturity
            .unwrap()
    };
    // Order: AC, PA, OM, UH, RA, PO, MF, RB.
    // Hardened: everything Graph shows passes except E8-MFA-07, so MFA stops at ML1 (MF-ML2-03).
    let m = at3("hardened");
    assert_eq!(levels(&m), [3, 3, 3, 3, 3, 3, 1, 3]);
    assert_eq!((m.overall, m.strategy(Strategy::Mfa).unwrap().blockers.clone()), (1, vec!["MF-ML2-03".to_string()]));

    // Small business: a Graph failure at ML1 in six strategies (E8-AC-01, E8-OM-02, E8-UAH-02,
    // E8-RAP-02, E8-POS-02, E8-MFA-02/03); patch applications (E8-PA-01…03 pass) and backups
    // (nothing in Graph: no Microsoft 365 Backup, so the answers decide) reach ML3.
    let m = at3("small-business");
    assert_eq!(levels(&m), [0, 3, 0, 0, 0, 0, 0, 3]);
    let blockers: Vec<Vec<String>> = m.strategies.iter().map(|s| s.blockers.clone()).collect();
    let b = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        blockers,
        [
            b(&["AC-ML1-01"]),
            b(&[]),
            b(&["OM-ML1-03"]),
            b(&["UH-ML1-04"]),
            b(&["RA-ML1-02", "RA-ML1-03"]),
            b(&["PO-ML1-08"]),
            b(&["MF-ML1-01"]),
            b(&[])
        ]
    );

    // Neglected (no Intune, no Entra P1): attestations carry application control to ML2 (its
    // ML1/ML2 requirements all have a question) but not ML3: E8-AC-04 saw nothing and
    // AC-ML3-03 has no question. Where a requirement has Graph checks and no question, a check
    // that saw nothing leaves it no_visibility (PA-ML1-07, OM-ML1-02…); failures block the rest.
    let m = at3("neglected");
    assert_eq!(levels(&m), [2, 0, 0, 0, 0, 0, 0, 3]);
    assert_eq!(m.strategy(Strategy::ApplicationControl).unwrap().blockers, ["AC-ML3-03"]);
    assert_eq!(m.requirement("PA-ML1-07").unwrap().outcome, O::NoVisibility);
    assert_eq!(m.requirement("MF-ML1-01").unwrap().outcome, O::Ineffective);
    assert_eq!(m.overall, 0);
}

#[tokio::test]
async fn the_report_shows_the_requirement_matrix_per_strategy_blockers_and_evidence_quality() {
    let h = Harness::new().await;
    let runner = h.runner(Arc::new(EngineAssessor::new(Arc::new(FixtureCollector))), 3);
    let tenant = (0..1000).map(tests::tenant).find(|t| demo_fixture_name(t) == "hardened").unwrap();
    let cid = h.customer("Hardened <b>", &tenant).await;
    crate::tenant_context::declare_break_glass(&h, &cid, "hardened").await;
    let body = json!({ "customerId": cid, "product": "essential-eight", "maturityTarget": 3 });
    let id = h.partner(Method::POST, "/assessments", Some(body)).await.assert_status(202)["id"]
        .as_str()
        .unwrap()
        .to_string();
    h.work(&runner).await;
    let run = h.partner(Method::GET, &format!("/assessments/{id}"), None).await;
    let url = run.body["reportUrl"].as_str().unwrap().to_string();
    let page = h.request(Method::GET, url.trim_start_matches("http://127.0.0.1:3000"), &[], None).await;
    assert_eq!(page.status, 200);
    let html = String::from_utf8(page.raw.to_vec()).unwrap();
    let m = evaluate("essential-eight", 3, &crate::tenant_context::declared("hardened")).unwrap().maturity.unwrap();
    // Coverage, then the strategy table with what blocks each next level.
    let c = m.coverage;
    assert!(html.contains(&format!(
        "{} requirements assessed: {} effective, 0 alternate control, {} ineffective, {} no visibility",
        c.requirements, c.effective, c.ineffective, c.no_visibility
    )));
    let mfa_blockers = m.strategy(Strategy::Mfa).unwrap().blockers.join(", ");
    // The roadmap lists MFA's blockers of the next level (each id once there).
    let roadmap = html.split("<h2 id=\"roadmap\">").nth(1).unwrap().split("<h2 id=\"detail\">").next().unwrap();
    for id in mfa_blockers.split(", ") {
        assert!(roadmap.contains(&format!("{id} · ")), "{id} in the roadmap");
    }
    // One matrix per strategy, each requirement with outcome, source, quality and why.
    for name in ["Application control", "Regular backups", "Multi-factor authentication"] {
        assert!(html.contains(&format!("<h4>{name}: Maturity Level Zero</h4>")), "{name}");
    }
    let row = |id: &str| {
        let start = html
            .find(&format!("<tr class=\"requirement\"><th scope=\"row\"><strong>{id}</strong>"))
            .unwrap_or_else(|| panic!("no row {id}"));
        html[start..start + html[start..].find("</tr>").unwrap()].to_string()
    };
    let mf = row("MF-ML1-01");
    assert!(
        mf.contains(
            "<td class=\"effective\">Effective</td><td>Microsoft Graph</td><td>Good</td><td>E8-MFA-01, E8-MFA-02, E8-MFA-03</td>"
        ),
        "{mf}"
    );
    let mf = row("MF-ML2-03");
    assert!(mf.contains("<td class=\"ineffective\">Ineffective</td><td>Microsoft Graph</td><td>Good</td>"), "{mf}");
    let rb = row("RB-ML1-02");
    assert!(rb.contains("<td class=\"no_visibility\">No visibility</td><td>None</td><td>—</td><td>Q-RB-ML1-02</td><td>No visibility: Q-RB-ML1-02 has no answer yet"), "{rb}");
    assert_eq!(html.matches("<tr class=\"requirement\">").count(), 152, "every requirement once");
    // Findings name their requirements and evidence quality.
    assert!(html.contains("requirements MF-ML2-03, MF-ML3-03 · evidence quality good"));
    assert!(html.contains("Hardened &lt;b&gt;"), "escaped as before");
}

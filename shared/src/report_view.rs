//! What the customer's report says, worked out once from a completed run (issue 17): the
//! first screen (headline and executive summary), the maturity picture, the roadmap and the
//! detail. The HTML page (`templates/report/report.html`) and the PDF (`report_pdf`) both
//! render this one view, so they say the same thing; templates only lay it out.
//!
//! Words are ASD's (Essential Eight maturity model and assessment process guide): "Maturity
//! Level One", the strategies' names, the outcomes "Effective", "No visibility", …. Values
//! here are plain text: each renderer escapes them for its own format.

use std::collections::HashMap;

use serde::Serialize;

use crate::assess::requirements::catalogue::catalogue;
use crate::domain::branding::Brand;
use crate::domain::catalog::Product;
use crate::domain::requirement::{EvidenceSource, RequirementOutcome, RequirementRecord};
use crate::domain::run::{CheckStatus, Finding, Run, RunReport, Severity};
use crate::domain::time::{rfc3339, Timestamp};
use crate::domain::trend::Change;

/// How many blockers the executive summary names.
pub const SUMMARY_BLOCKERS: usize = 3;

/// Everything one report needs: the run, its stored report, and the previous run's report for
/// the trend (`None` on a first run, or when that run is gone).
pub struct ReportInput<'a> {
    pub brand: &'a Brand,
    pub customer_name: &'a str,
    pub product: &'a Product,
    pub run: &'a Run,
    pub report: &'a RunReport,
    pub previous: Option<&'a RunReport>,
}

/// The report, ready to lay out. Serialised as the HTML template's context and as the PDF's
/// `data.json`.
#[derive(Debug, Serialize)]
pub struct ReportView {
    pub brand: BrandView,
    pub customer: String,
    pub product: String,
    pub run_id: String,
    /// The completion day in words (`1 December 2026`, UTC), and as RFC 3339.
    pub date: String,
    pub completed: String,
    /// 0–100; `None` for a run without results.
    pub score: Option<u8>,
    pub counts: Option<Counts>,
    /// Essential Eight only: the overall level against the target.
    pub maturity: Option<MaturityView>,
    pub summary: SummaryView,
    /// Essential Eight only: one row per strategy, in ASD's order (the maturity picture).
    pub strategies: Vec<StrategyView>,
    /// The maturity picture's text alternative: every strategy's label (and trend).
    pub picture_desc: String,
    /// Essential Eight only: the strategies below target, with what to do, level by level.
    pub roadmap: Vec<RoadmapStrategy>,
    /// Essential Eight only: every assessed requirement, per strategy.
    pub matrix: Vec<MatrixStrategy>,
    /// Essential Eight only: how many assessed requirements ended in each outcome, in words.
    pub coverage: Option<String>,
    /// Failed checks, most severe first, grouped by severity (empty groups left out).
    pub failed_groups: Vec<FindingGroup>,
    /// Every other check (passed, manual, not applicable).
    pub others: Vec<FindingView>,
    /// Whether the run was compared with a previous one (its findings carry a change).
    pub compared: bool,
}

/// The partner's brand as the report shows it.
#[derive(Debug, Serialize)]
pub struct BrandView {
    pub company: String,
    /// `#RRGGBB`.
    pub color: String,
    pub logo_url: Option<String>,
    pub footer_text: Option<String>,
    pub contact_email: Option<String>,
}

/// The failed checks by severity (P13's counts).
#[derive(Debug, Serialize)]
pub struct Counts {
    pub findings: u32,
    pub critical: u32,
    pub high: u32,
    pub medium: u32,
    pub low: u32,
}

/// The overall level against the target, in ASD's words.
#[derive(Debug, Serialize)]
pub struct MaturityView {
    pub overall: u8,
    pub target: u8,
    /// `Maturity Level Zero of Three targeted`.
    pub headline: String,
    /// `Maturity Level Zero`.
    pub overall_name: String,
    /// `Maturity Level Three`.
    pub target_name: String,
    /// The level to reach next (`overall + 1`), `None` once the target is reached.
    pub next_level: Option<u8>,
    pub next_level_name: Option<String>,
}

/// The executive summary: what blocks the next level (or, for products without maturity
/// levels, the most severe failed checks) and what changed since the previous run.
#[derive(Debug, Serialize)]
pub struct SummaryView {
    /// One sentence on where the customer stands.
    pub standing: String,
    /// At most [`SUMMARY_BLOCKERS`], most urgent first.
    pub top: Vec<TopItem>,
    /// How many things block the next level in all (or failed checks, without levels).
    pub total: usize,
    /// What changed since the previous run; `None` on a first run.
    pub changes: Option<String>,
}

/// One of the summary's things to do first.
#[derive(Debug, Serialize)]
pub struct TopItem {
    /// The requirement id (`MF-ML1-01`) or the check id.
    pub id: String,
    pub title: String,
    /// The strategy's name (Essential Eight) or the severity's word.
    pub context: String,
    /// What to do, in a sentence.
    pub action: String,
}

/// One strategy in the maturity picture.
#[derive(Debug, Serialize)]
pub struct StrategyView {
    pub slug: String,
    pub name: String,
    pub level: u8,
    pub level_name: String,
    pub target: u8,
    /// The level in the previous run, when there was one and it assessed this strategy.
    pub previous_level: Option<u8>,
    /// `Maturity Level Zero → One`, `unchanged at Maturity Level One`, or none.
    pub trend: Option<String>,
    /// `Maturity Level One of Three targeted`, the row's label.
    pub label: String,
    /// `Level One of Three`, the picture's short label, and `was Zero` when it moved or
    /// `unchanged` when it did not (none on a first run).
    pub short_label: String,
    pub short_trend: Option<String>,
    /// For each of levels 1–3: `reached`, `missing` (targeted, not reached) or `beyond` (above
    /// the target). Shapes and labels carry it, not colour alone.
    pub cells: Vec<&'static str>,
}

/// A strategy below target and what it takes to reach the target.
#[derive(Debug, Serialize)]
pub struct RoadmapStrategy {
    pub name: String,
    pub level_name: String,
    pub steps: Vec<RoadmapStep>,
}

/// The requirements to meet for one level.
#[derive(Debug, Serialize)]
pub struct RoadmapStep {
    pub level: u8,
    pub level_name: String,
    pub items: Vec<RoadmapItem>,
}

/// One requirement that blocks a level: what to fix and the evidence that would close it.
#[derive(Debug, Serialize)]
pub struct RoadmapItem {
    pub id: String,
    pub summary: String,
    pub outcome: String,
    /// The most severe of its failed checks (`Critical`, …); `None` when no check failed.
    pub severity: Option<&'static str>,
    /// The failed checks' remediations (each once).
    pub remediation: Vec<String>,
    /// What would close it: Graph settings to change, or a questionnaire answer to give.
    pub close_by: Vec<CloseBy>,
}

/// Evidence that would close a requirement.
#[derive(Debug, Serialize)]
pub struct CloseBy {
    /// `graph` or `questionnaire`.
    pub kind: &'static str,
    /// `Microsoft Graph setting` or `Questionnaire answer`.
    pub label: &'static str,
    pub text: String,
}

/// One strategy's block of the requirement matrix.
#[derive(Debug, Serialize)]
pub struct MatrixStrategy {
    pub name: String,
    pub level_name: String,
    pub requirements: Vec<RequirementRow>,
}

/// One requirement row of the matrix. `record` is the stored record as the requirements route
/// shows it (camelCase), so a partial can show a field the record gains without a change here.
#[derive(Debug, Serialize)]
pub struct RequirementRow {
    pub id: String,
    pub level: u8,
    pub summary: String,
    pub outcome: String,
    /// The outcome's wire spelling, for the style.
    pub outcome_class: &'static str,
    pub source: &'static str,
    pub quality: &'static str,
    /// The checks and question that evidence it.
    pub evidence: String,
    pub reason: String,
    /// The questionnaire answer the run used, in words (`not applicable`); who gave it (the
    /// recipient's address, or "the provider"), on which day (`YYYY-MM-DD`, UTC), and its note
    /// (`templates/report/_answer.html`).
    pub answer: Option<String>,
    pub answered_by: Option<String>,
    pub answered_at: Option<String>,
    pub note: Option<String>,
    /// The exception the run applied (`templates/report/_exception.html`; issue 18).
    pub exception: Option<ExceptionView>,
    pub record: RequirementRecord,
}

/// An applied exception as the report shows it beside the outcome.
#[derive(Debug, Serialize)]
pub struct ExceptionView {
    /// `alternate_control` or `risk_accepted`.
    pub kind: &'static str,
    pub id: String,
    pub owner: String,
    pub approved_by: String,
    /// RFC 3339, UTC.
    pub expires_at: String,
    pub rationale: String,
    pub compensating_control: String,
}

/// The failed checks of one severity.
#[derive(Debug, Serialize)]
pub struct FindingGroup {
    pub severity: &'static str,
    /// `Critical`, …
    pub name: &'static str,
    pub findings: Vec<FindingView>,
}

/// A check's finding as the report shows it.
#[derive(Debug, Serialize)]
pub struct FindingView {
    pub severity: &'static str,
    pub severity_name: &'static str,
    pub check_id: String,
    pub title: String,
    /// `Failed`, `Passed`, `Manual check`, `Not applicable`.
    pub outcome: &'static str,
    /// The change's wire word (`new`, …), for the style, and its words (`Newly failing`, …).
    pub change: Option<&'static str>,
    pub change_words: Option<&'static str>,
    pub evidence: String,
    pub rationale: String,
    pub remediation: String,
    /// `essential-eight ML1-MFA (level 1)`, one per framework reference.
    pub references: Vec<String>,
    pub requirement_ids: Vec<String>,
    pub evidence_quality: Option<&'static str>,
    /// The Graph responses the verdict rests on: path, when, SHA-256.
    pub collected: Vec<CollectedView>,
}

/// One Graph response behind a finding.
#[derive(Debug, Serialize)]
pub struct CollectedView {
    pub path: String,
    pub at: String,
    pub sha256: String,
}

/// `Maturity Level Zero` … `Maturity Level Three` (ASD's words).
pub fn level_name(level: u8) -> String {
    format!("Maturity Level {}", number_word(level))
}

fn number_word(n: u8) -> String {
    match n {
        0 => "Zero".into(),
        1 => "One".into(),
        2 => "Two".into(),
        3 => "Three".into(),
        n => n.to_string(),
    }
}

/// The eight strategies' names as ASD writes them, by the slug runs store.
pub fn strategy_name(slug: &str) -> &str {
    match slug {
        "application-control" => "Application control",
        "patch-applications" => "Patch applications",
        "office-macros" => "Configure Microsoft Office macro settings",
        "user-application-hardening" => "User application hardening",
        "restrict-admin-privileges" => "Restrict administrative privileges",
        "patch-os" => "Patch operating systems",
        "mfa" => "Multi-factor authentication",
        "regular-backups" => "Regular backups",
        other => other,
    }
}

/// An outcome in ASD's words (assessment process guide).
pub fn outcome_name(outcome: RequirementOutcome) -> &'static str {
    match outcome {
        RequirementOutcome::Effective => "Effective",
        RequirementOutcome::AlternateControl => "Alternate control",
        RequirementOutcome::Ineffective => "Ineffective",
        RequirementOutcome::NoVisibility => "No visibility",
        RequirementOutcome::NotImplemented => "Not implemented",
        RequirementOutcome::NotApplicable => "Not applicable",
    }
}

fn source_name(source: EvidenceSource) -> &'static str {
    match source {
        EvidenceSource::Graph => "Microsoft Graph",
        EvidenceSource::Questionnaire => "Questionnaire",
        EvidenceSource::None => "None",
    }
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "Critical",
        Severity::High => "High",
        Severity::Medium => "Medium",
        Severity::Low => "Low",
    }
}

fn check_outcome_name(s: CheckStatus) -> &'static str {
    match s {
        CheckStatus::Pass => "Passed",
        CheckStatus::Fail => "Failed",
        CheckStatus::Manual => "Manual check",
        CheckStatus::NotApplicable => "Not applicable",
    }
}

fn change_words(c: Change) -> &'static str {
    match c {
        Change::New => "Newly failing",
        Change::Persisting => "Still failing",
        Change::Fixed => "Fixed",
        Change::Unchanged => "Still passing",
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `1 December 2026` (UTC).
fn day_words(at: Timestamp) -> String {
    chrono::DateTime::from_timestamp(at.unix(), 0).map(|d| d.format("%-d %B %Y").to_string()).unwrap_or_default()
}

/// The failed checks behind each requirement id.
fn failed_checks_by_requirement(findings: &[Finding]) -> HashMap<&str, Vec<&Finding>> {
    let mut by: HashMap<&str, Vec<&Finding>> = HashMap::new();
    for f in findings.iter().filter(|f| f.outcome == CheckStatus::Fail) {
        for r in &f.requirement_ids {
            by.entry(r.as_str()).or_default().push(f);
        }
    }
    by
}

/// A requirement that is not met, with what ranks it: level first, then the most severe of
/// its failed checks (none ranks last), then the strategy's place in ASD's order, then the id.
struct Blocker<'a> {
    record: &'a RequirementRecord,
    severity: Option<Severity>,
    strategy_rank: usize,
    failed: Vec<&'a Finding>,
}

impl Blocker<'_> {
    fn key(&self) -> (u8, u8, usize, &str) {
        let sev = self.severity.map_or(4, |s| s as u8);
        (self.record.level, sev, self.strategy_rank, &self.record.id)
    }
}

fn blockers<'a>(report: &'a RunReport, failed: &HashMap<&str, Vec<&'a Finding>>, up_to_level: u8) -> Vec<Blocker<'a>> {
    let rank: HashMap<&str, usize> =
        report.maturity_by_strategy.iter().enumerate().map(|(i, m)| (m.strategy.as_str(), i)).collect();
    let mut out: Vec<Blocker<'a>> = report
        .requirements
        .iter()
        .filter(|r| !r.outcome.meets() && r.level <= up_to_level)
        .map(|r| {
            let failed = failed.get(r.id.as_str()).cloned().unwrap_or_default();
            Blocker {
                record: r,
                severity: failed.iter().map(|f| f.severity).min(),
                strategy_rank: rank.get(r.strategy.as_str()).copied().unwrap_or(usize::MAX),
                failed,
            }
        })
        .collect();
    out.sort_by(|a, b| a.key().cmp(&b.key()));
    out
}

/// The summary's blockers: the most urgent blocker of each of the most urgent strategies, so
/// three different strategies are named when three block; the rest in rank order after.
fn pick_top<'a, 'b>(ranked: &'b [Blocker<'a>]) -> Vec<&'b Blocker<'a>> {
    let mut top: Vec<&Blocker<'_>> = Vec::new();
    for b in ranked {
        if top.len() < SUMMARY_BLOCKERS && !top.iter().any(|t| t.record.strategy == b.record.strategy) {
            top.push(b);
        }
    }
    for b in ranked {
        if top.len() >= SUMMARY_BLOCKERS {
            break;
        }
        if !top.iter().any(|t| std::ptr::eq(*t, b)) {
            top.push(b);
        }
    }
    top.sort_by(|a, b| a.key().cmp(&b.key()));
    top
}

/// What would close `b`: each failed check's setting, and the question to answer.
fn close_by(b: &Blocker<'_>) -> Vec<CloseBy> {
    let mut out: Vec<CloseBy> = b
        .failed
        .iter()
        .map(|f| CloseBy {
            kind: "graph",
            label: "Microsoft Graph setting",
            text: format!("{} ({}): {}", f.title, f.check_id, f.remediation),
        })
        .collect();
    if let Some(q) = &b.record.question_id {
        if b.record.answer.as_deref() != Some("yes") {
            let text = match catalogue().question(q) {
                Some(question) => format!("Answer “yes” to {q}: {} {}", question.prompt, question.help),
                None => format!("Answer “yes” to {q}."),
            };
            out.push(CloseBy { kind: "questionnaire", label: "Questionnaire answer", text });
        }
    }
    if out.is_empty() {
        // Neither a failed check nor a question: the catalogue names the evidence ASD expects.
        let text =
            catalogue().requirement(&b.record.id).map_or_else(|| b.record.reason.clone(), |r| r.evidence.clone());
        out.push(CloseBy { kind: "graph", label: "Evidence", text });
    }
    out
}

/// The sentence for a summary blocker: the first thing that would close it.
fn action(b: &Blocker<'_>) -> String {
    if let Some(f) = b.failed.first() {
        return f.remediation.clone();
    }
    match &b.record.question_id {
        Some(q) => match catalogue().question(q) {
            Some(question) => format!("Answer the questionnaire ({q}): {}", question.prompt),
            None => format!("Answer the questionnaire ({q})."),
        },
        None => b.record.reason.clone(),
    }
}

fn finding_view(f: &Finding) -> FindingView {
    FindingView {
        severity: f.severity.as_str(),
        severity_name: severity_name(f.severity),
        check_id: f.check_id.clone(),
        title: f.title.clone(),
        outcome: check_outcome_name(f.outcome),
        change: f.change.map(|c| c.as_str()),
        change_words: f.change.map(change_words),
        evidence: f.evidence.clone(),
        rationale: f.rationale.clone(),
        remediation: f.remediation.clone(),
        references: f
            .references
            .iter()
            .map(|r| match r.level {
                Some(l) => format!("{} {} (level {l})", r.framework, r.id),
                None => format!("{} {}", r.framework, r.id),
            })
            .collect(),
        requirement_ids: f.requirement_ids.clone(),
        evidence_quality: f.evidence_quality.map(|q| q.as_str()),
        collected: f
            .collected
            .iter()
            .map(|c| CollectedView { path: c.path.clone(), at: c.at.clone(), sha256: c.sha256.clone() })
            .collect(),
    }
}

fn requirement_row(r: &RequirementRecord) -> RequirementRow {
    let mut evidence: Vec<String> = r.check_ids.clone();
    evidence.extend(r.question_id.iter().map(|q| match &r.answer {
        Some(a) => format!("{q} (answered {})", a.replace('_', " ")),
        None => q.clone(),
    }));
    RequirementRow {
        id: r.id.clone(),
        level: r.level,
        summary: r.summary.clone(),
        outcome: outcome_name(r.outcome).to_string(),
        outcome_class: r.outcome.as_str(),
        source: source_name(r.source),
        quality: r.evidence_quality.map_or("—", |q| match q.as_str() {
            "excellent" => "Excellent",
            "good" => "Good",
            "fair" => "Fair",
            _ => "Poor",
        }),
        evidence: evidence.join(", "),
        reason: r.reason.clone(),
        answer: r.answer.as_deref().map(|a| a.replace('_', " ")),
        answered_by: r.answered_by.as_ref().map(|b| match b {
            crate::domain::questionnaire::AnsweredBy::Customer { email } => email.clone(),
            crate::domain::questionnaire::AnsweredBy::Partner => "the provider".to_string(),
        }),
        answered_at: r.answered_at.as_deref().map(|t| t.get(..10).unwrap_or(t).to_string()),
        note: r.note.clone(),
        exception: r.exception.as_ref().map(|e| ExceptionView {
            kind: e.kind.as_str(),
            id: e.id.clone(),
            owner: e.owner.clone(),
            approved_by: e.approved_by.clone(),
            expires_at: e.expires_at.clone(),
            rationale: e.rationale.clone(),
            compensating_control: e.compensating_control.clone().unwrap_or_default(),
        }),
        record: r.clone(),
    }
}

/// The trend sentence of the summary: check changes and strategies whose level moved.
fn changes_sentence(run: &Run, strategies: &[StrategyView]) -> Option<String> {
    let c = run.results.as_ref()?.changes?;
    let mut s = format!(
        "Since the previous assessment: {} newly failing, {} fixed, {} still failing.",
        plural(c.new_failures as usize, "check", "checks"),
        c.fixed,
        c.persisting
    );
    let moved: Vec<String> = strategies
        .iter()
        .filter(|v| v.previous_level.is_some_and(|p| p != v.level))
        .map(|v| format!("{} {}", v.name, v.trend.as_deref().unwrap_or_default()))
        .collect();
    if moved.is_empty() && strategies.iter().any(|v| v.previous_level.is_some()) {
        s.push_str(" No strategy changed level.");
    } else if !moved.is_empty() {
        s.push_str(&format!(" {}.", moved.join("; ")));
    }
    Some(s)
}

/// The report of `input`, worked out.
pub fn build(input: &ReportInput<'_>) -> ReportView {
    let ReportInput { brand, customer_name, product, run, report, previous } = *input;
    let results = run.results.as_ref();
    let failed = failed_checks_by_requirement(&report.findings);
    let target = run.maturity_target;

    let previous_levels: HashMap<&str, u8> = previous
        .map(|p| p.maturity_by_strategy.iter().map(|m| (m.strategy.as_str(), m.level)).collect())
        .unwrap_or_default();
    let strategies: Vec<StrategyView> = report
        .maturity_by_strategy
        .iter()
        .map(|m| {
            let previous_level = previous_levels.get(m.strategy.as_str()).copied();
            let trend = previous_level.map(|p| {
                if p == m.level {
                    format!("unchanged at {}", level_name(p))
                } else {
                    format!("{} → {}", level_name(p), number_word(m.level))
                }
            });
            StrategyView {
                slug: m.strategy.clone(),
                name: strategy_name(&m.strategy).to_string(),
                level: m.level,
                level_name: level_name(m.level),
                target,
                previous_level,
                trend,
                label: format!("{} of {} targeted", level_name(m.level), number_word(target)),
                short_label: format!("Level {} of {}", number_word(m.level), number_word(target)),
                short_trend: previous_level.map(|p| {
                    if p == m.level {
                        "unchanged".to_string()
                    } else {
                        format!("was {}", number_word(p))
                    }
                }),
                cells: (1..=3u8)
                    .map(|l| {
                        if l <= m.level {
                            "reached"
                        } else if l <= target {
                            "missing"
                        } else {
                            "beyond"
                        }
                    })
                    .collect(),
            }
        })
        .collect();

    let maturity = report.maturity.map(|overall| {
        let next_level = (overall < target).then_some(overall + 1);
        MaturityView {
            overall,
            target,
            headline: format!("{} of {} targeted", level_name(overall), number_word(target)),
            overall_name: level_name(overall),
            target_name: level_name(target),
            next_level,
            next_level_name: next_level.map(level_name),
        }
    });

    let summary = match &maturity {
        Some(m) => {
            let ranked = m.next_level.map(|next| blockers(report, &failed, next)).unwrap_or_default();
            let top = pick_top(&ranked)
                .into_iter()
                .map(|b| TopItem {
                    id: b.record.id.clone(),
                    title: b.record.summary.clone(),
                    context: format!(
                        "{}, {}",
                        strategy_name(&b.record.strategy),
                        level_name(b.record.level).replace("Maturity Level", "level")
                    ),
                    action: action(b),
                })
                .collect();
            let standing = match (m.next_level_name.as_deref(), report.requirements.is_empty()) {
                (None, _) => format!(
                    "{customer_name} has reached the targeted {} of the Essential Eight.",
                    m.target_name
                ),
                (Some(next), false) => format!(
                    "{customer_name} is at {} of the Essential Eight; the target is {}. {} stand between it and {next}; the three to start with:",
                    m.overall_name,
                    m.target_name,
                    plural(ranked.len(), "requirement", "requirements")
                ),
                (Some(_), true) => {
                    format!("{customer_name} is at {} of the Essential Eight; the target is {}.", m.overall_name, m.target_name)
                }
            };
            SummaryView { standing, top, total: ranked.len(), changes: changes_sentence(run, &strategies) }
        }
        None => {
            let mut failing: Vec<&Finding> =
                report.findings.iter().filter(|f| f.outcome == CheckStatus::Fail).collect();
            failing.sort_by_key(|f| f.severity);
            let standing = match results {
                Some(r) => format!(
                    "{customer_name} scores {} of 100 on {}, with {}; the most severe to fix first:",
                    r.score,
                    product.name,
                    plural(failing.len(), "failed check", "failed checks")
                ),
                None => format!("{customer_name}'s {} assessment has no results.", product.name),
            };
            let top = failing
                .iter()
                .take(SUMMARY_BLOCKERS)
                .map(|f| TopItem {
                    id: f.check_id.clone(),
                    title: f.title.clone(),
                    context: severity_name(f.severity).to_string(),
                    action: f.remediation.clone(),
                })
                .collect();
            SummaryView { standing, top, total: failing.len(), changes: changes_sentence(run, &strategies) }
        }
    };

    // The roadmap: each strategy below target, its unmet requirements up to the target.
    let all_blockers = blockers(report, &failed, target);
    let roadmap: Vec<RoadmapStrategy> = report
        .maturity_by_strategy
        .iter()
        .filter(|m| m.level < target)
        .filter_map(|m| {
            let steps: Vec<RoadmapStep> = (m.level + 1..=target)
                .filter_map(|level| {
                    let items: Vec<RoadmapItem> = all_blockers
                        .iter()
                        .filter(|b| b.record.strategy == m.strategy && b.record.level == level)
                        .map(|b| {
                            let mut remediation: Vec<String> = Vec::new();
                            for f in &b.failed {
                                if !remediation.contains(&f.remediation) {
                                    remediation.push(f.remediation.clone());
                                }
                            }
                            RoadmapItem {
                                id: b.record.id.clone(),
                                summary: b.record.summary.clone(),
                                outcome: outcome_name(b.record.outcome).to_string(),
                                severity: b.severity.map(severity_name),
                                remediation,
                                close_by: close_by(b),
                            }
                        })
                        .collect();
                    (!items.is_empty()).then(|| RoadmapStep { level, level_name: level_name(level), items })
                })
                .collect();
            (!steps.is_empty()).then(|| RoadmapStrategy {
                name: strategy_name(&m.strategy).to_string(),
                level_name: level_name(m.level),
                steps,
            })
        })
        .collect();

    let matrix: Vec<MatrixStrategy> = report
        .maturity_by_strategy
        .iter()
        .map(|m| MatrixStrategy {
            name: strategy_name(&m.strategy).to_string(),
            level_name: level_name(m.level),
            requirements: report
                .requirements
                .iter()
                .filter(|r| r.strategy == m.strategy)
                .map(requirement_row)
                .collect(),
        })
        .filter(|m| !m.requirements.is_empty())
        .collect();

    let failed_groups: Vec<FindingGroup> = Severity::ALL
        .iter()
        .filter_map(|sev| {
            let findings: Vec<FindingView> = report
                .findings
                .iter()
                .filter(|f| f.outcome == CheckStatus::Fail && f.severity == *sev)
                .map(finding_view)
                .collect();
            (!findings.is_empty()).then(|| FindingGroup { severity: sev.as_str(), name: severity_name(*sev), findings })
        })
        .collect();
    let others: Vec<FindingView> =
        report.findings.iter().filter(|f| f.outcome != CheckStatus::Fail).map(finding_view).collect();

    ReportView {
        brand: BrandView {
            company: brand.company.clone(),
            color: brand.color.clone(),
            logo_url: brand.logo_url.clone(),
            footer_text: brand.footer_text.clone(),
            contact_email: brand.contact_email.as_ref().map(|e| e.to_string()),
        },
        customer: customer_name.to_string(),
        product: product.name.clone(),
        run_id: run.id.to_string(),
        date: run.completed_at.map(day_words).unwrap_or_default(),
        completed: run.completed_at.map(rfc3339).unwrap_or_default(),
        score: results.map(|r| r.score),
        counts: results.map(|r| Counts {
            findings: r.findings,
            critical: r.critical,
            high: r.high,
            medium: r.medium,
            low: r.low,
        }),
        maturity,
        summary,
        picture_desc: strategies
            .iter()
            .map(|s| match &s.trend {
                Some(t) => format!("{}: {} ({t})", s.name, s.label),
                None => format!("{}: {}", s.name, s.label),
            })
            .collect::<Vec<_>>()
            .join("; "),
        strategies,
        roadmap,
        matrix,
        coverage: report.coverage.map(|c| {
            format!(
                "{} requirements assessed: {} effective, {} alternate control, {} ineffective, {} no visibility, {} not implemented, {} not applicable.",
                c.requirements, c.effective, c.alternate_control, c.ineffective, c.no_visibility, c.not_implemented, c.not_applicable
            )
        }),
        failed_groups,
        others,
        compared: results.is_some_and(|r| r.previous_run_id.is_some()),
    }
}

//! The assessment runner (`worker.assessment-runner`): takes one run message, moves the run
//! queued → running → completed | failed with conditional writes, and records each move's
//! event in the same write. SQS delivers at least once, so every step is safe to repeat:
//! a duplicate or stale message finds the run held or finished and changes nothing, a
//! delivery after a crash takes the run over once its lease has passed, and the last
//! allowed delivery ends the run `failed` instead of leaving it running forever.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;

use crate::config::Secrets;
use crate::domain::account::{Owner, Partner};
use crate::domain::consent::ConsentStatus;
use crate::domain::drift;
use crate::domain::event::{Event, EventType};
use crate::domain::ids::IdGen;
use crate::domain::run::{Run, RunError, RunReport, RunResults, RunStatus};
use crate::domain::time::Clock;
use crate::domain::time::Timestamp;
use crate::domain::trend::{self, Changes, LatestRun};
use crate::queue::{Ack, RunMessage, RunQueue};
use crate::reports;
use crate::store::{RunClaim, RunStore, RunnerStore, StoreError};
use crate::usecases::consent::{self, ConsentChange, NotRecorded};
use crate::usecases::Ids;

/// What an assessment found, ready to store.
#[derive(Clone, Debug, PartialEq)]
pub struct Assessed {
    pub score: u8,
    pub critical: u32,
    pub high: u32,
    pub medium: u32,
    pub low: u32,
    pub report: RunReport,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AssessFailure {
    /// Worth another delivery (throttling, an outage).
    #[error("{message}")]
    Transient { code: String, message: String },
    /// Retrying cannot help (consent missing, unknown tenant): the run fails now.
    #[error("{message}")]
    Permanent { code: String, message: String },
}

/// Collects a tenant's configuration and evaluates it for a product.
#[async_trait]
pub trait Assessor: Send + Sync {
    async fn assess(&self, tenant_id: &str, product: &str, maturity_target: u8) -> Result<Assessed, AssessFailure>;

    /// As [`Assessor::assess`], with the customer's questionnaire answers that count when the
    /// run starts (question id → answer; contract, "Questionnaire") and its tenant context, which
    /// the checks honour (declared emergency-access accounts and approved exclusions are not
    /// gaps; issue 18). An assessor that reads neither (a test double) need not override it.
    async fn assess_in(
        &self,
        tenant_id: &str,
        product: &str,
        maturity_target: u8,
        answers: &crate::assess::requirements::Answers,
        context: &crate::domain::context::TenantContext,
    ) -> Result<Assessed, AssessFailure> {
        let _ = (answers, context);
        self.assess(tenant_id, product, maturity_target).await
    }
}

/// Adds to each requirement record whose answer the run used who gave it, when, and the note
/// (the rule records only the answer itself).
fn annotate(
    report: &mut RunReport,
    used: &std::collections::BTreeMap<String, crate::domain::questionnaire::StoredAnswer>,
) {
    for r in &mut report.requirements {
        if let Some(a) = r.question_id.as_ref().and_then(|q| used.get(q)) {
            r.answered_by = Some(a.answered_by.clone());
            r.answered_at = Some(a.answered_at.rfc3339());
            r.note.clone_from(&a.note);
        }
    }
}

/// A run's error code when the tenant may not be read (contract, "Tenant consent").
pub const CONSENT_REQUIRED: &str = "CONSENT_REQUIRED";

/// Times a completing run reads the latest run again when another completed meanwhile.
const COMPARE_ATTEMPTS: usize = 5;

/// A run's error code when its results cannot be stored (past the store's size limits; see
/// `store::report_codec`). Permanent: the run fails on its first attempt.
pub const REPORT_TOO_LARGE: &str = "REPORT_TOO_LARGE";

/// A run as it was before `complete` marked it done, so it can be failed instead.
fn done_as_running(mut run: Run) -> Run {
    run.status = RunStatus::Running;
    run.completed_at = None;
    run.results = None;
    run
}

/// How long a run may wait queued before its message is assumed lost and sent again, by
/// default (`Config::run_stale_after_secs`). Well past a normal wait in the queue; a resend of
/// a message that was only slow is dropped by the claim.
pub const STALE_QUEUED_SECS: i64 = 900;

/// Sends again the messages of runs queued more than `stale_after_secs` before `now` (a
/// process that died between writing the run and sending its message); at most `limit`,
/// oldest first. Returns how many.
pub async fn requeue_stale_runs(
    store: &dyn RunStore,
    queue: &dyn RunQueue,
    now: Timestamp,
    stale_after_secs: i64,
    limit: usize,
) -> Result<usize, String> {
    let stale = store.stale_queued_runs(now - stale_after_secs, limit).await.map_err(|e| e.to_string())?;
    for run in &stale {
        let message = RunMessage { run_id: run.id.clone(), partner_id: run.partner_id.clone() };
        queue.send_run(&message).await.map_err(|e| e.to_string())?;
        store.resent_run(&run.partner_id, &run.id, now).await.map_err(|e| e.to_string())?;
        tracing::warn!(run_id = run.id.as_str(), "re-sent the message of a run left queued");
    }
    Ok(stale.len())
}

pub struct RunnerSettings {
    /// Deliveries of one message that may try the run; the next one fails it. Keep it below
    /// the queue's `maxReceiveCount` so the run is failed before the message goes to the DLQ.
    pub max_attempts: u32,
    /// How long an attempt holds the run: the queue's visibility timeout.
    pub lease_secs: i64,
    pub public_base_url: String,
    /// The products' display names, for the report-ready mail.
    pub catalog: crate::domain::catalog::Catalog,
}

pub struct Runner {
    pub store: Arc<dyn RunnerStore>,
    pub assessor: Arc<dyn Assessor>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<IdGen>,
    pub secrets: Secrets,
    pub settings: RunnerSettings,
}

fn attempt_token() -> u32 {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).expect("the operating system's random source failed");
    u32::from_le_bytes(b) | 1
}

impl Runner {
    fn event(&self, kind: EventType, partner: &Partner, data: serde_json::Value) -> Event {
        Event {
            id: self.ids.new_id(self.clock.now_ms().max(0) as u64),
            kind,
            timestamp: self.clock.now(),
            account: Owner::partner(&partner.id),
            distributor_id: partner.distributor_id.clone(),
            data,
            mail: Vec::new(),
            audit: None,
        }
    }

    /// Handles one delivery of a run message; `receive_count` is 1 on the first delivery.
    pub async fn process(&self, message: &RunMessage, receive_count: u32) -> Ack {
        // The span goes with the future (an entered guard held across `.await` would tag other
        // tasks' log lines on this thread with this run).
        let span = tracing::info_span!("run", run_id = message.run_id.as_str(), attempt = receive_count);
        match tracing::Instrument::instrument(self.try_process(message, receive_count), span).await {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::error!(run_id = message.run_id.as_str(), error = %e, "run processing failed; will retry");
                Ack::Retry
            }
        }
    }

    async fn try_process(&self, message: &RunMessage, receive_count: u32) -> Result<Ack, StoreError> {
        let Some(partner) = self.store.partner(&message.partner_id).await? else { return Ok(Ack::Done) };
        let now = self.clock.now();
        let attempt = attempt_token();
        let Some(queued) = self.store.run(&partner.id, &message.run_id).await? else { return Ok(Ack::Done) };
        let started = self.event(
            EventType::AssessmentStarted,
            &partner,
            json!({
                "assessmentId": queued.id,
                "customerId": queued.customer_id,
                "product": queued.product,
                "status": "running",
            }),
        );
        let run = match self
            .store
            .claim_run(&partner.id, &message.run_id, attempt, now, now + self.settings.lease_secs, &started)
            .await?
        {
            RunClaim::Claimed(run) => run,
            RunClaim::Busy => return Ok(Ack::Retry),
            RunClaim::Finished(_) | RunClaim::Gone => return Ok(Ack::Done),
        };
        if receive_count > self.settings.max_attempts {
            let error = RunError {
                code: "ATTEMPTS_EXHAUSTED".into(),
                message: format!("The assessment did not finish after {} attempts.", self.settings.max_attempts),
            };
            return self.fail(&partner, run, attempt, error).await;
        }
        let Some(customer) = self.store.customer(&partner.id, &run.customer_id).await? else {
            return Ok(Ack::Done);
        };
        // Checked again here, not only at the trigger: consent can be withdrawn, or the tenant
        // changed, while the run waits; nothing is read from a tenant without it.
        if !customer.consent.is_granted() {
            let error = RunError {
                code: CONSENT_REQUIRED.into(),
                message: format!(
                    "The customer's tenant consent is {}; the tenant was not read.",
                    customer.consent.status.as_str()
                ),
            };
            return self.fail(&partner, run, attempt, error).await;
        }
        // The answers that count as the run starts (contract, "Questionnaire"): read once per
        // attempt, kept in the run's requirement records, so a later answer changes later runs,
        // never this one once it completes.
        let used = if crate::domain::questionnaire::questions_of(&run.product).is_some_and(|q| !q.is_empty()) {
            let stored = self.store.answers(&partner.id, &customer.id, &run.product).await?;
            crate::domain::questionnaire::unexpired(&stored, now)
        } else {
            Default::default()
        };
        let answers = used.iter().map(|(q, a)| (q.clone(), a.answer)).collect();
        // What the customer declared, read now: the run keeps what it used (issue 18).
        let context = self.store.tenant_context(&partner.id, &customer.id).await?;
        let exceptions = self.store.exceptions_of(&partner.id, &customer.id).await?;
        match self.assessor.assess_in(&customer.tenant_id, &run.product, run.maturity_target, &answers, &context).await
        {
            Ok(mut a) => {
                crate::assess::requirements::exceptions::apply(&mut a.report, run.maturity_target, &exceptions, now);
                annotate(&mut a.report, &used);
                a.report.context = (context.version > 0).then_some(context);
                self.complete(&partner, &customer, run, attempt, a).await
            }
            Err(AssessFailure::Permanent { code, message }) if code == CONSENT_REQUIRED => {
                // Microsoft refused the app's token: consent was withdrawn (contract). Recorded
                // only while the customer still has the tenant that refused.
                let change = ConsentChange {
                    partner_id: &partner.id,
                    distributor_id: partner.distributor_id.as_ref(),
                    customer_id: &customer.id,
                    tenant_id: customer.tenant_id.as_str(),
                    status: ConsentStatus::Revoked,
                };
                let ids = Ids { gen: &self.ids, clock: self.clock.as_ref(), actor: None };
                let revoked = consent::record(self.store.as_ref(), ids, &change, self.clock.now()).await;
                match revoked {
                    Ok(_) | Err(NotRecorded::CustomerGone | NotRecorded::TenantChanged) => {}
                    Err(NotRecorded::Failed(e)) => {
                        return Err(StoreError::Backend(format!("recording the revoked consent: {e}")))
                    }
                }
                self.fail(&partner, run, attempt, RunError { code, message }).await
            }
            Err(AssessFailure::Permanent { code, message }) => {
                self.fail(&partner, run, attempt, RunError { code, message }).await
            }
            Err(AssessFailure::Transient { code, message }) if receive_count >= self.settings.max_attempts => {
                self.fail(&partner, run, attempt, RunError { code, message }).await
            }
            Err(AssessFailure::Transient { message, .. }) => {
                tracing::warn!(error = message.as_str(), "transient failure; the run will be retried");
                self.store.release_run(&partner.id, &run.id, attempt).await?;
                Ok(Ack::Retry)
            }
        }
    }

    async fn complete(
        &self,
        partner: &Partner,
        customer: &crate::domain::customer::Customer,
        run: Run,
        attempt: u32,
        a: Assessed,
    ) -> Result<Ack, StoreError> {
        // Compared with the customer's latest completed run of the product; the write is
        // conditional on that still being the latest, so two runs completing at once chain
        // (one compares with the other) instead of both comparing with the same older run.
        let mut a = a;
        for _ in 0..COMPARE_ATTEMPTS {
            let latest = self.store.latest_run(&partner.id, &run.customer_id, &run.product).await?;
            let changes = trend::compare(latest.as_ref(), &mut a.report.findings);
            match self.complete_as(partner, customer, run.clone(), attempt, &a, latest.as_ref(), changes).await {
                Err(StoreError::LatestMoved) => continue,
                other => return other,
            }
        }
        Err(StoreError::Backend("other runs of the customer kept completing; will retry".into()))
    }

    #[allow(clippy::too_many_arguments)]
    async fn complete_as(
        &self,
        partner: &Partner,
        customer: &crate::domain::customer::Customer,
        run: Run,
        attempt: u32,
        a: &Assessed,
        previous: Option<&LatestRun>,
        changes: Option<Changes>,
    ) -> Result<Ack, StoreError> {
        let now = self.clock.now();
        let previous_run_id = previous.map(|l| l.run_id.clone());
        let mut done = run;
        done.status = RunStatus::Completed;
        done.completed_at = Some(now);
        let findings = a.critical + a.high + a.medium + a.low;
        done.results = Some(RunResults {
            score: a.score,
            findings,
            critical: a.critical,
            high: a.high,
            medium: a.medium,
            low: a.low,
            report_url: reports::link(
                &self.secrets.report_signing,
                &self.settings.public_base_url,
                &partner.id,
                &done.id,
                now,
            ),
            previous_run_id,
            changes,
        });
        let event = self.event(
            EventType::AssessmentCompleted,
            partner,
            json!({
                "assessmentId": done.id,
                "customerId": done.customer_id,
                "product": done.product,
                "status": "completed",
                "score": a.score,
                "findings": findings,
                // What failed, each with its `dedupeKey` (issue 19): one ticket per control.
                "failures": crate::views::failures(&done.customer_id, &a.report, None),
            }),
        );
        let mail = self.report_ready_mail(partner, customer, &done, &a.report).await?;
        // The customer's latest result of the product (the portfolio's row), and drift against
        // the one before: `assessment.regressed` in the same write (issue 19).
        let latest =
            LatestRun::after(previous, done.id.clone(), now, a.score, &a.report, partner.distributor_id.clone());
        let mut events = vec![event.with_mail(mail)];
        if let Some(r) = drift::regression(previous, &latest) {
            events.push(self.event(
                EventType::AssessmentRegressed,
                partner,
                crate::views::regressed(&done, &a.report, &r),
            ));
        }
        match self.store.finish_run_with(&done, attempt, Some(&a.report), Some(&latest), &events).await {
            // Storing it again would fail the same way: the run fails now, once, saying why,
            // instead of collecting the tenant again on every delivery.
            Err(StoreError::TooLarge(why)) => {
                let error = RunError {
                    code: REPORT_TOO_LARGE.into(),
                    message: format!("The assessment's results are too large to store ({why})."),
                };
                self.fail(partner, done_as_running(done), attempt, error).await
            }
            other => Self::finished(other),
        }
    }

    /// The report-ready mail (contract, "Mail"): one message per `receivers` address, so one
    /// bounce does not hide another; on the partner's brand.
    async fn report_ready_mail(
        &self,
        partner: &Partner,
        customer: &crate::domain::customer::Customer,
        run: &Run,
        report: &crate::domain::run::RunReport,
    ) -> Result<Vec<crate::domain::mail::MailEntry>, StoreError> {
        let Some(results) = run.results.as_ref().filter(|_| !customer.receivers.is_empty()) else {
            return Ok(Vec::new());
        };
        let brand = crate::domain::branding::Brand::of(&self.store.branding(&partner.id).await?, &partner.company);
        let product = self.settings.catalog.product(&run.product).map_or(run.product.as_str(), |p| p.name.as_str());
        let rendered = crate::mail::content::report_ready(
            &brand,
            &crate::mail::content::ReportReady {
                customer: &customer.name,
                product,
                score: results.score,
                findings: results.findings,
                critical: results.critical,
                high: results.high,
                medium: results.medium,
                low: results.low,
                maturity: report.maturity,
                maturity_target: run.maturity_target,
                report_url: &results.report_url,
            },
        );
        let viewers = crate::usecases::mail::viewers_of(partner);
        Ok(customer
            .receivers
            .iter()
            .map(|to| {
                crate::usecases::mail::entry(
                    crate::domain::mail::MailKind::ReportReady,
                    to.as_str(),
                    &brand,
                    rendered.clone(),
                    viewers.clone(),
                )
            })
            .collect())
    }

    async fn fail(&self, partner: &Partner, run: Run, attempt: u32, error: RunError) -> Result<Ack, StoreError> {
        tracing::warn!(code = error.code.as_str(), "run failed");
        let mut failed = run;
        failed.status = RunStatus::Failed;
        failed.completed_at = Some(self.clock.now());
        let event = self.event(
            EventType::AssessmentFailed,
            partner,
            json!({
                "assessmentId": failed.id,
                "customerId": failed.customer_id,
                "product": failed.product,
                "status": "failed",
                "error": { "code": error.code, "message": error.message },
            }),
        );
        failed.error = Some(error);
        self.finish(&failed, attempt, None, &event).await
    }

    async fn finish(
        &self,
        run: &Run,
        attempt: u32,
        report: Option<&RunReport>,
        event: &Event,
    ) -> Result<Ack, StoreError> {
        Self::finished(self.store.finish_run(run, attempt, report, event).await)
    }

    /// What a finishing write's outcome means for the message.
    fn finished(written: Result<(), StoreError>) -> Result<Ack, StoreError> {
        match written {
            Ok(()) => Ok(Ack::Done),
            // Another attempt took the run over (this one outlived its lease), or the
            // customer and its runs were deleted meanwhile: nothing left to do here.
            Err(StoreError::Conflict | StoreError::NotFound) => Ok(Ack::Done),
            Err(e) => Err(e),
        }
    }
}

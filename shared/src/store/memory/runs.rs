//! Runs, their leases and reports, and the monthly run counters (`RunStore`).

use super::*;
use crate::domain::trend::LatestRun;
use crate::store::report_codec;

#[async_trait]
impl RunStore for MemoryStore {
    async fn queue_run(&self, run: &Run, month: Month, limit: Option<u32>) -> StoreResult<()> {
        let mut s = self.lock();
        let customer_exists =
            s.customers.get(run.partner_id.as_str()).is_some_and(|m| m.contains_key(run.customer_id.as_str()));
        if !customer_exists {
            return Err(StoreError::NotFound);
        }
        if s.runs.get(run.partner_id.as_str()).is_some_and(|m| m.contains_key(run.id.as_str())) {
            return Err(StoreError::RunExists);
        }
        let used = s.usage.get(&(run.partner_id.to_string(), month)).copied().unwrap_or(0);
        if limit.is_some_and(|l| used >= l) {
            return Err(StoreError::RunLimitReached);
        }
        s.usage.insert((run.partner_id.to_string(), month), used + 1);
        s.runs.entry(run.partner_id.to_string()).or_default().insert(run.id.to_string(), run.clone());
        Ok(())
    }

    async fn run(&self, partner_id: &str, id: &str) -> StoreResult<Option<Run>> {
        Ok(self.lock().runs.get(partner_id).and_then(|m| m.get(id)).cloned())
    }

    async fn list_runs(&self, partner_id: &str, filter: &RunFilter, page: &PageRequest) -> StoreResult<Page<Run>> {
        let s = self.lock();
        Ok(page_of(s.runs.get(partner_id), page, true, |r| filter.matches(r)))
    }

    async fn runs_used(&self, partner_id: &str, month: Month) -> StoreResult<u32> {
        Ok(self.lock().usage.get(&(partner_id.to_string(), month)).copied().unwrap_or(0))
    }

    async fn claim_run(
        &self,
        partner_id: &str,
        run_id: &str,
        attempt: u32,
        now: Timestamp,
        lease_until: Timestamp,
        started: &Event,
    ) -> StoreResult<RunClaim> {
        let mut s = self.lock();
        let key = (partner_id.to_string(), run_id.to_string());
        let Some(run) = s.runs.get(partner_id).and_then(|m| m.get(run_id)).cloned() else {
            return Ok(RunClaim::Gone);
        };
        match run.status {
            RunStatus::Completed | RunStatus::Failed => Ok(RunClaim::Finished(run)),
            RunStatus::Running if s.leases.get(&key).is_some_and(|(_, until)| *until > now) => Ok(RunClaim::Busy),
            RunStatus::Running => {
                s.leases.insert(key, (attempt, lease_until));
                Ok(RunClaim::Claimed(run))
            }
            RunStatus::Queued => {
                let mut run = run;
                run.status = RunStatus::Running;
                run.started_at = Some(now);
                s.runs.get_mut(partner_id).expect("read above").insert(run_id.to_string(), run.clone());
                s.leases.insert(key, (attempt, lease_until));
                s.record(started);
                Ok(RunClaim::Claimed(run))
            }
        }
    }

    async fn finish_run_with(
        &self,
        run: &Run,
        attempt: u32,
        report: Option<&RunReport>,
        latest: Option<&LatestRun>,
        events: &[Event],
    ) -> StoreResult<()> {
        let mut s = self.lock();
        let key = (run.partner_id.to_string(), run.id.to_string());
        let current =
            s.runs.get(run.partner_id.as_str()).and_then(|m| m.get(run.id.as_str())).ok_or(StoreError::NotFound)?;
        let holds = s.leases.get(&key).is_some_and(|(a, _)| *a == attempt);
        if current.status != RunStatus::Running || !holds || !RunStatus::Running.can_move_to(run.status) {
            return Err(StoreError::Conflict);
        }
        let chunks = report.map(report_codec::encode).transpose()?;
        let run_bytes = serde_json::to_vec(run).map_or(0, |j| j.len());
        if run_bytes > report_codec::ITEM_LIMIT_BYTES {
            return Err(StoreError::TooLarge(format!("a run of {run_bytes} bytes")));
        }
        let latest_key = (run.partner_id.to_string(), run.customer_id.to_string(), run.product.clone());
        let latest = match (run.status, &run.results, report, latest) {
            (RunStatus::Completed, Some(results), Some(_), Some(latest)) => {
                let current = s.latest_runs.get(&latest_key).map(|l| &l.run_id);
                if current != results.previous_run_id.as_ref() {
                    return Err(StoreError::LatestMoved);
                }
                Some(latest.clone())
            }
            _ => None,
        };
        s.runs.get_mut(run.partner_id.as_str()).expect("read above").insert(run.id.to_string(), run.clone());
        s.leases.remove(&key);
        if let Some(chunks) = chunks {
            s.reports.insert(key, chunks);
        }
        if let Some(latest) = latest {
            let distributor = latest.distributor_id.as_ref().map(|d| d.to_string());
            s.portfolio.put(&run.partner_id, distributor.as_deref(), &run.customer_id, &run.product);
            s.latest_runs.insert(latest_key, latest);
        }
        for event in events {
            s.record(event);
        }
        Ok(())
    }

    async fn portfolio(
        &self,
        scope: PortfolioScope<'_>,
        product: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<PortfolioRow>> {
        self.portfolio_page(scope, product, page)
    }

    async fn release_run(&self, partner_id: &str, run_id: &str, attempt: u32) -> StoreResult<()> {
        let mut s = self.lock();
        let key = (partner_id.to_string(), run_id.to_string());
        if s.leases.get(&key).is_some_and(|(a, _)| *a == attempt) {
            s.leases.remove(&key);
        }
        Ok(())
    }

    async fn stale_queued_runs(&self, queued_before: Timestamp, limit: usize) -> StoreResult<Vec<Run>> {
        let s = self.lock();
        let mut stale: Vec<Run> = s
            .runs
            .values()
            .flat_map(|m| m.values())
            .filter(|r| r.status == RunStatus::Queued && queued_at(&s, r) < queued_before)
            .cloned()
            .collect();
        stale.sort_by(|a, b| (queued_at(&s, a), &a.id).cmp(&(queued_at(&s, b), &b.id)));
        stale.truncate(limit);
        Ok(stale)
    }

    async fn resent_run(&self, partner_id: &str, run_id: &str, at: Timestamp) -> StoreResult<()> {
        let mut s = self.lock();
        let queued = s.runs.get(partner_id).and_then(|m| m.get(run_id)).is_some_and(|r| r.status == RunStatus::Queued);
        if queued {
            s.resent.insert((partner_id.to_string(), run_id.to_string()), at);
        }
        Ok(())
    }

    async fn run_report(&self, partner_id: &str, run_id: &str) -> StoreResult<Option<RunReport>> {
        let chunks = self.lock().reports.get(&(partner_id.to_string(), run_id.to_string())).cloned();
        chunks.map(|c| report_codec::decode(&c)).transpose()
    }

    async fn latest_run(&self, partner_id: &str, customer_id: &str, product: &str) -> StoreResult<Option<LatestRun>> {
        let key = (partner_id.to_string(), customer_id.to_string(), product.to_string());
        Ok(self.lock().latest_runs.get(&key).cloned())
    }

    async fn runs_used_by_partners(&self, distributor_id: &str, month: Month) -> StoreResult<Vec<(String, u32)>> {
        let s = self.lock();
        Ok(s.partners_by_distributor
            .range((distributor_id.to_string(), String::new())..)
            .take_while(|(d, _)| d == distributor_id)
            .filter_map(|(_, p)| s.usage.get(&(p.clone(), month)).map(|n| (p.clone(), *n)))
            .collect())
    }
}

/// When a queued run counts as queued from: its creation, or its last resend.
fn queued_at(s: &State, r: &Run) -> Timestamp {
    s.resent.get(&(r.partner_id.to_string(), r.id.to_string())).copied().unwrap_or(r.created_at)
}

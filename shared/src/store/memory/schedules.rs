//! Customers' schedules (`ScheduleStore`).

use super::*;
use crate::domain::audit::AuditEntry;
use crate::domain::schedule::Schedule;

/// The schedules, as the table's `SCH#c#…` items hold them.
#[derive(Default)]
pub(super) struct Schedules {
    /// (partner, customer) → schedule id → schedule
    by_customer: HashMap<(String, String), BTreeMap<String, Schedule>>,
}

impl Schedules {
    /// Drops a deleted customer's schedules (as the DynamoDB adapter deletes its `SCH#` items
    /// with the customer), so they are never due again.
    pub(super) fn forget(&mut self, partner_id: &str, customer_id: &str) {
        self.by_customer.remove(&key(partner_id, customer_id));
    }

    fn get_mut(&mut self, partner_id: &str, customer_id: &str, id: &str) -> Option<&mut Schedule> {
        self.by_customer.get_mut(&key(partner_id, customer_id)).and_then(|m| m.get_mut(id))
    }
}

#[async_trait]
impl ScheduleStore for MemoryStore {
    async fn create_schedule(&self, schedule: &Schedule, audit: Option<&AuditEntry>) -> StoreResult<()> {
        let mut s = self.lock();
        s.customer_is_there(&schedule.partner_id, &schedule.customer_id)?;
        let mine = s.schedules.by_customer.entry(key(&schedule.partner_id, &schedule.customer_id)).or_default();
        if mine.contains_key(schedule.id.as_str()) {
            return Err(StoreError::Conflict);
        }
        mine.insert(schedule.id.to_string(), schedule.clone());
        s.audit(audit);
        Ok(())
    }

    async fn schedule(&self, partner_id: &str, customer_id: &str, id: &str) -> StoreResult<Option<Schedule>> {
        let s = self.lock();
        Ok(s.schedules.by_customer.get(&key(partner_id, customer_id)).and_then(|m| m.get(id)).cloned())
    }

    async fn list_schedules(
        &self,
        partner_id: &str,
        customer_id: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<Schedule>> {
        let s = self.lock();
        Ok(page_of(s.schedules.by_customer.get(&key(partner_id, customer_id)), page, false, |_| true))
    }

    async fn update_schedule(
        &self,
        schedule: &Schedule,
        expected_version: u64,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        let current = s
            .schedules
            .get_mut(&schedule.partner_id, &schedule.customer_id, &schedule.id)
            .ok_or(StoreError::NotFound)?;
        if current.version != expected_version {
            return Err(StoreError::Conflict);
        }
        *current = schedule.clone();
        s.audit(audit);
        Ok(())
    }

    async fn delete_schedule(
        &self,
        partner_id: &str,
        customer_id: &str,
        id: &str,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        match s.schedules.by_customer.get_mut(&key(partner_id, customer_id)).and_then(|m| m.remove(id)) {
            Some(_) => {
                s.audit(audit);
                Ok(())
            }
            None => Err(StoreError::NotFound),
        }
    }

    async fn due_schedules(&self, before: Timestamp, limit: usize) -> StoreResult<Vec<Schedule>> {
        let s = self.lock();
        let mut due: Vec<Schedule> = s
            .schedules
            .by_customer
            .values()
            .flat_map(BTreeMap::values)
            .filter(|x| x.enabled && x.next_run_at < before)
            .cloned()
            .collect();
        due.sort_by(|a, b| (a.next_run_at, a.id.as_str()).cmp(&(b.next_run_at, b.id.as_str())));
        due.truncate(limit.clamp(1, 1000));
        Ok(due)
    }

    async fn record_schedule_run(&self, read: &Schedule, next: &Schedule, event: Option<&Event>) -> StoreResult<bool> {
        let mut s = self.lock();
        let Some(current) = s.schedules.get_mut(&read.partner_id, &read.customer_id, &read.id) else {
            return Ok(false);
        };
        if current.version != read.version {
            return Ok(false);
        }
        *current = Schedule { version: read.version + 1, ..next.clone() };
        if let Some(e) = event {
            s.record(e);
        }
        Ok(true)
    }
}

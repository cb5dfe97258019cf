//! The embedded store: every operation runs under one lock, so each is atomic and the
//! invariants (limits, uniqueness, events with their change) hold exactly as the conditional
//! writes of the DynamoDB adapter make them hold.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::*;
use crate::domain::account::Surface;
use crate::domain::usage::UsageSnapshot;

#[derive(Default)]
struct State {
    distributors: HashMap<String, Distributor>,
    partners: HashMap<String, Partner>,
    /// (distributor, partner id)
    partners_by_distributor: BTreeSet<(String, String)>,
    /// (distributor, lower-cased email) → partner id
    partner_emails: HashMap<(String, String), String>,
    keys: HashMap<String, ApiKey>,
    /// owner → slot → key hash
    key_slots: HashMap<Owner, BTreeMap<u8, String>>,
    /// partner → customer id → customer
    customers: HashMap<String, BTreeMap<String, Customer>>,
    /// (partner, tenant id) → customer id
    tenants: HashMap<(String, crate::domain::tenant::TenantId), String>,
    /// partner → run id → run
    runs: HashMap<String, BTreeMap<String, Run>>,
    /// (partner, run) → the attempt holding the run and until when
    leases: HashMap<(String, String), (u32, i64)>,
    reports: HashMap<(String, String), RunReport>,
    usage: HashMap<(String, Month), u32>,
    /// (distributor, month) → the month's snapshot
    snapshots: HashMap<(String, Month), UsageSnapshot>,
    windows: HashMap<String, (u64, i64)>,
    idempotency: HashMap<(String, String), IdemRecord>,
    outbox: BTreeMap<String, Event>,
    /// owner → endpoint id → endpoint
    endpoints: HashMap<Owner, BTreeMap<String, Endpoint>>,
    /// endpoint → delivery id → delivery
    deliveries: HashMap<String, BTreeMap<String, Delivery>>,
    /// (endpoint, event) → delivery id
    delivery_events: HashMap<(String, String), String>,
}

#[derive(Clone)]
struct IdemRecord {
    fingerprint: String,
    response: Option<(u16, Vec<u8>)>,
    lease_until: i64,
    expires_at: i64,
}

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-made change: every method checks
        // before it mutates, so the data is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    fn record(&mut self, event: &Event) {
        self.outbox.insert(event.id.clone(), event.clone());
    }
}

/// Pages over an ordered map from `after` (exclusive), forwards or backwards.
fn page_of<T: Clone>(
    map: Option<&BTreeMap<String, T>>,
    page: &PageRequest,
    newest_first: bool,
    keep: impl Fn(&T) -> bool,
) -> Page<T> {
    let Some(map) = map else {
        return Page { items: vec![], next: None };
    };
    let limit = page.limit.max(1);
    let after = page.after.as_ref();
    let range: Box<dyn Iterator<Item = (&String, &T)>> = match (after, newest_first) {
        (None, false) => Box::new(map.iter()),
        (None, true) => Box::new(map.iter().rev()),
        (Some(a), false) => Box::new(map.range::<String, _>((Bound::Excluded(a), Bound::Unbounded))),
        (Some(a), true) => Box::new(map.range::<String, _>((Bound::Unbounded, Bound::Excluded(a))).rev()),
    };
    let mut items = Vec::new();
    let mut last = None;
    let mut more = false;
    for (k, v) in range.filter(|(_, v)| keep(v)) {
        if items.len() == limit {
            more = true;
            break;
        }
        items.push(v.clone());
        last = Some(k.clone());
    }
    Page { items, next: if more { last } else { None } }
}

#[async_trait]
impl AccountStore for MemoryStore {
    async fn create_distributor(&self, d: &Distributor) -> StoreResult<()> {
        self.lock().distributors.insert(d.id.clone(), d.clone());
        Ok(())
    }

    async fn distributor(&self, id: &str) -> StoreResult<Option<Distributor>> {
        Ok(self.lock().distributors.get(id).cloned())
    }

    async fn distributor_ids(&self) -> StoreResult<Vec<String>> {
        let mut ids: Vec<String> = self.lock().distributors.keys().cloned().collect();
        ids.sort();
        Ok(ids)
    }

    async fn create_partner(&self, p: &Partner) -> StoreResult<()> {
        let mut s = self.lock();
        if let Some(d) = &p.distributor_id {
            let guard = (d.clone(), p.email.to_lowercase());
            if s.partner_emails.contains_key(&guard) {
                return Err(StoreError::PartnerExists);
            }
            s.partner_emails.insert(guard, p.id.clone());
            s.partners_by_distributor.insert((d.clone(), p.id.clone()));
        }
        s.partners.insert(p.id.clone(), p.clone());
        Ok(())
    }

    async fn partner(&self, id: &str) -> StoreResult<Option<Partner>> {
        Ok(self.lock().partners.get(id).cloned())
    }

    async fn list_partners(
        &self,
        distributor_id: &str,
        status: Option<AccountStatus>,
        page: &PageRequest,
    ) -> StoreResult<Page<Partner>> {
        let s = self.lock();
        let mine: BTreeMap<String, Partner> = s
            .partners_by_distributor
            .range((distributor_id.to_string(), String::new())..)
            .take_while(|(d, _)| d == distributor_id)
            .filter_map(|(_, id)| s.partners.get(id).map(|p| (id.clone(), p.clone())))
            .collect();
        Ok(page_of(Some(&mine), page, false, |p: &Partner| status.is_none_or(|st| p.status == st)))
    }

    async fn all_partners(&self, distributor_id: &str) -> StoreResult<Vec<Partner>> {
        let s = self.lock();
        Ok(s.partners_by_distributor
            .range((distributor_id.to_string(), String::new())..)
            .take_while(|(d, _)| d == distributor_id)
            .filter_map(|(_, id)| s.partners.get(id).cloned())
            .collect())
    }

    async fn update_partner_terms(
        &self,
        partner_id: &str,
        plan: Option<&str>,
        billing: Option<&BillingConfig>,
        subscription: Option<&Subscription>,
        at: i64,
    ) -> StoreResult<Partner> {
        let mut s = self.lock();
        let p = s.partners.get_mut(partner_id).ok_or(StoreError::NotFound)?;
        if let Some(plan) = plan {
            p.plan = plan.to_string();
        }
        if let Some(b) = billing {
            p.billing = Some(b.clone());
        }
        if let Some(sub) = subscription {
            p.subscription = sub.clone();
        }
        p.updated_at = Some(at);
        Ok(p.clone())
    }

    async fn activate_partner(&self, partner_id: &str, at: i64, event: &Event) -> StoreResult<StatusChange> {
        let mut s = self.lock();
        let p = s.partners.get_mut(partner_id).ok_or(StoreError::NotFound)?;
        if p.status == AccountStatus::Active {
            return Ok(StatusChange { partner: p.clone(), changed: false });
        }
        p.status = AccountStatus::Active;
        p.activated_at = Some(at);
        p.updated_at = Some(at);
        let partner = p.clone();
        s.record(event);
        Ok(StatusChange { partner, changed: true })
    }

    async fn suspend_partner(&self, partner_id: &str, at: i64, event: &Event) -> StoreResult<StatusChange> {
        let mut s = self.lock();
        let p = s.partners.get_mut(partner_id).ok_or(StoreError::NotFound)?;
        if p.status == AccountStatus::Suspended {
            return Ok(StatusChange { partner: p.clone(), changed: false });
        }
        p.status = AccountStatus::Suspended;
        p.suspended_at = Some(at);
        p.updated_at = Some(at);
        let partner = p.clone();
        if let Some(slots) = s.key_slots.remove(&Owner::partner(partner_id)) {
            for hash in slots.values() {
                s.keys.remove(hash);
            }
        }
        s.record(event);
        Ok(StatusChange { partner, changed: true })
    }
}

#[async_trait]
impl KeyStore for MemoryStore {
    async fn key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKey>> {
        Ok(self.lock().keys.get(hash).cloned())
    }

    async fn issue_key(&self, owner: &Owner, slot: u8, hash: &str, at: i64, event: Option<&Event>) -> StoreResult<()> {
        let mut s = self.lock();
        if owner.surface == Surface::Partner
            && s.partners.get(&owner.id).is_some_and(|p| p.status == AccountStatus::Suspended)
        {
            return Err(StoreError::OwnerSuspended);
        }
        let slots = s.key_slots.entry(owner.clone()).or_default();
        if slots.contains_key(&slot) {
            return Err(StoreError::Conflict);
        }
        slots.insert(slot, hash.to_string());
        s.keys.insert(hash.to_string(), ApiKey { hash: hash.to_string(), owner: owner.clone(), slot, created_at: at });
        if let Some(e) = event {
            s.record(e);
        }
        Ok(())
    }

    async fn revoke_key(&self, owner: &Owner, slot: u8, event: &Event) -> StoreResult<()> {
        let mut s = self.lock();
        let slots = s.key_slots.get_mut(owner).ok_or(StoreError::NotFound)?;
        if !slots.contains_key(&slot) {
            return Err(StoreError::NotFound);
        }
        if slots.len() == 1 {
            return Err(StoreError::LastKey);
        }
        let hash = slots.remove(&slot).expect("checked above");
        s.keys.remove(&hash);
        s.record(event);
        Ok(())
    }

    async fn keys_of(&self, owner: &Owner) -> StoreResult<Vec<ApiKey>> {
        let s = self.lock();
        Ok(s.key_slots
            .get(owner)
            .map(|slots| slots.values().filter_map(|h| s.keys.get(h).cloned()).collect())
            .unwrap_or_default())
    }
}

#[async_trait]
impl CustomerStore for MemoryStore {
    async fn create_customer(&self, c: &Customer, event: &Event) -> StoreResult<()> {
        let mut s = self.lock();
        if !s.partners.contains_key(&c.partner_id) {
            return Err(StoreError::NotFound);
        }
        let guard = (c.partner_id.clone(), c.tenant_id.clone());
        if s.tenants.contains_key(&guard) {
            return Err(StoreError::CustomerExists);
        }
        s.tenants.insert(guard, c.id.clone());
        s.customers.entry(c.partner_id.clone()).or_default().insert(c.id.clone(), c.clone());
        if let Some(p) = s.partners.get_mut(&c.partner_id) {
            p.customers_count += 1;
        }
        s.record(event);
        Ok(())
    }

    async fn customer(&self, partner_id: &str, id: &str) -> StoreResult<Option<Customer>> {
        Ok(self.lock().customers.get(partner_id).and_then(|m| m.get(id)).cloned())
    }

    async fn list_customers(&self, partner_id: &str, page: &PageRequest) -> StoreResult<Page<Customer>> {
        let s = self.lock();
        Ok(page_of(s.customers.get(partner_id), page, false, |_| true))
    }

    async fn update_customer(&self, c: &Customer, expected_version: u64, event: &Event) -> StoreResult<()> {
        let mut s = self.lock();
        let current = s.customers.get(&c.partner_id).and_then(|m| m.get(&c.id)).cloned().ok_or(StoreError::NotFound)?;
        if current.version != expected_version {
            return Err(StoreError::Conflict);
        }
        if current.tenant_id != c.tenant_id {
            let guard = (c.partner_id.clone(), c.tenant_id.clone());
            if s.tenants.contains_key(&guard) {
                return Err(StoreError::CustomerExists);
            }
            s.tenants.remove(&(c.partner_id.clone(), current.tenant_id.clone()));
            s.tenants.insert(guard, c.id.clone());
        }
        s.customers.get_mut(&c.partner_id).expect("read above").insert(c.id.clone(), c.clone());
        s.record(event);
        Ok(())
    }

    async fn delete_customer(&self, partner_id: &str, id: &str, event: &Event) -> StoreResult<()> {
        let mut s = self.lock();
        let c = s.customers.get_mut(partner_id).and_then(|m| m.remove(id)).ok_or(StoreError::NotFound)?;
        s.tenants.remove(&(partner_id.to_string(), c.tenant_id));
        let gone: Vec<String> = s
            .runs
            .get(partner_id)
            .map(|runs| runs.values().filter(|r| r.customer_id == id).map(|r| r.id.clone()).collect())
            .unwrap_or_default();
        for run_id in gone {
            let key = (partner_id.to_string(), run_id);
            s.leases.remove(&key);
            s.reports.remove(&key);
            if let Some(runs) = s.runs.get_mut(partner_id) {
                runs.remove(&key.1);
            }
        }
        if let Some(p) = s.partners.get_mut(partner_id) {
            p.customers_count = p.customers_count.saturating_sub(1);
        }
        s.record(event);
        Ok(())
    }
}

#[async_trait]
impl RunStore for MemoryStore {
    async fn queue_run(&self, run: &Run, month: Month, limit: Option<u32>) -> StoreResult<()> {
        let mut s = self.lock();
        let customer_exists = s.customers.get(&run.partner_id).is_some_and(|m| m.contains_key(&run.customer_id));
        if !customer_exists {
            return Err(StoreError::NotFound);
        }
        let used = s.usage.get(&(run.partner_id.clone(), month)).copied().unwrap_or(0);
        if limit.is_some_and(|l| used >= l) {
            return Err(StoreError::RunLimitReached);
        }
        s.usage.insert((run.partner_id.clone(), month), used + 1);
        s.runs.entry(run.partner_id.clone()).or_default().insert(run.id.clone(), run.clone());
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
        now: i64,
        lease_until: i64,
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

    async fn finish_run(&self, run: &Run, attempt: u32, report: Option<&RunReport>, event: &Event) -> StoreResult<()> {
        let mut s = self.lock();
        let key = (run.partner_id.clone(), run.id.clone());
        let current = s.runs.get(&run.partner_id).and_then(|m| m.get(&run.id)).ok_or(StoreError::NotFound)?;
        let holds = s.leases.get(&key).is_some_and(|(a, _)| *a == attempt);
        if current.status != RunStatus::Running || !holds || !RunStatus::Running.can_move_to(run.status) {
            return Err(StoreError::Conflict);
        }
        s.runs.get_mut(&run.partner_id).expect("read above").insert(run.id.clone(), run.clone());
        s.leases.remove(&key);
        if let Some(r) = report {
            s.reports.insert(key, r.clone());
        }
        s.record(event);
        Ok(())
    }

    async fn release_run(&self, partner_id: &str, run_id: &str, attempt: u32) -> StoreResult<()> {
        let mut s = self.lock();
        let key = (partner_id.to_string(), run_id.to_string());
        if s.leases.get(&key).is_some_and(|(a, _)| *a == attempt) {
            s.leases.remove(&key);
        }
        Ok(())
    }

    async fn stale_queued_runs(&self, queued_before: i64, limit: usize) -> StoreResult<Vec<Run>> {
        let s = self.lock();
        let mut stale: Vec<Run> = s
            .runs
            .values()
            .flat_map(|m| m.values())
            .filter(|r| r.status == RunStatus::Queued && r.created_at < queued_before)
            .cloned()
            .collect();
        stale.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        stale.truncate(limit);
        Ok(stale)
    }

    async fn run_report(&self, partner_id: &str, run_id: &str) -> StoreResult<Option<RunReport>> {
        Ok(self.lock().reports.get(&(partner_id.to_string(), run_id.to_string())).cloned())
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

#[async_trait]
impl UsageStore for MemoryStore {
    async fn close_usage_month(&self, snapshot: &UsageSnapshot) -> StoreResult<bool> {
        let mut s = self.lock();
        let key = (snapshot.distributor_id.clone(), snapshot.month());
        if s.snapshots.contains_key(&key) {
            return Ok(false);
        }
        s.snapshots.insert(key, snapshot.clone());
        Ok(true)
    }

    async fn usage_snapshot(&self, distributor_id: &str, month: Month) -> StoreResult<Option<UsageSnapshot>> {
        Ok(self.lock().snapshots.get(&(distributor_id.to_string(), month)).cloned())
    }
}

#[async_trait]
impl LimitStore for MemoryStore {
    async fn count_hit(&self, bucket: &str, expires_at: i64) -> StoreResult<u64> {
        let mut s = self.lock();
        // Windows are short-lived; forget the ones long past so a long-running dev server stays small.
        if s.windows.len() > 4096 {
            s.windows.retain(|_, (_, e)| *e >= expires_at - 7200);
        }
        let entry = s.windows.entry(bucket.to_string()).or_insert((0, expires_at));
        entry.0 += 1;
        Ok(entry.0)
    }
}

#[async_trait]
impl IdempotencyStore for MemoryStore {
    async fn claim_idempotency(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: i64,
        lease_until: i64,
    ) -> StoreResult<IdempotencyClaim> {
        let mut s = self.lock();
        let id = (scope.to_string(), key.to_string());
        if let Some(rec) = s.idempotency.get(&id).filter(|r| r.expires_at > now) {
            if rec.fingerprint != fingerprint {
                return Ok(IdempotencyClaim::Mismatch);
            }
            if let Some((status, body)) = &rec.response {
                return Ok(IdempotencyClaim::Replay { status: *status, body: body.clone() });
            }
            if rec.lease_until > now {
                return Ok(IdempotencyClaim::InProgress);
            }
        }
        let rec =
            IdemRecord { fingerprint: fingerprint.to_string(), response: None, lease_until, expires_at: lease_until };
        s.idempotency.insert(id, rec);
        Ok(IdempotencyClaim::Claimed)
    }

    async fn finish_idempotency(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &[u8],
        expires_at: i64,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        if let Some(rec) = s.idempotency.get_mut(&(scope.to_string(), key.to_string())) {
            rec.response = Some((status, body.to_vec()));
            rec.expires_at = expires_at;
        }
        Ok(())
    }

    async fn release_idempotency(&self, scope: &str, key: &str) -> StoreResult<()> {
        self.lock().idempotency.remove(&(scope.to_string(), key.to_string()));
        Ok(())
    }
}

#[async_trait]
impl Outbox for MemoryStore {
    async fn pending_events(&self, limit: usize) -> StoreResult<Vec<Event>> {
        Ok(self.lock().outbox.values().take(limit).cloned().collect())
    }

    async fn ack_events(&self, ids: &[String]) -> StoreResult<()> {
        let mut s = self.lock();
        for id in ids {
            s.outbox.remove(id);
        }
        Ok(())
    }
}

#[async_trait]
impl WebhookStore for MemoryStore {
    async fn create_endpoint(&self, endpoint: &Endpoint, max: usize) -> StoreResult<()> {
        let mut s = self.lock();
        let mine = s.endpoints.entry(endpoint.owner.clone()).or_default();
        if mine.len() >= max {
            return Err(StoreError::LimitReached);
        }
        mine.insert(endpoint.id.clone(), endpoint.clone());
        Ok(())
    }

    async fn endpoint(&self, owner: &Owner, id: &str) -> StoreResult<Option<Endpoint>> {
        Ok(self.lock().endpoints.get(owner).and_then(|m| m.get(id)).cloned())
    }

    async fn list_endpoints(&self, owner: &Owner, page: &PageRequest) -> StoreResult<Page<Endpoint>> {
        let s = self.lock();
        Ok(page_of(s.endpoints.get(owner), page, false, |_| true))
    }

    async fn endpoints_of(&self, owner: &Owner) -> StoreResult<Vec<Endpoint>> {
        Ok(self.lock().endpoints.get(owner).map(|m| m.values().cloned().collect()).unwrap_or_default())
    }

    async fn update_endpoint(&self, endpoint: &Endpoint, expected_version: u64) -> StoreResult<()> {
        let mut s = self.lock();
        let current =
            s.endpoints.get_mut(&endpoint.owner).and_then(|m| m.get_mut(&endpoint.id)).ok_or(StoreError::NotFound)?;
        if current.version != expected_version {
            return Err(StoreError::Conflict);
        }
        *current = endpoint.clone();
        Ok(())
    }

    async fn delete_endpoint(&self, owner: &Owner, id: &str) -> StoreResult<()> {
        let mut s = self.lock();
        s.endpoints.get_mut(owner).and_then(|m| m.remove(id)).ok_or(StoreError::NotFound)?;
        s.deliveries.remove(id);
        s.delivery_events.retain(|(endpoint, _), _| endpoint != id);
        Ok(())
    }

    async fn create_delivery(&self, delivery: &Delivery) -> StoreResult<()> {
        let mut s = self.lock();
        let guard = (delivery.endpoint_id.clone(), delivery.event_id.clone());
        if s.delivery_events.contains_key(&guard) {
            return Err(StoreError::Conflict);
        }
        s.delivery_events.insert(guard, delivery.id.clone());
        s.deliveries.entry(delivery.endpoint_id.clone()).or_default().insert(delivery.id.clone(), delivery.clone());
        Ok(())
    }

    async fn delivery(&self, endpoint_id: &str, id: &str) -> StoreResult<Option<Delivery>> {
        Ok(self.lock().deliveries.get(endpoint_id).and_then(|m| m.get(id)).cloned())
    }

    async fn delivery_for_event(&self, endpoint_id: &str, event_id: &str) -> StoreResult<Option<Delivery>> {
        let s = self.lock();
        let id = s.delivery_events.get(&(endpoint_id.to_string(), event_id.to_string()));
        Ok(id.and_then(|id| s.deliveries.get(endpoint_id).and_then(|m| m.get(id))).cloned())
    }

    async fn record_attempt(
        &self,
        endpoint_id: &str,
        delivery_id: &str,
        attempt: &Attempt,
        status: DeliveryStatus,
        next_attempt_at: Option<i64>,
    ) -> StoreResult<Delivery> {
        let mut s = self.lock();
        let d = s.deliveries.get_mut(endpoint_id).and_then(|m| m.get_mut(delivery_id)).ok_or(StoreError::NotFound)?;
        if d.status != DeliveryStatus::Pending || attempt.number as usize != d.attempts.len() + 1 {
            return Err(StoreError::Conflict);
        }
        d.attempts.push(attempt.clone());
        d.status = status;
        d.next_attempt_at = next_attempt_at;
        Ok(d.clone())
    }

    async fn reopen_delivery(&self, endpoint_id: &str, delivery_id: &str, at: i64) -> StoreResult<Delivery> {
        let mut s = self.lock();
        let d = s.deliveries.get_mut(endpoint_id).and_then(|m| m.get_mut(delivery_id)).ok_or(StoreError::NotFound)?;
        d.status = DeliveryStatus::Pending;
        d.next_attempt_at = Some(at);
        Ok(d.clone())
    }

    async fn due_deliveries(&self, before: i64, limit: usize) -> StoreResult<Vec<Delivery>> {
        let s = self.lock();
        let mut due: Vec<Delivery> = s
            .deliveries
            .values()
            .flat_map(|m| m.values())
            .filter(|d| d.status == DeliveryStatus::Pending && d.next_attempt_at.is_some_and(|t| t < before))
            .cloned()
            .collect();
        due.sort_by_key(|d| d.next_attempt_at);
        due.truncate(limit);
        Ok(due)
    }

    async fn list_deliveries(&self, endpoint_id: &str, page: &PageRequest) -> StoreResult<Page<Delivery>> {
        let s = self.lock();
        Ok(page_of(s.deliveries.get(endpoint_id), page, true, |_| true))
    }
}

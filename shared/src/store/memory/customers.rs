//! Customers (`CustomerStore`).

use super::*;

#[async_trait]
impl CustomerStore for MemoryStore {
    async fn create_customer(&self, c: &Customer, event: &Event) -> StoreResult<()> {
        let mut s = self.lock();
        if !s.partners.contains_key(c.partner_id.as_str()) {
            return Err(StoreError::NotFound);
        }
        let guard = (c.partner_id.to_string(), c.tenant_id.clone());
        if s.tenants.contains_key(&guard) {
            return Err(StoreError::CustomerExists);
        }
        s.tenants.insert(guard, c.id.to_string());
        s.customers.entry(c.partner_id.to_string()).or_default().insert(c.id.to_string(), c.clone());
        if let Some(p) = s.partners.get_mut(c.partner_id.as_str()) {
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
        let current = s
            .customers
            .get(c.partner_id.as_str())
            .and_then(|m| m.get(c.id.as_str()))
            .cloned()
            .ok_or(StoreError::NotFound)?;
        if current.version != expected_version {
            return Err(StoreError::Conflict);
        }
        if current.tenant_id != c.tenant_id {
            let guard = (c.partner_id.to_string(), c.tenant_id.clone());
            if s.tenants.contains_key(&guard) {
                return Err(StoreError::CustomerExists);
            }
            s.tenants.remove(&(c.partner_id.to_string(), current.tenant_id.clone()));
            s.tenants.insert(guard, c.id.to_string());
        }
        s.customers.get_mut(c.partner_id.as_str()).expect("read above").insert(c.id.to_string(), c.clone());
        s.record(event);
        Ok(())
    }

    async fn delete_customer(&self, partner_id: &str, id: &str, event: &Event) -> StoreResult<()> {
        let mut s = self.lock();
        let c = s.customers.get_mut(partner_id).and_then(|m| m.remove(id)).ok_or(StoreError::NotFound)?;
        s.tenants.remove(&(partner_id.to_string(), c.tenant_id));
        s.latest_runs.retain(|(p, customer, _), _| !(p == partner_id && customer == id));
        s.portfolio.forget(partner_id, id);
        s.answers.retain(|(p, customer, _), _| !(p == partner_id && customer == id));
        s.contexts.forget(partner_id, id);
        s.schedules.forget(partner_id, id);
        let gone: Vec<String> = s
            .runs
            .get(partner_id)
            .map(|runs| runs.values().filter(|r| r.customer_id == id).map(|r| r.id.to_string()).collect())
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

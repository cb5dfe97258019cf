//! Distributors and partners (`AccountStore`).

use super::*;

#[async_trait]
impl AccountStore for MemoryStore {
    async fn create_distributor(&self, d: &Distributor) -> StoreResult<()> {
        self.lock().distributors.insert(d.id.to_string(), d.clone());
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

    async fn create_partner_with(&self, p: &Partner, event: Option<&Event>) -> StoreResult<()> {
        let mut s = self.lock();
        if let Some(d) = &p.distributor_id {
            let guard = (d.to_string(), p.email.to_lowercase());
            if s.partner_emails.contains_key(&guard) {
                return Err(StoreError::PartnerExists);
            }
            s.partner_emails.insert(guard, p.id.to_string());
            s.partners_by_distributor.insert((d.to_string(), p.id.to_string()));
        }
        s.partners.insert(p.id.to_string(), p.clone());
        if let Some(e) = event {
            s.record(e);
        }
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

    async fn update_partner_terms_audited(
        &self,
        partner_id: &str,
        expected_terms_version: u64,
        plan: Option<&str>,
        billing: Option<&BillingConfig>,
        subscription: Option<&Subscription>,
        at: Timestamp,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<Partner> {
        let mut s = self.lock();
        let p = s.partners.get_mut(partner_id).ok_or(StoreError::NotFound)?;
        if p.terms_version != expected_terms_version {
            return Err(StoreError::Conflict);
        }
        p.terms_version += 1;
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
        let partner = p.clone();
        s.audit(audit);
        Ok(partner)
    }

    async fn activate_partner(&self, partner_id: &str, at: Timestamp, event: &Event) -> StoreResult<StatusChange> {
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

    async fn suspend_partner(&self, partner_id: &str, at: Timestamp, event: &Event) -> StoreResult<StatusChange> {
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
                s.key_windows.remove(hash);
            }
        }
        s.record(event);
        Ok(StatusChange { partner, changed: true })
    }

    async fn branding(&self, partner_id: &str) -> StoreResult<crate::domain::branding::Branding> {
        Ok(self.lock().brandings.get(partner_id).cloned().unwrap_or_default())
    }

    async fn put_branding_audited(
        &self,
        partner_id: &str,
        branding: &crate::domain::branding::Branding,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        let stored = s.brandings.get(partner_id).map_or(0, |b| b.version);
        if stored != branding.version {
            return Err(StoreError::Conflict);
        }
        let mut next = branding.clone();
        next.version += 1;
        s.brandings.insert(partner_id.to_string(), next);
        s.audit(audit);
        Ok(())
    }
}

impl MemoryStore {
    /// The distributor's partner ids, ascending (as `all_partners` lists them).
    pub(super) fn partner_ids(&self, distributor_id: &str) -> Vec<String> {
        self.lock()
            .partners_by_distributor
            .range((distributor_id.to_string(), String::new())..)
            .take_while(|(d, _)| d == distributor_id)
            .map(|(_, id)| id.clone())
            .collect()
    }
}

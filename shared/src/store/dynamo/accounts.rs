//! Distributors and partners (`AccountStore`).

use super::*;

/// A distributor's partner ids from its `MEMBERS` item, ascending; `None` unless the item says
/// the set is complete.
pub(super) fn decode_members(item: Option<&Item>) -> Option<Vec<String>> {
    let item = item?;
    if !matches!(item.get("complete"), Some(AV::Bool(true))) {
        return None;
    }
    let mut ids = match item.get("ids") {
        Some(AV::Ss(ids)) => ids.clone(),
        _ => Vec::new(),
    };
    ids.sort();
    Some(ids)
}

#[async_trait]
impl AccountStore for DynamoStore {
    async fn create_distributor(&self, d: &Distributor) -> StoreResult<()> {
        let mut item = ser(d)?;
        item.extend(schema::distributor(&d.id));
        // Every distributor in one GSI1 partition: the usage report walks them (no scan).
        item.insert(GSI1PK.into(), s(schema::DISTRIBUTORS));
        item.insert(GSI1SK.into(), s(schema::distributors_gsi1sk(&d.id)));
        // A new distributor's partner-id set is complete from the start (it has none yet).
        let members = Op::update(schema::members(&d.id), "SET #complete = :t").val(":t", AV::Bool(true));
        match self.transact(vec![Op::put(item), members]).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(StoreError::Backend(format!("distributor {} was not written", d.id))),
        }
    }

    async fn distributor(&self, id: &str) -> StoreResult<Option<Distributor>> {
        self.get_as(schema::distributor(id)).await
    }

    // From GSI1 (eventually consistent): for the scheduled report.
    async fn distributor_ids(&self) -> StoreResult<Vec<String>> {
        let items = self.all_in_gsi1(schema::DISTRIBUTORS).await?;
        Ok(items
            .iter()
            .filter_map(|i| text(i, GSI1SK).and_then(schema::distributor_of_gsi1sk))
            .map(String::from)
            .collect())
    }

    async fn create_partner_with(&self, p: &Partner, event: Option<&Event>) -> StoreResult<()> {
        let mut item = ser(p)?;
        item.extend(schema::partner(&p.id));
        item.insert("ver".into(), n(1));
        let mut ops = vec![Op::put(item).fresh()];
        if let Some(d) = &p.distributor_id {
            let mut guard = schema::email_guard(d, &p.email);
            guard.insert("partner_id".into(), s(&p.id));
            ops.push(Op::put(guard).fresh());
            let mut member = schema::member(d, &p.id);
            member.insert("status".into(), s(p.status.as_str()));
            ops.push(Op::put(member).fresh());
            ops.push(Op::put(schema::status_member(d, p.status.as_str(), &p.id)).fresh());
            ops.push(Op::update(schema::members(d), "ADD #ids :p").val(":p", AV::Ss(vec![p.id.to_string()])));
        }
        if let Some(e) = event {
            ops.push(super::outbox::event_put(e)?);
        }
        match self.transact(ops).await? {
            Ok(()) => Ok(()),
            Err(c) if c.failed(1) => Err(StoreError::PartnerExists),
            Err(_) => Err(StoreError::Backend(format!("partner {} exists", p.id))),
        }
    }

    async fn partner(&self, id: &str) -> StoreResult<Option<Partner>> {
        self.get_as(schema::partner(id)).await
    }

    async fn list_partners(
        &self,
        distributor_id: &str,
        status: Option<AccountStatus>,
        page: &PageRequest,
    ) -> StoreResult<Page<Partner>> {
        // A status has its own entries, so `?status=` reads only the partners that have it.
        let base = match status {
            Some(st) => schema::status_member_prefix(st.as_str()),
            None => schema::MEMBER_PREFIX.to_string(),
        };
        let q = Query::prefix(schema::distributor_pk(distributor_id), &base, true);
        let after = page.after.as_ref().map(|id| format!("{base}{id}"));
        let (items, next) = self.page_within(&q, page.limit, after, self.list_read_budget).await?;
        let ids: Vec<String> = items
            .iter()
            .filter_map(|i| text(i, SK))
            .filter_map(|sk| sk.strip_prefix(base.as_str()))
            .map(String::from)
            .collect();
        let next = next.as_deref().and_then(|sk| sk.strip_prefix(base.as_str())).map(String::from);
        let mut partners = self.partners_by_id(&ids).await?;
        // The entry moves with the status in one transaction; an entry left by the backfill
        // (`backfill_list_entries`) racing a change is dropped here.
        if let Some(st) = status {
            partners.retain(|p| p.status == st);
        }
        Ok(Page { items: partners, next })
    }

    async fn all_partners(&self, distributor_id: &str) -> StoreResult<Vec<Partner>> {
        let items =
            self.all(&Query::prefix(schema::distributor_pk(distributor_id), schema::MEMBER_PREFIX, true)).await?;
        let ids: Vec<String> = items
            .iter()
            .filter_map(|i| text(i, SK))
            .filter_map(|sk| sk.strip_prefix(schema::MEMBER_PREFIX))
            .map(String::from)
            .collect();
        self.partners_by_id(&ids).await
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
        let mut sets = vec!["#updated_at = :at"];
        let mut values: Vec<(&str, AV)> = vec![(":at", n(at)), (":one", n(1))];
        if let Some(plan) = plan {
            sets.push("#plan = :plan");
            values.push((":plan", s(plan)));
        }
        if let Some(b) = billing {
            sets.push("#billing = :billing");
            values.push((":billing", av(b)?));
        }
        if let Some(sub) = subscription {
            sets.push("#subscription = :sub");
            values.push((":sub", av(sub)?));
        }
        // Version 0 is "never changed": the attribute is absent until the first change.
        let same_terms =
            if expected_terms_version == 0 { "attribute_not_exists(#terms_version)" } else { "#terms_version = :tv" };
        let mut op = Op::update(
            schema::partner(partner_id),
            format!("SET {} ADD #ver :one, #terms_version :one", sets.join(", ")),
        )
        .when(format!("attribute_exists(PK) AND {same_terms}"));
        if expected_terms_version > 0 {
            op = op.val(":tv", n(expected_terms_version));
        }
        for (placeholder, value) in values {
            op = op.val(placeholder, value);
        }
        let written = if audit.is_some() {
            // With its audit entry it is a transaction, which answers no values: read it back.
            match self.transact(vec![op.with_riders(audit_ops(audit)?)]).await? {
                Ok(()) => self.get(schema::partner(partner_id)).await?,
                Err(_) => None,
            }
        } else {
            self.write(op, ReturnValue::AllNew).await?
        };
        match written {
            Some(item) => de(item),
            // The condition failed: the partner is gone, or its terms moved since they were read.
            None => match self.get(schema::partner(partner_id)).await? {
                None => Err(StoreError::NotFound),
                Some(_) => Err(StoreError::Conflict),
            },
        }
    }

    async fn activate_partner(&self, partner_id: &str, at: Timestamp, event: &Event) -> StoreResult<StatusChange> {
        self.change_status(partner_id, AccountStatus::Active, at, event).await
    }

    async fn suspend_partner(&self, partner_id: &str, at: Timestamp, event: &Event) -> StoreResult<StatusChange> {
        self.change_status(partner_id, AccountStatus::Suspended, at, event).await
    }

    async fn branding(&self, partner_id: &str) -> StoreResult<crate::domain::branding::Branding> {
        Ok(self.get_as(schema::branding(partner_id)).await?.unwrap_or_default())
    }

    async fn put_branding_audited(
        &self,
        partner_id: &str,
        branding: &crate::domain::branding::Branding,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()> {
        let mut next = branding.clone();
        next.version += 1;
        let mut item = ser(&next)?;
        item.extend(schema::branding(partner_id));
        // Version 0 is "never stored": the item is absent until the first write.
        let op = if branding.version == 0 {
            Op::put(item).fresh()
        } else {
            Op::put(item).when("#version = :v").val(":v", n(branding.version))
        };
        let op = op.with_riders(audit_ops(audit)?);
        match self.write(op, ReturnValue::None).await? {
            Some(_) => Ok(()),
            None => Err(StoreError::Conflict),
        }
    }
}

impl DynamoStore {
    /// Full partners for ids, in the order of `ids`.
    async fn partners_by_id(&self, ids: &[String]) -> StoreResult<Vec<Partner>> {
        let items = self.batch_get(ids.iter().map(|id| schema::partner(id)).collect()).await?;
        let mut by_id: HashMap<String, Partner> = HashMap::new();
        for item in items {
            let p: Partner = de(item)?;
            by_id.insert(p.id.to_string(), p);
        }
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }
    /// deletion of its keys, conditional on the partner being as read.
    async fn change_status(
        &self,
        partner_id: &str,
        to: AccountStatus,
        at: Timestamp,
        event: &Event,
    ) -> StoreResult<StatusChange> {
        for _ in 0..OCC_ATTEMPTS {
            let Some(item) = self.get(schema::partner(partner_id)).await? else {
                return Err(StoreError::NotFound);
            };
            let ver = num(&item, "ver");
            let mut partner: Partner = de(item)?;
            if partner.status == to {
                return Ok(StatusChange { partner, changed: false });
            }
            let from = partner.status;
            partner.status = to;
            partner.updated_at = Some(at);
            let stamp = if to == AccountStatus::Active {
                partner.activated_at = Some(at);
                "activated_at"
            } else {
                partner.suspended_at = Some(at);
                "suspended_at"
            };
            let update =
                Op::update(schema::partner(partner_id), "SET #st = :st, #stamp = :at, #updated_at = :at ADD #ver :one")
                    .name("#st", "status")
                    .name("#stamp", stamp)
                    .val(":st", s(to.as_str()))
                    .val(":at", n(at))
                    .val(":one", n(1));
            let update = match ver {
                Some(v) => update.when("#ver = :ver").val(":ver", n(v)),
                None => update.when("attribute_exists(PK) AND attribute_not_exists(#ver)"),
            };
            let mut ops = vec![update];
            if let Some(d) = &partner.distributor_id {
                ops.push(
                    Op::update(schema::member(d, partner_id), "SET #st = :st")
                        .name("#st", "status")
                        .val(":st", s(to.as_str())),
                );
                ops.push(Op::delete(schema::status_member(d, from.as_str(), partner_id)));
                ops.push(Op::put(schema::status_member(d, to.as_str(), partner_id)));
            }
            ops.push(event_put(event)?);
            if to == AccountStatus::Suspended {
                // Key issues bump `ver`, so a key issued after this read fails the condition.
                for slot in self.slots(&Owner::partner(partner_id)).await? {
                    ops.push(Op::delete(schema::slot(&slot.owner, slot.slot)));
                    ops.push(Op::delete(schema::api_key(&slot.hash)));
                }
            }
            match self.transact(ops).await? {
                Ok(()) => return Ok(StatusChange { partner, changed: true }),
                Err(_) => continue,
            }
        }
        Err(StoreError::Backend("the partner kept changing; gave up".into()))
    }
}

//! The audit log's store contract (contract, "Billing and audit"): an entry is written by the
//! change it records, in the same write, on both adapters; each viewer's list is newest first,
//! paged, filtered by action, target and time, and forgets entries after 400 days.

use super::*;
use shared::domain::audit::{
    Action, Actor, AuditEntry, AuditFilter, Changes, Target, TargetType, AUDIT_RETENTION_SECS,
};
use shared::domain::branding::Branding;
use shared::domain::webhook::Endpoint;

/// An entry at `at` (its id made from `at`, as `Ids::audit` makes it) by `actor`.
fn entry(at: Timestamp, actor: &Actor, action: Action, target: Target) -> AuditEntry {
    let id = IdGen::new().time_ordered("aud_", (at.unix() * 1000) as u64).into();
    AuditEntry::new(id, at, actor.clone(), action, target, Changes::new().field("n", 0, at.unix()))
}

async fn listed(store: &Arc<dyn Store>, viewer: &Owner, filter: &AuditFilter, now: Timestamp) -> Vec<String> {
    let page = store.audit_entries(viewer, filter, now, &all()).await.expect("audit");
    assert!(page.next.is_none());
    page.items.iter().map(|e| e.id.to_string()).collect()
}

fn none() -> AuditFilter {
    AuditFilter::default()
}

fn endpoint(owner: &Owner, url: &str) -> Endpoint {
    Endpoint {
        id: id("whk_"),
        owner: owner.clone(),
        url: url.into(),
        events: vec!["customer.created".into()],
        description: None,
        enabled: true,
        secret: "sealed".into(),
        previous_secret: None,
        previous_secret_expires_at: None,
        created_at: T0,
        updated_at: None,
        version: 1,
    }
}

/// Every kind of change carries its entry into its own write; each viewer lists what it may
/// see, newest first; the filters are exact; paging walks the same list.
pub(super) async fn audit_entries_ride_with_their_change_and_list_per_viewer(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "audit@msp.example", AccountStatus::Pending).await;
    let other = new_partner(&store, Some(&d.id), "other@msp.example", AccountStatus::Active).await;
    let by_d = Actor::key(&Owner::distributor(&d.id), 1);
    let by_p = Actor::key(&Owner::partner(&p.id), 1);
    let partner_t = || Target::new(TargetType::Partner, p.id.as_str());
    let seen = |e: AuditEntry| e.seen_by_partner(&p.id, Some(d.id.as_str()));
    let mut made = Vec::new();
    let at = |i: i64| T0 + 10 * i;

    let e = seen(entry(at(1), &by_d, Action::PartnerActivated, partner_t()));
    store
        .activate_partner(
            &p.id,
            at(1),
            &ev(EventType::PartnerActivated, Owner::distributor(&d.id)).with_audit(e.clone()),
        )
        .await
        .unwrap();
    made.push(e);
    let e = seen(entry(at(2), &by_d, Action::KeyCreated, Target::key(&p.id, 1)));
    let key = ev(EventType::KeyCreated, Owner::partner(&p.id)).with_audit(e.clone());
    store.issue_key(&Owner::partner(&p.id), 1, "hash-1", at(2), Some(&key)).await.unwrap();
    made.push(e);
    let c = customer_of(&p.id, &tenant(1));
    let e = seen(entry(at(3), &by_p, Action::CustomerCreated, Target::new(TargetType::Customer, c.id.as_str())));
    store.create_customer(&c, &partner_event(EventType::CustomerCreated, &p).with_audit(e.clone())).await.unwrap();
    made.push(e);
    let mut next = c.clone();
    next.name = "Renamed".into();
    next.version = 2;
    let e = seen(entry(at(4), &by_p, Action::CustomerUpdated, Target::new(TargetType::Customer, c.id.as_str())));
    store
        .update_customer(&next, 1, &partner_event(EventType::CustomerUpdated, &p).with_audit(e.clone()))
        .await
        .unwrap();
    made.push(e);
    let e = seen(entry(at(5), &by_d, Action::PlanChanged, partner_t()));
    store.update_partner_terms_audited(&p.id, 0, Some("enterprise"), None, None, at(5), Some(&e)).await.unwrap();
    made.push(e);
    let e = seen(entry(at(6), &by_p, Action::BrandingUpdated, Target::new(TargetType::Branding, p.id.as_str())));
    store.put_branding_audited(&p.id, &Branding::default(), Some(&e)).await.unwrap();
    made.push(e);
    let w = endpoint(&Owner::partner(&p.id), "https://a.example");
    let e = entry(at(7), &by_p, Action::WebhookCreated, Target::new(TargetType::Webhook, w.id.as_str()));
    store.create_endpoint_audited(&w, 5, Some(&e)).await.unwrap();
    made.push(e);
    let mut w2 = w.clone();
    w2.version = 2;
    let e = entry(at(8), &by_p, Action::WebhookSecretRotated, Target::new(TargetType::Webhook, w.id.as_str()));
    store.update_endpoint_audited(&w2, 1, Some(&e)).await.unwrap();
    made.push(e);
    let e = entry(at(9), &by_p, Action::WebhookDeleted, Target::new(TargetType::Webhook, w.id.as_str()));
    store.delete_endpoint_audited(&Owner::partner(&p.id), w.id.as_str(), at(9), Some(&e)).await.unwrap();
    made.push(e);
    let e = seen(entry(at(10), &by_p, Action::CustomerDeleted, Target::new(TargetType::Customer, c.id.as_str())));
    store
        .delete_customer(&p.id, c.id.as_str(), &partner_event(EventType::CustomerDeleted, &p).with_audit(e.clone()))
        .await
        .unwrap();
    made.push(e);

    let now = at(11);
    let newest_first = |pick: &dyn Fn(&AuditEntry) -> bool| -> Vec<String> {
        made.iter().rev().filter(|e| pick(e)).map(|e| e.id.to_string()).collect()
    };
    let partner = Owner::partner(&p.id);
    assert_eq!(
        listed(&store, &partner, &none(), now).await,
        newest_first(&|_| true),
        "the partner sees every change to it"
    );
    let dist = Owner::distributor(&d.id);
    let webhook = |e: &AuditEntry| e.target.kind == TargetType::Webhook;
    assert_eq!(
        listed(&store, &dist, &none(), now).await,
        newest_first(&|e| !webhook(e)),
        "its partner's own webhooks are not the distributor's"
    );
    assert!(listed(&store, &Owner::partner(&other.id), &none(), now).await.is_empty(), "another partner sees nothing");
    // The whole entry comes back as it was written.
    let page = store.audit_entries(&partner, &none(), now, &all()).await.unwrap();
    assert_eq!(page.items.iter().rev().cloned().collect::<Vec<_>>(), made);

    // Filters: action, target, time (inclusive), and an action within a target.
    let f = AuditFilter { action: Some(Action::CustomerUpdated), ..none() };
    assert_eq!(listed(&store, &partner, &f, now).await, newest_first(&|e| e.action == Action::CustomerUpdated));
    let f = AuditFilter { target_id: Some(c.id.to_string()), ..none() };
    assert_eq!(listed(&store, &dist, &f, now).await, newest_first(&|e| e.target.id == c.id.as_str()));
    let f = AuditFilter { target_id: Some(c.id.to_string()), action: Some(Action::CustomerDeleted), ..none() };
    assert_eq!(listed(&store, &partner, &f, now).await, vec![made[9].id.to_string()]);
    let f = AuditFilter { from: Some(at(3)), to: Some(at(5)), ..none() };
    assert_eq!(listed(&store, &partner, &f, now).await, newest_first(&|e| e.at >= at(3) && e.at <= at(5)));
    let f = AuditFilter { from: Some(at(3) + 1), to: Some(at(5) - 1), ..none() };
    assert_eq!(listed(&store, &partner, &f, now).await, vec![made[3].id.to_string()]);

    // Pages of three walk the same list.
    let pages = walk!(3, |page| store.audit_entries(&partner, &none(), now, &page));
    assert_eq!(pages.concat(), newest_first(&|_| true));
    assert!(pages.iter().all(|p| p.len() <= 3));
}

/// A change the store refuses (a failed condition, a limit, a no-op) writes its entry neither.
pub(super) async fn a_refused_change_records_no_audit_entry(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "refused@msp.example", AccountStatus::Active).await;
    let by = Actor::key(&Owner::partner(&p.id), 1);
    let viewer = Owner::partner(&p.id);
    let e =
        |action| entry(T0 + 1, &by, action, Target::new(TargetType::Partner, p.id.as_str())).seen_by(viewer.clone());
    let c = new_customer(&store, &p, &tenant(1)).await;

    // Another customer with the same tenant: refused.
    let dup = customer_of(&p.id, &tenant(1));
    let evt = partner_event(EventType::CustomerCreated, &p).with_audit(e(Action::CustomerCreated));
    assert_eq!(store.create_customer(&dup, &evt).await, Err(StoreError::CustomerExists));
    // An update computed from an older version: refused.
    let mut stale = c.clone();
    stale.version = 5;
    let evt = partner_event(EventType::CustomerUpdated, &p).with_audit(e(Action::CustomerUpdated));
    assert_eq!(store.update_customer(&stale, 4, &evt).await, Err(StoreError::Conflict));
    // Terms and branding from an older read: refused.
    let r = store
        .update_partner_terms_audited(&p.id, 7, Some("starter"), None, None, T0, Some(&e(Action::PlanChanged)))
        .await;
    assert_eq!(r.map(|_| ()), Err(StoreError::Conflict));
    let old = Branding { version: 3, ..Branding::default() };
    assert_eq!(
        store.put_branding_audited(&p.id, &old, Some(&e(Action::BrandingUpdated))).await,
        Err(StoreError::Conflict)
    );
    // An endpoint past the limit, and the deletion of one that is not there.
    let w = endpoint(&viewer, "https://a.example");
    store.create_endpoint(&w, 1).await.unwrap();
    let w2 = endpoint(&viewer, "https://b.example");
    assert_eq!(
        store.create_endpoint_audited(&w2, 1, Some(&e(Action::WebhookCreated))).await,
        Err(StoreError::LimitReached)
    );
    let r =
        store.delete_endpoint_audited(&viewer, "whk_absent000000000000", T0, Some(&e(Action::WebhookDeleted))).await;
    assert_eq!(r, Err(StoreError::NotFound));
    // Activating an active partner writes nothing, its entry included.
    let evt = ev(EventType::PartnerActivated, Owner::distributor(&d.id)).with_audit(e(Action::PartnerActivated));
    assert!(!store.activate_partner(&p.id, T0 + 2, &evt).await.unwrap().changed);
    // Revoking the last key: refused.
    store.issue_key(&viewer, 1, "only-hash", T0, None).await.unwrap();
    let evt = ev(EventType::KeyRevoked, viewer.clone()).with_audit(e(Action::KeyRevoked));
    assert_eq!(store.revoke_key(&viewer, 1, &evt).await, Err(StoreError::LastKey));

    assert!(listed(&store, &viewer, &none(), T0 + 10).await.is_empty());
}

/// Entries are kept 400 days (DynamoDB's TTL removes them; until it does, lists leave them out).
pub(super) async fn audit_entries_are_kept_400_days(store: Arc<dyn Store>) {
    let p = new_partner(&store, None, "ttl@msp.example", AccountStatus::Active).await;
    let viewer = Owner::partner(&p.id);
    let e = entry(T0, &Actor::operator(), Action::PlanChanged, Target::new(TargetType::Partner, p.id.as_str()))
        .seen_by(viewer.clone());
    store.update_partner_terms_audited(&p.id, 0, Some("starter"), None, None, T0, Some(&e)).await.unwrap();
    assert_eq!(e.expires_at(), T0 + AUDIT_RETENTION_SECS);
    assert_eq!(listed(&store, &viewer, &none(), T0 + AUDIT_RETENTION_SECS - 1).await, vec![e.id.to_string()]);
    assert!(listed(&store, &viewer, &none(), T0 + AUDIT_RETENTION_SECS).await.is_empty());
}

/// Concurrent updates of one customer from the same version: one applies, and exactly its
/// entry is recorded (an entry is never written for a change that lost the race).
pub(super) async fn concurrent_conflicting_changes_record_one_entry_per_applied_change(store: Arc<dyn Store>) {
    let p = new_partner(&store, None, "race@msp.example", AccountStatus::Active).await;
    let c = new_customer(&store, &p, &tenant(1)).await;
    let viewer = Owner::partner(&p.id);
    let mut set = JoinSet::new();
    for i in 0..8i64 {
        let (store, p, c, viewer) = (store.clone(), p.clone(), c.clone(), viewer.clone());
        set.spawn(async move {
            let e = entry(
                T0 + 1 + i,
                &Actor::key(&viewer, 1),
                Action::CustomerUpdated,
                Target::new(TargetType::Customer, c.id.as_str()),
            )
            .seen_by(viewer.clone());
            let mut next = c.clone();
            next.name = format!("Name {i}");
            next.version = 2;
            let evt = partner_event(EventType::CustomerUpdated, &p).with_audit(e.clone());
            (store.update_customer(&next, 1, &evt).await, e.id.to_string())
        });
    }
    let mut won = Vec::new();
    while let Some(r) = set.join_next().await {
        let (result, id) = r.unwrap();
        match result {
            Ok(()) => won.push(id),
            Err(StoreError::Conflict) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(won.len(), 1, "one update applies");
    assert_eq!(listed(&store, &viewer, &none(), T0 + 100).await, won, "and only its entry is recorded");
}

//! The store contract's cases for tenant contexts and exceptions (issue 18), run on both
//! adapters by `store_contract!` like every other case.

use std::sync::Arc;

use shared::domain::account::AccountStatus;
use shared::domain::context::{ApprovedExclusion, Exception, ExceptionKind, TenantContext, EXPIRING_NOTICE_SECS};
use shared::domain::event::EventType;
use shared::domain::time::Timestamp;
use shared::store::{PageRequest, Store, StoreError};
use tests::{tenant, T0};

use super::store_contract::{customer_of, ev, id, new_customer, new_distributor, new_partner, together};

const DAY: i64 = 86_400;

fn exception_of(c: &shared::domain::customer::Customer, requirement: &str, expires_at: Timestamp) -> Exception {
    Exception {
        id: id("exc_"),
        partner_id: c.partner_id.clone(),
        distributor_id: None,
        customer_id: c.id.clone(),
        requirement_id: requirement.into(),
        kind: ExceptionKind::RiskAccepted,
        rationale: "Accepted until the migration ends".into(),
        compensating_control: None,
        owner: "it@contoso.example".into(),
        approved_by: "ciso@contoso.example".into(),
        expires_at,
        created_at: T0,
        updated_at: None,
        version: 1,
        expiring_noticed: None,
    }
}

/// The context reads as empty until set, is replaced whole, per customer, and a write computed
/// from an older version is refused (`Conflict`), however many race.
pub(super) async fn tenant_contexts_are_replaced_whole_once_per_version(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "ctx@msp.example", AccountStatus::Active).await;
    let c = new_customer(&store, &p, &tenant(1)).await;
    let other = new_customer(&store, &p, &tenant(2)).await;
    assert_eq!(store.tenant_context(&p.id, &c.id).await.unwrap(), TenantContext::default());
    let accounts = ["8be8930d-7754-3e0a-b95d-6b24e8c20108", "0db93f9c-d493-dfe7-2262-9f11346667a7"];
    let results = together(5, |i| {
        let (store, pid, cid) = (store.clone(), p.id.to_string(), c.id.to_string());
        async move {
            let ctx = TenantContext {
                emergency_access_accounts: vec![accounts[i % 2].to_string()],
                updated_at: Some(T0 + i as i64),
                ..TenantContext::default()
            };
            store.put_tenant_context(&pid, &cid, &ctx, None).await
        }
    })
    .await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().filter(|r| r.is_err()).all(|r| r == &Err(StoreError::Conflict)), "{results:?}");
    let stored = store.tenant_context(&p.id, &c.id).await.unwrap();
    assert_eq!(stored.version, 1);
    // From the stored version the next (whole) replacement lands; from the old one it does not.
    let next = TenantContext {
        emergency_access_accounts: Vec::new(),
        approved_exclusions: vec![ApprovedExclusion {
            policy_id: "b1571f2a-bce8-aee7-fa2d-2de57d2da409".into(),
            principal_id: accounts[0].into(),
            reason: "Kiosk".into(),
        }],
        version: 1,
        ..TenantContext::default()
    };
    assert_eq!(
        store.put_tenant_context(&p.id, &c.id, &TenantContext::default(), None).await,
        Err(StoreError::Conflict)
    );
    store.put_tenant_context(&p.id, &c.id, &next, None).await.unwrap();
    let read = store.tenant_context(&p.id, &c.id).await.unwrap();
    assert_eq!(read, TenantContext { version: 2, ..next });
    assert_eq!(store.tenant_context(&p.id, &other.id).await.unwrap(), TenantContext::default(), "per customer");
}

/// Exceptions: created once per id, listed per customer oldest first in pages, changed only
/// from the version read, deleted once.
pub(super) async fn exceptions_are_kept_per_customer_and_changed_once_per_version(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "exc@msp.example", AccountStatus::Active).await;
    let c = new_customer(&store, &p, &tenant(1)).await;
    let other = new_customer(&store, &p, &tenant(2)).await;
    let made: Vec<Exception> = (0..3).map(|i| exception_of(&c, "MF-ML1-01", T0 + (100 + i) * DAY)).collect();
    for e in &made {
        store.create_exception(e, None).await.unwrap();
    }
    assert_eq!(store.create_exception(&made[0], None).await, Err(StoreError::Conflict), "one per id");
    store.create_exception(&exception_of(&other, "RB-ML1-01", T0 + 100 * DAY), None).await.unwrap();
    assert_eq!(store.exceptions_of(&p.id, &c.id).await.unwrap(), made, "oldest first, this customer's only");
    let first = store.list_exceptions(&p.id, &c.id, &PageRequest { limit: 2, after: None }).await.unwrap();
    assert_eq!(first.items, made[..2]);
    let rest = store.list_exceptions(&p.id, &c.id, &PageRequest { limit: 2, after: first.next }).await.unwrap();
    assert_eq!((rest.items, rest.next), (made[2..].to_vec(), None));
    assert_eq!(store.exception(&p.id, &c.id, &made[1].id).await.unwrap().as_ref(), Some(&made[1]));
    assert_eq!(store.exception(&p.id, &other.id, &made[1].id).await.unwrap(), None, "not another customer's");

    let results = together(5, |i| {
        let (store, e) = (store.clone(), made[0].clone());
        async move {
            let changed = Exception { owner: format!("owner{i}@contoso.example"), version: 2, ..e };
            store.update_exception(&changed, 1, None).await
        }
    })
    .await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().filter(|r| r.is_err()).all(|r| r == &Err(StoreError::Conflict)), "{results:?}");
    assert_eq!(store.exception(&p.id, &c.id, &made[0].id).await.unwrap().unwrap().version, 2);

    store.delete_exception(&p.id, &c.id, &made[0].id, None).await.unwrap();
    assert_eq!(store.delete_exception(&p.id, &c.id, &made[0].id, None).await, Err(StoreError::NotFound));
    assert_eq!(store.exception(&p.id, &c.id, &made[0].id).await.unwrap(), None);
    let gone = Exception { version: 3, ..made[0].clone() };
    assert_eq!(store.update_exception(&gone, 2, None).await, Err(StoreError::NotFound));
}

/// The expiry notice: an exception is due 30 days before it expires, oldest notice first;
/// recording it puts the event and marks it in one write, once however many invocations race
/// (a concurrent test), and a later expiry makes it due again.
pub(super) async fn an_expiring_exception_is_noticed_once_per_expiry(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "exp@msp.example", AccountStatus::Active).await;
    let c = new_customer(&store, &p, &tenant(1)).await;
    let soon = exception_of(&c, "MF-ML1-01", T0 + 40 * DAY);
    let sooner = exception_of(&c, "MF-ML1-02", T0 + 35 * DAY);
    let later = exception_of(&c, "MF-ML1-03", T0 + 200 * DAY);
    for e in [&soon, &sooner, &later] {
        store.create_exception(e, None).await.unwrap();
    }
    assert!(store.expiring_exceptions(T0, 100).await.unwrap().is_empty(), "nothing due yet");
    let at = T0 + 11 * DAY; // 29 days before `soon` expires, 24 before `sooner`
    let due = store.expiring_exceptions(at, 100).await.unwrap();
    assert_eq!(due.iter().map(|e| e.id.to_string()).collect::<Vec<_>>(), [sooner.id.to_string(), soon.id.to_string()]);
    assert_eq!(soon.expiring_notice_at(), soon.expires_at - EXPIRING_NOTICE_SECS);

    let before = store.pending_events(1000).await.unwrap().len();
    let results = together(6, |_| {
        let (store, e, owner) = (store.clone(), soon.clone(), shared::domain::account::Owner::partner(&p.id));
        async move { store.record_expiring(&e, &ev(EventType::ExceptionExpiring, owner)).await }
    })
    .await;
    assert_eq!(results.iter().filter(|r| r == &&Ok(true)).count(), 1, "{results:?}");
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    let events = store.pending_events(1000).await.unwrap();
    assert_eq!(events.len(), before + 1, "one event");
    let noticed = store.exception(&p.id, &c.id, &soon.id).await.unwrap().unwrap();
    assert_eq!((noticed.expiring_noticed, noticed.version), (Some(soon.expires_at), 2));
    let due = store.expiring_exceptions(at, 100).await.unwrap();
    assert_eq!(due.iter().map(|e| e.id.to_string()).collect::<Vec<_>>(), [sooner.id.to_string()]);
    assert!(!store
        .record_expiring(&soon, &ev(EventType::ExceptionExpiring, shared::domain::account::Owner::partner(&p.id)))
        .await
        .unwrap());

    // Extended: a notice is due again for the new expiry.
    let extended = Exception { expires_at: T0 + 100 * DAY, version: 3, ..noticed };
    store.update_exception(&extended, 2, None).await.unwrap();
    assert!(!store.expiring_exceptions(at, 100).await.unwrap().iter().any(|e| e.id == soon.id));
    let due = store.expiring_exceptions(T0 + 71 * DAY, 100).await.unwrap();
    assert!(due.iter().any(|e| e.id == soon.id && e.version == 3), "{due:?}");
}

/// Deleting a customer removes its context and exceptions with it: none is left to read, nor
/// to be noticed as expiring.
pub(super) async fn deleting_a_customer_removes_its_context_and_exceptions(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "del@msp.example", AccountStatus::Active).await;
    let c = new_customer(&store, &p, &tenant(1)).await;
    let kept = new_customer(&store, &p, &tenant(2)).await;
    let ctx = TenantContext {
        emergency_access_accounts: vec!["8be8930d-7754-3e0a-b95d-6b24e8c20108".into()],
        ..TenantContext::default()
    };
    for customer in [&c, &kept] {
        store.put_tenant_context(&p.id, &customer.id, &ctx, None).await.unwrap();
        store.create_exception(&exception_of(customer, "MF-ML1-01", T0 + 40 * DAY), None).await.unwrap();
    }
    let owner = shared::domain::account::Owner::partner(&p.id);
    store.delete_customer(&p.id, &c.id, &ev(EventType::CustomerDeleted, owner)).await.unwrap();
    assert_eq!(store.tenant_context(&p.id, &c.id).await.unwrap(), TenantContext::default());
    assert!(store.exceptions_of(&p.id, &c.id).await.unwrap().is_empty());
    let due = store.expiring_exceptions(T0 + 11 * DAY, 100).await.unwrap();
    assert_eq!(due.iter().map(|e| e.customer_id.to_string()).collect::<Vec<_>>(), [kept.id.to_string()]);
    assert_eq!(store.tenant_context(&p.id, &kept.id).await.unwrap().version, 1, "the other customer's stays");
}

/// An entry of `action` on `target` by partner `p`'s key, seen by `p` and distributor `d`.
fn ctx_entry(
    p: &shared::domain::account::Partner,
    action: shared::domain::audit::Action,
    target: shared::domain::audit::Target,
    n: i64,
) -> shared::domain::audit::AuditEntry {
    use shared::domain::audit::{Actor, AuditEntry, Changes};
    use shared::domain::ids::IdGen;
    let owner = shared::domain::account::Owner::partner(&p.id);
    let at = T0 + n;
    let id = IdGen::new().time_ordered("aud_", (at.unix() * 1000) as u64).into();
    AuditEntry::new(id, at, Actor::key(&owner, 1), action, target, Changes::new().field("n", 0, n))
        .seen_by_partner(&p.id, p.distributor_id.as_deref())
}

/// The ids of the audit entries `viewer` lists, newest first.
async fn audit_ids(store: &Arc<dyn Store>, viewer: &shared::domain::account::Owner) -> Vec<String> {
    let filter = shared::domain::audit::AuditFilter::default();
    let page = PageRequest { limit: 100, after: None };
    let listed = store.audit_entries(viewer, &filter, T0 + DAY, &page).await.unwrap();
    listed.items.iter().map(|e| e.id.to_string()).collect()
}

/// A context replacement and an exception's create, change and delete each write the audit
/// entry given with them, in the same write, listed for the partner and its distributor; a
/// refused one (stale version, a customer gone, an exception gone) writes none.
pub(super) async fn context_and_exception_changes_write_their_audit_entry_only_when_applied(store: Arc<dyn Store>) {
    use shared::domain::account::Owner;
    use shared::domain::audit::{Action, Target, TargetType};
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "ctxaudit@msp.example", AccountStatus::Active).await;
    let c = new_customer(&store, &p, &tenant(1)).await;
    let (partner, distributor) = (Owner::partner(&p.id), Owner::distributor(&d.id));
    let customer_t = || Target::new(TargetType::Customer, c.id.as_str());
    let mut written: Vec<String> = Vec::new();
    let expect = |written: &Vec<String>| written.iter().rev().cloned().collect::<Vec<_>>();

    // Context: the first replacement lands with its entry; one from the old version does not.
    let e = ctx_entry(&p, Action::ContextUpdated, customer_t(), 1);
    let ctx = TenantContext {
        emergency_access_accounts: vec!["8be8930d-7754-3e0a-b95d-6b24e8c20108".into()],
        ..TenantContext::default()
    };
    store.put_tenant_context(&p.id, &c.id, &ctx, Some(&e)).await.unwrap();
    written.push(e.id.to_string());
    let stale = ctx_entry(&p, Action::ContextUpdated, customer_t(), 2);
    let r = store.put_tenant_context(&p.id, &c.id, &TenantContext::default(), Some(&stale)).await;
    assert_eq!(r, Err(StoreError::Conflict));
    assert_eq!(audit_ids(&store, &partner).await, expect(&written), "a stale replacement records nothing");

    // A customer the partner does not have: refused (NotFound), and no entry.
    let ghost = customer_of(&p.id, &tenant(2));
    let lost = ctx_entry(&p, Action::ContextUpdated, Target::new(TargetType::Customer, ghost.id.as_str()), 3);
    let r = store.put_tenant_context(&p.id, &ghost.id, &ctx, Some(&lost)).await;
    assert_eq!(r, Err(StoreError::NotFound));
    let orphan = exception_of(&ghost, "MF-ML1-01", T0 + 100 * DAY);
    let lost = ctx_entry(&p, Action::ExceptionCreated, Target::new(TargetType::Exception, orphan.id.as_str()), 4);
    assert_eq!(store.create_exception(&orphan, Some(&lost)).await, Err(StoreError::NotFound));
    assert_eq!(store.tenant_context(&p.id, &ghost.id).await.unwrap(), TenantContext::default());
    assert_eq!(store.exception(&p.id, &ghost.id, &orphan.id).await.unwrap(), None);
    assert_eq!(audit_ids(&store, &partner).await, expect(&written), "a missing customer records nothing");

    // Exceptions: create, a second create of the same id (refused), update, a stale update
    // (refused), delete, a second delete (refused).
    let x = exception_of(&c, "MF-ML1-01", T0 + 100 * DAY);
    let exc_t = || Target::new(TargetType::Exception, x.id.as_str());
    let e = ctx_entry(&p, Action::ExceptionCreated, exc_t(), 5);
    store.create_exception(&x, Some(&e)).await.unwrap();
    written.push(e.id.to_string());
    let again = ctx_entry(&p, Action::ExceptionCreated, exc_t(), 6);
    assert_eq!(store.create_exception(&x, Some(&again)).await, Err(StoreError::Conflict));
    let changed = Exception { owner: "sec@contoso.example".into(), version: 2, ..x.clone() };
    let e = ctx_entry(&p, Action::ExceptionUpdated, exc_t(), 7);
    store.update_exception(&changed, 1, Some(&e)).await.unwrap();
    written.push(e.id.to_string());
    let stale = ctx_entry(&p, Action::ExceptionUpdated, exc_t(), 8);
    assert_eq!(store.update_exception(&changed, 1, Some(&stale)).await, Err(StoreError::Conflict));
    let e = ctx_entry(&p, Action::ExceptionDeleted, exc_t(), 9);
    store.delete_exception(&p.id, &c.id, &x.id, Some(&e)).await.unwrap();
    written.push(e.id.to_string());
    let twice = ctx_entry(&p, Action::ExceptionDeleted, exc_t(), 10);
    assert_eq!(store.delete_exception(&p.id, &c.id, &x.id, Some(&twice)).await, Err(StoreError::NotFound));
    let gone = ctx_entry(&p, Action::ExceptionUpdated, exc_t(), 11);
    assert_eq!(store.update_exception(&changed, 2, Some(&gone)).await, Err(StoreError::NotFound));

    assert_eq!(audit_ids(&store, &partner).await, expect(&written));
    assert_eq!(audit_ids(&store, &distributor).await, expect(&written), "the distributor sees its partner's");
}

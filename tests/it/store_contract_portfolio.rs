//! The store contract's cases for the latest results and the portfolio (issue 19), run on both
//! adapters by `store_contract!` like every other case.

use std::sync::Arc;

use shared::domain::account::AccountStatus;
use shared::domain::event::EventType;
use shared::domain::run::{Run, RunReport, RunStatus};
use shared::domain::time::Timestamp;
use shared::domain::trend::LatestRun;
use shared::store::{PageRequest, PortfolioScope, Store, StoreError};
use tests::{tenant, T0};

use super::store_contract::{
    completed, ev_of_partner, new_customer, new_distributor, new_partner, new_run, outbox, report, started,
};

/// Claims `r` and completes it at `at` with `score` and `report`, following `previous` (the
/// latest record read before), as the runner does: the whole latest record and every event
/// (`assessment.completed`, and `assessment.regressed` when given) in one write.
async fn complete(
    store: &Arc<dyn Store>,
    p: &shared::domain::account::Partner,
    r: &Run,
    at: Timestamp,
    report: &RunReport,
    regressed: bool,
) -> Result<LatestRun, StoreError> {
    let previous = store.latest_run(&p.id, &r.customer_id, &r.product).await.unwrap();
    let _ = store.claim_run(&p.id, &r.id, 1, at, at + 100, &started(p)).await.unwrap();
    let mut done = completed(r, at);
    done.results.as_mut().unwrap().previous_run_id = previous.as_ref().map(|l| l.run_id.clone());
    let score = done.results.as_ref().unwrap().score;
    let latest = LatestRun::after(previous.as_ref(), r.id.clone(), at, score, report, p.distributor_id.clone());
    let mut events = vec![ev_of_partner(EventType::AssessmentCompleted, p)];
    if regressed {
        events.push(ev_of_partner(EventType::AssessmentRegressed, p));
    }
    store.finish_run_with(&done, 1, Some(report), Some(&latest), &events).await?;
    let ids = outbox(store).await;
    assert!(events.iter().all(|e| ids.contains(&e.id.to_string())), "every event of the finish is recorded");
    Ok(latest)
}

fn page(limit: usize, after: Option<String>) -> PageRequest {
    PageRequest { limit, after }
}

/// (partner, customer, name, last run) of every row, following the cursor `limit` at a time.
async fn rows(store: &Arc<dyn Store>, scope: PortfolioScope<'_>, product: &str, limit: usize) -> Vec<[String; 4]> {
    let (mut out, mut after) = (Vec::new(), None);
    loop {
        let p = store.portfolio(scope, product, &page(limit, after.take())).await.unwrap();
        assert!(p.items.len() <= limit);
        out.extend(
            p.items
                .into_iter()
                .map(|r| [r.partner_id.to_string(), r.customer_id.to_string(), r.name, r.latest.run_id.to_string()]),
        );
        match p.next {
            Some(n) => after = Some(n),
            None => return out,
        }
    }
}

/// The portfolio lists each customer's latest completed run of the product once, under its
/// partner and its partner's distributor (by partner, then customer), pages with a cursor,
/// shows the customer's current name, leaves out customers without a completed run of the
/// product and deleted customers, and moves to a newer run when one completes (with the run
/// before it as `previous`). A completion refused as stale (`LatestMoved`) changes nothing.
pub(super) async fn the_portfolio_lists_each_customers_latest_result(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p1 = new_partner(&store, Some(&d.id), "one@portfolio.example", AccountStatus::Active).await;
    let p2 = new_partner(&store, Some(&d.id), "two@portfolio.example", AccountStatus::Active).await;
    let alone = new_partner(&store, None, "alone@portfolio.example", AccountStatus::Active).await;
    let c1 = new_customer(&store, &p1, &tenant(41)).await;
    let c2 = new_customer(&store, &p1, &tenant(42)).await;
    let never = new_customer(&store, &p1, &tenant(43)).await;
    let c3 = new_customer(&store, &p2, &tenant(44)).await;
    let c4 = new_customer(&store, &alone, &tenant(45)).await;
    let r1 = new_run(&store, &c1, "essential-eight", T0).await;
    let r2 = new_run(&store, &c2, "essential-eight", T0 + 1).await;
    let r3 = new_run(&store, &c3, "essential-eight", T0 + 2).await;
    let r4 = new_run(&store, &c4, "essential-eight", T0 + 3).await;
    let queued_only = new_run(&store, &never, "essential-eight", T0 + 4).await;
    let nist = new_run(&store, &c1, "nist-csf", T0 + 5).await;
    for (p, r) in [(&p1, &r1), (&p1, &r2), (&p2, &r3), (&alone, &r4)] {
        complete(&store, p, r, T0 + 10, &report(), false).await.unwrap();
    }
    complete(&store, &p1, &nist, T0 + 10, &report(), false).await.unwrap();
    let _ = queued_only;

    let row = |p: &shared::domain::account::Partner, c: &shared::domain::customer::Customer, r: &Run| {
        [p.id.to_string(), c.id.to_string(), c.name.clone(), r.id.to_string()]
    };
    let e8 = "essential-eight";
    assert_eq!(
        rows(&store, PortfolioScope::Partner(&p1.id), e8, 1).await,
        vec![row(&p1, &c1, &r1), row(&p1, &c2, &r2)]
    );
    assert_eq!(
        rows(&store, PortfolioScope::Distributor(&d.id), e8, 2).await,
        vec![row(&p1, &c1, &r1), row(&p1, &c2, &r2), row(&p2, &c3, &r3)],
        "the distributor's partners' customers, by partner then customer; not another's"
    );
    assert_eq!(rows(&store, PortfolioScope::Partner(&alone.id), e8, 10).await, vec![row(&alone, &c4, &r4)]);
    assert_eq!(rows(&store, PortfolioScope::Partner(&p1.id), "nist-csf", 10).await, vec![row(&p1, &c1, &nist)]);
    assert_eq!(rows(&store, PortfolioScope::Partner(&p1.id), "cis-m365", 10).await, Vec::<[String; 4]>::new());
    let first = store.portfolio(PortfolioScope::Partner(&p1.id), e8, &page(10, None)).await.unwrap().items;
    assert_eq!(first[0].latest.score, Some(72));
    assert_eq!(first[0].latest.overall, Some(0));
    assert_eq!(first[0].latest.by_strategy.get("mfa"), Some(&0));
    assert_eq!(first[0].latest.previous, None, "a first run has no run before it");

    // A newer run of c1: its row moves on, naming the run before it.
    let newer = new_run(&store, &c1, e8, T0 + 20).await;
    let mut better = report();
    better.maturity = Some(1);
    complete(&store, &p1, &newer, T0 + 30, &better, false).await.unwrap();
    // A run compared with an older latest is refused and writes nothing.
    let stale = new_run(&store, &c1, e8, T0 + 21).await;
    store.claim_run(&p1.id, &stale.id, 1, T0 + 31, T0 + 131, &started(&p1)).await.unwrap();
    let mut done = completed(&stale, T0 + 31);
    done.results.as_mut().unwrap().previous_run_id = Some(r1.id.clone());
    let old = LatestRun::after(None, stale.id.clone(), T0 + 31, 10, &report(), p1.distributor_id.clone());
    let e = ev_of_partner(EventType::AssessmentRegressed, &p1);
    let refused = store.finish_run_with(&done, 1, Some(&report()), Some(&old), std::slice::from_ref(&e)).await;
    assert_eq!(refused, Err(StoreError::LatestMoved));
    assert!(!outbox(&store).await.contains(&e.id.to_string()), "a refused finish records no event");
    assert_eq!(store.run(&p1.id, &stale.id).await.unwrap().unwrap().status, RunStatus::Running);

    let mut renamed = c1.clone();
    renamed.name = "Contoso Renamed".into();
    renamed.version += 1;
    store.update_customer(&renamed, c1.version, &ev_of_partner(EventType::CustomerUpdated, &p1)).await.unwrap();
    for scope in [PortfolioScope::Partner(&p1.id), PortfolioScope::Distributor(&d.id)] {
        let items = store.portfolio(scope, e8, &page(10, None)).await.unwrap().items;
        let mine = items.iter().find(|r| r.customer_id == c1.id).expect("c1 is listed");
        assert_eq!((mine.name.as_str(), &mine.latest.run_id), ("Contoso Renamed", &newer.id));
        assert_eq!(mine.latest.overall, Some(1));
        let previous = mine.latest.previous.as_ref().expect("the run before");
        assert_eq!((&previous.run_id, previous.overall, previous.score), (&r1.id, Some(0), Some(72)));
    }

    // Deleting a customer takes it out of both lists.
    store.delete_customer(&p1.id, &c2.id, &ev_of_partner(EventType::CustomerDeleted, &p1)).await.unwrap();
    let listed = |rows: Vec<[String; 4]>| rows.into_iter().map(|r| r[1].clone()).collect::<Vec<_>>();
    assert_eq!(listed(rows(&store, PortfolioScope::Partner(&p1.id), e8, 10).await), vec![c1.id.to_string()]);
    assert_eq!(
        listed(rows(&store, PortfolioScope::Distributor(&d.id), e8, 10).await),
        vec![c1.id.to_string(), c3.id.to_string()]
    );
}

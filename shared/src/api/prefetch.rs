//! What a route reads besides the account, named before the account is known, so the
//! pipeline reads them in the same round trip as the account (`auth::authenticate_counted`,
//! one `BatchGetItem` on DynamoDB; issue 16). A handler takes a prefetched item from
//! `Ctx::prefetched` and reads only what is not there. Items of another account's partner are
//! read but never answered: the handler checks ownership as it would after its own read.

use super::request;
use super::routes::{Access, PathParams, Route, RouteId};
use crate::domain::account::Owner;
use crate::domain::time::{Month, Timestamp};
use crate::store::Want;

/// The items `route` reads for the account `owner` (its id) at `now`, beyond the account.
/// Nothing for a path whose ids are malformed (the handler answers 400 before any read).
pub(super) fn wants(route: &Route, params: &PathParams, owner: &str, now: Timestamp) -> Vec<Want> {
    if request::check_id_params(params).is_err() {
        return Vec::new();
    }
    let param = |name: &str| params.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let run_and_report = |partner_id: String, run_id: String| {
        vec![Want::Run { partner_id: partner_id.clone(), id: run_id.clone() }, Want::RunReport { partner_id, run_id }]
    };
    let mut wants = Vec::new();
    // A distributor's route on one of its partners reads that partner first (`sub_partner`).
    if route.access == Access::Distributor && route.path.starts_with("/partners/{id}") {
        wants.push(Want::Partner(param("id")));
    }
    let used = |partner_id: String| Want::RunsUsed { partner_id, month: Month::of(now) };
    match route.id {
        RouteId::PartnerMe => wants.push(used(owner.to_string())),
        RouteId::DistributorMe | RouteId::DistributorUsage | RouteId::DistributorPartnersList => {
            wants.push(Want::PartnerIds(owner.to_string()))
        }
        RouteId::PartnerCustomersGet => wants.push(Want::Customer { partner_id: owner.to_string(), id: param("id") }),
        RouteId::DistributorPartnersGet => wants.push(used(param("id"))),
        RouteId::PartnerAssessmentsGet
        | RouteId::PartnerAssessmentsFindings
        | RouteId::PartnerAssessmentsRequirements => wants.extend(run_and_report(owner.to_string(), param("id"))),
        RouteId::DistributorAssessmentsFindings | RouteId::DistributorAssessmentsRequirements => {
            wants.extend(run_and_report(param("id"), param("runId")))
        }
        // The customer whose questionnaire answers, tenant context, exceptions or schedules are
        // read: it comes with the account (issues 12, 18 and 19).
        RouteId::PartnerQuestionnaireGet
        | RouteId::PartnerContextGet
        | RouteId::PartnerExceptionsList
        | RouteId::PartnerSchedulesList => {
            wants.push(Want::Customer { partner_id: owner.to_string(), id: param("id") })
        }
        RouteId::DistributorQuestionnaireGet
        | RouteId::DistributorContextGet
        | RouteId::DistributorExceptionsList
        | RouteId::DistributorSchedulesList => {
            wants.push(Want::Customer { partner_id: param("id"), id: param("customerId") })
        }
        RouteId::PartnerWebhooksDeliveries => {
            wants.push(Want::Endpoint { owner: Owner::partner(owner), id: param("id") })
        }
        RouteId::DistributorWebhooksDeliveries => {
            wants.push(Want::Endpoint { owner: Owner::distributor(owner), id: param("id") })
        }
        _ => {}
    }
    wants
}

//! The route table: the one list of every route, with its handler and attributes. The
//! router (`super::router`), the Lambda entry point and the template test all read it.

use futures_util::future::BoxFuture;
use http::Method;

use super::error::ApiError;
use super::handlers as h;
use super::response::Reply;
use super::{App, Ctx, PublicCtx};
use crate::domain::account::{Partner, Surface};

pub const PARTNER_BASE: &str = "/api/v1/partner";
pub const DISTRIBUTOR_BASE: &str = "/api/v1/distributor";

macro_rules! routes {
    ($( $variant:ident = $name:literal : $access:ident $method:ident $path:literal
        => $kind:ident($handler:path) $(, active $doing:literal)? ;)*) => {
        /// Every route; the name is the function's `Handler` in the template.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum RouteId { $($variant),* }

        /// The route table: every route with its handler and its attributes.
        pub static ROUTES: &[Route] = &[
            $(Route {
                id: RouteId::$variant,
                name: $name,
                access: Access::$access,
                method: Method::$method,
                path: $path,
                handler: Handler::$kind($handler),
                needs_active_partner: routes!(@active $($doing)?),
            },)*
        ];
    };
    (@active) => { None };
    (@active $doing:literal) => { Some($doing) };
}

routes! {
    PartnerMe = "partner.me.get" : Partner GET "/me" => Keyed(h::partner_me);
    PartnerPlanChange = "partner.plan.change" : Partner POST "/plan" => Partner(h::plan_change);
    PartnerProducts = "partner.products.list" : Partner GET "/products" => Keyed(h::products);
    PartnerCustomersList = "partner.customers.list" : Partner GET "/customers" => Partner(h::customers_list);
    PartnerCustomersCreate = "partner.customers.create" : Partner POST "/customers" => Partner(h::customers_create);
    PartnerCustomersBulk = "partner.customers.bulk-create" : Partner POST "/customers/bulk" => Partner(h::customers_bulk_create);
    PartnerCustomersGet = "partner.customers.get" : Partner GET "/customers/{id}" => Partner(h::customers_get);
    PartnerCustomersUpdate = "partner.customers.update" : Partner PATCH "/customers/{id}" => Partner(h::customers_update);
    PartnerCustomersDelete = "partner.customers.delete" : Partner DELETE "/customers/{id}" => Partner(h::customers_delete);
    PartnerAssessmentsCreate = "partner.assessments.create" : Partner POST "/assessments" => Partner(h::assessments_create);
    PartnerAssessmentsBulk = "partner.assessments.bulk-create" : Partner POST "/assessments/bulk" => Partner(h::assessments_bulk_create);
    PartnerAssessmentsList = "partner.assessments.list" : Partner GET "/assessments" => Partner(h::assessments_list);
    PartnerAssessmentsGet = "partner.assessments.get" : Partner GET "/assessments/{id}" => Partner(h::assessments_get);
    PartnerKeysCreate = "partner.keys.create" : Partner POST "/keys" => Partner(h::keys_create);
    PartnerKeysDelete = "partner.keys.delete" : Partner DELETE "/keys/{slot}" => Keyed(h::keys_revoke);
    DistributorMe = "distributor.me.get" : Distributor GET "/me" => Keyed(h::distributor_me);
    DistributorPartnersList = "distributor.partners.list" : Distributor GET "/partners" => Keyed(h::partners_list);
    DistributorPartnersCreate = "distributor.partners.create" : Distributor POST "/partners" => Keyed(h::partners_create);
    DistributorPartnersBulk = "distributor.partners.bulk-create" : Distributor POST "/partners/bulk" => Keyed(h::partners_bulk_create);
    DistributorPartnersGet = "distributor.partners.get" : Distributor GET "/partners/{id}" => Keyed(h::partners_get);
    DistributorPartnersUpdate = "distributor.partners.update" : Distributor PATCH "/partners/{id}" => Keyed(h::partners_update);
    DistributorPartnersActivate = "distributor.partners.activate" : Distributor POST "/partners/{id}/activate" => Keyed(h::partners_activate);
    DistributorPartnersSuspend = "distributor.partners.suspend" : Distributor POST "/partners/{id}/suspend" => Keyed(h::partners_suspend);
    DistributorPartnersPlan = "distributor.partners.plan" : Distributor POST "/partners/{id}/plan" => Partner(h::plan_change);
    DistributorCustomersList = "distributor.customers.list" : Distributor GET "/partners/{id}/customers" => Partner(h::customers_list);
    DistributorCustomersCreate = "distributor.customers.create" : Distributor POST "/partners/{id}/customers" => Partner(h::sub_partner_customers_create);
    DistributorAssessmentsCreate = "distributor.assessments.create" : Distributor POST "/partners/{id}/assessments" => Partner(h::sub_partner_assessments_create), active "triggering assessments";
    DistributorAssessmentsList = "distributor.assessments.list" : Distributor GET "/partners/{id}/assessments" => Partner(h::assessments_list);
    DistributorUsage = "distributor.usage.get" : Distributor GET "/usage" => Keyed(h::usage_get);
    DistributorKeysCreate = "distributor.keys.create" : Distributor POST "/partners/{id}/keys" => Partner(h::sub_partner_keys_create);
    PartnerAssessmentsFindings = "partner.assessments.findings" : Partner GET "/assessments/{id}/findings" => Partner(h::assessments_findings);
    DistributorAssessmentsFindings = "distributor.assessments.findings" : Distributor GET "/partners/{id}/assessments/{runId}/findings" => Partner(h::sub_partner_assessments_findings);
    PartnerAssessmentsRequirements = "partner.assessments.requirements" : Partner GET "/assessments/{id}/requirements" => Partner(h::assessments_requirements);
    DistributorAssessmentsRequirements = "distributor.assessments.requirements" : Distributor GET "/partners/{id}/assessments/{runId}/requirements" => Partner(h::sub_partner_assessments_requirements);
    PartnerAssessmentsReport = "partner.assessments.report" : Partner GET "/assessments/{id}/report" => Partner(h::assessments_report);
    DistributorAssessmentsReport = "distributor.assessments.report" : Distributor GET "/partners/{id}/assessments/{runId}/report" => Partner(h::sub_partner_assessments_report);
    PublicReport = "public.reports.get" : Public GET "/reports/{token}" => Public(h::report);
    PartnerConsentGet = "partner.consent.get" : Partner GET "/customers/{id}/consent" => Partner(h::consent_get);
    DistributorConsentGet = "distributor.consent.get" : Distributor GET "/partners/{id}/customers/{customerId}/consent" => Partner(h::sub_partner_consent_get);
    PartnerConsentEmail = "partner.consent.email" : Partner POST "/customers/{id}/consent/email" => Partner(h::consent_email);
    DistributorConsentEmail = "distributor.consent.email" : Distributor POST "/partners/{id}/customers/{customerId}/consent/email" => Partner(h::sub_partner_consent_email), active "sending consent emails";
    PublicConsentCallback = "public.consent.callback" : Public GET "/consent/callback" => Public(h::consent_callback);
    PublicOpenApi = "public.openapi.get" : Public GET "/api/v1/openapi.json" => Public(h::openapi);
    PartnerWebhooksList = "partner.webhooks.list" : Partner GET "/webhooks" => Keyed(h::webhooks_list);
    PartnerWebhooksCreate = "partner.webhooks.create" : Partner POST "/webhooks" => Keyed(h::webhooks_create);
    PartnerWebhooksUpdate = "partner.webhooks.update" : Partner PATCH "/webhooks/{id}" => Keyed(h::webhooks_update);
    PartnerWebhooksDelete = "partner.webhooks.delete" : Partner DELETE "/webhooks/{id}" => Keyed(h::webhooks_delete);
    PartnerWebhooksTest = "partner.webhooks.test" : Partner POST "/webhooks/{id}/test" => Keyed(h::webhooks_test);
    PartnerWebhooksDeliveries = "partner.webhooks.deliveries" : Partner GET "/webhooks/{id}/deliveries" => Keyed(h::webhooks_deliveries);
    PartnerWebhooksRedeliver = "partner.webhooks.redeliver" : Partner POST "/webhooks/{id}/deliveries/{deliveryId}/redeliver" => Keyed(h::webhooks_redeliver);
    DistributorWebhooksList = "distributor.webhooks.list" : Distributor GET "/webhooks" => Keyed(h::webhooks_list);
    DistributorWebhooksCreate = "distributor.webhooks.create" : Distributor POST "/webhooks" => Keyed(h::webhooks_create);
    DistributorWebhooksUpdate = "distributor.webhooks.update" : Distributor PATCH "/webhooks/{id}" => Keyed(h::webhooks_update);
    DistributorWebhooksDelete = "distributor.webhooks.delete" : Distributor DELETE "/webhooks/{id}" => Keyed(h::webhooks_delete);
    DistributorWebhooksTest = "distributor.webhooks.test" : Distributor POST "/webhooks/{id}/test" => Keyed(h::webhooks_test);
    DistributorWebhooksDeliveries = "distributor.webhooks.deliveries" : Distributor GET "/webhooks/{id}/deliveries" => Keyed(h::webhooks_deliveries);
    DistributorWebhooksRedeliver = "distributor.webhooks.redeliver" : Distributor POST "/webhooks/{id}/deliveries/{deliveryId}/redeliver" => Keyed(h::webhooks_redeliver);
    PartnerMailMessages = "partner.mail.messages" : Partner GET "/mail/messages" => Keyed(h::mail_messages);
    DistributorMailMessages = "distributor.mail.messages" : Distributor GET "/mail/messages" => Keyed(h::mail_messages);
    PartnerAudit = "partner.audit.list" : Partner GET "/audit" => Keyed(h::audit_list);
    DistributorAudit = "distributor.audit.list" : Distributor GET "/audit" => Keyed(h::audit_list);
    PartnerBrandingGet = "partner.branding.get" : Partner GET "/branding" => Partner(h::branding_get);
    PartnerBrandingPut = "partner.branding.put" : Partner PUT "/branding" => Partner(h::branding_put);
    PartnerBrandingPreview = "partner.branding.preview" : Partner POST "/branding/preview/{kind}" => Partner(h::branding_preview);
    PartnerProductQuestions = "partner.products.questions" : Partner GET "/products/{product}/questions" => Keyed(h::product_questions);
    PartnerQuestionnaireGet = "partner.questionnaire.get" : Partner GET "/customers/{id}/questionnaire" => Partner(h::questionnaire_get);
    PartnerQuestionnairePut = "partner.questionnaire.put" : Partner PUT "/customers/{id}/questionnaire" => Partner(h::questionnaire_put);
    PartnerQuestionnaireInvite = "partner.questionnaire.invitations" : Partner POST "/customers/{id}/questionnaire/invitations" => Partner(h::questionnaire_invite);
    DistributorQuestionnaireGet = "distributor.questionnaire.get" : Distributor GET "/partners/{id}/customers/{customerId}/questionnaire" => Partner(h::sub_partner_questionnaire_get);
    DistributorQuestionnairePut = "distributor.questionnaire.put" : Distributor PUT "/partners/{id}/customers/{customerId}/questionnaire" => Partner(h::sub_partner_questionnaire_put);
    DistributorQuestionnaireInvite = "distributor.questionnaire.invitations" : Distributor POST "/partners/{id}/customers/{customerId}/questionnaire/invitations" => Partner(h::sub_partner_questionnaire_invite);
    PublicQuestionnaireForm = "public.questionnaires.get" : Public GET "/questionnaires/{token}" => Public(h::questionnaire_form_get);
    PublicQuestionnaireSubmit = "public.questionnaires.post" : Public POST "/questionnaires/{token}" => Public(h::questionnaire_form_post);
    PartnerContextGet = "partner.context.get" : Partner GET "/customers/{id}/context" => Partner(h::context_get);
    PartnerContextPut = "partner.context.put" : Partner PUT "/customers/{id}/context" => Partner(h::context_put);
    PartnerExceptionsList = "partner.exceptions.list" : Partner GET "/customers/{id}/exceptions" => Partner(h::exceptions_list);
    PartnerExceptionsCreate = "partner.exceptions.create" : Partner POST "/customers/{id}/exceptions" => Partner(h::exceptions_create);
    PartnerExceptionsUpdate = "partner.exceptions.update" : Partner PATCH "/customers/{id}/exceptions/{exceptionId}" => Partner(h::exceptions_update);
    PartnerExceptionsDelete = "partner.exceptions.delete" : Partner DELETE "/customers/{id}/exceptions/{exceptionId}" => Partner(h::exceptions_delete);
    DistributorContextGet = "distributor.context.get" : Distributor GET "/partners/{id}/customers/{customerId}/context" => Partner(h::sub_partner_context_get);
    DistributorContextPut = "distributor.context.put" : Distributor PUT "/partners/{id}/customers/{customerId}/context" => Partner(h::sub_partner_context_put);
    DistributorExceptionsList = "distributor.exceptions.list" : Distributor GET "/partners/{id}/customers/{customerId}/exceptions" => Partner(h::sub_partner_exceptions_list);
    DistributorExceptionsCreate = "distributor.exceptions.create" : Distributor POST "/partners/{id}/customers/{customerId}/exceptions" => Partner(h::sub_partner_exceptions_create);
    DistributorExceptionsUpdate = "distributor.exceptions.update" : Distributor PATCH "/partners/{id}/customers/{customerId}/exceptions/{exceptionId}" => Partner(h::sub_partner_exceptions_update);
    DistributorExceptionsDelete = "distributor.exceptions.delete" : Distributor DELETE "/partners/{id}/customers/{customerId}/exceptions/{exceptionId}" => Partner(h::sub_partner_exceptions_delete);
    PartnerSchedulesList = "partner.schedules.list" : Partner GET "/customers/{id}/schedules" => Partner(h::schedules_list);
    PartnerSchedulesCreate = "partner.schedules.create" : Partner POST "/customers/{id}/schedules" => Partner(h::schedules_create);
    PartnerSchedulesUpdate = "partner.schedules.update" : Partner PATCH "/customers/{id}/schedules/{scheduleId}" => Partner(h::schedules_update);
    PartnerSchedulesDelete = "partner.schedules.delete" : Partner DELETE "/customers/{id}/schedules/{scheduleId}" => Partner(h::schedules_delete);
    DistributorSchedulesList = "distributor.schedules.list" : Distributor GET "/partners/{id}/customers/{customerId}/schedules" => Partner(h::sub_partner_schedules_list);
    DistributorSchedulesCreate = "distributor.schedules.create" : Distributor POST "/partners/{id}/customers/{customerId}/schedules" => Partner(h::sub_partner_schedules_create);
    DistributorSchedulesUpdate = "distributor.schedules.update" : Distributor PATCH "/partners/{id}/customers/{customerId}/schedules/{scheduleId}" => Partner(h::sub_partner_schedules_update);
    DistributorSchedulesDelete = "distributor.schedules.delete" : Distributor DELETE "/partners/{id}/customers/{customerId}/schedules/{scheduleId}" => Partner(h::sub_partner_schedules_delete);
    PartnerBillingGet = "partner.billing.get" : Partner GET "/billing" => Partner(h::billing_get);
    PartnerBillingPortal = "partner.billing.portal" : Partner POST "/billing/portal" => Partner(h::billing_portal);
    PublicStripeWebhook = "public.stripe.webhook" : Public POST "/stripe/webhook" => Public(h::stripe_webhook);
    PartnerPortfolio = "partner.portfolio.list" : Partner GET "/portfolio" => Keyed(h::portfolio_list);
    DistributorPortfolio = "distributor.portfolio.list" : Distributor GET "/portfolio" => Keyed(h::portfolio_list);
}

/// Who may call a route: holders of a key of one surface, or anyone (a signed link).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Partner,
    Distributor,
    Public,
}

impl Access {
    /// The key surface, or `None` for a public route.
    pub fn surface(self) -> Option<Surface> {
        match self {
            Self::Partner => Some(Surface::Partner),
            Self::Distributor => Some(Surface::Distributor),
            Self::Public => None,
        }
    }
}

/// Path parameters by name, e.g. `[("id", "cust_…")]`.
pub type PathParams = Vec<(&'static str, String)>;

/// What a handler returns: a boxed future, so every row of the table has one type.
pub type HandlerFuture<'a> = BoxFuture<'a, Result<Reply, ApiError>>;

/// How the pipeline calls a route's handler, once the caller is known.
#[derive(Clone, Copy)]
pub enum Handler {
    /// Called with the caller's context.
    Keyed(for<'a> fn(&'a App, &'a Ctx) -> HandlerFuture<'a>),
    /// Called on one partner: the calling partner (partner surface), or the distributor's
    /// sub-partner named by `{id}` (distributor surface; 404 when it is not the caller's).
    Partner(for<'a> fn(&'a App, &'a Ctx, &'a Partner) -> HandlerFuture<'a>),
    /// Called without a key (a signed link).
    Public(for<'a> fn(&'a App, &'a PublicCtx) -> HandlerFuture<'a>),
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Keyed(_) => "Keyed",
            Self::Partner(_) => "Partner",
            Self::Public(_) => "Public",
        })
    }
}

/// One row of the route table.
#[derive(Debug)]
pub struct Route {
    pub id: RouteId,
    /// The handler name, e.g. `partner.customers.create`.
    pub name: &'static str,
    pub access: Access,
    pub method: Method,
    /// Relative to the surface's base path; `{name}` is a path parameter.
    pub path: &'static str,
    /// What the pipeline calls once the caller is authenticated, limited and not a replay.
    pub handler: Handler,
    /// For a `Handler::Partner` route that needs the partner active (403 `PARTNER_INACTIVE`
    /// otherwise): what the route does, for the message, e.g. "triggering assessments".
    pub needs_active_partner: Option<&'static str>,
}

impl Route {
    /// The surface's base path, e.g. `/api/v1/partner` (empty for public routes).
    pub fn base(&self) -> &'static str {
        match self.access {
            Access::Partner => PARTNER_BASE,
            Access::Distributor => DISTRIBUTOR_BASE,
            Access::Public => "",
        }
    }

    /// A POST that only renders (writes nothing, so a repeat has no effect to keep from
    /// happening twice): it ignores `Idempotency-Key` and answers every request afresh. The
    /// branding preview, whose answer is HTML (an idempotent replay keeps only a JSON answer's
    /// shape: its status and body).
    pub fn only_renders(&self) -> bool {
        matches!(self.id, RouteId::PartnerBrandingPreview)
    }

    /// The full path as API Gateway sees it, e.g. `/api/v1/partner/customers/{id}`.
    pub fn full_path(&self) -> String {
        format!("{}{}", self.base(), self.path)
    }

    /// The names of the path parameters, in order.
    pub fn param_names(&self) -> impl Iterator<Item = &'static str> {
        self.path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
    }

    /// Literal segments win over parameters (`/customers/bulk` over `/customers/{id}`).
    pub fn literal_segments(&self) -> usize {
        self.path.split('/').filter(|s| !s.starts_with('{')).count()
    }
}

impl RouteId {
    pub fn route(self) -> &'static Route {
        ROUTES.iter().find(|r| r.id == self).expect("every RouteId is in ROUTES")
    }

    pub fn name(self) -> &'static str {
        self.route().name
    }

    pub fn by_name(name: &str) -> Option<RouteId> {
        ROUTES.iter().find(|r| r.name == name).map(|r| r.id)
    }
}

/// The route declared for `method` on `full_path`, a pattern as the template writes it
/// (e.g. `/api/v1/partner/customers/{id}`).
pub fn by_pattern(method: &Method, full_path: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.method == method && r.full_path() == full_path)
}

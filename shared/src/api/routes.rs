//! The route table: the one list of every route, read by the dev server, the Lambda entry
//! point and the template test alike.

use http::Method;

use super::error::ApiError;
use crate::domain::account::Surface;

pub const PARTNER_BASE: &str = "/api/v1/partner";
pub const DISTRIBUTOR_BASE: &str = "/api/v1/distributor";

macro_rules! routes {
    ($( $variant:ident = $name:literal : $access:ident $method:ident $path:literal ;)*) => {
        /// Every route; the name is the function's `Handler` in the template.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum RouteId { $($variant),* }

        pub static ROUTES: &[Route] = &[
            $(Route { id: RouteId::$variant, name: $name, access: Access::$access, method: Method::$method, path: $path },)*
        ];
    };
}

routes! {
    PartnerMe = "partner.me.get" : Partner GET "/me";
    PartnerPlanChange = "partner.plan.change" : Partner POST "/plan";
    PartnerProducts = "partner.products.list" : Partner GET "/products";
    PartnerCustomersList = "partner.customers.list" : Partner GET "/customers";
    PartnerCustomersCreate = "partner.customers.create" : Partner POST "/customers";
    PartnerCustomersBulk = "partner.customers.bulk-create" : Partner POST "/customers/bulk";
    PartnerCustomersGet = "partner.customers.get" : Partner GET "/customers/{id}";
    PartnerCustomersUpdate = "partner.customers.update" : Partner PATCH "/customers/{id}";
    PartnerCustomersDelete = "partner.customers.delete" : Partner DELETE "/customers/{id}";
    PartnerAssessmentsCreate = "partner.assessments.create" : Partner POST "/assessments";
    PartnerAssessmentsBulk = "partner.assessments.bulk-create" : Partner POST "/assessments/bulk";
    PartnerAssessmentsList = "partner.assessments.list" : Partner GET "/assessments";
    PartnerAssessmentsGet = "partner.assessments.get" : Partner GET "/assessments/{id}";
    PartnerKeysCreate = "partner.keys.create" : Partner POST "/keys";
    PartnerKeysDelete = "partner.keys.delete" : Partner DELETE "/keys/{slot}";
    DistributorMe = "distributor.me.get" : Distributor GET "/me";
    DistributorPartnersList = "distributor.partners.list" : Distributor GET "/partners";
    DistributorPartnersCreate = "distributor.partners.create" : Distributor POST "/partners";
    DistributorPartnersBulk = "distributor.partners.bulk-create" : Distributor POST "/partners/bulk";
    DistributorPartnersGet = "distributor.partners.get" : Distributor GET "/partners/{id}";
    DistributorPartnersUpdate = "distributor.partners.update" : Distributor PATCH "/partners/{id}";
    DistributorPartnersActivate = "distributor.partners.activate" : Distributor POST "/partners/{id}/activate";
    DistributorPartnersSuspend = "distributor.partners.suspend" : Distributor POST "/partners/{id}/suspend";
    DistributorPartnersPlan = "distributor.partners.plan" : Distributor POST "/partners/{id}/plan";
    DistributorCustomersList = "distributor.customers.list" : Distributor GET "/partners/{id}/customers";
    DistributorCustomersCreate = "distributor.customers.create" : Distributor POST "/partners/{id}/customers";
    DistributorAssessmentsCreate = "distributor.assessments.create" : Distributor POST "/partners/{id}/assessments";
    DistributorAssessmentsList = "distributor.assessments.list" : Distributor GET "/partners/{id}/assessments";
    DistributorUsage = "distributor.usage.get" : Distributor GET "/usage";
    DistributorKeysCreate = "distributor.keys.create" : Distributor POST "/partners/{id}/keys";
    PartnerAssessmentsFindings = "partner.assessments.findings" : Partner GET "/assessments/{id}/findings";
    DistributorAssessmentsFindings = "distributor.assessments.findings" : Distributor GET "/partners/{id}/assessments/{runId}/findings";
    PublicReport = "public.reports.get" : Public GET "/reports/{token}";
    PartnerWebhooksList = "partner.webhooks.list" : Partner GET "/webhooks";
    PartnerWebhooksCreate = "partner.webhooks.create" : Partner POST "/webhooks";
    PartnerWebhooksUpdate = "partner.webhooks.update" : Partner PATCH "/webhooks/{id}";
    PartnerWebhooksDelete = "partner.webhooks.delete" : Partner DELETE "/webhooks/{id}";
    PartnerWebhooksTest = "partner.webhooks.test" : Partner POST "/webhooks/{id}/test";
    PartnerWebhooksDeliveries = "partner.webhooks.deliveries" : Partner GET "/webhooks/{id}/deliveries";
    PartnerWebhooksRedeliver = "partner.webhooks.redeliver" : Partner POST "/webhooks/{id}/deliveries/{deliveryId}/redeliver";
    DistributorWebhooksList = "distributor.webhooks.list" : Distributor GET "/webhooks";
    DistributorWebhooksCreate = "distributor.webhooks.create" : Distributor POST "/webhooks";
    DistributorWebhooksUpdate = "distributor.webhooks.update" : Distributor PATCH "/webhooks/{id}";
    DistributorWebhooksDelete = "distributor.webhooks.delete" : Distributor DELETE "/webhooks/{id}";
    DistributorWebhooksTest = "distributor.webhooks.test" : Distributor POST "/webhooks/{id}/test";
    DistributorWebhooksDeliveries = "distributor.webhooks.deliveries" : Distributor GET "/webhooks/{id}/deliveries";
    DistributorWebhooksRedeliver = "distributor.webhooks.redeliver" : Distributor POST "/webhooks/{id}/deliveries/{deliveryId}/redeliver";
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

#[derive(Debug)]
pub struct Route {
    pub id: RouteId,
    /// The handler name, e.g. `partner.customers.create`.
    pub name: &'static str,
    pub access: Access,
    pub method: Method,
    /// Relative to the surface's base path; `{name}` is a path parameter.
    pub path: &'static str,
}

impl Route {
    pub fn base(&self) -> &'static str {
        match self.access {
            Access::Partner => PARTNER_BASE,
            Access::Distributor => DISTRIBUTOR_BASE,
            Access::Public => "",
        }
    }

    /// The full path as API Gateway sees it, e.g. `/api/v1/partner/customers/{id}`.
    pub fn full_path(&self) -> String {
        format!("{}{}", self.base(), self.path)
    }

    /// Path parameters if `path` (the full request path) matches this route's pattern.
    fn matches(&self, path: &str) -> Option<PathParams> {
        let rest = path.strip_prefix(self.base())?;
        let mut want = self.path.split('/');
        let mut got = rest.split('/');
        let mut params = Vec::new();
        loop {
            match (want.next(), got.next()) {
                (None, None) => return Some(params),
                (Some(w), Some(g)) => {
                    if let Some(name) = w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                        if g.is_empty() {
                            return None;
                        }
                        let decoded = percent_decode(g)?;
                        params.push((name, decoded));
                    } else if w != g {
                        return None;
                    }
                }
                _ => return None,
            }
        }
    }

    /// Literal segments win over parameters (`/customers/bulk` over `/customers/{id}`).
    fn literal_segments(&self) -> usize {
        self.path.split('/').filter(|s| !s.starts_with('{')).count()
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes: Vec<u8> = form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned().into_bytes())?;
    String::from_utf8(bytes).ok()
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

/// Finds the route for a request: 404 when no pattern matches the path, 405 (with the
/// methods that would have matched) when the path is known but the method is not.
pub fn resolve(method: &Method, path: &str) -> Result<(&'static Route, PathParams), ApiError> {
    let path = if path.len() > 1 { path.strip_suffix('/').unwrap_or(path) } else { path };
    let mut candidates: Vec<(&'static Route, PathParams)> =
        ROUTES.iter().filter_map(|r| r.matches(path).map(|p| (r, p))).collect();
    if candidates.is_empty() {
        return Err(ApiError::NotFound(format!("No route for {path}.")));
    }
    candidates.sort_by_key(|(r, _)| std::cmp::Reverse(r.literal_segments()));
    if let Some(hit) = candidates.iter().position(|(r, _)| r.method == method) {
        return Ok(candidates.swap_remove(hit));
    }
    let mut allow: Vec<&str> = candidates.iter().map(|(r, _)| r.method.as_str()).collect();
    allow.sort_unstable();
    allow.dedup();
    Err(ApiError::MethodNotAllowed { allow: allow.join(", ") })
}

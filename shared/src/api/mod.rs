//! The HTTP API: one `axum::Router` built from the route table (`router`), whose routes run one
//! pipeline (auth → rate limit → idempotency → handler), shared by the dev server, the Lambda
//! entry point and the tests.

pub mod cursor;
pub mod error;
mod handlers;
pub mod idempotency;
pub mod openapi;
mod prefetch;
pub mod request;
pub mod response;
mod router;
pub mod routes;

pub use router::{route_router, router, REQUEST_ID};

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response};

use crate::auth::{authenticate_counted, Principal};
use crate::billing::Billing;
use crate::config::{Config, Secrets};
use crate::domain::account::{Distributor, Partner, Surface};
use crate::domain::ids::IdGen;
use crate::domain::time::Clock;
use crate::domain::time::Timestamp;
use crate::queue::RunQueue;
use crate::ratelimit::{self, Window};
use crate::store::{Got, IdempotencyClaim, Store, Want};
use error::ApiError;
use request::Query;
use response::Reply;
use routes::{Handler, PathParams, Route, RouteId};

/// Everything a handler needs, built once per process (once per Lambda cold start).
pub struct App {
    pub config: Config,
    pub secrets: Secrets,
    pub store: Arc<dyn Store>,
    pub runs: Arc<dyn RunQueue>,
    pub billing: Arc<dyn Billing>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<IdGen>,
    /// Where webhook attempts are queued (redeliveries).
    pub webhooks: Arc<dyn crate::webhooks::relay::WebhookQueue>,
    /// How webhook attempts are sent (the test route sends one now).
    pub transport: Arc<dyn crate::webhooks::transport::Transport>,
    /// Where tenant consent is granted, and for which app.
    pub consent: crate::usecases::consent::ConsentSettings,
    /// How mail is sent (SES on AWS, `.eml` files in the dev server).
    pub mailer: Arc<dyn crate::mail::Mailer>,
    /// How the report's PDF is rendered; `None` in a binary built without Typst, where a
    /// `format=pdf` request is a 500 (the deployment never routes one there: `lambda::main`).
    pub pdf: Option<crate::report_pdf::PdfRenderer>,
}

/// One request as a handler sees it.
pub struct Ctx {
    pub route: RouteId,
    pub principal: Principal,
    pub params: PathParams,
    pub query: Query,
    pub body: Bytes,
    pub now: Timestamp,
    /// For a request under an `Idempotency-Key`: ids derived from the key, at the time of its
    /// first try (see [`IdempotentIds`]).
    pub idempotent: Option<IdempotentIds>,
    /// What the pipeline read with the account for this route (`prefetch`), so the handler
    /// does not read it again: each item as its own getter would have read it.
    pub prefetched: Vec<(Want, Got)>,
    /// Who the request acts as, for the audit entries of its changes: its key.
    pub actor: crate::domain::audit::Actor,
}

/// The ids and clock of a request under an `Idempotency-Key`: its ids are a function of the
/// key and their order, and its time is its first try's. Done again after that try died
/// between its write and keeping its answer, the request makes the same ids, so its writes
/// meet the first try's (a run already stored is answered, not made twice; issue 13).
pub struct IdempotentIds {
    gen: crate::domain::ids::IdGen,
    clock: crate::domain::time::FixedClock,
}

impl Ctx {
    /// Where this request's use cases take ids and event times from.
    pub fn ids<'a>(&'a self, app: &'a App) -> crate::usecases::Ids<'a> {
        match &self.idempotent {
            Some(i) => crate::usecases::Ids { gen: &i.gen, clock: &i.clock, actor: Some(&self.actor) },
            None => app.ids().acting(&self.actor),
        }
    }

    pub fn param(&self, name: &str) -> &str {
        self.params.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str()).unwrap_or_default()
    }

    /// What the pipeline read for `want`, if it read it.
    pub fn prefetched(&self, want: &Want) -> Option<&Got> {
        self.prefetched.iter().find(|(w, _)| w == want).map(|(_, g)| g)
    }

    pub fn partner(&self) -> Result<&Partner, ApiError> {
        match &self.principal {
            Principal::Partner { partner, .. } => Ok(partner),
            _ => Err(ApiError::Internal("partner route reached without a partner".into())),
        }
    }

    pub fn distributor(&self) -> Result<&Distributor, ApiError> {
        match &self.principal {
            Principal::Distributor { distributor, .. } => Ok(distributor),
            _ => Err(ApiError::Internal("distributor route reached without a distributor".into())),
        }
    }
}

/// One request to a public route (no key) as its handler sees it.
pub struct PublicCtx {
    pub route: RouteId,
    pub params: PathParams,
    pub query: Query,
    pub now: Timestamp,
    /// The request's headers (Stripe's webhook reads `Stripe-Signature`).
    pub headers: http::HeaderMap,
    /// The request body as received (the questionnaire form's post; Stripe's webhook, as signed).
    pub body: Bytes,
}

impl PublicCtx {
    pub fn param(&self, name: &str) -> &str {
        self.params.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str()).unwrap_or_default()
    }
}

const IDEMPOTENCY_TTL: i64 = 24 * 3600;

/// Who a request acts as, and what was read for its route with the account.
struct Asked {
    principal: Principal,
    prefetched: Vec<(Want, Got)>,
}

impl App {
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// A new time-ordered id of kind `K`, from the app's clock.
    pub fn new_id<K: crate::domain::ids::IdKind>(&self) -> crate::domain::ids::Id<K> {
        self.ids().new_id()
    }

    /// What consent links are made from.
    pub fn consent_links(&self) -> crate::usecases::consent::ConsentLinks<'_> {
        crate::usecases::consent::ConsentLinks {
            signing_key: &self.secrets.consent_signing,
            authority: &self.consent.authority,
            client_id: &self.consent.client_id,
            public_base_url: &self.config.public_base_url,
        }
    }

    /// The app's id generator and clock, as the use cases take them.
    pub fn ids(&self) -> crate::usecases::Ids<'_> {
        crate::usecases::Ids { gen: &self.ids, clock: self.clock.as_ref(), actor: None }
    }

    /// The pipeline of one request whose route is known (the router found it and read the
    /// body within the limit): auth, rate limit, idempotency, then the route's handler.
    pub(crate) async fn serve(
        &self,
        route: &'static Route,
        params: PathParams,
        parts: http::request::Parts,
        body: Bytes,
    ) -> Response<Bytes> {
        let Some(surface) = route.access.surface() else {
            let query = Query::parse(parts.uri.query());
            let result = match (query, route.handler) {
                (Ok(query), Handler::Public(handler)) => {
                    let ctx = PublicCtx {
                        route: route.id,
                        params,
                        query,
                        now: self.now(),
                        headers: parts.headers.clone(),
                        body: body.clone(),
                    };
                    handler(self, &ctx).await
                }
                (Ok(_), _) => Err(ApiError::Internal(format!("keyed handler on public route {}", route.name))),
                (Err(e), _) => Err(e),
            };
            return result.map_or_else(|e| self.error_response(e), Reply::into_response);
        };
        let presented = parts.headers.get(surface.key_header()).map(|v| v.to_str().unwrap_or(""));
        let now = self.now();
        let limit = match surface {
            Surface::Partner => self.config.rate_limit_partner_per_min,
            Surface::Distributor => self.config.rate_limit_distributor_per_min,
        };
        // Two store calls before the handler (issue 16): the key resolved and the request
        // counted on it, then the account read with what the route reads (`prefetch`).
        let (number, reset) = ratelimit::window_at(now, 60);
        let also = |owner: &str| prefetch::wants(route, &params, owner, now);
        let authenticated =
            authenticate_counted(self.store.as_ref(), &self.secrets.key_hashing, surface, presented, number, &also)
                .await;
        let (principal, window, prefetched) = match authenticated {
            Ok(a) => (a.principal, ratelimit::counted(limit, a.hits, reset), a.also),
            Err(e) => return self.error_response(ApiError::from(e)),
        };
        let mut resp = if window.exceeded {
            ApiError::RateLimited { retry_after: window.retry_after(now) }.to_response()
        } else {
            let idempotency_key = parts.headers.get("idempotency-key").map(|v| v.to_str().unwrap_or("").to_string());
            let asked = Asked { principal, prefetched };
            match (parts.method == Method::POST && !route.only_renders(), idempotency_key) {
                (true, Some(key)) => self.serve_idempotent(route, params, &parts.uri, body, asked, now, key).await,
                _ => self.run_handler(route, params, parts.uri.query(), body, asked, now, None).await,
            }
        };
        set_window_headers(resp.headers_mut(), &window);
        resp
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_handler(
        &self,
        route: &'static Route,
        params: PathParams,
        query: Option<&str>,
        body: Bytes,
        asked: Asked,
        now: Timestamp,
        idempotent: Option<IdempotentIds>,
    ) -> Response<Bytes> {
        let result = match Query::parse(query).and_then(|q| request::check_id_params(&params).map(|()| q)) {
            Ok(query) => {
                let Asked { principal, prefetched } = asked;
                let actor = principal.actor();
                let ctx = Ctx { route: route.id, principal, params, query, body, now, idempotent, prefetched, actor };
                self.call(route, &ctx).await
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(reply) => reply.into_response(),
            Err(e) => self.error_response(e),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn serve_idempotent(
        &self,
        route: &'static Route,
        params: PathParams,
        uri: &http::Uri,
        body: Bytes,
        asked: Asked,
        now: Timestamp,
        key: String,
    ) -> Response<Bytes> {
        let key = match crate::domain::idempotency_key::IdempotencyKey::parse(&key) {
            Ok(key) => key,
            Err(e) => return ApiError::InvalidField(e.to_string()).to_response(),
        };
        let scope = idempotency::scope(&asked.principal.owner());
        let fingerprint = idempotency::fingerprint(route.name, uri.path(), &body);
        let claim = self
            .store
            .claim_idempotency(&scope, &key, &fingerprint, now, now + self.config.idempotency_lease_secs)
            .await;
        match claim {
            Err(e) => self.error_response(e.into()),
            Ok(IdempotencyClaim::Mismatch) => ApiError::IdempotencyMismatch.to_response(),
            Ok(IdempotencyClaim::InProgress) => ApiError::IdempotencyInProgress.to_response(),
            Ok(IdempotencyClaim::Replay { status, body }) => {
                let body = match idempotency::sealed::open(&self.secrets.webhook_encryption, &scope, &key, &body) {
                    Ok(body) => body,
                    Err(e) => return self.error_response(ApiError::Internal(e.to_string())),
                };
                let mut resp = Response::new(Bytes::from(body));
                *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
                resp.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
                resp
            }
            Ok(IdempotencyClaim::Claimed { since }) => {
                // As of the first try (`since` is now unless a try died holding the key).
                let ids = IdempotentIds {
                    gen: crate::domain::ids::IdGen::seeded(idempotency::id_seed(
                        &self.secrets.webhook_encryption,
                        &scope,
                        &key,
                    )),
                    clock: crate::domain::time::FixedClock(since),
                };
                let resp = self.run_handler(route, params, uri.query(), body, asked, since, Some(ids)).await;
                // A server failure is not an answer worth keeping: let the client retry it.
                let kept = if resp.status().is_server_error() {
                    self.store.release_idempotency(&scope, &key).await
                } else {
                    let status = resp.status().as_u16();
                    // Kept sealed: the answer may hold a secret shown only once.
                    let kept = idempotency::sealed::seal(&self.secrets.webhook_encryption, &scope, &key, resp.body());
                    self.store.finish_idempotency(&scope, &key, status, &kept, now + IDEMPOTENCY_TTL).await
                };
                if let Err(e) = kept {
                    tracing::error!(error = %e, "could not record the idempotent response");
                }
                resp
            }
        }
    }

    /// Calls the route's handler, with the partner it acts on for a `Handler::Partner` route.
    async fn call(&self, route: &'static Route, ctx: &Ctx) -> Result<Reply, ApiError> {
        match route.handler {
            Handler::Keyed(handler) => handler(self, ctx).await,
            Handler::Partner(handler) => {
                let sub_partner;
                let partner = match route.access {
                    routes::Access::Distributor => {
                        sub_partner = handlers::sub_partner(self, ctx).await?;
                        &sub_partner
                    }
                    _ => ctx.partner()?,
                };
                if let Some(doing) = route.needs_active_partner {
                    handlers::require_active(partner, doing)?;
                }
                handler(self, ctx, partner).await
            }
            Handler::Public(_) => Err(ApiError::Internal(format!("public handler on keyed route {}", route.name))),
        }
    }

    pub(crate) fn error_response(&self, e: ApiError) -> Response<Bytes> {
        if let ApiError::Internal(detail) = &e {
            tracing::error!(detail = detail.as_str(), "internal error");
        }
        e.to_response()
    }
}

fn set_window_headers(headers: &mut HeaderMap, w: &Window) {
    headers.insert("x-ratelimit-limit", HeaderValue::from(w.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(w.remaining));
    headers.insert("x-ratelimit-reset", HeaderValue::from(w.reset.unix()));
}

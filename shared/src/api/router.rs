//! The HTTP plumbing on axum and tower-http: one `Router` built from the route table, served by
//! the dev server, by each Lambda function (`lambda_http::run`) and by the tests alike.
//!
//! What the contract needs and axum does differently is kept here, each as before:
//! - Methods are matched by the table, not by axum's `MethodRouter`: a wrong method is 405 with
//!   `Allow` (sorted, `, `-separated) in the envelope, and `HEAD` is not served implicitly.
//! - Every pattern is also routed with one trailing slash (`/customers/` is `/customers`).
//! - A literal path shadowing a pattern (`/customers/bulk` under `/customers/{id}`) also
//!   answers the pattern's other methods, with the parameter fixed (`GET /customers/bulk` is
//!   the customer `bulk`), as a table-wide match always did.
//! - A path parameter that is empty or does not decode to UTF-8 is 404, in the envelope.
//! - A Lambda function's router (`route_router`) answers only its own route: the others are 404.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Request};
use axum::response::Response;
use axum::routing::any;
use axum::Router;
use http::header::{HeaderName, CONTENT_TYPE};
use http::{HeaderValue, Method, StatusCode};
use tower::{ServiceBuilder, ServiceExt};
use tower_http::catch_panic::{CatchPanicLayer, ResponseForPanic};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::{OnResponse, TraceLayer};
use tracing::Span;

use super::error::ApiError;
use super::response::JSON;
use super::routes::{PathParams, Route, RouteId, ROUTES};
use super::App;
use crate::domain::ids::{prefix, IdGen};

/// The header carrying each response's request id (`req_…`).
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Every route of the table, as the dev server and the tests serve them.
pub fn router(app: Arc<App>) -> Router {
    build(app, None)
}

/// Only `only` (a Lambda function answers its own route); any other route is 404, as an
/// unknown path is.
pub fn route_router(app: Arc<App>, only: RouteId) -> Router {
    build(app, Some(only))
}

fn build(app: Arc<App>, only: Option<RouteId>) -> Router {
    let mut router = Router::new();
    for (pattern, entries) in nodes(only.map(RouteId::route)) {
        let node = Node { app: app.clone(), entries: entries.into(), only };
        let endpoint = any(move |req: Request| node.clone().serve(req));
        router = router.route(&format!("{pattern}/"), endpoint.clone()).route(&pattern, endpoint);
    }
    let layers = ServiceBuilder::new()
        // The request id is ours to make: one a client sends is not taken over.
        .map_request(|mut req: Request| {
            req.headers_mut().remove(REQUEST_ID);
            req
        })
        .layer(SetRequestIdLayer::new(REQUEST_ID, NewRequestId(app.ids.clone())))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|_: &Request| Span::none())
                .on_request(())
                .on_response(AccessLog)
                .on_body_chunk(())
                .on_eos(())
                .on_failure(()),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .map_response(json_by_default);
    router.fallback(not_found).layer(layers)
}

/// One route of the table at one router pattern, with the parameters the pattern fixes (a
/// literal segment where the route has a parameter).
#[derive(Clone)]
struct Entry {
    route: &'static Route,
    fixed: PathParams,
}

/// The routes answering at each router pattern, most literal first: each route at its own
/// pattern, and at every literal pattern its own pattern matches. With `only`, just the
/// patterns `only` answers at: a Lambda function builds a handful of nodes at its cold start
/// instead of every route against every pattern (issue 16; the others fall to the 404).
fn nodes(only: Option<&'static Route>) -> BTreeMap<String, Vec<Entry>> {
    let mut nodes: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    for route in ROUTES {
        let pattern = route.full_path();
        if only.is_some_and(|only| pattern != only.full_path() && fixes(only, &pattern).is_none()) {
            continue;
        }
        nodes.entry(pattern).or_default().push(Entry { route, fixed: Vec::new() });
    }
    for route in ROUTES {
        let pattern = route.full_path();
        for (other, entries) in nodes.iter_mut() {
            if *other == pattern {
                continue;
            }
            if let Some(fixed) = fixes(route, other) {
                entries.push(Entry { route, fixed });
            }
        }
    }
    for entries in nodes.values_mut() {
        entries.sort_by_key(|e| std::cmp::Reverse(e.route.literal_segments()));
    }
    nodes
}

/// When every path of `literal` (a pattern without parameters) also matches `route`'s
/// pattern: the parameters the route would read from it.
fn fixes(route: &'static Route, literal: &str) -> Option<PathParams> {
    if literal.contains('{') {
        return None;
    }
    let want: Vec<&'static str> = route.base().split('/').chain(route.path.split('/').skip(1)).collect();
    let got: Vec<&str> = literal.split('/').collect();
    if want.len() != got.len() {
        return None;
    }
    let mut fixed = Vec::new();
    for (w, g) in want.into_iter().zip(got) {
        match w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
            Some(name) => fixed.push((name, g.to_string())),
            None if w == g => {}
            None => return None,
        }
    }
    Some(fixed)
}

/// The routes at one router pattern, and what the router is limited to.
#[derive(Clone)]
struct Node {
    app: Arc<App>,
    entries: Arc<[Entry]>,
    only: Option<RouteId>,
}

impl Node {
    async fn serve(self, req: Request) -> Response {
        let method = req.method().clone();
        let (mut parts, body) = req.into_parts();
        let params = match Path::<Vec<(String, String)>>::from_request_parts(&mut parts, &()).await {
            // A parameter is never empty (`/customers//` is no customer's path).
            Ok(Path(params)) if params.iter().all(|(_, v)| !v.is_empty()) => params,
            // Nor is one that is not UTF-8 once decoded: no route has either.
            _ => return served(not_found_at(parts.uri.path()), method, "-"),
        };
        let Some(entry) = self.entries.iter().find(|e| e.route.method == method) else {
            let mut allow: Vec<&str> = self.entries.iter().map(|e| e.route.method.as_str()).collect();
            allow.sort_unstable();
            allow.dedup();
            let resp = ApiError::MethodNotAllowed { allow: allow.join(", ") }.to_response();
            return served(resp.map(Body::from), method, "-");
        };
        if self.only.is_some_and(|only| only != entry.route.id) {
            return served(not_found_at(parts.uri.path()), method, "-");
        }
        let route = entry.route;
        let mut all = entry.fixed.clone();
        all.extend(params.into_iter().map(|(name, value)| (static_name(route, &name), value)));
        let app = self.app.clone();
        let limit = app.config.max_body_bytes;
        let pipeline = tower::service_fn(move |req: http::Request<_>| {
            let (app, all) = (app.clone(), all.clone());
            async move {
                let (parts, body) = req.into_parts();
                // The limit layer ends the body past the limit; any failure to read it answers
                // as a body over the limit did before.
                let resp = match axum::body::to_bytes(Body::new(body), usize::MAX).await {
                    Ok(body) => app.serve(route, all, parts, body).await,
                    Err(_) => ApiError::PayloadTooLarge { limit }.to_response(),
                };
                Ok::<_, std::convert::Infallible>(resp.map(Body::from))
            }
        });
        let service = ServiceBuilder::new()
            .layer(CatchPanicLayer::custom(Panicked(route)))
            // A declared length over the limit is refused before any byte is read.
            .map_response(move |resp: Response<_>| {
                if resp.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json(&resp) {
                    ApiError::PayloadTooLarge { limit }.to_response().map(Body::from)
                } else {
                    resp.map(Body::new)
                }
            })
            .layer(RequestBodyLimitLayer::new(limit))
            .service(pipeline);
        let resp = match service.oneshot(Request::from_parts(parts, body)).await {
            Ok(resp) => resp.map(Body::new),
            Err(never) => match never {},
        };
        served(resp, method, route.name)
    }
}

/// The route's own name for a parameter axum matched by that name.
fn static_name(route: &'static Route, name: &str) -> &'static str {
    route.param_names().find(|n| *n == name).unwrap_or("")
}

/// A panic in a route's handler answers 500 `INTERNAL` in the envelope, not a dropped
/// connection.
#[derive(Clone, Copy)]
struct Panicked(&'static Route);

impl ResponseForPanic for Panicked {
    type ResponseBody = Body;

    fn response_for_panic(&mut self, _: Box<dyn Any + Send + 'static>) -> Response {
        let detail = format!("handler {} panicked", self.0.name);
        tracing::error!(detail = detail.as_str(), "internal error");
        ApiError::Internal(detail).to_response().map(Body::from)
    }
}

fn is_json(resp: &Response<impl Sized>) -> bool {
    resp.headers().get(CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
}

/// 404 for a path no route answers (one trailing slash is not part of the path).
fn not_found_at(path: &str) -> Response {
    let path = if path.len() > 1 { path.strip_suffix('/').unwrap_or(path) } else { path };
    ApiError::NotFound(format!("No route for {path}.")).to_response().map(Body::from)
}

async fn not_found(req: Request) -> Response {
    served(not_found_at(req.uri().path()), req.method().clone(), "-")
}

/// What the access log says about a response: the request's method and the route's name
/// (`-` when no route answered).
#[derive(Clone)]
struct Served {
    method: Method,
    route: &'static str,
}

fn served(mut resp: Response, method: Method, route: &'static str) -> Response {
    resp.extensions_mut().insert(Served { method, route });
    resp
}

/// Every answer with a body says what it is: JSON unless the handler said otherwise.
fn json_by_default(mut resp: Response) -> Response {
    if resp.status() != StatusCode::NO_CONTENT && !resp.headers().contains_key(CONTENT_TYPE) {
        resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(JSON));
    }
    resp
}

/// Request ids as `IdGen::random(prefix::REQUEST)` makes them.
#[derive(Clone)]
struct NewRequestId(Arc<IdGen>);

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _: &http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&self.0.random(prefix::REQUEST)).ok().map(RequestId::new)
    }
}

/// One `request` line per response: request id, method, route, status and duration.
#[derive(Clone, Copy)]
struct AccessLog;

impl<B> OnResponse<B> for AccessLog {
    fn on_response(self, resp: &http::Response<B>, latency: Duration, _: &Span) {
        let request_id = resp.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
        let (method, route) =
            resp.extensions().get::<Served>().map_or(("-".to_string(), "-"), |s| (s.method.to_string(), s.route));
        tracing::info!(
            request_id,
            method = %method,
            route,
            status = resp.status().as_u16(),
            duration_ms = latency.as_millis() as u64,
            "request"
        );
    }
}

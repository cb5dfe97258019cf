//! The OpenAPI 3.1 document of the API, served at `GET /api/v1/openapi.json` (contract, "API
//! description and report links").
//!
//! Assembled once per process from three sources, so that the route table stays the one list
//! of routes (`docs/api-decisions.md`, "The OpenAPI document"):
//! - the route table (`super::routes`): each operation's method, full path, path parameters,
//!   key scheme and the pipeline's own answers (key, rate limit, idempotency, body limit,
//!   server fault, a sub-partner that is not the caller's), added here to every route they
//!   apply to ([`pipeline_errors`]);
//! - `operations.json`, checked in, one entry per route name: summary, tag, query parameters,
//!   request body, success answers (with their OpenAPI `links` to the operations that take an
//!   id they answer), the route's own error codes by status, and the API reference's examples;
//! - `components.json`, checked in: the shared schemas, parameters, headers and key schemes.
//!
//! A route without an entry is left out of the document (and [`missing_operations`] names it,
//! which the coverage test prints); an entry naming no route is [`unknown_operations`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use http::Method;
use serde_json::{json, Map, Value};

use super::routes::{Access, Handler, Route, ROUTES};

const OPERATIONS: &str = include_str!("operations.json");
const COMPONENTS: &str = include_str!("components.json");

/// The path parameters that name one of our ids (the pipeline answers 400 `INVALID_FIELD`
/// for a value that cannot be one, `super::request::check_id_params`).
const ID_PARAMS: &[&str] = &["id", "runId", "deliveryId", "customerId", "exceptionId"];

/// The document, built on first use. Panics only if the checked-in JSON is malformed, which
/// the tests (and any request to the route) would show at once.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(build)
}

/// The serialised document, as served.
pub fn document_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| serde_json::to_vec(document()).expect("a Value serialises"))
}

fn operations() -> &'static Map<String, Value> {
    static OPS: OnceLock<Map<String, Value>> = OnceLock::new();
    OPS.get_or_init(|| match serde_json::from_str(OPERATIONS) {
        Ok(Value::Object(m)) => m,
        other => panic!("operations.json is not a JSON object: {other:?}"),
    })
}

/// Routes of the table that have no entry in `operations.json` (left out of the document).
pub fn missing_operations() -> Vec<&'static Route> {
    ROUTES.iter().filter(|r| !operations().contains_key(r.name)).collect()
}

/// Entries of `operations.json` that name no route of the table.
pub fn unknown_operations() -> Vec<String> {
    operations().keys().filter(|name| !ROUTES.iter().any(|r| r.name == name.as_str())).cloned().collect()
}

/// The route's own error codes by status, as `operations.json` lists them.
pub fn route_errors(route: &Route) -> BTreeMap<u16, BTreeSet<String>> {
    let mut out: BTreeMap<u16, BTreeSet<String>> = BTreeMap::new();
    if let Some(errors) = operations().get(route.name).and_then(|op| op.get("errors")).and_then(Value::as_object) {
        for (status, codes) in errors {
            let status: u16 = status.parse().unwrap_or_else(|_| panic!("{}: status {status:?}", route.name));
            let codes = codes.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string);
            out.entry(status).or_default().extend(codes);
        }
    }
    out
}

/// The answers the pipeline gives on `route` before or around its handler, as (status, code):
/// every route: 400 `INVALID_FIELD` (a query parameter given twice, an id parameter that
/// cannot be an id, a malformed `Idempotency-Key`), 413 `PAYLOAD_TOO_LARGE`, 500 `INTERNAL`;
/// keyed routes: 401 `MISSING_KEY`/`INVALID_KEY`, 403 for an inactive account, 429
/// `RATE_LIMITED`; keyed POSTs: 409 `IDEMPOTENCY_IN_PROGRESS`, 422 `IDEMPOTENCY_MISMATCH`; a
/// distributor's route on a sub-partner (`/partners/{id}/…`): 404 `NOT_FOUND`.
pub fn pipeline_errors(route: &Route) -> Vec<(u16, &'static str)> {
    let mut out = vec![(400, "INVALID_FIELD"), (413, "PAYLOAD_TOO_LARGE"), (500, "INTERNAL")];
    match route.access {
        Access::Public => {}
        Access::Partner | Access::Distributor => {
            out.push((401, "MISSING_KEY"));
            out.push((401, "INVALID_KEY"));
            out.push((403, if route.access == Access::Partner { "PARTNER_INACTIVE" } else { "DISTRIBUTOR_INACTIVE" }));
            out.push((429, "RATE_LIMITED"));
            if route.method == Method::POST {
                out.push((409, "IDEMPOTENCY_IN_PROGRESS"));
                out.push((422, "IDEMPOTENCY_MISMATCH"));
            }
            if route.access == Access::Distributor && matches!(route.handler, Handler::Partner(_)) {
                out.push((404, "NOT_FOUND"));
            }
        }
    }
    out
}

/// Every error code the document gives `route`, by status: its own and the pipeline's.
pub fn documented_errors(route: &Route) -> BTreeMap<u16, BTreeSet<String>> {
    let mut all = route_errors(route);
    for (status, code) in pipeline_errors(route) {
        all.entry(status).or_default().insert(code.to_string());
    }
    all
}

fn build() -> Value {
    let components: Value = serde_json::from_str(COMPONENTS).expect("components.json is JSON");
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for route in ROUTES {
        let Some(op) = operations().get(route.name) else { continue };
        paths
            .entry(route.full_path())
            .or_default()
            .insert(route.method.as_str().to_ascii_lowercase(), operation(route, op));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "baref00t API",
            "version": "1.0.0",
            "description": "Security assessments of Microsoft 365 tenants. The Partner API (`/api/v1/partner`, key header `X-Partner-Key`) is for MSPs; the Distributor API (`/api/v1/distributor`, `X-Distributor-Key`) provisions and runs partners. Errors are `{\"error\":{\"code\",\"message\"}}`; each operation lists the codes it answers per status. Keyed answers carry `X-RateLimit-Limit/Remaining/Reset` (60 requests per key per minute for partners, 120 for distributors; over it: 429 `RATE_LIMITED` with `Retry-After`). Any POST may carry an `Idempotency-Key`."
        },
        "servers": [{ "url": "/", "description": "The host serving this document (e.g. https://api.baref00t.io, or the dev server)" }],
        "paths": paths,
        "components": components,
    })
}

/// `partner.customers.create` → `partnerCustomersCreate`.
fn operation_id(name: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in name.chars() {
        if c == '.' || c == '-' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn operation(route: &Route, op: &Value) -> Value {
    let surface = match route.access {
        Access::Partner => "Partner",
        Access::Distributor => "Distributor",
        Access::Public => "Public",
    };
    let mut out = Map::new();
    out.insert("operationId".into(), json!(operation_id(route.name)));
    out.insert("summary".into(), op.get("summary").cloned().unwrap_or(json!(route.name)));
    out.insert("description".into(), json!(format!("Route `{}`.", route.name)));
    let tag = op.get("tag").and_then(Value::as_str).unwrap_or("Other");
    out.insert("tags".into(), json!([format!("{surface} {tag}")]));
    out.insert(
        "security".into(),
        match route.access {
            Access::Partner => json!([{ "PartnerKey": [] }]),
            Access::Distributor => json!([{ "DistributorKey": [] }]),
            Access::Public => json!([]),
        },
    );
    out.insert("parameters".into(), Value::Array(parameters(route, op)));
    if let Some(body) = op.get("body").and_then(Value::as_str) {
        let mut media = json!({ "schema": schema_ref(body) });
        if let Some(ex) = op.get("requestExample") {
            media["examples"] = json!({ "reference": { "summary": "The API reference's example", "value": ex } });
        }
        let optional = op.get("bodyOptional").and_then(Value::as_bool).unwrap_or(false);
        out.insert("requestBody".into(), json!({ "required": !optional, "content": { "application/json": media } }));
    }
    // A page's form post (the questionnaire form): an HTML form's encoding, not JSON.
    if let Some(form) = op.get("formBody").and_then(Value::as_str) {
        out.insert(
            "requestBody".into(),
            json!({ "required": true, "content": { "application/x-www-form-urlencoded": { "schema": schema_ref(form) } } }),
        );
    }
    out.insert("responses".into(), Value::Object(responses(route, op)));
    Value::Object(out)
}

fn parameters(route: &Route, op: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for name in route.param_names() {
        let description = op.pointer(&format!("/params/{name}")).and_then(Value::as_str).unwrap_or(name);
        let schema = match name {
            "slot" => json!({ "type": "integer", "enum": [1, 2] }),
            n if ID_PARAMS.contains(&n) => schema_ref("Id"),
            _ => json!({ "type": "string", "minLength": 1 }),
        };
        out.push(json!({ "name": name, "in": "path", "required": true, "description": description, "schema": schema }));
    }
    let known = COMPONENT_PARAMETERS;
    for q in op.get("query").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        if known.contains(&q) {
            out.push(json!({ "$ref": format!("#/components/parameters/{q}") }));
        } else {
            out.push(json!({ "name": q, "in": "query", "required": false, "schema": { "type": "string" } }));
        }
    }
    if route.access != Access::Public && route.method == Method::POST {
        out.push(json!({ "$ref": "#/components/parameters/IdempotencyKey" }));
    }
    out
}

/// The query parameters `components.json` defines (an operation names them in `query`).
const COMPONENT_PARAMETERS: &[&str] =
    &["limit", "cursor", "month", "product", "customerIdQuery", "partnerStatus", "outcome", "severity", "format"];

fn header_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/headers/{name}") })
}

/// The headers of one answer: the request id always; on a keyed route the rate-limit window
/// (always there on a success, there on an error once the key was known), `Retry-After` on a
/// 429, and `Idempotent-Replayed` on a POST's kept answer.
fn headers(route: &Route, status: u16) -> Value {
    let mut h = Map::new();
    h.insert("X-Request-Id".into(), header_ref("X-Request-Id"));
    if route.access != Access::Public {
        for name in ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"] {
            h.insert(
                name.into(),
                if (200..300).contains(&status) {
                    json!({ "$ref": format!("#/components/headers/{name}"), "required": true })
                } else {
                    header_ref(name)
                },
            );
        }
        if status == 429 {
            h.insert("Retry-After".into(), header_ref("Retry-After"));
        }
        if route.method == Method::POST {
            h.insert("Idempotent-Replayed".into(), header_ref("Idempotent-Replayed"));
        }
    }
    Value::Object(h)
}

fn responses(route: &Route, op: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    let example = op.get("example");
    for (i, (status, schema)) in op.get("ok").and_then(Value::as_object).into_iter().flatten().enumerate() {
        let code: u16 = status.parse().unwrap_or_else(|_| panic!("{}: status {status:?}", route.name));
        let mut resp = Map::new();
        resp.insert("headers".into(), headers(route, code));
        match schema.as_str() {
            None => {
                resp.insert("description".into(), json!("No content."));
            }
            Some("text/html") => {
                resp.insert("description".into(), json!("A page for people."));
                resp.insert("content".into(), json!({ "text/html": { "schema": { "type": "string" } } }));
            }
            // A page or its PDF (the shared report's `?format=`).
            Some("text/html|application/pdf") => {
                resp.insert("description".into(), json!("A page for people, or with format=pdf the same as a PDF."));
                resp.insert(
                    "content".into(),
                    json!({
                        "text/html": { "schema": { "type": "string" } },
                        "application/pdf": { "schema": { "type": "string", "format": "binary" } },
                    }),
                );
            }
            Some(name) => {
                resp.insert("description".into(), json!(name));
                let mut media = json!({ "schema": schema_ref(name) });
                if let (0, Some(ex)) = (i, example) {
                    media["examples"] =
                        json!({ "reference": { "summary": "The API reference's example", "value": ex } });
                }
                resp.insert("content".into(), json!({ "application/json": media }));
            }
        }
        if let Some(links) = op.pointer(&format!("/links/{status}")) {
            resp.insert("links".into(), links.clone());
        }
        out.insert(status.clone(), Value::Object(resp));
    }
    for (status, codes) in documented_errors(route) {
        let codes: Vec<String> = codes.into_iter().collect();
        let schema = json!({ "allOf": [
            schema_ref("Error"),
            { "properties": { "error": { "properties": { "code": { "enum": codes } } } } }
        ] });
        let mut content = json!({ "application/json": { "schema": schema } });
        let mut description = codes.join(" | ");
        if let Some(page) = op.pointer(&format!("/pages/{status}")).and_then(Value::as_str) {
            content["text/html"] = json!({ "schema": { "type": "string" } });
            description = format!("{page} Or, in the envelope: {description}");
        }
        out.insert(
            status.to_string(),
            json!({ "description": description, "headers": headers(route, status), "content": content }),
        );
    }
    for (status, page) in op.get("pages").and_then(Value::as_object).into_iter().flatten() {
        if !out.contains_key(status) {
            out.insert(
                status.clone(),
                json!({ "description": page, "headers": headers(route, 0), "content": { "text/html": { "schema": { "type": "string" } } } }),
            );
        }
    }
    // Sorted by status, as readers expect.
    let mut sorted: Vec<(String, Value)> = out.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted.into_iter().collect()
}

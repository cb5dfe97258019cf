//! Every answer a test receives through the harness ([`crate::Harness::request`]) is checked
//! against the OpenAPI document the API serves (`shared::api::openapi`): its status must be
//! documented for its route, and its JSON body must validate against the document's schema for
//! that route and status. So the document cannot drift from the behaviour the tests see.
//!
//! Each (route, status, error code) seen is also recorded: in memory ([`observed`]) and, when
//! `OPENAPI_OBSERVED` names a file, appended to it, one `route\tstatus\tcode` line each, so that
//! `scripts/test` can compare the codes the whole suite provoked with the document's
//! (`openapi::error_codes_are_the_ones_the_tests_provoke`).

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use http::Method;
use serde_json::{json, Value};
use shared::api::routes::{Route, ROUTES};

use crate::Resp;

/// One answer seen: the route's name, the status, and the error code (empty for a success).
pub type Seen = (String, u16, String);

/// The route of the table a request for `method` on `path` reaches: the most literal pattern
/// of that method matching the path (one trailing slash ignored). `None` when no route has the
/// method at the path (a 404 or 405 of the router).
pub fn route_for(method: &Method, path: &str) -> Option<&'static Route> {
    let path = path.split('?').next().unwrap_or(path);
    let path = if path.len() > 1 { path.strip_suffix('/').unwrap_or(path) } else { path };
    let got: Vec<&str> = path.split('/').collect();
    ROUTES
        .iter()
        .filter(|r| r.method == method)
        .filter(|r| {
            let full = r.full_path();
            let want: Vec<&str> = full.split('/').collect();
            want.len() == got.len()
                && want.iter().zip(&got).all(|(w, g)| if w.starts_with('{') { !g.is_empty() } else { w == g })
        })
        .max_by_key(|r| r.full_path().split('/').filter(|s| !s.starts_with('{')).count())
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// The document's response object for `route` and `status`, `$ref`s to shared responses
/// followed.
pub fn response_doc(route: &Route, status: u16) -> Option<&'static Value> {
    let doc = shared::api::openapi::document();
    let op = doc.pointer(&format!("/paths/{}/{}", escape(&route.full_path()), route.method.as_str().to_lowercase()))?;
    op.pointer(&format!("/responses/{status}"))
}

/// The `$ref` (a URI fragment: `{`/`}` percent-encoded) to the JSON schema of `route`'s answer
/// with `status` in the document.
pub fn schema_pointer(route: &Route, status: u16) -> String {
    let path = escape(&route.full_path()).replace('{', "%7B").replace('}', "%7D");
    format!(
        "#/paths/{path}/{}/responses/{status}/content/application~1json/schema",
        route.method.as_str().to_lowercase()
    )
}

type Validators = Mutex<HashMap<(String, u16), Arc<jsonschema::Validator>>>;

fn validator(route: &Route, status: u16) -> Arc<jsonschema::Validator> {
    static CACHE: OnceLock<Validators> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (route.name.to_string(), status);
    if let Some(v) = cache.lock().unwrap().get(&key) {
        return v.clone();
    }
    // The whole document as the root resource, so the schema's `$ref`s into components resolve.
    let mut root = shared::api::openapi::document().clone();
    root["$ref"] = json!(schema_pointer(route, status));
    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    let v = Arc::new(
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("{} {status}: the document's schema does not compile: {e}", route.name)),
    );
    cache.lock().unwrap().insert(key, v.clone());
    v
}

/// Checks `resp`, the answer to `method` on `path`, against the document, and records it.
/// Panics, failing the test, when the answer is not what the document says.
#[track_caller]
pub fn check(method: &Method, path: &str, resp: &Resp) {
    let Some(route) = route_for(method, path) else { return };
    let status = resp.status.as_u16();
    let Some(doc) = response_doc(route, status) else {
        panic!(
            "OpenAPI: {} ({method} {}) answered {status}, which the document does not list for it; body: {}",
            route.name,
            route.full_path(),
            String::from_utf8_lossy(&resp.raw)
        );
    };
    let content_type = resp.header("content-type").unwrap_or("");
    if status == 204 || status == 303 {
        // No content, as the document says (a 303 sends the browser on: the questionnaire form).
        assert!(resp.raw.is_empty(), "OpenAPI: {} {status} with a body", route.name);
    } else if content_type.starts_with("application/json") {
        assert!(
            doc.pointer("/content/application~1json").is_some(),
            "OpenAPI: {} {status} answered JSON, which the document does not list",
            route.name
        );
        let v = validator(route, status);
        let errors: Vec<String> = v.iter_errors(&resp.body).map(|e| format!("{e} at {}", e.instance_path())).collect();
        assert!(
            errors.is_empty(),
            "OpenAPI: {} {status}: the body does not match the document's schema:\n  {}\nbody: {}",
            route.name,
            errors.join("\n  "),
            resp.body
        );
    } else {
        let media = content_type.split(';').next().unwrap_or("").trim();
        assert!(
            doc.pointer(&format!("/content/{}", escape(media))).is_some(),
            "OpenAPI: {} {status} answered {content_type:?}, which the document does not list",
            route.name
        );
    }
    let code = if status >= 400 { resp.code() } else { "" };
    record((route.name.to_string(), status, code.to_string()));
}

/// [`check`] for an answer a test got from a router directly (`crate::oneshot`), e.g. on a
/// store that fails on purpose; `path` may carry a query.
#[track_caller]
pub fn check_http(method: &str, path: &str, resp: &http::Response<bytes::Bytes>) {
    let mut copy = http::Response::new(resp.body().clone());
    *copy.status_mut() = resp.status();
    *copy.headers_mut() = resp.headers().clone();
    check(&method.parse().expect("a method"), path, &Resp::from_http(copy));
}

fn seen() -> &'static Mutex<BTreeSet<Seen>> {
    static SEEN: OnceLock<Mutex<BTreeSet<Seen>>> = OnceLock::new();
    SEEN.get_or_init(Default::default)
}

fn record(s: Seen) {
    let new = seen().lock().unwrap().insert(s.clone());
    if !new {
        return;
    }
    if let Ok(file) = std::env::var("OPENAPI_OBSERVED") {
        // One short line per write, in append mode: lines from parallel tests do not interleave.
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&file).expect("OPENAPI_OBSERVED file");
        f.write_all(format!("{}\t{}\t{}\n", s.0, s.1, s.2).as_bytes()).expect("append");
    }
}

/// What this process has seen so far.
pub fn observed() -> BTreeSet<Seen> {
    seen().lock().unwrap().clone()
}

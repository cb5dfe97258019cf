//! The OpenAPI document (contract, "API description and report links"): served without a key,
//! covering exactly the route table, every schema compiling, and its error codes the ones the
//! tests provoke. That every answer of the harness validates against it is checked on each
//! request (`tests::openapi::check`).

use std::collections::{BTreeMap, BTreeSet};

use http::{Method, StatusCode};
use serde_json::Value;
use shared::api::openapi;
use shared::api::routes::ROUTES;
use tests::openapi::{check, response_doc, route_for, schema_pointer};
use tests::{Harness, Resp};

fn doc_operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

#[tokio::test]
async fn the_document_is_served_without_a_key_as_openapi_3_1() {
    let h = Harness::new().await;
    let r = h.request(Method::GET, "/api/v1/openapi.json", &[], None).await;
    r.assert_status(200);
    assert!(r.header("content-type").unwrap_or("").starts_with("application/json"));
    assert_eq!(r.body["openapi"], "3.1.0");
    assert_eq!(&r.body, openapi::document(), "the served document is the one the tests check against");
    let schemes = &r.body["components"]["securitySchemes"];
    assert_eq!(schemes["PartnerKey"]["name"], "X-Partner-Key");
    assert_eq!(schemes["DistributorKey"]["name"], "X-Distributor-Key");
}

/// Both ways: every route of the table is an operation of the document, and every operation
/// of the document is a route. The message says what to add where.
#[test]
fn the_document_has_every_route_of_the_table_and_no_other() {
    let doc = openapi::document();
    let table: BTreeSet<(String, String)> =
        ROUTES.iter().map(|r| (r.method.as_str().to_string(), r.full_path())).collect();
    let documented = doc_operations(doc);
    let mut problems = Vec::new();
    for r in openapi::missing_operations() {
        problems.push(format!(
            "route {} ({} {}) is missing from the document: add to shared/src/api/openapi/operations.json\n    \"{}\": {{ \"tag\": \"…\", \"summary\": \"…\", \"body\": \"SchemaName (POST/PATCH; components.json)\", \"ok\": {{ \"200\": \"SchemaName\" }}, \"errors\": {{ \"404\": [\"NOT_FOUND\"] }} }},",
            r.name,
            r.method,
            r.full_path(),
            r.name
        ));
    }
    for name in openapi::unknown_operations() {
        problems.push(format!("operations.json describes {name:?}, which is no route of the table"));
    }
    for (method, path) in documented.difference(&table) {
        problems.push(format!("the document has {method} {path}, which is no route of the table"));
    }
    for (method, path) in table.difference(&documented) {
        if !problems.iter().any(|p| p.contains(&format!("{method} {path})"))) {
            problems.push(format!("the route {method} {path} is not in the document"));
        }
    }
    assert!(problems.is_empty(), "OpenAPI document vs route table:\n  {}", problems.join("\n  "));
}

/// Each operation's path parameters are the route's, its key scheme the route's surface, and
/// every POST takes an `Idempotency-Key`.
#[test]
fn each_operation_has_the_routes_parameters_and_key_scheme() {
    let doc = openapi::document();
    for r in ROUTES {
        let op = &doc["paths"][r.full_path()][r.method.as_str().to_lowercase()];
        let params = op["parameters"].as_array().expect("parameters");
        let path_params: Vec<&str> =
            params.iter().filter(|p| p["in"] == "path").filter_map(|p| p["name"].as_str()).collect();
        assert_eq!(path_params, r.param_names().collect::<Vec<_>>(), "{}", r.name);
        let scheme = match r.access.surface() {
            Some(shared::domain::account::Surface::Partner) => Some("PartnerKey"),
            Some(shared::domain::account::Surface::Distributor) => Some("DistributorKey"),
            None => None,
        };
        let security = op["security"].as_array().expect("security");
        match scheme {
            Some(s) => assert!(security.iter().any(|x| x.get(s).is_some()), "{}: {s}", r.name),
            None => assert!(security.is_empty(), "{}: public", r.name),
        }
        let idem = params.iter().any(|p| p["$ref"] == "#/components/parameters/IdempotencyKey");
        assert_eq!(idem, r.method == Method::POST && scheme.is_some(), "{}: Idempotency-Key", r.name);
        if scheme.is_some() {
            let limited = &op["responses"]["429"]["headers"]["Retry-After"];
            assert!(limited.is_object(), "{}: 429 with Retry-After", r.name);
        }
    }
}

/// Every JSON schema of every response compiles (each `$ref` resolves), and each error
/// response lists its codes.
#[test]
fn every_response_schema_compiles() {
    let doc = openapi::document();
    for r in ROUTES {
        let responses = doc["paths"][r.full_path()][r.method.as_str().to_lowercase()]["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{}: responses", r.name));
        for (status, resp) in responses {
            let status: u16 = status.parse().expect("a status");
            if resp.pointer("/content/application~1json/schema").is_some() {
                let root = {
                    let mut root = doc.clone();
                    root["$ref"] = serde_json::json!(schema_pointer(r, status));
                    root
                };
                jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft202012)
                    .build(&root)
                    .unwrap_or_else(|e| panic!("{} {status}: {e}", r.name));
            }
            if status >= 400 {
                let codes = &resp["content"]["application/json"]["schema"]["allOf"][1]["properties"]["error"]
                    ["properties"]["code"]["enum"];
                assert!(codes.as_array().is_some_and(|c| !c.is_empty()), "{} {status}: codes", r.name);
            }
        }
    }
}

/// The harness's check itself: an answer whose status or body the document does not describe
/// fails the test that received it.
#[test]
fn the_harness_refuses_answers_the_document_does_not_describe() {
    fn resp(status: u16, body: Value) -> Resp {
        let raw = bytes::Bytes::from(body.to_string());
        let mut headers = http::HeaderMap::new();
        headers.insert("content-type", "application/json; charset=utf-8".parse().unwrap());
        Resp { status: StatusCode::from_u16(status).unwrap(), headers, body, raw }
    }
    let me = "/api/v1/partner/me";
    assert_eq!(route_for(&Method::GET, me).map(|r| r.name), Some("partner.me.get"));
    assert_eq!(
        route_for(&Method::GET, "/api/v1/partner/customers/bulk").map(|r| r.name),
        Some("partner.customers.get")
    );
    assert_eq!(
        route_for(&Method::POST, "/api/v1/partner/customers/bulk/").map(|r| r.name),
        Some("partner.customers.bulk-create")
    );
    assert!(response_doc(route_for(&Method::GET, me).unwrap(), 200).is_some());
    let undocumented_status = std::panic::catch_unwind(|| {
        check(
            &Method::GET,
            me,
            &resp(409, serde_json::json!({ "error": { "code": "CUSTOMER_EXISTS", "message": "x" } })),
        )
    });
    assert!(undocumented_status.is_err(), "a status the route does not document fails");
    let wrong_shape = std::panic::catch_unwind(|| check(&Method::GET, me, &resp(200, serde_json::json!({ "id": 1 }))));
    assert!(wrong_shape.is_err(), "a body off the schema fails");
    let undocumented_code = std::panic::catch_unwind(|| {
        check(&Method::GET, me, &resp(404, serde_json::json!({ "error": { "code": "MAX_KEYS", "message": "x" } })))
    });
    assert!(undocumented_code.is_err(), "a code the route does not document at that status fails");
}

/// The error codes each route documents are the ones the test suite provokes on it: run by
/// `scripts/test` after the whole suite, on the answers it recorded (`OPENAPI_OBSERVED`).
/// - every code a test provoked on a route is documented for it at that status (the harness
///   also fails the test at once);
/// - every code a route documents as its own (`operations.json`) is provoked by some test;
/// - every code of the pipeline ([`openapi::pipeline_errors`], documented on every route it
///   applies to) is provoked on at least one route.
#[test]
#[ignore = "run by scripts/test after the whole suite, on what it recorded (OPENAPI_OBSERVED)"]
fn error_codes_are_the_ones_the_tests_provoke() {
    let file = std::env::var("OPENAPI_OBSERVED").expect("OPENAPI_OBSERVED: the file the suite recorded into");
    let text = std::fs::read_to_string(&file).expect("the recorded answers");
    let mut provoked: BTreeMap<String, BTreeMap<u16, BTreeSet<String>>> = BTreeMap::new();
    let mut answered: BTreeSet<String> = BTreeSet::new();
    for line in text.lines() {
        let mut parts = line.split('\t');
        let (Some(route), Some(status), Some(code)) = (parts.next(), parts.next(), parts.next()) else { continue };
        let status: u16 = status.parse().expect("status");
        answered.insert(route.to_string());
        if status >= 400 && !code.is_empty() {
            provoked.entry(route.to_string()).or_default().entry(status).or_default().insert(code.to_string());
        }
    }
    let mut problems = Vec::new();
    let mut pipeline_seen: BTreeSet<(u16, String)> = BTreeSet::new();
    for r in ROUTES {
        if !answered.contains(r.name) {
            problems.push(format!("{}: no test received any answer from it through the harness", r.name));
        }
        let documented = openapi::documented_errors(r);
        let own = openapi::route_errors(r);
        let got = provoked.get(r.name).cloned().unwrap_or_default();
        for (status, codes) in &got {
            for code in codes {
                if !documented.get(status).is_some_and(|c| c.contains(code)) {
                    problems
                        .push(format!("{}: tests provoke {status} {code}, which the document does not list", r.name));
                }
                pipeline_seen.insert((*status, code.clone()));
            }
        }
        for (status, codes) in &own {
            for code in codes {
                if !got.get(status).is_some_and(|c| c.contains(code)) {
                    problems.push(format!(
                        "{}: the document lists {status} {code}, which no test provokes (add a test, or drop it from operations.json)",
                        r.name
                    ));
                }
            }
        }
    }
    let pipeline: BTreeSet<(u16, String)> =
        ROUTES.iter().flat_map(|r| openapi::pipeline_errors(r)).map(|(s, c)| (s, c.to_string())).collect();
    for (status, code) in pipeline.difference(&pipeline_seen) {
        problems.push(format!("pipeline answer {status} {code} is provoked on no route"));
    }
    assert!(problems.is_empty(), "{} problem(s):\n  {}", problems.len(), problems.join("\n  "));
}

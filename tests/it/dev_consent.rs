//! The dev server's stand-in for Microsoft's admin-consent page, over HTTP as a browser uses
//! it: the page's form read from its HTML and submitted, the 303 followed to the callback.
//! (`scripts/browser-consent` does the same in headless Chromium.)

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};

use super::dev_server::{start, Running};
use shared::assess::permissions::PERMISSIONS;
use tests::{customer_body, TENANT};

/// Where the consent links and the callback point: the default `PUBLIC_BASE_URL`; the tests'
/// server listens elsewhere, so a link's path is requested on it.
const PUBLIC: &str = "http://127.0.0.1:3000";

struct Page {
    status: u16,
    headers: http::HeaderMap,
    body: String,
}

async fn raw(s: &Running, method: Method, path_and_query: &str, form: Option<String>) -> Page {
    let mut req = Request::builder().method(method).uri(format!("{}{path_and_query}", s.base));
    if form.is_some() {
        req = req.header("content-type", "application/x-www-form-urlencoded");
    }
    let body = Full::new(Bytes::from(form.unwrap_or_default()));
    let resp = s.client.request(req.body(body).unwrap()).await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    Page { status, headers, body }
}

/// A URL on the public base as a path on the tests' server.
fn local(url: &str) -> &str {
    url.strip_prefix(PUBLIC).unwrap_or_else(|| panic!("{url} is on {PUBLIC}"))
}

fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of attribute `name` in one HTML tag.
fn attr(tag: &str, name: &str) -> Option<String> {
    let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(unescape(&tag[at..at + tag[at..].find('"')?]))
}

/// The page's one form: its method, action, and the hidden fields (name, value), as a
/// browser would submit them.
fn form(html: &str) -> (String, String, Vec<(String, String)>) {
    let start = html.find("<form").expect("a form");
    let end = html[start..].find("</form>").expect("the form ends") + start;
    let form = &html[start..end];
    let open = &form[..form.find('>').unwrap()];
    let hidden = form
        .split("<input")
        .skip(1)
        .map(|t| &t[..t.find('>').unwrap()])
        .filter(|t| attr(t, "type").as_deref() == Some("hidden"))
        .map(|t| (attr(t, "name").unwrap(), attr(t, "value").unwrap()))
        .collect();
    (attr(open, "method").unwrap(), attr(open, "action").unwrap(), hidden)
}

fn encode(fields: &[(String, String)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        ser.append_pair(k, v);
    }
    ser.finish()
}

/// A new customer of the dev partner and its consent link.
async fn customer_with_link(s: &Running) -> (String, String) {
    let (status, _, created) = s.partner(Method::POST, "/customers", Some(customer_body("Contoso Ltd", TENANT))).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let (status, _, consent) = s.partner(Method::GET, &format!("/customers/{id}/consent"), None).await;
    assert_eq!(status, 200, "{consent}");
    (id, consent["consentUrl"].as_str().unwrap().to_string())
}

async fn consent_status(s: &Running, id: &str) -> Value {
    s.partner(Method::GET, &format!("/customers/{id}"), None).await.2["consentStatus"].clone()
}

/// Opens the stand-in page at `url`, checks it, and submits its form with `decision`: the
/// 303's `Location`.
async fn decide(s: &Running, url: &str, decision: &str) -> String {
    let page = raw(s, Method::GET, local(url), None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(
        page.headers["content-security-policy"],
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
    );
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    assert!(!page.body.contains("<script"), "no script: {}", page.body);
    assert!(page.body.contains(TENANT) && page.body.contains("baref00t-dev-app"), "{}", page.body);
    for p in PERMISSIONS {
        assert!(page.body.contains(p.name), "the page lists {}: {}", p.name, page.body);
    }
    assert!(
        page.body.contains(r#"name="decision" value="grant""#)
            && page.body.contains(r#"name="decision" value="decline""#)
    );
    let (method, action, mut fields) = form(&page.body);
    assert_eq!(method.to_ascii_lowercase(), "post");
    fields.push(("decision".into(), decision.into()));
    let answer = raw(s, Method::POST, &action, Some(encode(&fields))).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    answer.headers["location"].to_str().unwrap().to_string()
}

#[tokio::test]
async fn a_new_customer_is_granted_in_the_stand_in_and_its_run_completes() {
    let s = start().await;
    let (id, url) = customer_with_link(&s).await;
    assert!(url.starts_with(&format!("{PUBLIC}/dev/consent/{TENANT}/v2.0/adminconsent?")), "{url}");
    assert_eq!(consent_status(&s, &id).await, "pending");

    let location = decide(&s, &url, "grant").await;
    let sent = url::Url::parse(&location).unwrap();
    let link = url::Url::parse(&url).unwrap();
    let state = link.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    assert_eq!(format!("{}{}", &PUBLIC, sent.path()), format!("{PUBLIC}/consent/callback"));
    let query: Vec<(String, String)> = sent.query_pairs().into_owned().collect();
    let expected = [("admin_consent", "True"), ("tenant", TENANT), ("state", state.as_str())];
    assert_eq!(query, expected.map(|(k, v)| (k.to_string(), v.to_string())), "exactly Microsoft's query");

    let callback = raw(&s, Method::GET, local(&location), None).await;
    assert_eq!(callback.status, 200, "{}", callback.body);
    assert!(callback.body.contains("Consent granted"), "{}", callback.body);
    assert_eq!(consent_status(&s, &id).await, "granted");

    let run = json!({ "customerId": id, "product": "essential-eight", "maturityTarget": 2 });
    let (status, _, run) = s.partner(Method::POST, "/assessments", Some(run)).await;
    assert_eq!(status, 202, "{run}");
    let path = format!("/assessments/{}", run["id"].as_str().unwrap());
    // The worker runs beside the server: wait (bounded) for the run to finish.
    let mut body = Value::Null;
    for _ in 0..500 {
        body = s.partner(Method::GET, &path, None).await.2;
        if body["status"] == "completed" || body["status"] == "failed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(body["status"], "completed", "{body}");
    s.stop().await;
}

#[tokio::test]
async fn declining_in_the_stand_in_records_a_refusal_and_the_trigger_still_asks_for_consent() {
    let s = start().await;
    let (id, url) = customer_with_link(&s).await;
    let location = decide(&s, &url, "decline").await;
    let sent = url::Url::parse(&location).unwrap();
    assert_eq!(sent.path(), "/consent/callback");
    let state = url::Url::parse(&url).unwrap().query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    let query: Vec<(String, String)> = sent.query_pairs().into_owned().collect();
    let expected = [
        ("error", "access_denied"),
        ("error_description", "AADSTS65004: User declined to consent to access the app."),
        ("state", state.as_str()),
    ];
    assert_eq!(query, expected.map(|(k, v)| (k.to_string(), v.to_string())));

    let callback = raw(&s, Method::GET, local(&location), None).await;
    assert_eq!(callback.status, 200, "{}", callback.body);
    assert!(callback.body.contains("Consent declined"), "{}", callback.body);
    assert_eq!(consent_status(&s, &id).await, "declined");
    let run = json!({ "customerId": id, "product": "essential-eight" });
    let (status, _, answer) = s.partner(Method::POST, "/assessments", Some(run)).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("consent_required")), "{answer}");
    s.stop().await;
}

/// `url` with query parameter `name` set to `value` (`None` removes it).
fn with(url: &str, name: &str, value: Option<&str>) -> String {
    let mut u = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = u.query_pairs().into_owned().filter(|(k, _)| k != name).collect();
    {
        let mut q = u.query_pairs_mut();
        q.clear();
        for (k, v) in &pairs {
            q.append_pair(k, v);
        }
        if let Some(v) = value {
            q.append_pair(name, v);
        }
    }
    u.to_string()
}

#[tokio::test]
async fn the_stand_in_refuses_what_microsoft_would_not_redirect_for_and_never_redirects_elsewhere() {
    let s = start().await;
    let (id, url) = customer_with_link(&s).await;
    let elsewhere = "https://attacker.example/consent/callback";
    let refused = [
        ("another redirect_uri", with(&url, "redirect_uri", Some(elsewhere))),
        ("a redirect_uri with more path", with(&url, "redirect_uri", Some(&format!("{PUBLIC}/consent/callback/x")))),
        ("a redirect_uri with a query", with(&url, "redirect_uri", Some(&format!("{PUBLIC}/consent/callback?x=1")))),
        ("no redirect_uri", with(&url, "redirect_uri", None)),
        ("another client_id", with(&url, "client_id", Some("someone-elses-app"))),
        ("no client_id", with(&url, "client_id", None)),
        ("another scope", with(&url, "scope", Some("https://graph.microsoft.com/Mail.Read"))),
        ("no state", with(&url, "state", None)),
        ("an empty state", with(&url, "state", Some(""))),
        ("a tenant that is not a GUID", url.replacen(TENANT, "contoso.onmicrosoft.com", 1)),
        ("the common tenant", url.replacen(TENANT, "common", 1)),
        (
            "a second redirect_uri",
            format!("{url}&redirect_uri={}", form_urlencoded::byte_serialize(elsewhere.as_bytes()).collect::<String>()),
        ),
    ];
    for (what, bad) in &refused {
        let page = raw(&s, Method::GET, local(bad), None).await;
        assert_eq!(page.status, 400, "GET with {what}: {}", page.body);
        assert!(page.headers.get("location").is_none(), "GET with {what} redirects nowhere");
        assert_eq!(page.headers["content-type"], "text/html; charset=utf-8", "{what}");
        assert!(page.body.contains("not a valid consent request"), "{what}: {}", page.body);
        // The same fields posted as the form would are refused too.
        let u = url::Url::parse(bad).unwrap();
        let mut fields: Vec<(String, String)> = u.query_pairs().into_owned().collect();
        fields.push(("decision".into(), "grant".into()));
        let answer = raw(&s, Method::POST, u.path(), Some(encode(&fields))).await;
        assert_eq!(answer.status, 400, "POST with {what}: {}", answer.body);
        assert!(answer.headers.get("location").is_none(), "POST with {what} redirects nowhere");
    }
    // A valid request with no decision, or another one, is refused as well.
    let u = url::Url::parse(&url).unwrap();
    let fields: Vec<(String, String)> = u.query_pairs().into_owned().collect();
    for decision in [None, Some("maybe")] {
        let mut f = fields.clone();
        if let Some(d) = decision {
            f.push(("decision".into(), d.into()));
        }
        let answer = raw(&s, Method::POST, u.path(), Some(encode(&f))).await;
        assert_eq!(answer.status, 400, "decision {decision:?}: {}", answer.body);
        assert!(answer.headers.get("location").is_none());
    }
    assert_eq!(consent_status(&s, &id).await, "pending", "nothing was recorded");
    s.stop().await;
}

#[tokio::test]
async fn the_stand_in_is_served_only_by_a_dev_server_without_graph_credentials() {
    use shared::compose::{Parts, Service, Tenants};
    use shared::config::{Config, Secrets};
    use shared::queue::memory::MemoryQueue;
    use shared::store::memory::MemoryStore;
    use tower::ServiceExt;

    let clock: Arc<dyn shared::domain::time::Clock> = Arc::new(shared::domain::time::SystemClock);
    let service = |tenants| {
        Service::new(Parts {
            config: Config::default(),
            secrets: Secrets::random(),
            store: Arc::new(MemoryStore::new()),
            runs: Arc::new(MemoryQueue::new(clock.clone(), 60)),
            webhooks: Arc::new(MemoryQueue::new(clock.clone(), 60)),
            mail_queue: Arc::new(MemoryQueue::<shared::mail::MailJob>::new(clock.clone(), 60)),
            clock: clock.clone(),
            tenants,
            transport: None,
            billing: None,
            mailer: Arc::new(tests::mail::RecordingMailer::default()),
            pdf: None,
        })
    };
    let path = format!("/dev/consent/{TENANT}/v2.0/adminconsent?client_id=baref00t-dev-app");
    let status = |app| {
        let path = path.clone();
        async move {
            let req = Request::builder().uri(path).body(axum::body::Body::empty()).unwrap();
            functions::dev_server::router(app).oneshot(req).await.unwrap().status().as_u16()
        }
    };
    // Served (and refusing this incomplete request) with the demo tenants…
    assert_eq!(status(service(Tenants::Demo).app.clone()).await, 400);
    // …and not at all when the service reads real tenants through Microsoft.
    let graph = Tenants::Graph { client_id: "real-app".into(), client_secret: "s".into() };
    assert_eq!(status(service(graph).app.clone()).await, 404);
    // Never in the route table, so no Lambda function or template entry can serve it.
    assert!(shared::api::routes::ROUTES.iter().all(|r| !r.full_path().starts_with("/dev")));
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    assert!(!template.contains("/dev/"), "template.yaml has no /dev path");
}

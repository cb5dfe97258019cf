//! The dev server's stand-in for Microsoft's admin-consent endpoint (contract, "Tenant consent",
//! Development), so that the consent flow runs on a laptop and in a real browser.
//!
//! `GET {PUBLIC_BASE_URL}/dev/consent/{tenant}/v2.0/adminconsent?client_id=…&scope=…&redirect_uri=…&state=…`
//! shows the app, the tenant and the permissions (`shared::assess::permissions`, the list the
//! real app is registered with) with Grant and Decline buttons: a plain form POST to the same
//! path carrying the same four parameters as hidden fields, so it works with no script. The
//! POST checks them again and answers 303 to `redirect_uri` with the query Microsoft sends
//! (its "Admin consent on the Microsoft identity platform" page): on Grant
//! `admin_consent=True&tenant={tenant}&state={state}`, on Decline
//! `error=access_denied&error_description=AADSTS65004: User declined to consent to access the app.&state={state}`.
//!
//! Like Microsoft's endpoint it redirects only to the registered redirect URI, which here is
//! the server's own callback, `{PUBLIC_BASE_URL}/consent/callback`: any other `redirect_uri`,
//! another `client_id` or `scope`, a missing `state` or a tenant that is not a GUID answers a
//! 400 page and redirects nowhere (no open redirect).
//!
//! It lives in the dev server's router only (never in the route table, so no Lambda function
//! or template entry can serve it), and only while the service assesses the demo tenants: with
//! Graph app credentials consent is Microsoft's to grant.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::routing::get;
use axum::Router;
use http::{header, HeaderValue, Response, StatusCode, Uri};
use minijinja::Environment;
use serde::Serialize;

use shared::api::response::Reply;
use shared::api::App;
use shared::assess::permissions::{Permission, PERMISSIONS};
use shared::domain::tenant::TenantId;
use shared::pages::{self, Message, Tone};
use shared::usecases::consent::{DEV_CLIENT_ID, GRAPH_SCOPE};

/// Where the stand-in answers: the default `CONSENT_AUTHORITY` of the dev server
/// (`{PUBLIC_BASE_URL}/dev/consent`) followed by Microsoft's own path.
pub const PATH: &str = "/dev/consent/{tenant}/v2.0/adminconsent";

/// The refusal Microsoft redirects with when the administrator declines (AADSTS65004).
pub const DECLINED: &str = "AADSTS65004: User declined to consent to access the app.";

/// The longest `state` taken (ours are about 150 characters).
const MAX_STATE: usize = 2048;

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // The `.html` name turns on auto-escaping: every value below is escaped.
    env.add_template("dev_consent.html", include_str!("../templates/dev_consent.html"))
        .expect("dev_consent.html is a valid template");
    env
});

/// Whether `app` gets the stand-in: only when it assesses the demo tenants, i.e. its consent
/// links name the dev app (`shared::compose::Tenants::Demo`).
pub fn serves(app: &App) -> bool {
    app.consent.client_id == DEV_CLIENT_ID
}

/// The stand-in's routes, for the dev server's router.
pub fn routes(app: Arc<App>) -> Router {
    Router::new().route(PATH, get(page).post(decide)).layer(DefaultBodyLimit::max(16 * 1024)).with_state(app)
}

/// A consent request that passed every check.
struct Checked {
    tenant: TenantId,
    redirect_uri: String,
    state: String,
}

/// The one value of `name` in `fields`; a missing, empty or repeated one is refused.
fn one<'a>(fields: &'a HashMap<String, Vec<String>>, name: &str) -> Result<&'a str, String> {
    match fields.get(name).map(Vec::as_slice) {
        None | Some([]) => Err(format!("{name} is missing")),
        Some([v]) if v.is_empty() => Err(format!("{name} is empty")),
        Some([v]) => Ok(v),
        Some(_) => Err(format!("{name} is given more than once")),
    }
}

fn fields(encoded: &[u8]) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in form_urlencoded::parse(encoded) {
        map.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    map
}

/// What Microsoft's endpoint checks before it shows its page: the tenant, the app, the scope,
/// the redirect URI registered for the app (exactly) and, for us, a state to return.
fn check(app: &App, tenant: &str, fields: &HashMap<String, Vec<String>>) -> Result<Checked, String> {
    let tenant =
        TenantId::parse(tenant).map_err(|_| "the tenant in the address is not a tenant id (a GUID)".to_string())?;
    let client_id = one(fields, "client_id")?;
    if client_id != app.consent.client_id {
        return Err(format!("The client_id is not this server's application ({})", app.consent.client_id));
    }
    if one(fields, "scope")? != GRAPH_SCOPE {
        return Err(format!("scope must be {GRAPH_SCOPE} (the application permissions)"));
    }
    let expected = app.consent_links().redirect_uri();
    let redirect_uri = one(fields, "redirect_uri")?;
    if redirect_uri != expected {
        return Err(format!(
            "redirect_uri must be {expected}: this page only returns to this server's consent callback"
        ));
    }
    let state = one(fields, "state")?;
    if state.len() > MAX_STATE {
        return Err("state is too long".into());
    }
    Ok(Checked { tenant, redirect_uri: redirect_uri.to_string(), state: state.to_string() })
}

/// A page with the report page's security headers, never stored by the browser.
fn html(status: StatusCode, page: String) -> Response<Body> {
    let mut resp = Reply::html_with(status, page).into_response().map(Body::from);
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn refused(why: &str) -> Response<Body> {
    tracing::warn!(reason = why, "dev consent stand-in refused a request");
    let mut reason = why.to_string();
    if let Some(first) = reason.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    html(
        StatusCode::BAD_REQUEST,
        pages::message(&Message {
            title: "Consent request refused",
            heading: "This is not a valid consent request",
            paragraphs: vec![
                format!("{reason}."),
                "Nothing was granted and you were not sent anywhere. Ask your provider for a new consent link.".into(),
            ],
            footer: "baref00t development server: stand-in for Microsoft's consent page.",
            tone: Tone::No,
        }),
    )
}

#[derive(Serialize)]
struct PageView<'a> {
    action: String,
    client_id: &'a str,
    tenant: &'a str,
    scope: &'a str,
    redirect_uri: &'a str,
    state: &'a str,
    permissions: &'a [Permission],
}

/// `GET …/adminconsent`: the page, or 400.
async fn page(
    State(app): State<Arc<App>>,
    tenant: Result<Path<String>, axum::extract::rejection::PathRejection>,
    uri: Uri,
) -> Response<Body> {
    let Ok(Path(tenant)) = tenant else { return refused("the tenant in the address is not a tenant id (a GUID)") };
    let checked = match check(&app, &tenant, &fields(uri.query().unwrap_or_default().as_bytes())) {
        Ok(c) => c,
        Err(why) => return refused(&why),
    };
    let view = PageView {
        action: PATH.replace("{tenant}", checked.tenant.as_str()),
        client_id: &app.consent.client_id,
        tenant: checked.tenant.as_str(),
        scope: GRAPH_SCOPE,
        redirect_uri: &checked.redirect_uri,
        state: &checked.state,
        permissions: PERMISSIONS,
    };
    let page = TEMPLATES
        .get_template("dev_consent.html")
        .and_then(|t| t.render(&view))
        .expect("dev_consent.html renders any request (its values are plain strings)");
    html(StatusCode::OK, page)
}

/// `POST …/adminconsent` (the page's form): the same checks, then 303 to the callback with
/// Microsoft's answer for `decision` (`grant` or `decline`), or 400.
async fn decide(
    State(app): State<Arc<App>>,
    tenant: Result<Path<String>, axum::extract::rejection::PathRejection>,
    body: Bytes,
) -> Response<Body> {
    let Ok(Path(tenant)) = tenant else { return refused("the tenant in the address is not a tenant id (a GUID)") };
    let fields = fields(&body);
    let checked = match check(&app, &tenant, &fields) {
        Ok(c) => c,
        Err(why) => return refused(&why),
    };
    let mut query = form_urlencoded::Serializer::new(String::new());
    match one(&fields, "decision") {
        Ok("grant") => query
            .append_pair("admin_consent", "True")
            .append_pair("tenant", checked.tenant.as_str())
            .append_pair("state", &checked.state),
        Ok("decline") => query
            .append_pair("error", "access_denied")
            .append_pair("error_description", DECLINED)
            .append_pair("state", &checked.state),
        Ok(_) | Err(_) => return refused("decision must be grant or decline"),
    };
    let location = format!("{}?{}", checked.redirect_uri, query.finish());
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::SEE_OTHER;
    let h = resp.headers_mut();
    // Checked above to be the server's own callback, so this is never an open redirect.
    h.insert(header::LOCATION, HeaderValue::try_from(location).expect("a URL is a header value"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    resp
}

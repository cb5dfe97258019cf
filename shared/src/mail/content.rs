//! What each kind of mail says: its subject and its plain-text and HTML bodies, rendered from
//! the templates in `shared/templates/mail/` (compiled into the binary). minijinja escapes every
//! value in the `.html` templates (auto-escaping by the name), so a customer or partner name
//! cannot inject markup; the `.txt` templates are plain text and escape nothing.
//!
//! One kind so far, the consent request (contract, "Mail": `consent-request`). "Branded" means
//! the partner's company, as the sender's display name and in the text, until issue 10's
//! branding (colour, logo, footer, contact) lands in these same templates.

use std::sync::LazyLock;

use minijinja::Environment;

use crate::usecases::consent::STATE_LIFETIME_SECS;

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in [
        ("mail/consent-request.txt", include_str!("../../templates/mail/consent-request.txt")),
        ("mail/consent-request.html", include_str!("../../templates/mail/consent-request.html")),
    ] {
        env.add_template(name, source).unwrap_or_else(|e| panic!("{name} is a valid template: {e}"));
    }
    env
});

/// A rendered message: what [`super::message::Letter`] is made from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// What the consent request names.
#[derive(Clone, Debug)]
pub struct ConsentRequest<'a> {
    /// The partner's company: who asks.
    pub partner: &'a str,
    /// The customer's name, whose tenant it is.
    pub customer: &'a str,
    pub tenant_id: &'a str,
    /// The product's display name (`Essential Eight Assessment`), when the request named one.
    pub product: Option<&'a str>,
    /// The maturity target, when the request named one.
    pub maturity_target: Option<u8>,
    /// The admin-consent link, exactly as `GET …/consent` gives it.
    pub consent_url: &'a str,
}

/// The consent request's subject (naming the partner and, when given, the product) and bodies.
pub fn consent_request(r: &ConsentRequest<'_>) -> Rendered {
    let subject = match r.product {
        Some(product) => format!("{}: admin consent for the {product} of your Microsoft 365 tenant", r.partner),
        None => format!("{}: admin consent to assess your Microsoft 365 tenant", r.partner),
    };
    let ctx = minijinja::context! {
        partner => r.partner,
        customer => r.customer,
        tenant_id => r.tenant_id,
        product => r.product,
        maturity_target => r.maturity_target,
        consent_url => r.consent_url,
        subject => &subject,
        // How long the link is valid, in whole days.
        days => STATE_LIFETIME_SECS / 86_400,
    };
    let render = |name: &str| {
        TEMPLATES
            .get_template(name)
            .and_then(|t| t.render(&ctx))
            .unwrap_or_else(|e| panic!("{name} renders any ConsentRequest (its values are plain strings): {e}"))
    };
    Rendered { text: render("mail/consent-request.txt"), html: render("mail/consent-request.html"), subject }
}

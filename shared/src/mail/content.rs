//! What each kind of mail says: its subject and its plain-text and HTML bodies, rendered from
//! the templates in `shared/templates/mail/` through the one template set (`crate::templates`),
//! on the partner's brand (`mail/layout.html`: logo or company in the brand colour, footer,
//! contact). Every value in an `.html` template is escaped, so a customer or partner name
//! cannot inject markup; the `.txt` templates are plain text and escape nothing.
//!
//! The branding preview (`POST /branding/preview/{kind}`) calls these same functions, so what
//! it shows is what is sent.

use crate::domain::branding::Brand;
use crate::reports::LINK_LIFETIME_SECS;
use crate::templates;
use crate::usecases::consent::STATE_LIFETIME_SECS;

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

/// The consent request (kind `consent-request`): subject naming the partner's brand and, when
/// given, the product.
pub fn consent_request(brand: &Brand, r: &ConsentRequest<'_>) -> Rendered {
    let partner = &brand.company;
    let subject = match r.product {
        Some(product) => format!("{partner}: admin consent for the {product} of your Microsoft 365 tenant"),
        None => format!("{partner}: admin consent to assess your Microsoft 365 tenant"),
    };
    let ctx = minijinja::context! {
        brand,
        customer => r.customer,
        tenant_id => r.tenant_id,
        product => r.product,
        maturity_target => r.maturity_target,
        consent_url => r.consent_url,
        subject => &subject,
        // How long the link is valid, in whole days.
        days => STATE_LIFETIME_SECS / 86_400,
    };
    render("consent-request", subject, ctx)
}

/// What a questionnaire invitation names.
#[derive(Clone, Debug)]
pub struct QuestionnaireInvitation<'a> {
    pub customer: &'a str,
    /// The product's display name.
    pub product: &'a str,
    /// How many questions the form has.
    pub total: usize,
    /// The recipient's own signed form link.
    pub form_url: &'a str,
    pub recipient: &'a str,
}

/// The questionnaire invitation (kind `questionnaire-invitation`): one per recipient, each with
/// its own link (`usecases::questionnaire::invite`).
pub fn questionnaire_invitation(brand: &Brand, q: &QuestionnaireInvitation<'_>) -> Rendered {
    let subject = format!("{}: a security questionnaire for {}", brand.company, q.customer);
    let ctx = minijinja::context! {
        brand,
        customer => q.customer,
        product => q.product,
        total => q.total,
        form_url => q.form_url,
        recipient => q.recipient,
        subject => &subject,
        days => crate::usecases::questionnaire::LINK_LIFETIME_SECS / 86_400,
    };
    render("questionnaire-invitation", subject, ctx)
}

/// What the report-ready mail shows of a completed run.
#[derive(Clone, Debug)]
pub struct ReportReady<'a> {
    pub customer: &'a str,
    /// The product's display name.
    pub product: &'a str,
    /// 0–100.
    pub score: u8,
    /// Failed checks, and of them by severity.
    pub findings: u32,
    pub critical: u32,
    pub high: u32,
    pub medium: u32,
    pub low: u32,
    /// The overall maturity level reached (Essential Eight), if the product has one.
    pub maturity: Option<u8>,
    pub maturity_target: u8,
    /// The signed report link (30 days).
    pub report_url: &'a str,
}

/// The report-ready mail (kind `report-ready`), to each of the customer's `receivers`.
pub fn report_ready(brand: &Brand, r: &ReportReady<'_>) -> Rendered {
    let subject = format!("{}: {} of {} complete, score {}/100", brand.company, r.product, r.customer, r.score);
    let ctx = minijinja::context! {
        brand,
        customer => r.customer,
        product => r.product,
        score => r.score,
        findings => r.findings,
        critical => r.critical,
        high => r.high,
        medium => r.medium,
        low => r.low,
        maturity => r.maturity,
        maturity_target => r.maturity_target,
        report_url => r.report_url,
        subject => &subject,
        days => LINK_LIFETIME_SECS / 86_400,
    };
    render("report-ready", subject, ctx)
}

/// An account notice (kinds `partner-created`, `partner-activated`, `partner-suspended`,
/// `key-created`): a subject and a few paragraphs of plain sentences (escaped in the HTML part).
pub fn notice(brand: &Brand, subject: String, paragraphs: &[String]) -> Rendered {
    let ctx = minijinja::context! { brand, paragraphs, subject => &subject };
    render("notice", subject, ctx)
}

/// `mail/<kind>.txt` and `mail/<kind>.html` with `ctx`.
fn render(kind: &str, subject: String, ctx: minijinja::Value) -> Rendered {
    Rendered {
        text: templates::render(&format!("mail/{kind}.txt"), ctx.clone()),
        html: templates::render(&format!("mail/{kind}.html"), ctx),
        subject,
    }
}

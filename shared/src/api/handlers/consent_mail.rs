//! The consent email (contract, "Tenant consent"): `POST /customers/{id}/consent/email` and
//! the distributor's `POST /partners/{id}/customers/{customerId}/consent/email`.

use super::super::error::ApiError;
use super::super::request::Fields;
use super::super::response::Reply;
use super::super::{App, Ctx};
use crate::domain::account::Partner;
use crate::usecases::consent_mail::{self, Ask, ConsentMailPorts};
use crate::usecases::runs;
use crate::views;

/// Sends the customer's consent link to its `email`; 200 with what was sent, failed or
/// skipped (a provider's refusal is in the answer, not an error).
pub async fn send(app: &App, ctx: &Ctx, partner: &Partner, customer_id: &str) -> Result<Reply, ApiError> {
    let (product, maturity) = read_body(&ctx.body)?;
    let ask = match product {
        None => Ask::default(),
        Some(product) => {
            // The same rules as a trigger: a product of the catalogue, on the partner's plan, a
            // target within its range (only named in the email when asked for).
            let (product, target) = runs::choose_product(&app.config.catalog, partner, &product, maturity)?;
            Ask { product: Some(product), maturity_target: maturity.map(|_| target) }
        }
    };
    let ports = ConsentMailPorts {
        accounts: app.store.as_ref(),
        customers: app.store.as_ref(),
        outbox: app.store.as_ref(),
        ids: ctx.ids(app),
        links: app.consent_links(),
    };
    let outcome = consent_mail::send(ports, partner, customer_id, ask, ctx.now).await?;
    Ok(Reply::ok(views::consent_email(&outcome)))
}

/// The optional body `{product, maturityTarget}`: no body (or only white space) asks for
/// neither. `maturityTarget` may be a number or a string of digits (the partner portal sends a
/// form value) and needs `product`, whose range it is checked against.
fn read_body(body: &[u8]) -> Result<(Option<String>, Option<u64>), ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok((None, None));
    }
    let mut f = Fields::parse(body)?;
    let product = f.opt_str("product")?;
    let maturity = f.opt_uint_or_digits("maturityTarget")?;
    f.finish()?;
    if maturity.is_some() && product.is_none() {
        return Err(ApiError::MissingField(
            "product is required with maturityTarget (the target is checked against the product's range).".into(),
        ));
    }
    Ok((product, maturity))
}

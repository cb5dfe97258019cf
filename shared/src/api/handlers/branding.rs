//! Branding (contract, "Branding"): `GET /branding`, `PUT /branding` and
//! `POST /branding/preview/{kind}` on the partner surface.

use serde_json::{json, Value};

use super::super::error::ApiError;
use super::super::request::Fields;
use super::super::response::Reply;
use super::super::{App, Ctx};
use crate::domain::account::Partner;
use crate::domain::branding::{self, Brand, Branding, BrandingPatch, Field};
use crate::usecases::branding::{self as uc, PreviewKind};

/// 200 `{company, brandColor, logoUrl, footerText, contactEmail}`.
pub async fn get(app: &App, _ctx: &Ctx, partner: &Partner) -> Result<Reply, ApiError> {
    let stored = uc::get(app.store.as_ref(), partner).await?;
    Ok(Reply::ok(view(partner, &stored)))
}

/// 200 `{fields, branding}`: any subset of the five fields; `null` clears one.
pub async fn put(app: &App, ctx: &Ctx, partner: &Partner) -> Result<Reply, ApiError> {
    let mut f = Fields::parse(&ctx.body)?;
    let patch = read_patch(&mut f, false)?;
    f.finish()?;
    let (stored, fields) = uc::update(app.store.as_ref(), ctx.ids(app), partner, &patch, ctx.now).await?;
    Ok(Reply::ok(json!({ "fields": fields, "branding": view(partner, &stored) })))
}

/// 200 `text/html`: `kind` rendered with sample data on the saved branding overlaid by the
/// body's optional `{branding:{…}}` draft (checked as `PUT` checks it).
pub async fn preview(app: &App, ctx: &Ctx, partner: &Partner) -> Result<Reply, ApiError> {
    let kind = ctx.param("kind");
    // An unknown kind names no page: 404, as an unknown path would.
    let kind = PreviewKind::parse(kind).ok_or_else(|| {
        ApiError::NotFound(format!(
            "No preview of kind {}: the kinds are email-consent, email-report and report.",
            super::super::request::shown(kind)
        ))
    })?;
    let draft = if ctx.body.iter().all(u8::is_ascii_whitespace) {
        BrandingPatch::default()
    } else {
        let mut f = Fields::parse(&ctx.body)?;
        let draft = match f.opt_object("branding")? {
            Some(mut b) => {
                let patch = read_patch(&mut b, true)?;
                b.finish()?;
                patch
            }
            None => BrandingPatch::default(),
        };
        f.finish()?;
        draft
    };
    let stored = uc::get(app.store.as_ref(), partner).await?;
    let (shown, _) = stored.apply(&draft);
    let brand = Brand::of(&shown, &partner.company);
    // The sample run is of a product on the partner's plan (any product, if none is).
    let catalog = &app.config.catalog;
    let product = catalog
        .plan(&partner.plan)
        .and_then(|plan| catalog.products_on(plan).first().copied())
        .or_else(|| catalog.products.first())
        .ok_or_else(|| ApiError::Internal("the catalogue has no product".into()))?;
    Ok(Reply::branded_html(uc::preview(kind, &brand, product, &app.config.public_base_url, ctx.now)))
}

/// The branding as `GET` shows it: `company` is the partner's company when none is set.
fn view(partner: &Partner, b: &Branding) -> Value {
    json!({
        "company": b.company.as_deref().unwrap_or(&partner.company),
        "brandColor": b.brand_color,
        "logoUrl": b.logo_url,
        "footerText": b.footer_text,
        "contactEmail": b.contact_email,
    })
}

/// Reads the five fields (each optional; `null` clears). An empty string clears the four
/// optional fields too (the partner portal sends one for an emptied input); `company` must be
/// 1–200 characters. `portal_names`: also read the partner portal's draft names (`name` for
/// `company`, `primaryColor` for `brandColor`) and ignore its `theme` (portal chrome only).
fn read_patch(f: &mut Fields, portal_names: bool) -> Result<BrandingPatch, ApiError> {
    let read = |f: &mut Fields, field: Field, alias: Option<&str>| -> Result<Option<Option<String>>, ApiError> {
        let name = match alias {
            Some(a) if portal_names && f.has(a) && !f.has(field.name()) => a.to_string(),
            _ => field.name().to_string(),
        };
        if let Some(a) = alias.filter(|_| portal_names) {
            // Mark the alias read either way, so `finish` does not refuse it.
            if name != a {
                let _ = f.opt_str(a)?;
            }
        }
        if !f.has(&name) {
            return Ok(None);
        }
        if f.is_null(&name) {
            let _ = f.opt_str(&name)?;
            return Ok(Some(None));
        }
        let value = f.opt_str(&name)?.unwrap_or_default();
        if value.trim().is_empty() && field != Field::Company {
            return Ok(Some(None));
        }
        branding::check(field, &value)
            .map(|v| Some(Some(v)))
            .map_err(|why| ApiError::InvalidField(format!("{} {why}.", f.name(&name))))
    };
    let company = read(f, Field::Company, Some("name"))?;
    let brand_color = read(f, Field::BrandColor, Some("primaryColor"))?;
    let logo_url = read(f, Field::LogoUrl, None)?;
    let footer_text = read(f, Field::FooterText, None)?;
    let contact = read(f, Field::ContactEmail, None)?;
    if portal_names {
        let _ = f.opt_str("theme")?;
    }
    let contact_email =
        contact.map(|c| c.map(|v| crate::domain::email::Email::parse(&v).expect("check() accepted it as an email")));
    Ok(BrandingPatch { company, brand_color, logo_url, footer_text, contact_email })
}

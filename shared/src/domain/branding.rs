//! A partner's branding (contract, "Branding"): what its customers see on emails and the
//! report page. Stored per partner; every field optional (unset: the partner's company, and no
//! colour, logo, footer or contact).

use serde::{Deserialize, Serialize};

use super::email::Email;

/// `company`: 1–200 characters (contract).
pub const COMPANY_MAX: usize = 200;
/// `logoUrl`: at most 2048 characters (contract).
pub const LOGO_URL_MAX: usize = 2048;
/// `footerText`: at most 500 characters (contract).
pub const FOOTER_MAX: usize = 500;
/// The colour used where a partner set none (the report's and emails' own accent).
pub const DEFAULT_COLOR: &str = "#1d2430";

/// The stored branding of one partner. `version` counts writes (0: never written), so a
/// change computed from an older read is refused and recomputed (no lost update).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branding {
    /// Shown instead of the partner's company when set.
    #[serde(default)]
    pub company: Option<String>,
    /// `#RRGGBB`.
    #[serde(default)]
    pub brand_color: Option<String>,
    /// `https://…`, shown as an image link (never fetched by the server).
    #[serde(default)]
    pub logo_url: Option<String>,
    #[serde(default)]
    pub footer_text: Option<String>,
    /// The mails' `Reply-To`.
    #[serde(default)]
    pub contact_email: Option<Email>,
    #[serde(default)]
    pub version: u64,
}

/// One of the five fields, for messages and for counting changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Company,
    BrandColor,
    LogoUrl,
    FooterText,
    ContactEmail,
}

impl Field {
    pub const ALL: [Field; 5] = [Self::Company, Self::BrandColor, Self::LogoUrl, Self::FooterText, Self::ContactEmail];

    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Company => "company",
            Self::BrandColor => "brandColor",
            Self::LogoUrl => "logoUrl",
            Self::FooterText => "footerText",
            Self::ContactEmail => "contactEmail",
        }
    }
}

/// A change of some fields: `Some(None)` clears a field, `Some(Some(v))` sets it, `None`
/// leaves it. Values are already validated ([`check`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BrandingPatch {
    pub company: Option<Option<String>>,
    pub brand_color: Option<Option<String>>,
    pub logo_url: Option<Option<String>>,
    pub footer_text: Option<Option<String>>,
    pub contact_email: Option<Option<Email>>,
}

impl Branding {
    /// `self` with `patch` applied, and how many fields it changed (a field set to the value it
    /// has does not count: the contract's `fields`).
    pub fn apply(&self, patch: &BrandingPatch) -> (Branding, usize) {
        fn set<T: Clone + PartialEq>(field: &mut Option<T>, to: &Option<Option<T>>, changed: &mut usize) {
            if let Some(to) = to {
                if field != to {
                    *field = to.clone();
                    *changed += 1;
                }
            }
        }
        let mut next = self.clone();
        let mut changed = 0;
        set(&mut next.company, &patch.company, &mut changed);
        set(&mut next.brand_color, &patch.brand_color, &mut changed);
        set(&mut next.logo_url, &patch.logo_url, &mut changed);
        set(&mut next.footer_text, &patch.footer_text, &mut changed);
        set(&mut next.contact_email, &patch.contact_email, &mut changed);
        (next, changed)
    }
}

/// Checks one field's value against the contract's rule, answering the reason when it breaks
/// it: `company` 1–200 characters (trimmed), `brandColor` `#RRGGBB`, `logoUrl` an `https://`
/// URL of at most 2048 characters, `footerText` at most 500 characters, `contactEmail` an
/// email address. The value returned is what is stored (trimmed).
pub fn check(field: Field, value: &str) -> Result<String, String> {
    let v = value.trim();
    match field {
        Field::Company => {
            let n = v.chars().count();
            if n == 0 || n > COMPANY_MAX {
                return Err(format!("must be 1 to {COMPANY_MAX} characters"));
            }
        }
        Field::BrandColor => {
            let ok = v.len() == 7 && v.starts_with('#') && v[1..].bytes().all(|b| b.is_ascii_hexdigit());
            if !ok {
                return Err("must be a colour written #RRGGBB".into());
            }
        }
        Field::LogoUrl => {
            if v.chars().count() > LOGO_URL_MAX {
                return Err(format!("must be at most {LOGO_URL_MAX} characters"));
            }
            let parsed = url::Url::parse(v).map_err(|_| "must be an https:// URL".to_string())?;
            if parsed.scheme() != "https" || parsed.host_str().is_none_or(str::is_empty) {
                return Err("must be an https:// URL".into());
            }
        }
        Field::FooterText => {
            if value.chars().count() > FOOTER_MAX {
                return Err(format!("must be at most {FOOTER_MAX} characters"));
            }
            // The footer keeps its inner spacing; only the ends are trimmed.
        }
        Field::ContactEmail => {
            Email::parse(v).map_err(|_| "must be an email address".to_string())?;
        }
    }
    Ok(v.to_string())
}

/// The branding as pages and mails use it: every field resolved (the partner's company where
/// none is set, the default colour).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Brand {
    pub company: String,
    pub color: String,
    pub logo_url: Option<String>,
    pub footer_text: Option<String>,
    pub contact_email: Option<Email>,
}

impl Brand {
    /// `branding` resolved for a partner whose company is `company`.
    pub fn of(branding: &Branding, company: &str) -> Self {
        Self {
            company: branding.company.clone().unwrap_or_else(|| company.to_string()),
            color: branding.brand_color.clone().unwrap_or_else(|| DEFAULT_COLOR.to_string()),
            logo_url: branding.logo_url.clone(),
            footer_text: branding.footer_text.clone(),
            contact_email: branding.contact_email.clone(),
        }
    }
}

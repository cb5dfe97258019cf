//! Field rules shared by every route. The rules of values with a type of their own live with
//! the type ([`TenantId`], [`Email`]); these forms remain for callers that only ask.

use super::tenant::TenantId;

pub use super::email::is_email;

/// A Microsoft 365 tenant id: a GUID, 8-4-4-4-12 hex digits, optionally in braces.
pub fn normalize_guid(s: &str) -> Option<String> {
    TenantId::parse(s).ok().map(TenantId::into_string)
}

pub const NAME_MAX: usize = 200;
pub const EMAIL_LIST_MAX: usize = 50;

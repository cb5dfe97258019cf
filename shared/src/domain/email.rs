//! Email addresses.

use super::parsed::parsed_string;

/// An email address that passed a practical check: at most 254 bytes, no white space or
/// control characters, one non-empty local part of at most 64 bytes before the last `@`, a
/// domain of at least two dot-separated labels (1–63 letters, digits or inner hyphens).
///
/// It keeps the case it was given: customer `email` and `receivers` are shown as the client
/// sent them. Where an address must be unique (a partner under its distributor, the
/// distributor's own), [`Email::lowercased`] gives the one spelling that is stored and compared.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not an email address: {0}")]
pub struct NotAnEmail(pub String);

impl Email {
    /// Parses an address as given: surrounding white space is not trimmed here (and fails).
    pub fn parse(s: &str) -> Result<Self, NotAnEmail> {
        if is_email(s) {
            Ok(Self(s.to_string()))
        } else {
            Err(NotAnEmail(s.to_string()))
        }
    }

    /// The same address lower-cased (Unicode-aware, as `str::to_lowercase`): the form a
    /// partner's or distributor's email is stored in, and the one uniqueness is checked on.
    /// The result is not re-checked, as it never was: lower-casing keeps the shape.
    pub fn lowercased(&self) -> Self {
        Self(self.0.to_lowercase())
    }

    /// Whether two addresses are the same but for ASCII case.
    pub fn eq_ignore_ascii_case(&self, other: &Email) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

parsed_string!(Email, NotAnEmail);

/// The rule [`Email::parse`] applies.
pub fn is_email(s: &str) -> bool {
    if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    if local.is_empty() || local.len() > 64 || local.contains('@') {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

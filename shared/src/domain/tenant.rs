//! A Microsoft 365 tenant id.

use super::parsed::parsed_string;

/// A tenant id: a GUID, 8-4-4-4-12 hex digits, accepted with or without braces and in any
/// case, kept without braces and lower-cased (so one tenant has one spelling: it is unique
/// per partner). Serialised as that string; reading one re-applies the rule.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a GUID: {0:?}")]
pub struct NotAGuid(pub String);

impl TenantId {
    /// Parses a GUID as given: surrounding white space is not trimmed here.
    pub fn parse(s: &str) -> Result<Self, NotAGuid> {
        let inner = s.strip_prefix('{').and_then(|t| t.strip_suffix('}')).unwrap_or(s);
        let groups: Vec<&str> = inner.split('-').collect();
        let ok = groups.len() == 5
            && groups
                .iter()
                .zip([8, 4, 4, 4, 12])
                .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
        if ok {
            Ok(Self(inner.to_ascii_lowercase()))
        } else {
            Err(NotAGuid(s.to_string()))
        }
    }
}

parsed_string!(TenantId, NotAGuid);

//! Field rules shared by every route.

/// A Microsoft 365 tenant id: a GUID, 8-4-4-4-12 hex digits, optionally in braces.
pub fn normalize_guid(s: &str) -> Option<String> {
    let inner = s.strip_prefix('{').and_then(|t| t.strip_suffix('}')).unwrap_or(s);
    let groups: Vec<&str> = inner.split('-').collect();
    let ok = groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
    ok.then(|| inner.to_ascii_lowercase())
}

/// A practical email check: one `@`, a non-empty local part, a dotted domain of sane labels.
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

pub const NAME_MAX: usize = 200;
pub const EMAIL_LIST_MAX: usize = 50;

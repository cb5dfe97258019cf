//! API keys as presented by a client or issued to one.

use super::account::Surface;
use super::ids::random_base62;

/// Random characters after the prefix of an issued key (62^40 ≈ 2^238).
pub const KEY_RANDOM_LEN: usize = 40;
/// How many base62 characters a presented (or fixed) key may carry after its prefix.
pub const KEY_MIN_RANDOM: usize = 32;
pub const KEY_MAX_RANDOM: usize = 128;

/// A secret API key of one surface: its prefix (`pk_live_` or `dk_live_`) then 32 to 128
/// ASCII letters and digits. `Debug` shows only the prefix; there is no `Display` and no
/// serde, so the secret reaches text only through an explicit [`ApiKey::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    surface: Surface,
    key: String,
}

/// Why a text is not a key of the surface; each caller words its own answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a {surface:?} key: {} followed by {KEY_MIN_RANDOM} to {KEY_MAX_RANDOM} letters and digits expected", surface.key_prefix())]
pub struct MalformedKey {
    pub surface: Surface,
}

impl ApiKey {
    /// Parses a key of `surface` exactly as given (no trimming).
    pub fn parse(surface: Surface, s: &str) -> Result<Self, MalformedKey> {
        let ok = s.strip_prefix(surface.key_prefix()).is_some_and(|rest| {
            (KEY_MIN_RANDOM..=KEY_MAX_RANDOM).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_alphanumeric())
        });
        if ok {
            Ok(Self { surface, key: s.to_string() })
        } else {
            Err(MalformedKey { surface })
        }
    }

    /// A new key of `surface` from the operating system's CSPRNG.
    pub fn generate(surface: Surface) -> Self {
        Self { surface, key: format!("{}{}", surface.key_prefix(), random_base62(KEY_RANDOM_LEN)) }
    }

    pub fn surface(&self) -> Surface {
        self.surface
    }

    /// The secret itself: for hashing, and for showing it once when it is issued.
    pub fn expose(&self) -> &str {
        &self.key
    }

    pub fn into_string(self) -> String {
        self.key
    }
}

/// Read access as text (length, prefix) for callers that treat a key as a string; it is not
/// `Display`, so it cannot slip into a log line through `{}`.
impl std::ops::Deref for ApiKey {
    type Target = str;
    fn deref(&self) -> &str {
        &self.key
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKey({}…)", self.surface.key_prefix())
    }
}

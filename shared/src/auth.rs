//! API keys: their format, how they are hashed, and resolving a key to an account.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::domain::account::{AccountStatus, Distributor, Owner, Partner, Surface};
use crate::domain::api_key::ApiKey;
use crate::store::{AccountKeyStore, Got, StoreError, Want};

pub use crate::domain::api_key::KEY_RANDOM_LEN;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing {} header", .0.header_display())]
    MissingKey(Surface),
    #[error("invalid key")]
    InvalidKey(Surface),
    #[error("account inactive")]
    Inactive(Surface),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new key for an account of `surface`, from the operating system's CSPRNG.
pub fn generate_key(surface: Surface) -> ApiKey {
    ApiKey::generate(surface)
}

/// The keyed hash a key is stored under (hex of HMAC-SHA256).
pub fn hash_key(secret: &[u8], key: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(key.as_bytes());
    hex(&mac.finalize().into_bytes())
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes.iter().flat_map(|b| [DIGITS[(b >> 4) as usize] as char, DIGITS[(b & 15) as usize] as char]).collect()
}

/// Who a request acts as.
#[derive(Clone, Debug)]
pub enum Principal {
    Partner { partner: Box<Partner>, key_hash: String, key_slot: u8 },
    Distributor { distributor: Box<Distributor>, key_hash: String, key_slot: u8 },
}

impl Principal {
    pub fn owner(&self) -> Owner {
        match self {
            Self::Partner { partner, .. } => Owner::partner(&partner.id),
            Self::Distributor { distributor, .. } => Owner::distributor(&distributor.id),
        }
    }
    /// The key's slot (1 or 2).
    pub fn key_slot(&self) -> u8 {
        match self {
            Self::Partner { key_slot, .. } | Self::Distributor { key_slot, .. } => *key_slot,
        }
    }
    /// Who this request acts as in the audit log: the key of its account.
    pub fn actor(&self) -> crate::domain::audit::Actor {
        crate::domain::audit::Actor::key(&self.owner(), self.key_slot())
    }
    pub fn key_hash(&self) -> &str {
        match self {
            Self::Partner { key_hash, .. } | Self::Distributor { key_hash, .. } => key_hash,
        }
    }
}

/// Resolves the key presented for `surface` (`None` when the header is absent) to an active
/// account. Unknown, revoked and malformed keys are indistinguishable to the caller.
pub async fn authenticate(
    store: &dyn AccountKeyStore,
    secret: &[u8],
    surface: Surface,
    presented: Option<&str>,
) -> Result<Principal, AuthError> {
    let presented = presented.ok_or(AuthError::MissingKey(surface))?.trim();
    let key = ApiKey::parse(surface, presented).map_err(|_| AuthError::InvalidKey(surface))?;
    let hash = hash_key(secret, key.expose());
    let record = store.key_by_hash(&hash).await?.ok_or(AuthError::InvalidKey(surface))?;
    // The lookup is by hash already; the constant-time check guards against an adapter that
    // ever matched loosely (prefix or case-insensitive lookups).
    let same = record.hash.as_bytes().ct_eq(hash.as_bytes());
    if !bool::from(same) || record.owner.surface != surface {
        return Err(AuthError::InvalidKey(surface));
    }
    match surface {
        Surface::Partner => {
            let partner = store.partner(&record.owner.id).await?.ok_or(AuthError::InvalidKey(surface))?;
            if partner.status != AccountStatus::Active {
                return Err(AuthError::Inactive(surface));
            }
            Ok(Principal::Partner { partner: Box::new(partner), key_hash: hash, key_slot: record.slot })
        }
        Surface::Distributor => {
            let distributor = store.distributor(&record.owner.id).await?.ok_or(AuthError::InvalidKey(surface))?;
            if distributor.status != AccountStatus::Active {
                return Err(AuthError::Inactive(surface));
            }
            Ok(Principal::Distributor { distributor: Box::new(distributor), key_hash: hash, key_slot: record.slot })
        }
    }
}

/// What [`authenticate_counted`] found: who the request acts as, the request's count in its
/// rate-limit window, and the other items the route asked for, in the order asked.
#[derive(Debug)]
pub struct Authenticated {
    pub principal: Principal,
    pub hits: u64,
    pub also: Vec<(Want, Got)>,
}

/// [`authenticate`] for the request pipeline, in two store calls (issue 16): the key is
/// resolved and the request counted in rate-limit window `window` in one write
/// (`KeyStore::key_hit`), then the account is read together with what `also` names for that
/// account's id (the items the route reads: its run, a sub-partner, …). Errors as
/// [`authenticate`]; an inactive account's request is counted too.
pub async fn authenticate_counted(
    store: &dyn AccountKeyStore,
    secret: &[u8],
    surface: Surface,
    presented: Option<&str>,
    window: i64,
    also: &(dyn Fn(&str) -> Vec<Want> + Send + Sync),
) -> Result<Authenticated, AuthError> {
    let presented = presented.ok_or(AuthError::MissingKey(surface))?.trim();
    let key = ApiKey::parse(surface, presented).map_err(|_| AuthError::InvalidKey(surface))?;
    let hash = hash_key(secret, key.expose());
    let (record, hits) = store.key_hit(&hash, window).await?.ok_or(AuthError::InvalidKey(surface))?;
    // As in `authenticate`: a guard against an adapter that ever matched loosely.
    let same = record.hash.as_bytes().ct_eq(hash.as_bytes());
    if !bool::from(same) || record.owner.surface != surface {
        return Err(AuthError::InvalidKey(surface));
    }
    let id = record.owner.id.as_str();
    let mut wants = vec![match surface {
        Surface::Partner => Want::Partner(id.to_string()),
        Surface::Distributor => Want::Distributor(id.to_string()),
    }];
    wants.extend(also(id));
    let mut got = store.read_together(&wants).await?.into_iter();
    let principal = match got.next() {
        Some(Got::Partner(Some(partner))) if partner.status == AccountStatus::Active => {
            Principal::Partner { partner: Box::new(partner), key_hash: hash, key_slot: record.slot }
        }
        Some(Got::Distributor(Some(distributor))) if distributor.status == AccountStatus::Active => {
            Principal::Distributor { distributor: Box::new(distributor), key_hash: hash, key_slot: record.slot }
        }
        Some(Got::Partner(Some(_)) | Got::Distributor(Some(_))) => return Err(AuthError::Inactive(surface)),
        _ => return Err(AuthError::InvalidKey(surface)),
    };
    Ok(Authenticated { principal, hits, also: wants.into_iter().skip(1).zip(got).collect() })
}

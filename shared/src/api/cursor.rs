//! List cursors: the store's position, signed and bound to the caller, the route and the
//! filters, so a cursor cannot be forged, altered, or replayed against another list.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::error::ApiError;

fn mac(secret: &[u8], binding: &str, position: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(binding.as_bytes());
    m.update(&[0]);
    m.update(position.as_bytes());
    m.finalize().into_bytes()[..16].to_vec()
}

pub fn encode(secret: &[u8], binding: &str, position: &str) -> String {
    format!("{}.{}", B64.encode(position), B64.encode(mac(secret, binding, position)))
}

pub fn decode(secret: &[u8], binding: &str, cursor: &str) -> Result<String, ApiError> {
    let bad = || ApiError::InvalidField("cursor is not valid for this list; start again without it.".into());
    let (pos, sig) = cursor.split_once('.').ok_or_else(bad)?;
    let position = String::from_utf8(B64.decode(pos).map_err(|_| bad())?).map_err(|_| bad())?;
    let sig = B64.decode(sig).map_err(|_| bad())?;
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(binding.as_bytes());
    m.update(&[0]);
    m.update(position.as_bytes());
    m.verify_truncated_left(&sig).map_err(|_| bad())?;
    if sig.len() != 16 {
        return Err(bad());
    }
    Ok(position)
}

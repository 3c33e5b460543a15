//! Short-lived tokens for traffic between the control plane and data-plane nodes.
//!
//! Every node and the control plane share the cluster secret. A token is
//! `<unix seconds>.<hex HMAC-SHA256(secret, "weir-internal:" + seconds)>`, sent in the
//! [`INTERNAL_HEADER`] header and accepted for [`INTERNAL_TOKEN_TTL`] either side of the
//! receiver's clock, so a captured token is useless within minutes and no token is ever
//! stored.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Header carrying the token.
pub const INTERNAL_HEADER: &str = "x-weir-internal-auth";
/// How far a token's time may be from the receiver's clock.
pub const INTERNAL_TOKEN_TTL: Duration = Duration::from_secs(120);

fn mac(secret: &[u8], seconds: u64) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(format!("weir-internal:{seconds}").as_bytes());
    mac
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A token for a request sent now.
pub fn internal_token(secret: &[u8], now: SystemTime) -> String {
    let seconds = unix(now);
    let tag = mac(secret, seconds).finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("{seconds}.{hex}")
}

/// Whether `token` was made with `secret` within the allowed window of `now`.
pub fn verify_internal_token(secret: &[u8], token: &str, now: SystemTime) -> bool {
    let Some((seconds, hex)) = token.split_once('.') else {
        return false;
    };
    let Ok(seconds) = seconds.parse::<u64>() else {
        return false;
    };
    if unix(now).abs_diff(seconds) > INTERNAL_TOKEN_TTL.as_secs() || hex.len() != 64 {
        return false;
    }
    let bytes: Option<Vec<u8>> = (0..32)
        .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    match bytes {
        Some(tag) => mac(secret, seconds).verify_slice(&tag).is_ok(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_with_the_secret_and_within_the_window() {
        let now = SystemTime::now();
        let token = internal_token(b"s3cret", now);
        assert!(verify_internal_token(b"s3cret", &token, now));
        assert!(verify_internal_token(
            b"s3cret",
            &token,
            now + Duration::from_secs(60)
        ));
        assert!(!verify_internal_token(b"other", &token, now));
        assert!(!verify_internal_token(
            b"s3cret",
            &token,
            now + Duration::from_secs(600)
        ));
        let mut forged = token.clone();
        forged.pop();
        forged.push(if token.ends_with('0') { '1' } else { '0' });
        assert!(!verify_internal_token(b"s3cret", &forged, now));
        assert!(!verify_internal_token(b"s3cret", "garbage", now));
        assert!(!verify_internal_token(b"s3cret", "", now));
    }
}

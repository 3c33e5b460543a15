//! Bearer tokens for the control plane: Weir's own Ed25519 JWTs, and optionally tokens
//! from an external OIDC provider.
//!
//! Weir signs with Ed25519 so that nodes can verify with public keys only
//! ([`TokenVerifier`] is serialisable without secrets). Every key has a `kid`; a token
//! is checked against exactly the algorithm of the key its `kid` names, which shuts out
//! `alg: none` and HS256-with-the-public-key confusion before any crypto runs.
//!
//! Time is always passed in (`now`) rather than read from the clock, so expiry and key
//! retirement are testable and consistent with the caller's notion of time.

use std::collections::HashSet;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::secrets::MasterKey;
use crate::AuthError;

/// The audience of every token Weir issues.
pub const AUDIENCE: &str = "weir";
/// Tolerated clock difference between issuer and verifier.
pub const LEEWAY: Duration = Duration::from_secs(60);
/// Associated data for a sealed key ring, so it cannot be passed off as another secret.
const KEYRING_CONTEXT: &[u8] = b"weir-jwt-keyring";

/// Why a bearer token was refused. Each case has its own message so clients and logs
/// say what to fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// No token was presented.
    #[error("no bearer token was presented")]
    Missing,
    /// The token is not a well-formed JWT.
    #[error("the token is malformed: {0}")]
    Malformed(String),
    /// `exp` has passed.
    #[error("the token has expired")]
    Expired,
    /// `nbf` is still in the future.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// The signature does not verify.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// `aud` is not this service.
    #[error("the token was issued for a different audience")]
    WrongAudience,
    /// `iss` is not the expected issuer.
    #[error("the token was issued by an unexpected issuer")]
    WrongIssuer,
    /// No key with the token's `kid`.
    #[error("the token was signed with an unknown key (kid {0:?})")]
    UnknownKid(String),
    /// The key with the token's `kid` has been retired.
    #[error("the token was signed with a retired key (kid {0:?})")]
    RetiredKey(String),
    /// The token's `alg` is not the algorithm of the key it names (or is `none`).
    #[error("the token's algorithm {0:?} is not allowed for its key")]
    AlgorithmNotAllowed(String),
    /// A required claim is absent or has the wrong type.
    #[error("the token lacks a valid {0:?} claim")]
    MissingClaim(String),
    /// Key material (a JWKS, a stored key) is unusable.
    #[error("invalid key material: {0}")]
    InvalidKey(String),
}

/// Extracts the token from an `Authorization: Bearer <token>` header value.
pub fn bearer_token(authorization: Option<&str>) -> Result<&str, JwtError> {
    let value = authorization.ok_or(JwtError::Missing)?.trim();
    let (scheme, token) = value.split_once(' ').ok_or(JwtError::Missing)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(JwtError::Missing);
    }
    Ok(token)
}

/// The claims of a Weir token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The principal id.
    pub sub: String,
    /// Who issued the token.
    pub iss: String,
    /// Always [`AUDIENCE`].
    pub aud: String,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Not before, Unix seconds.
    pub nbf: u64,
    /// Expires at, Unix seconds.
    pub exp: u64,
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The `alg` and `kid` from a token's header, read without trusting anything else.
struct RawHeader {
    alg: String,
    kid: Option<String>,
}

fn read_header(token: &str) -> Result<RawHeader, JwtError> {
    if token.is_empty() {
        return Err(JwtError::Missing);
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [header, _, _] = parts[..] else {
        return Err(JwtError::Malformed(
            "expected three dot-separated parts".to_owned(),
        ));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| JwtError::Malformed("header is not base64url".to_owned()))?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|_| JwtError::Malformed("header is not JSON".to_owned()))?;
    let alg = value
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(|| JwtError::Malformed("header has no alg".to_owned()))?
        .to_owned();
    let kid = value.get("kid").and_then(Value::as_str).map(str::to_owned);
    Ok(RawHeader { alg, kid })
}

/// Verifies signature, `aud` and `iss` with jsonwebtoken, then `exp`/`nbf` against `now`.
fn decode_checked(
    token: &str,
    key: &DecodingKey,
    alg: Algorithm,
    issuer: &str,
    audience: &str,
    now: SystemTime,
) -> Result<Map<String, Value>, JwtError> {
    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.required_spec_claims = HashSet::new();
    validation.set_required_spec_claims(&["exp", "aud", "iss"]);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[issuer]);
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation)
        .map_err(|e| map_jwt_error(e.kind()))?;
    let claims = data.claims;
    let now = unix(now);
    let leeway = LEEWAY.as_secs();
    let exp = claims
        .get("exp")
        .and_then(Value::as_u64)
        .ok_or_else(|| JwtError::MissingClaim("exp".to_owned()))?;
    if now > exp.saturating_add(leeway) {
        return Err(JwtError::Expired);
    }
    if let Some(nbf) = claims.get("nbf") {
        let nbf = nbf
            .as_u64()
            .ok_or_else(|| JwtError::MissingClaim("nbf".to_owned()))?;
        if now.saturating_add(leeway) < nbf {
            return Err(JwtError::NotYetValid);
        }
    }
    Ok(claims)
}

fn map_jwt_error(kind: &ErrorKind) -> JwtError {
    match kind {
        ErrorKind::InvalidSignature => JwtError::BadSignature,
        ErrorKind::InvalidAudience => JwtError::WrongAudience,
        ErrorKind::InvalidIssuer => JwtError::WrongIssuer,
        ErrorKind::ExpiredSignature => JwtError::Expired,
        ErrorKind::ImmatureSignature => JwtError::NotYetValid,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            JwtError::AlgorithmNotAllowed("mismatch".to_owned())
        }
        ErrorKind::MissingRequiredClaim(c) | ErrorKind::InvalidClaimFormat(c) => {
            JwtError::MissingClaim(c.clone())
        }
        ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat => JwtError::InvalidKey(format!("{kind:?}")),
        other => JwtError::Malformed(format!("{other:?}")),
    }
}

/// One Ed25519 public key that verifies Weir tokens.
#[derive(Clone, Serialize, Deserialize)]
struct PublicKey {
    kid: String,
    /// Raw 32-byte Ed25519 public key, base64.
    #[serde(with = "b64_32")]
    public: [u8; 32],
    /// After this (Unix seconds) tokens signed by the key are refused.
    retire_at: Option<u64>,
}

/// Verifies Weir tokens with public keys only; safe to ship to every node.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenVerifier {
    issuer: String,
    audience: String,
    keys: Vec<PublicKey>,
}

impl TokenVerifier {
    /// Checks `token` at time `now` and returns its claims.
    pub fn verify(&self, token: &str, now: SystemTime) -> Result<Claims, JwtError> {
        let header = read_header(token)?;
        let kid = header
            .kid
            .ok_or_else(|| JwtError::UnknownKid(String::new()))?;
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| JwtError::UnknownKid(kid.clone()))?;
        if key.retire_at.is_some_and(|t| unix(now) >= t) {
            return Err(JwtError::RetiredKey(kid));
        }
        if header.alg != "EdDSA" {
            return Err(JwtError::AlgorithmNotAllowed(header.alg));
        }
        let decoding = DecodingKey::from_ed_der(&key.public);
        let claims = decode_checked(
            token,
            &decoding,
            Algorithm::EdDSA,
            &self.issuer,
            &self.audience,
            now,
        )?;
        let claims: Claims = serde_json::from_value(Value::Object(claims))
            .map_err(|e| JwtError::MissingClaim(e.to_string()))?;
        Ok(claims)
    }

    /// The key ids this verifier accepts.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.kid.as_str())
    }
}

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("issuer", &self.issuer)
            .field("kids", &self.kids().collect::<Vec<_>>())
            .finish()
    }
}

/// One Ed25519 signing key.
#[derive(Clone, Serialize, Deserialize)]
struct SigningKey {
    kid: String,
    /// The 32-byte seed, base64. Only ever persisted sealed under the master key.
    #[serde(with = "b64_32")]
    seed: [u8; 32],
    created_at: u64,
    retire_at: Option<u64>,
}

impl Drop for SigningKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.seed);
    }
}

impl SigningKey {
    fn generate(now: u64) -> Self {
        let mut seed = [0u8; 32];
        OsRng.fill_bytes(&mut seed);
        let mut kid = [0u8; 9];
        OsRng.fill_bytes(&mut kid);
        Self {
            kid: URL_SAFE_NO_PAD.encode(kid),
            seed,
            created_at: now,
            retire_at: None,
        }
    }

    fn public(&self) -> [u8; 32] {
        ed25519_dalek::SigningKey::from_bytes(&self.seed)
            .verifying_key()
            .to_bytes()
    }

    fn encoding_key(&self) -> Result<EncodingKey, JwtError> {
        let der = ed25519_dalek::SigningKey::from_bytes(&self.seed)
            .to_pkcs8_der()
            .map_err(|e| JwtError::InvalidKey(e.to_string()))?;
        Ok(EncodingKey::from_ed_der(der.as_bytes()))
    }
}

/// Weir's signing keys: the newest signs, older ones verify until their tokens can no
/// longer be valid.
#[derive(Clone, Serialize, Deserialize)]
pub struct KeyRing {
    issuer: String,
    token_lifetime_secs: u64,
    /// Oldest first; the last one is current.
    keys: Vec<SigningKey>,
}

impl KeyRing {
    /// A ring with one fresh key, issuing tokens valid for `token_lifetime`.
    pub fn generate(issuer: impl Into<String>, token_lifetime: Duration, now: SystemTime) -> Self {
        Self {
            issuer: issuer.into(),
            token_lifetime_secs: token_lifetime.as_secs().max(1),
            keys: vec![SigningKey::generate(unix(now))],
        }
    }

    /// The `kid` new tokens are signed with.
    pub fn current_kid(&self) -> &str {
        self.keys.last().map_or("", |k| k.kid.as_str())
    }

    /// Adds a new current key. The previous ones keep verifying until one token lifetime
    /// from now (the longest any token they signed can still be valid), then retire.
    /// Returns the new `kid`.
    pub fn rotate(&mut self, now: SystemTime) -> &str {
        let now = unix(now);
        let retire_at = now
            .saturating_add(self.token_lifetime_secs)
            .saturating_add(LEEWAY.as_secs());
        for key in &mut self.keys {
            key.retire_at.get_or_insert(retire_at);
        }
        self.keys.push(SigningKey::generate(now));
        self.current_kid()
    }

    /// Drops retired keys; returns how many were dropped.
    pub fn prune(&mut self, now: SystemTime) -> usize {
        let now = unix(now);
        let before = self.keys.len();
        self.keys.retain(|k| k.retire_at.is_none_or(|t| now < t));
        before - self.keys.len()
    }

    /// Issues a token for `principal`, valid from `now` for the ring's token lifetime.
    pub fn issue(&self, principal: &str, now: SystemTime) -> Result<String, JwtError> {
        let key = self
            .keys
            .last()
            .ok_or_else(|| JwtError::InvalidKey("the key ring is empty".to_owned()))?;
        let now = unix(now);
        let claims = Claims {
            sub: principal.to_owned(),
            iss: self.issuer.clone(),
            aud: AUDIENCE.to_owned(),
            iat: now,
            nbf: now,
            exp: now.saturating_add(self.token_lifetime_secs),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, &claims, &key.encoding_key()?)
            .map_err(|e| JwtError::InvalidKey(e.to_string()))
    }

    /// The public half, for verifying on nodes that must not be able to sign.
    pub fn verifier(&self) -> TokenVerifier {
        TokenVerifier {
            issuer: self.issuer.clone(),
            audience: AUDIENCE.to_owned(),
            keys: self
                .keys
                .iter()
                .map(|k| PublicKey {
                    kid: k.kid.clone(),
                    public: k.public(),
                    retire_at: k.retire_at,
                })
                .collect(),
        }
    }

    /// Verifies a token issued by this ring.
    pub fn verify(&self, token: &str, now: SystemTime) -> Result<Claims, JwtError> {
        self.verifier().verify(token, now)
    }

    /// The ring encrypted under `master`, as text to persist in the metadata store.
    pub fn seal(&self, master: &MasterKey) -> Result<String, AuthError> {
        let json = Zeroizing::new(
            serde_json::to_vec(self).map_err(|e| AuthError::KeyRing(e.to_string()))?,
        );
        Ok(master.encrypt(&json, KEYRING_CONTEXT)?.to_string())
    }

    /// Reverses [`KeyRing::seal`].
    pub fn unseal(sealed: &str, master: &MasterKey) -> Result<Self, AuthError> {
        let json = master.decrypt(&sealed.parse()?, KEYRING_CONTEXT)?;
        serde_json::from_slice(&json).map_err(|e| AuthError::KeyRing(e.to_string()))
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("issuer", &self.issuer)
            .field("current_kid", &self.current_kid())
            .field("keys", &"<redacted>")
            .finish()
    }
}

/// Serde for 32-byte keys as standard base64.
mod b64_32 {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = Zeroizing::new(String::deserialize(d)?);
        let bytes = Zeroizing::new(
            STANDARD
                .decode(text.as_bytes())
                .map_err(serde::de::Error::custom)?,
        );
        bytes
            .as_slice()
            .try_into()
            .map_err(|_| serde::de::Error::custom("expected 32 bytes"))
    }
}

/// A key from an OIDC provider's JWKS.
struct OidcKey {
    kid: Option<String>,
    alg: Algorithm,
    key: DecodingKey,
}

/// The identity an external OIDC token proved.
#[derive(Clone, Debug, PartialEq)]
pub struct OidcIdentity {
    /// The principal name, from the configured claim.
    pub principal: String,
    /// All the token's claims, for callers that map groups or emails to bindings.
    pub claims: Map<String, Value>,
}

/// Verifies tokens from an external OIDC provider against its JWKS.
///
/// Fetching the JWKS (and refreshing it when an unknown `kid` shows up) is the caller's
/// job, so this crate needs no HTTP client. Only asymmetric keys are accepted (RS*, ES*,
/// EdDSA); symmetric `oct` keys and encryption keys in the set are ignored.
pub struct OidcVerifier {
    issuer: String,
    audience: String,
    principal_claim: String,
    keys: Vec<OidcKey>,
}

impl OidcVerifier {
    /// A verifier for tokens from `issuer` for `audience`, with the keys in `jwks_json`;
    /// the principal is the `sub` claim unless changed.
    pub fn from_jwks(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        jwks_json: &str,
    ) -> Result<Self, JwtError> {
        let set: JwkSet = serde_json::from_str(jwks_json)
            .map_err(|e| JwtError::InvalidKey(format!("JWKS is not valid: {e}")))?;
        let keys: Vec<OidcKey> = set
            .keys
            .iter()
            .filter(|jwk| !matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)))
            .filter_map(|jwk| {
                let alg = jwk_algorithm(jwk.common.key_algorithm, &jwk.algorithm)?;
                let key = DecodingKey::from_jwk(jwk).ok()?;
                Some(OidcKey {
                    kid: jwk.common.key_id.clone(),
                    alg,
                    key,
                })
            })
            .collect();
        if keys.is_empty() {
            return Err(JwtError::InvalidKey(
                "the JWKS has no usable signing keys (RS*, ES256/384 or EdDSA)".to_owned(),
            ));
        }
        Ok(Self {
            issuer: issuer.into(),
            audience: audience.into(),
            principal_claim: "sub".to_owned(),
            keys,
        })
    }

    /// Take the principal name from `claim` (e.g. `email`) instead of `sub`.
    pub fn with_principal_claim(mut self, claim: impl Into<String>) -> Self {
        self.principal_claim = claim.into();
        self
    }

    /// Checks `token` at time `now` and maps it to a principal.
    pub fn verify(&self, token: &str, now: SystemTime) -> Result<OidcIdentity, JwtError> {
        let header = read_header(token)?;
        let key = match &header.kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid.as_str()))
                .ok_or_else(|| JwtError::UnknownKid(kid.clone()))?,
            // Without a kid the key is only unambiguous if the set has one key.
            None => match &self.keys[..] {
                [only] => only,
                _ => return Err(JwtError::UnknownKid(String::new())),
            },
        };
        if header.alg != algorithm_name(key.alg) {
            return Err(JwtError::AlgorithmNotAllowed(header.alg));
        }
        let claims = decode_checked(token, &key.key, key.alg, &self.issuer, &self.audience, now)?;
        let principal = claims
            .get(&self.principal_claim)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| JwtError::MissingClaim(self.principal_claim.clone()))?
            .to_owned();
        Ok(OidcIdentity { principal, claims })
    }
}

impl fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("principal_claim", &self.principal_claim)
            .field("keys", &self.keys.len())
            .finish()
    }
}

/// The signature algorithm a JWK is for: its `alg` if given, else inferred from the key
/// type. `None` for symmetric keys and anything not a signature algorithm.
fn jwk_algorithm(
    declared: Option<KeyAlgorithm>,
    params: &AlgorithmParameters,
) -> Option<Algorithm> {
    let alg = match declared {
        Some(KeyAlgorithm::RS256) => Algorithm::RS256,
        Some(KeyAlgorithm::RS384) => Algorithm::RS384,
        Some(KeyAlgorithm::RS512) => Algorithm::RS512,
        Some(KeyAlgorithm::PS256) => Algorithm::PS256,
        Some(KeyAlgorithm::PS384) => Algorithm::PS384,
        Some(KeyAlgorithm::PS512) => Algorithm::PS512,
        Some(KeyAlgorithm::ES256) => Algorithm::ES256,
        Some(KeyAlgorithm::ES384) => Algorithm::ES384,
        Some(KeyAlgorithm::EdDSA) => Algorithm::EdDSA,
        Some(_) => return None,
        None => match params {
            AlgorithmParameters::RSA(_) => Algorithm::RS256,
            AlgorithmParameters::EllipticCurve(p) => match p.curve {
                EllipticCurve::P256 => Algorithm::ES256,
                EllipticCurve::P384 => Algorithm::ES384,
                _ => return None,
            },
            AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
                Algorithm::EdDSA
            }
            _ => return None,
        },
    };
    // The declared alg must fit the key type, or the key is unusable.
    let fits = match params {
        AlgorithmParameters::RSA(_) => matches!(
            alg,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
        ),
        AlgorithmParameters::EllipticCurve(p) => {
            (alg == Algorithm::ES256 && p.curve == EllipticCurve::P256)
                || (alg == Algorithm::ES384 && p.curve == EllipticCurve::P384)
        }
        AlgorithmParameters::OctetKeyPair(p) => {
            alg == Algorithm::EdDSA && p.curve == EllipticCurve::Ed25519
        }
        _ => false,
    };
    fits.then_some(alg)
}

/// The JOSE name of an algorithm, as it appears in a header's `alg`.
fn algorithm_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::EdDSA => "EdDSA",
        // Future algorithms are never in `jwk_algorithm`'s output, so never matched.
        _ => "unsupported",
    }
}

#[cfg(test)]
#[path = "jwt_tests.rs"]
mod tests;

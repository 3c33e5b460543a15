//! JWT tests: every refusal case, rotation, sealing, and OIDC with RS256/ES256 keys.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use super::*;
use crate::secrets::MasterKey;

// Test-only keys, generated with openssl for these tests and used nowhere else.

/// RSA-2048 private key, PKCS#1 DER, base64 (split for line length).
const RSA_PKCS1_DER_B64: &[&str] = &[
    "MIIEpAIBAAKCAQEAy+8BOd2uTvBWSOHUU4nG5jyj9S4Px6Nf6um4HSn0crnG8lyB5ZTMwr/yiydVDhOPDFEp90C5",
    "dSHQTGk/yDC7a4u88JJAZwl6M6AiCfLiW2iwf0SmgPgw/VPOmNRGzoixnYxuMB+wEPOm/r3A9BMbruHf3bM/nRFZ",
    "ycozBHazZEsXL/K7la8MwBkn7s/a/QM5MtUR543/voRl5LzJL1ptpSbGgtfcqs4OelnH87usMFZCc3ow5d2g3rmk",
    "Z3Km18MOYMDUgM+JVPxQCJYfV44bZEmAg2H7CEm5ho76OBvMOSyc7a8LigBxsQc9sBiDOYc/lSHRPl51tdlCPTQj",
    "doUOQQIDAQABAoIBAAlWAnwb8C4odgbFoeMGKG8jYQ0pI+tLiSlXtEhPgqOa6ibvwbmZJ4uV3nxs20m27wJNF+r8",
    "EVFxsBfDbLpVMstQXSC1TVH6PtgssUo7zo2JPCVDZwz578I1KzzXYPt1Cg6Qnn3BAZ4xDVjVpob19fs6V3WOjm+6",
    "Gt5wTYgbiAhkC5st0Br0XXXib40aEDhIAOEnKdcamDMGyTnDw6yud1BfGsIkNE/ztWo3VuaZ/GuFrEEFXb73Wbpf",
    "SW0rm3afclFDfoq/JkZ4sAlQIGt4Cgty8BJXqmb5GWNxvQHwE921jgoj8tsOaUW8f9clgZYKNGnzZwcGOFkcZ9IF",
    "SMpKdsECgYEA/rTiloBt5rrllzCZVVSoXclHpxVzt5eifz+M2RtxQEe/h/V/cKAL3WPfRxiXrqCTx4jTZ8FOZt+e",
    "Hn1er7T/PL9PTmf2+k7TaM5Yjsmykyfb7K1bm0DYF9VFSnkrU8mxOU6TaylMcWxYdSNVgHukg+fIMGQFczmXgQcb",
    "OtjBYHECgYEAzPgdlLAwJ45kvXjatHjqcoh1SrcaPBFhp8xU3i9qo4jBh5zxI3rlkiGn6ILWbVaVTDSOGol4iNcc",
    "DV+XNP+/BjzWrF3bxyMWqgGBh0m/17fq++OHY0l1p1zumtjkf7TWbq0J1hcWJAzQRHPRIjkiy7SIfuDEyaE+1pIM",
    "d5hjctECgYEAhWcOCk+HwEIBP/eXR6cIa96hJbTJn83OsSECzy9dWJJ7kWUWc1GQBUtqxRzvTOoTnH1gZEZNnvne",
    "Ig/9yL9es11r1yACrkUc2xbAMUEYw5QrzsFZam5C//CW0xO1irPnm6E4+vZtcDaT+f4gqSOZHfEG27l3VUtDu7OS",
    "IncmiTECgYEAs0BhjkEvO8i5rUHd8mq0jglsmjTbSqDgyIBX0B+joPTeWx0TfbXiwxOP5jVWFTTdSFHF3MtQkEuf",
    "CssIT59BjdDy5LcIl3TGQ1Mh1hDXJ25+oF7xbhE2RXFuchkwa8bYqN3HdmWmRUy3bsXipY1WMtPlcyBauQK9E6WS",
    "JZ0ti6ECgYAKFMhvaCy+/09eeIrkcIYoBnIZvUJ+5f6OCDt5pJ8iM5A7ekBvflMAFqpachC5M16pPi3hJRoQtixd",
    "wzHUxjSNmgpne79sz5qR43fnhI/rZj7r35kA+AOxkT8dLM6UKFBLVd5t+wDInXipHVAZg8lpcW862hZ6N+Lc8J3m",
    "eFuXKw==",
];
const RSA_N: &str = "y-8BOd2uTvBWSOHUU4nG5jyj9S4Px6Nf6um4HSn0crnG8lyB5ZTMwr_yiydVDhOPDFEp90C5dSHQTGk_yDC7a4u88JJAZwl6M6AiCfLiW2iwf0SmgPgw_VPOmNRGzoixnYxuMB-wEPOm_r3A9BMbruHf3bM_nRFZycozBHazZEsXL_K7la8MwBkn7s_a_QM5MtUR543_voRl5LzJL1ptpSbGgtfcqs4OelnH87usMFZCc3ow5d2g3rmkZ3Km18MOYMDUgM-JVPxQCJYfV44bZEmAg2H7CEm5ho76OBvMOSyc7a8LigBxsQc9sBiDOYc_lSHRPl51tdlCPTQjdoUOQQ";
/// P-256 private key, PKCS#8 DER, base64.
const EC_PKCS8_DER_B64: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgt7rF2yGVVCCXE7ShAWzDkaN0W0NC8ISWSIXJGzrkM6mhRANCAAR//ScT/hJkieD8KBhJLP/I1noCLphfdZUPdxDitgCIaaFC56tBjnM+u0aDj5J/fg7WBGfA20Nl8y0nkAtYmLPM";
const EC_X: &str = "f_0nE_4SZIng_CgYSSz_yNZ6Ai6YX3WVD3cQ4rYAiGk";
const EC_Y: &str = "oULnq0GOcz67RoOPkn9-DtYEZ8DbQ2XzLSeQC1iYs8w";

const HOUR: Duration = Duration::from_secs(3600);

fn t(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
}

fn ring() -> KeyRing {
    KeyRing::generate("https://weir.local", HOUR, t(0))
}

/// Signs arbitrary claims with the ring's current key, for claim-level failure cases.
fn sign_with_ring(ring: &KeyRing, claims: &serde_json::Value) -> String {
    let key = ring.keys.last().expect("ring has a key");
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding_key().expect("key")).expect("signs")
}

fn good_claims() -> serde_json::Value {
    let now = 1_800_000_000u64;
    json!({"sub": "alice", "iss": "https://weir.local", "aud": "weir", "iat": now, "nbf": now, "exp": now + 3600})
}

#[test]
fn issue_and_verify() {
    let ring = ring();
    let token = ring.issue("alice", t(0)).expect("issues");
    let claims = ring.verify(&token, t(10)).expect("verifies");
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.aud, "weir");
    assert_eq!(claims.iss, "https://weir.local");
    assert_eq!(claims.exp - claims.iat, 3600);
    assert_eq!(claims.nbf, claims.iat);
}

#[test]
fn expired_and_not_yet_valid() {
    let ring = ring();
    let token = ring.issue("alice", t(0)).expect("issues");
    // Within the 60 s leeway it still passes; beyond it, it has expired.
    assert!(ring.verify(&token, t(3600 + 59)).is_ok());
    assert_eq!(ring.verify(&token, t(3600 + 61)), Err(JwtError::Expired));
    let future = ring.issue("alice", t(1000)).expect("issues");
    assert_eq!(ring.verify(&future, t(0)), Err(JwtError::NotYetValid));
}

#[test]
fn bad_signature() {
    let ring = ring();
    let token = ring.issue("alice", t(0)).expect("issues");
    let (rest, sig) = token.rsplit_once('.').expect("three parts");
    let mut sig: Vec<u8> = URL_SAFE_NO_PAD.decode(sig).expect("base64");
    sig[10] ^= 0x01;
    let forged = format!("{rest}.{}", URL_SAFE_NO_PAD.encode(sig));
    assert_eq!(ring.verify(&forged, t(1)), Err(JwtError::BadSignature));

    // Changing the claims under the same signature also fails.
    let parts: Vec<&str> = token.split('.').collect();
    let payload = URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(&json!({"sub": "root", "iss": "https://weir.local", "aud": "weir", "iat": 1_800_000_000u64, "nbf": 1_800_000_000u64, "exp": 1_800_003_600u64}))
            .expect("json"),
    );
    let swapped = format!("{}.{payload}.{}", parts[0], parts[2]);
    assert_eq!(ring.verify(&swapped, t(1)), Err(JwtError::BadSignature));
}

#[test]
fn wrong_audience_and_issuer() {
    let ring = ring();
    let mut claims = good_claims();
    claims["aud"] = json!("someone-else");
    assert_eq!(
        ring.verify(&sign_with_ring(&ring, &claims), t(1)),
        Err(JwtError::WrongAudience)
    );
    let mut claims = good_claims();
    claims["iss"] = json!("https://evil.example");
    assert_eq!(
        ring.verify(&sign_with_ring(&ring, &claims), t(1)),
        Err(JwtError::WrongIssuer)
    );
    let mut claims = good_claims();
    claims.as_object_mut().expect("object").remove("exp");
    assert_eq!(
        ring.verify(&sign_with_ring(&ring, &claims), t(1)),
        Err(JwtError::MissingClaim("exp".to_owned()))
    );
}

#[test]
fn unknown_kid() {
    let token = ring().issue("alice", t(0)).expect("issues");
    let other = ring();
    assert!(matches!(
        other.verify(&token, t(1)),
        Err(JwtError::UnknownKid(_))
    ));
}

#[test]
fn alg_none_is_refused() {
    let ring = ring();
    let header = URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(&json!({"alg": "none", "typ": "JWT", "kid": ring.current_kid()}))
            .expect("json"),
    );
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&good_claims()).expect("json"));
    let token = format!("{header}.{payload}.");
    assert_eq!(
        ring.verify(&token, t(1)),
        Err(JwtError::AlgorithmNotAllowed("none".to_owned()))
    );
}

#[test]
fn hs256_with_the_public_key_as_secret_is_refused() {
    let ring = ring();
    let public = ring.keys.last().expect("key").public();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(ring.current_kid().to_owned());
    let token = jsonwebtoken::encode(&header, &good_claims(), &EncodingKey::from_secret(&public))
        .expect("signs");
    assert_eq!(
        ring.verify(&token, t(1)),
        Err(JwtError::AlgorithmNotAllowed("HS256".to_owned()))
    );
}

#[test]
fn missing_and_malformed() {
    let ring = ring();
    assert_eq!(ring.verify("", t(0)), Err(JwtError::Missing));
    assert!(matches!(
        ring.verify("abc", t(0)),
        Err(JwtError::Malformed(_))
    ));
    assert!(matches!(
        ring.verify("a.b.c", t(0)),
        Err(JwtError::Malformed(_))
    ));
    assert_eq!(bearer_token(None), Err(JwtError::Missing));
    assert_eq!(bearer_token(Some("Basic abc")), Err(JwtError::Missing));
    assert_eq!(bearer_token(Some("Bearer ")), Err(JwtError::Missing));
    assert_eq!(
        bearer_token(Some("bearer  abc.def.ghi ")),
        Ok("abc.def.ghi")
    );
}

#[test]
fn rotation_keeps_old_tokens_until_they_cannot_be_valid() {
    let mut ring = ring();
    let old_kid = ring.current_kid().to_owned();
    let old_token = ring.issue("alice", t(0)).expect("issues");
    let new_kid = ring.rotate(t(100)).to_owned();
    assert_ne!(old_kid, new_kid);
    let new_token = ring.issue("bob", t(100)).expect("issues");
    assert!(ring.verify(&old_token, t(200)).is_ok());
    assert!(ring.verify(&new_token, t(200)).is_ok());
    assert_eq!(
        jsonwebtoken::decode_header(&new_token).expect("header").kid,
        Some(new_kid)
    );

    // One token lifetime (plus leeway) after rotation the old key retires.
    let retired_at = t(100 + 3600 + 60);
    assert_eq!(
        ring.verify(&old_token, retired_at),
        Err(JwtError::RetiredKey(old_kid))
    );
    assert_eq!(ring.prune(t(200)), 0);
    assert_eq!(ring.prune(retired_at), 1);
    assert_eq!(ring.verifier().kids().count(), 1);
}

#[test]
fn public_verifier_holds_no_secrets() {
    let ring = ring();
    let verifier = ring.verifier();
    let json = serde_json::to_string(&verifier).expect("serialises");
    assert!(!json.contains("seed"));
    let shipped: TokenVerifier = serde_json::from_str(&json).expect("deserialises");
    let token = ring.issue("alice", t(0)).expect("issues");
    assert_eq!(
        shipped.verify(&token, t(1)).map(|c| c.sub),
        Ok("alice".to_owned())
    );
    assert!(!format!("{ring:?}").contains(&STANDARD.encode(ring.keys[0].seed)));
}

#[test]
fn seal_and_unseal() {
    let ring = ring();
    let master = MasterKey::generate();
    let sealed = ring.seal(&master).expect("seals");
    assert!(!sealed.contains(&STANDARD.encode(ring.keys[0].seed)));
    let back = KeyRing::unseal(&sealed, &master).expect("unseals");
    let token = back.issue("alice", t(0)).expect("issues");
    assert!(ring.verify(&token, t(1)).is_ok());
    assert!(KeyRing::unseal(&sealed, &MasterKey::generate()).is_err());
}

fn rsa_key() -> EncodingKey {
    let der = STANDARD.decode(RSA_PKCS1_DER_B64.concat()).expect("base64");
    EncodingKey::from_rsa_der(&der)
}

fn ec_key() -> EncodingKey {
    let der = STANDARD.decode(EC_PKCS8_DER_B64).expect("base64");
    EncodingKey::from_ec_der(&der)
}

fn jwks() -> String {
    json!({"keys": [
        {"kty": "RSA", "kid": "rsa1", "use": "sig", "alg": "RS256", "n": RSA_N, "e": "AQAB"},
        {"kty": "EC", "kid": "ec1", "crv": "P-256", "x": EC_X, "y": EC_Y},
        {"kty": "oct", "kid": "hmac1", "k": "c2VjcmV0"},
    ]})
    .to_string()
}

fn oidc_token(alg: Algorithm, kid: &str, key: &EncodingKey, claims: &serde_json::Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, key).expect("signs")
}

fn oidc_claims() -> serde_json::Value {
    let now = 1_800_000_000u64;
    json!({"sub": "user-123", "email": "ann@example.com", "iss": "https://idp.example", "aud": "weir-console", "iat": now, "exp": now + 600})
}

#[test]
fn oidc_rs256_and_es256() {
    let verifier =
        OidcVerifier::from_jwks("https://idp.example", "weir-console", &jwks()).expect("jwks");
    let rs = oidc_token(Algorithm::RS256, "rsa1", &rsa_key(), &oidc_claims());
    let id = verifier.verify(&rs, t(1)).expect("verifies");
    assert_eq!(id.principal, "user-123");
    let es = oidc_token(Algorithm::ES256, "ec1", &ec_key(), &oidc_claims());
    assert_eq!(
        verifier.verify(&es, t(1)).map(|i| i.principal),
        Ok("user-123".to_owned())
    );

    let by_email = verifier.with_principal_claim("email");
    assert_eq!(
        by_email.verify(&es, t(1)).map(|i| i.principal),
        Ok("ann@example.com".to_owned())
    );
}

#[test]
fn oidc_refusals() {
    let verifier =
        OidcVerifier::from_jwks("https://idp.example", "weir-console", &jwks()).expect("jwks");
    // ES256 key named, RS256 used: refused before any crypto.
    let confused = oidc_token(Algorithm::RS256, "ec1", &rsa_key(), &oidc_claims());
    assert_eq!(
        verifier.verify(&confused, t(1)),
        Err(JwtError::AlgorithmNotAllowed("RS256".to_owned()))
    );
    // The symmetric key in the set is ignored, so HS256 tokens name an unknown kid.
    let hs = oidc_token(
        Algorithm::HS256,
        "hmac1",
        &EncodingKey::from_secret(b"secret"),
        &oidc_claims(),
    );
    assert_eq!(
        verifier.verify(&hs, t(1)),
        Err(JwtError::UnknownKid("hmac1".to_owned()))
    );

    let mut claims = oidc_claims();
    claims["aud"] = json!("other");
    let token = oidc_token(Algorithm::ES256, "ec1", &ec_key(), &claims);
    assert_eq!(verifier.verify(&token, t(1)), Err(JwtError::WrongAudience));

    let mut claims = oidc_claims();
    claims["iss"] = json!("https://other.example");
    let token = oidc_token(Algorithm::ES256, "ec1", &ec_key(), &claims);
    assert_eq!(verifier.verify(&token, t(1)), Err(JwtError::WrongIssuer));

    let token = oidc_token(Algorithm::ES256, "ec1", &ec_key(), &oidc_claims());
    assert_eq!(verifier.verify(&token, t(700)), Err(JwtError::Expired));

    let mut claims = oidc_claims();
    claims.as_object_mut().expect("object").remove("sub");
    let token = oidc_token(Algorithm::ES256, "ec1", &ec_key(), &claims);
    assert_eq!(
        verifier.verify(&token, t(1)),
        Err(JwtError::MissingClaim("sub".to_owned()))
    );

    let unknown = oidc_token(Algorithm::ES256, "rotated-away", &ec_key(), &oidc_claims());
    assert_eq!(
        verifier.verify(&unknown, t(1)),
        Err(JwtError::UnknownKid("rotated-away".to_owned()))
    );
}

#[test]
fn oidc_jwks_without_signing_keys() {
    let only_oct = json!({"keys": [{"kty": "oct", "kid": "k", "k": "c2VjcmV0"}]}).to_string();
    assert!(matches!(
        OidcVerifier::from_jwks("i", "a", &only_oct),
        Err(JwtError::InvalidKey(_))
    ));
    assert!(matches!(
        OidcVerifier::from_jwks("i", "a", "not json"),
        Err(JwtError::InvalidKey(_))
    ));
}

//! AWS Signature Version 4 verification for incoming Kinesis requests.
//!
//! Hand-written over `hmac` + `sha2` because the `aws-sigv4` crate only *signs*, and it
//! decides itself which headers to sign; a server must instead rebuild the canonical
//! request from exactly the headers the client says it signed.
//!
//! Verification runs in two phases so that a credential store that must be awaited can
//! sit between them: [`SigV4Verifier::begin`] parses and checks everything that needs no
//! secret (structure, clock, scope) and yields the access key id;
//! [`PendingVerification::finish`] takes the looked-up credential and checks the
//! signature in constant time. [`SigV4Verifier::verify`] does both with a synchronous
//! lookup.
//!
//! Error types and messages follow what Kinesis answers (see [`SigV4Error`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::secrets::SecretAccessKey;

mod canonical;
mod date;

pub use date::{civil_from_days, format_amz_date};

use canonical::*;
use date::*;

/// The only algorithm SigV4 defines.
const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The credential scope terminator.
const TERMINATOR: &str = "aws4_request";
/// Payload hash for presigned requests whose body the client did not sign.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// AWS's wording for any signature mismatch, including a tampered body.
const MSG_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
/// How far a request's date may be from the server clock (AWS uses 15 minutes).
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);
/// The longest `X-Amz-Expires` SigV4 allows (seven days).
pub const MAX_PRESIGNED_EXPIRY: Duration = Duration::from_secs(7 * 24 * 60 * 60);

type HmacSha256 = Hmac<Sha256>;

/// Why a request failed authentication, as the AWS error Kinesis would return.
///
/// Wording comes from AWS responses as recorded by kinesalite (which was built against
/// the live service) and from widely quoted AWS messages; see the crate docs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// No `Authorization` header and no `X-Amz-Algorithm` query parameter.
    #[error("Missing Authentication Token")]
    MissingAuthenticationToken,
    /// The signature parameters are malformed or incomplete.
    #[error("{0}")]
    IncompleteSignature(String),
    /// The signature does not match, or the request is outside its time window, or its
    /// scope is wrong.
    #[error("{0}")]
    InvalidSignature(String),
    /// The access key id (or session token) is unknown.
    #[error("The security token included in the request is invalid.")]
    UnrecognizedClient,
}

impl SigV4Error {
    /// The `__type` for the JSON/CBOR error body.
    pub fn aws_error_type(&self) -> &'static str {
        match self {
            SigV4Error::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            SigV4Error::IncompleteSignature(_) => "IncompleteSignatureException",
            SigV4Error::InvalidSignature(_) => "InvalidSignatureException",
            SigV4Error::UnrecognizedClient => "UnrecognizedClientException",
        }
    }

    /// The HTTP status: Kinesis answers every one of these with 400 on its JSON/CBOR
    /// protocol (it uses 403 only for requests that are not JSON/CBOR at all).
    pub fn http_status(&self) -> u16 {
        400
    }
}

/// The request body, or its SHA-256 when the caller hashed it while streaming.
#[derive(Clone, Copy, Debug)]
pub enum Payload<'a> {
    /// The whole body; it is hashed here.
    Bytes(&'a [u8]),
    /// Lowercase hex SHA-256 of the body, computed by the caller.
    Sha256Hex(&'a str),
}

/// The parts of an HTTP request that SigV4 covers, exactly as received.
#[derive(Clone, Copy, Debug)]
pub struct SignedRequest<'a> {
    /// HTTP method, e.g. `POST`.
    pub method: &'a str,
    /// Path as sent on the wire (still percent-encoded), e.g. `/`.
    pub path: &'a str,
    /// Raw query string without the `?`; empty if none.
    pub query: &'a str,
    /// All header (name, value) pairs. For HTTP/2, pass the `:authority` as `host`.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body or its hash.
    pub payload: Payload<'a>,
}

/// What the credential store knows about one access key.
#[derive(Clone, Debug)]
pub struct Credential {
    /// The principal the key belongs to.
    pub principal: String,
    /// The secret the client signs with.
    pub secret_access_key: SecretAccessKey,
    /// For temporary credentials, the token the request must carry; `None` for long-term
    /// keys, which then refuse requests that carry a token.
    pub session_token: Option<String>,
}

/// Looks up a credential by access key id; implemented for closures.
pub trait CredentialLookup {
    /// The credential for `access_key_id`, or `None` if there is no such key.
    fn lookup(&self, access_key_id: &str) -> Option<Credential>;
}

impl<F: Fn(&str) -> Option<Credential>> CredentialLookup for F {
    fn lookup(&self, access_key_id: &str) -> Option<Credential> {
        self(access_key_id)
    }
}

/// A request that passed verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The principal the access key belongs to.
    pub principal: String,
    /// The access key id that signed.
    pub access_key_id: String,
    /// The region from the credential scope.
    pub region: String,
    /// Whether the signature came from the query string rather than a header.
    pub presigned: bool,
}

/// Verifies SigV4 signatures for one signing name (`kinesis` by default).
#[derive(Clone, Debug)]
pub struct SigV4Verifier {
    service: String,
    region: Option<String>,
    max_skew: Duration,
    double_encode_path: bool,
}

impl Default for SigV4Verifier {
    fn default() -> Self {
        Self::new("kinesis")
    }
}

impl SigV4Verifier {
    /// A verifier for `service`, accepting any region and a 15-minute clock skew.
    pub fn new(service: impl Into<String>) -> Self {
        Self {
            service: service.into(),
            region: None,
            max_skew: MAX_CLOCK_SKEW,
            double_encode_path: true,
        }
    }

    /// Only accept credentials scoped to `region` (otherwise any region is accepted).
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Use a different clock skew than AWS's 15 minutes.
    pub fn with_max_skew(mut self, max_skew: Duration) -> Self {
        self.max_skew = max_skew;
        self
    }

    /// S3-style canonical paths (encoded once, not normalized). Every other AWS service,
    /// Kinesis included, normalizes the path and encodes it a second time.
    pub fn with_single_encoded_path(mut self) -> Self {
        self.double_encode_path = false;
        self
    }

    /// Verifies `req` at time `now`, looking the key up synchronously.
    pub fn verify(
        &self,
        req: &SignedRequest<'_>,
        now: SystemTime,
        store: &impl CredentialLookup,
    ) -> Result<Verified, SigV4Error> {
        let pending = self.begin(req, now)?;
        let credential = store.lookup(pending.access_key_id());
        pending.finish(credential.as_ref())
    }

    /// Checks everything that needs no secret and prepares the strings to sign.
    pub fn begin(
        &self,
        req: &SignedRequest<'_>,
        now: SystemTime,
    ) -> Result<PendingVerification, SigV4Error> {
        let query = parse_query(req.query);
        let header = header_values(req.headers, "authorization").next();
        let presigned = query.iter().any(|p| p.name == b"X-Amz-Algorithm");
        let auth = match (header, presigned) {
            (Some(_), true) => {
                return Err(SigV4Error::InvalidSignature(
                    "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header."
                        .to_owned(),
                ))
            }
            (None, false) => return Err(SigV4Error::MissingAuthenticationToken),
            (Some(h), false) => parse_authorization_header(h, req.headers)?,
            (None, true) => parse_presigned_query(&query)?,
        };

        let date = parse_amz_date(&auth.date)?;
        self.check_time(&auth, date, now)?;
        let scope = self.check_scope(&auth.credential, date)?;

        if !auth
            .signed_headers
            .iter()
            .any(|h| h == "host" || h == ":authority")
        {
            return Err(SigV4Error::InvalidSignature(
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
                    .to_owned(),
            ));
        }

        let body_hash = match req.payload {
            Payload::Bytes(body) => hex(&Sha256::digest(body)),
            Payload::Sha256Hex(h) => h.to_ascii_lowercase(),
        };
        let claimed = header_values(req.headers, "x-amz-content-sha256")
            .next()
            .map(str::to_owned)
            .or_else(|| query_value(&query, "X-Amz-Content-Sha256"));
        let payload_hashes = payload_hash_candidates(claimed, body_hash, auth.presigned);

        let canonical_prefix = format!(
            "{}\n{}\n{}\n{}\n{}\n",
            req.method,
            self.canonical_uri(req.path),
            canonical_query(&query, auth.presigned),
            canonical_headers(req.headers, &auth.signed_headers),
            auth.signed_headers.join(";"),
        );
        let strings_to_sign = payload_hashes
            .iter()
            .map(|payload_hash| {
                let canonical_request = format!("{canonical_prefix}{payload_hash}");
                format!(
                    "{ALGORITHM}\n{}\n{}\n{}",
                    auth.date,
                    scope.scope_string(),
                    hex(&Sha256::digest(canonical_request.as_bytes()))
                )
            })
            .collect();

        Ok(PendingVerification {
            access_key_id: scope.access_key_id.clone(),
            security_token: auth.security_token,
            signature: unhex(&auth.signature),
            strings_to_sign,
            scope,
            presigned: auth.presigned,
        })
    }

    /// Rejects requests outside the clock-skew window, or presigned ones past expiry.
    fn check_time(&self, auth: &AuthParams, date: u64, now: SystemTime) -> Result<(), SigV4Error> {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let skew = self.max_skew.as_secs();
        if date > now.saturating_add(skew) {
            return Err(SigV4Error::InvalidSignature(format!(
                "Signature not yet current: {} is still later than {} ({} + {}.)",
                auth.date,
                format_amz_date(now.saturating_add(skew)),
                format_amz_date(now),
                describe_duration(skew)
            )));
        }
        // A presigned request is good for X-Amz-Expires after its date; a header-signed
        // one (or a presigned one without X-Amz-Expires) for the clock skew.
        let window = auth.expires.unwrap_or(skew);
        if date < now.saturating_sub(window) {
            return Err(SigV4Error::InvalidSignature(format!(
                "Signature expired: {} is now earlier than {} ({} - {}.)",
                auth.date,
                format_amz_date(now.saturating_sub(window)),
                format_amz_date(now),
                describe_duration(window)
            )));
        }
        Ok(())
    }

    /// Parses `AKID/date/region/service/aws4_request` and checks it against the request.
    fn check_scope(&self, credential: &str, date: u64) -> Result<Scope, SigV4Error> {
        let parts: Vec<&str> = credential.split('/').collect();
        let [access_key_id, scope_date, region, service, terminator] = parts[..] else {
            return Err(SigV4Error::IncompleteSignature(format!(
                "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
            )));
        };
        let mut problems = Vec::new();
        let request_day = &format_amz_date(date)[..8];
        if scope_date != request_day {
            problems.push(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope_date}' != '{request_day}', from '{}'.",
                format_amz_date(date)
            ));
        }
        let region_ok = match &self.region {
            Some(expected) => region == expected,
            None => !region.is_empty(),
        };
        if !region_ok {
            problems.push(format!(
                "Credential should be scoped to a valid region, not '{region}'."
            ));
        }
        if service != self.service {
            problems.push(format!(
                "Credential should be scoped to correct service: '{}'.",
                self.service
            ));
        }
        if terminator != TERMINATOR {
            problems.push(format!(
                "Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{terminator}'."
            ));
        }
        if !problems.is_empty() {
            return Err(SigV4Error::InvalidSignature(problems.join(" ")));
        }
        Ok(Scope {
            access_key_id: access_key_id.to_owned(),
            date: scope_date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
        })
    }

    /// The canonical URI: for non-S3 services the path is normalized (dot segments and
    /// empty segments removed) and then percent-encoded again, so `%` becomes `%25`.
    fn canonical_uri(&self, path: &str) -> String {
        if !self.double_encode_path {
            return if path.is_empty() {
                "/".to_owned()
            } else {
                path.to_owned()
            };
        }
        uri_encode(normalize_path(path).as_bytes(), false)
    }
}

/// Everything [`SigV4Verifier::begin`] established; the secret is all that is missing.
#[derive(Debug)]
pub struct PendingVerification {
    access_key_id: String,
    security_token: Option<String>,
    signature: Option<Vec<u8>>,
    strings_to_sign: Vec<String>,
    scope: Scope,
    presigned: bool,
}

impl PendingVerification {
    /// The access key id to look up.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// Checks the signature with the looked-up credential (`None`: unknown key).
    pub fn finish(self, credential: Option<&Credential>) -> Result<Verified, SigV4Error> {
        let credential = credential.ok_or(SigV4Error::UnrecognizedClient)?;
        let token_ok = match (&credential.session_token, &self.security_token) {
            (None, None) => true,
            (Some(expected), Some(given)) => {
                constant_time_eq(expected.as_bytes(), given.as_bytes())
            }
            _ => false,
        };
        if !token_ok {
            return Err(SigV4Error::UnrecognizedClient);
        }
        let signing_key = signing_key(
            credential.secret_access_key.expose(),
            &self.scope.date,
            &self.scope.region,
            &self.scope.service,
        );
        let signature = self
            .signature
            .as_deref()
            .ok_or_else(|| SigV4Error::InvalidSignature(MSG_MISMATCH.to_owned()))?;
        let matched = self.strings_to_sign.iter().any(|sts| {
            let mut mac = hmac_new(&signing_key);
            mac.update(sts.as_bytes());
            mac.verify_slice(signature).is_ok()
        });
        if !matched {
            return Err(SigV4Error::InvalidSignature(MSG_MISMATCH.to_owned()));
        }
        Ok(Verified {
            principal: credential.principal.clone(),
            access_key_id: self.access_key_id,
            region: self.scope.region,
            presigned: self.presigned,
        })
    }
}

/// The parsed credential scope.
#[derive(Clone, Debug)]
struct Scope {
    access_key_id: String,
    date: String,
    region: String,
    service: String,
}

impl Scope {
    /// `date/region/service/aws4_request`, the third line of the string to sign.
    fn scope_string(&self) -> String {
        format!(
            "{}/{}/{}/{TERMINATOR}",
            self.date, self.region, self.service
        )
    }
}

/// The signature parameters, wherever they came from.
#[derive(Debug)]
struct AuthParams {
    credential: String,
    signed_headers: Vec<String>,
    signature: String,
    date: String,
    security_token: Option<String>,
    /// `X-Amz-Expires` in seconds, presigned requests only.
    expires: Option<u64>,
    presigned: bool,
}

/// Parses `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
fn parse_authorization_header(
    header: &str,
    headers: &[(&str, &str)],
) -> Result<AuthParams, SigV4Error> {
    let header = header.trim();
    let (algorithm, rest) = header.split_once(' ').unwrap_or((header, ""));
    if algorithm != ALGORITHM {
        return Err(SigV4Error::IncompleteSignature(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'. Authorization={header}"
        )));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest
        .split([',', ' '])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => continue,
        };
        if !value.is_empty() {
            *slot = Some(value.to_owned());
        }
    }
    let date = header_values(headers, "x-amz-date")
        .next()
        .map(str::to_owned)
        .or_else(|| {
            header_values(headers, "date")
                .next()
                .and_then(http_date_to_amz)
        });

    let mut msg = String::new();
    for (name, value) in [
        ("Credential", &credential),
        ("Signature", &signature),
        ("SignedHeaders", &signed_headers),
    ] {
        if value.is_none() {
            msg.push_str(&format!(
                "Authorization header requires '{name}' parameter. "
            ));
        }
    }
    if date.is_none() {
        msg.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    match (credential, signed_headers, signature, date) {
        (Some(credential), Some(signed_headers), Some(signature), Some(date)) if msg.is_empty() => {
            Ok(AuthParams {
                credential,
                signed_headers: split_signed_headers(&signed_headers),
                signature,
                date,
                security_token: header_values(headers, "x-amz-security-token")
                    .next()
                    .map(str::to_owned),
                expires: None,
                presigned: false,
            })
        }
        _ => Err(SigV4Error::IncompleteSignature(format!(
            "{msg}Authorization={header}"
        ))),
    }
}

/// Reads the `X-Amz-*` query parameters of a presigned request.
fn parse_presigned_query(query: &[QueryParam]) -> Result<AuthParams, SigV4Error> {
    let required = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Signature",
        "X-Amz-SignedHeaders",
        "X-Amz-Date",
    ];
    let mut msg = String::new();
    for name in required {
        if query_value(query, name).is_none_or(|v| v.is_empty()) {
            msg.push_str(&format!(
                "AWS query-string parameters must include '{name}'. "
            ));
        }
    }
    if !msg.is_empty() {
        return Err(SigV4Error::IncompleteSignature(format!(
            "{msg}Re-examine the query-string parameters."
        )));
    }
    let get = |name: &str| query_value(query, name).unwrap_or_default();
    let algorithm = get("X-Amz-Algorithm");
    if algorithm != ALGORITHM {
        return Err(SigV4Error::IncompleteSignature(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'."
        )));
    }
    let expires = match query_value(query, "X-Amz-Expires") {
        None => None,
        Some(raw) => {
            let secs: u64 = raw.parse().map_err(|_| {
                SigV4Error::IncompleteSignature("X-Amz-Expires should be a number".to_owned())
            })?;
            if secs == 0 || secs > MAX_PRESIGNED_EXPIRY.as_secs() {
                return Err(SigV4Error::IncompleteSignature(format!(
                    "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than {} seconds",
                    MAX_PRESIGNED_EXPIRY.as_secs()
                )));
            }
            Some(secs)
        }
    };
    Ok(AuthParams {
        credential: get("X-Amz-Credential"),
        signed_headers: split_signed_headers(&get("X-Amz-SignedHeaders")),
        signature: get("X-Amz-Signature"),
        date: get("X-Amz-Date"),
        security_token: query_value(query, "X-Amz-Security-Token"),
        expires,
        presigned: true,
    })
}

/// `host;x-amz-date` → `["host", "x-amz-date"]`, lowercased as the canonical form needs.
fn split_signed_headers(value: &str) -> Vec<String> {
    value
        .split(';')
        .filter(|h| !h.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

/// The payload hashes a signature may have been computed over.
///
/// Header-signed requests must sign the real body: an `x-amz-content-sha256` header, if
/// present, has to equal the body's hash (a mismatch can only fail). Presigned requests
/// may also say `UNSIGNED-PAYLOAD`, explicitly or by omission.
fn payload_hash_candidates(
    claimed: Option<String>,
    body_hash: String,
    presigned: bool,
) -> Vec<String> {
    match claimed {
        Some(c) if presigned && c == UNSIGNED_PAYLOAD => vec![c],
        Some(c) if c.eq_ignore_ascii_case(&body_hash) => vec![body_hash],
        // The body does not hash to what the client claims: nothing can match.
        Some(_) => Vec::new(),
        None if presigned => vec![body_hash, UNSIGNED_PAYLOAD.to_owned()],
        None => vec![body_hash],
    }
}

fn hmac_new(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC-SHA256 accepts any key length"),
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = hmac_new(key);
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, TERMINATOR.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// "15 min" or "90 sec", the way AWS writes the window in "Signature expired" messages.
fn describe_duration(secs: u64) -> String {
    if secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} sec")
    }
}

#[cfg(test)]
mod tests;

//! SigV4 tests: requests signed by the real `aws-sigv4` crate must verify, each way of
//! getting it wrong must produce the AWS error, and AWS's published test-suite
//! signatures must be reproduced.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4;

use super::*;
use crate::secrets::SecretAccessKey;

const AKID: &str = "WKIAEXAMPLE000000000";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const HOST: &str = "kinesis.us-east-1.amazonaws.com";
const BODY: &[u8] = br#"{"StreamName":"payments","Data":"aGk=","PartitionKey":"k"}"#;

fn at(date: &str) -> SystemTime {
    let secs = parse_amz_date(date).expect("test date parses");
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn store(akid: &str) -> Option<Credential> {
    (akid == AKID).then(|| Credential {
        principal: "alice".to_owned(),
        secret_access_key: SecretAccessKey::new(SECRET),
        session_token: None,
    })
}

/// A request as the server sees it, owning its parts.
struct Wire {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Wire {
    fn verify_with(
        &self,
        verifier: &SigV4Verifier,
        now: SystemTime,
        body: &[u8],
    ) -> Result<Verified, SigV4Error> {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let req = SignedRequest {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &headers,
            payload: Payload::Bytes(body),
        };
        verifier.verify(&req, now, &store)
    }

    fn verify(&self, now: SystemTime) -> Result<Verified, SigV4Error> {
        self.verify_with(&SigV4Verifier::default(), now, &self.body)
    }
}

/// Signs like an AWS SDK would (header or query), with the given secret and time.
fn aws_signed(
    secret: &str,
    when: SystemTime,
    path_and_query: &str,
    presign: Option<Duration>,
    unsigned_payload: bool,
) -> Wire {
    let identity = Credentials::new(AKID, secret, None, None, "test").into();
    let mut settings = SigningSettings::default();
    if let Some(expires) = presign {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires);
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("kinesis")
        .time(when)
        .settings(settings)
        .build()
        .expect("signing params")
        .into();
    let base_headers = vec![
        ("host".to_owned(), HOST.to_owned()),
        (
            "content-type".to_owned(),
            "application/x-amz-json-1.1".to_owned(),
        ),
        (
            "x-amz-target".to_owned(),
            "Kinesis_20131202.PutRecord".to_owned(),
        ),
    ];
    let uri = format!("https://{HOST}{path_and_query}");
    let body = if unsigned_payload {
        SignableBody::UnsignedPayload
    } else {
        SignableBody::Bytes(BODY)
    };
    let signable = SignableRequest::new(
        "POST",
        &uri,
        base_headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        body,
    )
    .expect("signable");
    let (instructions, _) = sign(signable, &params).expect("signs").into_parts();

    let mut headers = base_headers.clone();
    for (name, value) in instructions.headers() {
        headers.push((name.to_owned(), value.to_owned()));
    }
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut query = query.to_owned();
    for (name, value) in instructions.params() {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(&format!(
            "{}={}",
            uri_encode(name.as_bytes(), true),
            uri_encode(value.as_bytes(), true)
        ));
    }
    Wire {
        method: "POST".to_owned(),
        path: path.to_owned(),
        query,
        headers,
        body: BODY.to_vec(),
    }
}

fn header_signed(when: SystemTime) -> Wire {
    aws_signed(SECRET, when, "/", None, false)
}

fn mismatch() -> SigV4Error {
    SigV4Error::InvalidSignature(MSG_MISMATCH.to_owned())
}

#[test]
fn sdk_signed_request_verifies() {
    let now = at("20261121T000000Z");
    let verified = header_signed(now).verify(now).expect("verifies");
    assert_eq!(verified.principal, "alice");
    assert_eq!(verified.access_key_id, AKID);
    assert_eq!(verified.region, "us-east-1");
    assert!(!verified.presigned);
}

#[test]
fn sdk_signed_request_with_query_and_encoded_path_verifies() {
    let now = at("20261121T000000Z");
    let wire = aws_signed(
        SECRET,
        now,
        "/a%20b/./c?b=2&a=x%2Fy&a=1&empty=",
        None,
        false,
    );
    wire.verify(now).expect("verifies");
}

#[test]
fn precomputed_payload_hash_verifies() {
    let now = at("20261121T000000Z");
    let wire = header_signed(now);
    let headers: Vec<(&str, &str)> = wire
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let hash = hex(&Sha256::digest(BODY));
    let req = SignedRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        payload: Payload::Sha256Hex(&hash),
    };
    SigV4Verifier::default()
        .verify(&req, now, &store)
        .expect("verifies");
}

#[test]
fn tampered_body_is_rejected() {
    let now = at("20261121T000000Z");
    let wire = header_signed(now);
    let tampered = br#"{"StreamName":"payments","Data":"aGl=","PartitionKey":"k"}"#;
    let err = wire.verify_with(&SigV4Verifier::default(), now, tampered);
    assert_eq!(err, Err(mismatch()));
    assert_eq!(mismatch().aws_error_type(), "InvalidSignatureException");
}

#[test]
fn tampered_header_is_rejected() {
    let now = at("20261121T000000Z");
    let mut wire = header_signed(now);
    for (name, value) in &mut wire.headers {
        if name == "x-amz-target" {
            *value = "Kinesis_20131202.DeleteStream".to_owned();
        }
    }
    assert_eq!(wire.verify(now), Err(mismatch()));
}

#[test]
fn wrong_secret_is_rejected() {
    let now = at("20261121T000000Z");
    let wire = aws_signed("not-the-secret", now, "/", None, false);
    assert_eq!(wire.verify(now), Err(mismatch()));
}

#[test]
fn unknown_key_is_unrecognized() {
    let now = at("20261121T000000Z");
    let wire = header_signed(now);
    let lookup = |_: &str| None;
    let headers: Vec<(&str, &str)> = wire
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let req = SignedRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        payload: Payload::Bytes(BODY),
    };
    let err = SigV4Verifier::default().verify(&req, now, &lookup);
    assert_eq!(err, Err(SigV4Error::UnrecognizedClient));
    let err = SigV4Error::UnrecognizedClient;
    assert_eq!(err.aws_error_type(), "UnrecognizedClientException");
    assert_eq!(
        err.to_string(),
        "The security token included in the request is invalid."
    );
}

#[test]
fn old_request_has_expired_with_aws_wording() {
    let signed_at = at("20261121T000000Z");
    let wire = header_signed(signed_at);
    let err = wire.verify(at("20261121T003000Z"));
    assert_eq!(
        err,
        Err(SigV4Error::InvalidSignature(
            "Signature expired: 20261121T000000Z is now earlier than 20261121T001500Z (20261121T003000Z - 15 min.)"
                .to_owned()
        ))
    );
    // Twenty minutes is also too old; fourteen is fine.
    assert!(wire.verify(at("20261121T002000Z")).is_err());
    assert!(wire.verify(at("20261121T001400Z")).is_ok());
}

#[test]
fn future_request_is_not_yet_current() {
    let wire = header_signed(at("20261121T003000Z"));
    let err = wire.verify(at("20261121T000000Z"));
    assert_eq!(
        err,
        Err(SigV4Error::InvalidSignature(
            "Signature not yet current: 20261121T003000Z is still later than 20261121T001500Z (20261121T000000Z + 15 min.)"
                .to_owned()
        ))
    );
}

#[test]
fn presigned_request_verifies_until_expiry() {
    let signed_at = at("20261121T000000Z");
    let wire = aws_signed(
        SECRET,
        signed_at,
        "/",
        Some(Duration::from_secs(3600)),
        false,
    );
    assert!(wire.query.contains("X-Amz-Signature="));
    let verified = wire.verify(at("20261121T005900Z")).expect("verifies");
    assert!(verified.presigned);
    let err = wire.verify(at("20261121T010001Z"));
    assert_eq!(
        err,
        Err(SigV4Error::InvalidSignature(
            "Signature expired: 20261121T000000Z is now earlier than 20261121T000001Z (20261121T010001Z - 60 min.)"
                .to_owned()
        ))
    );
}

#[test]
fn presigned_unsigned_payload_verifies() {
    let now = at("20261121T000000Z");
    let wire = aws_signed(SECRET, now, "/", Some(Duration::from_secs(300)), true);
    wire.verify(now).expect("verifies");
    // Any body is acceptable: the client chose not to sign it.
    wire.verify_with(&SigV4Verifier::default(), now, b"other")
        .expect("verifies");
}

#[test]
fn presigned_expiry_out_of_range() {
    let now = at("20261121T000000Z");
    let mut wire = aws_signed(SECRET, now, "/", Some(Duration::from_secs(300)), false);
    wire.query = wire
        .query
        .replace("X-Amz-Expires=300", "X-Amz-Expires=604801");
    assert!(matches!(
        wire.verify(now),
        Err(SigV4Error::IncompleteSignature(m)) if m.starts_with("X-Amz-Expires must be less than a week")
    ));
}

#[test]
fn presigned_missing_parameters() {
    let wire = Wire {
        method: "POST".to_owned(),
        path: "/".to_owned(),
        query: "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261121T000000Z".to_owned(),
        headers: vec![("host".to_owned(), HOST.to_owned())],
        body: Vec::new(),
    };
    assert_eq!(
        wire.verify(at("20261121T000000Z")),
        Err(SigV4Error::IncompleteSignature(
            "AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string parameters must include 'X-Amz-Signature'. AWS query-string parameters must include 'X-Amz-SignedHeaders'. Re-examine the query-string parameters."
                .to_owned()
        ))
    );
}

#[test]
fn no_authentication_at_all() {
    let wire = Wire {
        method: "POST".to_owned(),
        path: "/".to_owned(),
        query: String::new(),
        headers: vec![("host".to_owned(), HOST.to_owned())],
        body: BODY.to_vec(),
    };
    let err = wire.verify(at("20261121T000000Z"));
    assert_eq!(err, Err(SigV4Error::MissingAuthenticationToken));
    let err = SigV4Error::MissingAuthenticationToken;
    assert_eq!(err.to_string(), "Missing Authentication Token");
    assert_eq!(err.aws_error_type(), "MissingAuthenticationTokenException");
    assert_eq!(err.http_status(), 400);
}

#[test]
fn both_header_and_query_signature() {
    let now = at("20261121T000000Z");
    let mut wire = header_signed(now);
    wire.query = "X-Amz-Algorithm=AWS4-HMAC-SHA256".to_owned();
    assert_eq!(
        wire.verify(now),
        Err(SigV4Error::InvalidSignature(
            "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header."
                .to_owned()
        ))
    );
}

#[test]
fn malformed_authorization_header() {
    let header =
        "AWS4-HMAC-SHA256 Credential=WKIAEXAMPLE000000000/20261121/us-east-1/kinesis/aws4_request";
    let wire = Wire {
        method: "POST".to_owned(),
        path: "/".to_owned(),
        query: String::new(),
        headers: vec![
            ("host".to_owned(), HOST.to_owned()),
            ("authorization".to_owned(), header.to_owned()),
        ],
        body: BODY.to_vec(),
    };
    assert_eq!(
        wire.verify(at("20261121T000000Z")),
        Err(SigV4Error::IncompleteSignature(format!(
            "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization={header}"
        )))
    );
}

#[test]
fn malformed_credential_and_date() {
    let now = at("20261121T000000Z");
    let mut wire = header_signed(now);
    for (name, value) in &mut wire.headers {
        if name == "authorization" {
            *value = value.replace("/us-east-1/kinesis/aws4_request", "/kinesis");
        }
    }
    assert!(matches!(
        wire.verify(now),
        Err(SigV4Error::IncompleteSignature(m)) if m.starts_with("Credential must have exactly 5 slash-delimited elements")
    ));

    let mut wire = header_signed(now);
    for (name, value) in &mut wire.headers {
        if name == "x-amz-date" {
            *value = "2026-11-21T00:00:00Z".to_owned();
        }
    }
    assert!(matches!(
        wire.verify(now),
        Err(SigV4Error::IncompleteSignature(m)) if m.starts_with("Date must be in ISO-8601 'basic format'")
    ));
}

#[test]
fn wrong_service_or_region_in_scope() {
    let now = at("20261121T000000Z");
    let wire = header_signed(now);
    let err = wire.verify_with(&SigV4Verifier::new("dynamodb"), now, BODY);
    assert_eq!(
        err,
        Err(SigV4Error::InvalidSignature(
            "Credential should be scoped to correct service: 'dynamodb'.".to_owned()
        ))
    );
    let eu = SigV4Verifier::default().with_region("eu-west-1");
    assert!(matches!(
        wire.verify_with(&eu, now, BODY),
        Err(SigV4Error::InvalidSignature(m)) if m.contains("valid region")
    ));
    let us = SigV4Verifier::default().with_region("us-east-1");
    assert!(wire.verify_with(&us, now, BODY).is_ok());
}

#[test]
fn host_must_be_signed() {
    let now = at("20261121T000000Z");
    let mut wire = header_signed(now);
    for (name, value) in &mut wire.headers {
        if name == "authorization" {
            *value = value.replace(
                "SignedHeaders=content-type;host;",
                "SignedHeaders=content-type;",
            );
        }
    }
    assert!(matches!(
        wire.verify(now),
        Err(SigV4Error::InvalidSignature(m)) if m.starts_with("'Host' or ':authority'")
    ));
}

#[test]
fn session_tokens_must_match() {
    let now = at("20261121T000000Z");
    let mut wire = header_signed(now);
    wire.headers
        .push(("x-amz-security-token".to_owned(), "token".to_owned()));
    // The long-term key has no token, so a request carrying one is refused.
    assert_eq!(wire.verify(now), Err(SigV4Error::UnrecognizedClient));
}

#[test]
fn two_phase_verification() {
    let now = at("20261121T000000Z");
    let wire = header_signed(now);
    let headers: Vec<(&str, &str)> = wire
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let req = SignedRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        payload: Payload::Bytes(BODY),
    };
    let pending = SigV4Verifier::default().begin(&req, now).expect("parses");
    assert_eq!(pending.access_key_id(), AKID);
    let credential = store(AKID);
    let verified = pending.finish(credential.as_ref()).expect("verifies");
    assert_eq!(verified.principal, "alice");
}

/// Vectors from AWS's SigV4 test suite (docs.aws.amazon.com/general/latest/gr/
/// signature-v4-test-suite.html): credentials AKIDEXAMPLE, service `service`,
/// us-east-1, 2015-08-30T12:36:00Z.
#[test]
fn aws_test_suite_vectors() {
    let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    let lookup = |akid: &str| {
        (akid == "AKIDEXAMPLE").then(|| Credential {
            principal: "example".to_owned(),
            secret_access_key: SecretAccessKey::new(secret),
            session_token: None,
        })
    };
    let verifier = SigV4Verifier::new("service");
    let now = at("20150830T123600Z");
    /// (query, extra headers, signed headers, published signature)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: [Case; 3] = [
        (
            "",
            &[],
            "host;x-amz-date",
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ),
        (
            "Param2=value2&Param1=value1",
            &[],
            "host;x-amz-date",
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ),
        (
            "",
            &[
                ("My-Header1", "value2"),
                ("My-Header1", "value2"),
                ("My-Header1", "value1"),
            ],
            "host;my-header1;x-amz-date",
            "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
        ),
    ];
    for (query, extra, signed, signature) in cases {
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders={signed}, Signature={signature}"
        );
        let mut headers = vec![
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", "20150830T123600Z"),
            ("Authorization", authorization.as_str()),
        ];
        headers.extend_from_slice(extra);
        let req = SignedRequest {
            method: "GET",
            path: "/",
            query,
            headers: &headers,
            payload: Payload::Bytes(b""),
        };
        let verified = verifier.verify(&req, now, &lookup);
        assert!(verified.is_ok(), "{query} {signed}: {verified:?}");
    }
}

#[test]
fn canonical_pieces() {
    assert_eq!(normalize_path(""), "/");
    assert_eq!(normalize_path("/a/./b/../c//d/"), "/a/c/d/");
    assert_eq!(normalize_path("/a/.."), "/");
    assert_eq!(
        uri_encode(normalize_path("/a%20b/~x").as_bytes(), false),
        "/a%2520b/~x"
    );
    assert_eq!(trim_all("  a   b  "), "a b");
    assert_eq!(percent_decode("a+b%2Fc%zz%4"), b"a b/c%zz%4".to_vec());
    let q = parse_query("b=2&a=x%2Fy&a=1&flag");
    assert_eq!(canonical_query(&q, false), "a=1&a=x%2Fy&b=2&flag=");
}

#[test]
fn dates() {
    for s in [
        "19700101T000000Z",
        "20261121T003000Z",
        "20240229T235959Z",
        "21000301T120000Z",
    ] {
        let secs = parse_amz_date(s).expect("parses");
        assert_eq!(format_amz_date(secs), s);
    }
    assert_eq!(parse_amz_date("20261121T000000Z").ok(), Some(1_795_219_200));
    assert!(parse_amz_date("20261321T000000Z").is_err());
    assert!(parse_amz_date("2026112T000000Z").is_err());
    assert_eq!(
        http_date_to_amz("Sat, 21 Nov 2026 00:30:00 GMT").as_deref(),
        Some("20261121T003000Z")
    );
    assert_eq!(http_date_to_amz("yesterday"), None);
}

//! A minimal AWS Signature Version 4 signer for the one request shape the control plane
//! sends to a Kinesis endpoint as a caller: `POST /`, no query, a JSON body. The
//! verifier is `weir_auth::SigV4Verifier`; a unit test checks the two agree.

use std::time::SystemTime;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// What is signed.
pub(crate) struct Request<'a> {
    /// `host[:port]` the request goes to.
    pub host: &'a str,
    /// `X-Amz-Target`.
    pub target: &'a str,
    /// `Content-Type`.
    pub content_type: &'a str,
    /// The body.
    pub body: &'a [u8],
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return Vec::new(),
    };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// `YYYYMMDDTHHMMSSZ` for seconds since the epoch (UTC).
pub(crate) fn amz_date(seconds: u64) -> String {
    weir_auth::sigv4::format_amz_date(seconds)
}

/// The headers to add (`x-amz-date`, `authorization`) so the request verifies as signed
/// by `access_key_id` for the `kinesis` service in `region`.
pub(crate) fn sign(
    request: &Request<'_>,
    access_key_id: &str,
    secret: &str,
    region: &str,
    now: SystemTime,
) -> Vec<(&'static str, String)> {
    let date = amz_date(crate::rest_browse::unix_seconds(now));
    let day = &date[..8];
    let signed_headers = "content-type;host;x-amz-date;x-amz-target";
    let canonical = format!(
        "POST\n/\n\ncontent-type:{}\nhost:{}\nx-amz-date:{date}\nx-amz-target:{}\n\n{signed_headers}\n{}",
        request.content_type,
        request.host,
        request.target,
        hex(&Sha256::digest(request.body)),
    );
    let scope = format!("{day}/{region}/kinesis/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), day.as_bytes());
    for part in [region, "kinesis", "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let signature = hex(&hmac(&key, to_sign.as_bytes()));
    vec![
        ("x-amz-date", date),
        (
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={access_key_id}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_auth::{Credential, Payload, SecretAccessKey, SigV4Verifier, SignedRequest};

    #[test]
    fn dates_are_utc_civil_dates() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(951_782_400), "20000229T000000Z");
        assert_eq!(amz_date(1_700_000_000), "20231114T221320Z");
    }

    #[test]
    fn the_verifier_accepts_what_is_signed_and_nothing_else() {
        let now = SystemTime::now();
        let body = br#"{"StreamName":"s"}"#;
        let request = Request {
            host: "127.0.0.1:4567",
            target: "Kinesis_20131202.GetShardIterator",
            content_type: "application/x-amz-json-1.1",
            body,
        };
        let added = sign(&request, "WKIAEXAMPLE000000000", "s3cret", "us-east-1", now);
        let verify = |secret: &str, body: &[u8]| {
            let mut headers = vec![
                ("host", request.host),
                ("content-type", request.content_type),
                ("x-amz-target", request.target),
            ];
            headers.extend(added.iter().map(|(k, v)| (*k, v.as_str())));
            let signed = SignedRequest {
                method: "POST",
                path: "/",
                query: "",
                headers: &headers,
                payload: Payload::Bytes(body),
            };
            let credential = Credential {
                principal: "alice".into(),
                secret_access_key: SecretAccessKey::new(secret),
                session_token: None,
            };
            SigV4Verifier::new("kinesis").verify(&signed, now, &|_: &str| Some(credential.clone()))
        };
        assert_eq!(
            verify("s3cret", body).map(|v| v.principal).ok(),
            Some("alice".into())
        );
        assert!(verify("wrong", body).is_err());
        assert!(verify("s3cret", b"{}").is_err());
    }
}

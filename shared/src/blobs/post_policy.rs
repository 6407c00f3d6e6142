//! Browser-based S3 upload policies signed with AWS Signature Version 4.
//!
//! A presigned PUT cannot bound the object's size, but a POST policy can (`content-length-range`), so uploads use
//! a signed policy that pins the bucket, key, exact content type, size range and expiry. See AWS's
//! "Browser-Based Uploads Using POST (AWS Signature Version 4)".

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use time::OffsetDateTime;
use time::macros::format_description;

/// The only algorithm S3 accepts for SigV4 POST policies.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// What to sign.
#[derive(Clone, Debug)]
pub struct PolicyInput<'a> {
    /// Bucket the form posts to.
    pub bucket: &'a str,
    /// The one object key the form may write.
    pub key: &'a str,
    /// The exact `Content-Type` the form must send.
    pub content_type: &'a str,
    /// Smallest accepted size in bytes.
    pub min_bytes: u64,
    /// Largest accepted size in bytes.
    pub max_bytes: u64,
    /// Region of the bucket (part of the credential scope).
    pub region: &'a str,
    /// Access key id of the signing credentials.
    pub access_key_id: &'a str,
    /// Secret of the signing credentials; never leaves this module except as a signature.
    pub secret_access_key: &'a str,
    /// Session token of temporary credentials (Lambda's role), which the form must then carry.
    pub session_token: Option<&'a str>,
    /// Signing time (the `x-amz-date`).
    pub now: OffsetDateTime,
    /// When the policy stops being accepted.
    pub expires_at: OffsetDateTime,
}

/// A signed policy: the form fields to send before the `file` part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedPolicy {
    /// Form fields by name: key, Content-Type, policy, x-amz-* and the signature.
    pub fields: BTreeMap<String, String>,
}

/// Builds the policy document, base64s it and signs it.
pub fn sign(input: &PolicyInput<'_>) -> Result<SignedPolicy, time::error::Format> {
    let date = input
        .now
        .format(format_description!("[year][month][day]"))?;
    let amz_date = input.now.format(format_description!(
        "[year][month][day]T[hour][minute][second]Z"
    ))?;
    let expiration = input.expires_at.format(format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    ))?;
    let credential = format!(
        "{}/{date}/{}/s3/aws4_request",
        input.access_key_id, input.region
    );
    let mut conditions: Vec<Value> = vec![
        json!({ "bucket": input.bucket }),
        json!(["eq", "$key", input.key]),
        json!(["eq", "$Content-Type", input.content_type]),
        json!(["content-length-range", input.min_bytes, input.max_bytes]),
        json!({ "x-amz-algorithm": ALGORITHM }),
        json!({ "x-amz-credential": credential }),
        json!({ "x-amz-date": amz_date }),
    ];
    if let Some(token) = input.session_token {
        conditions.push(json!({ "x-amz-security-token": token }));
    }
    let policy = json!({ "expiration": expiration, "conditions": conditions });
    let policy_b64 = STANDARD.encode(policy.to_string());
    let key = signing_key(input.secret_access_key, &date, input.region, "s3");
    let signature = hex::encode(hmac(&key, policy_b64.as_bytes()));

    let mut fields = BTreeMap::new();
    fields.insert("key".to_string(), input.key.to_string());
    fields.insert("Content-Type".to_string(), input.content_type.to_string());
    fields.insert("policy".to_string(), policy_b64);
    fields.insert("x-amz-algorithm".to_string(), ALGORITHM.to_string());
    fields.insert("x-amz-credential".to_string(), credential);
    fields.insert("x-amz-date".to_string(), amz_date);
    if let Some(token) = input.session_token {
        fields.insert("x-amz-security-token".to_string(), token.to_string());
    }
    fields.insert("x-amz-signature".to_string(), signature);
    Ok(SignedPolicy { fields })
}

/// The SigV4 signing key: HMAC chain over date (`yyyymmdd`), region, service and `aws4_request`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// Signs a base64 policy with a signing key (hex).
pub fn signature(signing_key: &[u8; 32], policy_b64: &str) -> String {
    hex::encode(hmac(signing_key, policy_b64.as_bytes()))
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so construction cannot fail.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any size"),
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn signing_key_matches_the_aws_known_answer() {
        // "Deriving the signing key" example from the AWS General Reference (SigV4).
        let key = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(key),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn policy_signature_matches_the_aws_post_example() {
        // The S3 API reference's SigV4 POST example (sigv4-post-example, 2013-08-06 edition).
        let policy = concat!(
            "eyAiZXhwaXJhdGlvbiI6ICIyMDEzLTA4LTA3VDEyOjAwOjAwLjAwMFoiLA0KI",
            "CAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJleGFtcGxlYnVja2V0In0sD",
            "QogICAgWyJzdGFydHMtd2l0aCIsICIka2V5IiwgInVzZXIvdXNlcjEvIl0sDQogICAge",
            "yJhY2wiOiAicHVibGljLXJlYWQifSwNCiAgICB7InN1Y2Nlc3NfYWN0aW9uX3JlZGlyZ",
            "WN0IjogImh0dHA6Ly9leGFtcGxlYnVja2V0LnMzLmFtYXpvbmF3cy5jb20vc3VjY2Vzc",
            "2Z1bF91cGxvYWQuaHRtbCJ9LA0KICAgIFsic3RhcnRzLXdpdGgiLCAiJENvbnRlbnQtV",
            "HlwZSIsICJpbWFnZS8iXSwNCiAgICB7IngtYW16LW1ldGEtdXVpZCI6ICIxNDM2NTEyM",
            "zY1MTI3NCJ9LA0KICAgIFsic3RhcnRzLXdpdGgiLCAiJHgtYW16LW1ldGEtdGFnIiwgI",
            "iJdLA0KDQogICAgeyJ4LWFtei1jcmVkZW50aWFsIjogIkFLSUFJT1NGT0ROTjdFWEFNU",
            "ExFLzIwMTMwODA2L3VzLWVhc3QtMS9zMy9hd3M0X3JlcXVlc3QifSwNCiAgICB7IngtY",
            "W16LWFsZ29yaXRobSI6ICJBV1M0LUhNQUMtU0hBMjU2In0sDQogICAgeyJ4LWFtei1kY",
            "XRlIjogIjIwMTMwODA2VDAwMDAwMFoiIH0NCiAgXQ0KfQ==",
        );
        let key = signing_key(
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "20130806",
            "us-east-1",
            "s3",
        );
        assert_eq!(
            signature(&key, policy),
            "21496b44de44ccb73d545f1a995c68214c9cb0d41c45a17a5daeec0b1a6db047"
        );
    }

    fn input(token: Option<&'static str>) -> PolicyInput<'static> {
        PolicyInput {
            bucket: "media",
            key: "uploads/a.png",
            content_type: "image/png",
            min_bytes: 1,
            max_bytes: 1000,
            region: "eu-west-1",
            access_key_id: "AKID",
            secret_access_key: "SECRET",
            session_token: token,
            now: datetime!(2024-02-03 04:05:06.789 UTC),
            expires_at: datetime!(2024-02-03 04:20:06 UTC),
        }
    }

    #[test]
    fn policy_pins_every_condition_and_signs_what_it_sends() {
        let signed = sign(&input(Some("TOKEN"))).unwrap();
        let f = &signed.fields;
        let policy: Value =
            serde_json::from_slice(&STANDARD.decode(&f["policy"]).unwrap()).unwrap();
        assert_eq!(policy["expiration"], "2024-02-03T04:20:06.000Z");
        let conditions = policy["conditions"].as_array().unwrap();
        for expected in [
            json!({"bucket": "media"}),
            json!(["eq", "$key", "uploads/a.png"]),
            json!(["eq", "$Content-Type", "image/png"]),
            json!(["content-length-range", 1, 1000]),
            json!({"x-amz-algorithm": "AWS4-HMAC-SHA256"}),
            json!({"x-amz-credential": "AKID/20240203/eu-west-1/s3/aws4_request"}),
            json!({"x-amz-date": "20240203T040506Z"}),
            json!({"x-amz-security-token": "TOKEN"}),
        ] {
            assert!(
                conditions.contains(&expected),
                "missing {expected} in {conditions:?}"
            );
        }
        assert_eq!(
            f["x-amz-credential"],
            "AKID/20240203/eu-west-1/s3/aws4_request"
        );
        assert_eq!(f["x-amz-security-token"], "TOKEN");
        let key = signing_key("SECRET", "20240203", "eu-west-1", "s3");
        assert_eq!(f["x-amz-signature"], signature(&key, &f["policy"]));
    }

    #[test]
    fn no_token_no_token_field() {
        let signed = sign(&input(None)).unwrap();
        assert!(!signed.fields.contains_key("x-amz-security-token"));
        assert!(
            !STANDARD
                .decode(&signed.fields["policy"])
                .map(|p| String::from_utf8_lossy(&p).contains("security-token"))
                .unwrap()
        );
    }
}

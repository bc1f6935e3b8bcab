//! Message signing per the [Standard Webhooks] specification: `v1,` + base64 of
//! HMAC-SHA256(secret, `"{id}.{timestamp}.{body}"`), and its constant-time check. Shared by
//! the client (signed deliveries, `crate::webhook`) and the simulator (the webhooks it
//! sends), and owned by neither.
//!
//! [Standard Webhooks]: https://www.standardwebhooks.com/

use base64::prelude::{BASE64_STANDARD, Engine as _};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::sanitize::clean;

type HmacSha256 = Hmac<Sha256>;

/// Prefix of secrets in the spec's format; the rest is base64.
pub const SECRET_PREFIX: &str = "whsec_";

/// The key bytes of a configured secret: base64-decoded after a `whsec_` prefix, otherwise
/// the string's UTF-8 bytes. A `whsec_` secret whose rest is not valid base64 is used as raw
/// bytes, whole; [`WebhookTarget::new`] rejects such secrets so that never happens silently.
pub fn secret_bytes(s: &str) -> Vec<u8> {
    s.strip_prefix(SECRET_PREFIX)
        .and_then(|b64| BASE64_STANDARD.decode(b64).ok())
        .unwrap_or_else(|| s.as_bytes().to_vec())
}

/// HMAC-SHA256 keyed with `secret`.
fn keyed(secret: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this never takes the fallback; the fallback
    // derives the key block by hand (RFC 2104 §2) and gives the same MAC, which keeps the
    // function total without a panic path.
    HmacSha256::new_from_slice(secret).unwrap_or_else(|_| HmacSha256::new(&rfc2104_key(secret)))
}

/// The HMAC-SHA256 key block for `secret`: hashed if longer than a block, zero-padded.
fn rfc2104_key(secret: &[u8]) -> hmac::digest::Key<HmacSha256> {
    let mut block = hmac::digest::Key::<HmacSha256>::default();
    if secret.len() > block.len() {
        let digest = Sha256::digest(secret);
        block[..digest.len()].copy_from_slice(&digest);
    } else {
        block[..secret.len()].copy_from_slice(secret);
    }
    block
}

fn mac_of(secret: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = keyed(secret);
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `webhook-signature` value for one message: `v1,<base64 HMAC-SHA256>` over
/// `"{msg_id}.{timestamp}.{body}"`.
pub fn sign(secret: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = mac_of(secret, msg_id, timestamp, body)
        .finalize()
        .into_bytes();
    format!("v1,{}", BASE64_STANDARD.encode(tag))
}

/// The three Standard Webhooks headers of a received message, as strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedHeaders<'a> {
    /// `webhook-id`
    pub id: &'a str,
    /// `webhook-timestamp`
    pub timestamp: &'a str,
    /// `webhook-signature`: one or more space-separated `v<n>,<base64>` signatures.
    pub signature: &'a str,
}

/// Why a received message was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the webhook-id header is missing or empty")]
    MissingId,
    #[error("webhook-timestamp {0:?} is not a whole number of seconds since 1970")]
    BadTimestamp(String),
    #[error(
        "webhook-timestamp is {age} s old, more than the {tolerance} s allowed; the message is stale or replayed"
    )]
    TooOld { age: i64, tolerance: i64 },
    #[error(
        "webhook-timestamp is {ahead} s in the future, more than the {tolerance} s allowed; check the sender's clock"
    )]
    TooNew { ahead: i64, tolerance: i64 },
    #[error("the webhook-signature header holds no v1 signature")]
    NoSignature,
    #[error(
        "no v1 signature matches: the secret differs, or the body or headers were changed on the way"
    )]
    Mismatch,
}

/// Check a received message: the timestamp must be within `tolerance_secs` of `now` (Unix
/// seconds; the spec suggests 300), and one of the `v1` signatures must match. Signatures
/// are compared in constant time.
pub fn verify(
    secret: &[u8],
    headers: &SignedHeaders<'_>,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    if headers.id.is_empty() {
        return Err(VerifyError::MissingId);
    }
    let timestamp: i64 = headers
        .timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp(clean(headers.timestamp)))?;
    let tolerance = tolerance_secs.max(0);
    let age = now.saturating_sub(timestamp);
    if age > tolerance {
        return Err(VerifyError::TooOld { age, tolerance });
    }
    if -age > tolerance {
        return Err(VerifyError::TooNew {
            ahead: -age,
            tolerance,
        });
    }
    let mac = mac_of(secret, headers.id, timestamp, body);
    let mut any_v1 = false;
    for candidate in headers.signature.split_whitespace() {
        let Some(b64) = candidate.strip_prefix("v1,") else {
            continue;
        };
        any_v1 = true;
        let Ok(tag) = BASE64_STANDARD.decode(b64) else {
            continue;
        };
        if mac.clone().verify_slice(&tag).is_ok() {
            return Ok(());
        }
    }
    Err(if any_v1 {
        VerifyError::Mismatch
    } else {
        VerifyError::NoSignature
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TS: i64 = 1614265330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    /// HMAC-SHA256 from its definition, H((K ^ opad) || H((K ^ ipad) || m)), with no use of
    /// the hmac crate.
    fn hmac_by_hand(key: &[u8], message: &[u8]) -> Vec<u8> {
        let mut block = [0u8; 64];
        if key.len() > 64 {
            block[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let ipad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
        let opad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
        let inner = Sha256::digest([ipad.as_slice(), message].concat());
        Sha256::digest([opad.as_slice(), inner.as_slice()].concat()).to_vec()
    }

    #[test]
    fn the_spec_example_signs_as_published() {
        let key = secret_bytes(SPEC_SECRET);
        assert_eq!(sign(&key, SPEC_ID, SPEC_TS, SPEC_BODY), SPEC_SIGNATURE);

        let signed = format!("{SPEC_ID}.{SPEC_TS}.").into_bytes();
        let by_hand = hmac_by_hand(&key, &[signed.as_slice(), SPEC_BODY].concat());
        assert_eq!(
            format!("v1,{}", BASE64_STANDARD.encode(by_hand)),
            SPEC_SIGNATURE
        );

        let headers = SignedHeaders {
            id: SPEC_ID,
            timestamp: "1614265330",
            signature: SPEC_SIGNATURE,
        };
        assert_eq!(verify(&key, &headers, SPEC_BODY, SPEC_TS + 10, 300), Ok(()));
    }

    #[test]
    fn keys_of_any_length_match_the_rfc_derivation() {
        for len in [0usize, 3, 32, 64, 65, 200] {
            let key: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let via_crate = keyed(&key).chain_update(b"m").finalize().into_bytes();
            let via_block = HmacSha256::new(&rfc2104_key(&key))
                .chain_update(b"m")
                .finalize()
                .into_bytes();
            assert_eq!(via_crate, via_block, "key length {len}");
            assert_eq!(
                via_crate.to_vec(),
                hmac_by_hand(&key, b"m"),
                "key length {len}"
            );
        }
    }

    #[test]
    fn secret_formats() {
        assert_eq!(secret_bytes("whsec_AAEC"), vec![0, 1, 2]);
        assert_eq!(secret_bytes("plain secret"), b"plain secret".to_vec());
        assert_eq!(secret_bytes("whsec_!!"), b"whsec_!!".to_vec());
    }

    #[test]
    fn verify_rejects_what_it_should() {
        let key = secret_bytes(SPEC_SECRET);
        let ok = SignedHeaders {
            id: SPEC_ID,
            timestamp: "1614265330",
            signature: SPEC_SIGNATURE,
        };
        let check = |h: &SignedHeaders<'_>, body: &[u8], now: i64| verify(&key, h, body, now, 300);

        assert_eq!(
            check(&ok, br#"{"test": 2432232315}"#, SPEC_TS),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(
                &SignedHeaders {
                    id: "msg_other",
                    ..ok
                },
                SPEC_BODY,
                SPEC_TS
            ),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(&ok, SPEC_BODY, SPEC_TS + 301),
            Err(VerifyError::TooOld {
                age: 301,
                tolerance: 300
            })
        );
        assert_eq!(
            check(&ok, SPEC_BODY, SPEC_TS - 301),
            Err(VerifyError::TooNew {
                ahead: 301,
                tolerance: 300
            })
        );
        assert!(matches!(
            check(
                &SignedHeaders {
                    timestamp: "soon",
                    ..ok
                },
                SPEC_BODY,
                SPEC_TS
            ),
            Err(VerifyError::BadTimestamp(_))
        ));
        assert_eq!(
            check(&SignedHeaders { id: "", ..ok }, SPEC_BODY, SPEC_TS),
            Err(VerifyError::MissingId)
        );
        assert_eq!(
            check(
                &SignedHeaders {
                    signature: "v2,abc",
                    ..ok
                },
                SPEC_BODY,
                SPEC_TS
            ),
            Err(VerifyError::NoSignature)
        );
        let several = format!("v1,AAAA v2,zzz v1,%%% {SPEC_SIGNATURE}");
        assert_eq!(
            check(
                &SignedHeaders {
                    signature: &several,
                    ..ok
                },
                SPEC_BODY,
                SPEC_TS
            ),
            Ok(())
        );
        assert_eq!(
            verify(b"another key", &ok, SPEC_BODY, SPEC_TS, 300),
            Err(VerifyError::Mismatch)
        );
    }
}

//! Conditional reads (RFC 9110 §8.8.3, §13.1.2): every `200` JSON answer to a `GET` or `HEAD`
//! carries a strong `ETag` computed from its body, and a read whose `If-None-Match` matches
//! that tag is answered `304 Not Modified` without a body. Other methods and statuses pass
//! through untouched.

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};

/// The strong entity tag of a body: the first 16 hex digits of its SHA-256, quoted.
pub fn etag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", &hex::encode(digest)[..16])
}

/// Whether `If-None-Match` field values match `etag` (a quoted entity tag): `*` matches any,
/// otherwise any member of the comma-separated list whose opaque tag equals it under the weak
/// comparison (`W/"x"` matches `"x"`). Parsing stops at the first malformed member.
pub fn none_match(values: &[&str], etag: &str) -> bool {
    let ours = etag.strip_prefix("W/").unwrap_or(etag);
    values.iter().any(|v| {
        let mut rest = v.trim_start_matches([' ', '\t', ',']);
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('*') {
                return after.trim_start_matches([' ', '\t']).is_empty()
                    || after.trim_start().starts_with(',');
            }
            let tag = rest.strip_prefix("W/").unwrap_or(rest);
            let Some(close) = tag.get(1..).and_then(|t| t.find('"')) else {
                return false;
            };
            if !tag.starts_with('"') {
                return false;
            }
            if &tag[..close + 2] == ours {
                return true;
            }
            rest = tag[close + 2..].trim_start_matches([' ', '\t', ',']);
        }
        false
    })
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || mime.ends_with("+json")
}

/// Middleware: the `ETag` of a `200` JSON read, and `304` when `If-None-Match` matches it.
pub async fn conditional(req: Request, next: Next) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return next.run(req).await;
    }
    let wanted: Vec<String> = req
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    let resp = next.run(req).await;
    if resp.status() != StatusCode::OK || !is_json(resp.headers()) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    // Every JSON answer is already whole in memory; reading it again costs a copy at most.
    let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let etag = match parts.headers.get(header::ETAG) {
        Some(tag) => tag.to_str().unwrap_or_default().to_string(),
        None => {
            let tag = etag_of(&bytes);
            if let Ok(v) = HeaderValue::from_str(&tag) {
                parts.headers.insert(header::ETAG, v);
            }
            tag
        }
    };
    let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
    if !none_match(&wanted, &etag) {
        return Response::from_parts(parts, Body::from(bytes));
    }
    parts.status = StatusCode::NOT_MODIFIED;
    // The representation's own metadata goes with its body; Content-Location stays (§15.4.5).
    let dropped: Vec<header::HeaderName> = parts
        .headers
        .keys()
        .filter(|k| k.as_str().starts_with("content-") && *k != header::CONTENT_LOCATION)
        .cloned()
        .collect();
    for name in dropped {
        parts.headers.remove(name);
    }
    // A body of unknown length: an empty one of known length would make the router add
    // `Content-Length: 0`, which a 304 must not claim (RFC 9110 §8.6).
    let empty = futures::stream::empty::<Result<Bytes, std::io::Error>>();
    Response::from_parts(parts, Body::from_stream(empty))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_are_strong_quoted_and_follow_the_body() {
        let a = etag_of(b"{\"items\":[]}");
        assert_eq!(a.len(), 18);
        assert!(a.starts_with('"') && a.ends_with('"'));
        assert_eq!(a, etag_of(b"{\"items\":[]}"));
        assert_ne!(a, etag_of(b"{\"items\":[1]}"));
    }

    #[test]
    fn if_none_match_lists_weak_tags_and_the_wildcard() {
        let t = "\"abc\"";
        assert!(none_match(&["\"abc\""], t));
        assert!(none_match(&["W/\"abc\""], t));
        assert!(none_match(&["\"x\", W/\"abc\""], t));
        assert!(none_match(&["\"x\",\"abc\""], t));
        assert!(none_match(&["\"x\"", "\"abc\""], t), "several header lines");
        assert!(none_match(&["*"], t));
        assert!(none_match(&[" * "], t));
        assert!(!none_match(&["\"abcd\""], t));
        assert!(!none_match(&["abc"], t), "an unquoted tag is malformed");
        assert!(
            !none_match(&["w/\"abc\""], t),
            "the weak prefix is case-sensitive"
        );
        assert!(!none_match(&[""], t));
        assert!(!none_match(&[], t));
        assert!(
            !none_match(&["\"a,b\""], "\"a\""),
            "a comma inside a tag is part of it"
        );
        assert!(none_match(&["\"a,b\", \"abc\""], t));
        assert!(!none_match(&["\"abc"], t), "an unterminated tag");
    }
}

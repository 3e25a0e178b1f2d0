//! Card numbers (PANs) in free text, by the rule of SPEC §10.
//!
//! A candidate is a maximal run of 13–19 digits in which consecutive digits
//! may be separated by one space or one dash; it is a card number when it
//! passes the Luhn check. Runs of 20 or more digits are not candidates, so
//! long ids and hashes do not trip it.
//!
//! ```
//! use rampart::pci::{contains_card_number, find_card_numbers};
//!
//! assert!(contains_card_number("card 4111 1111 1111 1111 exp 12/29"));
//! assert!(!contains_card_number("order 4111111111111112"));   // not Luhn-valid
//! assert_eq!(find_card_numbers("x4111-1111-1111-1111").len(), 1);
//! ```

use std::ops::Range;

/// The Luhn checksum over ASCII digits.
pub fn luhn_valid(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// Byte ranges of every card number in `text`.
pub fn find_card_numbers(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    let mut digits = Vec::with_capacity(19);
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        // A maximal run starting at i.
        let start = i;
        digits.clear();
        let mut end = i;
        while end < bytes.len() {
            let b = bytes[end];
            if b.is_ascii_digit() {
                digits.push(b);
                end += 1;
            } else if (b == b' ' || b == b'-')
                && end + 1 < bytes.len()
                && bytes[end + 1].is_ascii_digit()
                && end > start
            {
                end += 1;
            } else {
                break;
            }
        }
        if (13..=19).contains(&digits.len()) && luhn_valid(&digits) {
            found.push(start..end);
        }
        i = end.max(i + 1);
    }
    found
}

/// Whether `text` holds a card number.
pub fn contains_card_number(text: &str) -> bool {
    !find_card_numbers(text).is_empty()
}

/// Whether any string or number anywhere in a JSON value holds a card number.
pub fn json_contains_card_number(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::String(s) => contains_card_number(s),
        Value::Number(n) => contains_card_number(&n.to_string()),
        Value::Array(items) => items.iter().any(json_contains_card_number),
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| contains_card_number(k) || json_contains_card_number(v)),
        Value::Bool(_) | Value::Null => false,
    }
}

/// Told about every request refused for carrying card data (the audit
/// hook); never given the value.
pub trait CardDataHook: Clone + Send + Sync + 'static {
    /// A request to `path` was refused; `parts` has its extensions
    /// (request id, client address).
    fn refused(&self, parts: &http::request::Parts)
    -> impl std::future::Future<Output = ()> + Send;
}

/// Layer refusing (422) any JSON request body that contains a card number
/// anywhere (SPEC §6): before any handler or log sees it. Bodies are read up
/// to `max_bytes` (larger is 413); other content types pass untouched.
#[derive(Debug, Clone)]
pub struct CardGuardLayer<H> {
    hook: H,
    max_bytes: usize,
}

impl<H> CardGuardLayer<H> {
    /// Refusals are reported to `hook`.
    pub fn new(hook: H, max_bytes: usize) -> Self {
        Self { hook, max_bytes }
    }
}

impl<H: Clone, S> tower::Layer<S> for CardGuardLayer<H> {
    type Service = CardGuard<H, S>;

    fn layer(&self, inner: S) -> Self::Service {
        CardGuard {
            inner,
            hook: self.hook.clone(),
            max_bytes: self.max_bytes,
        }
    }
}

/// The service of [`CardGuardLayer`].
#[derive(Debug, Clone)]
pub struct CardGuard<H, S> {
    inner: S,
    hook: H,
    max_bytes: usize,
}

impl<H, S> tower::Service<axum::extract::Request> for CardGuard<H, S>
where
    H: CardDataHook,
    S: tower::Service<axum::extract::Request, Response = axum::response::Response>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = axum::response::Response;
    type Error = S::Error;
    type Future = futures_util::future::Either<
        S::Future,
        futures_util::future::BoxFuture<'static, Result<Self::Response, S::Error>>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: axum::extract::Request) -> Self::Future {
        use axum::response::IntoResponse;
        use futures_util::future::Either;
        use http_body_util::BodyExt;

        if !crate::input::is_json_content_type(req.headers()) {
            return Either::Left(self.inner.call(req));
        }
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let hook = self.hook.clone();
        let max = self.max_bytes;
        Either::Right(Box::pin(async move {
            let (parts, body) = req.into_parts();
            let bytes = match http_body_util::Limited::new(body, max).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(e) => {
                    let status = if e
                        .downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some()
                    {
                        http::StatusCode::PAYLOAD_TOO_LARGE
                    } else {
                        http::StatusCode::BAD_REQUEST
                    };
                    return Ok(crate::problem::Problem::new(status).into_response());
                }
            };
            // Malformed JSON is the handler's to refuse (400); the guard
            // only needs to see what parses.
            if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes)
                && json_contains_card_number(&value)
            {
                hook.refused(&parts).await;
                return Ok(crate::problem::Problem::typed(
                    http::StatusCode::UNPROCESSABLE_ENTITY,
                    "urn:rampart:problem:card-data",
                    "Card data is not accepted",
                )
                .with_detail("Card numbers may not be sent to this API; use a payment token.")
                .into_response());
            }
            inner
                .call(axum::extract::Request::from_parts(
                    parts,
                    axum::body::Body::from(bytes),
                ))
                .await
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_by_the_rule() {
        let cases = [
            ("plain visa", "4111111111111111", true),
            ("spaces", "4111 1111 1111 1111", true),
            ("dashes", "4111-1111-1111-1111", true),
            ("embedded", "pay with4111111111111111now", true),
            ("amex 15", "378282246310005", true),
            ("not luhn", "4111111111111112", false),
            ("12 digits", "411111111113", false),
            ("20 digits", "41111111111111111113", false),
            ("double space", "4111  1111 1111 1111", false),
            ("phone", "+1 (555) 010-0000", false),
            ("amount", "19.99", false),
            ("order id", "order 123456", false),
        ];
        for (name, text, expected) in cases {
            assert_eq!(contains_card_number(text), expected, "case {name}");
        }
    }

    #[test]
    fn json_values_are_scanned_everywhere() {
        let cases = [
            (
                "nested",
                serde_json::json!({"a": {"b": ["x", "4111 1111 1111 1111"]}}),
                true,
            ),
            (
                "number",
                serde_json::json!({"n": 4111111111111111u64}),
                true,
            ),
            ("key", serde_json::json!({"4111111111111111": 1}), true),
            (
                "clean",
                serde_json::json!({"phone": "+1 555 0100", "amount": "19.99", "id": 1234567890123456u64}),
                false,
            ),
        ];
        for (name, value, expected) in cases {
            assert_eq!(json_contains_card_number(&value), expected, "case {name}");
        }
    }

    proptest::proptest! {
        /// A Luhn-valid number embedded anywhere in letters is found.
        #[test]
        fn embedded_numbers_are_found(prefix in "[a-zA-Z ]{0,20}", suffix in "[a-zA-Z ]{0,20}", body in proptest::collection::vec(0u8..10, 12..18)) {
            let mut digits: Vec<u8> = body.iter().map(|d| b'0' + d).collect();
            // Append the Luhn check digit.
            let check = (0..10u8).find(|c| { let mut d = digits.clone(); d.push(b'0' + c); luhn_valid(&d) }).unwrap();
            digits.push(b'0' + check);
            let number = String::from_utf8(digits).unwrap();
            let text = format!("{prefix}{number}{suffix}");
            proptest::prop_assert!(contains_card_number(&text), "{text}");
        }
    }
}

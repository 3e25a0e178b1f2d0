//! Card numbers (PANs) in free text, in any script.
//!
//! Threat: a card number slipped into a field, a file name, a header or a
//! query string, written so that a scanner looking for ASCII digits misses
//! it (fullwidth `４１１１…`, Arabic-Indic `٤١١١…`, mathematical bold,
//! no-break spaces, en dashes, zero-width spaces between the digits).
//!
//! Rule: a candidate is a maximal run of 13–19 decimal digits — of any
//! script (Unicode category Nd) — in which consecutive digits may be
//! separated by one separator (white space of any kind, a dash (Pd), an
//! underscore or other connector (Pc), the minus sign), with any number of
//! invisible characters (format characters Cf, non-spacing marks Mn)
//! anywhere between them; it is a card number when it passes the Luhn
//! check. Runs of 20 or more digits are not
//! candidates, so long ids and hashes do not trip it.
//!
//! ```
//! use rampart::pci::{contains_card_number, find_card_numbers};
//!
//! assert!(contains_card_number("card 4111 1111 1111 1111 exp 12/29"));
//! assert!(contains_card_number("４１１１１１１１１１１１１１１１"));  // fullwidth
//! assert!(contains_card_number("4111\u{a0}1111\u{200b}1111–1111"));
//! assert!(!contains_card_number("order 4111111111111112"));   // not Luhn-valid
//! assert_eq!(find_card_numbers("x4111-1111-1111-1111").len(), 1);
//! ```

use std::ops::Range;

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory as _};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// A decimal digit of any script, with its value.
    Digit(u8),
    /// A visible space or dash.
    Separator,
    /// An invisible format character (zero-width space, joiner, soft hyphen…).
    Invisible,
    Other,
}

fn is_decimal(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && c.general_category() == GeneralCategory::DecimalNumber)
}

fn classify(c: char) -> Class {
    if c.is_ascii_digit() {
        return Class::Digit(c as u8 - b'0');
    }
    if c.is_ascii() {
        return if matches!(c, ' ' | '-' | '_' | '\t' | '\n' | '\r') {
            Class::Separator
        } else {
            Class::Other
        };
    }
    if c.is_whitespace() || c == '\u{2212}' {
        // Line and paragraph separators, the minus sign.
        return Class::Separator;
    }
    match c.general_category() {
        GeneralCategory::DecimalNumber => Class::Digit(decimal_value(c)),
        GeneralCategory::SpaceSeparator
        | GeneralCategory::DashPunctuation
        | GeneralCategory::ConnectorPunctuation => Class::Separator,
        // Invisible between digits: format characters (zero-width space,
        // joiners, soft hyphen) and non-spacing marks (variation selectors).
        GeneralCategory::Format | GeneralCategory::NonspacingMark => Class::Invisible,
        _ => Class::Other,
    }
}

/// The value of a non-ASCII decimal digit. Unicode assigns Nd digits in
/// contiguous runs of ten starting at zero, so a digit's value is its
/// distance from the start of its block of consecutive Nd characters,
/// modulo ten.
fn decimal_value(c: char) -> u8 {
    let mut start = c as u32;
    while let Some(prev) = start.checked_sub(1).and_then(char::from_u32)
        && is_decimal(prev)
    {
        start -= 1;
    }
    ((c as u32 - start) % 10) as u8
}

/// Byte ranges of every card number in `text`.
pub fn find_card_numbers(text: &str) -> Vec<Range<usize>> {
    // Fast path for the common case (ids, short ASCII values): fewer than
    // 13 digits cannot hold a card number.
    if text.is_ascii() && text.bytes().filter(u8::is_ascii_digit).count() < 13 {
        return Vec::new();
    }
    let chars: Vec<(usize, char, Class)> = text
        .char_indices()
        .map(|(i, c)| (i, c, classify(c)))
        .collect();
    let mut found = Vec::new();
    let mut digits = Vec::with_capacity(19);
    let mut i = 0;
    while i < chars.len() {
        if !matches!(chars[i].2, Class::Digit(_)) {
            i += 1;
            continue;
        }
        // A maximal run starting at i.
        digits.clear();
        let start = chars[i].0;
        let mut last = i;
        let mut j = i;
        while j < chars.len() {
            let Class::Digit(d) = chars[j].2 else { break };
            digits.push(b'0' + d);
            last = j;
            // What may follow: invisibles and at most one visible separator,
            // then another digit.
            let mut k = j + 1;
            let mut visible = 0;
            while k < chars.len() {
                match chars[k].2 {
                    Class::Invisible => k += 1,
                    Class::Separator if visible == 0 => {
                        visible += 1;
                        k += 1;
                    }
                    _ => break,
                }
            }
            if k < chars.len() && matches!(chars[k].2, Class::Digit(_)) {
                j = k;
            } else {
                break;
            }
        }
        let end = chars[last].0 + chars[last].1.len_utf8();
        if (13..=19).contains(&digits.len()) && luhn_valid(&digits) {
            found.push(start..end);
        }
        i = last + 1;
    }
    found
}

/// Whether `text` holds a card number.
pub fn contains_card_number(text: &str) -> bool {
    !find_card_numbers(text).is_empty()
}

/// Whether any key or value of a URL query string holds a card number
/// (after percent-decoding).
pub fn query_contains_card_number(query: &str) -> bool {
    form_urlencoded::parse(query.as_bytes())
        .any(|(k, v)| contains_card_number(&k) || contains_card_number(&v))
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

/// Layer refusing (422) any request whose path, query string, listed headers
/// ([`CardGuardLayer::with_headers`]) or JSON body contains a card number
/// anywhere: before any handler or log sees it. JSON bodies are read up to
/// `max_bytes` (larger is 413); other bodies pass untouched (a multipart
/// file name is the handler's to check, with [`contains_card_number`]).
#[derive(Debug, Clone)]
pub struct CardGuardLayer<H> {
    hook: H,
    max_bytes: usize,
    headers: std::sync::Arc<[http::HeaderName]>,
}

impl<H> CardGuardLayer<H> {
    /// Refusals are reported to `hook`.
    pub fn new(hook: H, max_bytes: usize) -> Self {
        Self {
            hook,
            max_bytes,
            headers: std::sync::Arc::new([]),
        }
    }

    /// Also scans these request headers (those the application stores or
    /// logs, such as `Idempotency-Key`).
    pub fn with_headers(mut self, headers: impl IntoIterator<Item = http::HeaderName>) -> Self {
        self.headers = headers.into_iter().collect();
        self
    }
}

impl<H: Clone, S> tower::Layer<S> for CardGuardLayer<H> {
    type Service = CardGuard<H, S>;

    fn layer(&self, inner: S) -> Self::Service {
        CardGuard {
            inner,
            hook: self.hook.clone(),
            max_bytes: self.max_bytes,
            headers: self.headers.clone(),
        }
    }
}

/// The service of [`CardGuardLayer`].
#[derive(Debug, Clone)]
pub struct CardGuard<H, S> {
    inner: S,
    hook: H,
    max_bytes: usize,
    headers: std::sync::Arc<[http::HeaderName]>,
}

fn refusal() -> axum::response::Response {
    use axum::response::IntoResponse;
    crate::problem::Problem::typed(
        http::StatusCode::UNPROCESSABLE_ENTITY,
        "urn:rampart:problem:card-data",
        "Card data is not accepted",
    )
    .with_detail("Card numbers may not be sent to this API; use a payment token.")
    .into_response()
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

        // The path too: `/users/4111111111111111/health` parses as an id
        // and its 403 would record the path.
        let in_path = contains_card_number(
            &percent_encoding::percent_decode_str(req.uri().path()).decode_utf8_lossy(),
        );
        let in_query = in_path || req.uri().query().is_some_and(query_contains_card_number);
        let in_headers = self.headers.iter().any(|name| {
            req.headers()
                .get_all(name)
                .iter()
                .any(|v| contains_card_number(&String::from_utf8_lossy(v.as_bytes())))
        });
        if in_query || in_headers {
            let hook = self.hook.clone();
            let (parts, _body) = req.into_parts();
            return Either::Right(Box::pin(async move {
                hook.refused(&parts).await;
                Ok(refusal())
            }));
        }
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
                return Ok(refusal());
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
            ("fullwidth", "４１１１１１１１１１１１１１１１", true),
            ("arabic-indic", "٤١١١١١١١١١١١١١١١", true),
            ("extended arabic-indic", "۴۱۱۱۱۱۱۱۱۱۱۱۱۱۱۱", true),
            ("devanagari", "४१११११११११११११११", true),
            ("bengali", "৪১১১১১১১১১১১১১১১", true),
            ("mathematical bold", "𝟒𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏", true),
            ("mathematical monospace", "𝟺𝟷𝟷𝟷𝟷𝟷𝟷𝟷𝟷𝟷𝟷𝟷𝟷𝟷𝟷𝟷", true),
            ("mixed scripts", "4111 １１１１ ١١١١ 1111", true),
            (
                "no-break spaces",
                "4111\u{a0}1111\u{a0}1111\u{a0}1111",
                true,
            ),
            (
                "thin spaces",
                "4111\u{2009}1111\u{2009}1111\u{2009}1111",
                true,
            ),
            ("en dashes", "4111–1111–1111–1111", true),
            (
                "zero-width spaces",
                "4\u{200b}1\u{200b}1\u{200b}1111111111111",
                true,
            ),
            (
                "soft hyphens and a space",
                "4111\u{ad} 1111 1111 1111",
                true,
            ),
            (
                "word joiners",
                "4111\u{2060}1111\u{2060}1111\u{2060}1111",
                true,
            ),
            (
                "fullwidth not luhn",
                "４１１１１１１１１１１１１１１２",
                false,
            ),
            (
                "20 fullwidth digits",
                "４１１１１１１１１１１１１１１１１１１３",
                false,
            ),
            ("superscripts are not decimal", "⁴¹¹¹¹¹¹¹¹¹¹¹¹¹¹¹", false),
            ("tabs", "4111\t1111\t1111\t1111", true),
            (
                "line separators",
                "4111\u{2028}1111\u{2028}1111\u{2028}1111",
                true,
            ),
            (
                "minus signs",
                "4111\u{2212}1111\u{2212}1111\u{2212}1111",
                true,
            ),
            ("underscores", "4111_1111_1111_1111", true),
            ("variation selectors", "4\u{fe0f}111111111111111", true),
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

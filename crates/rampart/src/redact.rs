//! One redaction function for logs and audit details alike.
//!
//! [`redact_text`] replaces, in free text: JSON Web Tokens, bearer
//! credentials, `password=…`/`secret=…`/`token=…` pairs, and card numbers
//! ([`crate::pci`]). [`redact_json`] replaces the values of sensitive keys
//! (password, secret, token, authorization, cookie, card number, cvv …)
//! wherever they are nested, and applies [`redact_text`] to every other
//! string.
//!
//! ```
//! use rampart::redact::redact_text;
//!
//! let line = "login by bob password=hunter2 with Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig card 4111 1111 1111 1111";
//! let clean = redact_text(line);
//! assert!(!clean.contains("hunter2") && !clean.contains("eyJ") && !clean.contains("4111"));
//! ```

use std::{borrow::Cow, sync::OnceLock};

use regex::Regex;
use serde_json::Value;

use crate::pci::find_card_numbers;

/// What replaces a redacted value.
pub const REDACTED: &str = "[REDACTED]";

const SENSITIVE_KEYS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "card",
    "cvv",
    "cvc",
    "pan",
    "api_key",
    "apikey",
    "private_key",
    "set-cookie",
];

/// Whether a JSON key or header name names a secret.
pub fn is_sensitive_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    SENSITIVE_KEYS.iter().any(|s| k.contains(s))
}

fn patterns() -> &'static [Regex; 3] {
    static P: OnceLock<[Regex; 3]> = OnceLock::new();
    P.get_or_init(|| {
        let compile = |p: &str| Regex::new(p).unwrap_or_else(|_| unreachable!("static pattern is valid"));
        [
            // JWTs: three base64url segments, the first a JSON header.
            compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),
            // Bearer / Basic credentials.
            compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"),
            // key=value or key: value for secret-looking keys.
            compile(r#"(?i)\b([a-z_]*(?:password|passwd|secret|token|api_?key)[a-z_]*)(["']?\s*[:=]\s*["']?)[^\s"',&;]+"#),
        ]
    })
}

/// Redacts secrets and card numbers in free text.
pub fn redact_text(text: &str) -> Cow<'_, str> {
    let [jwt, credential, pair] = patterns();
    let mut out: Cow<'_, str> = Cow::Borrowed(text);
    if jwt.is_match(&out) {
        out = Cow::Owned(jwt.replace_all(&out, REDACTED).into_owned());
    }
    if credential.is_match(&out) {
        out = Cow::Owned(
            credential
                .replace_all(&out, format!("$1 {REDACTED}"))
                .into_owned(),
        );
    }
    if pair.is_match(&out) {
        out = Cow::Owned(
            pair.replace_all(&out, format!("$1$2{REDACTED}"))
                .into_owned(),
        );
    }
    let cards = find_card_numbers(&out);
    if !cards.is_empty() {
        let mut s = String::with_capacity(out.len());
        let mut last = 0;
        for r in cards {
            s.push_str(&out[last..r.start]);
            s.push_str(REDACTED);
            last = r.end;
        }
        s.push_str(&out[last..]);
        out = Cow::Owned(s);
    }
    out
}

/// Redacts a JSON value in place (see the [module docs](self)).
pub fn redact_json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_sensitive_key(k) && !v.is_null() {
                    *v = Value::String(REDACTED.to_owned());
                } else {
                    redact_json(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        Value::String(s) => {
            if let Cow::Owned(clean) = redact_text(s) {
                *s = clean;
            }
        }
        Value::Number(n) => {
            let text = n.to_string();
            if !find_card_numbers(&text).is_empty() {
                *value = Value::String(REDACTED.to_owned());
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn free_text_loses_every_secret() {
        let cases = [
            (
                "jwt",
                "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln here",
                "c2ln",
            ),
            ("bearer", "Authorization: Bearer abc.def-ghi", "abc.def-ghi"),
            ("password pair", "password=hunter2&user=bob", "hunter2"),
            ("json-ish pair", r#""new_password": "hunter2""#, "hunter2"),
            ("pan", "card 4111-1111-1111-1111 ok", "4111"),
        ];
        for (name, text, secret) in cases {
            let clean = redact_text(text);
            assert!(!clean.contains(secret), "case {name}: {clean}");
            assert!(clean.contains(REDACTED), "case {name}: {clean}");
        }
        assert_eq!(
            redact_text("nothing to see, order 42"),
            "nothing to see, order 42"
        );
    }

    #[test]
    fn json_keys_and_nested_strings_are_redacted() {
        let mut v = json!({
            "username": "bob",
            "password": "hunter2",
            "nested": {"refresh_token": "abc", "note": "pay 4111111111111111"},
            "list": [{"card_number": "4111111111111111"}],
            "pan_number": 4111111111111111u64,
            "amount": 1999
        });
        redact_json(&mut v);
        let text = v.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("abc") && !text.contains("4111"),
            "{text}"
        );
        assert_eq!(v["username"], "bob");
        assert_eq!(v["amount"], 1999);
    }
}

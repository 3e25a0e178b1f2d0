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

pub mod guard;

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

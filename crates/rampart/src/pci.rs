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
    sum % 10 == 0
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

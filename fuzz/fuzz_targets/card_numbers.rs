//! `cargo +nightly fuzz run card_numbers` (from the repository root).
//!
//! The scanner must never panic, every range it reports must be a Luhn-valid
//! run of 13–19 digits, and redaction must remove every reported number.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart::{pci, redact};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for range in pci::find_card_numbers(text) {
        let digits: Vec<u8> = text[range].bytes().filter(u8::is_ascii_digit).collect();
        assert!((13..=19).contains(&digits.len()));
        assert!(pci::luhn_valid(&digits));
    }
    let clean = redact::redact_text(text);
    assert!(!pci::contains_card_number(&clean) || clean.contains(redact::REDACTED));
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
        let _ = pci::json_contains_card_number(&value);
    }
});

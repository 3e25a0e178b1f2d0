//! Fuzz targets on stable Rust: property-based (proptest) harnesses that
//! feed arbitrary bytes and hostile structured inputs to every parser an
//! attacker reaches, and check that nothing panics and each keeps its
//! promise.
//!
//! A plain test run tries `RAMPART_FUZZ_CASES` cases per target (default
//! 256). `scripts/test` runs them with more cases (tens of seconds each);
//! a longer run: `RAMPART_FUZZ_CASES=1000000 cargo test -p rampart --test
//! fuzz --release`. A failing input is shrunk and saved by proptest under
//! `crates/rampart/tests/fuzz.proptest-regressions`, and replayed first on
//! every later run: commit that file with the fix, it is the regression
//! case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{net::IpAddr, time::Duration};

use proptest::prelude::*;
use rampart::{
    client_ip::{TrustedProxies, canonical, resolve},
    input::parse_json,
    jwt::{JwtService, KeyRing},
    pci::{contains_card_number, find_card_numbers},
    redact::redact_text,
    secrets::{ExposeSecret as _, dotenv},
    upload::{UploadPolicy, UploadRejection, store_upload},
};

fn config() -> ProptestConfig {
    let cases = std::env::var("RAMPART_FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        // Shrinking a failure must not take longer than finding it.
        max_shrink_time: 30_000,
        ..ProptestConfig::default()
    }
}

/// Text an attacker would send: any Unicode, and pieces of JSON, card
/// numbers in several scripts, separators and control characters.
fn hostile_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        any::<String>(),
        Just("4111111111111111".to_owned()),
        Just("４１１１ １１１１ １１１１ １１１１".to_owned()),
        Just("٤١١١١١١١١١١١١١١١".to_owned()),
        Just("\u{200b}".to_owned()),
        Just("\u{a0}".to_owned()),
        Just("–".to_owned()),
        Just("\0".to_owned()),
        Just("\u{1b}[31m".to_owned()),
        Just("{\"a\":".to_owned()),
        Just("[".to_owned()),
        Just("}".to_owned()),
        Just("\"".to_owned()),
        Just("\\u0000".to_owned()),
        Just("Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.x".to_owned()),
        "[0-9 -]{1,30}",
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|p| p.concat())
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Body {
    username: String,
    password: String,
    bio: Option<String>,
    tags: Option<Vec<String>>,
    n: Option<u32>,
}

/// Whether any string or key in `v` holds a control character other than
/// tab and newline.
fn has_forbidden_control(v: &serde_json::Value) -> bool {
    use serde_json::Value;
    let bad = |s: &str| s.chars().any(rampart::input::is_forbidden_control);
    match v {
        Value::String(s) => bad(s),
        Value::Array(items) => items.iter().any(has_forbidden_control),
        Value::Object(map) => map.iter().any(|(k, v)| bad(k) || has_forbidden_control(v)),
        _ => false,
    }
}

proptest! {
    #![proptest_config(config())]

    /// A known card number between letters, in any of several scripts and
    /// separators, is found and redacted (the positive control for the
    /// scanner's own no-panic property below).
    #[test]
    fn planted_card_numbers_are_found(
        before in "[a-zA-Z .,]{0,20}",
        after in "[a-zA-Z .,]{0,20}",
        number in prop_oneof![
            Just("4111111111111111"),
            Just("4111 1111 1111 1111"),
            Just("5500-0000-0000-0004"),
            Just("４１１１１１１１１１１１１１１１"),
            Just("٤١١١١١١١١١١١١١١١"),
            Just("4111\u{a0}1111\u{200b}1111–1111"),
            Just("378282246310005"),
        ],
    ) {
        let text = format!("{before}{number}{after}");
        prop_assert!(contains_card_number(&text), "{text}");
        let redacted = redact_text(&text);
        prop_assert!(!contains_card_number(&redacted), "{redacted}");
        prop_assert!(!redacted.contains(number), "{redacted}");
    }

    /// A signed token verifies; any change to one of its bytes is refused.
    #[test]
    fn jwt_tampering(position in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let service = JwtService::new(
            KeyRing::hs256(b"a-thirty-two-byte-long-fuzzing-key!!").unwrap(),
            "rampart",
            "rampart-api",
            Duration::from_secs(60),
        );
        let token = service.issue("42", None, None).unwrap().token;
        prop_assert!(service.verify(&token).is_ok());
        let mut bytes = token.clone().into_bytes();
        let i = position.index(bytes.len());
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        if let Ok(tampered) = String::from_utf8(bytes) {
            // The last character of a base64url segment can carry unused
            // bits; a change there may decode to the same bytes, which is
            // the same token.
            if let Ok(claims) = service.verify(&tampered) {
                prop_assert_eq!(claims.sub, "42");
                let segment_end = i + 1 == token.len() || token.as_bytes().get(i + 1) == Some(&b'.');
                prop_assert!(segment_end, "{tampered} verified");
            }
        }
    }

    /// The strict JSON extractor never panics; what it accepts is an
    /// object without control characters (other than tab and newline).
    #[test]
    fn strict_json(bytes in proptest::collection::vec(any::<u8>(), 0..512), text in hostile_text()) {
        for input in [bytes.as_slice(), text.as_bytes()] {
            let _ = parse_json::<serde_json::Value>(input);
            if let Ok(v) = parse_json::<serde_json::Value>(input) {
                prop_assert!(v.is_object());
                prop_assert!(!has_forbidden_control(&v), "{v}");
            }
            let _ = parse_json::<Body>(input);
        }
        let wrapped = format!("{{\"username\":{},\"password\":\"p\"}}", serde_json::Value::String(text.clone()));
        match parse_json::<Body>(wrapped.as_bytes()) {
            Ok(b) => prop_assert!(!b.username.chars().any(rampart::input::is_forbidden_control)),
            Err(_) => prop_assert!(text.chars().any(rampart::input::is_forbidden_control)),
        }
    }

    /// The card scanner never panics, its ranges fall on character
    /// boundaries and hold a card number, and redaction leaves none behind.
    #[test]
    fn card_numbers_and_redaction(text in hostile_text()) {
        for range in find_card_numbers(&text) {
            prop_assert!(text.is_char_boundary(range.start) && text.is_char_boundary(range.end));
            prop_assert!(contains_card_number(&text[range]));
        }
        let redacted = redact_text(&text);
        prop_assert!(!contains_card_number(&redacted), "{redacted}");
    }

    /// X-Forwarded-For resolution never panics, and the client is the peer
    /// or an address that appears in the header.
    #[test]
    fn forwarded_for(values in proptest::collection::vec(hostile_text(), 0..4), peer in any::<[u8; 4]>()) {
        let trusted = TrustedProxies::new(["10.0.0.0/8", "127.0.0.1/32"]).unwrap();
        let listed: Vec<IpAddr> = values
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter_map(|e| {
                e.parse::<IpAddr>()
                    .ok()
                    .or_else(|| e.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
            })
            .map(canonical)
            .collect();
        for peer in [IpAddr::from([127, 0, 0, 1]), IpAddr::from(peer)] {
            let client = resolve(peer, values.iter().map(String::as_str), &trusted);
            if trusted.contains(canonical(peer)) {
                prop_assert!(client == canonical(peer) || listed.contains(&client), "{client} from {values:?}");
            } else {
                // An untrusted peer's header is never believed.
                prop_assert_eq!(client, canonical(peer), "spoofed by {:?}", values);
            }
        }
    }

    /// JWT verification of arbitrary bytes (and of forged three-part
    /// tokens) refuses without panicking.
    #[test]
    fn jwt_verification(token in hostile_text(), parts in proptest::collection::vec("[A-Za-z0-9_-]{0,80}", 3)) {
        let service = JwtService::new(
            KeyRing::hs256(b"a-thirty-two-byte-long-fuzzing-key!!").unwrap(),
            "rampart",
            "rampart-api",
            Duration::from_secs(60),
        );
        prop_assert!(service.verify(&token).is_err());
        prop_assert!(service.verify(&parts.join(".")).is_err());
    }

    /// The upload validator never panics and never leaves a file behind
    /// when it refuses; what it accepts matches the extension's type.
    #[test]
    fn upload_validation(
        name in prop_oneof![hostile_text(), "[a-z]{1,8}\\.(png|jpg|gif|pdf|exe|PNG)"],
        magic in prop_oneof![
            Just(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec()),
            Just(b"%PDF-1.7\n".to_vec()),
            Just(b"GIF89a".to_vec()),
            Just(Vec::new()),
        ],
        rest in proptest::collection::vec(any::<u8>(), 0..2048),
        chunk in 1usize..512,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = magic;
        bytes.extend(rest);
        let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = bytes
            .chunks(chunk)
            .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
            .collect();
        let stream = futures_util::stream::iter(chunks);
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let policy = UploadPolicy::images_and_pdf(1024);
        let outcome = runtime.block_on(store_upload(stream, &name, dir.path(), &policy));
        let left = std::fs::read_dir(dir.path()).unwrap().count();
        match outcome {
            Ok(stored) => {
                prop_assert_eq!(left, 1);
                prop_assert!(stored.size <= 1024 && stored.size > 0);
                // What is accepted is the type its extension names.
                let ext = name.rsplit('.').next().unwrap_or_default().to_ascii_lowercase();
                let expected = match ext.as_str() {
                    "png" => "image/png",
                    "jpg" | "jpeg" => "image/jpeg",
                    "gif" => "image/gif",
                    "pdf" => "application/pdf",
                    other => return Err(TestCaseError::fail(format!("accepted .{other}"))),
                };
                prop_assert_eq!(stored.content_type, expected);
            }
            Err(UploadRejection::Io(e)) => prop_assert!(false, "io error {e}"),
            Err(_) => prop_assert_eq!(left, 0, "a refused upload left a file"),
        }
    }

    /// The `.env` reader never panics and never puts a value in its error.
    #[test]
    fn dotenv_reader(lines in proptest::collection::vec((
        "[A-Z_]{1,12}",
        prop_oneof![Just("=".to_owned()), Just("=\"".to_owned()), Just("='".to_owned()), Just(" ".to_owned())],
        "[a-z0-9]{6,20}",
        prop_oneof![Just("".to_owned()), Just("\"".to_owned()), Just("\\".to_owned())],
    ), 0..8)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        let text: String = lines.iter().map(|(k, op, v, end)| format!("{k}{op}{v}{end}\n")).collect();
        std::fs::write(&path, &text).unwrap();
        match dotenv::read(&path) {
            Ok(pairs) => {
                for (_, v) in pairs {
                    let _ = v.expose_secret();
                }
            }
            Err(e) => {
                let shown = e.to_string();
                for (_, _, value, _) in &lines {
                    prop_assert!(!shown.contains(value.as_str()), "{shown} shows {value}");
                }
            }
        }
    }
}

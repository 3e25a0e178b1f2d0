//! Text a client sends: usernames, emails, passwords, profile fields,
//! single lines; and the collector of field errors.

use std::fmt;

use rampart::{input::sanitize_html, password::check_strength, problem::FieldError};

/// Usernames nobody may register, matched as whole names in any case.
const RESERVED_USERNAMES: &[&str] = &["admin", "root", "system", "api"];

/// The prefix erasure gives usernames (`deleted_<id>`).
pub const ERASED_PREFIX: &str = "deleted_";

/// The domain erasure gives emails (`deleted_<id>@erased.invalid`).
pub const ERASED_DOMAIN: &str = "@erased.invalid";

/// 3–50 of `[A-Za-z0-9_]`, not reserved (nor beginning `deleted_`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Parses a username.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let len = s.chars().count();
        if !(3..=50).contains(&len) {
            return Err("must be 3 to 50 characters");
        }
        if !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err("may contain only letters, digits and underscores");
        }
        // `deleted_<id>` is what erasure renames an account to: a live
        // account of that name would make user <id>'s erasure collide.
        if RESERVED_USERNAMES.iter().any(|r| r.eq_ignore_ascii_case(s))
            || s.get(..ERASED_PREFIX.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(ERASED_PREFIX))
        {
            return Err("is reserved");
        }
        Ok(Self(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `s` has the shape of a username (3–50 of `[A-Za-z0-9_]`),
    /// reserved or not: only such a name can belong to an account.
    pub fn fits_grammar(s: &str) -> bool {
        (3..=50).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    }
}

/// A syntactically valid email address of at most 254 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Parses an email address.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let s = s.trim();
        if s.len() > 254
            || s.chars().any(char::is_control)
            || !email_address::EmailAddress::is_valid(s)
        {
            return Err("is not a valid email address");
        }
        let erased = s.len() >= ERASED_DOMAIN.len()
            && s.get(s.len() - ERASED_DOMAIN.len()..)
                .is_some_and(|d| d.eq_ignore_ascii_case(ERASED_DOMAIN));
        if erased {
            return Err("uses a reserved domain");
        }
        Ok(Self(s.to_owned()))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password that passed the strength rules. Never printed.
pub struct Password(secrecy::SecretString);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([REDACTED])")
    }
}

impl Password {
    /// Checks length and strength; `context` are the user's other inputs.
    pub fn parse(s: &str, context: &[&str]) -> Result<Self, String> {
        check_strength(s, context).map_err(|w| w.0)?;
        Ok(Self(s.to_owned().into()))
    }

    /// The secret, for hashing.
    pub fn into_secret(self) -> secrecy::SecretString {
        self.0
    }
}

/// An absolute http(s) URL of at most 2048 characters.
pub fn parse_website(s: &str) -> Result<String, &'static str> {
    // The URL parser silently drops tabs and newlines: refuse them first.
    single_line(s)?;
    let url = url::Url::parse(s.trim()).map_err(|_| "must be an absolute http(s) URL")?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() || s.len() > 2048 {
        return Err("must be an absolute http(s) URL");
    }
    let stored = url.to_string();
    if rampart::pci::contains_card_number(&stored) {
        return Err("must not contain a card number");
    }
    Ok(stored)
}

/// At most 500 characters, sanitised to `p br strong em`. The rules on
/// control characters and card numbers apply to what is stored too: the
/// sanitiser decodes entities (`&#27;`, `&#52;`) and drops tags between
/// digits.
pub fn parse_bio(s: &str) -> Result<String, &'static str> {
    if s.chars().count() > 500 {
        return Err("must be at most 500 characters");
    }
    let clean = sanitize_html(s);
    if clean.chars().any(rampart::input::is_forbidden_control) {
        return Err("must not contain control characters");
    }
    if rampart::pci::contains_card_number(&clean) {
        return Err("must not contain a card number");
    }
    Ok(clean)
}

/// Free text of at most `max` characters without control characters.
pub fn parse_text(s: &str, max: usize) -> Result<String, String> {
    if s.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if s.chars().any(char::is_control) {
        return Err("must not contain control characters".to_owned());
    }
    Ok(s.trim().to_owned())
}

/// Multi-line free text (an address, notes) of at most `max` characters:
/// newlines and tabs allowed, other control characters not.
pub fn parse_multiline(s: &str, max: usize) -> Result<String, String> {
    if s.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if s.chars().any(rampart::input::is_forbidden_control) {
        return Err("must not contain control characters".to_owned());
    }
    Ok(s.trim().to_owned())
}

/// A single-line value: no control characters at all (no tab or newline).
pub fn single_line(s: &str) -> Result<&str, &'static str> {
    if s.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    Ok(s)
}

/// Digits, spaces and `+ ( ) - .`, at most 32 characters.
pub fn parse_phone(s: &str) -> Result<String, &'static str> {
    let ok = s.len() <= 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b" +()-.".contains(&b));
    if !ok || !s.bytes().any(|b| b.is_ascii_digit()) {
        return Err("must be a phone number (digits, spaces, + ( ) - .)");
    }
    Ok(s.trim().to_owned())
}

/// Collects field errors while parsing several fields, so a 422 reports
/// every invalid field at once.
#[derive(Debug, Default)]
pub struct Errors(pub Vec<FieldError>);

impl Errors {
    /// Keeps the value or records the error under `field`.
    pub fn check<T, E: fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(FieldError::new(field, e.to_string()));
                None
            }
        }
    }

    /// `Ok(value)` when no error was recorded.
    pub fn finish<T>(self, value: impl FnOnce() -> Option<T>) -> Result<T, Vec<FieldError>> {
        if self.0.is_empty() {
            value().ok_or_else(|| vec![FieldError::new("body", "is invalid")])
        } else {
            Err(self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        let cases = [
            ("ok", "alice_01", true),
            ("short", "al", false),
            ("long", &"a".repeat(51), false),
            ("dash", "al-ice", false),
            ("unicode", "alïce", false),
            ("reserved", "Admin", false),
            ("reserved root", "ROOT", false),
            ("contains reserved", "administrator", true),
            ("erasure form", "deleted_12", false),
            ("erasure form any case", "DELETED_x", false),
            ("erasure word inside", "undeleted_1", true),
        ];
        for (name, input, ok) in cases {
            assert_eq!(Username::parse(input).is_ok(), ok, "case {name}");
        }
    }

    #[test]
    fn websites_and_phones() {
        assert!(parse_website("https://example.com/me").is_ok());
        assert!(parse_website("javascript:alert(1)").is_err());
        assert!(parse_website("example.com").is_err());
        assert!(parse_phone("+1 (555) 010-0000").is_ok());
        assert!(parse_phone("call me").is_err());
    }
}

//! Password strength rules: length and a zxcvbn score.

/// Minimum length in characters.
pub const MIN_LENGTH: usize = 12;
/// Maximum length in characters (bounds hashing work and memory).
pub const MAX_LENGTH: usize = 128;

/// Why a password is too weak, in words fit for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeakPassword(pub String);

/// Checks length (12–128 characters) and a zxcvbn score of at least 3;
/// `user_inputs` (username, email…) count as known words.
///
/// ```
/// use rampart::password::check_strength;
///
/// assert!(check_strength("vivid-otter-carpet-91", &["alice"]).is_ok());
/// assert!(check_strength("alicealice123", &["alice"]).is_err());
/// ```
pub fn check_strength(password: &str, user_inputs: &[&str]) -> Result<(), WeakPassword> {
    let chars = password.chars().count();
    if chars < MIN_LENGTH {
        return Err(WeakPassword(format!(
            "must be at least {MIN_LENGTH} characters"
        )));
    }
    if chars > MAX_LENGTH {
        return Err(WeakPassword(format!(
            "must be at most {MAX_LENGTH} characters"
        )));
    }
    let entropy = zxcvbn::zxcvbn(password, user_inputs);
    if u8::from(entropy.score()) < 3 {
        let hint = entropy
            .feedback()
            .and_then(zxcvbn::feedback::Feedback::warning)
            .map(|w| format!(": {w}"))
            .unwrap_or_default();
        return Err(WeakPassword(format!("is too easy to guess{hint}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strength_rules() {
        let cases = [
            ("short", "Xy7!short", false),
            ("common", "password1234", false),
            ("keyboard", "qwertyuiopasdf", false),
            ("username and digits", "alicealice123", false),
            ("long", &"Ab1!".repeat(33), false),
            ("strong", "vivid-otter-carpet-91", true),
        ];
        for (name, pw, ok) in cases {
            assert_eq!(check_strength(pw, &["alice"]).is_ok(), ok, "case {name}");
        }
    }
}

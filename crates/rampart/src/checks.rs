//! Production-configuration findings, like Django's `check --deploy`.
//!
//! The application runs its own checks and collects [`Finding`]s into a
//! [`Report`]; each finding has a stable id (for suppression lists and
//! dashboards), a severity and one line of advice. [`Report::has_failures`]
//! decides whether a production process may start. The pure helpers
//! ([`secret_weakness`], …) encode rules every service shares.
//!
//! ```
//! use rampart::checks::{Finding, Report, Severity, secret_weakness};
//!
//! let mut report = Report::default();
//! if let Some(w) = secret_weakness(b"changeme", &[]) {
//!     report.push(Finding::error("secret_key.weak", format!("the secret key is {w}"), "generate 32+ random bytes"));
//! }
//! assert!(report.has_failures());
//! ```

use std::fmt;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Severity {
    /// Reported, does not stop a production start.
    Warning,
    /// Stops a production start; `check` exits 1.
    Error,
}

/// One problem found in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Stable identifier, e.g. `secret_key.short`.
    pub id: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong; never contains a secret value.
    pub message: String,
    /// One line of advice on fixing it.
    pub advice: &'static str,
}

impl Finding {
    /// An error-level finding.
    pub fn error(id: &'static str, message: impl Into<String>, advice: &'static str) -> Self {
        Self {
            id,
            severity: Severity::Error,
            message: message.into(),
            advice,
        }
    }

    /// A warning-level finding.
    pub fn warning(id: &'static str, message: impl Into<String>, advice: &'static str) -> Self {
        Self {
            id,
            severity: Severity::Warning,
            message: message.into(),
            advice,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "ERROR",
            Severity::Warning => "WARNING",
        };
        write!(
            f,
            "{level} {}: {} (hint: {})",
            self.id, self.message, self.advice
        )
    }
}

/// The findings of one run of the checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    findings: Vec<Finding>,
}

impl Report {
    /// Adds a finding.
    pub fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    /// Every finding, errors first, in the order found.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        let errors = self
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error);
        let warnings = self
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Warning);
        errors.chain(warnings)
    }

    /// True when any finding is an error.
    pub fn has_failures(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// True when a finding with `id` is present.
    pub fn contains(&self, id: &str) -> bool {
        self.findings.iter().any(|f| f.id == id)
    }

    /// True when there are no findings at all.
    pub fn is_empty(&self) -> bool {
        self.findings.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for finding in self.findings() {
            writeln!(f, "{finding}")?;
        }
        let errors = self
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        let warnings = self.findings.len() - errors;
        write!(f, "{errors} error(s), {warnings} warning(s)")
    }
}

/// Why a secret is unfit for production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Weakness {
    /// Shorter than 32 bytes.
    TooShort,
    /// Fewer than 8 distinct byte values.
    LowVariety,
    /// A well-known default or documentation example.
    KnownValue,
}

impl fmt::Display for Weakness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TooShort => "shorter than 32 bytes",
            Self::LowVariety => "made of fewer than 8 distinct bytes",
            Self::KnownValue => "a well-known default or example value",
        })
    }
}

/// Minimum length of a production secret, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// Defaults that appear in tutorials and sample configs, matched case-insensitively.
pub const COMMON_WEAK_SECRETS: &[&str] =
    &["secret", "changeme", "password", "super-secret-key-123"];

/// Checks a secret against the shared rules: a known value (from
/// [`COMMON_WEAK_SECRETS`] or `extra_known`, any case), shorter than
/// [`MIN_SECRET_BYTES`], or fewer than 8 distinct bytes.
pub fn secret_weakness(secret: &[u8], extra_known: &[&str]) -> Option<Weakness> {
    let known = COMMON_WEAK_SECRETS
        .iter()
        .chain(extra_known)
        .any(|k| k.as_bytes().eq_ignore_ascii_case(secret));
    if known {
        return Some(Weakness::KnownValue);
    }
    if secret.len() < MIN_SECRET_BYTES {
        return Some(Weakness::TooShort);
    }
    let mut seen = [false; 256];
    let distinct = secret
        .iter()
        .filter(|b| !std::mem::replace(&mut seen[usize::from(**b)], true))
        .count();
    (distinct < 8).then_some(Weakness::LowVariety)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_judged_by_the_shared_rules() {
        let cases: [(&str, &[u8], Option<Weakness>); 6] = [
            ("known, any case", b"ChangeMe", Some(Weakness::KnownValue)),
            (
                "extra known",
                b"example-value-from-the-readme-0123456789",
                Some(Weakness::KnownValue),
            ),
            ("short", b"short", Some(Weakness::TooShort)),
            ("repetitive", &[b'a'; 64], Some(Weakness::LowVariety)),
            (
                "seven distinct",
                b"abcdefgabcdefgabcdefgabcdefgabcdefg",
                Some(Weakness::LowVariety),
            ),
            ("good", b"q8Jr2m1XzP0vW7sLk3NfYb6TgHc9Ue4A", None),
        ];
        for (name, secret, expected) in cases {
            assert_eq!(
                secret_weakness(secret, &["example-value-from-the-readme-0123456789"]),
                expected,
                "case {name}"
            );
        }
    }

    #[test]
    fn a_report_fails_only_on_errors() {
        let mut r = Report::default();
        r.push(Finding::warning("a.warn", "w", "fix"));
        assert!(!r.has_failures());
        r.push(Finding::error("a.err", "e", "fix"));
        assert!(r.has_failures());
        assert_eq!(r.findings().next().map(|f| f.id), Some("a.err"));
        assert!(r.to_string().ends_with("1 error(s), 1 warning(s)"));
    }
}

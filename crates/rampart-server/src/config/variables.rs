//! The one table of the variables Rampart reads, by group. The parsers
//! name these variables in their errors; the tests below keep the table,
//! the parsers and the README's configuration table in step.

/// `(variable, group)` for every `RAMPART_*` variable, in the README's
/// order of groups.
pub const VARIABLES: &[(&str, &str)] = &[
    ("RAMPART_ENV", "settings"),
    ("RAMPART_DEBUG", "settings"),
    ("RAMPART_BIND", "http"),
    ("RAMPART_ADMIN_BIND", "http"),
    ("RAMPART_CORS_ORIGINS", "http"),
    ("RAMPART_ALLOWED_HOSTS", "http"),
    ("RAMPART_TRUSTED_PROXIES", "http"),
    ("RAMPART_MAX_BODY_BYTES", "http"),
    ("RAMPART_REQUEST_TIMEOUT_SECS", "http"),
    ("RAMPART_REDIS_URL", "limits"),
    ("RAMPART_RATE_LIMIT_PER_MIN", "limits"),
    ("RAMPART_SEARCH_LIMIT_PER_MIN", "limits"),
    ("RAMPART_RATE_LIMIT_FAIL_OPEN", "limits"),
    ("RAMPART_LOGIN_LOCKOUT_THRESHOLD", "limits"),
    ("RAMPART_LOGIN_IP_THRESHOLD", "limits"),
    ("RAMPART_LOGIN_LOCKOUT_BASE_SECS", "limits"),
    ("RAMPART_HASH_PERMITS", "limits"),
    ("RAMPART_HASH_QUEUE", "limits"),
    ("RAMPART_ACCESS_TOKEN_TTL_SECS", "sessions"),
    ("RAMPART_REFRESH_TOKEN_TTL_SECS", "sessions"),
    ("RAMPART_ALERT_WEBHOOK", "audit"),
    ("RAMPART_AUDIT_RETENTION_DAYS", "audit"),
    ("RAMPART_AUDIT_CHECKPOINT_DIR", "audit"),
    ("RAMPART_DATA_DIR", "storage"),
    ("RAMPART_DATABASE_URL", "storage"),
    ("RAMPART_MAX_UPLOAD_BYTES", "storage"),
    ("RAMPART_UPLOAD_QUOTA_BYTES", "storage"),
    ("RAMPART_SECRET_KEY", "secrets"),
    ("RAMPART_DATA_KEYS", "secrets"),
    ("RAMPART_AUDIT_SIGNING_KEY", "secrets"),
    ("RAMPART_SECRETS_PROVIDER", "secrets_source"),
    ("RAMPART_SECRETS_REFRESH_SECS", "secrets_source"),
    ("RAMPART_VAULT_ADDR", "secrets_source"),
    ("RAMPART_VAULT_MOUNT", "secrets_source"),
    ("RAMPART_VAULT_PATH", "secrets_source"),
    ("RAMPART_VAULT_TOKEN", "secrets_source"),
    ("RAMPART_VAULT_ROLE_ID", "secrets_source"),
    ("RAMPART_VAULT_SECRET_ID", "secrets_source"),
    ("RAMPART_VAULT_CACERT", "secrets_source"),
    ("RAMPART_AWS_SECRET_ID", "secrets_source"),
    ("RAMPART_PAYMENT_PROCESSOR_URL", "outbound"),
    ("RAMPART_DIAGNOSTICS_ALLOW_PRIVATE", "outbound"),
];

/// Whether `name` is a variable Rampart reads.
pub fn is_known(name: &str) -> bool {
    VARIABLES.iter().any(|(v, _)| *v == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The configuration sources, as text: every variable they name.
    const SOURCES: &[&str] = &[
        include_str!("mod.rs"),
        include_str!("provider.rs"),
        include_str!("keys.rs"),
        include_str!("dev_keys.rs"),
        include_str!("checks.rs"),
    ];

    fn named_in(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(i) = rest.find("RAMPART_") {
            let tail = &rest[i..];
            let end = tail
                .find(|c: char| !(c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit()))
                .unwrap_or(tail.len());
            // `RAMPART_VAULT_*` and the bare `RAMPART_` prefix name families.
            if !tail[..end].ends_with('_') {
                out.push(tail[..end].to_owned());
            }
            rest = &tail[end..];
        }
        out
    }

    #[test]
    fn every_variable_the_parsers_name_is_in_the_table() {
        for text in SOURCES {
            for name in named_in(text) {
                assert!(is_known(&name), "{name} is read but not in VARIABLES");
            }
        }
    }

    #[test]
    fn the_readme_documents_every_variable() {
        let readme = include_str!("../../../../README.md");
        for (name, _) in VARIABLES {
            assert!(readme.contains(name), "README.md does not document {name}");
        }
    }
}

//! Rampart's production checks (SPEC §1), run by `rampart check` and at
//! startup in production. Each finding has a stable id.

use std::path::{Component, Path};

use rampart::checks::{Finding, Report, Weakness, secret_weakness};
use secrecy::ExposeSecret;

use crate::config::{Environment, ProviderSpec, Settings};

/// Secret values shown as examples in this repository's documentation; they
/// are public, so they are as weak as `changeme`.
pub const DOCUMENTED_EXAMPLE_SECRETS: &[&str] = &[
    "replace-me-with-at-least-32-random-bytes",
    "example-secret-key-do-not-use-in-production",
];

/// Directory names that web servers conventionally serve as static files.
const SERVED_DIR_NAMES: &[&str] = &[
    "public", "static", "www", "htdocs", "html", "wwwroot", "webroot",
];

/// Runs every production check against `settings`.
pub fn production(settings: &Settings) -> Report {
    let mut report = Report::default();
    if settings.env != Environment::Production {
        report.push(Finding::warning(
            "env.not_production",
            "RAMPART_ENV is not production; these findings are what production would refuse",
            "set RAMPART_ENV=production on deployed instances",
        ));
    }
    let provider = &settings.secrets_source.spec;
    match (
        &settings.secrets.secret_key,
        settings.secrets_source.key_generated,
    ) {
        (None, _) => report.push(Finding::error(
            "secret_key.missing",
            format!("no secret key is configured (provider {provider})"),
            "set RAMPART_SECRET_KEY (or the provider's secret_key) to 32+ random bytes",
        )),
        (Some(_), true) => report.push(Finding::error(
            "secret_key.development",
            "the secret key is the generated development key",
            "configure a secret key through the secrets provider",
        )),
        (Some(key), false) => {
            if let Some(weakness) =
                secret_weakness(key.expose_secret().as_bytes(), DOCUMENTED_EXAMPLE_SECRETS)
            {
                let id = match weakness {
                    Weakness::TooShort => "secret_key.too_short",
                    Weakness::LowVariety => "secret_key.low_variety",
                    Weakness::KnownValue => "secret_key.known_value",
                    _ => "secret_key.weak",
                };
                report.push(Finding::error(
                    id,
                    format!("the secret key from provider {provider} is {weakness}"),
                    "generate one with `openssl rand -base64 48`",
                ));
            }
        }
    }
    if let Some(finding) = provider_transport(&settings.secrets_source.spec) {
        report.push(finding);
    }
    if let Some(finding) = database_transport(settings.storage.database_url.expose_secret()) {
        report.push(finding);
    }
    if settings.debug {
        report.push(Finding::error(
            "debug.enabled",
            "RAMPART_DEBUG is true: API docs and the OpenAPI document are public",
            "set RAMPART_DEBUG=false",
        ));
    }
    if settings.http.cors_origins.iter().any(|o| o == "*") {
        report.push(Finding::error(
            "cors.wildcard",
            "RAMPART_CORS_ORIGINS contains *",
            "list the exact origins of your front-ends",
        ));
    }
    if settings.http.allowed_hosts.is_empty() {
        report.push(Finding::error(
            "hosts.empty",
            "RAMPART_ALLOWED_HOSTS is empty: every request is refused",
            "list the host names clients use",
        ));
    }
    if settings.http.allowed_hosts.allows_any() {
        report.push(Finding::error(
            "hosts.wildcard",
            "RAMPART_ALLOWED_HOSTS contains *: Host-header attacks are not stopped",
            "list the exact host names clients use",
        ));
    }
    if settings.secrets.data_keys.is_none() {
        report.push(Finding::error(
            "data_keys.missing",
            format!("no PHI data key is configured (provider {provider})"),
            "set RAMPART_DATA_KEYS=v1:<base64 of 32 random bytes>",
        ));
    }
    if settings
        .storage
        .database_url
        .expose_secret()
        .starts_with("sqlite:")
        && settings.limits.redis_url.is_some()
    {
        report.push(Finding::warning(
            "deploy.sqlite_with_redis",
            "SQLite (one instance) is combined with Redis (several instances)",
            "use PostgreSQL for several instances, or drop RAMPART_REDIS_URL for one",
        ));
    }
    if settings.outbound.payment_processor_url.is_none() {
        report.push(Finding::warning(
            "payments.test_processor",
            "RAMPART_PAYMENT_PROCESSOR_URL is unset: in production payments answer 503 \
             (the built-in test processor serves development only)",
            "set RAMPART_PAYMENT_PROCESSOR_URL to your payment processor",
        ));
    }
    if settings
        .http
        .trusted_proxies
        .iter()
        .any(|net| net.prefix_len() == 0)
    {
        report.push(Finding::error(
            "proxies.trust_all",
            "RAMPART_TRUSTED_PROXIES trusts every address: any client can forge X-Forwarded-For",
            "list only your load balancers' addresses",
        ));
    }
    if is_served_path(&settings.storage.upload_dir()) {
        report.push(Finding::error(
            "uploads.served_path",
            format!(
                "the upload directory {} lies inside a directory web servers serve",
                settings.storage.upload_dir().display()
            ),
            "point RAMPART_DATA_DIR outside any public/static/www tree",
        ));
    }
    report
}

/// Vault over plain HTTP is allowed on loopback only (a local agent).
fn provider_transport(spec: &ProviderSpec) -> Option<Finding> {
    let ProviderSpec::Vault(vault) = spec else {
        return None;
    };
    let url = url::Url::parse(&vault.addr).ok()?;
    (url.scheme() == "http" && !is_loopback(&url)).then(|| {
        Finding::error(
            "secrets.vault_plaintext",
            "RAMPART_VAULT_ADDR is plain http to another host: the token and the secrets would cross the network unencrypted",
            "use https:// (RAMPART_VAULT_CACERT for a private CA)",
        )
    })
}

/// A PostgreSQL server on another host should be reached over verified
/// TLS (`sslmode=verify-full`, or at least `require`); the default `prefer`
/// falls back to plain text.
fn database_transport(database_url: &str) -> Option<Finding> {
    let url = url::Url::parse(database_url).ok()?;
    if !matches!(url.scheme(), "postgres" | "postgresql") || is_loopback(&url) {
        return None;
    }
    let tls = url.query_pairs().any(|(k, v)| {
        k == "sslmode" && matches!(v.as_ref(), "require" | "verify-ca" | "verify-full")
    });
    (!tls).then(|| {
        Finding::warning(
            "database.tls",
            "RAMPART_DATABASE_URL reaches PostgreSQL on another host without requiring TLS",
            "add ?sslmode=verify-full to the URL",
        )
    })
}

/// Whether `url` names this machine (or no host: a local socket).
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        None => true,
        // Non-special schemes (postgres://) keep IPv4 hosts as text.
        Some(url::Host::Domain(d)) => {
            d == "localhost"
                || d.parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
    }
}

fn is_served_path(path: &Path) -> bool {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    absolute.components().any(|c| match c {
        Component::Normal(name) => name
            .to_str()
            .is_some_and(|n| SERVED_DIR_NAMES.iter().any(|s| s.eq_ignore_ascii_case(n))),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Source;

    fn report(pairs: &[(&str, &str)]) -> Report {
        let mut all = vec![("RAMPART_ENV", "production")];
        all.extend_from_slice(pairs);
        production(&Settings::from_source(&Source::from_pairs(all)).unwrap())
    }

    const GOOD_KEY: &str = "q8Jr2m1XzP0vW7sLk3NfYb6TgHc9Ue4A-long-enough";
    const GOOD_DATA: &str = "v1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

    #[test]
    fn a_sound_production_configuration_passes() {
        let r = report(&[
            ("RAMPART_SECRET_KEY", GOOD_KEY),
            ("RAMPART_DATA_KEYS", GOOD_DATA),
            (
                "RAMPART_PAYMENT_PROCESSOR_URL",
                "https://payments.example.com",
            ),
        ]);
        assert!(r.is_empty(), "{r}");
    }

    #[test]
    fn production_without_a_payment_processor_is_warned_about() {
        let r = report(&[
            ("RAMPART_SECRET_KEY", GOOD_KEY),
            ("RAMPART_DATA_KEYS", GOOD_DATA),
        ]);
        assert!(r.contains("payments.test_processor"), "{r}");
        assert!(!r.has_failures(), "a warning, not a failure: {r}");
    }

    #[test]
    fn remote_postgres_should_require_tls() {
        let id = |url: &str| database_transport(url).map(|f| f.id);
        assert_eq!(
            id("postgres://u:p@db.internal/rampart"),
            Some("database.tls")
        );
        assert_eq!(
            id("postgresql://db.internal:5432/x?sslmode=prefer"),
            Some("database.tls")
        );
        assert_eq!(
            id("postgres://u:p@db.internal/rampart?sslmode=verify-full"),
            None
        );
        assert_eq!(id("postgres://u:p@127.0.0.1:5432/rampart"), None);
        assert_eq!(id("postgres://u:p@[::1]:5432/rampart"), None);
        assert_eq!(id("sqlite://./data/rampart.db"), None);
    }

    #[test]
    fn vault_over_plain_http_is_for_loopback_only() {
        let spec = |addr: &str| {
            ProviderSpec::parse(&Source::from_pairs([
                ("RAMPART_SECRETS_PROVIDER", "vault"),
                ("RAMPART_VAULT_ADDR", addr),
                ("RAMPART_VAULT_TOKEN", "t"),
            ]))
            .unwrap()
        };
        let id = |addr: &str| provider_transport(&spec(addr)).map(|f| f.id);
        assert_eq!(
            id("http://vault.internal:8200"),
            Some("secrets.vault_plaintext")
        );
        assert_eq!(id("http://10.0.0.5:8200"), Some("secrets.vault_plaintext"));
        assert_eq!(id("http://127.0.0.1:8200"), None);
        assert_eq!(id("https://vault.internal:8200"), None);
    }

    #[test]
    fn each_rule_has_its_finding() {
        let base = [
            ("RAMPART_SECRET_KEY", GOOD_KEY),
            ("RAMPART_DATA_KEYS", GOOD_DATA),
        ];
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, bool);
        let cases: &[Case] = &[
            (
                "short key",
                &[("RAMPART_SECRET_KEY", "short")],
                "secret_key.too_short",
                true,
            ),
            (
                "known key",
                &[("RAMPART_SECRET_KEY", "Super-Secret-Key-123")],
                "secret_key.known_value",
                true,
            ),
            (
                "doc key",
                &[("RAMPART_SECRET_KEY", DOCUMENTED_EXAMPLE_SECRETS[0])],
                "secret_key.known_value",
                true,
            ),
            (
                "repetitive key",
                &[("RAMPART_SECRET_KEY", &"ab".repeat(20))],
                "secret_key.low_variety",
                true,
            ),
            ("debug", &[("RAMPART_DEBUG", "true")], "debug.enabled", true),
            (
                "cors *",
                &[("RAMPART_CORS_ORIGINS", "*")],
                "cors.wildcard",
                true,
            ),
            (
                "hosts *",
                &[("RAMPART_ALLOWED_HOSTS", "*")],
                "hosts.wildcard",
                true,
            ),
            (
                "hosts empty",
                &[("RAMPART_ALLOWED_HOSTS", "")],
                "hosts.empty",
                true,
            ),
            (
                "proxies all",
                &[("RAMPART_TRUSTED_PROXIES", "10.0.0.1,0.0.0.0/0")],
                "proxies.trust_all",
                true,
            ),
            (
                "sqlite+redis",
                &[("RAMPART_REDIS_URL", "redis://127.0.0.1")],
                "deploy.sqlite_with_redis",
                false,
            ),
            (
                "served uploads",
                &[("RAMPART_DATA_DIR", "/var/www/html/data")],
                "uploads.served_path",
                true,
            ),
        ];
        for (name, pairs, id, fails) in cases {
            let mut all = base.to_vec();
            all.extend_from_slice(pairs);
            let r = report(&all);
            assert!(r.contains(id), "case {name}: {r}");
            assert_eq!(r.has_failures(), *fails, "case {name}: {r}");
        }
    }

    #[test]
    fn missing_secrets_fail_and_are_never_printed() {
        let r = report(&[]);
        assert!(
            r.contains("secret_key.missing") && r.contains("data_keys.missing"),
            "{r}"
        );
        let r = report(&[("RAMPART_SECRET_KEY", "hunter2-short")]);
        assert!(!r.to_string().contains("hunter2"), "{r}");
    }
}

//! `RAMPART_SECRETS_PROVIDER` and each provider's settings, and building
//! the provider they describe.

use std::{fmt, path::PathBuf, sync::Arc};

use rampart::secrets::{EnvProvider, FileProvider, Secret, SecretsProvider};

use super::{ConfigError, Source, invalid};

/// Which secrets provider `RAMPART_SECRETS_PROVIDER` chose, with its
/// settings (SPEC §8).
#[derive(Debug, Clone)]
pub enum ProviderSpec {
    /// `RAMPART_SECRET_KEY`, `RAMPART_DATA_KEYS`, `RAMPART_DATABASE_URL`,
    /// `RAMPART_AUDIT_SIGNING_KEY`.
    Env,
    /// Files `secret_key`, `data_keys`, `database_url`, `audit_signing_key`
    /// in a directory.
    File(PathBuf),
    /// HashiCorp Vault KV v2.
    Vault(VaultSpec),
    /// AWS Secrets Manager.
    Aws(AwsSpec),
}

/// `RAMPART_VAULT_*`.
#[derive(Debug, Clone)]
pub struct VaultSpec {
    /// `RAMPART_VAULT_ADDR`.
    pub addr: String,
    /// `RAMPART_VAULT_MOUNT`.
    pub mount: String,
    /// `RAMPART_VAULT_PATH`.
    pub path: String,
    /// `RAMPART_VAULT_TOKEN`.
    pub token: Option<Secret>,
    /// `RAMPART_VAULT_ROLE_ID` and `RAMPART_VAULT_SECRET_ID`.
    pub approle: Option<(Secret, Secret)>,
    /// `RAMPART_VAULT_CACERT`: a PEM file of an extra trusted CA.
    pub ca_cert: Option<PathBuf>,
}

/// `RAMPART_AWS_SECRET_ID` and the standard `AWS_*` overrides.
#[derive(Debug, Clone)]
pub struct AwsSpec {
    /// `RAMPART_AWS_SECRET_ID`.
    pub secret_id: String,
    /// `AWS_REGION` (else the standard chain).
    pub region: Option<String>,
    /// `AWS_ENDPOINT_URL`.
    pub endpoint_url: Option<String>,
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: Option<Secret>,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Option<Secret>,
    /// `AWS_SESSION_TOKEN`.
    pub session_token: Option<Secret>,
}

impl fmt::Display for ProviderSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env => f.write_str("env"),
            Self::File(dir) => write!(f, "file:{}", dir.display()),
            Self::Vault(_) => f.write_str("vault"),
            Self::Aws(_) => f.write_str("aws"),
        }
    }
}

impl ProviderSpec {
    /// Reads `RAMPART_SECRETS_PROVIDER` and the chosen provider's settings.
    pub fn parse(src: &Source) -> Result<Self, ConfigError> {
        const VAR: &str = "RAMPART_SECRETS_PROVIDER";
        let secret = |name: &str| src.get(name).map(|v| Secret::from(v.trim()));
        match src.get(VAR).map(str::trim) {
            None | Some("env") => Ok(Self::Env),
            Some(p) if p.starts_with("file:") && p.len() > 5 => {
                Ok(Self::File(PathBuf::from(&p[5..])))
            }
            Some("vault") => {
                let addr = src.get("RAMPART_VAULT_ADDR").ok_or_else(|| {
                    invalid("RAMPART_VAULT_ADDR", "is required by the vault provider")
                })?;
                let token = secret("RAMPART_VAULT_TOKEN");
                let approle = match (
                    secret("RAMPART_VAULT_ROLE_ID"),
                    secret("RAMPART_VAULT_SECRET_ID"),
                ) {
                    (Some(role), Some(id)) => Some((role, id)),
                    (None, None) => None,
                    _ => {
                        return Err(invalid(
                            "RAMPART_VAULT_ROLE_ID",
                            "AppRole needs both RAMPART_VAULT_ROLE_ID and RAMPART_VAULT_SECRET_ID",
                        ));
                    }
                };
                match (&token, &approle) {
                    (Some(_), Some(_)) => {
                        return Err(invalid(
                            "RAMPART_VAULT_TOKEN",
                            "set either RAMPART_VAULT_TOKEN or the AppRole pair, not both",
                        ));
                    }
                    (None, None) => {
                        return Err(invalid(
                            "RAMPART_VAULT_TOKEN",
                            "the vault provider needs RAMPART_VAULT_TOKEN or RAMPART_VAULT_ROLE_ID + RAMPART_VAULT_SECRET_ID",
                        ));
                    }
                    _ => {}
                }
                Ok(Self::Vault(VaultSpec {
                    addr: addr.trim().to_owned(),
                    mount: src
                        .get("RAMPART_VAULT_MOUNT")
                        .unwrap_or("secret")
                        .trim()
                        .to_owned(),
                    path: src
                        .get("RAMPART_VAULT_PATH")
                        .unwrap_or("rampart")
                        .trim()
                        .to_owned(),
                    token,
                    approle,
                    ca_cert: src.get("RAMPART_VAULT_CACERT").map(PathBuf::from),
                }))
            }
            Some("aws") => {
                let secret_id = src.get("RAMPART_AWS_SECRET_ID").ok_or_else(|| {
                    invalid("RAMPART_AWS_SECRET_ID", "is required by the aws provider")
                })?;
                Ok(Self::Aws(AwsSpec {
                    secret_id: secret_id.trim().to_owned(),
                    region: src.get("AWS_REGION").map(|v| v.trim().to_owned()),
                    endpoint_url: src.get("AWS_ENDPOINT_URL").map(|v| v.trim().to_owned()),
                    access_key_id: secret("AWS_ACCESS_KEY_ID"),
                    secret_access_key: secret("AWS_SECRET_ACCESS_KEY"),
                    session_token: secret("AWS_SESSION_TOKEN"),
                }))
            }
            Some(other) => Err(invalid(
                VAR,
                format!("{other:?} is not one of env, file:DIR, vault, aws"),
            )),
        }
    }

    /// The `env` and `file:` providers, which need no network.
    pub(super) fn local(&self, src: &Source) -> Option<Arc<dyn SecretsProvider>> {
        match self {
            Self::Env if src.process => Some(Arc::new(
                EnvProvider::process()
                    .with_prefix("RAMPART_")
                    .with_dotenv(".env"),
            )),
            Self::Env => Some(Arc::new(
                EnvProvider::fixed(src.vars.iter().map(|(k, v)| (k.clone(), v.clone())))
                    .with_prefix("RAMPART_"),
            )),
            Self::File(dir) => Some(Arc::new(FileProvider::new(dir))),
            Self::Vault(_) | Self::Aws(_) => None,
        }
    }

    /// Builds the provider (the AWS SDK loads its configuration here).
    pub(super) async fn build(
        &self,
        src: &Source,
    ) -> Result<Arc<dyn SecretsProvider>, ConfigError> {
        if let Some(local) = self.local(src) {
            return Ok(local);
        }
        match self {
            #[cfg(feature = "vault")]
            Self::Vault(spec) => {
                use rampart::secrets::vault::{VaultAuth, VaultConfig, VaultProvider};
                let auth = match (&spec.token, &spec.approle) {
                    (Some(token), _) => VaultAuth::Token(token.clone()),
                    (None, Some((role_id, secret_id))) => VaultAuth::AppRole {
                        role_id: role_id.clone(),
                        secret_id: secret_id.clone(),
                    },
                    (None, None) => {
                        return Err(invalid("RAMPART_VAULT_TOKEN", "no Vault login configured"));
                    }
                };
                let mut config = VaultConfig::new(&spec.addr, auth);
                config.mount.clone_from(&spec.mount);
                config.path.clone_from(&spec.path);
                if let Some(path) = &spec.ca_cert {
                    config.ca_cert_pem =
                        Some(std::fs::read(path).map_err(|source| ConfigError::Io {
                            what: "Vault CA certificate (RAMPART_VAULT_CACERT)",
                            path: path.display().to_string(),
                            source,
                        })?);
                }
                Ok(Arc::new(VaultProvider::new(config)?))
            }
            #[cfg(feature = "aws")]
            Self::Aws(spec) => {
                use rampart::secrets::aws::{AwsOptions, AwsProvider};
                let options = AwsOptions {
                    region: spec.region.clone(),
                    endpoint_url: spec.endpoint_url.clone(),
                    access_key_id: spec.access_key_id.clone(),
                    secret_access_key: spec.secret_access_key.clone(),
                    session_token: spec.session_token.clone(),
                };
                Ok(Arc::new(
                    AwsProvider::connect(&spec.secret_id, options).await?,
                ))
            }
            other => Err(invalid(
                "RAMPART_SECRETS_PROVIDER",
                format!("this build of rampart has no {other} provider (cargo feature {other})"),
            )),
        }
    }
}

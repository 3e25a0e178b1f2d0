//! AWS Secrets Manager (feature `aws`), through the official AWS SDK for
//! Rust. The secret's string is a JSON object whose members are the keys.
//!
//! Region, credentials and endpoint come from the standard AWS chain
//! (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_ENDPOINT_URL`, profiles, web identity, instance metadata); any of
//! [`AwsOptions`] overrides it. HTTPS uses rustls with the `ring` backend and
//! verifies certificates against the system's roots.
//!
//! ```no_run
//! use rampart::secrets::{SecretsProvider, aws::{AwsOptions, AwsProvider}};
//!
//! # async fn run() -> Result<(), rampart::secrets::SecretsError> {
//! let aws = AwsProvider::connect("prod/rampart", AwsOptions::default()).await?;
//! let secrets = aws.fetch(&["secret_key", "data_keys"]).await?;
//! # let _ = secrets; Ok(()) }
//! ```

use std::fmt;

use aws_sdk_secretsmanager::{
    config::{Credentials, Region},
    error::ProvideErrorMetadata as _,
    operation::get_secret_value::GetSecretValueError,
};
use aws_smithy_http_client::tls;

use super::{
    BoxFuture, ExposeSecret, Secret, SecretSet, SecretsError, SecretsErrorKind, SecretsProvider,
};

/// Overrides of the standard AWS configuration chain.
#[derive(Debug, Default, Clone)]
pub struct AwsOptions {
    /// The region (`AWS_REGION`).
    pub region: Option<String>,
    /// Another endpoint (`AWS_ENDPOINT_URL`), e.g. a local emulator.
    pub endpoint_url: Option<String>,
    /// Static credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`).
    pub access_key_id: Option<Secret>,
    /// The secret half of the static credentials.
    pub secret_access_key: Option<Secret>,
    /// A session token for temporary credentials (`AWS_SESSION_TOKEN`).
    pub session_token: Option<Secret>,
}

/// The AWS Secrets Manager provider.
pub struct AwsProvider {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
}

impl fmt::Debug for AwsProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsProvider")
            .field("secret_id", &self.secret_id)
            .finish_non_exhaustive()
    }
}

fn error(kind: SecretsErrorKind, reason: impl Into<String>) -> SecretsError {
    SecretsError::new("aws", kind, reason)
}

impl AwsProvider {
    /// Loads the AWS configuration (the standard chain plus `options`) and
    /// builds a client. Makes no request yet.
    pub async fn connect(
        secret_id: impl Into<String>,
        options: AwsOptions,
    ) -> Result<Self, SecretsError> {
        let secret_id = secret_id.into();
        if secret_id.trim().is_empty() {
            return Err(error(SecretsErrorKind::Config, "no secret id given"));
        }
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let mut loader =
            aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http);
        if let Some(region) = options.region {
            loader = loader.region(Region::new(region));
        }
        if let Some(url) = options.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        match (options.access_key_id, options.secret_access_key) {
            (Some(id), Some(secret)) => {
                loader = loader.credentials_provider(Credentials::new(
                    id.expose_secret(),
                    secret.expose_secret(),
                    options.session_token.map(|t| t.expose_secret().to_owned()),
                    None,
                    "rampart",
                ));
            }
            (None, None) => {}
            _ => {
                return Err(error(
                    SecretsErrorKind::Config,
                    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be given together",
                ));
            }
        }
        let config = loader.load().await;
        if config.region().is_none() {
            return Err(error(
                SecretsErrorKind::Config,
                "no AWS region is configured (set AWS_REGION)",
            ));
        }
        Ok(Self::with_client(
            aws_sdk_secretsmanager::Client::new(&config),
            secret_id,
        ))
    }

    /// A provider over a client you configured.
    pub fn with_client(
        client: aws_sdk_secretsmanager::Client,
        secret_id: impl Into<String>,
    ) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
        }
    }

    async fn fetch_keys(&self, keys: &[&str]) -> Result<SecretSet, SecretsError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|e| {
                use aws_sdk_secretsmanager::error::SdkError;
                match e {
                    SdkError::ServiceError(service) => {
                        let err = service.into_err();
                        let code = err.code().unwrap_or("unknown").to_owned();
                        let kind = match &err {
                            GetSecretValueError::ResourceNotFoundException(_) => {
                                SecretsErrorKind::NotFound
                            }
                            _ if code.contains("AccessDenied")
                                || code.contains("UnrecognizedClient")
                                || code.contains("InvalidSignature")
                                || code.contains("ExpiredToken") =>
                            {
                                SecretsErrorKind::Denied
                            }
                            _ => SecretsErrorKind::Unreachable,
                        };
                        error(kind, format!("secret {}: {code}", self.secret_id))
                    }
                    SdkError::TimeoutError(_) => error(
                        SecretsErrorKind::Unreachable,
                        format!("secret {}: timed out", self.secret_id),
                    ),
                    other => {
                        let mut cause: &dyn std::error::Error = &other;
                        while let Some(next) = cause.source() {
                            cause = next;
                        }
                        error(
                            SecretsErrorKind::Unreachable,
                            format!("secret {}: {cause}", self.secret_id),
                        )
                    }
                }
            })?;
        let text = output.secret_string().ok_or_else(|| {
            error(
                SecretsErrorKind::Malformed,
                format!("secret {} has no string value", self.secret_id),
            )
        })?;
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
            .map_err(|_| {
                error(
                    SecretsErrorKind::Malformed,
                    format!("secret {} is not a JSON object", self.secret_id),
                )
            })?;
        super::from_json_object("aws", &object, keys)
    }
}

impl SecretsProvider for AwsProvider {
    fn name(&self) -> String {
        "aws".to_owned()
    }

    fn fetch<'a>(&'a self, keys: &'a [&'a str]) -> BoxFuture<'a, Result<SecretSet, SecretsError>> {
        Box::pin(self.fetch_keys(keys))
    }
}

//! The payment processor boundary: card data never enters Rampart, only a
//! processor's token. `TestProcessor` is the built-in one of SPEC §6.

use crate::domain::{Currency, Money};
use std::future::Future;

/// A charge the processor accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    /// The processor's id for it.
    pub processor_id: String,
    /// The card's last four digits, as the processor reports them.
    pub last_four: String,
}

/// Why a charge failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChargeError {
    /// The card was declined (402).
    #[error("declined")]
    Declined,
    /// The token is unknown (422).
    #[error("unknown payment token")]
    UnknownToken,
    /// The processor is unreachable (503).
    #[error("processor unavailable")]
    Unavailable,
}

/// A payment processor.
pub trait PaymentProcessor: Send + Sync + 'static {
    /// Charges `amount` in `currency` to the card behind `token`;
    /// `idempotency_key` makes a retried call charge once.
    fn charge(
        &self,
        token: &str,
        amount: Money,
        currency: Currency,
        idempotency_key: &str,
    ) -> impl Future<Output = Result<Charge, ChargeError>> + Send;
}

/// The built-in test processor: `tok_visa` (4242), `tok_mastercard` (4444),
/// `tok_chargeDeclined` (declined).
#[derive(Debug, Clone, Default)]
pub struct TestProcessor;

impl PaymentProcessor for TestProcessor {
    async fn charge(
        &self,
        token: &str,
        _amount: Money,
        _currency: Currency,
        _idempotency_key: &str,
    ) -> Result<Charge, ChargeError> {
        let last_four = match token {
            "tok_visa" => "4242",
            "tok_mastercard" => "4444",
            "tok_chargeDeclined" => return Err(ChargeError::Declined),
            _ => return Err(ChargeError::UnknownToken),
        };
        Ok(Charge {
            processor_id: format!("ch_test_{}", uuid::Uuid::new_v4().simple()),
            last_four: last_four.to_owned(),
        })
    }
}

/// A processor reached over HTTP: `POST <url>/charges` with
/// `{token, amount_cents, currency}` and an `Idempotency-Key` header; `200
/// {id, last_four}` is a charge, `402` a decline, another `4xx` an unknown
/// token, anything else (or the timeout) unavailable.
#[derive(Debug, Clone)]
pub struct HttpProcessor {
    client: reqwest::Client,
    url: String,
}

impl HttpProcessor {
    /// For the processor at `url`, each call bounded by `timeout`.
    pub fn new(url: &str, timeout: std::time::Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            url: url.trim_end_matches('/').to_owned(),
        })
    }
}

impl PaymentProcessor for HttpProcessor {
    async fn charge(
        &self,
        token: &str,
        amount: Money,
        currency: Currency,
        idempotency_key: &str,
    ) -> Result<Charge, ChargeError> {
        let response = self
            .client
            .post(format!("{}/charges", self.url))
            .header("idempotency-key", idempotency_key)
            .json(&serde_json::json!({"token": token, "amount_cents": amount.cents(), "currency": currency.code()}))
            .send()
            .await
            .map_err(|_| ChargeError::Unavailable)?;
        let status = response.status();
        if status == reqwest::StatusCode::PAYMENT_REQUIRED {
            return Err(ChargeError::Declined);
        }
        if status.is_client_error() {
            return Err(ChargeError::UnknownToken);
        }
        if !status.is_success() {
            return Err(ChargeError::Unavailable);
        }
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|_| ChargeError::Unavailable)?;
        let last_four = body["last_four"]
            .as_str()
            .filter(|l| l.len() == 4 && l.bytes().all(|b| b.is_ascii_digit()));
        match (body["id"].as_str(), last_four) {
            (Some(id), Some(last_four)) => Ok(Charge {
                processor_id: id.chars().take(128).collect(),
                last_four: last_four.to_owned(),
            }),
            _ => Err(ChargeError::Unavailable),
        }
    }
}

/// The configured processor.
#[derive(Debug, Clone)]
pub enum Processor {
    /// The built-in test processor (development only).
    Test(TestProcessor),
    /// A processor over HTTP.
    Http(HttpProcessor),
    /// None: production without `RAMPART_PAYMENT_PROCESSOR_URL`. Every
    /// charge is unavailable (503), so `tok_visa` never succeeds there.
    Unconfigured,
}

impl PaymentProcessor for Processor {
    async fn charge(
        &self,
        token: &str,
        amount: Money,
        currency: Currency,
        idempotency_key: &str,
    ) -> Result<Charge, ChargeError> {
        match self {
            Self::Test(p) => p.charge(token, amount, currency, idempotency_key).await,
            Self::Http(p) => p.charge(token, amount, currency, idempotency_key).await,
            Self::Unconfigured => Err(ChargeError::Unavailable),
        }
    }
}

impl Processor {
    /// The processor `settings` name: the HTTP one at
    /// `RAMPART_PAYMENT_PROCESSOR_URL`; without it the test processor (it
    /// turns `tok_visa` into a succeeded payment) in development, none in
    /// production (`rampart check` warns).
    pub fn for_settings(settings: &crate::config::Settings) -> Result<Self, String> {
        Ok(match &settings.outbound.payment_processor_url {
            None if settings.env == crate::config::Environment::Production => Self::Unconfigured,
            None => Self::Test(TestProcessor),
            Some(url) => Self::Http(HttpProcessor::new(
                &url.to_string(),
                std::time::Duration::from_secs(10),
            )?),
        })
    }
}

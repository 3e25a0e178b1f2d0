//! The payment processor boundary: card data never enters Rampart, only a
//! processor's token. `TestProcessor` is the built-in one of SPEC §6.

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
    /// Charges `amount_cents` in `currency` to the card behind `token`;
    /// `idempotency_key` makes a retried call charge once.
    fn charge(
        &self,
        token: &str,
        amount_cents: i64,
        currency: &str,
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
        _amount_cents: i64,
        _currency: &str,
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

//! `/api/v2/payments`: tokens in, last four digits out (PCI DSS).

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use rampart::{
    audit::EventType,
    input::{Path, Query, StrictJson},
    problem::{FieldError, Problem},
};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use utoipa::ToSchema;

use crate::{
    audit::events::Ctx,
    auth::caller::Caller,
    domain::{Currency, IdempotencyKey, Money, PageQuery, PageRequest, Role, UserId},
    http::error::{ApiError, Result},
    payments::{
        processor::{ChargeError, PaymentProcessor},
        store::{Claim, PaymentRow},
    },
    state::AppState,
    store::StoreError,
};

/// `POST /payments`. Any other field (`card_number`, `cvv` …) is 422.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPayment {
    /// The processor's token for the card (the test processor knows
    /// `tok_visa`, `tok_mastercard`, `tok_chargeDeclined`).
    #[schema(min_length = 1, max_length = 128, example = "tok_visa")]
    pub payment_token: String,
    /// Decimal string, > 0, ≤ 1000000, at most two decimals (`"19.99"`).
    #[schema(pattern = "^[0-9]{1,7}(\\.[0-9]{1,2})?$", example = "19.99")]
    pub amount: String,
    /// One of USD, EUR, GBP, CAD, AUD, CHF.
    #[schema(pattern = "^(USD|EUR|GBP|CAD|AUD|CHF)$", example = "USD")]
    pub currency: String,
}

/// A payment request, parsed.
struct Charge {
    token: String,
    amount: Money,
    currency: Currency,
}

impl TryFrom<NewPayment> for Charge {
    type Error = Vec<FieldError>;

    fn try_from(body: NewPayment) -> std::result::Result<Self, Self::Error> {
        let mut e = Vec::new();
        if body.payment_token.is_empty()
            || body.payment_token.len() > 128
            || crate::domain::single_line(&body.payment_token).is_err()
        {
            e.push(FieldError::new(
                "payment_token",
                "must be 1 to 128 characters on one line",
            ));
        }
        let amount = Money::parse(&body.amount);
        if amount.is_none() {
            e.push(FieldError::new(
                "amount",
                "must be a decimal string above 0 and at most 1000000, two decimals at most",
            ));
        }
        let currency = Currency::parse(&body.currency);
        if currency.is_none() {
            e.push(FieldError::new(
                "currency",
                "must be one of USD, EUR, GBP, CAD, AUD, CHF",
            ));
        }
        match (amount, currency) {
            (Some(amount), Some(currency)) if e.is_empty() => Ok(Self {
                token: body.payment_token,
                amount,
                currency,
            }),
            _ => Err(e),
        }
    }
}

/// A payment.
#[derive(Debug, Serialize, ToSchema)]
pub struct Payment {
    /// Id.
    pub id: i64,
    /// `succeeded`.
    pub status: String,
    /// Decimal string.
    pub amount: String,
    /// ISO 4217.
    pub currency: String,
    /// Last four digits of the card.
    pub last_four: String,
    /// The processor's id.
    pub processor_id: String,
    /// RFC 3339 UTC.
    pub created_at: String,
}

impl From<&PaymentRow> for Payment {
    fn from(p: &PaymentRow) -> Self {
        Self {
            id: p.id,
            status: p.status.clone(),
            amount: Money::from_cents(p.amount_cents).to_string(),
            currency: p.currency.clone(),
            last_four: p.last_four.clone(),
            processor_id: p.processor_id.clone(),
            created_at: p.created_at.clone(),
        }
    }
}

/// A page of payments.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentPage {
    /// Newest first.
    pub items: Vec<Payment>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// Charges a payment token. An `Idempotency-Key` header (1–64 of
/// `[A-Za-z0-9_-]`) makes a retried request return the first payment
/// instead of charging again; the same key with another body is 422, and
/// while the first request is still being charged a retry gets 409.
#[utoipa::path(post, operation_id = "createPayment", path = "/api/v2/payments", tag = "payments", security(("bearer" = [])),
    request_body = NewPayment,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry key: 1–64 of `[A-Za-z0-9_-]`, scoped to the caller", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    responses(
        (status = 201, body = Payment),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 402, description = "Declined", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A payment with this Idempotency-Key is in progress", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid body, or the Idempotency-Key was used for another payment", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ctx: Ctx,
    headers: HeaderMap,
    StrictJson(body): StrictJson<NewPayment>,
) -> Result<Response> {
    // The body first: an invalid one is a 422 whatever the headers say.
    let charge = Charge::try_from(body).map_err(Problem::validation)?;
    let user_id = caller.id;
    let key = idempotency_key(&headers)?;
    if matches!(
        state.processor,
        crate::payments::processor::Processor::Unconfigured
    ) {
        // Production without a processor: nothing to claim a key for.
        return Err(Problem::new(StatusCode::SERVICE_UNAVAILABLE)
            .with_detail("No payment processor is configured.")
            .into());
    }
    let payments = state.db.payments();
    let fingerprint = fingerprint(&charge);
    if let Some(answer) = claim_answer(
        payments
            .claim(user_id, &key, &fingerprint, CLAIM_STALE_SECS)
            .await?,
    ) {
        return answer;
    }
    let event = ctx
        .event(EventType::Payment)
        .user(user_id.to_string())
        .detail("amount", charge.amount.to_string())
        .detail("currency", charge.currency.code());
    let charged = state
        .processor
        .charge(
            &charge.token,
            charge.amount,
            charge.currency,
            &processor_key(user_id, &key),
        )
        .await;
    let charged = match charged {
        Ok(charged) => charged,
        Err(e) => {
            // A refusal means no charge: the key may be used again. An
            // unreachable processor may still have charged, so the claim
            // stays until it is stale and a retry takes it over (the
            // processor's key makes that retry charge once).
            if e != ChargeError::Unavailable {
                payments.release(user_id, &key).await?;
            }
            return Err(match e {
                ChargeError::Declined => {
                    state
                        .audit
                        .record(event.detail("status", "declined"))
                        .await?;
                    Problem::typed(
                        StatusCode::PAYMENT_REQUIRED,
                        "urn:rampart:problem:card-declined",
                        "Card declined",
                    )
                    .with_detail("The payment was declined by the processor.")
                    .into()
                }
                ChargeError::UnknownToken => Problem::validation(vec![FieldError::new(
                    "payment_token",
                    "is not a known payment token",
                )])
                .into(),
                ChargeError::Unavailable => Problem::new(StatusCode::SERVICE_UNAVAILABLE).into(),
            });
        }
    };
    let row = match payments
        .insert(
            user_id,
            charge.amount,
            charge.currency,
            &charged.last_four,
            &charged.processor_id,
            &key,
            event.detail("status", "succeeded"),
        )
        .await
    {
        Ok(row) => row,
        // A retry that took over a stale claim finished first: its payment
        // is this request's too (the processor charged once, by key).
        Err(StoreError::Conflict(_)) => {
            match payments
                .claim(user_id, &key, &fingerprint, CLAIM_STALE_SECS)
                .await?
            {
                Claim::Replay(row) => row,
                _ => {
                    return Err(Problem::new(StatusCode::CONFLICT)
                    .with_detail("A payment with this Idempotency-Key is still in progress; retry later.")
                    .into());
                }
            }
        }
        Err(e) => return Err(e.into()),
    };
    Ok((StatusCode::CREATED, Json(Payment::from(&row))).into_response())
}

/// The `Idempotency-Key` header, or a fresh key when there is none (the
/// request is then its own, never a retry).
fn idempotency_key(headers: &HeaderMap) -> Result<IdempotencyKey> {
    match headers.get("idempotency-key") {
        None => Ok(IdempotencyKey::random()),
        Some(v) => IdempotencyKey::parse(v.to_str().unwrap_or_default()).ok_or_else(|| {
            Problem::new(StatusCode::BAD_REQUEST)
                .with_detail("Idempotency-Key must be 1 to 64 of A-Z a-z 0-9 - _.")
                .into()
        }),
    }
}

/// What a claim of the key answers by itself: the earlier payment (a
/// replay), 409 while it is in progress, 422 for another request under
/// the same key; `None` when the key is this request's to use.
fn claim_answer(claim: Claim) -> Option<Result<Response>> {
    match claim {
        Claim::New => None,
        Claim::Replay(existing) => Some(Ok(
            (StatusCode::CREATED, Json(Payment::from(&existing))).into_response()
        )),
        Claim::InProgress => Some(Err(Problem::new(StatusCode::CONFLICT)
            .with_detail("A payment with this Idempotency-Key is still in progress; retry later.")
            .into())),
        Claim::Mismatch => Some(Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
            .with_detail("This Idempotency-Key was already used for a different payment.")
            .into())),
    }
}

/// How long a claimed key may stay without its payment before a retry
/// takes it over: well past the processor client's 10 s timeout.
const CLAIM_STALE_SECS: i64 = 60;

/// What makes two requests with one key the same request: the token, the
/// amount in cents and the currency (so `"10"` and `"10.00"` agree).
fn fingerprint(charge: &Charge) -> String {
    let (token, cents, currency) = (&charge.token, charge.amount.cents(), charge.currency);
    let digest = Sha256::digest(format!("{token}\n{cents}\n{currency}").as_bytes());
    rampart::audit::hex(&digest)
}

/// The idempotency key the processor sees: derived from the user and the
/// client's key, so two users who pick the same key never share a charge.
fn processor_key(user_id: UserId, key: &IdempotencyKey) -> String {
    let key = key.as_str();
    let digest = Sha256::digest(format!("rampart-payment\n{user_id}\n{key}").as_bytes());
    rampart::audit::hex(&digest)
}

/// The caller's payments.
#[utoipa::path(get, operation_id = "listPayments", path = "/api/v2/payments", tag = "payments", security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, body = PaymentPage),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<PageQuery>,
) -> Result<Json<PaymentPage>> {
    let user_id = caller.id;
    let p = PageRequest::try_from(&q).map_err(crate::http::error::invalid_query)?;
    let rows = state.db.payments().page(user_id, p).await?;
    let (items, next_cursor) = p.split(rows, |r| r.id, |r| Payment::from(r));
    Ok(Json(PaymentPage { items, next_cursor }))
}

/// One payment (owner or admin; 404 for everyone else).
#[utoipa::path(get, operation_id = "getPayment", path = "/api/v2/payments/{id}", tag = "payments", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Payment id")),
    responses(
        (status = 200, body = Payment),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Payment>> {
    let row = state
        .db
        .payments()
        .by_id(id)
        .await?
        .ok_or_else(|| ApiError::from(Problem::new(StatusCode::NOT_FOUND)))?;
    caller
        .require_owner_or_role(row.user_id, &[Role::Admin])
        .await?;
    Ok(Json(Payment::from(&row)))
}

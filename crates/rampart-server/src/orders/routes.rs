//! Orders and search: object-level authorization made concrete.

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use rampart::{
    audit::EventType,
    input::{Path, Query, ValidJson, Validate},
    problem::{FieldError, Problem},
    ratelimit::{self, Quota},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    audit::events::Ctx,
    auth::caller::Caller,
    domain::{PageQuery, PageRequest, Role, UserId},
    http::error::{ApiError, Result, invalid_query},
    orders::store::OrderRow,
    state::AppState,
};

/// An order.
#[derive(Debug, Serialize, ToSchema)]
pub struct Order {
    /// Id.
    pub id: i64,
    /// Owner (null once the owner's account is gone).
    pub user_id: Option<i64>,
    /// Item.
    pub item: String,
    /// 1–1000.
    pub quantity: i64,
    /// 0–10 000 000.
    pub unit_price_cents: i64,
    /// quantity × unit price, computed by the server.
    pub total_cents: i64,
    /// RFC 3339 UTC.
    pub created_at: String,
}

impl From<&OrderRow> for Order {
    fn from(o: &OrderRow) -> Self {
        Self {
            id: o.id,
            user_id: o.user_id.map(UserId::get),
            item: o.item.clone(),
            quantity: o.quantity,
            unit_price_cents: o.unit_price_cents,
            total_cents: o.total_cents,
            created_at: o.created_at.clone(),
        }
    }
}

/// A page of orders.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    /// Newest first.
    pub items: Vec<Order>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// `POST /users/{id}/orders`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    /// 1–200 characters, one line.
    #[schema(min_length = 1, max_length = 200)]
    pub item: String,
    /// 1–1000.
    #[schema(minimum = 1, maximum = 1000)]
    pub quantity: i64,
    /// 0–10 000 000.
    #[schema(minimum = 0, maximum = 10_000_000)]
    pub unit_price_cents: i64,
}

impl Validate for NewOrder {
    fn validate(&self) -> std::result::Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        let len = self.item.chars().count();
        if !(1..=200).contains(&len) || self.item.trim().is_empty() {
            errors.push(FieldError::new("item", "must be 1 to 200 characters"));
        } else if self.item.chars().any(char::is_control) {
            errors.push(FieldError::new(
                "item",
                "must not contain control characters",
            ));
        }
        if !(1..=1000).contains(&self.quantity) {
            errors.push(FieldError::new("quantity", "must be between 1 and 1000"));
        }
        if !(0..=10_000_000).contains(&self.unit_price_cents) {
            errors.push(FieldError::new(
                "unit_price_cents",
                "must be between 0 and 10000000",
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

fn to_page(rows: Vec<OrderRow>, page: PageRequest) -> OrderPage {
    let (items, next_cursor) = page.split(rows, |o| o.id, |o| Order::from(o));
    OrderPage { items, next_cursor }
}

/// Places an order for yourself.
#[utoipa::path(post, operation_id = "createOrder", path = "/api/v2/users/{id}/orders", tag = "orders", security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id (must be the caller)")),
    request_body = NewOrder,
    responses(
        (status = 201, body = Order),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_order(
    State(state): State<AppState>,
    caller: Caller,
    ctx: Ctx,
    Path(user_id): Path<UserId>,
    ValidJson(body): ValidJson<NewOrder>,
) -> Result<Response> {
    caller.require_self_or_role(user_id, &[]).await?;
    let event = ctx
        .event(EventType::DataModification)
        .user(user_id.to_string())
        .detail("action", "order_created");
    let order = state
        .db
        .orders()
        .insert(
            user_id,
            &body.item,
            body.quantity,
            body.unit_price_cents,
            event,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(Order::from(&order))).into_response())
}

/// A user's orders (the user or an admin), newest first.
#[utoipa::path(get, operation_id = "listOrders", path = "/api/v2/users/{id}/orders", tag = "orders", security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id"), PageQuery),
    responses(
        (status = 200, body = OrderPage),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_orders(
    State(state): State<AppState>,
    caller: Caller,
    Path(user_id): Path<UserId>,
    Query(q): Query<PageQuery>,
) -> Result<Json<OrderPage>> {
    caller.require_self_or_role(user_id, &[Role::Admin]).await?;
    let page = PageRequest::try_from(&q).map_err(invalid_query)?;
    let rows = state.db.orders().page(user_id, page).await?;
    Ok(Json(to_page(rows, page)))
}

/// One order (its owner or an admin; 404 for everyone else).
#[utoipa::path(get, operation_id = "getOrder", path = "/api/v2/orders/{id}", tag = "orders", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, body = Order),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_order(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Order>> {
    let order = state
        .db
        .orders()
        .by_id(id)
        .await?
        .ok_or_else(|| ApiError::from(Problem::new(StatusCode::NOT_FOUND)))?;
    caller
        .require_owner_or_role(order.user_id, &[Role::Admin])
        .await?;
    Ok(Json(Order::from(&order)))
}

/// Query of `GET /search`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// 1–100 characters, matched literally (`%`, `_`, quotes included).
    #[param(min_length = 1, max_length = 100)]
    pub q: String,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// Substring search over the caller's own orders, limited per user.
#[utoipa::path(get, operation_id = "searchOrders", path = "/api/v2/search", tag = "orders", security(("bearer" = [])),
    params(SearchQuery),
    responses(
        (status = 200, body = OrderPage),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Search limit reached; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<SearchQuery>,
) -> Result<Response> {
    let len = q.q.chars().count();
    let page = match (
        PageRequest::parse(q.limit, q.cursor.as_deref()),
        (1..=100).contains(&len),
    ) {
        (Ok(p), true) => p,
        (result, q_ok) => {
            let mut errors = result.err().unwrap_or_default();
            if !q_ok {
                errors.insert(0, FieldError::new("q", "must be 1 to 100 characters"));
            }
            return Err(invalid_query(errors));
        }
    };
    let user_id = caller.id;
    let quota = Quota::per_minute(state.settings.limits.search_limit_per_min);
    let decision =
        match ratelimit::check(&*state.limiter, &format!("search:user:{user_id}"), &quota).await {
            Ok(Ok(decision)) => Some(decision),
            Ok(Err(limited)) => return Ok(limited.into_response()),
            // Like every other limit: a missing store is a pass only when
            // the operator chose fail-open, else a 503 (never a 500).
            Err(e) if state.settings.limits.rate_limit_fail_open => {
                tracing::warn!(error = %e, "search limit skipped: store unavailable");
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "search refused: rate-limit store unavailable");
                return Err(Problem::new(StatusCode::SERVICE_UNAVAILABLE).into());
            }
        };
    let rows = state.db.orders().search(user_id, &q.q, page).await?;
    Ok((decision, Json(to_page(rows, page))).into_response())
}

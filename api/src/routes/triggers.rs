//! `/v1/replenishment-triggers`: replenishment decisions with the figures behind them and their
//! explanation, newest first.

use axum::{Extension, Json, Router, extract::State, routing::get};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    AppState,
    auth::{Principal, Role},
    page::{Page, Params, decode_cursor, limit},
    problem::ApiResult,
    require,
};

/// Trigger routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/replenishment-triggers", get(list))
}

/// One replenishment decision.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Trigger {
    /// Decision id.
    pub event_id: Uuid,
    /// Location.
    pub location_id: String,
    /// Item.
    pub item_id: String,
    /// Supplier ordered from.
    pub supplier_id: String,
    /// S_Q, S_S, R_S or MIN_MAX.
    pub policy: String,
    /// ORDER or SUPPRESSED_OPEN_ORDER.
    pub outcome: String,
    /// Inventory position reviewed.
    pub inventory_position: i64,
    /// Reorder level s (or S of R_S, min of MIN_MAX).
    pub reorder_level: f64,
    /// Order-up-to level, for the policies that have one.
    pub order_up_to: Option<f64>,
    /// Safety stock.
    pub safety_stock: f64,
    /// Mean daily demand.
    pub demand_per_day: f64,
    /// Daily demand standard deviation.
    pub demand_std_per_day: f64,
    /// Mean lead time in days.
    pub lead_time_days: f64,
    /// Lead time standard deviation in days.
    pub lead_time_std_days: f64,
    /// Target cycle service level.
    pub service_level: f64,
    /// Units ordered (0 when suppressed).
    pub order_quantity: i64,
    /// Why, in words.
    pub explanation: String,
    /// The event that caused the review.
    pub source_event_id: Uuid,
    /// When it was decided.
    pub occurred_at: DateTime<Utc>,
}

/// Filters of the trigger list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TriggerParams {
    /// Only this location.
    pub location_id: Option<String>,
    /// Only this item.
    pub item_id: Option<String>,
    /// Only this outcome (ORDER, SUPPRESSED_OPEN_ORDER).
    pub outcome: Option<String>,
    /// Rows per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Replenishment decisions of the caller's tenant, newest first.
#[utoipa::path(get, path = "/v1/replenishment-triggers", tag = "replenishment", params(TriggerParams),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "One page", body = Page<Trigger>)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Params(q): Params<TriggerParams>,
) -> ApiResult<Json<Page<Trigger>>> {
    require(&p, Role::Viewer)?;
    let limit = limit(q.limit)?;
    let after: Option<(DateTime<Utc>, Uuid)> = decode_cursor(q.cursor.as_deref())?;
    let (after_time, after_id) = after.unzip();
    let mut tx = state.tenant_tx(&p.tenant).await?;
    let rows: Vec<Trigger> = sqlx::query_as(
        "SELECT event_id, location_id, item_id, supplier_id, policy, outcome, \
                inventory_position, reorder_level, order_up_to, safety_stock, demand_per_day, \
                demand_std_per_day, lead_time_days, lead_time_std_days, service_level, \
                order_quantity, explanation, source_event_id, occurred_at \
         FROM replenishment.triggers \
         WHERE tenant_id = $1 \
           AND ($2::text IS NULL OR location_id = $2) \
           AND ($3::text IS NULL OR item_id = $3) \
           AND ($4::text IS NULL OR outcome = $4) \
           AND ($5::timestamptz IS NULL OR (occurred_at, event_id) < ($5, $6)) \
         ORDER BY occurred_at DESC, event_id DESC LIMIT $7",
    )
    .bind(&p.tenant)
    .bind(&q.location_id)
    .bind(&q.item_id)
    .bind(&q.outcome)
    .bind(after_time)
    .bind(after_id)
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    AppState::end_read(tx);
    Ok(Json(Page::of(rows, limit, |r| (r.occurred_at, r.event_id))))
}

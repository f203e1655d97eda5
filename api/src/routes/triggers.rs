//! `/v1/replenishment-triggers`: replenishment decisions with every figure behind them (what
//! made the rule run, where demand and the rule came from, the ledger's buckets, each rounding
//! step of the quantity, cost) and their explanation, newest first: enough to answer "why this
//! order?" without another source.

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
    /// What made the rule run: INVENTORY_UPDATED, FORECAST or REVIEW_DAY. The fields from here
    /// on are null for decisions recorded before triggers carried them.
    pub evaluated_on: Option<String>,
    /// Which rule applied: the item-location's own or a category default.
    pub rule_source: Option<String>,
    /// Where the demand rate came from: FORECAST (with its model) or DEMAND_FEATURES.
    pub demand_source: Option<String>,
    /// Why this supplier: RULE_SUPPLIER, CHEAPEST or ONLY.
    pub supplier_reason: Option<String>,
    /// Inventory position from the ledger's buckets alone.
    pub position_before_open_orders: Option<i64>,
    /// Open DRAFT quantity counted in `inventory_position`.
    pub open_order_quantity: Option<i64>,
    /// Ledger on hand.
    pub on_hand: Option<i64>,
    /// Ledger on order.
    pub on_order: Option<i64>,
    /// Ledger in transit.
    pub in_transit: Option<i64>,
    /// Ledger reserved.
    pub reserved: Option<i64>,
    /// Ledger backordered.
    pub backordered: Option<i64>,
    /// Ledger damaged.
    pub damaged: Option<i64>,
    /// z for the service level (null for min/max).
    pub z: Option<f64>,
    /// Protection period in days (null for min/max).
    pub protection_days: Option<f64>,
    /// Days to the next order day, for R_S.
    pub review_period_days: Option<i32>,
    /// Lots ordered, for S_Q.
    pub lots: Option<i64>,
    /// Units needed before rounding.
    pub raw_need: Option<f64>,
    /// The need rounded up and raised to the minimum order quantity.
    pub quantity_after_moq: Option<i64>,
    /// Then rounded up to whole packs.
    pub quantity_after_pack: Option<i64>,
    /// Whether the maximum order quantity cut the quantity.
    pub capped: Option<bool>,
    /// Minimum order quantity used.
    pub moq: Option<i64>,
    /// Pack size used.
    pub pack_size: Option<i64>,
    /// Maximum order quantity, if any.
    pub max_order_qty: Option<i64>,
    /// Unit cost of the supplier-item, decimal text.
    pub unit_cost: Option<String>,
    /// order_quantity × unit_cost, decimal text.
    pub order_value: Option<String>,
    /// Purchase order the quantity went into.
    pub po_number: Option<String>,
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
    /// Only the decisions that went into this purchase order.
    pub po_number: Option<String>,
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
                order_quantity, explanation, source_event_id, occurred_at, evaluated_on, \
                rule_source, demand_source, supplier_reason, position_before_open_orders, \
                open_order_quantity, on_hand, on_order, in_transit, reserved, backordered, \
                damaged, z, protection_days, review_period_days, lots, raw_need, \
                quantity_after_moq, quantity_after_pack, capped, moq, pack_size, max_order_qty, \
                unit_cost::text AS unit_cost, order_value::text AS order_value, po_number \
         FROM replenishment.triggers \
         WHERE tenant_id = $1 \
           AND ($2::text IS NULL OR location_id = $2) \
           AND ($3::text IS NULL OR item_id = $3) \
           AND ($4::text IS NULL OR outcome = $4) \
           AND ($8::text IS NULL OR po_number = $8) \
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
    .bind(&q.po_number)
    .persistent(state.named)
    .fetch_all(&mut *tx)
    .await?;
    AppState::end_read(tx);
    Ok(Json(Page::of(rows, limit, |r| (r.occurred_at, r.event_id))))
}

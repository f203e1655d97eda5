//! `/v1/purchase-orders`: purchase orders with their lifecycle status and lines, received
//! units included. Approving and cancelling are commands ([`super::order_commands`]).

use axum::{Extension, Json, Router, extract::State, routing::get};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, QueryBuilder};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    AppState,
    auth::{Principal, Role},
    mask::{self, Redact},
    page::{Page, Params, Segments, decode_cursor, limit},
    problem::{ApiResult, Problem},
    require,
};

/// Purchase order routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/purchase-orders", get(list))
        .route("/v1/purchase-orders/{po_number}", get(one))
}

/// The lifecycle statuses an order can have (DOMAIN.md §8).
const STATUSES: [&str; 6] = [
    "DRAFT",
    "APPROVED",
    "SENT",
    "PARTIALLY_RECEIVED",
    "RECEIVED",
    "CANCELLED",
];

/// A purchase order's header and totals.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct PurchaseOrder {
    /// Order number.
    pub po_number: String,
    /// DRAFT, APPROVED, SENT, PARTIALLY_RECEIVED, RECEIVED or CANCELLED: the replenishment
    /// processor's, once it has published one.
    pub status: String,
    /// The status before the last change.
    pub previous_status: Option<String>,
    /// When the status last changed.
    pub status_at: Option<DateTime<Utc>>,
    /// Receiving location.
    pub location_id: String,
    /// Supplier.
    pub supplier_id: String,
    /// ISO 4217 currency.
    pub currency: String,
    /// Expected delivery day.
    pub expected_date: Option<NaiveDate>,
    /// Lines, cancelled ones included.
    pub lines: i64,
    /// Cancelled lines.
    pub cancelled_lines: i64,
    /// Units on the lines not cancelled.
    pub open_quantity: i64,
    /// Value of the lines not cancelled, decimal text.
    pub open_value: String,
    /// Units received on all lines.
    pub received_quantity: i64,
    /// Some line received more than ordered (allowed, flagged).
    pub over_received: bool,
    /// Replenishment trigger that raised it.
    pub trigger_event_id: Option<Uuid>,
    /// When it was created.
    pub created_at: Option<DateTime<Utc>>,
    /// When it was approved.
    pub approved_at: Option<DateTime<Utc>>,
    /// Who approved it (a user, or the auto-approval rule). A user is masked for the viewer
    /// role (`j***`).
    pub approved_by: Option<String>,
    /// Whether the tenant's rule approved it.
    pub auto_approved: Option<bool>,
    /// Custom attributes.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Value>,
}

/// One line of a purchase order.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct OrderLine {
    /// 1-based line number.
    pub line_number: i32,
    /// Item.
    pub item_id: String,
    /// Units ordered (null while only the line's cancellation is known).
    pub quantity: Option<i64>,
    /// Unit cost, decimal text.
    pub unit_cost: Option<String>,
    /// When it was cancelled, if it was.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Who cancelled it. Masked for the viewer role (`j***`).
    pub cancelled_by: Option<String>,
    /// Why.
    pub cancel_reason: Option<String>,
    /// Units received so far.
    pub received: i64,
    /// More received than ordered.
    pub over_received: bool,
}

impl Redact for PurchaseOrder {
    fn redact(&mut self, role: Role) {
        mask::field(&mut self.approved_by, role, mask::person);
    }
}

impl Redact for PurchaseOrderDetail {
    fn redact(&mut self, role: Role) {
        self.order.redact(role);
        for line in &mut self.order_lines {
            mask::field(&mut line.cancelled_by, role, mask::person);
        }
    }
}

/// A purchase order with its lines.
#[derive(Debug, Serialize, ToSchema)]
pub struct PurchaseOrderDetail {
    /// Header and totals.
    #[serde(flatten)]
    pub order: PurchaseOrder,
    /// Lines in line order.
    pub order_lines: Vec<OrderLine>,
}

const COLUMNS: &str = "po_number, status, previous_status, status_at, location_id, supplier_id, \
    currency, expected_date, lines, cancelled_lines, open_quantity, line_value::text AS open_value, \
    received_quantity, over_received, trigger_event_id, created_at, approved_at, approved_by, \
    auto_approved, attributes";

/// Filters of the purchase order list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrderParams {
    /// Only this status (DRAFT, APPROVED, SENT, PARTIALLY_RECEIVED, RECEIVED, CANCELLED).
    pub status: Option<String>,
    /// Only this receiving location.
    pub location_id: Option<String>,
    /// Only this supplier.
    pub supplier_id: Option<String>,
    /// Rows per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Purchase orders of the caller's tenant, by order number.
#[utoipa::path(get, path = "/v1/purchase-orders", tag = "replenishment", params(OrderParams),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "One page", body = Page<PurchaseOrder>)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Params(q): Params<OrderParams>,
) -> ApiResult<Json<Page<PurchaseOrder>>> {
    require(&p, Role::Viewer)?;
    let limit = limit(q.limit)?;
    let after: Option<String> = decode_cursor(q.cursor.as_deref())?;
    if let Some(s) = q.status.as_deref().filter(|s| !STATUSES.contains(s)) {
        return Err(Problem::bad_request(format!(
            "status {s:?} is none of {}",
            STATUSES.join(", ")
        ))
        .at("status"));
    }
    let mut sql = QueryBuilder::<Postgres>::new(format!(
        "SELECT {COLUMNS} FROM replenishment.purchase_order_status WHERE tenant_id = "
    ));
    sql.push_bind(&p.tenant);
    for (column, value) in [
        ("status", &q.status),
        ("location_id", &q.location_id),
        ("supplier_id", &q.supplier_id),
    ] {
        if let Some(v) = value {
            sql.push(format!(" AND {column} = ")).push_bind(v);
        }
    }
    if let Some(after) = after {
        sql.push(" AND po_number > ").push_bind(after);
    }
    sql.push(" ORDER BY po_number LIMIT ").push_bind(limit + 1);
    let mut tx = state.tenant_tx(&p.tenant).await?;
    let mut rows: Vec<PurchaseOrder> = sql
        .build_query_as()
        .persistent(state.named)
        .fetch_all(&mut *tx)
        .await?;
    AppState::end_read(tx);
    rows.iter_mut().for_each(|r| r.redact(p.role));
    Ok(Json(Page::of(rows, limit, |r| r.po_number.clone())))
}

/// The order `po_number` of `tenant` with its lines; 404 when there is none.
pub(crate) async fn load(
    state: &AppState,
    tenant: &str,
    po_number: &str,
) -> ApiResult<PurchaseOrderDetail> {
    let mut tx = state.tenant_tx(tenant).await?;
    let order: Option<PurchaseOrder> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM replenishment.purchase_order_status \
         WHERE tenant_id = $1 AND po_number = $2"
    ))
    .bind(tenant)
    .bind(po_number)
    .persistent(state.named)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(order) = order else {
        return Err(Problem::not_found(format!("no purchase order {po_number}")));
    };
    let order_lines: Vec<OrderLine> = sqlx::query_as(
        "SELECT line_number, item_id, quantity, unit_cost::text AS unit_cost, cancelled_at, \
                cancelled_by, cancel_reason, received, over_received \
         FROM replenishment.purchase_order_line_status \
         WHERE tenant_id = $1 AND po_number = $2 ORDER BY line_number",
    )
    .bind(tenant)
    .bind(po_number)
    .persistent(state.named)
    .fetch_all(&mut *tx)
    .await?;
    AppState::end_read(tx);
    Ok(PurchaseOrderDetail { order, order_lines })
}

/// One purchase order with its lines.
#[utoipa::path(get, path = "/v1/purchase-orders/{po_number}", tag = "replenishment",
    params(("po_number" = String, Path, description = "Order number")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "The order", body = PurchaseOrderDetail)))]
pub async fn one(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Segments(po_number): Segments<String>,
) -> ApiResult<Json<PurchaseOrderDetail>> {
    require(&p, Role::Viewer)?;
    let mut order = load(&state, &p.tenant, &po_number).await?;
    order.redact(p.role);
    Ok(Json(order))
}

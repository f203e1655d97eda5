//! `/v1/purchase-orders`: purchase orders with their lines; administrators approve or cancel
//! them (published as PurchaseOrderApproved / PurchaseOrderCancelled, materialized by the sink).

use axum::{
    Extension, Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::{get, post},
};
use chrono::{DateTime, NaiveDate, Utc};
use composerp_events::{
    Date, EventId, Money, Timestamp,
    replenishment::{PurchaseOrderApproved, PurchaseOrderCancelled, PurchaseOrderLine},
};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, QueryBuilder};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::writes::{Accepted, Body, accept_as, id};
use crate::{
    AppState,
    auth::{Principal, Role},
    page::{Page, Params, Segments, decode_cursor, limit},
    problem::{ApiResult, Problem},
    require,
};

/// Purchase order routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/purchase-orders", get(list))
        .route("/v1/purchase-orders/{po_number}", get(one))
        .route("/v1/purchase-orders/{po_number}/approve", post(approve))
        .route("/v1/purchase-orders/{po_number}/cancel", post(cancel))
}

/// A purchase order's header and totals.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct PurchaseOrder {
    /// Order number.
    pub po_number: String,
    /// DRAFT, APPROVED or CANCELLED (every line cancelled).
    pub status: String,
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
    /// Replenishment trigger that raised it.
    pub trigger_event_id: Option<Uuid>,
    /// When it was created.
    pub created_at: Option<DateTime<Utc>>,
    /// When it was approved.
    pub approved_at: Option<DateTime<Utc>>,
    /// Who approved it (a user, or the auto-approval rule).
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
    /// Who cancelled it.
    pub cancelled_by: Option<String>,
    /// Why.
    pub cancel_reason: Option<String>,
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

const COLUMNS: &str = "po_number, status, location_id, supplier_id, currency, expected_date, \
    lines, cancelled_lines, open_quantity, line_value::text AS open_value, \
    trigger_event_id, created_at, approved_at, approved_by, auto_approved, attributes";

/// Filters of the purchase order list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrderParams {
    /// Only this status (DRAFT, APPROVED, CANCELLED).
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
    let rows: Vec<PurchaseOrder> = sql.build_query_as().fetch_all(&mut *tx).await?;
    AppState::end_read(tx);
    Ok(Json(Page::of(rows, limit, |r| r.po_number.clone())))
}

async fn load(state: &AppState, tenant: &str, po_number: &str) -> ApiResult<PurchaseOrderDetail> {
    let mut tx = state.tenant_tx(tenant).await?;
    let order: Option<PurchaseOrder> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM replenishment.purchase_order_status \
         WHERE tenant_id = $1 AND po_number = $2"
    ))
    .bind(tenant)
    .bind(po_number)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(order) = order else {
        return Err(Problem::not_found(format!("no purchase order {po_number}")));
    };
    let order_lines: Vec<OrderLine> = sqlx::query_as(
        "SELECT line_number, item_id, quantity, unit_cost::text AS unit_cost, cancelled_at, cancelled_by, \
                cancel_reason \
         FROM replenishment.purchase_order_lines \
         WHERE tenant_id = $1 AND po_number = $2 ORDER BY line_number",
    )
    .bind(tenant)
    .bind(po_number)
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
    Ok(Json(load(&state, &p.tenant, &po_number).await?))
}

/// The open lines of an order as event lines (a line known only from its cancellation has no
/// quantity and is not open).
fn open_lines(d: &PurchaseOrderDetail) -> Vec<PurchaseOrderLine> {
    d.order_lines
        .iter()
        .filter(|l| l.cancelled_at.is_none())
        .filter_map(|l| {
            Some(PurchaseOrderLine {
                line_number: l.line_number,
                item_id: l.item_id.clone(),
                quantity: l.quantity?,
                unit_cost: l.unit_cost.as_deref()?.parse::<Money>().ok()?,
            })
        })
        .collect()
}

/// Approves a DRAFT purchase order (admin): its open lines count as on order.
#[utoipa::path(post, path = "/v1/purchase-orders/{po_number}/approve", tag = "replenishment",
    params(("po_number" = String, Path, description = "Order number")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 202, description = "Published", body = Accepted),
              (status = 409, description = "Not a DRAFT order", body = Problem, content_type = "application/problem+json")))]
pub async fn approve(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Segments(po_number): Segments<String>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    require(&p, Role::Admin)?;
    id("po_number", &po_number)?;
    let d = load(&s, &p.tenant, &po_number).await?;
    if d.order.status != "DRAFT" {
        return Err(Problem::conflict(format!(
            "purchase order {po_number} is {}, only a DRAFT order can be approved",
            d.order.status
        )));
    }
    let lines = open_lines(&d);
    if lines.is_empty() {
        return Err(Problem::conflict(format!(
            "purchase order {po_number} has no open line to approve"
        )));
    }
    let now = Timestamp::now();
    let event = PurchaseOrderApproved {
        event_id: EventId::random(),
        tenant_id: p.tenant.clone(),
        occurred_at: now,
        produced_at: now,
        source: "composerp-api".into(),
        location_id: d.order.location_id,
        po_number: po_number.clone(),
        supplier_id: d.order.supplier_id,
        currency: d.order.currency,
        lines,
        approved_by: p.subject.clone(),
        auto_approved: false,
        expected_date: d.order.expected_date.map(Date::from),
        attributes: d.order.attributes.map(|a| a.to_string()),
    };
    let resource = format!("purchase-orders/{po_number}");
    accept_as(
        &s,
        &p,
        &headers,
        "approve",
        "replenishment.po-approved",
        resource,
        event,
    )
    .await
}

/// Which lines to cancel, and why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelWrite {
    /// Why the order is cancelled.
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub reason: String,
    /// Lines to cancel; every open line when absent.
    #[schema(min_items = 1, max_items = 1000)]
    pub line_numbers: Option<Vec<i32>>,
}

/// Cancels a purchase order or some of its lines (admin): their open quantity leaves on order.
#[utoipa::path(post, path = "/v1/purchase-orders/{po_number}/cancel", tag = "replenishment",
    params(("po_number" = String, Path, description = "Order number")),
    request_body = CancelWrite,
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 202, description = "Published", body = Accepted),
              (status = 409, description = "Already cancelled", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A line does not exist or is cancelled", body = Problem, content_type = "application/problem+json")))]
pub async fn cancel(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Segments(po_number): Segments<String>,
    Body(w): Body<CancelWrite>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    require(&p, Role::Admin)?;
    id("po_number", &po_number)?;
    let reason = w.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 || reason.contains('\0') {
        return Err(Problem::unprocessable("reason must be 1 to 500 characters").at("/reason"));
    }
    let d = load(&s, &p.tenant, &po_number).await?;
    if d.order.status == "CANCELLED" {
        return Err(Problem::conflict(format!(
            "purchase order {po_number} is already cancelled"
        )));
    }
    let open: Vec<&OrderLine> = d
        .order_lines
        .iter()
        .filter(|l| l.cancelled_at.is_none())
        .collect();
    let chosen: Vec<&OrderLine> = match &w.line_numbers {
        None => open,
        Some(numbers) if numbers.is_empty() => {
            return Err(
                Problem::unprocessable("line_numbers must name at least one line")
                    .at("/line_numbers"),
            );
        }
        Some(numbers) => {
            let mut chosen = Vec::with_capacity(numbers.len());
            for (i, n) in numbers.iter().enumerate() {
                match open.iter().find(|l| l.line_number == *n) {
                    Some(l) if !chosen.iter().any(|c: &&OrderLine| c.line_number == *n) => {
                        chosen.push(*l)
                    }
                    Some(_) => {
                        return Err(Problem::unprocessable(format!("line {n} is named twice"))
                            .at(format!("/line_numbers/{i}")));
                    }
                    None => {
                        return Err(Problem::unprocessable(format!(
                            "line {n} is not an open line of {po_number}"
                        ))
                        .at(format!("/line_numbers/{i}")));
                    }
                }
            }
            chosen
        }
    };
    if chosen.is_empty() {
        return Err(Problem::conflict(format!(
            "purchase order {po_number} has no open line"
        )));
    }
    let now = Timestamp::now();
    let event = PurchaseOrderCancelled {
        event_id: EventId::random(),
        tenant_id: p.tenant.clone(),
        occurred_at: now,
        produced_at: now,
        source: "composerp-api".into(),
        location_id: d.order.location_id.clone(),
        po_number: po_number.clone(),
        supplier_id: d.order.supplier_id.clone(),
        line_numbers: chosen.iter().map(|l| l.line_number).collect(),
        cancelled_by: p.subject.clone(),
        reason: reason.to_owned(),
        item_ids: chosen.iter().map(|l| l.item_id.clone()).collect(),
    };
    let resource = format!("purchase-orders/{po_number}");
    accept_as(
        &s,
        &p,
        &headers,
        "cancel",
        "replenishment.po-cancelled",
        resource,
        event,
    )
    .await
}

//! `/v1/rules`: replenishment rules per item-location; planners write them.

use axum::{
    Extension, Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::get,
};
use chrono::{DateTime, Utc};
use composerp_events::replenishment::{ReplenishmentPolicy, ReplenishmentRule, Weekday};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, QueryBuilder};
use utoipa::{IntoParams, ToSchema};

use super::writes::{Accepted, Body, accept, attributes, envelope, id};
use crate::{
    AppState,
    auth::{Principal, Role},
    page::{Page, Params, Segments, by_location_item, decode_cursor, limit},
    problem::{ApiResult, Problem},
    require,
};

/// Rule routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/rules", get(list))
        .route("/v1/rules/{location_id}/{item_id}", get(one).put(put_rule))
}

/// How one item-location is replenished.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Rule {
    /// Location.
    pub location_id: String,
    /// Item.
    pub item_id: String,
    /// Supplier ordered from.
    pub supplier_id: String,
    /// S_Q, S_S, R_S or MIN_MAX.
    pub policy: String,
    /// Static reorder point, if set.
    pub reorder_point: Option<i64>,
    /// Q of (s,Q) and (s,S).
    pub order_quantity: Option<i64>,
    /// Minimum of MIN_MAX.
    pub min_qty: Option<i64>,
    /// Maximum of MIN_MAX.
    pub max_qty: Option<i64>,
    /// Cycle service level, 0.5 to below 1.
    pub service_level: f64,
    /// Order days of R_S.
    pub order_days: Vec<String>,
    /// Units above the reorder point before a low-stock alert re-arms.
    pub rearm_margin: i64,
    /// Also alert when falling below the safety stock.
    pub alert_on_safety_stock: bool,
    /// In force.
    pub active: bool,
    /// Custom attributes.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Value>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "location_id, item_id, supplier_id, policy, reorder_point, order_quantity, \
    min_qty, max_qty, service_level, order_days, rearm_margin, alert_on_safety_stock, active, \
    attributes, occurred_at AS updated_at";

/// Filters of the rule list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RuleParams {
    /// Only this location.
    pub location_id: Option<String>,
    /// Only this item.
    pub item_id: Option<String>,
    /// Only rules ordering from this supplier.
    pub supplier_id: Option<String>,
    /// Rows per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Rules of the caller's tenant, sorted by location then item.
#[utoipa::path(get, path = "/v1/rules", tag = "replenishment", params(RuleParams),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "One page", body = Page<Rule>)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Params(q): Params<RuleParams>,
) -> ApiResult<Json<Page<Rule>>> {
    require(&p, Role::Viewer)?;
    let limit = limit(q.limit)?;
    let after: Option<(String, String)> = decode_cursor(q.cursor.as_deref())?;
    let mut sql = QueryBuilder::<Postgres>::new(format!(
        "SELECT {COLUMNS} FROM replenishment.rules WHERE tenant_id = "
    ));
    sql.push_bind(&p.tenant);
    for (column, value) in [
        ("location_id", &q.location_id),
        ("item_id", &q.item_id),
        ("supplier_id", &q.supplier_id),
    ] {
        if let Some(v) = value {
            sql.push(format!(" AND {column} = ")).push_bind(v);
        }
    }
    by_location_item(&mut sql, &p.tenant, after, limit);
    let mut tx = state.tenant_tx(&p.tenant).await?;
    let rows: Vec<Rule> = sql
        .build_query_as()
        .persistent(state.named)
        .fetch_all(&mut *tx)
        .await?;
    AppState::end_read(tx);
    Ok(Json(Page::of(rows, limit, |r| {
        (r.location_id.clone(), r.item_id.clone())
    })))
}

/// The rule of one item-location.
#[utoipa::path(get, path = "/v1/rules/{location_id}/{item_id}", tag = "replenishment",
    params(("location_id" = String, Path, description = "Location"), ("item_id" = String, Path, description = "Item")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "The rule", body = Rule)))]
pub async fn one(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Segments((location_id, item_id)): Segments<(String, String)>,
) -> ApiResult<Json<Rule>> {
    require(&p, Role::Viewer)?;
    let mut tx = state.tenant_tx(&p.tenant).await?;
    let row: Option<Rule> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM replenishment.rules \
         WHERE tenant_id = $1 AND location_id = $2 AND item_id = $3"
    ))
    .bind(&p.tenant)
    .bind(&location_id)
    .bind(&item_id)
    .persistent(state.named)
    .fetch_optional(&mut *tx)
    .await?;
    AppState::end_read(tx);
    row.map(Json)
        .ok_or_else(|| Problem::not_found(format!("no rule for item {item_id} at {location_id}")))
}

/// A rule as a planner writes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleWrite {
    /// Supplier ordered from.
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9._-]+$")]
    pub supplier_id: String,
    /// S_Q, S_S, R_S or MIN_MAX.
    #[schema(schema_with = crate::openapi::policies)]
    pub policy: ReplenishmentPolicy,
    /// Static reorder point (units, ≥ 0); computed from demand when absent.
    #[schema(minimum = 0)]
    pub reorder_point: Option<i64>,
    /// Q (units, > 0): required by S_Q and S_S.
    #[schema(minimum = 1)]
    pub order_quantity: Option<i64>,
    /// Minimum (units, ≥ 0): required by MIN_MAX.
    #[schema(minimum = 0)]
    pub min_qty: Option<i64>,
    /// Maximum (units, ≥ min_qty): required by MIN_MAX.
    #[schema(minimum = 0)]
    pub max_qty: Option<i64>,
    /// Cycle service level, 0.5 to below 1 (default 0.95).
    pub service_level: Option<f64>,
    /// Order days, e.g. ["MON", "THU"]: required by R_S.
    #[schema(value_type = Option<Vec<String>>)]
    pub order_days: Option<Vec<Weekday>>,
    /// Units above the reorder point before a low-stock alert re-arms (≥ 0, default 0).
    #[schema(minimum = 0)]
    pub rearm_margin: Option<i64>,
    /// Also alert below the safety stock (default false).
    pub alert_on_safety_stock: Option<bool>,
    /// In force (default true).
    pub active: Option<bool>,
    /// Custom attributes, checked against the tenant's schema for `rule`.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Value>,
}

fn invalid(detail: &str, pointer: &str) -> Problem {
    Problem::unprocessable(detail).at(pointer)
}

/// The policy's own requirements (docs/domain.md, Replenishment rule requirements).
fn check(w: &RuleWrite) -> Result<(), Problem> {
    for (v, pointer) in [
        (w.reorder_point, "/reorder_point"),
        (w.min_qty, "/min_qty"),
        (w.max_qty, "/max_qty"),
        (w.rearm_margin, "/rearm_margin"),
    ] {
        if v.is_some_and(|v| v < 0) {
            return Err(invalid("must not be negative", pointer));
        }
    }
    if w.order_quantity.is_some_and(|q| q <= 0) {
        return Err(invalid(
            "order_quantity must be positive",
            "/order_quantity",
        ));
    }
    if let Some(sl) = w.service_level
        && !(0.5..1.0).contains(&sl)
    {
        return Err(invalid(
            "service_level must be at least 0.5 and below 1",
            "/service_level",
        ));
    }
    match w.policy {
        ReplenishmentPolicy::S_Q | ReplenishmentPolicy::S_S if w.order_quantity.is_none() => Err(
            invalid("this policy needs order_quantity", "/order_quantity"),
        ),
        ReplenishmentPolicy::R_S if w.order_days.as_ref().is_none_or(Vec::is_empty) => {
            Err(invalid("R_S needs at least one order day", "/order_days"))
        }
        ReplenishmentPolicy::MIN_MAX => match (w.min_qty, w.max_qty) {
            (Some(min), Some(max)) if min <= max => Ok(()),
            (Some(_), Some(_)) => Err(invalid("max_qty must not be below min_qty", "/max_qty")),
            _ => Err(invalid("MIN_MAX needs min_qty and max_qty", "/min_qty")),
        },
        _ => Ok(()),
    }
}

/// Creates or replaces the rule of an item-location (planner).
#[utoipa::path(put, path = "/v1/rules/{location_id}/{item_id}", tag = "replenishment",
    params(("location_id" = String, Path, description = "Location", pattern = "^[A-Za-z0-9._-]{1,64}$"),
           ("item_id" = String, Path, description = "Item", pattern = "^[A-Za-z0-9._-]{1,64}$"),
           ("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key names the same event and publishes nothing again once accepted")),
    request_body = RuleWrite,
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 202, description = "Published", body = Accepted),
              (status = 422, description = "A value breaks a rule", body = Problem, content_type = "application/problem+json")))]
pub async fn put_rule(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Segments((location_id, item_id)): Segments<(String, String)>,
    Body(w): Body<RuleWrite>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    require(&p, Role::Planner)?;
    id("location_id", &location_id)?;
    id("item_id", &item_id)?;
    id("supplier_id", &w.supplier_id)?;
    check(&w)?;
    let attributes = attributes(&s, &p, "rule", w.attributes).await?;
    let resource = format!("rules/{location_id}/{item_id}");
    let (event_id, now) = envelope(&headers, &p, &resource)?;
    let rule = ReplenishmentRule {
        event_id,
        tenant_id: p.tenant.clone(),
        occurred_at: now,
        produced_at: now,
        source: "composerp-api".into(),
        location_id: location_id.clone(),
        item_id: item_id.clone(),
        supplier_id: w.supplier_id,
        policy: w.policy,
        reorder_point: w.reorder_point,
        order_quantity: w.order_quantity,
        min_qty: w.min_qty,
        max_qty: w.max_qty,
        service_level: w.service_level.unwrap_or(0.95),
        order_days: w.order_days.unwrap_or_default(),
        rearm_margin: w.rearm_margin.unwrap_or(0),
        alert_on_safety_stock: w.alert_on_safety_stock.unwrap_or(false),
        active: w.active.unwrap_or(true),
        attributes,
    };
    accept(&s, &p, &headers, "replenishment.rules", resource, rule).await
}
